//! Org roles, project roles and resource kinds, ordered by rank: plain enums, the
//! bottom floor of the crate (parsing them, with its errors, lives in `ids`).

use serde::{Deserialize, Serialize};

/// An organization role: `member` < `admin` < `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    /// Ordinary member.
    Member,
    /// Administrator.
    Admin,
    /// Owner.
    Owner,
}

impl OrgRole {
    /// Every org role, lowest first.
    pub const ALL: [OrgRole; 3] = [OrgRole::Member, OrgRole::Admin, OrgRole::Owner];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Member => "member",
            OrgRole::Admin => "admin",
            OrgRole::Owner => "owner",
        }
    }

    /// Owners and admins are admins of every project.
    pub fn is_admin(self) -> bool {
        self >= OrgRole::Admin
    }
}

/// A project role: `viewer` < `member` < `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    /// Read-only.
    Viewer,
    /// Creates and edits their own work.
    Member,
    /// Manages the project.
    Admin,
}

impl ProjectRole {
    /// Every project role, lowest first.
    pub const ALL: [ProjectRole; 3] =
        [ProjectRole::Viewer, ProjectRole::Member, ProjectRole::Admin];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Member => "member",
            ProjectRole::Admin => "admin",
        }
    }
}

/// Either kind of role, as reported by `role()` and `Decision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An org role.
    Org(OrgRole),
    /// A project role.
    Project(ProjectRole),
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Org(r) => r.as_str(),
            Role::Project(r) => r.as_str(),
        }
    }
}

/// The kinds of resource a project holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A dashboard.
    Dashboard,
    /// An insight.
    Insight,
    /// A feature flag.
    FeatureFlag,
    /// A cohort.
    Cohort,
    /// An experiment.
    Experiment,
    /// An annotation.
    Annotation,
    /// A notebook.
    Notebook,
    /// A session recording.
    Recording,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 8] = [
        ResourceKind::Dashboard,
        ResourceKind::Insight,
        ResourceKind::FeatureFlag,
        ResourceKind::Cohort,
        ResourceKind::Experiment,
        ResourceKind::Annotation,
        ResourceKind::Notebook,
        ResourceKind::Recording,
    ];

    /// The kind's name as written in resource ids and actions.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Dashboard => "dashboard",
            ResourceKind::Insight => "insight",
            ResourceKind::FeatureFlag => "feature_flag",
            ResourceKind::Cohort => "cohort",
            ResourceKind::Experiment => "experiment",
            ResourceKind::Annotation => "annotation",
            ResourceKind::Notebook => "notebook",
            ResourceKind::Recording => "recording",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Option<Self> {
        ResourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
