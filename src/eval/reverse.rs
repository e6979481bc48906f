//! The reverse lookups: every permission of a user, who may do an action, which projects
//! a user reaches, and the access matrix of an org.

use super::evaluate::{
    effective_role, evaluate_user, live_membership, locate, standing, standing_in, standing_of,
    validate_target, Located, MemberView,
};
use crate::decision::Source;
use crate::error::Result;
use crate::model::actions::{ActionDef, Need};
use crate::model::{HotGrant, HotProject, HotUser, OrgRec};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::hot::Ranks;
use crate::state::who::{HolderRow, MemberRow, OrgIndex};
use crate::state::{State, TargetRef};
use crate::time::{At, Instant};

/// Every action `user` may perform on `target`, in catalogue order.
pub fn permissions<'s>(st: &'s State, user: &str, target: &str, at: &mut At<'_>) -> Vec<&'s str> {
    let (Some(u), Some(t)) = (st.hot_user(user), st.target(target)) else {
        return Vec::new();
    };
    let on_org = matches!(t, TargetRef::Org(_));
    // One standing for the whole catalogue: the records are read once.
    let standing = standing(st, u, t, !on_org, at);
    st.catalog
        .iter()
        .filter(|d| !(on_org && matches!(d.need, Need::Project { .. })))
        .filter(|d| standing.verdict(st, d).allowed)
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
    Ok(who_can_ids(st, action, target, at)?
        .into_iter()
        .filter_map(|uid| st.user(uid).map(|u| &*u.email))
        .collect())
}

/// The ids of the users allowed `action` on `target`, in email order.
pub fn who_can_ids(st: &State, action: &str, target: &str, at: &mut At<'_>) -> Result<Vec<u32>> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let Some(located) = t.and_then(|t| locate(st, t)) else {
        return Ok(Vec::new());
    };
    let Some(org) = st.org(located.0) else {
        return Ok(Vec::new());
    };
    let project_action = matches!(def.need, Need::Project { .. });
    let mut allowed: Vec<u32> = match st.org_index(located.0) {
        Some(ix) => decide_rows(st, ix, def, located, project_action, at),
        None => decide_views(st, org, def, located, project_action, at),
    };
    // Email order through the index's ranks, recomputed after a user comes or goes
    // (a sort of every user), so a small answer from a graph whose ranks are stale sorts
    // its own emails instead.
    let ranks = match st.user_ids.ranks_if_fresh() {
        Some(r) => Some(r),
        None if allowed.len() * 4 >= st.users.len() => Some(st.user_ids.ranks(&st.users)),
        None => None,
    };
    if let Some(sorted) = ranks.and_then(|r| in_rank_order(r, &allowed)) {
        allowed = sorted;
    } else {
        let email = |uid: &u32| st.user(*uid).map(|u| &*u.email);
        allowed.sort_unstable_by(|a, b| email(a).cmp(&email(b)));
    }
    Ok(allowed)
}

/// The members of the org allowed `def` on the located target, by user id, from the
/// org's `who_can` index: its member rows merged with the target project's grant rows.
fn decide_rows(
    st: &State,
    ix: &OrgIndex,
    def: &ActionDef,
    located: Located<'_>,
    project_action: bool,
    at: &mut At<'_>,
) -> Vec<u32> {
    let holders = match located.1 {
        Some((pid, _)) if project_action => ix.holders_of(pid),
        _ => &[],
    };
    let mut holders = holders.iter().peekable();
    let mut allowed = Vec::with_capacity(ix.members.len());
    for row in &ix.members {
        while holders.next_if(|h| h.uid < row.uid).is_some() {}
        let grant = holders.next_if(|h| h.uid == row.uid).map(HolderRow::grant);
        let m = RowMembership { row, grant };
        if standing_of(row.uid, Some(m), Some(located), project_action, at)
            .verdict(st, def)
            .allowed
        {
            allowed.push(row.uid);
        }
    }
    allowed
}

