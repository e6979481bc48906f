//! Running a review: every rule over every org (or one), findings sorted by severity.

use std::cmp::Reverse;

use super::context::{Ctx, Finding, Thresholds};
use super::rules::RULES;
use crate::error::Result;
use crate::graph::Graph;
use crate::state::State;
use crate::time::{Clock, Instant};

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
