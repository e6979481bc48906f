//! A decision and where its role comes from: plain values every floor may name (the
//! evaluator makes them, errors carry them, the bindings show them).

use crate::roles::Role;

/// Where an effective role comes from (`PostHog`'s vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Org owner or admin: project admin everywhere.
    OrganizationAdmin,
    /// Org member (org-scoped actions).
    OrganizationMember,
    /// A grant on the project.
    ExplicitMember,
    /// A grant on `org/*`.
    OrgWideGrant,
    /// The project's default role.
    Default,
    /// The user owns the resource.
    Creator,
    /// Denied by an API key's scope.
    ApiKeyScope,
}

impl Source {
    /// The source's name as Python sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OrganizationAdmin => "organization_admin",
            Source::OrganizationMember => "organization_member",
            Source::ExplicitMember => "explicit_member",
            Source::OrgWideGrant => "org_wide_grant",
            Source::Default => "default",
            Source::Creator => "creator",
            Source::ApiKeyScope => "api_key_scope",
        }
    }

    pub(crate) fn phrase(self) -> &'static str {
        match self {
            Source::OrganizationAdmin => "org owner/admin",
            Source::OrganizationMember => "org membership",
            Source::ExplicitMember => "explicit grant on the project",
            Source::OrgWideGrant => "grant on all projects of the org",
            Source::Default => "the project's default role",
            Source::Creator => "owns the resource",
            Source::ApiKeyScope => "API key scope",
        }
    }
}

/// A decision with a sentence a person understands (the result of `explain`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Allowed?
    pub allowed: bool,
    /// The user (or principal) asked about.
    pub user: String,
    /// The action.
    pub action: String,
    /// The target.
    pub target: String,
    /// The role that decided.
    pub role: Option<Role>,
    /// Where that role comes from.
    pub source: Option<Source>,
    /// A sentence explaining the decision.
    pub reason: String,
}
