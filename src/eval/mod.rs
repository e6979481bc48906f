//! Evaluation: effective roles, `check` / `explain`, and the reverse lookups.
//!
//! Every answer comes from one function, [`evaluate`], so that `check`, `explain`,
//! `who_can`, `permissions` and the matrix cannot disagree. It allocates nothing and
//! reads the clock only when an expiry must be compared.

pub mod diff;
pub mod principal;

pub use principal::{Principal, PrincipalKind, Subject};

use crate::decision::{Decision, Source};
use crate::error::{Error, Result};
use crate::model::actions::{ActionDef, Need};
use crate::model::{HotMembership, HotProject, HotUser, ResourceRec};
use crate::roles::{OrgRole, ProjectRole, Role};
use crate::state::{State, TargetRef};
use crate::time::{At, Instant};

/// Why a verdict came out as it did (cheap to build; turned into words by `explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The user is unknown.
    UnknownUser,
    /// The target is unknown.
    UnknownTarget,
    /// The user has no membership in the org.
    NotMember,
    /// The membership expired at this instant.
    Expired(Instant),
    /// Decided by the role held (compared with the action's minimum).
    ByRole,
    /// Allowed because the user owns the resource.
    ByOwnership,
}

/// A verdict: the allocation-free outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed?
    pub allowed: bool,
    /// The role that decided (org role for org-scoped actions).
    pub role: Option<Role>,
    /// Where that role comes from.
    pub source: Option<Source>,
    /// Why.
    pub why: Why,
}

impl Verdict {
    const fn denied(why: Why) -> Self {
        Verdict {
            allowed: false,
            role: None,
            source: None,
            why,
        }
    }
}

/// The unexpired membership of `u` in `oid`, or why there is none.
#[inline]
fn live_membership<'s>(
    u: &'s HotUser,
    oid: u32,
    at: &mut At<'_>,
) -> std::result::Result<&'s HotMembership, Why> {
    let m = u.membership(oid).ok_or(Why::NotMember)?;
    if at.alive_raw(m.expires) {
        Ok(m)
    } else {
        Err(Why::Expired(Instant(m.expires)))
    }
}

/// SPEC 1.5: the effective project role of an (unexpired) member on project `pid`, and
/// its source. Ties go to the first source in the order org admin, explicit, org-wide,
/// default.
#[inline]
pub fn effective_role(
    m: &HotMembership,
    p: &HotProject,
    pid: u32,
    at: &mut At<'_>,
) -> Option<(ProjectRole, Source)> {
    if m.role.is_admin() {
        return Some((ProjectRole::Admin, Source::OrganizationAdmin));
    }
    let mut best: Option<(ProjectRole, Source)> = None;
    let mut offer = |role: ProjectRole, source: Source| {
        if best.is_none_or(|(r, _)| role > r) {
            best = Some((role, source));
        }
    };
    if let Some(g) = m.grant(pid) {
        if at.alive_raw(g.expires) {
            offer(g.role, Source::ExplicitMember);
        }
    }
    if !p.restricted {
        if let Some(g) = &m.org_wide {
            if at.alive_raw(g.expires) {
                offer(g.role, Source::OrgWideGrant);
            }
        }
    }
    if let Some(d) = p.default_role {
        offer(d, Source::Default);
    }
    best
}

/// Where a target sits: its org, its project (id and record) and its resource.
type Located<'s> = (u32, Option<(u32, &'s HotProject)>, Option<&'s ResourceRec>);

/// The org a target belongs to, and its project and resource.
#[inline]
fn locate(st: &State, t: TargetRef) -> Option<Located<'_>> {
    match t {
        TargetRef::Org(o) => Some((o, None, None)),
        TargetRef::Project(pid) => {
            let p = st.hot_project(pid)?;
            Some((p.org, Some((pid, p)), None))
        }
        TargetRef::Resource(rid) => {
            let r = st.resource(rid)?;
            let p = st.hot_project(r.project)?;
            Some((p.org, Some((r.project, p)), Some(r)))
        }
    }
}

/// Raises `ValidationError` for a project-scoped action on an org target.
#[inline]
pub fn validate_target(def: &ActionDef, target: &str, t: Option<TargetRef>) -> Result<()> {
    let org_shaped = match t {
        Some(TargetRef::Org(_)) => true,
        Some(_) => false,
        None => !target.contains('/'),
    };
    if org_shaped && matches!(def.need, Need::Project { .. }) {
        return Err(Error::invalid(
            "target",
            target,
            format!(
                "a project or resource: `{}` is a project-scoped action",
                def.name
            ),
        ));
    }
    Ok(())
}

