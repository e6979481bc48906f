//! Planning a sync: the `{op, user, target, before, after}` changes that make an org's
//! access equal to what the directory's groups map to.

use std::collections::{BTreeMap, BTreeSet};

use super::directory::{GroupMapping, Person};
use crate::error::{Error, Result};
use crate::graph::rules::membership;
use crate::ids::{self, GrantTarget};
use crate::model::{Grant, Membership};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::State;
use crate::time::{At, Instant};

/// A kind of planned change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncOp {
    /// Add a member.
    AddMember,
    /// Change an org role.
    SetRole,
    /// Grant (or replace) a project role.
    Grant,
    /// Revoke a grant.
    Revoke,
    /// Remove a member, with their grants.
    RemoveMember,
}

impl SyncOp {
    /// The op's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOp::AddMember => "add_member",
            SyncOp::SetRole => "set_role",
            SyncOp::Grant => "grant",
            SyncOp::Revoke => "revoke",
            SyncOp::RemoveMember => "remove_member",
        }
    }
}

/// One planned change: `{op, user, target, before, after}` (roles by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlannedChange {
    /// What to do.
    pub op: SyncOp,
    /// Whom to do it to.
    pub user: String,
    /// The org (membership ops) or the grant target.
    pub target: String,
    /// The role held now.
    pub before: Option<&'static str>,
    /// The role wanted.
    pub after: Option<&'static str>,
    /// The display name a new member gets.
    pub name: Option<String>,
}

/// Someone sync leaves alone though the directory says otherwise, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Skipped {
    /// The email.
    pub user: String,
    /// Why, in a sentence.
    pub reason: String,
}

/// A planned (or applied) directory sync.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncPlan {
    /// The org.
    pub org: String,
    /// The changes, in order.
    pub changes: Vec<PlannedChange>,
    /// People left alone.
    pub skipped: Vec<Skipped>,
    /// True once applied.
    pub applied: bool,
}

impl SyncPlan {
    /// The plan as a Markdown table (then the people skipped), for a change review.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out =
            String::from("| op | user | target | before | after |\n|---|---|---|---|---|\n");
        for c in &self.changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                c.op.as_str(),
                c.user,
                c.target,
                c.before.unwrap_or("-"),
                c.after.unwrap_or("-")
            );
        }
        if !self.skipped.is_empty() {
            out.push('\n');
            for s in &self.skipped {
                let _ = writeln!(out, "- skipped {}: {}", s.user, s.reason);
            }
        }
        out
    }
}

/// A grant target of the mapping, resolved in `org`: `org/project` or `org/*`.
pub(super) fn resolve_target(st: &State, org: &str, key: &str) -> Result<String> {
    let id = if key == "*" {
        format!("{org}/*")
    } else if key.contains('/') {
        key.to_owned()
    } else {
        format!("{org}/{key}")
    };
    let gt = ids::grant_target("grants", &id)?;
    if gt.org() != org {
        return Err(Error::invalid(
            "grants",
            key,
            format!("a project of `{org}`, a slug, `{org}/*` or `*`"),
        ));
    }
    if let GrantTarget::Project(p) = gt {
        st.need_project(p)?;
    }
    Ok(id)
}

/// The grant record `m` holds on `target`, expired or not.
pub(super) fn grant_on<'s>(st: &'s State, m: &'s Membership, target: &str) -> Option<&'s Grant> {
    if target.ends_with("/*") {
        m.org_wide.as_deref()
    } else {
        st.project_id(target).and_then(|pid| m.grant(pid))
    }
}

/// Every grant record of `m`, with its target.
pub(super) fn grants_of<'s>(
    st: &'s State,
    org: &str,
    m: &'s Membership,
) -> Vec<(String, &'s Grant)> {
    let mut out: Vec<(String, &Grant)> = m
        .grants
        .iter()
        .filter_map(|g| Some((st.project(g.project)?.id.to_string(), g)))
        .collect();
    if let Some(g) = &m.org_wide {
        out.push((format!("{org}/*"), g));
    }
    out
}

