//! Access review (SPEC 4.1): the current state judged against best practice at an
//! instant, as a list of [`Finding`]s.
//!
//! Each rule is one function over a [`Ctx`] listed once in [`RULES`] with its stable id
//! and severity; adding a rule is a function and a line. Findings come out sorted by
//! severity (high first), then in rule order, then by org, user and target.
//!
//! Decisions beyond the spec (SPEC 4.1, 9):
//! - "Members" are unexpired memberships. An expired membership or grant is reported by
//!   `expired-access` only; the hygiene rules (`review-overdue`, `undocumented-access`,
//!   `expiring-soon` …) look at live access, so one stale record gives one finding.
//! - A grant inside an expired membership is not reported on its own: removing the
//!   membership removes it.
//! - `review-overdue` fires for a membership never reviewed or reviewed before
//!   `at - review_days` (dates, UTC), and for a live grant whose `review_by` date has passed.
//! - `expiring-soon` skips a grant whose membership ends no later than it (the
//!   membership's finding covers both).
//! - `external-above-viewer` reports an org role above member once (target: the org);
//!   otherwise one finding per project where the effective role is above viewer.
//! - `production-sprawl` looks at projects whose environment is `production`
//!   (case-insensitive).

use std::cmp::Reverse;

use chrono::{NaiveDate, TimeDelta};

use crate::error::{Error, Result};
use crate::eval::effective_role;
use crate::graph::Graph;
use crate::model::{Membership, ProjectRec, UserRec};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::State;
use crate::time::{At, Clock, Instant};

/// How serious a finding is: `info` < `low` < `medium` < `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Hygiene.
    Low,
    /// Should be fixed this review cycle.
    Medium,
    /// Fix now.
    High,
}

impl Severity {
    /// The severity's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses a severity name, naming `field` in the error.
    pub fn parse(field: &'static str, s: &str) -> Result<Self> {
        match s {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            _ => Err(Error::invalid(field, s, "high, medium, low or info")),
        }
    }
}

/// One finding of a review.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// The rule's stable id (`expired-access`).
    pub rule: &'static str,
    /// How serious it is.
    pub severity: Severity,
    /// The org concerned.
    pub org: Option<String>,
    /// The user concerned, if one.
    pub user: Option<String>,
    /// The org, project or `org/*` concerned.
    pub target: Option<String>,
    /// What is wrong, in a sentence.
    pub message: String,
    /// What to do about it, in a sentence.
    pub remediation: String,
}

/// The review's thresholds (SPEC 4.1), each settable by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// `owner-count` fires above this many owners.
    pub max_owners: u32,
    /// `admin-ratio` fires above this share of owners and admins.
    pub max_admin_ratio: f64,
    /// `review-overdue` fires after this many days without review.
    pub review_days: i64,
    /// `production-sprawl` fires above this share of members reaching production.
    pub max_production_ratio: f64,
    /// `expiring-soon` looks this many days ahead.
    pub expiring_days: i64,
    /// `stale-api-key` fires for keys not rotated for this many days.
    pub key_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_owners: 3,
            max_admin_ratio: 0.25,
            review_days: 90,
            max_production_ratio: 0.5,
            expiring_days: 14,
            key_days: 90,
        }
    }
}

/// The thresholds' names, as keyword arguments.
pub const THRESHOLDS: [&str; 6] = [
    "max_owners",
    "max_admin_ratio",
    "review_days",
    "max_production_ratio",
    "expiring_days",
    "key_days",
];

/// The largest day count accepted: about a hundred years.
const MAX_DAYS: f64 = 36_500.0;

