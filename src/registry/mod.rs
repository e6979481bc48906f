//! The access registry: the Markdown document companies keep, JSON snapshots, CSV and
//! PostHog's API export.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod posthog;
pub mod reconcile;

/// A JSON document that does not fit its format: where (a JSON path such as
/// `$.results[3].level`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JsonPathError {
    /// The JSON path of the offending value.
    pub path: String,
    /// What is wrong, lower-case, user input in backticks.
    pub message: String,
}

impl JsonPathError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        JsonPathError {
            path: path.into(),
            message: message.into(),
        }
    }
}
