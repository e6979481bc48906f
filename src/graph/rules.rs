//! The authority rules of SPEC 2.3 and the structural rules every mutation shares: who
//! may change what, the last-owner rule, and the plans several mutations reuse (removing
//! a member, resolving a grant target).

use crate::decision::Decision;
use crate::error::{ConflictError, Error, PermissionError, Result};
use crate::eval;
use crate::ids::{email_key, GrantTarget};
use crate::model::{Membership, Settings};
use crate::roles::{OrgRole, Role};
use crate::state::queries::grant_attrs;
use crate::state::State;
use crate::state::{Change, GrantAttrs};
use crate::time::{At, Instant};

pub(crate) fn denied(
    actor: &str,
    action: &str,
    target: &str,
    role: Option<Role>,
    reason: String,
) -> Error {
    PermissionError {
        decision: Box::new(Decision {
            allowed: false,
            user: email_key(actor).into_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            role,
            source: None,
            reason,
            fixes: Vec::new(),
        }),
    }
    .into()
}

/// The actor's authority for `action` on `target`: the decision's role, or `PermissionDenied`.
pub(crate) fn authorize(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    action: &str,
    target: &str,
) -> Result<Option<Role>> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    eval::validate_target(def, target, t)?;
    // The verdict `explain` words, without the words when it allows (the common case,
    // and the one `Decision.fixes` asks about for every member of an org).
    if let (Some(uid), Some(t)) = (st.user_id(actor), t) {
        let v = eval::evaluate(st, uid, def, t, at);
        if v.allowed {
            return Ok(v.role);
        }
    }
    let d = eval::explain(st, actor, action, target, at)?;
    Err(PermissionError {
        decision: Box::new(d),
    }
    .into())
}

/// The actor's unexpired org role (authority for rank comparisons).
pub(crate) fn org_role(st: &State, at: &mut At<'_>, user: &str, oid: u32) -> Option<OrgRole> {
    let m = membership(st, user, oid)?;
    at.alive(m.expires()).then_some(m.role)
}

pub(crate) fn membership<'s>(st: &'s State, user: &str, oid: u32) -> Option<&'s Membership> {
    st.user_id(user)
        .and_then(|u| st.user(u))
        .and_then(|u| u.membership(oid))
}

/// The membership through which `user` receives a grant in org `oid` (slug `org`): it
/// must exist and be unexpired (SPEC 9), or `ConflictError::NotMember` says which fails.
pub(crate) fn grantee<'s>(
    st: &'s State,
    at: &mut At<'_>,
    user: &str,
    oid: u32,
    org: &str,
) -> Result<&'s Membership> {
    let Some(m) = membership(st, user, oid) else {
        return Err(Error::not_member(user, org));
    };
    if !at.alive(m.expires()) {
        return Err(ConflictError::NotMember {
            user: user.to_owned(),
            org: org.to_owned(),
            detail: ": the membership expired, so it cannot receive grants".to_owned(),
        }
        .into());
    }
    Ok(m)
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(crate) fn opt_text(s: Option<String>) -> Option<String> {
    s.filter(|t| !t.trim().is_empty())
}

/// Requires the actor to hold at least `rank` in the org, else `PermissionDenied`.
#[expect(
    clippy::too_many_arguments,
    reason = "the rule reads the whole request: who, to whom, where, which role, and when"
)]
pub(crate) fn require_rank(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    oid: u32,
    rank: OrgRole,
    action: &str,
    org: &str,
    what: &str,
) -> Result<()> {
    let mine = org_role(st, at, actor, oid);
    if mine.is_some_and(|r| r >= rank) {
        Ok(())
    } else {
        let held = mine.map_or_else(
            || "no role".to_owned(),
            |r| format!("org role {}", r.as_str()),
        );
        Err(denied(
            actor,
            action,
            org,
            mine.map(Role::Org),
            format!(
                "{} holds {held} in {org}, but {what} needs {}",
                email_key(actor),
                rank.as_str()
            ),
        ))
    }
}