impl Thresholds {
    /// Sets the threshold `name`; an unknown name or a value out of range is a
    /// `ValidationError` naming it.
    pub fn set(&mut self, name: &str, value: f64) -> Result<()> {
        let whole = |max: f64, what: &str| -> Result<f64> {
            if value.is_finite() && value.fract() == 0.0 && (0.0..=max).contains(&value) {
                Ok(value)
            } else {
                Err(Error::invalid(
                    "threshold",
                    format!("{name}={value}"),
                    format!("{what} from 0 to {max}"),
                ))
            }
        };
        let ratio = || -> Result<f64> {
            if value.is_finite() && (0.0..=1.0).contains(&value) {
                Ok(value)
            } else {
                Err(Error::invalid(
                    "threshold",
                    format!("{name}={value}"),
                    "a ratio from 0 to 1",
                ))
            }
        };
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "whole numbers checked to be in range just above"
        )]
        match name {
            "max_owners" => self.max_owners = whole(f64::from(u32::MAX), "a whole number")? as u32,
            "max_admin_ratio" => self.max_admin_ratio = ratio()?,
            "review_days" => self.review_days = whole(MAX_DAYS, "a number of days")? as i64,
            "max_production_ratio" => self.max_production_ratio = ratio()?,
            "expiring_days" => self.expiring_days = whole(MAX_DAYS, "a number of days")? as i64,
            "key_days" => self.key_days = whole(MAX_DAYS, "a number of days")? as i64,
            _ => {
                return Err(Error::invalid(
                    "threshold",
                    name,
                    format!("one of {}", THRESHOLDS.join(", ")),
                ))
            }
        }
        Ok(())
    }
}

/// What a rule looks at: the state, the instant, the thresholds, the orgs under review.
pub struct Ctx<'s> {
    /// The state.
    pub st: &'s State,
    /// The instant judged at.
    pub at: Instant,
    /// The thresholds.
    pub t: &'s Thresholds,
    /// The orgs under review (ids), sorted by slug.
    pub orgs: Vec<u32>,
    /// True when every org is under review (`review()` without `org`).
    pub all_orgs: bool,
    clock: Clock,
}

/// A member as rules see it.
pub struct Member<'s> {
    /// The user.
    pub user: &'s UserRec,
    /// Their membership of the org.
    pub m: &'s Membership,
}

impl<'s> Ctx<'s> {
    /// Is something with this expiry still valid at the instant?
    pub fn alive(&self, expires: Option<Instant>) -> bool {
        expires.is_none_or(|e| self.at < e)
    }

    /// The date of the instant (UTC).
    pub fn today(&self) -> NaiveDate {
        self.at.date()
    }

    /// The org's slug.
    pub fn slug(&self, oid: u32) -> &'s str {
        self.st.org(oid).map_or("", |o| &o.slug)
    }

    /// Every membership of the org (expired ones included), by email.
    pub fn all_members(&self, oid: u32) -> Vec<Member<'s>> {
        let st = self.st;
        let mut out: Vec<Member<'s>> = st
            .org(oid)
            .map(|o| o.members.iter())
            .into_iter()
            .flatten()
            .filter_map(|&uid| {
                let user = st.user(uid)?;
                Some(Member {
                    user,
                    m: user.membership(oid)?,
                })
            })
            .collect();
        out.sort_by(|a, b| a.user.email.cmp(&b.user.email));
        out
    }

    /// The unexpired memberships of the org, by email.
    pub fn members(&self, oid: u32) -> Vec<Member<'s>> {
        let mut out = self.all_members(oid);
        out.retain(|x| self.alive(x.m.expires));
        out
    }

    /// The org's projects, by id.
    pub fn projects(&self, oid: u32) -> Vec<(u32, &'s ProjectRec)> {
        let st = self.st;
        let mut out: Vec<(u32, &ProjectRec)> = st
            .org(oid)
            .map(|o| o.projects.iter())
            .into_iter()
            .flatten()
            .filter_map(|&p| Some((p, st.project(p)?)))
            .collect();
        out.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        out
    }

    /// The effective role of a (live) member on project `pid` at the instant.
    pub fn role_on(&self, x: &Member<'_>, pid: u32) -> Option<ProjectRole> {
        let p = self.st.hot_project(pid)?;
        let hot = self.st.user_ids.get(&*x.user.email)?.membership(x.m.org)?;
        let mut at = At::new(Some(self.at), &self.clock);
        effective_role(hot, p, pid, &mut at).map(|(r, _)| r)
    }
}

/// A finding as a rule writes it; the rule's id and severity are added from [`RULES`].
#[derive(Debug, Clone)]
pub struct Draft {
    /// The org concerned.
    pub org: Option<String>,
    /// The user concerned, if one.
    pub user: Option<String>,
    /// The org, project or `org/*` concerned.
    pub target: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
}

