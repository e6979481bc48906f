//! PostHog's REST API export (SPEC 5.4, issue 20): an organization's members, its roles
//! and, per project, the project object, its access-control rules, its members' access
//! and its (legacy) explicit members — imported so that every member gets, on every
//! project, the role PostHog's own resolver gives. `docs/posthog.md` cites the PostHog
//! source each rule comes from.
//!
//! - [`listing`]: pages, lists of pages and bare lists; pages not followed, counts that
//!   disagree.
//! - [`org`]: the members (deduplicated by membership id) and the roles.
//! - [`project`]: a project's object, explicit members, rules and members' access.
//! - [`resolve`]: PostHog's resolver, and how its answers are written as `restricted`,
//!   a default role and grants.
//!
//! What the model cannot hold (per-tool and per-object rules, guests, defaults with
//! exceptions) and what PostHog itself ignores go to the [`Report`], each note with the
//! JSON path and the PostHog object it comes from. Join dates become `granted_at`. The
//! whole import builds a new graph or fails.

mod listing;
mod org;
mod project;
mod resolve;

use serde_json::Value;

use super::markdown::slugify;
use super::JsonPathError;
use crate::graph::state::Stamp;
use crate::graph::{Change, GrantAttrs, Graph, MemberAttrs, OrgAttrs, State, UserAttrs};
use crate::model::{ProjectAttrs, Settings};
use crate::time::Instant;

/// The PostHog objects notes come from.
pub mod source {
    /// The members listing.
    pub const MEMBERS: &str =
        "organization members (GET /api/organizations/:id/members/, OrganizationMemberSerializer)";
    /// A guest membership.
    pub const GUEST: &str = "guest membership (OrganizationMembership.is_guest, GuestResourceGrant; GET /api/organizations/:id/members/?include_guests=true)";
    /// An access-control rule.
    pub const RULES: &str =
        "AccessControl rule (GET /api/projects/:id/access_controls, AccessControlSerializer)";
    /// An explicit project member.
    pub const EXPLICIT: &str = "explicit project member (GET /api/projects/:id/explicit_members/, ExplicitTeamMemberSerializer)";
    /// The roles listing.
    pub const ROLES: &str = "roles (GET /api/organizations/:id/roles/, RoleSerializer)";
    /// The project object.
    pub const PROJECT: &str = "project (GET /api/projects/:id/, Team.access_control)";
    /// The members' access to a project.
    pub const ACCESS_MEMBERS: &str =
        "members' project access (GET /api/projects/:id/access_control_members)";
}

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteKind {
    /// The JSON given is not all there is (a page not followed, a count that disagrees, a
    /// role rule nobody says who holds): answers may be wrong. `strict` raises instead.
    Incomplete,
    /// PostHog access our model cannot hold, left out or written another way.
    Unexpressed,
    /// Data PostHog's resolver does not read either.
    Ignored,
    /// A fact the JSON does not state, inferred from PostHog's rules.
    Assumed,
}

impl NoteKind {
    /// `incomplete`, `unexpressed`, `ignored` or `assumed`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Incomplete => "incomplete",
            NoteKind::Unexpressed => "unexpressed",
            NoteKind::Ignored => "ignored",
            NoteKind::Assumed => "assumed",
        }
    }
}

/// One entry of the import report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// What it is about.
    pub kind: NoteKind,
    /// The member (email), role or nobody it concerns.
    pub subject: Option<String>,
    /// A sentence.
    pub message: String,
    /// The JSON path of the data (`$.results[6]`, `$["Web"].access_controls[3]`).
    pub path: String,
    /// The PostHog object (endpoint and serializer) the data is.
    pub source: &'static str,
}

/// What the import could not express, ignored, assumed, or found missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// In the order met.
    pub notes: Vec<Note>,
}

/// Import options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Raise on an incomplete listing instead of noting it.
    pub strict: bool,
}

/// The JSON of PostHog's API, parsed.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// `/api/organizations/:id/members/`.
    pub members: Value,
    /// Per project name: its explicit members (the older shape) or an object with any
    /// of `project`, `explicit_members`, `access_controls`, `access_control_members`.
    pub projects: Vec<(String, Value)>,
    /// `/api/organizations/:id/roles/`.
    pub roles: Option<Value>,
}

impl Input {
    /// Parses JSON text: the members, each project's value, the roles. A syntax error
    /// names the argument: `$` (members), `$["Name"]` (a project), `roles`.
    pub fn from_text(
        members: &str,
        projects: &[(String, String)],
        roles: Option<&str>,
    ) -> Result<Input, JsonPathError> {
        let parse = |text: &str, path: String| {
            serde_json::from_str::<Value>(text).map_err(|e| JsonPathError::new(path, e.to_string()))
        };
        Ok(Input {
            members: parse(members, "$".to_owned())?,
            projects: projects
                .iter()
                .map(|(name, text)| Ok((name.clone(), parse(text, project_path(name))?)))
                .collect::<Result<_, JsonPathError>>()?,
            roles: roles.map(|r| parse(r, "roles".to_owned())).transpose()?,
        })
    }
}

fn project_path(name: &str) -> String {
    format!("$[{}]", Value::String(name.to_owned()))
}

/// The notes being gathered.
pub(crate) struct Notes {
    list: Vec<Note>,
    strict: bool,
}

impl Notes {
    fn push(
        &mut self,
        kind: NoteKind,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) {
        self.list.push(Note {
            kind,
            subject: subject.map(str::to_owned),
            message,
            path: path.to_owned(),
            source,
        });
    }

    /// The listing is incomplete: a note, or with `strict` an error.
    fn incomplete(
        &mut self,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) -> Result<(), JsonPathError> {
        if self.strict {
            return Err(JsonPathError::new(path, message));
        }
        self.push(NoteKind::Incomplete, path, subject, message, source);
        Ok(())
    }

    fn unexpressed(
        &mut self,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) {
        self.push(NoteKind::Unexpressed, path, subject, message, source);
    }

    fn ignored(
        &mut self,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) {
        self.push(NoteKind::Ignored, path, subject, message, source);
    }

    fn assumed(
        &mut self,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) {
        self.push(NoteKind::Assumed, path, subject, message, source);
    }
}

/// A change and the instant it took effect (`joined_at`, a rule's `created_at`; `None`:
/// the import's time).
pub type Timed = (Change, Option<Instant>);

/// The changes that create org `org` from PostHog's JSON, and the report.
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
        .any(|p| !p.guest && p.role == crate::model::OrgRole::Owner)
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