/// Decides `def` for user `uid` on `t`. The caller has run [`validate_target`].
#[inline]
pub fn evaluate(st: &State, uid: u32, def: &ActionDef, t: TargetRef, at: &mut At<'_>) -> Verdict {
    match st.hot_by_id(uid) {
        Some(u) => evaluate_user(st, u, def, t, at),
        None => Verdict::denied(Why::UnknownUser),
    }
}

/// Decides `def` for user `u` on `t`: the one function every answer comes from.
#[inline]
pub fn evaluate_user(
    st: &State,
    u: &HotUser,
    def: &ActionDef,
    t: TargetRef,
    at: &mut At<'_>,
) -> Verdict {
    let uid = u.id;
    let Some((oid, project, resource)) = locate(st, t) else {
        return Verdict::denied(Why::UnknownTarget);
    };
    let m = match live_membership(u, oid, at) {
        Ok(m) => m,
        Err(why) => return Verdict::denied(why),
    };
    match def.need {
        Need::Org { min_role } => {
            let min_role = if def.is_invite() && st.org(oid).is_some_and(|o| o.members_can_invite) {
                OrgRole::Member
            } else {
                min_role
            };
            Verdict {
                allowed: m.role >= min_role,
                role: Some(Role::Org(m.role)),
                source: Some(if m.role.is_admin() {
                    Source::OrganizationAdmin
                } else {
                    Source::OrganizationMember
                }),
                why: Why::ByRole,
            }
        }
        Need::Project {
            min_role,
            owner_role,
        } => {
            let Some((pid, p)) = project else {
                return Verdict::denied(Why::UnknownTarget);
            };
            let Some((role, source)) = effective_role(m, p, pid, at) else {
                return Verdict {
                    allowed: false,
                    role: None,
                    source: None,
                    why: Why::ByRole,
                };
            };
            if role >= min_role {
                return Verdict {
                    allowed: true,
                    role: Some(Role::Project(role)),
                    source: Some(source),
                    why: Why::ByRole,
                };
            }
            if let (Some(owner_role), Some(r)) = (owner_role, resource) {
                if role >= owner_role && r.owner == uid && r.kind.as_str() == def.resource_part() {
                    return Verdict {
                        allowed: true,
                        role: Some(Role::Project(role)),
                        source: Some(Source::Creator),
                        why: Why::ByOwnership,
                    };
                }
            }
            Verdict {
                allowed: false,
                role: Some(Role::Project(role)),
                source: Some(source),
                why: Why::ByRole,
            }
        }
    }
}

/// `check`: the whole fast path from strings to a boolean.
#[inline]
pub fn check(st: &State, user: &str, action: &str, target: &str, at: &mut At<'_>) -> Result<bool> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let (Some(t), Some(u)) = (t, st.hot_user(user)) else {
        return Ok(false);
    };
    Ok(evaluate_user(st, u, def, t, at).allowed)
}

/// The effective role of `user` on `target`: the org role on an org, the project role on
/// a project or resource.
pub fn role(st: &State, user: &str, target: &str, at: &mut At<'_>) -> Option<Role> {
    let u = st.hot_user(user)?;
    let (oid, project, _) = locate(st, st.target(target)?)?;
    let m = live_membership(u, oid, at).ok()?;
    match project {
        None => Some(Role::Org(m.role)),
        Some((pid, p)) => effective_role(m, p, pid, at).map(|(r, _)| Role::Project(r)),
    }
}

/// Every action `user` may perform on `target`, in catalogue order.
pub fn permissions<'s>(st: &'s State, user: &str, target: &str, at: &mut At<'_>) -> Vec<&'s str> {
    let (Some(u), Some(t)) = (st.hot_user(user), st.target(target)) else {
        return Vec::new();
    };
    let on_org = matches!(t, TargetRef::Org(_));
    st.catalog
        .iter()
        .filter(|d| !(on_org && matches!(d.need, Need::Project { .. })))
        .filter(|d| evaluate_user(st, u, d, t, at).allowed)
        .map(|d| d.name.as_str())
        .collect()
}