impl Draft {
    /// A finding about `org`, and maybe a user and a target in it.
    pub fn new(
        org: &str,
        user: Option<&str>,
        target: Option<&str>,
        message: String,
        remediation: String,
    ) -> Self {
        Draft {
            org: Some(org.to_owned()),
            user: user.map(str::to_owned),
            target: target.map(str::to_owned),
            message,
            remediation,
        }
    }
}

/// A date, or an instant when it is not midnight UTC.
fn when(at: Instant) -> String {
    if at.is_midnight() {
        at.date().format("%Y-%m-%d").to_string()
    } else {
        at.to_iso()
    }
}

/// The `org/*` grant and the project grants of a membership, with their targets, by target.
fn grants_of<'s>(
    st: &'s State,
    org: &str,
    m: &'s Membership,
) -> Vec<(String, &'s crate::model::Grant)> {
    let mut out: Vec<(String, &crate::model::Grant)> = m
        .grants
        .iter()
        .filter_map(|(pid, g)| Some((st.project(*pid)?.id.to_string(), g)))
        .collect();
    if let Some(g) = &m.org_wide {
        out.push((format!("{org}/*"), g));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn ratio(part: usize, whole: usize) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "member counts are far below 2^52"
    )]
    let r = part as f64 / whole as f64;
    r
}

/// A rule: appends its findings.
pub type Rule = fn(&Ctx<'_>, &mut Vec<Draft>);

/// Every rule, in report order: stable id, severity, function. (`stale-api-key` joins
/// with API keys.)
pub const RULES: &[(&str, Severity, Rule)] = &[
    ("expired-access", Severity::High, expired_access),
    (
        "external-without-expiry",
        Severity::High,
        external_without_expiry,
    ),
    (
        "external-on-restricted",
        Severity::High,
        external_on_restricted,
    ),
    ("owner-count", Severity::Medium, owner_count),
    ("admin-ratio", Severity::Low, admin_ratio),
    ("review-overdue", Severity::Medium, review_overdue),
    ("undocumented-access", Severity::Low, undocumented_access),
    ("production-sprawl", Severity::Medium, production_sprawl),
    ("broad-grant", Severity::Medium, broad_grant),
    (
        "external-above-viewer",
        Severity::Low,
        external_above_viewer,
    ),
    ("no-project-access", Severity::Info, no_project_access),
    ("stale-api-key", Severity::Medium, stale_api_key),
    ("expiring-soon", Severity::Info, expiring_soon),
];

fn expired_access(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.all_members(oid) {
            let email = &*x.user.email;
            if let Some(e) = x.m.expires.filter(|_| !c.alive(x.m.expires)) {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email}'s membership of {org} expired on {} but is still present", when(e)),
                    format!("Remove {email} from {org} (remove_member), or renew the membership with update_member(expires=...) if the access is still needed."),
                ));
                continue;
            }
            for (target, g) in grants_of(c.st, org, x.m) {
                if let Some(e) = g.expires.filter(|_| !c.alive(g.expires)) {
                    out.push(Draft::new(
                        org,
                        Some(email),
                        Some(&target),
                        format!("{email}'s {} grant on {target} expired on {} but is still present", g.role.as_str(), when(e)),
                        "Revoke the grant (revoke), or grant it again with a new expiry if it is still needed.".to_owned(),
                    ));
                }
            }
        }
    }
}

fn external_without_expiry(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            if x.m.external && x.m.expires.is_none() {
                let email = &*x.user.email;
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email} is an external member of {org} with no expiry"),
                    format!("Set an end date on the engagement: update_member(\"{email}\", \"{org}\", expires=..., actor=...)."),
                ));
            }
        }
    }
}

