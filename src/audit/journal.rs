//! The journal's format and the storage behind it.
//!
//! A journal is JSON Lines (format 2, `docs/journal-format.md`):
//! - line 1, the **header**: the graph (`graph_id`), the chain's anchor and base `seq`,
//!   the state at the base after retention pruning, and how many erasures rewrote it;
//! - every other line, one **batch**: the events of one mutation, in order, the hash of
//!   the last one and, with `hmac_key`, a MAC over the graph, that `seq` and that hash.
//!
//! Each line ends with a CRC-32 of itself, so a line cut short by a crash (a torn tail)
//! is told apart from one altered. A batch is all or nothing: a crash anywhere inside a
//! mutation's line leaves a torn tail, cut off on open, so the journal reopens as before
//! the whole mutation, never between its events.
//!
//! Storage sits behind [`JournalStore`]: the file ([`super::file::FileJournal`]) or a
//! database.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::checkpoint::{mac, mac_ok};
use super::event::{sha256_hex, Event};
use crate::error::AuditError;

/// Line 1 of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Format version (2).
    pub accessgraph_journal: u32,
    /// The graph this journal belongs to.
    pub graph_id: String,
    /// `seq` of the event before the first one in the file.
    pub base_seq: u64,
    /// `prev_hash` of the first event in the file.
    pub anchor: String,
    /// The state after event `base_seq` (a JSON snapshot), present after pruning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_state: Option<Value>,
    /// How many erasures rewrote this journal (a snapshot older than the last one is stale).
    #[serde(default)]
    pub erasures: u64,
    /// The last hash of the format-1 journal this one was upgraded from
    /// (`accessgraph audit upgrade`), kept through rewrites; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgraded_from: Option<String>,
}

/// The journal format this build writes and reads.
pub const FORMAT: u32 = 2;

impl Header {
    /// The header's record line (with its checksum and newline).
    pub fn to_line(&self) -> String {
        with_crc(serde_json::to_string(self).unwrap_or_default())
    }

    /// SHA-256 (hex) of the header line: what the signed checkpoint vouches for.
    pub fn digest(line: &str) -> String {
        sha256_hex(line.trim_end_matches('\n').as_bytes())
    }
}

/// One event read from a store, with the 1-based line of its batch.
#[derive(Debug, Clone)]
pub struct Record {
    /// Line number in the file (the batch's line).
    pub line: u64,
    /// The event.
    pub event: Event,
}

/// What reading on from the last position found.
#[derive(Debug)]
pub enum Fresh {
    /// Events appended since the last read (maybe none).
    Records(Vec<Record>),
    /// The journal was rewritten (pruned, erased) by someone else: reload it whole.
    Replaced,
}

/// A journal's storage. The graph calls it under its own write serialisation.
pub trait JournalStore: Send {
    /// Takes the writers' lock (exclusive across processes), blocking.
    fn lock(&mut self) -> Result<(), AuditError>;
    /// Takes the readers' lock (shared), blocking.
    fn lock_shared(&mut self) -> Result<(), AuditError>;
    /// Releases either lock.
    fn unlock(&mut self);
    /// Events appended since the last read or append, verified against the chain; a
    /// torn tail is cut off when `repair` (only under the writers' lock) and otherwise
    /// left for later.
    fn read_fresh(&mut self, repair: bool) -> Result<Fresh, AuditError>;
    /// Appends one mutation's events as one batch (one write); returns the end offset.
    fn append(&mut self, batch: &[Event]) -> std::io::Result<u64>;
    /// Cuts off the last `append` (its write or sync failed), under the writers' lock,
    /// before anyone reads it.
    fn rollback(&mut self) -> std::io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
    /// After a failed group sync or checkpoint, under the writers' lock: cuts back this
    /// store's own records written after `from` (a [`JournalStore::position`]:
    /// generation, offset) — only if nothing was appended after them (and, with `end`,
    /// only if they end there). Returns the offset cut back to, or `None` when nothing
    /// was cut; after a cut the next `read_fresh` says `Replaced`.
    fn cut_back(&mut self, from: (u64, u64), end: Option<u64>) -> std::io::Result<Option<u64>> {
        let _ = (from, end);
        Ok(None)
    }
    /// Atomically replaces the whole journal: `header`, then `events`.
    fn replace(&mut self, header: &Header, events: &[Event]) -> std::io::Result<()>;
    /// Records that the journal now reaches `seq` with `hash` (the signed checkpoint),
    /// durably; nothing without a key.
    fn checkpoint(&mut self, seq: u64, hash: &str) -> std::io::Result<()>;

