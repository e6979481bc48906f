//! The import's report (what PostHog holds that the model cannot), its options and its
//! input, and the notes collected while reading.

use serde_json::Value;

use crate::error::JsonPathError;
use crate::state::Change;
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

pub(super) fn project_path(name: &str) -> String {
    format!("$[{}]", Value::String(name.to_owned()))
}

/// The notes being gathered.
pub(crate) struct Notes {
    pub(super) list: Vec<Note>,
    pub(super) strict: bool,
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
    pub(super) fn incomplete(
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

    pub(super) fn unexpressed(
        &mut self,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) {
        self.push(NoteKind::Unexpressed, path, subject, message, source);
    }

    pub(super) fn ignored(
        &mut self,
        path: &str,
        subject: Option<&str>,
        message: String,
        source: &'static str,
    ) {
        self.push(NoteKind::Ignored, path, subject, message, source);
    }

    pub(super) fn assumed(
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
