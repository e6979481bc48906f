//! Plain values a parsed document becomes: sections, people, projects and their grants.

use chrono::NaiveDate;

use crate::model::{ProjectAttrs, Settings};
use crate::roles::{OrgRole, ProjectRole};
use crate::time::Instant;

/// One of the people sections, in the order SPEC 5.1 lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// `## Owners`: org owners.
    Owners,
    /// `## Admins`: org admins.
    Admins,
    /// `## Members`: org members with their nested grants.
    Members,
    /// `## Viewers`: org members; without nested grants, a viewer grant on `org/*`.
    Viewers,
    /// `## External Access`: external org members with their nested grants.
    External,
}

impl Section {
    /// Every people section, in document order.
    pub const ALL: [Section; 5] = [
        Section::Owners,
        Section::Admins,
        Section::Members,
        Section::Viewers,
        Section::External,
    ];

    /// The heading text as export writes it.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Owners => "Owners",
            Section::Admins => "Admins",
            Section::Members => "Members",
            Section::Viewers => "Viewers",
            Section::External => "External Access",
        }
    }

    /// The org role the section gives.
    pub fn role(self) -> OrgRole {
        match self {
            Section::Owners => OrgRole::Owner,
            Section::Admins => OrgRole::Admin,
            Section::Members | Section::Viewers | Section::External => OrgRole::Member,
        }
    }
}

/// A parsed registry: one org, its projects and its people, ready to import.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    /// The org slug (the caller's `org`, else the slugified name).
    pub org: String,
    /// The org's display name, from the title.
    pub name: String,
    /// Projects: those listed under `## Projects`, else those the grants name, in order.
    pub projects: Vec<RegistryProject>,
    /// People in document order.
    pub people: Vec<RegistryPerson>,
}

/// A project of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryProject {
    /// The project slug (the part after `org/`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Environment.
    pub environment: Option<String>,
    /// Restricted.
    pub restricted: bool,
    /// Holds personal data.
    pub pii: bool,
    /// Default role.
    pub default_role: Option<ProjectRole>,
    /// The line that lists (or first names) it.
    pub line: usize,
}

/// A person of the registry: one org membership with its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryPerson {
    /// Lower-case email.
    pub email: String,
    /// The section they are listed in.
    pub section: Section,
    /// Org role.
    pub role: OrgRole,
    /// Job title.
    pub title: Option<String>,
    /// Membership expiry.
    pub expires: Option<Instant>,
    /// Last review date.
    pub reviewed: Option<NaiveDate>,
    /// Why they have access.
    pub reason: Option<String>,
    /// External (contractor, consultant).
    pub external: bool,
    /// Grants, nested ones in order; a `## Viewers` person without nested grants holds
    /// the implied viewer grant on `org/*`.
    pub grants: Vec<RegistryGrant>,
    /// The person's line.
    pub line: usize,
}

/// What a registry grant covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantScope {
    /// Every project of the org (`org/*`).
    AllProjects,
    /// One project, by slug.
    Project(String),
}

/// A project grant of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryGrant {
    /// The target.
    pub target: GrantScope,
    /// Project role.
    pub role: ProjectRole,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Why.
    pub reason: Option<String>,
    /// The grant's line (the person's line for an implied viewer grant).
    pub line: usize,
}

impl RegistryProject {
    /// The project's attributes (settings are not part of the registry).
    pub fn attrs(&self, settings: Settings) -> ProjectAttrs {
        ProjectAttrs {
            name: self.name.clone(),
            environment: self.environment.clone(),
            restricted: self.restricted,
            pii: self.pii,
            default_role: self.default_role,
            settings,
        }
    }
}

impl Registry {
    /// The grant target string (`org/slug` or `org/*`) of `scope` in this org.
    pub fn target(&self, scope: &GrantScope) -> String {
        match scope {
            GrantScope::AllProjects => format!("{}/*", self.org),
            GrantScope::Project(slug) => format!("{}/{slug}", self.org),
        }
    }
}

/// The slug of a name (SPEC 9): lower-case ASCII letters and digits kept, every other run
/// of characters one `-`, no leading or trailing `-`.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_follows_spec() {
        assert_eq!(slugify("Production"), "production");
        assert_eq!(slugify("  Web -- App (EU) "), "web-app-eu");
        assert_eq!(slugify("Ünïcode"), "n-code");
        assert_eq!(slugify("!!!"), "");
    }
}
