//! One verdict for every question: the effective role (SPEC 1.5) and [`evaluate`], which
//! `check`, `explain`, the reverse lookups and the matrix all read, so they cannot
//! disagree. It allocates nothing and reads the clock only when an expiry is compared.

use crate::decision::Source;
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
    pub(super) const fn denied(why: Why) -> Self {
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
pub(super) fn live_membership<'s>(
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
pub(super) type Located<'s> = (u32, Option<(u32, &'s HotProject)>, Option<&'s ResourceRec>);

/// The org a target belongs to, and its project and resource.
#[inline]
pub(super) fn locate(st: &State, t: TargetRef) -> Option<Located<'_>> {
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