pub(crate) fn check_owner_expiry(role: OrgRole, expires: Option<Instant>) -> Result<()> {
    if role == OrgRole::Owner && expires.is_some() {
        return Err(Error::rule(
            "an owner membership cannot expire: remove `expires` or give a lower role",
        ));
    }
    Ok(())
}

/// The changes that remove `email` from `org` (their grants there first), after the
/// authority and last-owner rules.
pub(crate) fn plan_remove_member(
    st: &State,
    at: &mut At<'_>,
    actor: Option<&str>,
    email: &str,
    org: &str,
) -> Result<Vec<Change>> {
    let oid = st.need_org(org)?;
    let current = membership(st, email, oid);
    if let Some(a) = actor.filter(|a| !same(a, email)) {
        authorize(st, at, a, "org:remove_member", org)?;
        let mine = org_role(st, at, a, oid).unwrap_or(OrgRole::Member);
        if let Some(m) = current.filter(|m| m.role > mine) {
            return Err(denied(
                a,
                "org:remove_member",
                org,
                Some(Role::Org(mine)),
                format!(
                    "{} is an org {} of {org} and cannot remove {email}, who is {}",
                    email_key(a),
                    mine.as_str(),
                    m.role.as_str()
                ),
            ));
        }
    }
    let Some(m) = current else {
        return Err(Error::not_member(email, org));
    };
    if m.role == OrgRole::Owner && st.org(oid).is_some_and(|o| o.owners <= 1) {
        return Err(ConflictError::LastOwner {
            user: email.to_owned(),
            org: org.to_owned(),
        }
        .into());
    }
    let mut changes = grant_removals(st, email, org, m);
    changes.push(Change::MemberRemoved {
        org: org.to_owned(),
        user: email.to_owned(),
    });
    Ok(changes)
}

/// Authority to add a member with `role` (SPEC 2.3): `org:invite_member`, and a role at
/// most the actor's own.
pub(crate) fn authorize_invite(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    org: &str,
    role: OrgRole,
) -> Result<()> {
    let r = authorize(st, at, actor, "org:invite_member", org)?;
    let mine = match r {
        Some(Role::Org(r)) => r,
        _ => OrgRole::Member,
    };
    if role > mine {
        return Err(denied(actor, "org:invite_member", org, Some(Role::Org(mine)), format!(
            "{} is an org {} of {org} and cannot add someone as {}: the role given must be at most one's own",
            email_key(actor), mine.as_str(), role.as_str())));
    }
    Ok(())
}

/// Authority to change `email`'s org role (SPEC 2.3): `org:manage_roles`, not one's own,
/// on someone at most one's rank, to a role at most one's own.
#[expect(
    clippy::too_many_arguments,
    reason = "the rule reads the whole request: who, to whom, where, which role, and when"
)]
pub(crate) fn authorize_role_change(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    email: &str,
    org: &str,
    oid: u32,
    current: Option<&Membership>,
    role: OrgRole,
) -> Result<()> {
    if same(actor, email) {
        return Err(denied(
            actor,
            "org:manage_roles",
            org,
            None,
            format!("{email} cannot change their own org role"),
        ));
    }
    authorize(st, at, actor, "org:manage_roles", org)?;
    let mine = org_role(st, at, actor, oid).unwrap_or(OrgRole::Member);
    if let Some(m) = current {
        if m.role > mine {
            return Err(denied(
                actor,
                "org:manage_roles",
                org,
                Some(Role::Org(mine)),
                format!(
                    "{} is an org {} of {org} and cannot change the role of {email}, who is {}",
                    email_key(actor),
                    mine.as_str(),
                    m.role.as_str()
                ),
            ));
        }
    }
    if role > mine {
        return Err(denied(
            actor,
            "org:manage_roles",
            org,
            Some(Role::Org(mine)),
            format!(
                "{} is an org {} of {org} and cannot give the role {}",
                email_key(actor),
                mine.as_str(),
                role.as_str()
            ),
        ));
    }
    Ok(())
}

