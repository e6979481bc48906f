//! A parsed document into a graph: one atomic batch of elementary changes applied by the
//! system.

use super::types::Registry;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::model::Settings;
use crate::roles::OrgRole;
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};

/// Creates the registry's org, projects, members and grants in `graph` as the system, in
/// one atomic step (`Graph::apply_batch`): a registry that does not fit the graph (the
/// org exists already, ...) changes nothing. The recorded state is restored as it is,
/// expired memberships and grants included.
pub fn import(graph: &Graph, registry: &Registry) -> Result<()> {
    graph.apply_batch(&changes(registry)?, None)
}

/// A new graph holding the registry's org, built directly ([`Graph::built`]): a loaded
/// document is where the graph's history starts, so a registry of a million grants costs
/// no million audit events. (Importing a registry into an existing graph, [`import`], is
/// a change and is audited.)
pub fn load(reg: &Registry, now: crate::time::Instant) -> Result<Graph> {
    Graph::built(now, |apply| each_change(reg, apply))
}

/// The elementary changes that create `reg` in an empty org.
pub fn changes(reg: &Registry) -> Result<Vec<Change>> {
    // Sized once: a registry of a large org makes hundreds of thousands of changes, and
    // each doubling of the vector is a large reallocation and copy.
    let grants: usize = reg.people.iter().map(|p| p.grants.len()).sum();
    let mut out = Vec::with_capacity(1 + reg.projects.len() + reg.people.len() + grants);
    each_change(reg, &mut |c| {
        out.push(c);
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with each elementary change that creates `reg` in an empty org, in order;
/// a registry that breaks a structural rule fails before the first call.
fn each_change(reg: &Registry, f: &mut dyn FnMut(Change) -> Result<()>) -> Result<()> {
    if !reg.people.iter().any(|p| p.role == OrgRole::Owner) {
        return Err(Error::rule(format!(
            "registry `{}` names no owner: `## Owners` needs at least one person",
            reg.org
        )));
    }
    for p in &reg.projects {
        if p.restricted && p.default_role.is_some() {
            return Err(Error::rule(format!(
                "restricted project `{}` cannot have a default role",
                p.name
            )));
        }
    }
    for p in &reg.people {
        if p.role == OrgRole::Owner && p.expires.is_some() {
            return Err(Error::rule(format!(
                "`{}` is an owner and an owner membership cannot expire",
                p.email
            )));
        }
    }
    let org = reg.org.as_str();
    f(Change::OrgCreated {
        org: org.to_owned(),
        attrs: OrgAttrs {
            name: reg.name.clone(),
            settings: crate::model::Settings::new(),
        },
    })?;
    for p in &reg.projects {
        f(Change::ProjectCreated {
            project: format!("{org}/{}", p.slug),
            attrs: p.attrs(Settings::new()),
            api_key: None,
        })?;
    }
    for p in &reg.people {
        f(Change::MemberAdded {
            org: org.to_owned(),
            user: p.email.clone(),
            attrs: MemberAttrs {
                role: p.role,
                expires: p.expires,
                reason: p.reason.clone(),
                reviewed: p.reviewed,
                external: p.external,
            },
            person: UserAttrs {
                name: None,
                title: p.title.clone(),
            },
        })?;
    }
    for p in &reg.people {
        for g in &p.grants {
            f(Change::GrantAdded {
                user: p.email.clone(),
                target: reg.target(&g.target),
                attrs: GrantAttrs {
                    role: g.role,
                    expires: g.expires,
                    reason: g.reason.clone(),
                    review_by: None,
                },
            })?;
        }
    }
    Ok(())
}
