//! The audit log and the journal (SPEC 3): one hash-chained event per elementary change,
//! written to the journal before the change is applied.
//!
//! - [`event`]: the event, salted commitments for personal text, the hash, the record line.
//! - [`log`]: the events in memory: queries, verification, exports, retention.
//! - [`journal`]: the durable file and the [`journal::JournalStore`] trait behind it.
//! - [`replay`]: changes as events and back.
//! - [`erase`]: redaction for data-subject erasure.
//! - [`recorder`]: a graph's [`Audit`]: the log in memory and the journal store behind it,
//!   written before each change is applied.

pub mod erase;
pub mod event;
pub mod journal;
pub mod log;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod replay;

pub mod recorder;

pub use event::Event;
pub use journal::{Durability, JournalStore};
pub use log::{Filter, Log};
pub use recorder::{Audit, Session};
