//! The records the graph stores, and the owned views that listings hand out.
//!
//! Records refer to each other by dense integer ids (`u32` indexes into the graph's
//! vectors) so that a check follows no pointers it does not need.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::roles::{OrgRole, ProjectRole, ResourceKind};
use crate::time::{Instant, NEVER};

/// Free-form settings of an org or project (JSON values).
pub type Settings = BTreeMap<String, serde_json::Value>;

/// An organization.
#[derive(Debug, Clone)]
pub struct OrgRec {
    /// The slug.
    pub slug: Box<str>,
    /// Display name.
    pub name: String,
    /// Settings (`members_can_invite`, ...).
    pub settings: Settings,
    /// Cached `settings["members_can_invite"] == true`.
    pub members_can_invite: bool,
    /// Users holding a membership record (expired ones included).
    pub members: BTreeSet<u32>,
    /// The org's projects.
    pub projects: BTreeSet<u32>,
    /// Number of owner memberships. INVARIANT: kept equal to the owners in `members`, ≥ 1.
    pub owners: u32,
}

/// A project's settable attributes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProjectAttrs {
    /// Display name.
    pub name: String,
    /// Environment (`production`, `staging`, `development` or free text).
    pub environment: Option<String>,
    /// Not covered by `org/*` grants and without a default role.
    pub restricted: bool,
    /// Holds personal data (reviews only).
    pub pii: bool,
    /// The role every org member holds at least.
    pub default_role: Option<ProjectRole>,
    /// Free-form settings.
    pub settings: Settings,
}

/// A project.
#[derive(Debug, Clone)]
pub struct ProjectRec {
    /// `org/slug`.
    pub id: Box<str>,
    /// The org's id.
    pub org: u32,
    /// Attributes.
    pub attrs: ProjectAttrs,
    /// Resources in the project.
    pub resources: BTreeSet<u32>,
}

/// A project role held on one project or on all projects of an org.
///
/// 32 bytes, its project id included: the expiry is a bare instant with `i64::MAX` for
/// "never", the project id fills the role's padding, and the reason and the granter sit
/// behind a box that is absent for the common case of grants made by the system without a
/// reason (imports, directory sync).
#[derive(Debug, Clone)]
pub struct Grant {
    /// The role.
    pub role: ProjectRole,
    /// The project's id in [`Membership::grants`]; [`ORG_WIDE`] for the `org/*` grant
    /// (and for a grant not yet placed).
    pub project: u32,
    /// Access ends at this instant; [`NEVER`] for never (read it with [`Grant::expires`]).
    /// No input reaches the sentinel: parsed instants end at [`Instant::MAX`] (year 9999).
    expires: i64,
    /// When.
    pub granted_at: Instant,
    /// Why, and who granted it.
    pub extra: Option<Box<GrantExtra>>,
}

// The grant table is most of a large state's memory (SPEC 8: bytes per grant).
const _: () = assert!(std::mem::size_of::<Grant>() == 32);
const _: () = assert!(std::mem::size_of::<Option<Grant>>() == 32);
const _: () = assert!(std::mem::size_of::<Membership>() == 96);

/// The project id of the `org/*` grant (no project has it: ids are dense from 0).
pub const ORG_WIDE: u32 = u32::MAX;

/// The rarely-set parts of a grant.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantExtra {
    /// Why.
    pub reason: Option<Box<str>>,
    /// Who granted it (`None` = the system).
    pub granted_by: Option<Box<str>>,
    /// Date by which the grant must be reviewed again (approved access requests).
    pub review_by: Option<NaiveDate>,
}

impl Grant {
    /// A grant; `extra` is only allocated when there is a reason or a granter.
    pub fn new(
        role: ProjectRole,
        expires: Option<Instant>,
        reason: Option<&str>,
        granted_by: Option<&str>,
        granted_at: Instant,
    ) -> Self {
        let extra = (reason.is_some() || granted_by.is_some()).then(|| {
            Box::new(GrantExtra {
                reason: reason.map(Into::into),
                granted_by: granted_by.map(Into::into),
                review_by: None,
            })
        });
        Grant {
            role,
            project: ORG_WIDE,
            expires: expires.map_or(NEVER, |e| e.0),
            granted_at,
            extra,
        }
    }

    /// The same grant placed on project `pid` (the `org/*` grant keeps [`ORG_WIDE`]).
    #[must_use]
    #[inline]
    pub fn on(mut self, pid: u32) -> Self {
        self.project = pid;
        self
    }

    /// Access ends at this instant (`None`: never).
    #[inline]
    pub fn expires(&self) -> Option<Instant> {
        (self.expires != NEVER).then_some(Instant(self.expires))
    }

    /// The expiry in microseconds, [`NEVER`] for none (what the check path compares).
    #[inline]
    pub fn expires_raw(&self) -> i64 {
        self.expires
    }

