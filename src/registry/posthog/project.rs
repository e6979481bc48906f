//! One project in PostHog's JSON: the project object, its explicit members, its
//! access-control rules and its members' access. Rules on tools and objects, and data
//! PostHog itself ignores, go to the report. Every record keeps its JSON path.

use serde_json::Value;

use super::listing::{listing, Item};
use super::org::{id_of, instant_at, level, person_of, People, Roles};
use super::report::{source, Notes};
use crate::error::JsonPathError;
use crate::ids::{new_map, Map};
use crate::roles::ProjectRole;
use crate::time::Instant;

/// Whom a project rule concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Subject {
    /// Everyone in the project: the project's default.
    Everyone,
    /// One member.
    Member(usize),
    /// The holders of a role.
    Role(usize),
}

/// A project-level access-control rule (or an explicit member read as the RBAC migration
/// turns it into one).
pub(super) struct Rule {
    /// `None` is PostHog's `"none"`: no access.
    pub level: Option<ProjectRole>,
    /// Whom it concerns.
    pub subject: Subject,
    /// `created_at` (or the explicit row's `joined_at`).
    pub created: Option<Instant>,
}

/// One project as given.
pub(super) struct ProjectIn {
    /// The name given (the key of `projects`).
    pub name: String,
    /// `$["Name"]`.
    pub path: String,
    /// The project object's legacy `access_control` flag, when given.
    pub access_control: Option<bool>,
    /// The explicit members given, and their listing's path.
    pub rows: Option<(Vec<Row>, String)>,
    /// The project rules given, and their listing's path.
    pub rules: Option<(Vec<Rule>, String)>,
}

/// An explicit project member.
pub(super) struct Row {
    /// The member.
    pub person: usize,
    /// 1 → member, 8 → admin.
    pub role: ProjectRole,
    /// `joined_at`.
    pub joined: Option<Instant>,
    /// Where it is listed.
    pub path: String,
}

const PROJECT_KEYS: [&str; 4] = [
    "project",
    "explicit_members",
    "access_controls",
    "access_control_members",
];

/// A project's value: the older shape (its explicit members) or the parts given.
pub(super) struct Parts<'v> {
    project: Option<&'v Value>,
    explicit: Option<(&'v Value, String)>,
    rules: Option<&'v Value>,
    access: Option<&'v Value>,
}

/// The parts of a project's value: `[...]` (or a page) is the older shape, its explicit
/// members; an object names its parts.
pub(super) fn parts<'v>(value: &'v Value, path: &str) -> Result<Parts<'v>, JsonPathError> {
    match value {
        Value::Array(_) => Ok(Parts {
            project: None,
            explicit: Some((value, path.to_owned())),
            rules: None,
            access: None,
        }),
        Value::Object(o) if o.contains_key("results") => Ok(Parts {
            project: None,
            explicit: Some((value, path.to_owned())),
            rules: None,
            access: None,
        }),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| !PROJECT_KEYS.contains(&k.as_str())) {
                return Err(JsonPathError::new(
                    format!("{path}.{k}"),
                    format!(
                        "unknown key `{}` (expected {})",
                        k.escape_debug(),
                        PROJECT_KEYS.join(", ")
                    ),
                ));
            }
            let get = |k: &str| o.get(k).filter(|v| !v.is_null());
            Ok(Parts {
                project: get("project"),
                explicit: get("explicit_members").map(|v| (v, format!("{path}.explicit_members"))),
                rules: get("access_controls"),
                access: get("access_control_members"),
            })
        }
        _ => Err(JsonPathError::new(
            path,
            format!(
                "expected a project's explicit members (a list) or an object with any of {}",
                PROJECT_KEYS.join(", ")
            ),
        )),
    }
}

/// First pass over a project: who its members' access listing says they are and which
/// roles they hold (roles are organization-wide, so every project's rules need them).
pub(super) fn member_access(
    parts: &Parts<'_>,
    path: &str,
    people: &mut People,
    roles: &mut Roles,
    notes: &mut Notes,
) -> Result<(), JsonPathError> {
    let Some(value) = parts.access else {
        return Ok(());
    };
    roles.known = true;
    let l = listing(value, &format!("{path}.access_control_members"), "members")?;
    for Item { path: at, value: m } in &l.items {
        let id = id_of(m.get("organization_membership_id"));
        let email = match m
            .get("user")
            .and_then(|u| u.get("email"))
            .and_then(Value::as_str)
        {
            Some(e) => Some(
                crate::ids::email("email", e)
                    .map_err(|e| JsonPathError::new(format!("{at}.user.email"), e.to_string()))?,
            ),
            None => None,
        };
        let Some(p) = people.find(id.as_deref(), email.as_deref()) else {
            notes.ignored(
                at,
                email.as_deref(),
                "a member whose access is listed but who is not in the members listing".to_owned(),
                source::ACCESS_MEMBERS,
            );
            continue;
        };
        if people.guest(p) {
            continue;
        }
        if let Some(id) = &id {
            people.learn_id(p, id);
        }
        if let Some(Value::Array(ids)) = m.get("role_ids") {
            for r in ids {
                if let Some(r) = id_of(Some(r)) {
                    roles.hold(&r, p);
                }
            }
        }
        if let Some(Value::Object(resources)) = m.get("resources") {
            for (resource, entry) in resources {
                if let Some(level) = entry.get("access_level").and_then(Value::as_str) {
                    notes.unexpressed(
                        &format!("{at}.resources.{resource}"),
                        Some(people.email(p)),
                        format!(
                            "`{}` on every {} of the project (the member's own rule): PostHog's per-tool access levels cannot be expressed, a project role covers every tool",
                            level.escape_debug(),
                            resource.escape_debug()
                        ),
                        source::ACCESS_MEMBERS,
                    );
                }
            }
        }
    }
    Ok(())
}