/// Authority to update `email`'s membership record (renew, document, mark reviewed):
/// `org:manage_roles`, not one's own, on someone at most one's rank.
pub(crate) fn authorize_member_update(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    email: &str,
    org: &str,
    oid: u32,
    current: Option<&Membership>,
) -> Result<()> {
    if same(actor, email) {
        return Err(denied(
            actor,
            "org:manage_roles",
            org,
            None,
            format!("{email} cannot update their own membership: renewals and reviews are done by someone else"),
        ));
    }
    authorize(st, at, actor, "org:manage_roles", org)?;
    let mine = org_role(st, at, actor, oid).unwrap_or(OrgRole::Member);
    if let Some(m) = current.filter(|m| m.role > mine) {
        return Err(denied(
            actor,
            "org:manage_roles",
            org,
            Some(Role::Org(mine)),
            format!(
                "{} is an org {} of {org} and cannot update {email}, who is {}",
                email_key(actor),
                mine.as_str(),
                m.role.as_str()
            ),
        ));
    }
    Ok(())
}

/// Authority to grant `email` a role on `target`: not oneself, and the right to manage
/// the target's members.
pub(crate) fn authorize_grant_to(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    email: &str,
    gt: GrantTarget<'_>,
    oid: u32,
    target: &str,
) -> Result<()> {
    if same(actor, email) {
        return Err(denied(
            actor,
            "project:manage_members",
            target,
            None,
            format!("{email} cannot grant themselves access"),
        ));
    }
    authorize_grant(st, at, actor, gt, oid, target)
}

/// The org of a grant target, checking that the org and project exist.
pub(crate) fn resolve_grant_target(st: &State, gt: GrantTarget<'_>) -> Result<u32> {
    let oid = st.need_org(gt.org())?;
    if let GrantTarget::Project(p) = gt {
        st.need_project(p)?;
    }
    Ok(oid)
}

pub(crate) fn authorize_grant(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    gt: GrantTarget<'_>,
    oid: u32,
    target: &str,
) -> Result<()> {
    match gt {
        GrantTarget::Project(p) => {
            authorize(st, at, actor, "project:manage_members", p).map(|_| ())
        }
        GrantTarget::AllProjects(org) => require_rank(
            st,
            at,
            actor,
            oid,
            OrgRole::Admin,
            "project:manage_members",
            target,
            &format!("a grant on all projects of {org}"),
        ),
    }
}

pub(crate) fn existing_grant(
    st: &State,
    m: &Membership,
    gt: GrantTarget<'_>,
) -> Option<GrantAttrs> {
    match gt {
        GrantTarget::AllProjects(_) => m.org_wide.as_deref().map(grant_attrs),
        GrantTarget::Project(p) => st
            .project_id(p)
            .and_then(|pid| m.grant(pid))
            .map(grant_attrs),
    }
}

/// `grant.removed` for every grant of a membership: projects in id order, then `org/*`.
pub(super) fn grant_removals(st: &State, email: &str, org: &str, m: &Membership) -> Vec<Change> {
    let mut targets: Vec<String> = m
        .grants
        .iter()
        .filter_map(|g| st.project(g.project).map(|p| p.id.to_string()))
        .collect();
    targets.sort();
    if m.org_wide.is_some() {
        targets.push(format!("{org}/*"));
    }
    targets
        .into_iter()
        .map(|target| Change::GrantRemoved {
            user: email.to_owned(),
            target,
        })
        .collect()
}

pub(super) fn validate_settings(settings: &Settings) -> Result<()> {
    if let Some(v) = settings.get("members_can_invite") {
        if !v.is_boolean() {
            return Err(Error::invalid(
                "members_can_invite",
                v.to_string(),
                "true or false",
            ));
        }
    }
    Ok(())
}
