//! What a review is made of: severities, findings, thresholds, and the context every rule
//! reads (an org's live members, their projects and roles at the instant).

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::eval::effective_role;
use crate::model::{Membership, ProjectRec, UserRec};
use crate::roles::ProjectRole;
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
pub(super) const MAX_DAYS: f64 = 36_500.0;

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
    pub(super) clock: Clock,
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
        out.retain(|x| self.alive(x.m.expires()));
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

/// The `org/*` grant and the project grants of a membership, with their targets, by target.
pub(super) fn grants_of<'s>(
    st: &'s State,
    org: &str,
    m: &'s Membership,
) -> Vec<(String, &'s crate::model::Grant)> {
    let mut out: Vec<(String, &crate::model::Grant)> = m
        .grants
        .iter()
        .filter_map(|g| Some((st.project(g.project)?.id.to_string(), g)))
        .collect();
    if let Some(g) = &m.org_wide {
        out.push((format!("{org}/*"), g));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(super) fn ratio(part: usize, whole: usize) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "member counts are far below 2^52"
    )]
    let r = part as f64 / whole as f64;
    r
}