/// Second pass: the project as given.
pub(super) fn project(
    name: &str,
    parts: &Parts<'_>,
    path: &str,
    people: &People,
    roles: &Roles,
    notes: &mut Notes,
) -> Result<ProjectIn, JsonPathError> {
    let (id, access_control) = match parts.project {
        None => (None, None),
        Some(Value::Object(o)) => {
            let flag = match o.get("access_control") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => {
                    return Err(JsonPathError::new(
                        format!("{path}.project.access_control"),
                        "expected true or false",
                    ))
                }
            };
            (id_of(o.get("id")), flag)
        }
        Some(_) => {
            return Err(JsonPathError::new(
                format!("{path}.project"),
                "expected the project object of `/api/projects/:id/`",
            ))
        }
    };
    let rows = match &parts.explicit {
        None => None,
        Some((value, at)) => Some((explicit_rows(value, at, people, notes)?, at.clone())),
    };
    let given = match parts.rules {
        None => None,
        Some(value) => {
            let at = format!("{path}.access_controls");
            Some((rules(value, &at, id.as_deref(), people, roles, notes)?, at))
        }
    };
    Ok(ProjectIn {
        name: name.to_owned(),
        path: path.to_owned(),
        access_control,
        rows,
        rules: given,
    })
}

/// `/api/projects/:id/explicit_members/`.
fn explicit_rows(
    value: &Value,
    path: &str,
    people: &People,
    notes: &mut Notes,
) -> Result<Vec<Row>, JsonPathError> {
    let l = listing(value, path, "explicit members")?;
    let mut rows: Vec<Row> = Vec::with_capacity(l.items.len());
    let mut seen: Map<usize, usize> = new_map();
    for Item { path, value: m } in &l.items {
        let (email, _) = person_of(m, path)?;
        let role = match level(m, path)? {
            1 => ProjectRole::Member,
            8 => ProjectRole::Admin,
            other => {
                return Err(JsonPathError::new(
                    format!("{path}.level"),
                    format!("unknown project level `{other}` (expected 1 or 8)"),
                ))
            }
        };
        let Some(p) = people.find(None, Some(&email)) else {
            return Err(JsonPathError::new(
                format!("{path}.user.email"),
                format!("`{email}` is not a member of the organization"),
            ));
        };
        if let Some(parent) = id_of(m.get("parent_membership_id")) {
            if let Some(other) = people.find(Some(&parent), None).filter(|&o| o != p) {
                return Err(JsonPathError::new(
                    format!("{path}.parent_membership_id"),
                    format!(
                        "conflict: membership `{}` is `{}`, not `{email}`",
                        parent.escape_debug(),
                        people.email(other)
                    ),
                ));
            }
        }
        if people.guest(p) {
            continue;
        }
        let joined = instant_at(m, "joined_at", path)?;
        if let Some(first) = seen.get(&p).and_then(|&i| rows.get_mut(i)) {
            // listed twice (overlapping pages): the higher level stands
            first.role = first.role.max(role);
        } else {
            seen.insert(p, rows.len());
            rows.push(Row {
                person: p,
                role,
                joined,
                path: path.clone(),
            });
        }
    }
    l.check_complete(rows.len(), "explicit members", source::EXPLICIT, notes)?;
    Ok(rows)
}

/// The rule objects of an access-controls answer: `{"access_controls": [...], ...}`, a
/// list of such answers, or a bare list of rules.
fn rule_items<'v>(value: &'v Value, path: &str) -> Result<Vec<Item<'v>>, JsonPathError> {
    let of_answer = |v: &'v Value, p: &str| -> Result<Vec<Item<'v>>, JsonPathError> {
        match v.get("access_controls") {
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, value)| Item {
                    path: format!("{p}.access_controls[{i}]"),
                    value,
                })
                .collect()),
            _ => Err(JsonPathError::new(
                format!("{p}.access_controls"),
                "expected a list of access-control rules",
            )),
        }
    };
    match value {
        Value::Object(_) => of_answer(value, path),
        Value::Array(items) if items.iter().any(|v| v.get("access_controls").is_some()) => {
            let mut out = Vec::new();
            for (i, v) in items.iter().enumerate() {
                out.extend(of_answer(v, &format!("{path}[{i}]"))?);
            }
            Ok(out)
        }
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Item {
                path: format!("{path}[{i}]"),
                value,
            })
            .collect()),
        _ => Err(JsonPathError::new(
            path,
            "expected the answer of `/api/projects/:id/access_controls` or a list of rules",
        )),
    }
}