fn external_on_restricted(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        let sensitive: Vec<(u32, &ProjectRec)> = c
            .projects(oid)
            .into_iter()
            .filter(|(_, p)| p.attrs.restricted || p.attrs.pii)
            .collect();
        for x in c.members(oid).into_iter().filter(|x| x.m.external) {
            let email = &*x.user.email;
            for (pid, p) in &sensitive {
                if let Some(role) = c.role_on(&x, *pid) {
                    let what = match (p.attrs.restricted, p.attrs.pii) {
                        (true, true) => "restricted and holds personal data",
                        (true, false) => "restricted",
                        _ => "holds personal data",
                    };
                    out.push(Draft::new(
                        org,
                        Some(email),
                        Some(&p.id),
                        format!("external member {email} is {} on {}, which is {what}", role_article(role), p.id),
                        format!("Revoke {email}'s access to {} unless the engagement needs it, and then record why (reason=) with an expiry.", p.id),
                    ));
                }
            }
        }
    }
}

fn role_article(role: ProjectRole) -> String {
    match role {
        ProjectRole::Admin => "an admin".to_owned(),
        r => format!("a {}", r.as_str()),
    }
}

fn owner_count(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        let owners = c
            .members(oid)
            .iter()
            .filter(|x| x.m.role == OrgRole::Owner)
            .count();
        if owners > c.t.max_owners as usize {
            out.push(Draft::new(
                org,
                None,
                Some(org),
                format!("{org} has {owners} owners (more than {})", c.t.max_owners),
                "Keep owners to the few people who must manage billing and delete projects; demote the others to admin (set_org_role).".to_owned(),
            ));
        }
    }
}

fn admin_ratio(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        let members = c.members(oid);
        if members.len() < 8 {
            continue;
        }
        let admins = members.iter().filter(|x| x.m.role.is_admin()).count();
        let r = ratio(admins, members.len());
        if r > c.t.max_admin_ratio {
            out.push(Draft::new(
                org,
                None,
                Some(org),
                format!(
                    "{admins} of {org}'s {} members are owners or admins ({:.0}%, more than {:.0}%)",
                    members.len(),
                    r * 100.0,
                    c.t.max_admin_ratio * 100.0
                ),
                "Org admins reach every project as admin: make members of those who do not manage people or settings (set_org_role).".to_owned(),
            ));
        }
    }
}

fn review_overdue(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    let cutoff = c.today() - TimeDelta::days(c.t.review_days);
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            let email = &*x.user.email;
            let message = match x.m.reviewed {
                None => Some(format!("{email}'s membership of {org} was never reviewed")),
                Some(d) if d < cutoff => Some(format!(
                    "{email}'s membership of {org} was last reviewed on {d}, more than {} days ago",
                    c.t.review_days
                )),
                Some(_) => None,
            };
            if let Some(message) = message {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    message,
                    format!("Confirm {email} still needs this access, then record it: update_member(\"{email}\", \"{org}\", reviewed=<today>, actor=...)."),
                ));
            }
            for (target, g) in grants_of(c.st, org, x.m) {
                let Some(d) = g.review_by().filter(|_| c.alive(g.expires)) else {
                    continue;
                };
                if d < c.today() {
                    out.push(Draft::new(
                        org,
                        Some(email),
                        Some(&target),
                        format!("{email}'s {} grant on {target} was due for review by {d}", g.role.as_str()),
                        format!("Confirm {email} still needs {target}; revoke the grant if not, or approve a new request to set the next review date."),
                    ));
                }
            }
        }
    }
}

fn undocumented_access(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    let blank = |r: Option<&str>| r.is_none_or(|r| r.trim().is_empty());
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            let email = &*x.user.email;
            if blank(x.m.reason.as_deref()) {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email}'s membership of {org} has no reason"),
                    format!("Record why {email} has access: update_member(\"{email}\", \"{org}\", reason=..., actor=...)."),
                ));
            }
            for (target, g) in grants_of(c.st, org, x.m) {
                if c.alive(g.expires) && blank(g.reason()) {
                    out.push(Draft::new(
                        org,
                        Some(email),
                        Some(&target),
                        format!("{email}'s {} grant on {target} has no reason", g.role.as_str()),
                        format!("Grant it again with reason=... saying why {email} needs {target}, or revoke it."),
                    ));
                }
            }
        }
    }
}