/// A member row with its grant on the project asked about: what [`decide_rows`] hands
/// the verdict in place of a view's membership.
#[derive(Clone, Copy)]
struct RowMembership<'a> {
    row: &'a MemberRow,
    grant: Option<HotGrant>,
}

impl MemberView for RowMembership<'_> {
    #[inline]
    fn role(&self) -> OrgRole {
        self.row.role
    }
    #[inline]
    fn expires(&self) -> i64 {
        self.row.expires
    }
    #[inline]
    fn grant(&self, pid: u32) -> Option<HotGrant> {
        self.grant.filter(|g| g.project == pid)
    }
    #[inline]
    fn org_wide(&self) -> Option<HotGrant> {
        self.row.ow_role.map(|role| HotGrant {
            project: u32::MAX,
            role,
            expires: self.row.ow_expires,
        })
    }
}

/// How many members ahead [`decide_views`] reads a view before deciding it.
const AHEAD: usize = 8;

/// [`decide_rows`] from the members' views, for a state without an index slot.
fn decide_views(
    st: &State,
    org: &OrgRec,
    def: &ActionDef,
    located: Located<'_>,
    project_action: bool,
    at: &mut At<'_>,
) -> Vec<u32> {
    // Two passes: the members' views first (independent loads the processor overlaps),
    // then each decided, reading the view a few places ahead so that its first cache
    // line is on its way while this one is decided.
    let views: Vec<HotUser<'_>> = org
        .members
        .iter()
        .filter_map(|&uid| st.hot_by_id(uid))
        .collect();
    let mut allowed: Vec<u32> = Vec::with_capacity(views.len());
    for (k, &u) in views.iter().enumerate() {
        std::hint::black_box(views.get(k + AHEAD).map(|v| v.id()));
        if standing_in(u, Some(located), project_action, at)
            .verdict(st, def)
            .allowed
        {
            allowed.push(u.id());
        }
    }
    allowed
}

/// `ids` in email order (`None` if one of them has no rank). An answer of more than one
/// user in 256 marks their ranks in a bitmap of every user and reads it back in order
/// (a pass over `users / 64` words instead of a sort); a smaller one sorts by rank.
fn in_rank_order(ranks: &Ranks, ids: &[u32]) -> Option<Vec<u32>> {
    let rank = |uid: u32| ranks.rank.get(uid as usize).copied();
    if ids.len() * 256 < ranks.rank.len() {
        let mut keyed: Vec<(u32, u32)> = ids
            .iter()
            .map(|&u| Some((rank(u)?, u)))
            .collect::<Option<_>>()?;
        keyed.sort_unstable();
        return Some(keyed.into_iter().map(|(_, u)| u).collect());
    }
    let mut bits = vec![0u64; ranks.rank.len().div_ceil(64)];
    for &uid in ids {
        let r = rank(uid)? as usize;
        *bits.get_mut(r / 64)? |= 1 << (r % 64);
    }
    let mut out = Vec::with_capacity(ids.len());
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            let r = w * 64 + word.trailing_zeros() as usize;
            out.push(*ranks.order.get(r)?);
            word &= word - 1;
        }
    }
    Some(out)
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
    let Some(hot) = st.hot_user(user) else {
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
    for m in hot.memberships() {
        if only.is_some_and(|o| o != m.org()) {
            continue;
        }
        for &pid in st.org(m.org()).map(|o| &o.projects).into_iter().flatten() {
            if evaluate_user(st, hot, def, TargetRef::Project(pid), at).allowed {
                if let Some(p) = st.project(pid) {
                    out.push(&*p.id);
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
                    Source::ExplicitMember => m.grant(pid).map_or((None, None), |g| {
                        (g.expires(), g.reason().map(str::to_owned))
                    }),
                    Source::OrgWideGrant => m.org_wide.as_ref().map_or((None, None), |g| {
                        (g.expires(), g.reason().map(str::to_owned))
                    }),
                    _ => (m.expires(), m.reason.as_deref().map(str::to_owned)),
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
                    expires: m.expires(),
                    reason: m.reason.as_deref().map(str::to_owned),
                });
            }
        }
    }
    rows
}
