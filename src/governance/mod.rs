//! Governance (SPEC 4): access reviews, onboarding templates, access requests and
//! directory sync. Each builds on the graph's queries and on its one mutation path, so
//! every change these make is authority-checked, atomic and audited like any other.
//!
//! - [`review`]: best-practice findings over the current state at an instant.
//! - [`campaigns`]: access review campaigns: a frozen population decided item by item.
//! - [`templates`]: onboarding templates, built-in and custom, and `onboard`.
//! - [`requests`]: access requests, their approval and denial.
//! - [`sync`]: making an org's access match an identity provider's directory.

pub mod campaigns;
pub mod requests;
pub mod review;
pub mod sync;
pub mod templates;
