//! PostHog's REST API export (SPEC 5.4): organization members and project explicit
//! members, so a team can audit the access of its real PostHog organization.
//!
//! Shapes read (PostHog's documented responses):
//! - `/api/organizations/:id/members/`: a page `{"count", "next", "previous", "results":
//!   [...]}`, a list of such pages, or a bare list of members. A member is
//!   `{"user": {"email", "first_name", "last_name", ...}, "level": 1 | 8 | 15, ...}`
//!   (member, admin, owner).
//! - `/api/projects/:id/explicit_members/`, per project name: the same envelopes, members
//!   with `"level": 1 | 8` (member, admin), given as `{project_name: members_json}`.
//!
//! Projects are created from their names (slugified), not restricted. The whole import is
//! one atomic batch of changes applied by the system.

use serde_json::Value;

use super::markdown::slugify;
use crate::error::JsonPathError;
use crate::graph::Graph;
use crate::model::{ProjectAttrs, Settings};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};

type Members<'v> = Vec<(String, &'v Value)>;

/// The members of a response: every `(path, member)` of a page, a list of pages or a bare
/// list.
fn members<'v>(value: &'v Value, path: &str) -> Result<Members<'v>, JsonPathError> {
    let page = |v: &'v Value, p: &str| -> Result<Members<'v>, JsonPathError> {
        match v.get("results") {
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("{p}.results[{i}]"), m))
                .collect()),
            Some(_) => Err(JsonPathError::new(
                format!("{p}.results"),
                "expected a list of members",
            )),
            None => Err(JsonPathError::new(
                p,
                "expected a page with `results`, a list of pages or a list of members",
            )),
        }
    };
    match value {
        Value::Object(_) => page(value, path),
        Value::Array(items)
            if items.iter().all(|v| v.get("results").is_some()) && !items.is_empty() =>
        {
            let mut out = Vec::new();
            for (i, p) in items.iter().enumerate() {
                out.extend(page(p, &format!("{path}[{i}]"))?);
            }
            Ok(out)
        }
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("{path}[{i}]"), m))
            .collect()),
        _ => Err(JsonPathError::new(
            path,
            "expected a page of members or a list",
        )),
    }
}

/// A member's lower-case email and display name.
fn person(m: &Value, path: &str) -> Result<(String, Option<String>), JsonPathError> {
    let user = m
        .get("user")
        .ok_or_else(|| JsonPathError::new(path, "missing `user`"))?;
    let email = user
        .get("email")
        .and_then(Value::as_str)
        .ok_or_else(|| JsonPathError::new(format!("{path}.user.email"), "missing email"))?;
    let email = crate::ids::email("email", email)
        .map_err(|e| JsonPathError::new(format!("{path}.user.email"), e.to_string()))?;
    let part = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let name = match (part("first_name"), part("last_name")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.to_owned()),
        (None, None) => None,
    };
    Ok((email, name))
}

fn level(m: &Value, path: &str) -> Result<i64, JsonPathError> {
    m.get("level")
        .and_then(Value::as_i64)
        .ok_or_else(|| JsonPathError::new(format!("{path}.level"), "missing or non-integer level"))
}

/// The changes that create org `org` (display name `name`) from PostHog's JSON.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the members, then each project's members"
)]
pub fn changes(
    members_json: &Value,
    org: &str,
    name: Option<&str>,
    projects: &[(String, Value)],
) -> Result<Vec<Change>, JsonPathError> {
    crate::ids::org_slug("org", org).map_err(|e| JsonPathError::new("$", e.to_string()))?;
    let mut people: Vec<(String, OrgRole, Option<String>)> = Vec::new();
    for (path, m) in members(members_json, "$")? {
        let (email, display) = person(m, &path)?;
        let role = match level(m, &path)? {
            1 => OrgRole::Member,
            8 => OrgRole::Admin,
            15 => OrgRole::Owner,
            other => {
                return Err(JsonPathError::new(
                    format!("{path}.level"),
                    format!("unknown organization level `{other}` (expected 1, 8 or 15)"),
                ))
            }
        };
        if people.iter().any(|(e, _, _)| *e == email) {
            return Err(JsonPathError::new(
                format!("{path}.user.email"),
                format!("`{email}` is listed twice"),
            ));
        }
        people.push((email, role, display));
    }
    if !people.iter().any(|(_, r, _)| *r == OrgRole::Owner) {
        return Err(JsonPathError::new(
            "$",
            "no owner: an organization needs a member with level 15",
        ));
    }
    let mut out = vec![Change::OrgCreated {
        org: org.to_owned(),
        attrs: OrgAttrs {
            name: name.unwrap_or(org).to_owned(),
            settings: Settings::new(),
        },
    }];
    // owners first, so that the org always has one
    people.sort_by_key(|(_, r, _)| std::cmp::Reverse(*r));
    for (email, role, display) in &people {
        out.push(Change::MemberAdded {
            org: org.to_owned(),
            user: email.clone(),
            attrs: MemberAttrs {
                role: *role,
                expires: None,
                reason: None,
                reviewed: None,
                external: false,
            },
            person: UserAttrs {
                name: display.clone(),
                title: None,
            },
        });
    }
    let mut slugs: Vec<String> = Vec::new();
    for (project_name, json) in projects {
        let at = format!("$[{}]", serde_json::Value::String(project_name.clone()));
        let slug = slugify(project_name);
        if !crate::ids::is_slug(&slug) || slugs.contains(&slug) {
            return Err(JsonPathError::new(
                at,
                format!("project name `{project_name}` gives no unique slug"),
            ));
        }
        slugs.push(slug.clone());
        let project = format!("{org}/{slug}");
        out.push(Change::ProjectCreated {
            project: project.clone(),
            attrs: ProjectAttrs {
                name: project_name.clone(),
                ..ProjectAttrs::default()
            },
            api_key: None,
        });
        for (path, m) in members(json, &at)? {
            let (email, _) = person(m, &path)?;
            let role = match level(m, &path)? {
                1 => ProjectRole::Member,
                8 => ProjectRole::Admin,
                other => {
                    return Err(JsonPathError::new(
                        format!("{path}.level"),
                        format!("unknown project level `{other}` (expected 1 or 8)"),
                    ))
                }
            };
            if !people.iter().any(|(e, _, _)| *e == email) {
                return Err(JsonPathError::new(
                    format!("{path}.user.email"),
                    format!("`{email}` is not a member of the organization"),
                ));
            }
            out.push(Change::GrantAdded {
                user: email,
                target: project.clone(),
                attrs: GrantAttrs {
                    role,
                    expires: None,
                    reason: None,
                    review_by: None,
                },
            });
        }
    }
    Ok(out)
}

/// A new graph holding the org described by PostHog's JSON, built directly
/// ([`Graph::built`]: no audit events, as for every loaded document).
pub fn import(
    members_json: &Value,
    org: &str,
    name: Option<&str>,
    projects: &[(String, Value)],
) -> crate::error::Result<Graph> {
    let changes = changes(members_json, org, name, projects)?;
    Graph::built(crate::time::Instant::now(), |apply| {
        changes.into_iter().try_for_each(apply)
    })
}
