//! The audit log and the journal (SPEC 3, issue 14): one hash-chained event per
//! elementary change, each mutation's events one batch, written to the journal before
//! the change is applied. `docs/journal-format.md` describes the format.
//!
//! - [`personal`]: which fields are personal (committed, erasable); the rest are hashed
//!   as they are.
//! - [`event`]: the event, its commitments, its hash, its journal and export forms;
//!   [`canonical`] and [`digest`]: its canonical form and hash, written in one pass.
//! - [`columns`]: the events as columns (Arrow's layout) for `to_arrow`/`to_pandas`.
//! - [`decode`]: reading a journal's batch lines in parallel stretches; [`part`]: a
//!   piece of them as the decoding thread leaves it for opening.
//! - [`log`]: the events in memory: queries, verification, exports, retention.
//! - [`journal`]: the journal's format (header, batches) and the [`JournalStore`] trait.
//! - [`file`]: the journal as a file; [`read`]: its batch lines read and handed on a
//!   stretch at a time; [`checkpoint`]: its signed checkpoint; [`files`]:
//!   private files and atomic replacement; [`random`]: the OS's random bytes.
//! - [`beacon`]: the revision beacon: how a graph sees other processes' writes before
//!   its next query.
//! - [`replay`]: changes as events and back.
//! - [`erase`]: sealing a user's personal data behind a pseudonym.
//! - [`recorder`]: a graph's [`Audit`]: the log in memory and the store behind it.
//! - [`upgrade`]: a format-1 journal read, verified and written again as format 2.
//! - [`source`]: the history read from a store that keeps it (PostgreSQL) instead of
//!   held in memory.

pub mod beacon;
pub mod canonical;
pub mod checkpoint;
pub mod columns;
pub mod decode;
pub mod digest;
pub mod erase;
pub mod event;
pub mod file;
pub mod files;
pub mod journal;
pub mod log;
pub mod part;
pub mod personal;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod prefix;
pub mod random;
pub mod read;
pub mod recorder;
pub mod replay;
pub mod session;
pub mod source;
pub mod store;
pub mod upgrade;

pub use event::Event;
pub use journal::{Durability, JournalStore};
pub use log::{Filter, Log};
pub use recorder::Audit;
pub use session::Session;