    /// [`JournalStore::checkpoint`] for a group commit's sync, made after the writers'
    /// lock was let go: only while the store still writes `generation`.
    fn checkpoint_after_sync(
        &mut self,
        generation: u64,
        seq: u64,
        hash: &str,
    ) -> std::io::Result<()> {
        if self.position().0 == generation {
            self.checkpoint(seq, hash)
        } else {
            Ok(())
        }
    }
    /// Which generation of the file the store writes (a rewrite makes a new one), and
    /// the bytes written to it so far: what a group commit's sync covers.
    fn position(&self) -> (u64, u64);
    /// A handle whose `sync_data` makes what was appended to the current generation
    /// durable, for a group commit's sync outside the store's lock.
    fn sync_handle(&self) -> Option<std::sync::Arc<std::fs::File>>;
    /// The byte offset just past the last batch, for snapshots.
    fn offset(&self) -> u64;
    /// The number of lines read or written so far.
    fn lines(&self) -> u64;
    /// True (a file) when a failed append or sync leaves the journal in doubt, so the
    /// graph stops accepting mutations; false for a store that itself decides what was
    /// committed (a database): the mutation fails, and the next catch-up reads back
    /// whatever did commit.
    fn fail_stop(&self) -> bool {
        true
    }
    /// After `read_fresh` said `Replaced`, the journal read again whole (state and log) by
    /// a store that is not a file; `None`: the graph reopens its file itself.
    fn reload(&mut self) -> Result<Option<(crate::state::State, super::log::Log)>, AuditError> {
        Ok(None)
    }
    /// The store itself, for what only one kind of store does (database snapshots).
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }
}

/// How the journal is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `fdatasync` after every mutation, before the call returns (the default).
    #[default]
    Fsync,
    /// Group commit: records are written before the change is applied; concurrent
    /// mutations share one `fdatasync`, and each call returns once its records are on
    /// disk. Readers may see a change a moment before it is durable.
    Group,
    /// No `fsync`: records reach the OS before the call returns, which survives a process
    /// crash but not a power loss.
    Os,
}

/// Appends `,"crc":"xxxxxxxx"}` and a newline to a JSON object's text.
pub fn with_crc(mut json: String) -> String {
    let crc = crc32fast::hash(json.as_bytes());
    json.pop();
    let _ = writeln!(json, ",\"crc\":\"{crc:08x}\"}}");
    json
}

/// Why a record line is unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// No checksum, or one that does not match: torn or altered.
    Checksum,
    /// Checksum fine, content not a record of this format.
    Format(String),
}

/// Strips and checks the checksum of one record line (without its `\n`), returning the
/// JSON text it covers.
pub fn strip_crc(line: &str) -> Result<String, LineError> {
    let body = check_crc(line)?;
    let mut json = String::with_capacity(body.len() + 1);
    json.push_str(body);
    json.push('}');
    Ok(json)
}

/// The key a record line's checksum follows.
const CRC_KEY: &str = ",\"crc\":\"";

