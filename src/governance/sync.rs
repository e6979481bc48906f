//! Directory sync (SPEC 4.5, 9): make an org's access equal to what an identity
//! provider's groups map to.
//!
//! People come as plain records (`email`, `name`, `active`, `groups`) or SCIM 2.0 User
//! resources (`userName` / `emails[primary]`, `name.formatted` or `givenName` +
//! `familyName`, `active`, `groups[].display`). A group maps to an org role, or to a role
//! and project grants; someone in several groups gets the highest of each.
//!
//! A sync is planned first ([`SyncPlan`]: a list of `{op, user, target, before, after}`
//! with `op` one of `add_member`, `set_role`, `grant`, `revoke`, `remove_member`), which
//! needs no authority; applying a plan is one atomic mutation in which the actor needs the
//! authority of every change, and which first checks that each change's `before` still
//! holds (a plan gone stale changes nothing).
//!
//! Decisions beyond the spec:
//! - Owners are never removed nor demoted, and their grants are left alone: whatever the
//!   directory says about an owner that would change them is listed in `skipped`. Nor is
//!   a member whose membership expires made owner (owners cannot expire): `skipped`.
//! - A member whose membership expired is not renewed (an expiry is a decision someone
//!   made): they are listed in `skipped`; with `deprovision`, one the directory no longer
//!   gives access is removed.
//! - A grant is compared by role; an expired grant the directory gives is granted again.
//!   Grants made by sync have no expiry and the reason "directory sync"; so do
//!   memberships. A grant someone gave with an expiry and the same role is left alone.
//! - Grant targets in the mapping are `org/project`, a project slug, `org/*` or `*`.
//! - Changes are ordered by user, then `add_member`, `set_role`, `grant`, `revoke`,
//!   `remove_member`, then target. Removing a member removes their grants with them, so
//!   their grants are not listed apart.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::{ConflictError, Error, Result};
use crate::graph::rules::{
    authorize_grant, authorize_grant_to, authorize_invite, authorize_role_change,
    check_owner_expiry, membership, plan_remove_member, same,
};
use crate::graph::Graph;
use crate::ids::{self, GrantTarget};
use crate::model::{Grant, Membership};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::queries::grant_attrs;
use crate::state::State;
use crate::state::{Change, GrantAttrs, MemberAttrs, UserAttrs};
use crate::time::{At, Instant};

/// The reason written on memberships and grants that sync makes.
pub const REASON: &str = "directory sync";

/// One person of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Lower-case email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Active in the directory.
    pub active: bool,
    /// Group names.
    pub groups: Vec<String>,
}

/// What a directory group gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    /// The org role.
    pub role: OrgRole,
    /// Project role by target (`org/project`, a slug, `org/*` or `*`), as written.
    pub grants: Vec<(String, ProjectRole)>,
}

fn escaped(v: &Value) -> String {
    match v {
        Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}

fn bad(path: &str, v: &Value, expected: &str) -> Error {
    Error::rule(format!("invalid {path} `{}`: {expected}", escaped(v)))
}

fn text_at<'v>(obj: &'v Map<String, Value>, key: &str, path: &str) -> Result<Option<&'v str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(bad(path, v, "a string")),
    }
}