    /// Why.
    pub fn reason(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.reason.as_deref())
    }

    /// Who granted it (`None` = the system).
    pub fn granted_by(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.granted_by.as_deref())
    }

    /// The date by which the grant must be reviewed again.
    pub fn review_by(&self) -> Option<NaiveDate> {
        self.extra.as_ref().and_then(|e| e.review_by)
    }

    /// The same grant with a review date (allocating `extra` only when there is one).
    #[must_use]
    pub fn with_review_by(mut self, review_by: Option<NaiveDate>) -> Self {
        if let Some(d) = review_by {
            self.extra
                .get_or_insert_with(|| {
                    Box::new(GrantExtra {
                        reason: None,
                        granted_by: None,
                        review_by: None,
                    })
                })
                .review_by = Some(d);
        } else if let Some(e) = &mut self.extra {
            e.review_by = None;
        }
        self
    }
}

/// A user's membership of one org, with their grants in that org.
///
/// INVARIANT: every grant of a user lives inside their membership of the grant's org, so
/// removing a membership removes its grants and a grant never outlives its membership.
#[derive(Debug, Clone)]
pub struct Membership {
    /// The org's id.
    pub org: u32,
    /// Org role.
    pub role: OrgRole,
    /// Access ends at this instant; [`NEVER`] for never (read it with
    /// [`Membership::expires`]).
    expires: i64,
    /// Why they have access (a boxed `str`: 8 bytes less than a `String` in each of a
    /// million records).
    pub reason: Option<Box<str>>,
    /// Date of the last access review.
    pub reviewed: Option<NaiveDate>,
    /// Contractor / consultant.
    pub external: bool,
    /// Who added them (`None` = the system).
    pub granted_by: Option<Box<str>>,
    /// When.
    pub granted_at: Instant,
    /// The grant on `org/*`, boxed: about one membership in ten has one, and the box
    /// takes 8 bytes of every membership where the grant would take 32.
    pub org_wide: Option<Box<Grant>>,
    /// Grants on single projects. INVARIANT: sorted by project id, one per project, each
    /// holding its project's id.
    pub grants: Vec<Grant>,
}

impl Membership {
    /// A membership of org `org` without grants.
    pub fn new(org: u32, role: OrgRole, expires: Option<Instant>, granted_at: Instant) -> Self {
        Membership {
            org,
            role,
            expires: expires.map_or(NEVER, |e| e.0),
            reason: None,
            reviewed: None,
            external: false,
            granted_by: None,
            granted_at,
            org_wide: None,
            grants: Vec::new(),
        }
    }

    /// Access ends at this instant (`None`: never).
    #[inline]
    pub fn expires(&self) -> Option<Instant> {
        (self.expires != NEVER).then_some(Instant(self.expires))
    }

    /// Sets when access ends (`None`: never).
    #[inline]
    pub fn set_expires(&mut self, expires: Option<Instant>) {
        self.expires = expires.map_or(NEVER, |e| e.0);
    }

    /// The grant on project `pid`.
    #[inline]
    pub fn grant(&self, pid: u32) -> Option<&Grant> {
        self.grants
            .binary_search_by_key(&pid, |g| g.project)
            .ok()
            .and_then(|i| self.grants.get(i))
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct UserRec {
    /// Lower-case email.
    pub email: Box<str>,
    /// Display name.
    pub name: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Memberships, one per org.
    pub memberships: Vec<Membership>,
}

impl UserRec {
    /// The membership of org `oid`, expired or not.
    #[inline]
    pub fn membership(&self, oid: u32) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.org == oid)
    }
}

/// A resource in a project.
#[derive(Debug, Clone)]
pub struct ResourceRec {
    /// `org/project/kind/id`.
    pub id: Box<str>,
    /// The project's id.
    pub project: u32,
    /// Kind.
    pub kind: ResourceKind,
    /// The owning user's id.
    pub owner: u32,
}

/// An org, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgInfo {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Settings.
    pub settings: Settings,
}

/// A project, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectInfo {
    /// `org/slug`.
    pub id: String,
    /// Org slug.
    pub org: String,
    /// Attributes.
    pub attrs: ProjectAttrs,
}

/// A membership, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberInfo {
    /// Email.
    pub user: String,
    /// Org slug.
    pub org: String,
    /// Org role.
    pub role: OrgRole,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Reason.
    pub reason: Option<String>,
    /// Last review date.
    pub reviewed: Option<NaiveDate>,
    /// External.
    pub external: bool,
    /// Who added them.
    pub granted_by: Option<String>,
    /// When.
    pub granted_at: Instant,
    /// The user's display name.
    pub name: Option<String>,
    /// The user's title.
    pub title: Option<String>,
}

/// A grant, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantInfo {
    /// Email.
    pub user: String,
    /// `org/project` or `org/*`.
    pub target: String,
    /// Role.
    pub role: ProjectRole,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Reason.
    pub reason: Option<String>,
    /// Who granted it.
    pub granted_by: Option<String>,
    /// When.
    pub granted_at: Instant,
    /// Date by which it must be reviewed again.
    pub review_by: Option<NaiveDate>,
}

/// A user, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInfo {
    /// Email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Slugs of the orgs they hold a membership record in.
    pub orgs: Vec<String>,
}

/// A resource, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    /// `org/project/kind/id`.
    pub id: String,
    /// Project id.
    pub project: String,
    /// Kind.
    pub kind: ResourceKind,
    /// Owner's email.
    pub owner: String,
}
