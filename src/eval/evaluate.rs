//! One verdict for every question: the effective role (SPEC 1.5) and [`evaluate`], which
//! `check`, `explain`, the reverse lookups and the matrix all read, so they cannot
//! disagree. It allocates nothing and reads the clock only when an expiry is compared.

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function: measured under callgrind, 935 → 784 instructions per `check` from Python (benchmarks/count_instructions.py)"
)]

use std::sync::LazyLock;

use crate::decision::Source;
use crate::error::{Error, Result};
use crate::model::actions::{ActionDef, Catalog, Need};
use crate::model::{HotGrant, HotMembership, HotProject, HotUser, ResourceRec};
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
#[inline(always)]
pub(super) fn live_membership<'s>(
    u: HotUser<'s>,
    oid: u32,
    at: &mut At<'_>,
) -> std::result::Result<HotMembership<'s>, Why> {
    let m = u.membership(oid).ok_or(Why::NotMember)?;
    if at.alive_raw(m.expires) {
        Ok(m)
    } else {
        Err(Why::Expired(Instant(m.expires)))
    }
}

/// What the verdicts read of one membership: the check-path view's [`HotMembership`], or
/// a row of the per-org index `who_can` reads (`state/who.rs`).
pub trait MemberView: Copy {
    /// Org role.
    fn role(&self) -> OrgRole;
    /// Expiry in microseconds, [`crate::model::hot::NEVER`] for none.
    fn expires(&self) -> i64;
    /// The grant on project `pid`.
    fn grant(&self, pid: u32) -> Option<HotGrant>;
    /// The `org/*` grant.
    fn org_wide(&self) -> Option<HotGrant>;
}

impl MemberView for HotMembership<'_> {
    #[inline(always)]
    fn role(&self) -> OrgRole {
        HotMembership::role(self)
    }
    #[inline(always)]
    fn expires(&self) -> i64 {
        self.expires
    }
    #[inline(always)]
    fn grant(&self, pid: u32) -> Option<HotGrant> {
        HotMembership::grant(self, pid)
    }
    #[inline(always)]
    fn org_wide(&self) -> Option<HotGrant> {
        HotMembership::org_wide(self)
    }
}

/// SPEC 1.5: the effective project role of an (unexpired) member on project `pid`, and
/// its source. Ties go to the first source in the order org admin, explicit, org-wide,
/// default.
#[inline(always)]
pub fn effective_role<M: MemberView>(
    m: M,
    p: &HotProject,
    pid: u32,
    at: &mut At<'_>,
) -> Option<(ProjectRole, Source)> {
    if m.role().is_admin() {
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
        if let Some(g) = m.org_wide() {
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
#[inline(always)]
pub fn evaluate_user(
    st: &State,
    u: HotUser<'_>,
    def: &ActionDef,
    t: TargetRef,
    at: &mut At<'_>,
) -> Verdict {
    let project_action = matches!(def.need, Need::Project { .. });
    standing(st, u, t, project_action, at).verdict(st, def)
}

/// What the verdicts on one target need to know about one user, whatever the action:
/// where the target sits, the user's live membership in its org and (for project-scoped
/// actions) their effective project role. [`Standing::verdict`] decides each action
/// from it, so `permissions` reads the records once for the whole catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'s> {
    uid: u32,
    /// The org, and the user's role there (or why they have no live membership).
    member: std::result::Result<(u32, OrgRole), Why>,
    /// The project (absent for an org target).
    project: bool,
    resource: Option<&'s ResourceRec>,
    /// The effective project role and its source.
    role: Option<(ProjectRole, Source)>,
}

/// The [`Standing`] of `u` on `t`; the effective role is found when `project_role`.
#[inline(always)]
pub fn standing<'s>(
    st: &'s State,
    u: HotUser<'s>,
    t: TargetRef,
    project_role: bool,
    at: &mut At<'_>,
) -> Standing<'s> {
    standing_in(u, locate(st, t), project_role, at)
}

/// [`standing`] on a target already located (`None`: unknown), for the loops that ask
/// about one target for many users.
#[inline(always)]
pub(super) fn standing_in<'s>(
    u: HotUser<'s>,
    located: Option<Located<'s>>,
    project_role: bool,
    at: &mut At<'_>,
) -> Standing<'s> {
    match located {
        Some(l) => standing_of(u.id(), u.membership(l.0), Some(l), project_role, at),
        None => standing_of::<HotMembership<'_>>(u.id(), None, None, project_role, at),
    }
}

/// [`standing`] of user `uid`, whose membership in the located target's org (expired or
/// not) is `m`.
#[inline(always)]
pub(super) fn standing_of<'s, M: MemberView>(
    uid: u32,
    m: Option<M>,
    located: Option<Located<'s>>,
    project_role: bool,
    at: &mut At<'_>,
) -> Standing<'s> {
    let mut s = Standing {
        uid,
        member: Err(Why::UnknownTarget),
        project: false,
        resource: None,
        role: None,
    };
    let Some((oid, project, resource)) = located else {
        return s;
    };
    s.project = project.is_some();
    s.resource = resource;
    let m = match m {
        None => Err(Why::NotMember),
        Some(m) if at.alive_raw(m.expires()) => Ok(m),
        Some(m) => Err(Why::Expired(Instant(m.expires()))),
    };
    s.member = m.map(|m| (oid, m.role()));
    if let (true, Ok(m), Some((pid, p))) = (project_role, m, project) {
        s.role = effective_role(m, p, pid, at);
    }
    s
}