/// A line's body and checksum where the line ends as the engine writes it: `,"crc":"`,
/// eight hex digits, `"}`. Read at fixed places, where a search from the end for the key
/// cost about 600 instructions a line (a two-way searcher built for each); the key then
/// occurs nowhere after that place (hex holds no `,`), so the search would have found the
/// same one. Any other ending is left to the search.
fn crc_at_end(line: &str) -> Option<(&str, &str)> {
    let at = line.len().checked_sub(CRC_KEY.len() + 10)?;
    let (body, tail) = (line.get(..at)?, line.get(at..)?);
    let hex_part = tail.strip_prefix(CRC_KEY)?.strip_suffix("\"}")?;
    (hex_part.len() == 8 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some((body, hex_part))
}

/// A line's body and checksum text, the key found by a search from the end.
fn crc_by_search(line: &str) -> Result<(&str, &str), LineError> {
    let pos = line.rfind(CRC_KEY).ok_or(LineError::Checksum)?;
    let (body, tail) = line.split_at(pos);
    let hex_part = tail
        .strip_prefix(CRC_KEY)
        .and_then(|t| t.strip_suffix("\"}"))
        .ok_or(LineError::Checksum)?;
    Ok((body, hex_part))
}

/// Checks the checksum of one record line (without its `\n`) and returns the text before
/// its `,"crc":…` (the JSON text it covers, less the closing brace), without copying it.
fn check_crc(line: &str) -> Result<&str, LineError> {
    let (body, hex_part) = match crc_at_end(line) {
        Some(found) => found,
        None => crc_by_search(line)?,
    };
    let stored = u32::from_str_radix(hex_part, 16).map_err(|_| LineError::Checksum)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(body.as_bytes());
    crc.update(b"}");
    if hex_part.len() != 8 || crc.finalize() != stored {
        return Err(LineError::Checksum);
    }
    Ok(body)
}

/// The MAC of a batch ending at event `seq` with `hash`.
pub fn batch_mac(key: &[u8], graph_id: &str, seq: u64, hash: &str) -> String {
    mac(
        key,
        "accessgraph/batch/v2",
        &[graph_id, &seq.to_string(), hash],
    )
}

/// One batch's record line: its events' journal forms, the last hash, the MAC.
pub fn encode_batch(events: &[Event], key: Option<&[u8]>, graph_id: &str) -> String {
    let mut doc = Map::new();
    doc.insert(
        "batch".into(),
        Value::Array(events.iter().map(Event::to_journal).collect()),
    );
    if let Some(last) = events.last() {
        doc.insert("hash".into(), Value::String(last.hash.clone()));
        if let Some(key) = key {
            doc.insert(
                "mac".into(),
                Value::String(batch_mac(key, graph_id, last.seq, &last.hash)),
            );
        }
    }
    with_crc(Value::Object(doc).to_string())
}

/// A batch as read: its events (hashed, chained), the hash it claims, its MAC.
#[derive(Debug)]
pub struct Batch {
    /// The events, in order.
    pub events: Vec<Event>,
    /// The MAC, if any.
    pub mac: Option<String>,
}

/// Why a batch does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Torn or altered (checksum).
    Checksum,
    /// Not a batch of this format.
    Format(String),
    /// The event at this `seq` does not verify on its own (its commitments, its seals).
    Event(u64, String),
    /// Its events do not follow the chain.
    Chain(String),
}

/// A batch as read and checked, its events not built: each event's journal form and
/// its hash (opening stores them without building an [`Event`] per record).
#[derive(Debug)]
pub struct Checked {
    /// The events' journal forms, in order.
    pub events: Vec<super::event::Stored>,
    /// Each event's hash.
    pub hashes: Vec<[u8; 32]>,
    /// The MAC, if any.
    pub mac: Option<String>,
}

