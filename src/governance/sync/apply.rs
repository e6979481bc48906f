//! Applying a reviewed plan: every change's authority, then that its `before` still holds;
//! one atomic mutation.

use std::collections::{BTreeMap, BTreeSet};

use super::directory::{GroupMapping, Person, REASON};
use super::plan::{grant_on, plan, SyncOp, SyncPlan};
use crate::error::{ConflictError, Error, Result};
use crate::graph::rules::{
    authorize_grant, authorize_grant_to, authorize_invite, authorize_role_change,
    check_owner_expiry, membership, plan_remove_member, same,
};
use crate::graph::Graph;
use crate::ids::{self};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::queries::grant_attrs;
use crate::state::State;
use crate::state::{Change, GrantAttrs, MemberAttrs, UserAttrs};
use crate::time::At;

pub(super) fn stale(what: &str) -> Error {
    ConflictError::Rule(format!(
        "the sync plan is stale: {what}; plan the sync again"
    ))
    .into()
}

pub(super) fn org_role_named(s: Option<&str>) -> Result<OrgRole> {
    OrgRole::parse("role", s.unwrap_or_default())
}

pub(super) fn project_role_named(s: Option<&str>) -> Result<ProjectRole> {
    ProjectRole::parse("role", s.unwrap_or_default())
}

/// The elementary changes that apply `plan` to the current state: every change's
/// authority first (SPEC 2.3), then that its `before` still holds.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per planned operation, each checking that operation's authority and `before`"
)]
pub fn changes_for(
    st: &State,
    at: &mut At<'_>,
    plan: &SyncPlan,
    actor: Option<&str>,
) -> Result<Vec<Change>> {
    let org = plan.org.as_str();
    let oid = st.need_org(org)?;
    if let Some(a) = actor {
        for c in &plan.changes {
            match c.op {
                SyncOp::AddMember => authorize_invite(st, at, a, org, org_role_named(c.after)?)?,
                SyncOp::SetRole => {
                    let current = membership(st, &c.user, oid);
                    authorize_role_change(
                        st,
                        at,
                        a,
                        &c.user,
                        org,
                        oid,
                        current,
                        org_role_named(c.after)?,
                    )?;
                }
                SyncOp::RemoveMember => {
                    if let Err(e @ Error::Permission(_)) =
                        plan_remove_member(st, at, actor, &c.user, org)
                    {
                        return Err(e);
                    }
                }
                SyncOp::Grant => {
                    let gt = ids::grant_target("target", &c.target)?;
                    authorize_grant_to(st, at, a, &c.user, gt, oid, &c.target)?;
                }
                SyncOp::Revoke => {
                    if !same(a, &c.user) {
                        let gt = ids::grant_target("target", &c.target)?;
                        authorize_grant(st, at, a, gt, oid, &c.target)?;
                    }
                }
            }
        }
    }

    let mut out = Vec::new();
    let mut added: BTreeSet<&str> = BTreeSet::new();
    let mut removed: BTreeSet<&str> = BTreeSet::new();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for c in &plan.changes {
        let user = c.user.as_str();
        if removed.contains(user) {
            return Err(stale(&format!(
                "{user} is removed before a later change to them"
            )));
        }
        let current = membership(st, user, oid);
        let live = current.filter(|m| at.alive(m.expires()));
        match c.op {
            SyncOp::AddMember => {
                if current.is_some() || !added.insert(user) {
                    return Err(stale(&format!("{user} is already a member of {org}")));
                }
                out.push(Change::MemberAdded {
                    org: org.to_owned(),
                    user: user.to_owned(),
                    attrs: MemberAttrs {
                        role: org_role_named(c.after)?,
                        expires: None,
                        reason: Some(REASON.to_owned()),
                        reviewed: None,
                        external: false,
                    },
                    person: UserAttrs {
                        name: c.name.clone(),
                        title: None,
                    },
                });
            }
            SyncOp::SetRole => {
                let Some(m) = live.filter(|m| Some(m.role.as_str()) == c.before) else {
                    return Err(stale(&format!(
                        "{user} is no longer {} {} of {org}",
                        if c.before == Some("admin") || c.before == Some("owner") {
                            "an"
                        } else {
                            "a"
                        },
                        c.before.unwrap_or("member")
                    )));
                };
                let after = org_role_named(c.after)?;
                check_owner_expiry(after, m.expires())?;
                if m.role == OrgRole::Owner && st.org(oid).is_some_and(|o| o.owners <= 1) {
                    return Err(ConflictError::LastOwner {
                        user: user.to_owned(),
                        org: org.to_owned(),
                    }
                    .into());
                }
                out.push(Change::MemberRoleChanged {
                    org: org.to_owned(),
                    user: user.to_owned(),
                    before: m.role,
                    after,
                });
            }
            SyncOp::RemoveMember => {
                if current.is_none_or(|m| Some(m.role.as_str()) != c.before) {
                    return Err(stale(&format!(
                        "{user} is no longer a {} of {org}",
                        c.before.unwrap_or("member")
                    )));
                }
                out.extend(plan_remove_member(st, at, actor, user, org)?);
                removed.insert(user);
            }
            SyncOp::Grant | SyncOp::Revoke => {
                let target = c.target.as_str();
                if !seen.insert((user, target)) {
                    return Err(stale(&format!(
                        "{user}'s grant on {target} is changed twice"
                    )));
                }
                if added.contains(user) {
                    if c.op == SyncOp::Grant && c.before.is_none() {
                        out.push(Change::GrantAdded {
                            user: user.to_owned(),
                            target: target.to_owned(),
                            attrs: sync_grant(project_role_named(c.after)?),
                        });
                        continue;
                    }
                    return Err(stale(&format!("{user} has no grant on {target} yet")));
                }
                let Some(m) = live else {
                    return Err(stale(&format!("{user} is no longer a member of {org}")));
                };
                let existing = grant_on(st, m, target);
                if existing.map(|g| g.role.as_str()) != c.before {
                    return Err(stale(&format!(
                        "{user}'s grant on {target} is no longer {}",
                        c.before.unwrap_or("absent")
                    )));
                }
                if c.op == SyncOp::Revoke {
                    out.push(Change::GrantRemoved {
                        user: user.to_owned(),
                        target: target.to_owned(),
                    });
                    continue;
                }
                let attrs = sync_grant(project_role_named(c.after)?);
                out.push(match existing {
                    None => Change::GrantAdded {
                        user: user.to_owned(),
                        target: target.to_owned(),
                        attrs,
                    },
                    Some(g) => Change::GrantChanged {
                        user: user.to_owned(),
                        target: target.to_owned(),
                        before: grant_attrs(g),
                        after: attrs,
                    },
                });
            }
        }
    }
    Ok(out)
}

