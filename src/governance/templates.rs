//! Onboarding templates (SPEC 4.3): the usual ways a person joins an org, as one atomic
//! change — the membership and every project grant the template gives.
//!
//! A template has an org role, grants keyed by *project slug or environment* (in a custom
//! template a key is matched first as the slug of a project of the org, then as an
//! environment; the built-in templates match by environment only, as SPEC 4.3 says; `*`
//! means every project of the org, each with an explicit grant), an `external` flag and
//! `requires_expiry`. `onboard(..., projects=[...])` adds a `member` grant on each project
//! named (how contractors get theirs); where two sources give a project a role, the
//! higher wins. A template's `expires` applies to the membership and to every grant.
//! Built-in templates are `engineer`, `product_manager`, `executive` and `contractor`;
//! custom ones are graph-wide policy (like custom actions), defined by the system and
//! part of snapshots and journals.

use std::collections::BTreeMap;

use crate::error::{ConflictError, Error, Result};
use crate::graph::rules::{
    authorize_grant_to, authorize_invite, check_owner_expiry, denied, membership, opt_text,
};
use crate::graph::Graph;
use crate::ids::{self, email_key, GrantTarget};
use crate::model::templates::{builtin, TemplateDef};
use crate::roles::ProjectRole;
use crate::state::queries::{template, template_names};
use crate::state::State;
use crate::state::{Change, GrantAttrs, MemberAttrs, UserAttrs};
use crate::time::Instant;

/// What `onboard` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Onboarding {
    /// The new member's email.
    pub user: String,
    /// The org slug.
    pub org: String,
    /// The template's name.
    pub template: String,
    /// Display name.
    pub name: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Projects (`org/slug` or `slug`) given a `member` grant besides the template's.
    pub projects: Vec<String>,
    /// End of the membership and of every grant.
    pub expires: Option<Instant>,
    /// Why (default: the template's name).
    pub reason: Option<String>,
}

/// What `onboard` did, and what people still owe: sentences.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct OnboardingReport {
    /// Steps done.
    pub done: Vec<String>,
    /// Steps a person still owes.
    pub manual: Vec<String>,
}

/// The projects (ids) a template's grant key reaches in an org: by slug first (unless
/// `env_only`), then by environment.
fn resolve_key(st: &State, org: &str, oid: u32, key: &str, env_only: bool) -> Vec<String> {
    let projects = st
        .org(oid)
        .map(|o| o.projects.iter().filter_map(|&p| st.project(p)));
    let Some(projects) = projects else {
        return Vec::new();
    };
    if key == "*" {
        return projects.map(|p| p.id.to_string()).collect();
    }
    let by_slug = format!("{org}/{key}");
    if !env_only && st.project_id(&by_slug).is_some() {
        return vec![by_slug];
    }
    projects
        .filter(|p| {
            p.attrs
                .environment
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(key))
        })
        .map(|p| p.id.to_string())
        .collect()
}

impl Graph {
    /// Defines a custom onboarding template. Templates are graph-wide policy, so only the
    /// system (`actor=None`) defines them.
    pub fn define_template(&self, def: &TemplateDef, actor: Option<&str>) -> Result<()> {
        self.mutate(actor, |st, _| {
            if let Some(a) = actor {
                return Err(denied(
                    a,
                    "template:define",
                    "",
                    None,
                    format!(
                        "{} cannot define template `{}`: templates are defined by the system (actor=None)",
                        email_key(a),
                        def.name
                    ),
                ));
            }
            if builtin(&def.name).is_some() || st.templates.contains_key(&def.name) {
                return Err(ConflictError::Exists(format!("template `{}`", def.name)).into());
            }
            Ok((vec![Change::TemplateDefined { def: def.clone() }], ()))
        })
    }

    /// Every onboarding template's name, built-in and custom, sorted.
    pub fn template_names(&self) -> Result<Vec<String>> {
        self.read(|st| Ok(template_names(st)))
    }

    /// One template, built-in or custom.
    pub fn template(&self, name: &str) -> Result<Option<TemplateDef>> {
        self.read(|st| Ok(template(st, name)))
    }

