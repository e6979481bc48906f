//! The graph's state: records and the indexes the evaluator reads ([`State`]), the
//! elementary changes that move it ([`Change`]), the one [`State::apply`], read-only
//! queries, and the JSON snapshot that writes a state out and reads it back.
//!
//! This floor knows nothing of locks, clocks, authority or the audit log: `graph/` puts
//! those around it, `eval/` reads it, `audit/` records and replays its changes.

pub mod apply;
pub mod campaigns;
pub mod change;
pub mod hash;
pub mod hot;
pub mod queries;
pub mod snapshot;
pub mod tables;
pub mod targets;
pub mod who;
pub mod words;

pub use change::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};
pub use tables::{Stamp, State, TargetRef};
