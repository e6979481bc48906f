//! Running a review: every rule over every org (or one), findings sorted by severity.

use std::cmp::Reverse;

use super::context::{Ctx, Finding, Thresholds};
use super::rules::RULES;
use crate::error::Result;
use crate::graph::Graph;
use crate::progress::{Hook, Meter};
use crate::state::State;
use crate::time::{Clock, Instant};

/// Reviews the state at `at`: every org, or one.
pub fn review(st: &State, org: Option<&str>, at: Instant, t: &Thresholds) -> Result<Vec<Finding>> {
    review_metered(st, org, at, t, &mut Meter::none())
}

/// How many steps a metered review counts: one per rule, each over every org.
pub fn review_steps() -> u64 {
    RULES.len() as u64
}

/// [`review`], telling `meter` each rule done (of [`review_steps`]); a hook that stops it
/// stops the review ([`crate::error::Error::Stopped`]).
pub fn review_metered(
    st: &State,
    org: Option<&str>,
    at: Instant,
    t: &Thresholds,
    meter: &mut Meter<'_>,
) -> Result<Vec<Finding>> {
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
    for (done, &(id, severity, rule)) in (1_u64..).zip(RULES) {
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
        meter.at(done)?;
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

    /// [`Graph::review`], telling `progress` each rule done (of [`review_steps`]). With a
    /// hook the review runs on a copy of the state taken under the read lock, so the
    /// hook runs with no lock of the graph held (it may even change the graph: the
    /// review is of the state when it began).
    pub fn review_reporting(
        &self,
        org: Option<&str>,
        at: Option<Instant>,
        thresholds: &Thresholds,
        progress: Hook<'_>,
    ) -> Result<Vec<Finding>> {
        if progress.is_none() {
            return self.review(org, at, thresholds);
        }
        let at = at.unwrap_or_else(|| self.now());
        let st = self.read(|st| Ok(st.clone()))?;
        let mut meter = Meter::start(progress, review_steps())?;
        let out = review_metered(&st, org, at, thresholds, &mut meter)?;
        meter.finish()?;
        Ok(out)
    }
}
