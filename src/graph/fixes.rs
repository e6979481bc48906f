//! How to fix a denial (`Decision.fixes`): the smallest changes that would allow a
//! denied check, least privilege first, each with who may make it under SPEC 2.3.
//!
//! It lives on this floor because it needs both the evaluator (`eval/`) and the
//! authority rules ([`super::rules`]); `Decision` only carries the result as plain values.
//!
//! Correct by construction:
//! - Each candidate change is judged by the evaluator itself, on the user's check-path
//!   view with the change made in a copy, at the instant the check was asked about.
//! - Who may make it is decided by the same rule functions the mutations call, for every
//!   member of the org, at the graph's clock (when the change would be made).
//!
//! The candidates, from least to most privilege:
//! - a live member: a project grant (viewer, member, admin) on the target's project, then
//!   a higher org role; renewing the membership first when it has expired (now or at the
//!   instant asked about), or when the new role is owner and the membership expires;
//! - someone who is not a member: adding them (member, with a project grant when one is
//!   needed; then admin, owner).
//!
//! A candidate is kept when it allows the check, someone may make all of it, and no
//! candidate kept before it (less privilege) may be made by everyone who may make it: so
//! `org/*` grants and org roles, which give more than a grant on the one project, are only
//! suggested when they are the smallest change that helps. Removing `restricted` and
//! raising a project's default role are never suggested: they change everyone's access.

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::rules::{
    authorize_grant_to, authorize_invite, authorize_member_update, authorize_role_change,
    membership,
};
use crate::decision::{Decision, Fix, FixKind};
use crate::eval::{self, Principal};
use crate::ids::{self, GrantTarget};
use crate::model::actions::{ActionDef, Need};
use crate::model::{Grant, HotUser, HotUserBuf, Membership};
use crate::roles::{OrgRole, ProjectRole, Role};
use crate::state::{State, TargetRef};
use crate::time::{At, Clock, Instant};

/// One elementary change a fix is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    AddMember(OrgRole),
    Renew,
    Grant(ProjectRole),
    SetRole(OrgRole),
}

/// A candidate fix: a step that must come first (adding or renewing), then the main one.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    first: Option<Step>,
    then: Option<Step>,
}

impl Candidate {
    fn steps(self) -> impl Iterator<Item = Step> {
        self.first.into_iter().chain(self.then)
    }
}

/// What a denied check is about, resolved once.
struct Ask<'s> {
    st: &'s State,
    def: &'s ActionDef,
    t: TargetRef,
    email: String,
    hot: Option<HotUser<'s>>,
    oid: u32,
    org: String,
    project: Option<String>,
    current: Option<&'s Membership>,
    /// The expiry of the user's grant on the project, when it has one and the grant is
    /// live both now and at the instant asked about: a fix that replaces it keeps it.
    kept_expiry: Option<Instant>,
    /// Who may make each step, as worked out so far.
    by_step: RefCell<Vec<(Step, BTreeSet<String>)>>,
    /// The members allowed each action the rules start from, as worked out so far.
    allowed: RefCell<Vec<(&'static str, Vec<u32>)>>,
}

/// Fills in `d.fixes` (and appends the first fix to `d.reason`) for a denied check of
/// `user`. `at` is the instant the check was asked about; the changes would be made at
/// the clock's now.
pub(super) fn attach(st: &State, d: &mut Decision, user: &str, at: Option<Instant>, clock: &Clock) {
    if d.allowed {
        return;
    }
    let fixes = suggest(st, user, &d.action, &d.target, at, clock);
    finish(d, fixes);
}

/// Like [`attach`], for a check made with an API key: when the key itself refuses, no
/// change of access helps; otherwise the fixes are those of its user.
pub(super) fn attach_key(
    st: &State,
    d: &mut Decision,
    p: &Principal,
    at: Option<Instant>,
    clock: &Clock,
) {
    if d.allowed {
        return;
    }
    let through = st.catalog.get(&d.action).and_then(|def| {
        eval::principal::lets_through(st, p, def, &d.target, &mut At::new(at, clock))
    });
    let fixes = match through.and_then(|uid| st.user(uid)) {
        Some(u) => suggest(st, &u.email, &d.action, &d.target, at, clock),
        None => vec![impossible(
            &d.user,
            &format!(
                "no change of access widens an API key: {} refuses `{}` on {} by itself; a personal key whose scopes and projects cover it would be needed",
                p.describe(),
                d.action,
                d.target
            ),
        )],
    };
    finish(d, fixes);
}

