//! Errors: one enum per area, wrapped by the crate-wide [`Error`]. This floor sits just
//! above the plain values (`roles`, `decision`) and imports no area, so every area may
//! name every error.
//!
//! The Python binding maps [`Error`] to the exception classes of `accessgraph.exceptions`
//! in one exhaustive match (`src/bindings/errors.rs`).

use crate::decision::Decision;

/// Errors about the shape of input: identifiers, roles, dates, arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A value that does not have the form its field needs.
    #[error("invalid {field} `{value}`: {expected}")]
    Invalid {
        /// The field or argument name.
        field: &'static str,
        /// The offending value.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// An argument combination the rules forbid.
    #[error("{0}")]
    Rule(String),
    /// An action that is not in the catalogue.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
}

/// Errors about things that do not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFoundError {
    /// No organization with that slug.
    #[error("unknown organization `{0}`")]
    Org(String),
    /// No project with that id.
    #[error("unknown project `{0}`")]
    Project(String),
    /// No resource with that id.
    #[error("unknown resource `{0}`")]
    Resource(String),
    /// No user with that email.
    #[error("unknown user `{0}`")]
    User(String),
    /// No access request with that id.
    #[error("unknown access request `{0}`")]
    Request(String),
    /// No personal API key with that id.
    #[error("unknown API key `{0}`")]
    Key(String),
    /// No access review campaign with that id.
    #[error("unknown access review campaign `{0}`")]
    Campaign(String),
    /// The user has no grant on that target.
    #[error("`{user}` has no grant on `{target}`")]
    Grant {
        /// The user's email.
        user: String,
        /// The grant target.
        target: String,
    },
}

/// Errors where the request is well-formed but the graph's state forbids it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConflictError {
    /// The thing exists already.
    #[error("{0} already exists")]
    Exists(String),
    /// The change would leave an org without an owner.
    #[error("`{user}` is the last owner of `{org}`: an organization must keep an owner")]
    LastOwner {
        /// The owner.
        user: String,
        /// The organization.
        org: String,
    },
    /// The user is not a member of the org (or their membership expired).
    #[error("`{user}` is not a member of `{org}`{detail}")]
    NotMember {
        /// The user.
        user: String,
        /// The organization.
        org: String,
        /// Extra words (e.g. that the membership expired).
        detail: String,
    },
    /// The graph is a read-only view.
    #[error("this graph is read-only: {0}")]
    ReadOnly(String),
    /// Any other structural rule.
    #[error("{0}")]
    Rule(String),
}

/// The actor lacks the authority for a mutation, or a `require` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .decision.reason)]
pub struct PermissionError {
    /// The decision that refused it.
    pub decision: Box<Decision>,
}

/// A registry document that does not parse: where (1-based line and column, in
/// characters) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct RegistryError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong, lower-case, user input in backticks.
    pub message: String,
}

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
    /// An error at `path`. A path through a deeply nested document, and a message that
    /// quotes a huge value, are clipped to a readable length ([`crate::text::clip`]).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        use crate::text::{clip, MESSAGE, SHOWN};
        let (path, message) = (path.into(), message.into());
        JsonPathError {
            path: clip(&path, SHOWN).into_owned(),
            message: clip(&message, MESSAGE).into_owned(),
        }
    }
}

/// Errors of the audit log and the journal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// An event that does not verify (`AuditIntegrityError`).
    #[error("audit log integrity: event {seq}: {reason}")]
    Integrity {
        /// The first bad event.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A damaged journal (`JournalError`); the file was left as it was.
    #[error("journal {path}, line {line}: {reason}")]
    Journal {
        /// The journal.
        path: String,
        /// 1-based line of the first bad record.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("journal I/O failed: {0}")]
    Io(String),
    /// A write or fsync failed earlier: the graph refuses mutations from then on.
    #[error("the journal failed ({0}); this graph accepts no more mutations (reads go on) — reopen the journal")]
    Failed(String),
    /// A shared journal (PostgreSQL) cannot be reached: the mutation was not acknowledged;
    /// checks go on from memory and the process reconnects by itself
    /// (`JournalUnavailableError`).
    #[error("the shared journal is unavailable: {0}")]
    Unavailable(String),
}

/// Every error the core can return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bad input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Unknown org, project, user, resource or grant.
    #[error(transparent)]
    NotFound(#[from] NotFoundError),
    /// The state forbids the change.
    #[error(transparent)]
    Conflict(#[from] ConflictError),
    /// Not allowed.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// A registry document that does not parse.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A JSON document that does not fit its format.
    #[error(transparent)]
    Json(#[from] JsonPathError),
    /// The audit log or the journal.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The progress hook stopped the work with its own error (see [`crate::progress`]).
    #[error(transparent)]
    Stopped(#[from] crate::progress::Stop),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A `ValidationError::Invalid` for `field` holding `value`.
    pub(crate) fn invalid(
        field: &'static str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        // Control characters are escaped so a message never breaks a log line; an API
        // secret passed by mistake is masked; a huge value is clipped.
        let value = value.into().escape_debug().to_string();
        let value = crate::text::mask_secrets(&value);
        ValidationError::Invalid {
            field,
            value: crate::text::clip(&value, crate::text::SHOWN).into_owned(),
            expected: expected.into(),
        }
        .into()
    }

    /// A `ConflictError::NotMember`: `user` holds no membership of `org`.
    pub(crate) fn not_member(user: &str, org: &str) -> Self {
        ConflictError::NotMember {
            user: user.to_owned(),
            org: org.to_owned(),
            detail: String::new(),
        }
        .into()
    }

    /// A `ValidationError::Rule` with a message.
    pub(crate) fn rule(message: impl Into<String>) -> Self {
        ValidationError::Rule(message.into()).into()
    }
}