/// The users allowed `action` on `target`, emails sorted.
pub fn who_can<'s>(
    st: &'s State,
    action: &str,
    target: &str,
    at: &mut At<'_>,
) -> Result<Vec<&'s str>> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let Some((t, (oid, _, _))) = t.and_then(|t| locate(st, t).map(|l| (t, l))) else {
        return Ok(Vec::new());
    };
    let Some(org) = st.org(oid) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<&str> = org
        .members
        .iter()
        .filter(|&&uid| evaluate(st, uid, def, t, at).allowed)
        .filter_map(|&uid| st.user(uid).map(|u| &*u.email))
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The projects where `user` may perform `action`, ids sorted.
pub fn accessible<'s>(
    st: &'s State,
    user: &str,
    action: &str,
    org: Option<&str>,
    at: &mut At<'_>,
) -> Result<Vec<&'s str>> {
    let def = st.catalog.require(action)?;
    let Some(uid) = st.user_id(user) else {
        return Ok(Vec::new());
    };
    let only = match org {
        Some(o) => match st.org_id(o) {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let mut out = Vec::new();
    if let Some(u) = st.user(uid) {
        for m in &u.memberships {
            if only.is_some_and(|o| o != m.org) {
                continue;
            }
            for &pid in st.org(m.org).map(|o| &o.projects).into_iter().flatten() {
                if evaluate(st, uid, def, TargetRef::Project(pid), at).allowed {
                    if let Some(p) = st.project(pid) {
                        out.push(&*p.id);
                    }
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// One row of the access matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// Email.
    pub user: String,
    /// Org slug.
    pub org: String,
    /// Org role.
    pub org_role: OrgRole,
    /// Project id, `None` for a member who can access no project.
    pub project: Option<String>,
    /// Effective project role.
    pub project_role: Option<ProjectRole>,
    /// Source of that role.
    pub source: Option<Source>,
    /// Expiry of that source.
    pub expires: Option<Instant>,
    /// Reason of that source.
    pub reason: Option<String>,
}

/// The access matrix: one row per unexpired member and project they can access, plus one
/// row with no project for a member who can access none. Sorted by org, user, project.
pub fn access_matrix(st: &State, org: Option<&str>, at: &mut At<'_>) -> Vec<MatrixRow> {
    let mut rows = Vec::new();
    let mut orgs: Vec<(u32, &crate::model::OrgRec)> = st
        .orgs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.as_ref()
                .map(|o| (u32::try_from(i).unwrap_or(u32::MAX), o))
        })
        .filter(|(_, o)| org.is_none_or(|s| &*o.slug == s))
        .collect();
    orgs.sort_by(|a, b| a.1.slug.cmp(&b.1.slug));
    for (oid, o) in orgs {
        let mut users: Vec<(u32, &str)> = o
            .members
            .iter()
            .filter_map(|&u| st.user(u).map(|r| (u, &*r.email)))
            .collect();
        users.sort_by(|a, b| a.1.cmp(b.1));
        let mut projects: Vec<(u32, &crate::model::ProjectRec, &HotProject)> = o
            .projects
            .iter()
            .filter_map(|&p| Some((p, st.project(p)?, st.hot_project(p)?)))
            .collect();
        projects.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        for (uid, email) in users {
            let Some(hot) = st.hot_by_id(uid) else {
                continue;
            };
            let Ok(hm) = live_membership(hot, oid, at) else {
                continue;
            };
            // The records, for the reasons and expiries the check path does not keep.
            let Some(m) = st.user(uid).and_then(|u| u.membership(oid)) else {
                continue;
            };
            let before = rows.len();
            for &(pid, p, hp) in &projects {
                let Some((role, source)) = effective_role(hm, hp, pid, at) else {
                    continue;
                };
                let (expires, reason) = match source {
                    Source::ExplicitMember => m
                        .grant(pid)
                        .map_or((None, None), |g| (g.expires, g.reason().map(str::to_owned))),
                    Source::OrgWideGrant => m
                        .org_wide
                        .as_ref()
                        .map_or((None, None), |g| (g.expires, g.reason().map(str::to_owned))),
                    _ => (m.expires, m.reason.clone()),
                };
                rows.push(MatrixRow {
                    user: email.to_owned(),
                    org: o.slug.to_string(),
                    org_role: m.role,
                    project: Some(p.id.to_string()),
                    project_role: Some(role),
                    source: Some(source),
                    expires,
                    reason,
                });
            }
            if rows.len() == before {
                rows.push(MatrixRow {
                    user: email.to_owned(),
                    org: o.slug.to_string(),
                    org_role: m.role,
                    project: None,
                    project_role: None,
                    source: None,
                    expires: m.expires,
                    reason: m.reason.clone(),
                });
            }
        }
    }
    rows
}

/// `explain`: the verdict of `check`, with a sentence.
pub fn explain(
    st: &State,
    user: &str,
    action: &str,
    target: &str,
    at: &mut At<'_>,
) -> Result<Decision> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let uid = st.user_id(user);
    let verdict = match (uid, t) {
        (None, _) => Verdict::denied(Why::UnknownUser),
        (_, None) => Verdict::denied(Why::UnknownTarget),
        (Some(uid), Some(t)) => evaluate(st, uid, def, t, at),
    };
    let reason = sentence(st, user, def, target, t, &verdict);
    Ok(Decision {
        allowed: verdict.allowed,
        user: uid
            .and_then(|u| st.user(u))
            .map_or_else(|| user.to_owned(), |u| u.email.to_string()),
        action: action.to_owned(),
        target: target.to_owned(),
        role: verdict.role,
        source: verdict.source,
        reason,
    })
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn need_words(def: &ActionDef) -> String {
    match def.need {
        Need::Org { min_role } => format!("`{}` needs org role {}", def.name, min_role.as_str()),
        Need::Project {
            min_role,
            owner_role: Some(o),
        } => format!(
            "`{}` needs project role {} ({} on a {} they own)",
            def.name,
            min_role.as_str(),
            o.as_str(),
            def.resource_part()
        ),
        Need::Project { min_role, .. } => {
            format!("`{}` needs project role {}", def.name, min_role.as_str())
        }
    }
}

fn sentence(
    st: &State,
    user: &str,
    def: &ActionDef,
    target: &str,
    t: Option<TargetRef>,
    v: &Verdict,
) -> String {
    let org = t
        .and_then(|t| locate(st, t))
        .and_then(|(o, _, _)| st.org(o))
        .map_or_else(String::new, |o| o.slug.to_string());
    let user = crate::ids::email_key(user);
    match v.why {
        Why::UnknownUser => format!(
            "{user} is not a known user, so `{}` is denied on {target}",
            def.name
        ),
        Why::UnknownTarget => format!(
            "{target} is not a known organization, project or resource, so `{}` is denied",
            def.name
        ),
        Why::NotMember => format!(
            "{user} is not a member of {org}, so `{}` is denied on {target}",
            def.name
        ),
        Why::Expired(e) => format!(
            "{user}'s membership of {org} expired at {}, so `{}` is denied on {target}",
            e.to_iso(),
            def.name
        ),
        Why::ByOwnership => format!(
            "{user} is {} {} on {} and owns {target}; {}",
            article(v.role.map_or("", Role::as_str)),
            v.role.map_or("", Role::as_str),
            project_of(target),
            need_words(def)
        ),
        Why::ByRole => {
            let verdict = if v.allowed { "allowed" } else { "denied" };
            let held = match (v.role, v.source) {
                (Some(Role::Org(r)), _) => format!("{user} is an org {} of {org}", r.as_str()),
                (Some(Role::Project(r)), Some(Source::OrganizationAdmin)) => format!(
                    "{user} is an org owner/admin of {org}, which implies project {} on {}",
                    r.as_str(),
                    project_of(target)
                ),
                (Some(Role::Project(r)), Some(s)) => format!(
                    "{user} is {} {} on {} ({})",
                    article(r.as_str()),
                    r.as_str(),
                    project_of(target),
                    s.phrase()
                ),
                _ => {
                    let restricted = t
                        .and_then(|t| locate(st, t))
                        .and_then(|(_, p, _)| p)
                        .is_some_and(|(_, p)| p.restricted);
                    let note = if restricted {
                        " (it is restricted: grants on all projects do not reach it)"
                    } else {
                        ""
                    };
                    format!(
                        "{user} is a member of {org} but has no role on {}{note}",
                        project_of(target)
                    )
                }
            };
            format!("{held}; {}: {verdict}", need_words(def))
        }
    }
}

fn project_of(target: &str) -> &str {
    let mut idx = 0;
    for (n, (i, _)) in target.match_indices('/').enumerate() {
        if n == 1 {
            idx = i;
            break;
        }
    }
    if idx == 0 {
        target
    } else {
        target.get(..idx).unwrap_or(target)
    }
}