fn finish(d: &mut Decision, fixes: Vec<Fix>) {
    if let Some(first) = fixes.first() {
        d.reason = format!("{} — {}", d.reason, first.reason);
    }
    d.fixes = fixes;
}

/// A fix that cannot be made. `user` may be anything a caller passed (an API secret by
/// mistake), so it and the reason are masked as the decision's own text is.
fn impossible(user: &str, reason: &str) -> Fix {
    use crate::text::mask_secrets;
    Fix {
        kind: FixKind::Impossible,
        user: mask_secrets(user).into_owned(),
        target: String::new(),
        role: None,
        expires: None,
        requires: Vec::new(),
        by: Vec::new(),
        reason: mask_secrets(reason).into_owned(),
    }
}

/// The fixes of a denied check (never empty).
fn suggest(
    st: &State,
    user: &str,
    action: &str,
    target: &str,
    at: Option<Instant>,
    clock: &Clock,
) -> Vec<Fix> {
    let who = ids::email_key(user).into_owned();
    let Some(def) = st.catalog.get(action) else {
        return vec![impossible(&who, &format!("`{action}` is not an action"))];
    };
    let Some((t, oid, project)) = locate(st, target) else {
        return vec![impossible(
            &who,
            &format!("no change of access can allow it: {target} is not a known organization, project or resource"),
        )];
    };
    let hot = st.hot_user(user);
    let email = match hot.and_then(|h| st.user(h.id())) {
        Some(u) => u.email.to_string(),
        None => match ids::email("user", user) {
            Ok(e) => e,
            Err(_) => {
                return vec![impossible(
                    &who,
                    &format!("no change of access can allow it: `{user}` is not a valid email"),
                )]
            }
        },
    };
    let Some(org) = st.org(oid).map(|o| o.slug.to_string()) else {
        return vec![impossible(
            &who,
            &format!("{target} belongs to no organization"),
        )];
    };
    let current = membership(st, &email, oid);
    let now = clock.now();
    let mut when = At::new(at, clock);
    let kept_expiry = current
        .zip(project.as_deref().and_then(|p| st.project_id(p)))
        .and_then(|(m, pid)| m.grant(pid))
        .and_then(Grant::expires)
        .filter(|e| now < *e && when.alive(Some(*e)));
    let ask = Ask {
        st,
        def,
        t,
        email,
        hot,
        oid,
        org,
        project,
        current,
        kept_expiry,
        by_step: RefCell::new(Vec::new()),
        allowed: RefCell::new(Vec::new()),
    };
    let mut passing: Vec<Candidate> = ask
        .candidates(&mut At::new(Some(now), clock), &mut when)
        .into_iter()
        .filter(|c| ask.allows(*c, &mut when))
        .collect();
    passing.sort_by_key(|c| ask.privilege(*c));
    let mut kept: Vec<(Candidate, BTreeSet<String>)> = Vec::new();
    let mut first_passing = None;
    for c in passing {
        first_passing.get_or_insert(c);
        let by = ask.by(c, now, clock);
        if by.is_empty() || kept.iter().any(|(_, k)| k.is_superset(&by)) {
            continue;
        }
        kept.push((c, by));
    }
    if kept.is_empty() {
        let reason = match first_passing {
            Some(c) => format!(
                "{} would allow it, but nobody may make that change",
                ask.phrase(c)
            ),
            None => "no change of one user's access allows it".to_owned(),
        };
        return vec![impossible(&ask.email, &reason)];
    }
    kept.into_iter()
        .map(|(c, by)| ask.fix(c, by, now, clock))
        .collect()
}

