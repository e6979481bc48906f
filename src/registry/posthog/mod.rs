//! PostHog's REST API export (SPEC 5.4, issue 20): an organization's members, its roles
//! and, per project, the project object, its access-control rules, its members' access
//! and its (legacy) explicit members — imported so that every member gets, on every
//! project, the role PostHog's own resolver gives. `docs/posthog.md` cites the PostHog
//! source each rule comes from.
//!
//! - [`listing`]: pages, lists of pages and bare lists; pages not followed, counts that
//!   disagree.
//! - [`org`]: the members (deduplicated by membership id) and the roles.
//! - [`project`]: a project's object, explicit members, rules and members' access.
//! - [`report`]: the report, the options and the input; [`import`]: the import itself.
//! - [`resolve`]: PostHog's resolver, and how its answers are written as `restricted`,
//!   a default role and grants.
//!
//! What the model cannot hold (per-tool and per-object rules, guests, defaults with
//! exceptions) and what PostHog itself ignores go to the [`Report`], each note with the
//! JSON path and the PostHog object it comes from. Join dates become `granted_at`. The
//! whole import builds a new graph or fails.

mod import;
mod listing;
mod org;
mod project;
mod report;
mod resolve;

pub use import::{changes, import, import_text};
pub use report::{source, Input, Note, NoteKind, Options, Report, Timed};