pub(super) fn sync_grant(role: ProjectRole) -> GrantAttrs {
    GrantAttrs {
        role,
        expires: None,
        reason: Some(REASON.to_owned()),
        review_by: None,
    }
}

impl Graph {
    /// Plans a directory sync of `org`; with `dry_run=false`, applies it in the same
    /// atomic step (the actor needs the authority of every change).
    pub fn sync_directory(
        &self,
        org: &str,
        people: &[Person],
        groups: &BTreeMap<String, GroupMapping>,
        actor: Option<&str>,
        dry_run: bool,
        deprovision: bool,
    ) -> Result<SyncPlan> {
        ids::org_slug("org", org)?;
        if dry_run {
            let now = self.now();
            return self.read(|st| {
                let clock = crate::time::Clock::default();
                let mut at = At::new(Some(now), &clock);
                plan(st, &mut at, org, people, groups, deprovision)
            });
        }
        self.mutate(actor, |st, at| {
            let mut p = plan(st, at, org, people, groups, deprovision)?;
            let changes = changes_for(st, at, &p, actor)?;
            p.applied = true;
            Ok((changes, p))
        })
    }

    /// Applies a reviewed plan atomically: nothing changes if the actor lacks the
    /// authority of any change or if any change's `before` no longer holds.
    pub fn apply_sync_plan(&self, plan: &SyncPlan, actor: Option<&str>) -> Result<SyncPlan> {
        self.mutate(actor, |st, at| {
            let changes = changes_for(st, at, plan, actor)?;
            let mut done = plan.clone();
            done.applied = true;
            Ok((changes, done))
        })
    }
}