/// Reads one batch line (without its `\n`) chained after `end` (`seq`, hash), and moves
/// `end` on to its last event; `end` is left as it was when the line does not read.
pub fn read_batch(line: &str, end: &mut (u64, String)) -> Result<Checked, BatchError> {
    // The line is read whole, its checksum last (checked first, without copying the
    // text it covers): a `crc` key inside that text is a second one, refused.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Stored<'a> {
        batch: Vec<super::event::Stored>,
        #[serde(borrow)]
        hash: std::borrow::Cow<'a, str>,
        #[serde(default)]
        mac: Option<String>,
        #[serde(rename = "crc")]
        _crc: serde::de::IgnoredAny,
    }
    check_crc(line).map_err(|e| match e {
        LineError::Checksum => BatchError::Checksum,
        LineError::Format(m) => BatchError::Format(m),
    })?;
    let stored: Stored = serde_json::from_str(line).map_err(|e| {
        BatchError::Format(format!(
            "not a batch of audit events (journal format 2): {e}"
        ))
    })?;
    if stored.batch.is_empty() {
        return Err(BatchError::Format("an empty batch".into()));
    }
    let seq = end.0;
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(stored.batch.len());
    // The hash before the next event, as hex: the one the chain hashes.
    let mut prev = [0_u8; 64];
    for (expect, v) in (seq + 1..).zip(&stored.batch) {
        let hash = match hashes.last() {
            None => v.hash(&end.1),
            Some(_) => v.hash(std::str::from_utf8(&prev).unwrap_or_default()),
        }
        .map_err(|m| BatchError::Event(expect, m))?;
        if v.seq() != expect {
            return Err(BatchError::Chain(format!(
                "expected event {expect}, found event {} (events missing, repeated or reordered)",
                v.seq()
            )));
        }
        let _ = hex::encode_to_slice(hash, &mut prev);
        hashes.push(hash);
    }
    if prev.as_slice() != stored.hash.as_bytes() {
        return Err(BatchError::Chain(format!(
            "event {} does not chain to the event before it (spliced, reordered or altered)",
            seq + 1
        )));
    }
    end.0 = seq + hashes.len() as u64;
    end.1.clear();
    end.1.push_str(&stored.hash);
    Ok(Checked {
        events: stored.batch,
        hashes,
        mac: stored.mac,
    })
}

impl Checked {
    /// The batch with its events built, the first chained after `prev` (hex).
    pub fn into_batch(self, prev: &str) -> Batch {
        let mut events: Vec<Event> = Vec::with_capacity(self.events.len());
        for (v, hash) in self.events.into_iter().zip(&self.hashes) {
            let before = events.last().map_or(prev, |e| e.hash.as_str()).to_owned();
            events.push(v.into_event(before, super::event::to_hex(hash)));
        }
        Batch {
            events,
            mac: self.mac,
        }
    }
}

/// Reads one batch line (without its `\n`) chained after (`seq`, `prev`), its events
/// built.
pub fn decode_batch(line: &str, seq: u64, prev: &str) -> Result<Batch, BatchError> {
    let mut end = (seq, prev.to_owned());
    Ok(read_batch(line, &mut end)?.into_batch(prev))
}

/// Does a batch's MAC verify?
pub fn batch_mac_ok(key: &[u8], graph_id: &str, batch: &Batch) -> bool {
    let (Some(tag), Some(last)) = (&batch.mac, batch.events.last()) else {
        return false;
    };
    batch_mac_ok_at(key, graph_id, last.seq, &last.hash, tag)
}

/// Does `tag` sign a batch ending with event `seq`, of hash `hash`?
pub fn batch_mac_ok_at(key: &[u8], graph_id: &str, seq: u64, hash: &str, tag: &str) -> bool {
    mac_ok(
        key,
        "accessgraph/batch/v2",
        &[graph_id, &seq.to_string(), hash],
        tag,
    )
}

