//! The access graph: state behind one lock, the clock, queries and mutations.
//!
//! Concurrency: the whole [`State`] sits behind one `parking_lot::RwLock`. Queries take
//! the read lock (readers never block each other). A mutation plans its changes under an
//! *upgradable* read lock — readers keep going while authority and structural rules are
//! checked — and takes the write lock only to apply the planned changes, which is a few
//! microseconds of plain memory writes. So every mutation is atomic (a reader sees all
//! of it or none) and a writer never makes a reader wait for more than the apply step.
//!
//! Lock order: the state lock, then the audit recorder's journal lock (`Audit::begin`,
//! with the writers' file lock), then its log. A group commit's shared sync lock comes
//! before the journal lock and is never taken while the state lock is held: a mutation
//! lets both go before it waits for the sync (`crate::audit::recorder` has the whole
//! order). Nothing calls out into Python while holding the state lock.

//!
//! - [`front`]: the [`Graph`] itself — its lock, clock and read-only queries.
//! - [`commit`]: the one path every mutation takes (plan, record, apply).
//! - [`rules`]: authority (SPEC 2.3) and the structural rules mutations share.
//! - [`fixes`]: how to fix a denial: the smallest changes that would allow it, and who
//!   may make them.
//! - [`orgs`], [`members`], [`grants`], [`projects`]: the mutations, by what they change.
//! - [`keys`], [`offboard`]: API keys and offboarding.
//! - [`whatif`]: what-if overlays, private copies to try changes on.
//! - [`journaled`] and [`history`]: opening a journal, snapshots, refresh; the audit log,
//!   time travel, retention and erasure.
//! - [`snapfile`]: snapshot files: their layout, their MAC, reading one for opening.

mod commit;
mod fixes;
pub mod front;
mod grants;
mod history;
mod journaled;
pub mod keys;
mod members;
pub mod offboard;
mod orgs;
#[cfg(feature = "postgres")]
pub mod postgres;
mod projects;
pub(crate) mod rules;
mod snapfile;
mod whatif;

pub use front::Graph;
pub use journaled::OpenOptions;
pub use keys::{KeyInfo, NewKey};
pub use members::{MemberPatch, NewMember};
pub use offboard::OffboardingReport;
pub use projects::{NewProject, ProjectPatch};
