//! The review's rules (SPEC 4.1): one function each, listed once in [`RULES`] with its
//! stable id and severity.

use chrono::TimeDelta;

use super::context::{grants_of, ratio, Ctx, Draft, Severity};
use super::lookalike;
use crate::model::ProjectRec;
use crate::roles::{OrgRole, ProjectRole};
use crate::time::Instant;

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
    ("lookalike-email", Severity::High, lookalike_email),
];

pub(super) fn expired_access(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.all_members(oid) {
            let email = &*x.user.email;
            if let Some(e) = x.m.expires().filter(|_| !c.alive(x.m.expires())) {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email}'s membership of {org} expired on {} but is still present", e.to_date_or_iso()),
                    format!("Remove {email} from {org} (remove_member), or renew the membership with update_member(expires=...) if the access is still needed."),
                ));
            }
            // An expired grant is listed even under an expired membership (SPEC 4.1): it
            // is a stale record of its own, which renewing the membership leaves behind.
            for (target, g) in grants_of(c.st, org, x.m) {
                if let Some(e) = g.expires().filter(|_| !c.alive(g.expires())) {
                    out.push(Draft::new(
                        org,
                        Some(email),
                        Some(&target),
                        format!("{email}'s {} grant on {target} expired on {} but is still present", g.role.as_str(), e.to_date_or_iso()),
                        "Revoke the grant (revoke), or grant it again with a new expiry if it is still needed.".to_owned(),
                    ));
                }
            }
        }
    }
}

pub(super) fn external_without_expiry(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            if x.m.external && x.m.expires().is_none() {
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

pub(super) fn external_on_restricted(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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

pub(super) fn role_article(role: ProjectRole) -> String {
    match role {
        ProjectRole::Admin => "an admin".to_owned(),
        r => format!("a {}", r.as_str()),
    }
}

pub(super) fn owner_count(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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

pub(super) fn admin_ratio(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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

pub(super) fn review_overdue(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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
                let Some(d) = g.review_by().filter(|_| c.alive(g.expires())) else {
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
        overdue_campaigns(c, org, out);
    }
}

/// `review-overdue` for access review campaigns of `org` still open after their due
/// date: the review itself is late.
fn overdue_campaigns(c: &Ctx<'_>, org: &str, out: &mut Vec<Draft>) {
    for camp in
        c.st.campaigns
            .iter()
            .filter(|k| k.org == org && k.closed.is_none())
    {
        if camp.due > c.at {
            continue;
        }
        let undecided = camp.undecided();
        out.push(Draft::new(
            org,
            None,
            Some(org),
            format!(
                "access review campaign `{}` of {org} was due on {} and is still open ({undecided} of {} items undecided)",
                camp.id,
                camp.due.to_date_or_iso(),
                camp.items.len()
            ),
            format!(
                "Have the reviewers ({}) decide the remaining items, then close it: graph.campaign(\"{}\").close(actor=...).",
                camp.reviewers.join(", "),
                camp.id
            ),
        ));
    }
}

pub(super) fn undocumented_access(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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
                if c.alive(g.expires()) && blank(g.reason()) {
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

pub(super) fn production_sprawl(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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

pub(super) fn broad_grant(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            let Some(g) = &x.m.org_wide else { continue };
            if g.role > ProjectRole::Viewer && c.alive(g.expires()) {
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

pub(super) fn external_above_viewer(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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

pub(super) fn no_project_access(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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
pub(super) fn stale_api_key(c: &Ctx<'_>, out: &mut Vec<Draft>) {
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
        let live = user.memberships.iter().any(|m| c.alive(m.expires()));
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

pub(super) fn expiring_soon(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    let horizon = Instant(
        c.at.0
            .saturating_add(c.t.expiring_days.saturating_mul(86_400_000_000)),
    );
    let soon = |e: Option<Instant>| e.filter(|e| c.at < *e && *e <= horizon);
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.members(oid) {
            let email = &*x.user.email;
            if let Some(e) = soon(x.m.expires()) {
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{email}'s membership of {org} expires on {}", e.to_date_or_iso()),
                    "Renew it with update_member(expires=...) if the access is still needed; otherwise let it lapse and remove it then.".to_owned(),
                ));
            }
            for (target, g) in grants_of(c.st, org, x.m) {
                let Some(e) = soon(g.expires()) else { continue };
                if x.m.expires().is_some_and(|m| m <= e) {
                    continue;
                }
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(&target),
                    format!("{email}'s {} grant on {target} expires on {}", g.role.as_str(), e.to_date_or_iso()),
                    "Grant it again with a later expiry if it is still needed; otherwise let it lapse.".to_owned(),
                ));
            }
        }
    }
}

/// Members (expired ones included) whose address can pass for another's in a review: an
/// invisible or direction-changing character, or a domain with letters that look Latin
/// and are not ([`lookalike`]).
pub(super) fn lookalike_email(c: &Ctx<'_>, out: &mut Vec<Draft>) {
    for &oid in &c.orgs {
        let org = c.slug(oid);
        for x in c.all_members(oid) {
            let email = &*x.user.email;
            if let Some(why) = lookalike::why(email) {
                let shown = crate::text::shown(email);
                out.push(Draft::new(
                    org,
                    Some(email),
                    Some(org),
                    format!("{shown}, a member of {org}, {why}: in a review it can pass for another address"),
                    format!("Confirm {shown} with its owner through another channel; if it is not the address you expect, remove it (remove_member) and look at who added it (audit log)."),
                ));
            }
        }
    }
}