/// The target's org and project (its id), and what it names.
fn locate(st: &State, target: &str) -> Option<(TargetRef, u32, Option<String>)> {
    let t = st.target(target)?;
    let (oid, pid) = match t {
        TargetRef::Org(o) => (o, None),
        TargetRef::Project(p) => (st.project(p)?.org, Some(p)),
        TargetRef::Resource(r) => {
            let p = st.resource(r)?.project;
            (st.project(p)?.org, Some(p))
        }
    };
    let project = pid.and_then(|p| st.project(p)).map(|p| p.id.to_string());
    Some((t, oid, project))
}

impl Ask<'_> {
    /// Every candidate that is structurally possible, in no particular order.
    fn candidates(&self, now: &mut At<'_>, when: &mut At<'_>) -> Vec<Candidate> {
        let mut out = Vec::new();
        let project_scoped =
            matches!(self.def.need, Need::Project { .. }) && self.project.is_some();
        let Some(m) = self.current else {
            for role in OrgRole::ALL {
                let first = Some(Step::AddMember(role));
                out.push(Candidate { first, then: None });
                if role == OrgRole::Member && project_scoped {
                    for r in ProjectRole::ALL {
                        out.push(Candidate {
                            first,
                            then: Some(Step::Grant(r)),
                        });
                    }
                }
            }
            return out;
        };
        let mut firsts = Vec::new();
        if now.alive(m.expires()) && when.alive(m.expires()) {
            firsts.push(None);
        }
        if m.expires().is_some() {
            firsts.push(Some(Step::Renew));
        }
        for first in firsts {
            let expires = if first.is_some() { None } else { m.expires() };
            if first.is_some() {
                out.push(Candidate { first, then: None });
            }
            if project_scoped {
                for r in ProjectRole::ALL {
                    out.push(Candidate {
                        first,
                        then: Some(Step::Grant(r)),
                    });
                }
            }
            for role in OrgRole::ALL.into_iter().filter(|r| *r > m.role) {
                // Owner memberships cannot expire: clear the expiry first.
                if role == OrgRole::Owner && expires.is_some() {
                    continue;
                }
                out.push(Candidate {
                    first,
                    then: Some(Step::SetRole(role)),
                });
            }
        }
        out
    }

    /// The org role, project grant and extra step a candidate leaves: how candidates are
    /// ordered, least privilege first.
    fn privilege(&self, c: Candidate) -> (OrgRole, Option<ProjectRole>, u8) {
        let mut org = self.current.map_or(OrgRole::Member, |m| m.role);
        let mut grant = None;
        let mut extra = 0;
        for s in c.steps() {
            match s {
                Step::AddMember(r) => {
                    org = r;
                    extra = 2;
                }
                Step::Renew => extra = 1,
                Step::Grant(r) => grant = Some(r),
                Step::SetRole(r) => org = r,
            }
        }
        (org, grant, extra)
    }

    /// The expiry a grant made after `c`'s first step gets, so that it gives no more time
    /// than there is: the membership's, which it cannot outlive anyway (none when the
    /// membership is new or renewed), or, when it replaces a live grant that expires
    /// sooner, that grant's.
    fn grant_expiry(&self, c: Candidate) -> Option<Instant> {
        let membership = match c.first {
            None => self.current.and_then(Membership::expires),
            Some(_) => None,
        };
        match (membership, self.kept_expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does the check pass with `c` made? The evaluator itself decides, on a copy of the
    /// user's check-path view.
    fn allows(&self, c: Candidate, when: &mut At<'_>) -> bool {
        let mut ms: Vec<Membership> = self.hot.map(HotUser::to_memberships).unwrap_or_default();
        let oid = self.oid;
        let pid = self.project.as_deref().and_then(|p| self.st.project_id(p));
        let grant_expires = self.grant_expiry(c);
        for s in c.steps() {
            if let Step::AddMember(role) = s {
                ms.push(Membership::new(oid, role, None, Instant(0)));
                continue;
            }
            let Some(m) = ms.iter_mut().find(|m| m.org == oid) else {
                return false;
            };
            match s {
                Step::Renew => m.set_expires(None),
                Step::SetRole(role) => m.role = role,
                Step::Grant(role) => {
                    let Some(pid) = pid else { return false };
                    m.grants.retain(|g| g.project != pid);
                    let i = m.grants.partition_point(|g| g.project < pid);
                    m.grants.insert(
                        i,
                        Grant::new(role, grant_expires, None, None, Instant(0)).on(pid),
                    );
                }
                Step::AddMember(_) => {}
            }
        }
        let uid = self.hot.map_or(u32::MAX, HotUser::id);
        let u = HotUserBuf::new(uid, &self.email, &ms);
        eval::evaluate_user(self.st, u.view(), self.def, self.t, when).allowed
    }

    /// Who may make every step of `c`: the org's members the rules let make each.
    fn by(&self, c: Candidate, now: Instant, clock: &Clock) -> BTreeSet<String> {
        let mut out: Option<BTreeSet<String>> = None;
        for s in c.steps() {
            let mine = self.step_by(s, now, clock);
            out = Some(match out {
                None => mine,
                Some(prev) => prev.intersection(&mine).cloned().collect(),
            });
        }
        out.unwrap_or_default()
    }

    /// Who may make one step, worked out once per step: `authorize_grant_to` takes no
    /// role, so every grant role has the same answer.
    fn step_by(&self, s: Step, now: Instant, clock: &Clock) -> BTreeSet<String> {
        let key = match s {
            Step::Grant(_) => Step::Grant(ProjectRole::Viewer),
            other => other,
        };
        if let Some((_, by)) = self.by_step.borrow().iter().find(|(k, _)| *k == key) {
            return by.clone();
        }
        let by = self.who_may(key, now, clock);
        self.by_step.borrow_mut().push((key, by.clone()));
        by
    }

    /// The org's members allowed `action` on `target` now (the action each rule starts
    /// from), worked out once per action with the evaluator's allocation-free verdict.
    fn allowed(&self, action: &'static str, target: &str, now: Instant, clock: &Clock) -> Vec<u32> {
        if let Some((_, uids)) = self.allowed.borrow().iter().find(|(a, _)| *a == action) {
            return uids.clone();
        }
        let st = self.st;
        let mut uids = Vec::new();
        if let (Some(def), Some(t)) = (st.catalog.get(action), st.target(target)) {
            let mut at = At::new(Some(now), clock);
            for &uid in st.org(self.oid).map(|o| &o.members).into_iter().flatten() {
                if eval::evaluate(st, uid, def, t, &mut at).allowed {
                    uids.push(uid);
                }
            }
        }
        self.allowed.borrow_mut().push((action, uids.clone()));
        uids
    }

    /// Who may make one step: the members allowed the action its rule starts from, then
    /// the rule itself (the one the mutation calls) for each of them.
    fn who_may(&self, s: Step, now: Instant, clock: &Clock) -> BTreeSet<String> {
        let st = self.st;
        let (action, target) = match s {
            Step::AddMember(_) => ("org:invite_member", self.org.as_str()),
            Step::Renew | Step::SetRole(_) => ("org:manage_roles", self.org.as_str()),
            Step::Grant(_) => (
                "project:manage_members",
                self.project.as_deref().unwrap_or_default(),
            ),
        };
        let mut out = BTreeSet::new();
        for uid in self.allowed(action, target, now, clock) {
            let Some(actor) = st.user(uid).map(|u| &*u.email) else {
                continue;
            };
            let mut at = At::new(Some(now), clock);
            let (email, org, oid) = (self.email.as_str(), self.org.as_str(), self.oid);
            let ok = match s {
                Step::AddMember(role) => authorize_invite(st, &mut at, actor, org, role).is_ok(),
                Step::Renew => {
                    authorize_member_update(st, &mut at, actor, email, org, oid, self.current)
                        .is_ok()
                }
                Step::SetRole(role) => {
                    authorize_role_change(st, &mut at, actor, email, org, oid, self.current, role)
                        .is_ok()
                }
                Step::Grant(_) => {
                    let p = self.project.as_deref().unwrap_or_default();
                    authorize_grant_to(st, &mut at, actor, email, GrantTarget::Project(p), oid, p)
                        .is_ok()
                }
            };
            if ok {
                out.insert(actor.to_owned());
            }
        }
        out
    }

    /// A step in words.
    fn step_phrase(&self, s: Step, expires: Option<Instant>) -> String {
        let (user, org) = (&self.email, &self.org);
        match s {
            Step::AddMember(r) => format!("adding {user} to {org} as {}", r.as_str()),
            Step::Renew => format!("renewing {user}'s membership of {org} (clearing its expiry)"),
            Step::SetRole(r) => format!("the org role {} in {org}", r.as_str()),
            Step::Grant(r) => {
                let until =
                    expires.map_or_else(String::new, |e| format!(" until {}", e.to_date_or_iso()));
                format!(
                    "{} {} grant on {}{until}",
                    article(r.as_str()),
                    r.as_str(),
                    self.project.as_deref().unwrap_or_default()
                )
            }
        }
    }

    /// A candidate in words.
    fn phrase(&self, c: Candidate) -> String {
        let expires = self.grant_expiry(c);
        let parts: Vec<String> = c.steps().map(|s| self.step_phrase(s, expires)).collect();
        parts.join(", then ")
    }

    /// The public value of a kept candidate.
    fn fix(&self, c: Candidate, by: BTreeSet<String>, now: Instant, clock: &Clock) -> Fix {
        let by: Vec<String> = by.into_iter().collect();
        let doing = match (c.first, c.then) {
            (Some(_), Some(_)) => "make these changes",
            (Some(s), None) | (None, Some(s)) => verb(s),
            (None, None) => "make it",
        };
        let reason = format!(
            "{} would allow it; {} may {doing}",
            self.phrase(c),
            names(&by)
        );
        let main = c.then.or(c.first).unwrap_or(Step::Renew);
        let requires = match (c.first, c.then) {
            (Some(first), Some(_)) => {
                let by: Vec<String> = self.step_by(first, now, clock).into_iter().collect();
                let reason = format!(
                    "{} comes first; {} may {}",
                    self.step_phrase(first, None),
                    names(&by),
                    verb(first)
                );
                vec![self.value(first, None, by, reason)]
            }
            _ => Vec::new(),
        };
        let mut fix = self.value(main, self.grant_expiry(c), by, reason);
        fix.requires = requires;
        fix
    }

    fn value(&self, s: Step, expires: Option<Instant>, by: Vec<String>, reason: String) -> Fix {
        let (kind, target, role, expires) = match s {
            Step::AddMember(r) => (
                FixKind::AddMember,
                self.org.clone(),
                Some(Role::Org(r)),
                None,
            ),
            Step::Renew => (FixKind::Renew, self.org.clone(), None, None),
            Step::SetRole(r) => (FixKind::OrgRole, self.org.clone(), Some(Role::Org(r)), None),
            Step::Grant(r) => (
                FixKind::Grant,
                self.project.clone().unwrap_or_default(),
                Some(Role::Project(r)),
                expires.map(|e| e.0),
            ),
        };
        Fix {
            kind,
            user: self.email.clone(),
            target,
            role,
            expires,
            requires: Vec::new(),
            by,
            reason,
        }
    }
}

fn verb(s: Step) -> &'static str {
    match s {
        Step::AddMember(_) => "add them",
        Step::Renew => "renew it",
        Step::SetRole(_) => "give it",
        Step::Grant(_) => "grant it",
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// `a`, `a or b`, `a, b or c`, `a, b, c or d`, `a, b, c or 2 others`.
fn names(by: &[String]) -> String {
    match by {
        [] => "nobody".to_owned(),
        [a] => a.clone(),
        [rest @ .., last] if by.len() <= 4 => format!("{} or {last}", rest.join(", ")),
        _ => {
            let shown = by.get(..3).unwrap_or(by).join(", ");
            format!("{shown} or {} others", by.len() - 3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn names_read_as_a_list() {
        let n = |k: usize| (0..k).map(|i| format!("u{i}@x.io")).collect::<Vec<_>>();
        assert_eq!(names(&n(0)), "nobody");
        assert_eq!(names(&n(1)), "u0@x.io");
        assert_eq!(names(&n(2)), "u0@x.io or u1@x.io");
        assert_eq!(names(&n(3)), "u0@x.io, u1@x.io or u2@x.io");
        assert_eq!(names(&n(4)), "u0@x.io, u1@x.io, u2@x.io or u3@x.io");
        assert_eq!(names(&n(5)), "u0@x.io, u1@x.io, u2@x.io or 2 others");
    }
}
