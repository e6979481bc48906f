//! An org written back as a document, deterministically.

use std::borrow::Cow;

use super::escape::{write_text, write_title, Field};
use super::locate::{split_grant, ProjectIndex, Resolved};
use super::types::{slugify, Section};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::ids::{new_map, Map};
use crate::model::{Grant, MemberInfo, ProjectInfo};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::queries;
use crate::time::Instant;

/// Writes `org` of `graph` as a registry document (sections in SPEC order, people sorted
/// by email). Free text (names, titles, environments, reasons) is escaped where the
/// grammar cannot carry it as it is, so that it reads back as it was; text that has no
/// place in the grammar at all (an empty name, title, environment or reason) raises
/// `ValidationError` rather than make a document that does not read back.
pub fn export(graph: &Graph, org: &str) -> Result<String> {
    graph.read(|st| {
        let oid = st.need_org(org)?;
        let name = st.org(oid).map(|o| o.name.clone()).unwrap_or_default();
        let projects = queries::list_projects(st, Some(org))?;
        let members = queries::list_members(st, org)?;
        // A project's rank in `projects` (sorted by id) by its record id.
        let rank: Map<u32, usize> = projects
            .iter()
            .enumerate()
            .filter_map(|(i, p)| st.project_id(&p.id).map(|pid| (pid, i)))
            .collect();
        // The org's grants straight from the membership records: listing every grant of
        // the graph would cost the whole graph per org.
        let mut grants: Map<&str, Vec<Granted>> = new_map();
        for &uid in st.org(oid).map(|o| &o.members).into_iter().flatten() {
            let Some(u) = st.user(uid) else { continue };
            let Some(m) = u.membership(oid) else { continue };
            let mut mine: Vec<Granted> = Vec::with_capacity(m.grants.len() + 1);
            if let Some(g) = &m.org_wide {
                mine.push(Granted::new(None, g)); // `org/*` sorts before `org/<slug>`
            }
            let mut listed: Vec<Granted> = m
                .grants
                .iter()
                .filter_map(|g| rank.get(&g.project).map(|&r| Granted::new(Some(r), g)))
                .collect();
            listed.sort_by_key(|g| g.project);
            mine.extend(listed);
            grants.insert(&u.email, mine);
        }
        write(&name, &projects, &members, &grants)
    })
}

/// One grant of a member, as export needs it.
struct Granted<'s> {
    /// Rank in the org's project list; `None` for `org/*`.
    project: Option<usize>,
    role: ProjectRole,
    expires: Option<Instant>,
    reason: Option<&'s str>,
}

impl<'s> Granted<'s> {
    fn new(project: Option<usize>, g: &'s Grant) -> Self {
        Granted {
            project,
            role: g.role,
            expires: g.expires(),
            reason: g.reason(),
        }
    }
}

fn write(
    name: &str,
    projects: &[ProjectInfo],
    members: &[MemberInfo],
    grants: &Map<&str, Vec<Granted<'_>>>,
) -> Result<String> {
    let mut out = String::with_capacity(64 * (members.len() + projects.len() + 1));
    push_line(
        &mut out,
        &[
            "# ",
            &text("org name", name, Field::OrgName)?,
            " Access Registry",
        ],
    );
    let mut index = ProjectIndex::default();
    let slugs: Vec<&str> = projects
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let slug = p.id.split_once('/').map_or(p.id.as_str(), |(_, s)| s);
            index.add(i, slug, &p.attrs.name);
            slug
        })
        .collect();
    // How each project is named in grants: (name, slug) when its name reads back to it as
    // it is (see `grant_target` for a name with a `:`), else (slug, slug).
    let mut grant_names: Vec<(&str, &str)> = Vec::with_capacity(projects.len());
    if !projects.is_empty() {
        out.push_str("## Projects\n");
    }
    for (i, (p, slug)) in projects.iter().zip(&slugs).enumerate() {
        let name = p.attrs.name.as_str();
        let pname = text("project name", name, Field::ProjectName)?;
        let by_name = matches!(pname, Cow::Borrowed(_))
            && matches!(index.resolve(name), Resolved::Project(j) if j == i);
        grant_names.push((if by_name { name } else { slug }, slug));
        let mut attrs = Vec::new();
        if slugify(name) != *slug {
            attrs.push(format!("slug {slug}"));
        }
        if let Some(env) = &p.attrs.environment {
            attrs.push(format!(
                "env {}",
                text("environment", env, Field::Environment)?
            ));
        }
        if p.attrs.restricted {
            attrs.push("restricted".to_owned());
        }
        if p.attrs.pii {
            attrs.push("pii".to_owned());
        }
        if let Some(r) = p.attrs.default_role {
            attrs.push(format!("default {}", r.as_str()));
        }
        if attrs.is_empty() && !pname.ends_with(')') {
            push_line(&mut out, &["- ", &pname]);
        } else {
            push_line(&mut out, &["- ", &pname, " (", &attrs.join(", "), ")"]);
        }
    }
    let none = Vec::new();
    let mut items: Vec<String> = Vec::new();
    for section in Section::ALL {
        let mut first = true;
        for m in members {
            let mine = grants.get(m.user.as_str()).unwrap_or(&none);
            if section_of(m, mine) != section {
                continue;
            }
            if first {
                push_line(&mut out, &["## ", section.heading()]);
                first = false;
            }
            person_items(m, section, &mut items)?;
            push_item(&mut out, &["- ", &m.user], &items);
            if section == Section::Viewers {
                continue; // the implied `org/*` viewer grant
            }
            for g in mine {
                items.clear();
                if let Some(e) = g.expires {
                    items.push(format!("expires {}", e.to_date_or_iso()));
                }
                if let Some(r) = g.reason {
                    items.push(format!("reason {}", text("reason", r, Field::Reason)?));
                }
                let target = match g.project {
                    None => "All projects",
                    Some(r) => grant_names
                        .get(r)
                        .map_or("", |&named| grant_target(named, g.role, &items)),
                };
                push_item(&mut out, &["  - ", target, ": ", g.role.as_str()], &items);
            }
        }
    }
    Ok(out)
}

