//! Elementary changes: the only way the graph's state moves.
//!
//! Every mutation is planned as a list of [`Change`]s (authority and structural rules are
//! checked while planning, against the unchanged state), then the whole list is applied.
//! The audit log records one event per change; replaying changes rebuilds a graph.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::actions::ActionDef;
use crate::model::campaigns::{ItemSpec, Reviewer};
use crate::model::templates::TemplateDef;
use crate::model::{ProjectAttrs, Settings};
use crate::roles::{OrgRole, ProjectRole};
use crate::time::Instant;

/// An org's settable attributes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OrgAttrs {
    /// Display name.
    pub name: String,
    /// Settings.
    pub settings: Settings,
}

/// A membership's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAttrs {
    /// Org role.
    pub role: OrgRole,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Reason.
    pub reason: Option<String>,
    /// Last review.
    pub reviewed: Option<NaiveDate>,
    /// External.
    pub external: bool,
}

/// A grant's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantAttrs {
    /// Role.
    pub role: ProjectRole,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Reason.
    pub reason: Option<String>,
    /// Date by which the grant must be reviewed again (set by `approve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<NaiveDate>,
}

/// A user's personal attributes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserAttrs {
    /// Display name.
    pub name: Option<String>,
    /// Job title.
    pub title: Option<String>,
}

/// One elementary change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// `org.created`.
    OrgCreated {
        /// Slug.
        org: String,
        /// Attributes.
        #[serde(flatten)]
        attrs: OrgAttrs,
    },
    /// `org.updated`.
    OrgUpdated {
        /// Slug.
        org: String,
        /// Before.
        before: OrgAttrs,
        /// After.
        after: OrgAttrs,
    },
    /// `org.deleted`; its projects, memberships and grants were removed by earlier changes.
    OrgDeleted {
        /// Slug.
        org: String,
    },
    /// `project.created`.
    ProjectCreated {
        /// `org/slug`.
        project: String,
        /// Attributes.
        #[serde(flatten)]
        attrs: ProjectAttrs,
        /// The project's public API key (`agc_…`). Planned as `None`; the graph draws a
        /// random one before the change is recorded (see `graph::keys::complete`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<String>,
    },
    /// `project.updated`.
    ProjectUpdated {
        /// `org/slug`.
        project: String,
        /// Before.
        before: ProjectAttrs,
        /// After.
        after: ProjectAttrs,
    },
    /// `project.deleted`; removes its resources (grants on it were removed before).
    ProjectDeleted {
        /// `org/slug`.
        project: String,
    },
    /// `member.added`; creates the user if new and sets the given personal attributes.
    MemberAdded {
        /// Org slug.
        org: String,
        /// Email.
        user: String,
        /// Membership.
        #[serde(flatten)]
        attrs: MemberAttrs,
        /// Personal attributes to set (a `None` field leaves the current value).
        #[serde(flatten)]
        person: UserAttrs,
    },
    /// `member.role_changed`.
    MemberRoleChanged {
        /// Org slug.
        org: String,
        /// Email.
        user: String,
        /// Before.
        before: OrgRole,
        /// After.
        after: OrgRole,
    },
    /// `member.updated`: expiry, reason, review date, external flag.
    MemberUpdated {
        /// Org slug.
        org: String,
        /// Email.
        user: String,
        /// Before.
        before: MemberAttrs,
        /// After.
        after: MemberAttrs,
    },
    /// `member.removed`; the member's grants in the org were removed before.
    MemberRemoved {
        /// Org slug.
        org: String,
        /// Email.
        user: String,
    },
    /// `user.updated`: name and title; creates the user record if there is none.
    UserUpdated {
        /// Email.
        user: String,
        /// Before.
        before: UserAttrs,
        /// After.
        after: UserAttrs,
    },
    /// `grant.added`.
    GrantAdded {
        /// Email.
        user: String,
        /// `org/slug` or `org/*`.
        target: String,
        /// The grant.
        #[serde(flatten)]
        attrs: GrantAttrs,
    },
    /// `grant.changed`.
    GrantChanged {
        /// Email.
        user: String,
        /// `org/slug` or `org/*`.
        target: String,
        /// Before.
        before: GrantAttrs,
        /// After.
        after: GrantAttrs,
    },
    /// `grant.removed`.
    GrantRemoved {
        /// Email.
        user: String,
        /// `org/slug` or `org/*`.
        target: String,
    },
    /// `resource.created`.
    ResourceCreated {
        /// `org/project/kind/id`.
        resource: String,
        /// Owner's email.
        owner: String,
    },
    /// `user.erased`: the user's record takes the pseudonym and loses name and title; their
    /// memberships (and with them their grants) were removed by earlier changes.
    UserErased {
        /// Email (or, when a redacted journal is replayed, the pseudonym already).
        user: String,
        /// `erased:<hash>`.
        pseudonym: String,
        /// Why (the data-subject request).
        reason: Option<String>,
        /// Every field the erasure sealed, as `(seq, JSON Pointer)`: verification refuses
        /// a seal that is not listed here (a value replaced after the fact).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sealed: Vec<(u64, String)>,
    },
    /// `action.defined`: a custom action.
    ActionDefined {
        /// The definition.
        #[serde(flatten)]
        def: ActionDef,
    },
    /// `template.defined`: a custom onboarding template.
    TemplateDefined {
        /// The definition.
        #[serde(flatten)]
        def: TemplateDef,
    },
    /// `access_request.created`: a user asks for a project role.
    AccessRequestCreated {
        /// `req_<n>`.
        id: String,
        /// The requester's email.
        user: String,
        /// `org/project` or `org/*`.
        target: String,
        /// The role asked for.
        role: ProjectRole,
        /// Why they need it.
        reason: Option<String>,
    },
    /// `access_request.approved`; the grant follows as its own change.
    AccessRequestApproved {
        /// The request.
        id: String,
        /// The requester's email.
        user: String,
        /// `org/project` or `org/*`.
        target: String,
        /// Expiry given to the grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<Instant>,
        /// Review date given to the grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review_by: Option<NaiveDate>,
    },
    /// `access_request.denied`.
    AccessRequestDenied {
        /// The request.
        id: String,
        /// The requester's email.
        user: String,
        /// `org/project` or `org/*`.
        target: String,
        /// Why not.
        reason: Option<String>,
    },
    /// `api_key.created`: a personal API key, by the hash of its secret (never the secret).
    ApiKeyCreated {
        /// `pk_<hex>`.
        key_id: String,
        /// The key's user (email).
        user: String,
        /// What it is for.
        label: String,
        /// Scopes narrowing it (`None`: none).
        scopes: Option<Vec<String>>,
        /// Projects it is restricted to (`None`: none).
        projects: Option<Vec<String>>,
        /// Expiry.
        expires: Option<Instant>,
        /// `sha256$<hex>` of the secret.
        hash: String,
        /// `agp_...abcd`.
        mask: String,
    },
    /// `api_key.rotated`: a new secret, by its hash; the old one stops working.
    ApiKeyRotated {
        /// `pk_<hex>`.
        key_id: String,
        /// The key's user (email).
        user: String,
        /// `sha256$<hex>` of the new secret.
        hash: String,
        /// `agp_...abcd` of the new secret.
        mask: String,
    },
    /// `api_key.revoked`.
    ApiKeyRevoked {
        /// `pk_<hex>`.
        key_id: String,
        /// The key's user (email).
        user: String,
        /// Why (`user left`, `user offboarded` ...).
        reason: Option<String>,
    },
    /// `project_key.rotated`: the project's public key is replaced.
    ProjectKeyRotated {
        /// `org/slug`.
        project: String,
        /// The new public key (`agc_…`).
        api_key: String,
    },
    /// `resource.transferred`: a resource changes owner (offboarding).
    ResourceTransferred {
        /// `org/project/kind/id`.
        resource: String,
        /// The previous owner (email).
        user: String,
        /// The new owner (email).
        to: String,
    },
    /// `campaign.started`: an access review campaign of `org`, its population frozen.
    CampaignStarted {
        /// `camp_<n>`.
        id: String,
        /// The org under review.
        org: String,
        /// Who may decide items (sorted by email).
        reviewers: Vec<Reviewer>,
        /// When the review is due.
        due: Instant,
        /// Every membership and grant of the org when it started.
        items: Vec<ItemSpec>,
    },
    /// `campaign.decided`: a reviewer keeps or rejects one item.
    CampaignDecided {
        /// The campaign.
        id: String,
        /// The item's number.
        item: u32,
        /// The item's user (email).
        user: String,
        /// The item's org, project or `org/*`.
        target: String,
        /// Keep it, or revoke it when the campaign closes.
        keep: bool,
        /// Why.
        reason: Option<String>,
    },
    /// `campaign.closed`; the rejected items were revoked by the changes just before.
    CampaignClosed {
        /// The campaign.
        id: String,
        /// The org under review.
        org: String,
        /// The items revoked on closing.
        revoked: Vec<u32>,
        /// How many items were kept.
        kept: u32,
        /// How many items nobody decided.
        undecided: u32,
    },
    /// `user.offboarded`: the last step of an offboarding; changes no record.
    UserOffboarded {
        /// Email.
        user: String,
        /// Why.
        reason: Option<String>,
        /// Who received their resources.
        transfer_to: Option<String>,
    },
}