/// Reads one person: a plain record or a SCIM 2.0 User resource.
pub fn person_from_json(i: usize, v: &Value) -> Result<Person> {
    let at = |field: &str| format!("people[{i}].{field}");
    let Some(obj) = v.as_object() else {
        return Err(bad(
            &format!("people[{i}]"),
            v,
            "a dict (email, name, active, groups) or a SCIM User resource",
        ));
    };
    let scim =
        obj.contains_key("userName") || obj.contains_key("emails") || obj.contains_key("schemas");
    // The email: `email`, else SCIM's primary email, the first email, or `userName`.
    let email = match text_at(obj, "email", &at("email"))? {
        Some(e) => Some((e.to_owned(), at("email"))),
        None if scim => scim_email(obj, &at)?,
        None => None,
    };
    let Some((email, path)) = email else {
        return Err(Error::rule(format!(
            "invalid people[{i}]: no email (give `email`, or SCIM `emails` / `userName`)"
        )));
    };
    let email = ids::email("user", &email).map_err(|_| {
        Error::rule(format!(
            "invalid {path} `{}`: an email address",
            email.escape_debug()
        ))
    })?;
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(n)) => {
            if let Some(f) = text_at(n, "formatted", &at("name.formatted"))? {
                Some(f.to_owned())
            } else {
                let given = text_at(n, "givenName", &at("name.givenName"))?;
                let family = text_at(n, "familyName", &at("name.familyName"))?;
                let joined = [given, family]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.is_empty()).then_some(joined)
            }
        }
        Some(v) => return Err(bad(&at("name"), v, "a string or a SCIM name object")),
    };
    let name = match name {
        Some(n) => Some(n),
        None => text_at(obj, "displayName", &at("displayName"))?.map(str::to_owned),
    }
    .filter(|n| !n.trim().is_empty());
    let active = match obj.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(bad(&at("active"), v, "true or false")),
    };
    let mut groups = Vec::new();
    match obj.get("groups") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (j, g) in items.iter().enumerate() {
                let name = match g {
                    Value::String(s) => Some(s.as_str()),
                    Value::Object(o) => o
                        .get("display")
                        .or_else(|| o.get("value"))
                        .and_then(Value::as_str),
                    _ => None,
                };
                let Some(name) = name else {
                    return Err(bad(
                        &at(&format!("groups[{j}]")),
                        g,
                        "a group name, or a SCIM group with `display`",
                    ));
                };
                groups.push(name.to_owned());
            }
        }
        Some(v) => return Err(bad(&at("groups"), v, "a list of group names")),
    }
    Ok(Person {
        email,
        name,
        active,
        groups,
    })
}

fn scim_email(
    obj: &Map<String, Value>,
    at: &impl Fn(&str) -> String,
) -> Result<Option<(String, String)>> {
    if let Some(v) = obj.get("emails") {
        let Value::Array(items) = v else {
            return Err(bad(&at("emails"), v, "a list of SCIM email objects"));
        };
        let value = |e: &Value| e.get("value").and_then(Value::as_str).map(str::to_owned);
        let primary = items.iter().enumerate().find(|(_, e)| {
            e.get("primary").and_then(Value::as_bool) == Some(true) && value(e).is_some()
        });
        let chosen = primary.or_else(|| items.iter().enumerate().find(|(_, e)| value(e).is_some()));
        if let Some((j, e)) = chosen {
            if let Some(v) = value(e) {
                return Ok(Some((v, at(&format!("emails[{j}].value")))));
            }
        }
    }
    Ok(text_at(obj, "userName", &at("userName"))?.map(|u| (u.to_owned(), at("userName"))))
}

