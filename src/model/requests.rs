//! Access requests as data (SPEC 4.4): what was asked, and where it stands.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::roles::ProjectRole;
use crate::time::Instant;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved: the grant was applied.
    Approved,
    /// Denied.
    Denied,
}

impl RequestStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
        }
    }

    /// Parses a status name, naming `field` in the error.
    pub fn parse(field: &'static str, s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(RequestStatus::Pending),
            "approved" => Ok(RequestStatus::Approved),
            "denied" => Ok(RequestStatus::Denied),
            _ => Err(Error::invalid(field, s, "pending, approved or denied")),
        }
    }
}

/// An access request and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessRequest {
    /// `req_<n>`.
    pub id: String,
    /// The requester's email.
    pub user: String,
    /// `org/project` or `org/*`.
    pub target: String,
    /// The role asked for.
    pub role: ProjectRole,
    /// Why they need it.
    pub reason: Option<String>,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was made.
    pub requested_at: Instant,
    /// Who approved or denied it (`None` = the system, or not decided).
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<Instant>,
    /// Why it was denied.
    pub decision_reason: Option<String>,
    /// Expiry given to the grant on approval.
    pub expires: Option<Instant>,
    /// Review date given to the grant on approval.
    pub review_by: Option<NaiveDate>,
}
