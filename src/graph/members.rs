//! Org membership: adding members, changing their role, updating their record, removing them.
//!
//! Each mutation is planned as a list of [`Change`]s after checking, in order, argument
//! validation (`ValidationError`), existence (`NotFoundError`), the actor's authority
//! (`PermissionDenied`, SPEC 2.3) and structural rules (`ConflictError`); `Graph::mutate`
//! then records and applies the plan whole.

use chrono::NaiveDate;

use super::front::Graph;
use super::rules::{
    authorize_invite, authorize_member_update, authorize_role_change, check_owner_expiry,
    membership, opt_text, plan_remove_member,
};
use crate::error::{ConflictError, Error, Result};
use crate::ids;
use crate::roles::OrgRole;
use crate::state::queries::member_attrs;
use crate::state::{Change, MemberAttrs, UserAttrs};
use crate::time::Instant;

/// A new membership's attributes.
#[derive(Debug, Clone, Default)]
pub struct NewMember {
    /// Org role name (default `member`).
    pub role: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Reason.
    pub reason: Option<String>,
    /// Last review date.
    pub reviewed: Option<NaiveDate>,
    /// Contractor / consultant.
    pub external: bool,
}

/// Changes to a membership: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    /// New expiry (`Some(None)` clears it).
    pub expires: Option<Option<Instant>>,
    /// New reason.
    pub reason: Option<Option<String>>,
    /// New review date.
    pub reviewed: Option<Option<NaiveDate>>,
    /// New external flag.
    pub external: Option<bool>,
    /// New title (of the user).
    pub title: Option<Option<String>>,
    /// New display name (of the user).
    pub name: Option<Option<String>>,
}

impl Graph {
    /// Adds `user` to `org`.
    pub fn add_member(
        &self,
        user: &str,
        org: &str,
        new: NewMember,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        let role = OrgRole::parse("role", new.role.as_deref().unwrap_or("member"))?;
        check_owner_expiry(role, new.expires)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            if let Some(a) = actor {
                authorize_invite(st, at, a, org, role)?;
            }
            if membership(st, &email, oid).is_some() {
                return Err(ConflictError::Exists(format!(
                    "membership of `{email}` in `{org}` (use set_org_role or update_member)"
                ))
                .into());
            }
            Ok((
                vec![Change::MemberAdded {
                    org: org.to_owned(),
                    user: email.clone(),
                    attrs: MemberAttrs {
                        role,
                        expires: new.expires,
                        reason: opt_text(new.reason),
                        reviewed: new.reviewed,
                        external: new.external,
                    },
                    person: UserAttrs {
                        name: opt_text(new.name),
                        title: opt_text(new.title),
                    },
                }],
                (),
            ))
        })
    }

    /// Changes `user`'s org role.
    pub fn set_org_role(
        &self,
        user: &str,
        org: &str,
        role: &str,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        let role = OrgRole::parse("role", role)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            let current = membership(st, &email, oid);
            if let Some(m) = current {
                check_owner_expiry(role, m.expires()).map_err(|_| Error::rule(format!(
                    "cannot make `{email}` owner of `{org}`: the membership expires and owners cannot; clear `expires` first")))?;
            }
            if let Some(a) = actor {
                authorize_role_change(st, at, a, &email, org, oid, current, role)?;
            }
            let Some(m) = current else { return Err(Error::not_member(&email, org)) };
            if !at.alive(m.expires()) {
                return Err(ConflictError::NotMember { user: email.clone(), org: org.to_owned(),
                    detail: ": the membership expired (renew it with update_member)".to_owned() }.into());
            }
            if m.role == role {
                return Ok((Vec::new(), ()));
            }
            if m.role == OrgRole::Owner && st.org(oid).is_some_and(|o| o.owners <= 1) {
                return Err(ConflictError::LastOwner { user: email.clone(), org: org.to_owned() }.into());
            }
            Ok((vec![Change::MemberRoleChanged { org: org.to_owned(), user: email.clone(), before: m.role, after: role }], ()))
        })
    }

    /// Removes `user` from `org` (and their grants there). A user may always leave.
    pub fn remove_member(&self, user: &str, org: &str, actor: Option<&str>) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        self.mutate(actor, |st, at| {
            Ok((plan_remove_member(st, at, actor, &email, org)?, ()))
        })
    }

    /// Updates a membership record (expiry, reason, review date, external) and the
    /// user's name and title.
    pub fn update_member(
        &self,
        user: &str,
        org: &str,
        patch: MemberPatch,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            let current = membership(st, &email, oid);
            if let (Some(m), Some(expires)) = (current, patch.expires) {
                check_owner_expiry(m.role, expires)?;
            }
            if let Some(a) = actor {
                authorize_member_update(st, at, a, &email, org, oid, current)?;
            }
            let Some(m) = current else {
                return Err(Error::not_member(&email, org));
            };
            let before = member_attrs(m);
            let mut after = before.clone();
            if let Some(e) = patch.expires {
                after.expires = e;
            }
            if let Some(r) = patch.reason {
                after.reason = opt_text(r);
            }
            if let Some(r) = patch.reviewed {
                after.reviewed = r;
            }
            if let Some(x) = patch.external {
                after.external = x;
            }
            let mut changes = Vec::new();
            if after != before {
                changes.push(Change::MemberUpdated {
                    org: org.to_owned(),
                    user: email.clone(),
                    before,
                    after,
                });
            }
            if patch.name.is_some() || patch.title.is_some() {
                let u = st.user_id(&email).and_then(|u| st.user(u));
                let before = UserAttrs {
                    name: u.and_then(|u| u.name.clone()),
                    title: u.and_then(|u| u.title.clone()),
                };
                let after = UserAttrs {
                    name: patch.name.map_or_else(|| before.name.clone(), opt_text),
                    title: patch.title.map_or_else(|| before.title.clone(), opt_text),
                };
                if after != before {
                    changes.push(Change::UserUpdated {
                        user: email.clone(),
                        before,
                        after,
                    });
                }
            }
            Ok((changes, ()))
        })
    }
}
