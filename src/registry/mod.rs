//! The access registry: the Markdown document companies keep, JSON snapshots and CSV.
//!
//! Work in progress for the registry issue; not yet exposed to Python.

pub mod markdown;