impl Change {
    /// The dotted audit action name of this change.
    pub fn action(&self) -> &'static str {
        match self {
            Change::OrgCreated { .. } => "org.created",
            Change::OrgUpdated { .. } => "org.updated",
            Change::OrgDeleted { .. } => "org.deleted",
            Change::ProjectCreated { .. } => "project.created",
            Change::ProjectUpdated { .. } => "project.updated",
            Change::ProjectDeleted { .. } => "project.deleted",
            Change::MemberAdded { .. } => "member.added",
            Change::MemberRoleChanged { .. } => "member.role_changed",
            Change::MemberUpdated { .. } => "member.updated",
            Change::MemberRemoved { .. } => "member.removed",
            Change::UserUpdated { .. } => "user.updated",
            Change::GrantAdded { .. } => "grant.added",
            Change::GrantChanged { .. } => "grant.changed",
            Change::GrantRemoved { .. } => "grant.removed",
            Change::ResourceCreated { .. } => "resource.created",
            Change::UserErased { .. } => "user.erased",
            Change::ActionDefined { .. } => "action.defined",
            Change::TemplateDefined { .. } => "template.defined",
            Change::AccessRequestCreated { .. } => "access_request.created",
            Change::AccessRequestApproved { .. } => "access_request.approved",
            Change::AccessRequestDenied { .. } => "access_request.denied",
            Change::ApiKeyCreated { .. } => "api_key.created",
            Change::ApiKeyRotated { .. } => "api_key.rotated",
            Change::ApiKeyRevoked { .. } => "api_key.revoked",
            Change::ProjectKeyRotated { .. } => "project_key.rotated",
            Change::ResourceTransferred { .. } => "resource.transferred",
            Change::UserOffboarded { .. } => "user.offboarded",
            Change::CampaignStarted { .. } => "campaign.started",
            Change::CampaignDecided { .. } => "campaign.decided",
            Change::CampaignClosed { .. } => "campaign.closed",
        }
    }
}