/// The items of a person's line (title, expires, reviewed, external, reason) into `items`.
fn person_items(m: &MemberInfo, section: Section, items: &mut Vec<String>) -> Result<()> {
    items.clear();
    if let Some(t) = &m.title {
        if t.is_empty() {
            // `()` would read as no title, and `\` (what `write_title` makes of it)
            // escapes the comma after it, taking the next item into the title.
            return Err(Error::invalid(
                "title",
                t,
                "non-empty text, so the Markdown registry can carry it",
            ));
        }
        items.push(write_title(t).into_owned());
    }
    if let Some(e) = m.expires {
        items.push(format!("expires {}", e.to_date_or_iso()));
    }
    if let Some(d) = m.reviewed {
        items.push(format!("reviewed {d}"));
    }
    if m.external && section != Section::External {
        items.push("external".to_owned());
    }
    if let Some(r) = &m.reason {
        items.push(format!("reason {}", text("reason", r, Field::Reason)?));
    }
    Ok(())
}

/// How a grant line names its project, given its name (if grants may use it) and slug:
/// a grant line splits at the first `:` followed by a role and what may follow it, so a
/// name with a `:` of its own is used only if this very line reads back to it.
fn grant_target<'n>(
    (name, slug): (&'n str, &'n str),
    role: ProjectRole,
    items: &[String],
) -> &'n str {
    if !name.contains(':') {
        return name;
    }
    let mut line = String::new();
    push_item(&mut line, &[name, ": ", role.as_str()], items);
    if split_grant(line.trim_end()).is_some_and(|s| s.target == name) {
        name
    } else {
        slug
    }
}

fn push_line(out: &mut String, parts: &[&str]) {
    for p in parts {
        out.push_str(p);
    }
    out.push('\n');
}

/// A line made of `head`, then ` (items, ...)` when there are items.
fn push_item(out: &mut String, head: &[&str], items: &[String]) {
    for p in head {
        out.push_str(p);
    }
    if let Some((first, rest)) = items.split_first() {
        out.push_str(" (");
        out.push_str(first);
        for i in rest {
            out.push_str(", ");
            out.push_str(i);
        }
        out.push(')');
    }
    out.push('\n');
}

fn section_of(m: &MemberInfo, grants: &[Granted<'_>]) -> Section {
    match m.role {
        OrgRole::Owner => Section::Owners,
        OrgRole::Admin => Section::Admins,
        OrgRole::Member if m.external => Section::External,
        OrgRole::Member => match grants {
            [g] if g.project.is_none()
                && g.role == ProjectRole::Viewer
                && g.expires.is_none()
                && g.reason.is_none() =>
            {
                Section::Viewers
            }
            _ => Section::Members,
        },
    }
}

/// `value` as written in `kind`'s place ([`write_text`]), refused when empty: the grammar
/// has no way to write an empty name, environment or reason.
fn text<'t>(field: &'static str, value: &'t str, kind: Field) -> Result<Cow<'t, str>> {
    if value.is_empty() {
        return Err(Error::invalid(
            field,
            value,
            "non-empty text, so the Markdown registry can carry it",
        ));
    }
    Ok(write_text(value, kind))
}