    /// Onboards a user with a template: adds the membership and every grant the template
    /// gives, as one atomic change. The actor needs the authority of each change.
    #[expect(
        clippy::too_many_lines,
        reason = "one plan read top to bottom: validation, authority, then the membership and each grant"
    )]
    pub fn onboard(&self, req: &Onboarding, actor: Option<&str>) -> Result<OnboardingReport> {
        let email = ids::email("user", &req.user)?;
        ids::org_slug("org", &req.org)?;
        let org = req.org.as_str();
        let now = self.now();
        if let Some(e) = req.expires {
            if e <= now {
                return Err(Error::invalid(
                    "expires",
                    e.to_iso(),
                    "an instant after now: access that ends before it starts grants nothing",
                ));
            }
        }
        self.mutate(actor, |st, at| {
            let t = template(st, &req.template).ok_or_else(|| {
                Error::invalid(
                    "template",
                    req.template.as_str(),
                    format!("one of {}", template_names(st).join(", ")),
                )
            })?;
            if t.requires_expiry && req.expires.is_none() {
                return Err(Error::rule(format!(
                    "template `{}` requires `expires`: {} access must end on a set date",
                    t.name,
                    if t.external { "a contractor's" } else { "this" }
                )));
            }
            check_owner_expiry(t.org_role, req.expires)?;
            let oid = st.need_org(org)?;

            // The projects and the role each gets: the highest of every source.
            let mut wanted: BTreeMap<String, ProjectRole> = BTreeMap::new();
            let mut manual = Vec::new();
            for p in &req.projects {
                let id = if p.contains('/') {
                    p.clone()
                } else {
                    format!("{org}/{p}")
                };
                let (p_org, _) = ids::project_id("projects", &id)?;
                if p_org != org {
                    return Err(Error::invalid(
                        "projects",
                        p.as_str(),
                        format!("a project of `{org}`"),
                    ));
                }
                st.need_project(&id)?;
                let slot = wanted.entry(id).or_insert(ProjectRole::Member);
                *slot = (*slot).max(ProjectRole::Member);
            }
            for (key, role) in &t.grants {
                let reached = resolve_key(st, org, oid, key, builtin(&t.name).is_some());
                if reached.is_empty() {
                    manual.push(format!(
                        "No project of {org} matches `{key}` in template `{}`: grant {} by hand where it applies.",
                        t.name,
                        role.as_str()
                    ));
                }
                for id in reached {
                    let slot = wanted.entry(id).or_insert(*role);
                    *slot = (*slot).max(*role);
                }
            }

            if let Some(a) = actor {
                authorize_invite(st, at, a, org, t.org_role)?;
                for id in wanted.keys() {
                    authorize_grant_to(st, at, a, &email, GrantTarget::Project(id), oid, id)?;
                }
            }
            if membership(st, &email, oid).is_some() {
                return Err(ConflictError::Exists(format!(
                    "membership of `{email}` in `{org}` (onboarding is for new members; use set_org_role, grant or update_member)"
                ))
                .into());
            }

            let reason = opt_text(req.reason.clone())
                .unwrap_or_else(|| format!("onboarded with the {} template", t.name));
            let until = req
                .expires
                .map(|e| format!(" until {}", e.to_date_or_iso()))
                .unwrap_or_default();
            let mut changes = vec![Change::MemberAdded {
                org: org.to_owned(),
                user: email.clone(),
                attrs: MemberAttrs {
                    role: t.org_role,
                    expires: req.expires,
                    reason: Some(reason.clone()),
                    reviewed: None,
                    external: t.external,
                },
                person: UserAttrs {
                    name: opt_text(req.name.clone()),
                    title: opt_text(req.title.clone()),
                },
            }];
            let mut done = vec![format!(
                "Added {email} to {org} as {}{}{until} (template `{}`).",
                if t.external { "external " } else { "" },
                t.org_role.as_str(),
                t.name
            )];
            for (id, role) in &wanted {
                changes.push(Change::GrantAdded {
                    user: email.clone(),
                    target: id.clone(),
                    attrs: GrantAttrs {
                        role: *role,
                        expires: req.expires,
                        reason: Some(reason.clone()),
                        review_by: None,
                    },
                });
                done.push(format!("Granted {} on {id}{until}.", role.as_str()));
            }

            if !t.external {
                manual.push(format!("Share the key dashboards with {email}."));
                manual.push(format!("Set up the weekly email digest for {email}."));
            }
            manual.push(format!("Add {email} to the relevant Slack channels."));
            if let Some(e) = req.expires {
                manual.push(format!(
                    "Set a reminder for the access expiry of {email} on {}.",
                    e.to_date_or_iso()
                ));
            }
            Ok((changes, OnboardingReport { done, manual }))
        })
    }
}
