//! The import itself: the changes that create the org, applied into a new graph.

use super::report::{project_path, Input, Notes, Options, Report, Timed};
use super::{org, project, resolve};
use crate::error::JsonPathError;
use crate::graph::Graph;
use crate::model::{ProjectAttrs, Settings};
use crate::registry::markdown::slugify;
use crate::state::Stamp;
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, State, UserAttrs};
use crate::time::Instant;

/// The changes that create org `org` from PostHog's JSON, and the report.
#[expect(
    clippy::too_many_lines,
    reason = "one pass: the org, its members, then each project's rules as PostHog's resolver reads them"
)]
pub fn changes(
    input: &Input,
    org: &str,
    name: Option<&str>,
    options: Options,
) -> Result<(Vec<Timed>, Report), JsonPathError> {
    crate::ids::org_slug("org", org).map_err(|e| JsonPathError::new("$", e.to_string()))?;
    let mut notes = Notes {
        list: Vec::new(),
        strict: options.strict,
    };
    let mut people = org::people(&input.members, &mut notes)?;
    if !people
        .list
        .iter()
        .any(|p| !p.guest && p.role == crate::roles::OrgRole::Owner)
    {
        return Err(JsonPathError::new(
            "$",
            "no owner: an organization needs a member with level 15",
        ));
    }
    let mut roles = org::roles(input.roles.as_ref(), &people, &mut notes)?;

    let mut slugs = crate::ids::new_map::<String, ()>();
    let mut shaped = Vec::with_capacity(input.projects.len());
    for (project_name, value) in &input.projects {
        let path = project_path(project_name);
        let slug = slugify(project_name);
        if !crate::ids::is_slug(&slug) || slugs.insert(slug.clone(), ()).is_some() {
            return Err(JsonPathError::new(
                path,
                format!("project name `{project_name}` gives no unique slug"),
            ));
        }
        let parts = project::parts(value, &path)?;
        project::member_access(&parts, &path, &mut people, &mut roles, &mut notes)?;
        shaped.push((project_name, slug, path, parts));
    }

    let mut out = Vec::with_capacity(people.list.len() + 2 * shaped.len() + 1);
    out.push((
        Change::OrgCreated {
            org: org.to_owned(),
            attrs: OrgAttrs {
                name: name.unwrap_or(org).to_owned(),
                settings: Settings::new(),
            },
        },
        None,
    ));
    // owners first, so that the org always has one
    let mut order: Vec<usize> = (0..people.list.len()).collect();
    order.sort_by_key(|&i| people.get(i).map(|p| std::cmp::Reverse(p.role)));
    for i in order {
        let Some(p) = people.get(i).filter(|p| !p.guest) else {
            continue;
        };
        out.push((
            Change::MemberAdded {
                org: org.to_owned(),
                user: p.email.clone(),
                attrs: MemberAttrs {
                    role: p.role,
                    expires: None,
                    reason: None,
                    reviewed: None,
                    external: false,
                },
                person: UserAttrs {
                    name: p.name.clone(),
                    title: None,
                },
            },
            p.joined,
        ));
    }
    for (project_name, slug, path, parts) in &shaped {
        let given = project::project(project_name, parts, path, &people, &roles, &mut notes)?;
        let written = resolve::project(&given, &people, &roles, &mut notes);
        let project = format!("{org}/{slug}");
        out.push((
            Change::ProjectCreated {
                project: project.clone(),
                attrs: ProjectAttrs {
                    name: given.name.clone(),
                    restricted: written.restricted,
                    default_role: written.default_role,
                    ..ProjectAttrs::default()
                },
                api_key: None,
            },
            None,
        ));
        for (i, role, reason, at) in written.grants {
            let Some(p) = people.get(i) else { continue };
            out.push((
                Change::GrantAdded {
                    user: p.email.clone(),
                    target: project.clone(),
                    attrs: GrantAttrs {
                        role,
                        expires: None,
                        reason,
                        review_by: None,
                    },
                },
                at,
            ));
        }
    }
    Ok((out, Report { notes: notes.list }))
}

/// A new graph holding the org described by PostHog's JSON, and the report. Built
/// directly, without audit events, as every loaded document is; each membership and
/// grant keeps the instant PostHog gives it as its `granted_at`.
pub fn import(
    input: &Input,
    org: &str,
    name: Option<&str>,
    options: Options,
) -> crate::error::Result<(Graph, Report)> {
    let (changes, report) = changes(input, org, name, options)?;
    let now = Instant::now();
    let mut st = State::new();
    for (change, at) in &changes {
        st.apply(
            change,
            Stamp {
                at: at.unwrap_or(now),
                actor: None,
            },
        )?;
    }
    Ok((Graph::from_state(st), report))
}

/// [`import`] from JSON text (see [`Input::from_text`]).
pub fn import_text(
    members: &str,
    projects: &[(String, String)],
    roles: Option<&str>,
    org: &str,
    name: Option<&str>,
    options: Options,
) -> crate::error::Result<(Graph, Report)> {
    let input = Input::from_text(members, projects, roles)?;
    import(&input, org, name, options)
}