fn production_sprawl(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        let members = c.members(oid);
        if members.is_empty() {
            continue;
        }
        for (pid, p) in c.projects(oid) {
            let production = p
                .attrs
                .environment
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case("production"));
            if !production {
                continue;
            }
            let reach = members
                .iter()
                .filter(|x| c.role_on(x, pid).is_some())
                .count();
            let r = ratio(reach, members.len());
            if r > c.t.max_production_ratio {
                out.push(Draft::new(
                    org,
                    None,
                    Some(&p.id),
                    format!(
                        "{reach} of {org}'s {} members can access production project {} ({:.0}%, more than {:.0}%)",
                        members.len(),
                        p.id,
                        r * 100.0,
                        c.t.max_production_ratio * 100.0
                    ),
                    if p.attrs.restricted {
                        format!("Limit production access to engineers actively on-call: revoke the grants on {} that are not needed.", p.id)
                    } else {
                        format!("Limit production access to engineers actively on-call: make {} restricted (org-wide grants and default roles then stop at it) and revoke the grants that are not needed.", p.id)
                    },
                ));
            }
        }
    }
}

fn broad_grant(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            let Some(g) = &x.m.org_wide else { continue };
            if g.role > ProjectRole::Viewer && c.alive(g.expires) {
                let email = &*x.user.email;
                let target = format!("{org}/*");
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(&target),
                    format!("{email} holds {} on all projects of {org} ({target})", g.role.as_str()),
                    format!("Grant {} on the projects {email} works on instead, and at most viewer on {target}.", g.role.as_str()),
                ));
            }
        }
        for (_, p) in c.projects(oid) {
            if let Some(d) = p.attrs.default_role.filter(|d| *d > ProjectRole::Viewer) {
                out.push(Draft::new(
                    org,
                    None,
                    Some(&p.id),
                    format!("every member of {org} is at least {} on {} (its default role)", d.as_str(), p.id),
                    format!("Lower the default role of {} to viewer (update_project(default_role=\"viewer\")) and grant more where it is needed.", p.id),
                ));
            }
        }
    }
}

fn external_above_viewer(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        let projects = c.projects(oid);
        for x in c.members(oid).into_iter().filter(|x| x.m.external) {
            let email = &*x.user.email;
            if x.m.role > OrgRole::Member {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("external member {email} is an org {} of {org}", x.m.role.as_str()),
                    format!("Make {email} an org member (set_org_role) and grant project roles only where needed."),
                ));
                continue;
            }
            for (pid, p) in &projects {
                if let Some(role) = c.role_on(&x, *pid).filter(|r| *r > ProjectRole::Viewer) {
                    out.push(Draft::new(
                        org,
                        Some(email),
                        Some(&p.id),
                        format!("external member {email} is {} on {}", role_article(role), p.id),
                        format!("Give {email} viewer on {} unless the engagement needs more (grant ... \"viewer\").", p.id),
                    ));
                }
            }
        }
    }
}

fn no_project_access(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        let projects = c.projects(oid);
        for x in c.members(oid) {
            if x.m.role != OrgRole::Member {
                continue;
            }
            if projects
                .iter()
                .all(|(pid, _)| c.role_on(&x, *pid).is_none())
            {
                let email = &*x.user.email;
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email} is a member of {org} but can access no project"),
                    format!("Grant {email} the projects they work on, or remove the membership if it is not needed."),
                ));
            }
        }
    }
}

