//! accessgraph: who may do what in a PostHog-style multi-tenant analytics product.
//!
//! Organizations contain projects; users hold an org role and project roles; a check
//! answers "may this user do this, here?" from precomputed, interned state. The core
//! knows nothing of Python: the `PyO3` binding lives in `bindings` behind the `python`
//! feature.

pub mod audit;
pub mod decision;
pub mod error;
pub mod eval;
pub mod governance;
pub mod graph;
pub mod ids;
pub mod model;
pub mod progress;
pub mod registry;
pub mod roles;
pub mod state;
pub mod text;
pub mod time;

#[cfg(feature = "python")]
mod bindings;

pub use decision::{Decision, Source};
pub use error::{Error, Result};
pub use graph::Graph;
pub use time::Instant;