/// Plans a sync of `org` against the current state (no authority needed).
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the directory, then over the members it no longer lists, in the order SPEC 9 gives the operations"
)]
pub fn plan(
    st: &State,
    at: &mut At<'_>,
    org: &str,
    people: &[Person],
    groups: &BTreeMap<String, GroupMapping>,
    deprovision: bool,
) -> Result<SyncPlan> {
    let oid = st.need_org(org)?;
    // Each group's grants, resolved once.
    let mut resolved: BTreeMap<&str, GroupMapping> = BTreeMap::new();
    for (name, g) in groups {
        let mut grants = Vec::with_capacity(g.grants.len());
        for (key, role) in &g.grants {
            grants.push((resolve_target(st, org, key)?, *role));
        }
        resolved.insert(
            name,
            GroupMapping {
                role: g.role,
                grants,
            },
        );
    }

    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    let change = |op, user: &str, target: &str, before, after| PlannedChange {
        op,
        user: user.to_owned(),
        target: target.to_owned(),
        before,
        after,
        name: None,
    };

    for p in people {
        listed.insert(&p.email);
        let current = membership(st, &p.email, oid);
        // What the directory gives: the highest role and grants of the mapped groups.
        let mut role: Option<OrgRole> = None;
        let mut wanted: BTreeMap<&str, ProjectRole> = BTreeMap::new();
        for g in &p.groups {
            if let Some(GroupMapping { role: r, grants }) = resolved.get(g.as_str()) {
                role = Some(role.map_or(*r, |x| x.max(*r)));
                for (t, pr) in grants {
                    let slot = wanted.entry(t).or_insert(*pr);
                    *slot = (*slot).max(*pr);
                }
            }
        }
        let role = role.filter(|_| p.active);
        let Some(role) = role else {
            // Inactive, or in no mapped group: no access.
            if let (Some(m), true) = (current, deprovision) {
                let why = if p.active {
                    "is in no mapped group"
                } else {
                    "is inactive in the directory"
                };
                if m.role == OrgRole::Owner {
                    skipped.push(Skipped {
                        user: p.email.clone(),
                        reason: format!(
                            "{} {why} but is an owner of {org}: sync never removes an owner",
                            p.email
                        ),
                    });
                } else {
                    changes.push(change(
                        SyncOp::RemoveMember,
                        &p.email,
                        org,
                        Some(m.role.as_str()),
                        None,
                    ));
                }
            }
            continue;
        };
        let Some(m) = current else {
            let mut add = change(SyncOp::AddMember, &p.email, org, None, Some(role.as_str()));
            add.name.clone_from(&p.name);
            changes.push(add);
            for (t, r) in &wanted {
                changes.push(change(SyncOp::Grant, &p.email, t, None, Some(r.as_str())));
            }
            continue;
        };
        if !at.alive(m.expires()) {
            skipped.push(Skipped {
                user: p.email.clone(),
                reason: format!(
                    "{}'s membership of {org} expired on {}: sync does not renew expiries (update_member renews it)",
                    p.email,
                    m.expires().map(Instant::to_date_or_iso).unwrap_or_default()
                ),
            });
            continue;
        }
        if m.role == OrgRole::Owner {
            if role < OrgRole::Owner {
                skipped.push(Skipped {
                    user: p.email.clone(),
                    reason: format!(
                        "{} is an owner of {org} and the directory gives {}: sync never demotes an owner",
                        p.email,
                        role.as_str()
                    ),
                });
            }
            continue;
        }
        if role == OrgRole::Owner && m.expires().is_some() {
            skipped.push(Skipped {
                user: p.email.clone(),
                reason: format!(
                    "the directory makes {} an owner of {org}, but the membership expires and owners cannot: clear `expires` first (update_member)",
                    p.email
                ),
            });
            continue;
        }
        if m.role != role {
            changes.push(change(
                SyncOp::SetRole,
                &p.email,
                org,
                Some(m.role.as_str()),
                Some(role.as_str()),
            ));
        }
        for (t, r) in &wanted {
            match grant_on(st, m, t) {
                None => changes.push(change(SyncOp::Grant, &p.email, t, None, Some(r.as_str()))),
                Some(g) if g.role != *r || !at.alive(g.expires()) => changes.push(change(
                    SyncOp::Grant,
                    &p.email,
                    t,
                    Some(g.role.as_str()),
                    Some(r.as_str()),
                )),
                Some(_) => {}
            }
        }
        if deprovision {
            for (t, g) in grants_of(st, org, m) {
                if !wanted.contains_key(t.as_str()) {
                    changes.push(change(
                        SyncOp::Revoke,
                        &p.email,
                        &t,
                        Some(g.role.as_str()),
                        None,
                    ));
                }
            }
        }
    }

    if deprovision {
        for &uid in st.org(oid).map(|o| &o.members).into_iter().flatten() {
            let Some(u) = st.user(uid) else { continue };
            if listed.contains(&*u.email) {
                continue;
            }
            let Some(m) = u.membership(oid) else { continue };
            if m.role == OrgRole::Owner {
                skipped.push(Skipped {
                    user: u.email.to_string(),
                    reason: format!(
                        "{} is not in the directory but is an owner of {org}: sync never removes an owner",
                        u.email
                    ),
                });
            } else {
                changes.push(change(
                    SyncOp::RemoveMember,
                    &u.email,
                    org,
                    Some(m.role.as_str()),
                    None,
                ));
            }
        }
    }
    changes.sort_by(|a, b| (&a.user, a.op, &a.target).cmp(&(&b.user, b.op, &b.target)));
    skipped.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(SyncPlan {
        org: org.to_owned(),
        changes,
        skipped,
        applied: false,
    })
}
