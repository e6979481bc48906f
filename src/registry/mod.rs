//! The access registry: the Markdown document companies keep, JSON snapshots, CSV and
//! PostHog's API export.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod posthog;
pub mod reconcile;
