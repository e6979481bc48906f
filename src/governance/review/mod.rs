//! Access review (SPEC 4.1): the current state judged against best practice at an
//! instant, as a list of [`Finding`]s.
//!
//! Each rule is one function over a [`Ctx`] listed once in [`RULES`] with its stable id
//! and severity; adding a rule is a function and a line. Findings come out sorted by
//! severity (high first), then in rule order, then by org, user and target.
//!
//! Decisions beyond the spec (SPEC 4.1, 9):
//! - "Members" are unexpired memberships. An expired membership or grant is reported by
//!   `expired-access` only; the hygiene rules (`review-overdue`, `undocumented-access`,
//!   `expiring-soon` …) look at live access, so one stale record gives one finding.
//! - An expired grant is reported even inside an expired membership (SPEC 4.1: "a
//!   membership or grant has expired"): renewing the membership would not renew it.
//! - `review-overdue` fires for a membership never reviewed or reviewed before
//!   `at - review_days` (dates, UTC), and for a live grant whose `review_by` date has passed.
//! - `expiring-soon` skips a grant whose membership ends no later than it (the
//!   membership's finding covers both).
//! - `external-above-viewer` reports an org role above member once (target: the org);
//!   otherwise one finding per project where the effective role is above viewer.
//! - `production-sprawl` looks at projects whose environment is `production`
//!   (case-insensitive).
//!
//! - [`context`]: findings, severities, thresholds and what every rule reads.
//! - [`rules`]: one function per rule, and the table of them.
//! - [`lookalike`]: what makes an address pass for another (`lookalike-email`, a rule
//!   beyond the spec).
//! - [`run`]: the review itself.

mod context;
mod lookalike;
mod rules;
mod run;

pub use context::{Finding, Severity, Thresholds, THRESHOLDS};
pub use rules::RULES;
pub use run::{review, review_metered, review_steps};