/// Reads the people of a directory; an email listed twice is an error naming both.
pub fn people_from_json(items: &[Value]) -> Result<Vec<Person>> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let p = person_from_json(i, v)?;
        if let Some(first) = seen.insert(p.email.clone(), i) {
            return Err(Error::rule(format!(
                "invalid people[{i}]: `{}` is listed twice (first at people[{first}])",
                p.email
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// Reads the group mapping: group name → org role, or `{"role": ..., "grants": {...}}`.
pub fn groups_from_json(v: &Map<String, Value>) -> Result<BTreeMap<String, GroupMapping>> {
    let mut out = BTreeMap::new();
    for (name, val) in v {
        let at = |field: &str| {
            let key = serde_json::to_string(name).unwrap_or_default();
            format!("groups[{key}]{field}")
        };
        let mapping = match val {
            Value::String(r) => GroupMapping {
                role: OrgRole::parse("role", r).map_err(|_| {
                    bad(
                        &at(""),
                        val,
                        "an org role (member, admin, owner) or a dict with `role` and `grants`",
                    )
                })?,
                grants: Vec::new(),
            },
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| *k != "role" && *k != "grants") {
                    return Err(Error::rule(format!(
                        "invalid {} key `{}`: a group maps to `role` and `grants`",
                        at(""),
                        k.escape_debug()
                    )));
                }
                let role = match o.get("role") {
                    None | Some(Value::Null) => OrgRole::Member,
                    Some(r @ Value::String(s)) => OrgRole::parse("role", s)
                        .map_err(|_| bad(&at(".role"), r, "an org role: member, admin or owner"))?,
                    Some(r) => {
                        return Err(bad(&at(".role"), r, "an org role: member, admin or owner"))
                    }
                };
                let mut grants = Vec::new();
                match o.get("grants") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(g)) => {
                        for (target, r) in g {
                            let path = at(&format!(
                                ".grants[{}]",
                                serde_json::to_string(target).unwrap_or_default()
                            ));
                            let role = r
                                .as_str()
                                .and_then(|s| ProjectRole::parse("role", s).ok())
                                .ok_or_else(|| {
                                    bad(&path, r, "a project role: viewer, member or admin")
                                })?;
                            grants.push((target.clone(), role));
                        }
                    }
                    Some(g) => {
                        return Err(bad(&at(".grants"), g, "a dict of project → project role"))
                    }
                }
                GroupMapping { role, grants }
            }
            other => {
                return Err(bad(
                    &at(""),
                    other,
                    "an org role (member, admin, owner) or a dict with `role` and `grants`",
                ))
            }
        };
        out.insert(name.clone(), mapping);
    }
    Ok(out)
}

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
fn resolve_target(st: &State, org: &str, key: &str) -> Result<String> {
    let id = if key == "*" {
        format!("{org}/*")
    } else if key.contains('/') {
        key.to_owned()
    } else {
        format!("{org}/{key}")
    };
    let gt = ids::grant_target("grants", &id)?;
    let of = match gt {
        GrantTarget::AllProjects(o) => o,
        GrantTarget::Project(p) => p.split_once('/').map_or(p, |(o, _)| o),
    };
    if of != org {
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
fn grant_on<'s>(st: &'s State, m: &'s Membership, target: &str) -> Option<&'s Grant> {
    if target.ends_with("/*") {
        m.org_wide.as_ref()
    } else {
        st.project_id(target).and_then(|pid| m.grant(pid))
    }
}

/// Every grant record of `m`, with its target.
fn grants_of<'s>(st: &'s State, org: &str, m: &'s Membership) -> Vec<(String, &'s Grant)> {
    let mut out: Vec<(String, &Grant)> = m
        .grants
        .iter()
        .filter_map(|(pid, g)| Some((st.project(*pid)?.id.to_string(), g)))
        .collect();
    if let Some(g) = &m.org_wide {
        out.push((format!("{org}/*"), g));
    }
    out
}

fn when(at: Instant) -> String {
    if at.is_midnight() {
        at.date().format("%Y-%m-%d").to_string()
    } else {
        at.to_iso()
    }
}

/// Plans a sync of `org` against the current state (no authority needed).
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
        if !at.alive(m.expires) {
            skipped.push(Skipped {
                user: p.email.clone(),
                reason: format!(
                    "{}'s membership of {org} expired on {}: sync does not renew expiries (update_member renews it)",
                    p.email,
                    m.expires.map(when).unwrap_or_default()
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
        if role == OrgRole::Owner && m.expires.is_some() {
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
                Some(g) if g.role != *r || !at.alive(g.expires) => changes.push(change(
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

fn stale(what: &str) -> Error {
    ConflictError::Rule(format!(
        "the sync plan is stale: {what}; plan the sync again"
    ))
    .into()
}

fn org_role_named(s: Option<&str>) -> Result<OrgRole> {
    OrgRole::parse("role", s.unwrap_or_default())
}

fn project_role_named(s: Option<&str>) -> Result<ProjectRole> {
    ProjectRole::parse("role", s.unwrap_or_default())
}

/// The elementary changes that apply `plan` to the current state: every change's
/// authority first (SPEC 2.3), then that its `before` still holds.
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
        let live = current.filter(|m| at.alive(m.expires));
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
                check_owner_expiry(after, m.expires)?;
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

fn sync_grant(role: ProjectRole) -> GrantAttrs {
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