/// The project-level rules of `/api/projects/:id/access_controls`; rules on tools and
/// objects go to the report.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over a project's access-control rules, each shape PostHog writes checked in turn"
)]
fn rules(
    value: &Value,
    path: &str,
    project_id: Option<&str>,
    people: &People,
    roles: &Roles,
    notes: &mut Notes,
) -> Result<Vec<Rule>, JsonPathError> {
    let mut out = Vec::new();
    for Item { path, value: r } in rule_items(value, path)? {
        let text = |k: &str| r.get(k).and_then(Value::as_str);
        let Some(level_text) = text("access_level") else {
            return Err(JsonPathError::new(
                format!("{path}.access_level"),
                "missing access level",
            ));
        };
        let Some(resource) = text("resource") else {
            return Err(JsonPathError::new(
                format!("{path}.resource"),
                "missing resource",
            ));
        };
        let resource_id = id_of(r.get("resource_id"));
        let member = id_of(r.get("organization_member"));
        let role = id_of(r.get("role"));
        let created = instant_at(r, "created_at", &path)?;
        let person = member.as_deref().and_then(|m| people.find(Some(m), None));
        let role_at = role.as_deref().and_then(|id| roles.find(id));
        let who = match (&member, person, &role, role_at) {
            (Some(_), Some(p), _, _) => people.email(p).to_owned(),
            (Some(m), None, _, _) => format!("organization membership `{}`", m.escape_debug()),
            (None, _, Some(_), Some(i)) => format!("role `{}`", roles.label(i).escape_debug()),
            (None, _, Some(r), None) => format!("role `{}`", r.escape_debug()),
            (None, _, None, _) => "everyone in the project".to_owned(),
        };
        let subject = person
            .map(|p| people.email(p).to_owned())
            .or_else(|| role_at.map(|i| roles.label(i).to_owned()));
        if resource != "project" {
            let message = match &resource_id {
                None => format!(
                    "`{}` on every {} of the project for {who}: PostHog's per-tool access levels cannot be expressed, a project role covers every tool",
                    level_text.escape_debug(),
                    resource.escape_debug()
                ),
                Some(id) => format!(
                    "`{}` on {} `{}` for {who}: a rule on a single object cannot be expressed",
                    level_text.escape_debug(),
                    resource.escape_debug(),
                    id.escape_debug()
                ),
            };
            notes.unexpressed(&path, subject.as_deref(), message, source::RULES);
            continue;
        }
        match (&resource_id, project_id) {
            (Some(rid), Some(pid)) if rid != pid => {
                notes.ignored(
                    &path,
                    subject.as_deref(),
                    format!(
                        "a rule on project `{}`, not on this one (`{}`)",
                        rid.escape_debug(),
                        pid.escape_debug()
                    ),
                    source::RULES,
                );
                continue;
            }
            (None, _) => {
                notes.ignored(
                    &path,
                    subject.as_deref(),
                    "a project rule without `resource_id`: PostHog's resolver reads only rules on the project itself".to_owned(),
                    source::RULES,
                );
                continue;
            }
            _ => {}
        }
        let level = match level_text {
            "none" => None,
            "member" => Some(ProjectRole::Member),
            "admin" => Some(ProjectRole::Admin),
            other => {
                return Err(JsonPathError::new(
                    format!("{path}.access_level"),
                    format!(
                        "unknown project access level `{}` (expected none, member or admin)",
                        other.escape_debug()
                    ),
                ))
            }
        };
        let subject = match (&member, person, &role, role_at) {
            (Some(_), Some(p), _, _) if people.guest(p) => continue,
            (Some(_), Some(p), _, _) => Subject::Member(p),
            (Some(m), None, _, _) => {
                notes.ignored(
                    &path,
                    None,
                    format!(
                        "a rule for organization membership `{}`, which the members listing does not have (an inactive user, or a missing page)",
                        m.escape_debug()
                    ),
                    source::RULES,
                );
                continue;
            }
            (None, _, Some(_), Some(i)) => Subject::Role(i),
            (None, _, Some(r), None) if roles.known => {
                notes.ignored(
                    &path,
                    None,
                    format!(
                        "a rule for role `{}`, which no listing given says anyone holds",
                        r.escape_debug()
                    ),
                    source::RULES,
                );
                continue;
            }
            (None, _, Some(r), None) => {
                notes.incomplete(
                    &path,
                    None,
                    format!(
                        "`{level_text}` for role `{}`, but no `roles=` (or `access_control_members`) says who holds the role: its members are resolved without it",
                        r.escape_debug()
                    ),
                    source::RULES,
                )?;
                continue;
            }
            (None, _, None, _) => Subject::Everyone,
        };
        out.push(Rule {
            level,
            subject,
            created,
        });
    }
    Ok(out)
}