impl Standing<'_> {
    /// The verdict on `def` (a project-scoped `def` needs a standing made with its
    /// effective role).
    #[inline(always)]
    pub fn verdict(&self, st: &State, def: &ActionDef) -> Verdict {
        let (oid, org_role) = match self.member {
            Ok(m) => m,
            Err(why) => return Verdict::denied(why),
        };
        match def.need {
            Need::Org { min_role } => {
                let min_role =
                    if def.is_invite() && st.org(oid).is_some_and(|o| o.members_can_invite) {
                        OrgRole::Member
                    } else {
                        min_role
                    };
                Verdict {
                    allowed: org_role >= min_role,
                    role: Some(Role::Org(org_role)),
                    source: Some(if org_role.is_admin() {
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
                if !self.project {
                    return Verdict::denied(Why::UnknownTarget);
                }
                let Some((role, source)) = self.role else {
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
                if let (Some(owner_role), Some(r)) = (owner_role, self.resource) {
                    if role >= owner_role
                        && r.owner == self.uid
                        && r.kind.as_str() == def.resource_part()
                    {
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
}

/// `check`: the whole fast path from strings to a boolean.
#[inline]
pub fn check(st: &State, user: &str, action: &str, target: &str, at: &mut At<'_>) -> Result<bool> {
    // The user's slot is rarely in the cache: start fetching it before the action and
    // the target are looked up, so its wait overlaps theirs.
    let hash = st.user_ids.hash_of(user);
    st.user_ids.prefetch(hash);
    let def = action_def(st, action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let Some(t) = t else {
        return Ok(false);
    };
    match st.hot_user_hashed(user, hash) {
        Some(u) => Ok(evaluate_user(st, u, def, t, at).allowed),
        None => Ok(false),
    }
}

/// The definition of `action`: a built-in one from [`builtin_action`], else the
/// catalogue's (raising `UnknownActionError`).
#[inline]
pub fn action_def<'s>(st: &'s State, action: &str) -> Result<&'s ActionDef> {
    match builtin_action(action) {
        Some(def) => Ok(def),
        None => st.catalog.require(action),
    }
}

/// The built-in action called `name`. Every catalogue starts with the built-ins and none
/// can be redefined, so a built-in name means the same definition in every graph; this
/// table finds it with two multiplications and three word compares, where the
/// catalogue's map hashes the whole name and compares it with `memcmp`.
#[inline]
pub fn builtin_action(name: &str) -> Option<&'static ActionDef> {
    let b = &*BUILTINS;
    let words = name_words(name.as_bytes())?;
    let i = *b.slots.get(b.slot(&words, name.len()))?;
    let (key, len, def) = b.entries.get(usize::from(i).checked_sub(1)?)?;
    (*key == words && *len == name.len()).then_some(def)
}

/// Built-in names are 8 to 24 bytes long: three overlapping words hold all of a name.
const NAME_MIN: usize = 8;
const NAME_MAX: usize = 24;

#[inline]
fn name_words(b: &[u8]) -> Option<[u64; 3]> {
    if !(NAME_MIN..=NAME_MAX).contains(&b.len()) {
        return None;
    }
    let word = |at: usize| {
        b.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    Some([word(0)?, word(8.min(b.len() - 8))?, word(b.len() - 8)?])
}

/// The built-in actions in a table of 256 one-byte slots (entry index + 1), collision-free
/// for the seed found when it is built.
struct Builtins {
    seed: u64,
    slots: [u8; 256],
    entries: Vec<([u64; 3], usize, ActionDef)>,
}

static BUILTINS: LazyLock<Builtins> = LazyLock::new(Builtins::new);

impl Builtins {
    fn new() -> Self {
        let entries: Vec<([u64; 3], usize, ActionDef)> = Catalog::default()
            .iter()
            .filter(|d| d.builtin)
            .filter_map(|d| Some((name_words(d.name.as_bytes())?, d.name.len(), d.clone())))
            .collect();
        // Deterministic: the first seed under which no two names share a slot (a few
        // dozen tries for 40 names in 256 slots).
        let mut b = Builtins {
            seed: 0,
            slots: [0; 256],
            entries,
        };
        'seeds: for seed in 0..u64::from(u32::MAX) {
            b.seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            b.slots = [0; 256];
            for (i, (words, len, _)) in b.entries.iter().enumerate() {
                let slot = b.slot(words, *len);
                match b.slots.get_mut(slot) {
                    Some(s) if *s == 0 => *s = u8::try_from(i + 1).unwrap_or(0),
                    _ => continue 'seeds,
                }
            }
            break;
        }
        b
    }

    #[inline]
    fn slot(&self, words: &[u64; 3], len: usize) -> usize {
        let [a, m, z] = *words;
        let h = (a ^ self.seed).wrapping_mul(0x2545_f491_4f6c_dd1d)
            ^ (m.rotate_left(21) ^ z ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        usize::from(u8::try_from(h >> 56).unwrap_or(0))
    }
}

/// [`check`] of each query in turn, answers appended to `out`; stops at the first
/// error (an unknown action, an org given to a project-scoped action).
///
/// A user's view is in a cache line that is rarely in the cache, reached through the
/// index's slot, which often is not either. So while deciding query `i`, the slot of
/// query `i + SLOT_AHEAD`'s user is prefetched (its hash kept for the lookup), and the
/// view its slot points to is prefetched for query `i + VIEW_AHEAD`: by the time a query
/// is decided its user's lines are on their way or there. Prefetches change no result.
pub fn check_batch(
    st: &State,
    queries: &[(&str, &str, &str)],
    at: &mut At<'_>,
    out: &mut Vec<bool>,
) -> Result<()> {
    const SLOT_AHEAD: usize = 16;
    const VIEW_AHEAD: usize = 8;
    const RING: usize = 32; // a power of two above SLOT_AHEAD
    let index = &st.user_ids;
    let mut hashes = [0u32; RING];
    let hash_ahead = |i: usize, hashes: &mut [u32; RING]| {
        if let Some(&(user, _, _)) = queries.get(i) {
            let h = index.hash_of(user);
            if let Some(slot) = hashes.get_mut(i & (RING - 1)) {
                *slot = h;
            }
            index.prefetch(h);
        }
    };
    for i in 0..SLOT_AHEAD {
        hash_ahead(i, &mut hashes);
    }
    // The last action's text and definition: a batch asks a few actions, each one `str`
    // object (so one address) for all its queries.
    let mut last: Option<(&str, &ActionDef)> = None;
    for (i, &(user, action, target)) in queries.iter().enumerate() {
        hash_ahead(i + SLOT_AHEAD, &mut hashes);
        if i + VIEW_AHEAD < queries.len() {
            if let Some(&h) = hashes.get((i + VIEW_AHEAD) & (RING - 1)) {
                index.prefetch_view(h);
            }
        }
        let hash = hashes.get(i & (RING - 1)).copied().unwrap_or(0);
        let u = st.hot_user_hashed(user, hash);
        let def = match last {
            Some((a, def)) if std::ptr::eq(a, action) => def,
            _ => {
                let def = action_def(st, action)?;
                last = Some((action, def));
                def
            }
        };
        out.push(check_resolved(st, u, def, target, at)?);
    }
    Ok(())
}

/// [`check`] with the action and the user already looked up (`None`: unknown user;
/// `def` may come from another catalogue holding the same definition: a built-in action
/// is the same in every graph).
#[inline]
fn check_resolved(
    st: &State,
    user: Option<HotUser<'_>>,
    def: &ActionDef,
    target: &str,
    at: &mut At<'_>,
) -> Result<bool> {
    let t = st.target(target);
    validate_target(def, target, t)?;
    match (t, user) {
        (Some(t), Some(u)) => Ok(evaluate_user(st, u, def, t, at).allowed),
        _ => Ok(false),
    }
}

/// The effective role of `user` on `target`: the org role on an org, the project role on
/// a project or resource.
pub fn role(st: &State, user: &str, target: &str, at: &mut At<'_>) -> Option<Role> {
    let u = st.hot_user(user)?;
    let (oid, project, _) = locate(st, st.target(target)?)?;
    let m = live_membership(u, oid, at).ok()?;
    match project {
        None => Some(Role::Org(m.role())),
        Some((pid, p)) => effective_role(m, p, pid, at).map(|(r, _)| Role::Project(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_found_and_nothing_else() {
        let catalog = Catalog::default();
        let builtins: Vec<&ActionDef> = catalog.iter().filter(|d| d.builtin).collect();
        assert_eq!(BUILTINS.entries.len(), builtins.len());
        for def in &builtins {
            assert_eq!(builtin_action(&def.name), Some(*def), "{}", def.name);
            // Same length, one byte different anywhere: not found.
            for i in 0..def.name.len() {
                let mut b = def.name.clone().into_bytes();
                if let Some(c) = b.get_mut(i) {
                    *c = if *c == b'x' { b'y' } else { b'x' };
                }
                let other = String::from_utf8(b).unwrap_or_default();
                assert!(builtin_action(&other).is_none(), "{other}");
            }
            assert!(builtin_action(&format!("{}_", def.name)).is_none());
            assert!(builtin_action(def.name.get(1..).unwrap_or_default()).is_none());
        }
        for other in ["", "org", "project:viewer", "custom:action", "PROJECT:VIEW"] {
            assert!(builtin_action(other).is_none(), "{other}");
        }
    }
}