/// The `seq` and hash a batch line ends with, read without hashing (for a snapshot's
/// resume point).
pub fn batch_end(line: &str) -> Option<(u64, String)> {
    #[derive(Deserialize)]
    struct End {
        batch: Vec<Seq>,
        hash: String,
    }
    #[derive(Deserialize)]
    struct Seq {
        seq: u64,
    }
    let json = strip_crc(line).ok()?;
    let end: End = serde_json::from_str(&json).ok()?;
    Some((end.batch.last()?.seq, end.hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::genesis;
    use crate::time::Instant;
    use serde_json::json;

    #[test]
    fn a_checksum_read_at_the_end_is_the_one_the_search_finds() {
        let written = with_crc(r#"{"a":"ü,\"crc\":\"00000000\"}"}"#.to_owned());
        let good = written.trim_end_matches('\n').to_owned();
        // The same checksum in upper-case hex (the search's reading accepts it too).
        let cut = good.len() - 10;
        let upper = format!(
            "{}{}",
            good.get(..cut).unwrap_or_default(),
            good.get(cut..).unwrap_or_default().to_uppercase()
        );
        let mut lines = vec![good.clone(), upper];
        // Endings the fixed places must leave to the search (or refuse as it does).
        for tail in [
            r#","crc":"1234567"}"#,
            r#","crc":"123456789"}"#,
            r#","crc":"12,4567g"}"#,
            r#","crc":""}"#,
            r#","crc":"0123abcd"} "#,
            r#","crc":"0123abcd""#,
            r#"ü"}"#,
            "",
        ] {
            lines.push(format!(r#"{{"a":1{tail}"#));
        }
        for line in &lines {
            if let Some(found) = crc_at_end(line) {
                assert_eq!(crc_by_search(line).ok(), Some(found), "{line}");
            }
            // The whole check agrees with the search's reading of the line.
            let searched = crc_by_search(line).ok().and_then(|(body, hex)| {
                let stored = u32::from_str_radix(hex, 16).ok()?;
                let mut crc = crc32fast::Hasher::new();
                crc.update(body.as_bytes());
                crc.update(b"}");
                (hex.len() == 8 && crc.finalize() == stored).then_some(body)
            });
            assert_eq!(check_crc(line).ok(), searched, "{line}");
        }
        // Both written forms are read at the fixed places, and pass.
        assert!(lines
            .iter()
            .take(2)
            .all(|l| crc_at_end(l).is_some() && check_crc(l).is_ok()));
    }

    /// A batch line read the slow, obvious way: each event built whole and hashed, then
    /// chained (as reading was before [`read_batch`]).
    fn reference(line: &str, seq: u64, prev: &str) -> Result<Batch, BatchError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            batch: Vec<super::super::event::Stored>,
            hash: String,
            #[serde(default)]
            mac: Option<String>,
            #[serde(rename = "crc")]
            _crc: serde::de::IgnoredAny,
        }
        check_crc(line).map_err(|e| match e {
            LineError::Checksum => BatchError::Checksum,
            LineError::Format(m) => BatchError::Format(m),
        })?;
        let doc: Doc = serde_json::from_str(line).map_err(|e| {
            BatchError::Format(format!(
                "not a batch of audit events (journal format 2): {e}"
            ))
        })?;
        if doc.batch.is_empty() {
            return Err(BatchError::Format("an empty batch".into()));
        }
        let mut events: Vec<Event> = Vec::new();
        for (expect, v) in (seq + 1..).zip(doc.batch) {
            let before = events.last().map_or(prev, |e| e.hash.as_str());
            let ev = Event::from_stored(v, before).map_err(|m| BatchError::Event(expect, m))?;
            if ev.seq != expect {
                return Err(BatchError::Chain(format!(
                    "expected event {expect}, found event {} (events missing, repeated or reordered)",
                    ev.seq
                )));
            }
            events.push(ev);
        }
        if events.last().map_or(prev, |e| e.hash.as_str()) != doc.hash {
            return Err(BatchError::Chain(format!(
                "event {} does not chain to the event before it (spliced, reordered or altered)",
                seq + 1
            )));
        }
        Ok(Batch {
            events,
            mac: doc.mac,
        })
    }

    fn events() -> (Vec<Event>, String) {
        let anchor = genesis("g");
        let mut prev = anchor.clone();
        let mut out = Vec::new();
        for (seq, (action, target, details)) in (1..).zip([
            (
                "grant.added",
                "acme/p",
                json!({"user": "zoë@x.io", "role": "viewer", "reason": "on \"call\"\n"}),
            ),
            (
                "note.added",
                "東京",
                json!({"user": "u@x.io", "n": [1, null]}),
            ),
        ]) {
            let e = Event::new(
                seq,
                Instant(1_714_521_600_123_456),
                "a@x.io".into(),
                action.into(),
                target.into(),
                details.as_object().cloned().unwrap_or_default(),
                prev.clone(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
            prev.clone_from(&e.hash);
            out.push(e);
        }
        (out, anchor)
    }

    #[test]
    fn reading_without_building_reads_as_building_does() {
        let (mut evs, anchor) = events();
        if let Some(e) = evs.get_mut(1) {
            assert!(e.seal("/details/user", "erased:0123456789abcdef"));
        }
        let good = encode_batch(&evs, Some(b"k"), "g");
        let good = good.trim_end_matches('\n');
        let doc: Value =
            serde_json::from_str(&strip_crc(good).unwrap_or_default()).unwrap_or_default();
        // Each edit: a JSON Pointer and the value it sets (none: the line as written).
        let edits: Vec<(&str, Value)> = vec![
            ("", Value::Null),
            ("/batch/1/seq", json!(5)),
            ("/batch/0/seq", json!(2)),
            ("/batch/0/details/role", json!("admin")),
            ("/batch/0/seed", json!("zz")),
            ("/batch/0/salts", json!({"/actor": "0".repeat(32)})),
            ("/batch/1/details/user", json!("mallory@x.io")),
            ("/batch/1/sealed", json!({"/details/user": "short"})),
            ("/hash", json!("f".repeat(64))),
            ("/batch", json!([])),
            ("/batch/0/at", json!("yesterday")),
            ("/batch/1", Value::Null),
        ];
        let mut lines: Vec<String> = edits
            .iter()
            .map(|(at, v)| {
                let mut d = doc.clone();
                match (d.pointer_mut(at), at.rsplit_once('/')) {
                    (Some(slot), _) if !at.is_empty() => *slot = v.clone(),
                    // `salts` (absent while the seed is there): added.
                    (None, Some((parent, key))) => {
                        if let Some(Value::Object(m)) = d.pointer_mut(parent) {
                            m.insert(key.to_owned(), v.clone());
                        }
                    }
                    _ => {}
                }
                with_crc(d.to_string()).trim_end_matches('\n').to_owned()
            })
            .collect();
        // A key too many, the batch cut to its first event, a torn line, and one whose
        // checksum is a second `crc` key's.
        let mut extra = doc.clone();
        if let Value::Object(m) = &mut extra {
            m.insert("extra".into(), json!(1));
        }
        lines.push(
            with_crc(extra.to_string())
                .trim_end_matches('\n')
                .to_owned(),
        );
        let mut cut = doc.clone();
        if let Some(Value::Array(b)) = cut.pointer_mut("/batch") {
            b.truncate(1);
        }
        lines.push(with_crc(cut.to_string()).trim_end_matches('\n').to_owned());
        lines.push(good.get(..good.len() - 3).unwrap_or_default().to_owned());
        lines.push(with_crc(good.to_owned()).trim_end_matches('\n').to_owned());
        let starts = [
            (0, anchor.clone()),
            (1, anchor.clone()),
            (0, "0".repeat(64)),
        ];
        let mut ok = 0;
        for (i, line) in lines.iter().enumerate() {
            for start in &starts {
                let want = reference(line, start.0, &start.1);
                let mut end = start.clone();
                let got = read_batch(line, &mut end).map(|r| r.into_batch(&start.1));
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "line {i} from {start:?}"
                );
                match &got {
                    Ok(b) => {
                        let last = b.events.last().map(|e| (e.seq, e.hash.clone()));
                        assert_eq!(Some(end), last);
                        ok += 1;
                    }
                    Err(_) => assert_eq!(&end, start),
                }
                assert_eq!(
                    format!("{:?}", decode_batch(line, start.0, &start.1)),
                    format!("{want:?}")
                );
            }
        }
        // Only the line as written reads, and only from its true start.
        assert_eq!(ok, 1);
    }
}