/// Live personal keys not rotated for `key_days`, and keys whose user has no remaining
/// membership (dead, but listed until revoked: SPEC 9). A finding carries the org of the
/// key's user (SPEC 9): one per org under review they belong to (expired memberships
/// included); a dead key of someone in no org at all is reported, without an org, when
/// every org is reviewed.
fn stale_api_key(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    const DAY_US: i64 = 86_400_000_000;
    for k in c.st.keys.personal.iter().filter(|k| k.revoked_at.is_none()) {
        if k.expires.is_some_and(|e| e <= c.at) {
            continue; // expired: it no longer works, nothing to rotate
        }
        let Some(user) = c.st.user(k.user) else {
            continue;
        };
        let email = &*user.email;
        let mut orgs: Vec<Option<&str>> = c
            .orgs
            .iter()
            .filter(|&&o| user.membership(o).is_some())
            .map(|&o| Some(c.slug(o)))
            .collect();
        if orgs.is_empty() && c.all_orgs && user.memberships.is_empty() {
            orgs.push(None);
        }
        if orgs.is_empty() {
            continue;
        }
        let target = format!("key:{}", k.id);
        let live = user.memberships.iter().any(|m| c.alive(m.expires));
        let since = k.rotated_at.unwrap_or(k.created_at);
        let days = c.at.0.saturating_sub(since.0) / DAY_US;
        let (message, remediation) = if !live {
            (
                format!(
                    "{email}'s API key `{}` ({}) is still listed though {email} has no remaining membership: it is dead",
                    k.label, k.id
                ),
                format!("Revoke it: revoke_personal_key(\"{}\", actor=...).", k.id),
            )
        } else if days > c.t.key_days {
            (
                format!(
                    "{email}'s API key `{}` ({}) was not rotated for {days} days (more than {})",
                    k.label, k.id, c.t.key_days
                ),
                format!(
                    "Rotate it (rotate_personal_key(\"{}\", actor=...)) and update where it is used, or revoke it if nothing uses it.",
                    k.id
                ),
            )
        } else {
            continue;
        };
        for org in orgs {
            out.push(Draft {
                org: org.map(str::to_owned),
                user: Some(email.to_owned()),
                target: Some(target.clone()),
                message: message.clone(),
                remediation: remediation.clone(),
            });
        }
    }
}

fn expiring_soon(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    let horizon = Instant(
        c.at.0
            .saturating_add(c.t.expiring_days.saturating_mul(86_400_000_000)),
    );
    let soon = |e: Option<Instant>| e.filter(|e| c.at < *e && *e <= horizon);
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            let email = &*x.user.email;
            if let Some(e) = soon(x.m.expires) {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email}'s membership of {org} expires on {}", when(e)),
                    "Renew it with update_member(expires=...) if the access is still needed; otherwise let it lapse and remove it then.".to_owned(),
                ));
            }
            for (target, g) in grants_of(c.st, org, x.m) {
                let Some(e) = soon(g.expires) else { continue };
                if x.m.expires.is_some_and(|m| m <= e) {
                    continue;
                }
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(&target),
                    format!("{email}'s {} grant on {target} expires on {}", g.role.as_str(), when(e)),
                    "Grant it again with a later expiry if it is still needed; otherwise let it lapse.".to_owned(),
                ));
            }
        }
    }
}

/// Reviews the state at `at`: every org, or one.
pub fn review(st: &State, org: Option<&str>, at: Instant, t: &Thresholds) -> Result<Vec<Finding>> {
    let mut orgs: Vec<u32> = match org {
        Some(o) => vec![st.need_org(o)?],
        None => st
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| o.is_some())
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect(),
    };
    orgs.sort_by(|a, b| {
        let slug = |id: &u32| st.org(*id).map(|o| o.slug.clone());
        slug(a).cmp(&slug(b))
    });
    let ctx = Ctx {
        st,
        at,
        t,
        orgs,
        all_orgs: org.is_none(),
        clock: Clock::default(),
    };
    let mut out = Vec::new();
    let mut drafts = Vec::new();
    for &(id, severity, rule) in RULES {
        rule(&ctx, &mut drafts);
        out.extend(drafts.drain(..).map(|d| Finding {
            rule: id,
            severity,
            org: d.org,
            user: d.user,
            target: d.target,
            message: d.message,
            remediation: d.remediation,
        }));
    }
    // Stable: within a severity, rule order, then org, user, target as the rules wrote.
    out.sort_by_key(|f| Reverse(f.severity));
    Ok(out)
}

impl Graph {
    /// Reviews access at `at` (default: the graph's clock) against best practice: every
    /// org, or `org`.
    pub fn review(
        &self,
        org: Option<&str>,
        at: Option<Instant>,
        thresholds: &Thresholds,
    ) -> Result<Vec<Finding>> {
        let at = at.unwrap_or_else(|| self.now());
        self.read(|st| review(st, org, at, thresholds))
    }
}
