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
    /// A sentence explaining the decision (for a denial, followed by the first fix).
    pub reason: String,
    /// For a denial: the smallest changes that would allow it, least privilege first,
    /// or one [`FixKind::Impossible`] fix saying why none would. Empty when allowed, and
    /// for the refusals of mutations.
    pub fixes: Vec<Fix>,
}

/// What a [`Fix`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FixKind {
    /// A project grant: `role` (a project role) on the project `target`.
    Grant,
    /// An org-role change: `role` (an org role) in the org `target`.
    OrgRole,
    /// Adding the user to the org `target` with the org role `role`.
    AddMember,
    /// Renewing the user's membership of the org `target`: its expiry cleared.
    Renew,
    /// No change anyone may make allows the check; `reason` says why.
    Impossible,
}

impl FixKind {
    /// The kind's name as Python sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            FixKind::Grant => "grant",
            FixKind::OrgRole => "org_role",
            FixKind::AddMember => "add_member",
            FixKind::Renew => "renew",
            FixKind::Impossible => "impossible",
        }
    }
}

/// One way to allow a denied check: a change (with the steps it needs first), who may
/// make it (SPEC 2.3), and the same in words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fix {
    /// What the change is.
    pub kind: FixKind,
    /// The user it is about (lower-case email).
    pub user: String,
    /// The org or project it changes (empty for [`FixKind::Impossible`]).
    pub target: String,
    /// The role it gives (`None` for a renewal and for [`FixKind::Impossible`]).
    pub role: Option<Role>,
    /// The expiry it gives, in microseconds since the Unix epoch (a `time::Instant`'s
    /// value); `None`: none.
    pub expires: Option<i64>,
    /// Steps that must come first (adding the user to the org, renewing the membership),
    /// in order, each with who may make it.
    pub requires: Vec<Fix>,
    /// Who may make the whole change, emails sorted (empty for [`FixKind::Impossible`]).
    pub by: Vec<String>,
    /// The fix in words.
    pub reason: String,
}
