//! The journal kept in PostgreSQL, shared by processes on many machines (feature
//! `postgres`).
//!
//! The records are those of the file journal — line 1 (the header) and one line per event,
//! each with its CRC — kept in tables the library creates and migrates itself (see
//! [`MIGRATIONS`]):
//!
//! - `accessgraph_schema (version, applied_at)`: the migrations applied.
//! - `accessgraph_graphs (graph_id, name, header, epoch, created_at)`: one row per graph;
//!   `name` is what a URL names (`?graph=`), `header` is line 1 of a file journal, `epoch`
//!   counts the rewrites of the events (retention pruning, erasure).
//! - `accessgraph_events (graph_id, seq, record)`, primary key `(graph_id, seq)`: one row per
//!   event; `record` is the journal line without its newline.
//! - `accessgraph_snapshots (graph_id, seq, hash, epoch, state, created_at)`: the state at
//!   one event (the JSON snapshot), so a process joining replays only what follows it.
//!
//! Writers: [`JournalStore::lock`] opens a transaction and takes
//! `pg_advisory_xact_lock(LOCK_CLASS, <graph>)`; the graph's catch-up reads the events
//! after the last one this process saw; [`JournalStore::append`] inserts the new events,
//! notifies `ag_<graph_id>` and commits, and the mutation returns only after the commit.
//! The lock goes with the transaction, so a writer that dies mid-way leaves nothing: the
//! server rolls back what it had not committed. Readers read the events after the last one
//! seen; `crate::graph::postgres::follow` LISTENs and refreshes the graph.
//!
//! A lost connection fails the call that meets it with [`AuditError::Unavailable`] (nothing
//! is applied in memory; a commit whose answer was lost is read back by the next catch-up
//! if it happened) and the next call reconnects: the store is not fail-stop.

mod checkpoint;
mod connect;
mod history;
mod import;
mod load;
mod rewrite;
mod rows;
mod schema;
mod store;
mod tls;
mod url;

pub use connect::connect;
pub use history::PgHistory;
pub use import::import_file;
pub use load::Loaded;
pub use schema::{migrate, migrate_url, LOCK_CLASS, MIGRATIONS};
pub use store::PgJournal;
pub use tls::{SslMode, Tls};
pub use url::{is_url, parse_url, redact, Target};
