//! PostHog's project-access resolver, and how its answers are written in our model.
//!
//! For each member of each project this computes what
//! `UserTeamPermissions.effective_membership_level_for_parent_membership`
//! (`posthog/user_permissions.py`) answers:
//! - org owners and admins: admin;
//! - without access-control data: the org level capped at admin, so `member`;
//! - with rules: the rules naming the member or a role they hold decide (the highest;
//!   `"none"` denies); else the project's default rule; else admin.
//!
//! A legacy project (`Team.access_control` on) is first converted as PostHog's RBAC
//! migration converts it (`rbac_team_migration.py`): a default `"none"` rule and one rule
//! per explicit member below org admin. Then the answers are written as the project's
//! `restricted` flag, its default role and grants.

use super::org::{People, Roles};
use super::project::{ProjectIn, Rule, Subject};
use super::report::{source, Notes};
use crate::ids::{new_map, Map};
use crate::roles::ProjectRole;
use crate::time::Instant;

/// How a project is written in our model.
pub(super) struct Written {
    /// Restricted (PostHog: private).
    pub restricted: bool,
    /// The role every org member holds at least.
    pub default_role: Option<ProjectRole>,
    /// `(member, role, reason, granted_at)`.
    pub grants: Vec<(usize, ProjectRole, Option<String>, Option<Instant>)>,
}

/// Where a member's answer comes from.
#[derive(Clone, Copy)]
enum Origin {
    /// A rule naming the member (or an explicit row, migrated).
    Own(Option<Instant>),
    /// A rule on a role they hold.
    Role(usize, Option<Instant>),
    /// The project's default (a rule, the org level, or the resolver's admin).
    Default(Option<Instant>),
}

/// PostHog's answer for every non-admin member of `p`, and how to write it.
#[expect(
    clippy::too_many_lines,
    reason = "PostHog's resolver for one project, step by step as `user_permissions.py` orders them"
)]
pub(super) fn project(p: &ProjectIn, people: &People, roles: &Roles, notes: &mut Notes) -> Written {
    let legacy = legacy_private(p, notes);
    let mut all: Vec<&Rule> = p.rules.iter().flat_map(|(r, _)| r).collect();
    let migrated: Vec<Rule> = if legacy {
        migrate(p, people)
    } else {
        if let Some((rows, _)) = &p.rows {
            for row in rows {
                notes.ignored(
                    &row.path,
                    people.get(row.person).map(|x| x.email.as_str()),
                    "an explicit member of a project whose `access_control` is off: PostHog does not read it".to_owned(),
                    source::EXPLICIT,
                );
            }
        }
        Vec::new()
    };
    all.extend(migrated.iter());
    let with_rules = p.rules.is_some() || legacy;

    // The project's default: PostHog's default rule (the first with neither member nor
    // role); without one, the resolver's admin; without access-control data, the org
    // level of a plain member.
    let (default, default_at): (Option<ProjectRole>, Option<Instant>) = if with_rules {
        all.iter()
            .find(|r| r.subject == Subject::Everyone)
            .map_or((Some(ProjectRole::Admin), None), |r| (r.level, r.created))
    } else {
        (Some(ProjectRole::Member), None)
    };

    // Rules by member and by role, so each member costs their own rules only.
    let mut by_member: Map<usize, Vec<&Rule>> = new_map();
    let mut by_role: Map<usize, Vec<&Rule>> = new_map();
    for r in &all {
        match r.subject {
            Subject::Member(m) => by_member.entry(m).or_default().push(r),
            Subject::Role(i) => by_role.entry(i).or_default().push(r),
            Subject::Everyone => {}
        }
    }
    let mut held: Map<usize, Vec<usize>> = new_map();
    for (i, role) in roles.list.iter().enumerate() {
        if by_role.contains_key(&i) {
            for &m in &role.holders {
                held.entry(m).or_default().push(i);
            }
        }
    }

    let mut answers: Vec<(usize, Option<ProjectRole>, Origin)> = Vec::new();
    for (i, person) in people.list.iter().enumerate() {
        if person.guest || person.role.is_admin() {
            continue; // guests are not imported; org admins are project admins
        }
        let mut best: Option<(Option<ProjectRole>, Origin)> = None;
        let mut offer = |level: Option<ProjectRole>, origin: Origin| {
            if best.as_ref().is_none_or(|(b, _)| level > *b) {
                best = Some((level, origin));
            }
        };
        for r in by_member.get(&i).into_iter().flatten() {
            offer(r.level, Origin::Own(r.created));
        }
        for &role in held.get(&i).into_iter().flatten() {
            for r in by_role.get(&role).into_iter().flatten() {
                offer(r.level, Origin::Role(role, r.created));
            }
        }
        let (level, origin) = best.unwrap_or((default, Origin::Default(default_at)));
        answers.push((i, level, origin));
    }

    let below_default = answers
        .iter()
        .filter(|(_, level, _)| *level < default)
        .count();
    let (restricted, default_role) = match default {
        None => (true, None),
        Some(d) if below_default > 0 => {
            let at = p
                .rules
                .as_ref()
                .map_or(p.path.as_str(), |(_, at)| at.as_str());
            notes.unexpressed(
                at,
                None,
                format!(
                    "PostHog gives this project's members `{}` by default, with {below_default} of them below it; a default role cannot carry exceptions, so the project is imported restricted with one grant per member (a member added later gets no access here)",
                    d.as_str()
                ),
                source::RULES,
            );
            (true, None)
        }
        Some(d) => (false, Some(d)),
    };
    let mut grants = Vec::new();
    for (i, level, origin) in answers {
        let Some(role) = level else { continue };
        if default_role.is_some_and(|d| role <= d) {
            continue; // the default role gives it
        }
        let (reason, at) = match origin {
            Origin::Own(at) => (None, at),
            Origin::Role(r, at) => (
                Some(format!("PostHog role `{}`", roles.label(r).escape_debug())),
                at,
            ),
            Origin::Default(at) => (
                Some(format!("PostHog project default `{}`", role.as_str())),
                at,
            ),
        };
        grants.push((i, role, reason, at));
    }
    Written {
        restricted,
        default_role,
        grants,
    }
}

/// Whether `p` is a legacy private project: its `access_control` flag is on, or, without
/// a project object and without rules, it has explicit members — which PostHog creates
/// only while the flag is on (`ExplicitTeamMemberSerializer.validate`).
fn legacy_private(p: &ProjectIn, notes: &mut Notes) -> bool {
    if let Some(flag) = p.access_control {
        return flag;
    }
    let inferred = p.rules.is_none() && p.rows.as_ref().is_some_and(|(rows, _)| !rows.is_empty());
    if inferred {
        notes.assumed(
            &p.path,
            None,
            "no project object says whether the legacy `access_control` is on; PostHog keeps explicit members only while it is (ExplicitTeamMemberSerializer.validate), so the project is read as private".to_owned(),
            source::PROJECT,
        );
    }
    inferred
}

/// The rules PostHog's RBAC migration makes of a legacy private project: a default
/// `"none"`, and a rule per explicit member below org admin.
fn migrate(p: &ProjectIn, people: &People) -> Vec<Rule> {
    let mut out = vec![Rule {
        level: None,
        subject: Subject::Everyone,
        created: None,
    }];
    for row in p.rows.iter().flat_map(|(rows, _)| rows) {
        if people.get(row.person).is_some_and(|x| !x.role.is_admin()) {
            out.push(Rule {
                level: Some(row.role),
                subject: Subject::Member(row.person),
                created: row.joined,
            });
        }
    }
    out
}
