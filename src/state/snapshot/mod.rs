//! The JSON snapshot (SPEC 5.2) of a [`State`]: the whole state, lossless and
//! deterministic; [`write`] writes it, [`read`] reads it back.
//!
//! [`write`] writes every org, project, user, membership, grant, resource and custom
//! action; [`read`] reads a snapshot back into a new [`State`], restoring the
//! recorded state as it is (expired entries included, `granted_by` / `granted_at` as
//! recorded). A snapshot that does not fit raises [`JsonPathError`], whose path names the
//! offending place the way SPEC 9 writes it: `$.grants[3].role`.
//!
//! Decisions beyond SPEC 5.2:
//! - Deterministic shape: every top-level key is written; in a record, a value equal to
//!   its default (`null`, `false`, empty `settings`) is left out, and the other keys are
//!   written in a fixed order. Arrays are sorted (orgs by slug, projects by id, users by
//!   email, memberships by org then user, grants by user then target, resources by id,
//!   actions by name). Instants are ISO-8601 UTC (`2024-06-01T12:00:00Z`, fractions only
//!   when present), dates `YYYY-MM-DD`. Two-space indent and a trailing newline, so
//!   snapshots diff well under version control.
//! - Leaving defaults out is still version 1: readers of version 1 always accepted absent
//!   defaults, and this one still accepts them written out (`"expires": null`,
//!   `"external": false`), which is how snapshots were written before (a third of the size
//!   of a large snapshot was such keys).
//! - Reading is strict: unknown fields anywhere are refused. Optional values (those that
//!   may be `null`) may be left out, and so may the booleans and `settings` (false, empty) and
//!   any of the arrays (empty); a newer version is reported as newer rather than as having
//!   unknown fields (the header is read on its own when the document does not read).
//! - Reading builds the graph's records directly, validated once in document order, and
//!   its check-path indexes once at the end (not one elementary change at a time), so the
//!   cost is a few hash lookups per record; strings are borrowed from the text.
//! - A snapshot of 1 MiB of grants and more, laid out as [`write`] lays it out or as the
//!   compact keys-sorted text a journal's snapshot holds, has its `grants` array parsed on
//!   a second thread while the rest is read and built ([`split`]); any other layout, and
//!   any error, is read whole, so errors are the same.
//! - A snapshot is self-contained: every email a membership, grant or resource names
//!   must be listed under `users`, every org and project referenced must be listed.
//! - `api_keys` holds the personal API keys (sorted by id), revoked ones included, each
//!   with the *hash* of its secret (`sha256$<hex>`) and its mask, never the secret. Its
//!   `projects` may name projects deleted since (the restriction still holds), so they
//!   need not be listed. Each project carries its public key (`api_key`, `agc_…`); a
//!   project read without one gets a new random key.
//! - Custom actions are defined in name order, so after a round trip the catalogue lists
//!   them in that order.
//! - `templates` holds the custom onboarding templates (by name) and `access_requests` the
//!   access requests (in creation order, with their decision); a grant's `review_by` date
//!   is written when an approved request set one. Snapshots without them still read.
//! - `campaigns` holds the access review campaigns (in start order), each with its
//!   frozen population and every item's last decision; snapshots without them still read.
//! - Paths are found from the parser's position in the text, so a key is written as
//!   `.key` when it is an identifier and `["key"]` otherwise.

//!
//! - [`doc`]: the document's shape and its field codecs.
//! - [`write`] and [`read`]: state to text, text to state.
//! - [`split`]: a large snapshot read in sections, its grants parsed on a second thread.
//! - [`locate`]: the JSON path of a parse error.

mod campaigns;
mod doc;
mod locate;
mod read;
mod split;
mod write;

pub use doc::{FORMAT, VERSION};
pub use write::write;

/// Reads a snapshot into a new state. Nothing is partly restored: the first problem
/// raises [`JsonPathError`] naming its JSON path.
pub fn read(text: &str) -> Result<crate::state::State, crate::error::JsonPathError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A large snapshot as `write` writes it: its grants parsed beside the head.
    if let Some(st) = split::read(text, split::PARALLEL_MIN) {
        return Ok(st);
    }
    read::read_whole(text)
}
