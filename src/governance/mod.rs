//! Governance (SPEC 4): access reviews, onboarding templates, access requests and
//! directory sync. Each builds on the graph's queries and on its one mutation path, so
//! every change these make is authority-checked, atomic and audited like any other.
//!
//! - [`review`]: best-practice findings over the current state at an instant.
//! - [`templates`]: onboarding templates, built-in and custom, and `onboard`.
//! - [`requests`]: access requests, their approval and denial.
//! - [`sync`]: making an org's access match an identity provider's directory.

pub mod requests;
pub mod review;
pub mod sync;
pub mod templates;

use crate::error::Result;
use crate::graph::state::{Stamp, State};
use crate::graph::Change;

/// Applies a governance change (a template or an access request) to the state.
pub(crate) fn apply(st: &mut State, change: &Change, stamp: Stamp<'_>) -> Result<()> {
    match change {
        Change::TemplateDefined { def } => templates::apply_defined(st, def),
        Change::AccessRequestCreated { .. }
        | Change::AccessRequestApproved { .. }
        | Change::AccessRequestDenied { .. } => requests::apply(st, change, stamp),
        _ => Ok(()),
    }
}
