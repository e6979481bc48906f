//! The Markdown access registry (SPEC 5.1): parse and write.
//!
//! [`parse`] reads the whole document into a plain [`Registry`] value, validating every
//! token and reporting the first problem with its 1-based line and column; nothing touches
//! a graph until the whole document parsed, so a bad document imports nothing. [`import`]
//! then creates the org, its projects, memberships and grants through the public mutation
//! API (`actor=None`), and [`export`] writes an org back in the same grammar.
//!
//! Decisions beyond SPEC 5.1 and 9:
//! - Errors of form (sections, emails, roles, dates, attributes, duplicate people) are
//!   reported in document order; project references in grants are resolved once the whole
//!   document is read (a `## Projects` section may come after the people), so an unknown
//!   project is reported after every error of form.
//! - A grant target is matched first as a project slug, then as a project name (any case);
//!   `*` and `All projects` mean every project (`org/*`). A name that several listed
//!   projects share is ambiguous: use the slug. Granting twice on the same project to the
//!   same person is an error that names the first line.
//! - A person's title may contain commas: it runs until the first item that starts with a
//!   keyword (`expires`, `reviewed`, `reason`). An item that is exactly `external` marks an
//!   external member outside `## External Access` (export writes it for external owners and
//!   admins, who cannot be listed there).
//! - Export: `## Viewers` holds the org members (not external) whose only grant is a plain
//!   viewer grant on `org/*` (no expiry, no reason), written without nested grants; every
//!   other member is under `## Members` with their grants nested (`All projects: viewer`
//!   included). External members go to `## External Access`, with their grants. Empty
//!   sections are left out; `## Projects` is written when the org has projects.
//! - Import restores the recorded state, expired entries included: it is one batch of
//!   elementary changes applied atomically by the system (`Graph::apply_batch`), not a
//!   sequence of mutation calls, so the mutation API's refusal to grant to an expired
//!   membership does not apply and a failing import changes nothing.

use chrono::NaiveDate;

use crate::error::{Error, RegistryError, Result};
use crate::graph::Graph;
use crate::ids::{self, new_map, Map};
use crate::model::{Grant, MemberInfo, ProjectAttrs, ProjectInfo, Settings};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::queries;
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};
use crate::time::{self, Instant};

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

// ---------------------------------------------------------------------------------------
// Parsing

const PERSON_KEYWORDS: [&str; 3] = ["expires", "reviewed", "reason"];
const PROJECT_KEYWORDS: [&str; 5] = ["restricted", "pii", "env", "default", "slug"];
const DATE_HINT: &str = "an ISO-8601 date such as `2024-06-01` or `2024-06-01T12:00:00Z`";

/// Parses a registry document. `org` overrides the org slug (else the slugified name of
/// the title); the first problem found raises [`RegistryError`].
pub fn parse(text: &str, org: Option<&str>) -> Result<Registry, RegistryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser::default();
    // Grants are most of a large registry's lines: room for one per line up front rather
    // than a series of large reallocations.
    p.pending
        .reserve(text.bytes().filter(|&b| b == b'\n').count() + 1);
    let mut fence = false;
    for (i, raw) in text.lines().enumerate() {
        let ln = Ln {
            no: i + 1,
            text: raw,
        };
        let body = raw.trim_start();
        if body.starts_with("```") || body.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        if body.starts_with('-') || body.starts_with('#') {
            // What a heading or an entry holds is imported, and export writes text on one
            // line: a control character there (a tab past the indentation included) could
            // not be written back.
            if let Some((at, c)) = body.char_indices().find(|(_, c)| c.is_control()) {
                let at = body.get(at..).unwrap_or(body);
                return Err(ln.err(at, format!("control character {c:?} in an entry")));
            }
        }
        p.line(&ln)?;
    }
    p.finish(org)
}

/// One line of the document, for error positions.
struct Ln<'a> {
    no: usize,
    text: &'a str,
}

impl Ln<'_> {
    /// An error at `at`, which must be a sub-slice of this line.
    fn err(&self, at: &str, message: impl Into<String>) -> RegistryError {
        RegistryError {
            line: self.no,
            column: column(self.text, at),
            message: message.into(),
        }
    }
}

/// Byte offset of the sub-slice `inner` in `outer`.
fn offset(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

/// 1-based character column of the sub-slice `at` in `line`.
fn column(line: &str, at: &str) -> usize {
    line.get(..offset(line, at))
        .map_or(1, |s| s.chars().count() + 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heading {
    Projects,
    People(Section),
}

/// A grant whose target is resolved once the whole document is read.
struct Pending<'t> {
    person: usize,
    target: &'t str,
    line: usize,
    column: usize,
    role: ProjectRole,
    expires: Option<Instant>,
    reason: Option<String>,
}

#[derive(Default)]
struct Parser<'t> {
    /// Title text (name), its line and column.
    title: Option<(String, usize, usize)>,
    heading: Option<Heading>,
    projects_listed: bool,
    owners_heading: Option<usize>,
    projects: Vec<RegistryProject>,
    index: ProjectIndex,
    people: Vec<RegistryPerson>,
    emails: Map<String, usize>,
    /// The person nested grants attach to (reset by every heading).
    current: Option<usize>,
    pending: Vec<Pending<'t>>,
}

impl<'t> Parser<'t> {
    fn line(&mut self, ln: &Ln<'t>) -> Result<(), RegistryError> {
        let text = ln.text;
        let body = text.trim_start();
        if body.is_empty() {
            return Ok(());
        }
        let indent: usize = text
            .chars()
            .take_while(|c| c.is_whitespace())
            .map(|c| if c == '\t' { 4 } else { 1 })
            .sum();
        if let Some((level, heading)) = heading(body) {
            if indent < 4 {
                return self.heading(ln, level, heading);
            }
        }
        let Some(item) = list_item(body) else {
            return Ok(()); // prose
        };
        match self.heading {
            None => Ok(()), // a list before any section is prose
            Some(Heading::Projects) if indent >= 2 => Err(ln.err(
                body,
                "unexpected nested item under a project (grants are nested under people)",
            )),
            Some(Heading::Projects) => self.project(ln, item),
            Some(Heading::People(_)) if indent >= 2 => self.grant(ln, body, item),
            Some(Heading::People(section)) => self.person(ln, section, item),
        }
    }

    fn heading(&mut self, ln: &Ln<'_>, level: usize, text: &str) -> Result<(), RegistryError> {
        self.current = None;
        match level {
            1 => {
                if let Some((_, first, _)) = &self.title {
                    return Err(ln.err(
                        text,
                        format!("a second title: a registry describes one organization (the title is at line {first})"),
                    ));
                }
                let name = strip_suffix_ci(text, "access registry")
                    .map_or(text, str::trim_end)
                    .trim();
                if name.is_empty() {
                    return Err(ln.err(
                        text,
                        "the title names no organization (expected `# <Name> Access Registry`)",
                    ));
                }
                self.title = Some((name.to_owned(), ln.no, column(ln.text, text)));
            }
            2 => {
                let norm = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let h = match norm.to_ascii_lowercase().as_str() {
                    "projects" => Heading::Projects,
                    "owners" => Heading::People(Section::Owners),
                    "admins" => Heading::People(Section::Admins),
                    "members" => Heading::People(Section::Members),
                    "viewers" => Heading::People(Section::Viewers),
                    "external access" => Heading::People(Section::External),
                    _ => {
                        return Err(ln.err(
                            text,
                            format!("unknown section `{text}` (expected Projects, Owners, Admins, Members, Viewers or External Access)"),
                        ))
                    }
                };
                if h == Heading::Projects {
                    self.projects_listed = true;
                }
                if h == Heading::People(Section::Owners) && self.owners_heading.is_none() {
                    self.owners_heading = Some(ln.no);
                }
                self.heading = Some(h);
            }
            _ => {} // deeper headings are prose
        }
        Ok(())
    }

    fn project(&mut self, ln: &Ln<'_>, item: &str) -> Result<(), RegistryError> {
        let item = item.trim_end();
        let (name, inner) = match item.strip_suffix(')') {
            Some(before) => {
                let open = matching_open(before)
                    .ok_or_else(|| ln.err(item, "unbalanced parentheses in a project line"))?;
                let name = before.get(..open).unwrap_or_default();
                let inner = before.get(open + 1..).unwrap_or_default();
                (name.trim(), Some(inner))
            }
            None => (item, None),
        };
        if name.is_empty() {
            return Err(ln.err(item, "expected a project name"));
        }
        let mut project = RegistryProject {
            slug: String::new(),
            name: name.to_owned(),
            environment: None,
            restricted: false,
            pii: false,
            default_role: None,
            line: ln.no,
        };
        let mut slug: Option<&str> = None;
        let mut seen: Vec<&str> = Vec::new();
        for it in inner.map(|i| items(i, false)).unwrap_or_default() {
            if it.is_empty() {
                return Err(ln.err(it, "empty item in parentheses"));
            }
            let Some((kw, value)) = PROJECT_KEYWORDS
                .iter()
                .find_map(|k| keyword(it, k).map(|v| (*k, v)))
            else {
                return Err(ln.err(
                    it,
                    format!("unknown project attribute `{it}` (expected restricted, pii, env, default or slug)"),
                ));
            };
            if seen.contains(&kw) {
                return Err(ln.err(it, format!("`{kw}` given twice")));
            }
            seen.push(kw);
            match kw {
                "restricted" | "pii" => {
                    if !value.is_empty() {
                        return Err(ln.err(value, format!("`{kw}` takes no value")));
                    }
                    if kw == "pii" {
                        project.pii = true;
                    } else {
                        project.restricted = true;
                    }
                }
                "env" => {
                    if value.is_empty() {
                        return Err(ln.err(it, "`env` needs an environment"));
                    }
                    project.environment = Some(value.to_owned());
                }
                "default" => {
                    if value.is_empty() {
                        return Err(ln.err(it, "`default` needs a role"));
                    }
                    let role = project_role(ln, value)?;
                    if project.restricted {
                        return Err(ln.err(
                            it,
                            format!("restricted project `{name}` cannot have a default role"),
                        ));
                    }
                    project.default_role = Some(role);
                }
                _ => {
                    if !ids::is_slug(value) {
                        return Err(ln.err(
                            if value.is_empty() { it } else { value },
                            format!("invalid slug `{value}`: lower-case letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"),
                        ));
                    }
                    slug = Some(value);
                }
            }
        }
        if project.restricted && project.default_role.is_some() {
            return Err(ln.err(
                item,
                format!("restricted project `{name}` cannot have a default role"),
            ));
        }
        project.slug = if let Some(s) = slug {
            s.to_owned()
        } else {
            let s = slugify(name);
            if !ids::is_slug(&s) {
                return Err(ln.err(
                    name,
                    format!("cannot make a slug of `{name}`: give one with `(slug <slug>)`"),
                ));
            }
            s
        };
        if let Some(first) = self
            .index
            .by_slug
            .get(&project.slug)
            .and_then(|&i| self.projects.get(i))
        {
            return Err(ln.err(
                name,
                format!(
                    "project `{}` is listed twice (first at line {})",
                    project.slug, first.line
                ),
            ));
        }
        self.index
            .add(self.projects.len(), &project.slug, &project.name);
        self.projects.push(project);
        Ok(())
    }

    fn person(&mut self, ln: &Ln<'_>, section: Section, item: &str) -> Result<(), RegistryError> {
        let end = item
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(item.len());
        let (token, rest) = item.split_at_checked(end).unwrap_or((item, ""));
        if token.is_empty() {
            return Err(ln.err(item, "expected an email address"));
        }
        let email = ids::email("user", token)
            .map_err(|_| ln.err(token, format!("invalid email `{token}`")))?;
        if let Some(first) = self.emails.get(&email) {
            return Err(ln.err(
                token,
                format!("`{email}` is listed twice (first at line {first})"),
            ));
        }
        let rest = rest.trim();
        let inner = if rest.is_empty() {
            None
        } else if let Some(r) = rest.strip_prefix('(') {
            Some(
                r.strip_suffix(')')
                    .ok_or_else(|| ln.err(rest, "missing `)` at the end of the line"))?,
            )
        } else {
            return Err(ln.err(
                rest,
                format!("unexpected `{rest}` after the email (expected `(title, expires <date>, reviewed <date>, reason <text>)`)"),
            ));
        };
        let mut person = RegistryPerson {
            email: email.clone(),
            section,
            role: section.role(),
            title: None,
            expires: None,
            reviewed: None,
            reason: None,
            external: section == Section::External,
            grants: Vec::new(),
            line: ln.no,
        };
        let inner = inner.unwrap_or_default();
        let mut title: Option<(usize, usize)> = None;
        let mut title_open = true;
        let mut seen: Vec<&str> = Vec::new();
        for it in items(inner, true) {
            if it.is_empty() {
                return Err(ln.err(it, "empty item in parentheses"));
            }
            let found = PERSON_KEYWORDS
                .iter()
                .find_map(|k| keyword(it, k).map(|v| (*k, v)))
                .or_else(|| {
                    it.eq_ignore_ascii_case("external")
                        .then_some(("external", ""))
                });
            let Some((kw, value)) = found else {
                if !title_open {
                    return Err(ln.err(
                        it,
                        format!("unknown attribute `{it}` (expected expires, reviewed or reason; the title comes first)"),
                    ));
                }
                let start = title.map_or_else(|| offset(inner, it), |(s, _)| s);
                title = Some((start, offset(inner, it) + it.len()));
                continue;
            };
            title_open = false;
            if seen.contains(&kw) {
                return Err(ln.err(it, format!("`{kw}` given twice")));
            }
            seen.push(kw);
            if kw != "external" && value.is_empty() {
                return Err(ln.err(it, format!("`{kw}` needs a value")));
            }
            match kw {
                "expires" => {
                    if section == Section::Owners {
                        return Err(ln.err(
                            it,
                            "an owner membership cannot expire: remove `expires` or list them under a lower role",
                        ));
                    }
                    person.expires = Some(date_time(ln, value)?);
                }
                "reviewed" => {
                    let d = time::parse_date("reviewed", value).map_err(|_| {
                        ln.err(
                            value,
                            format!("invalid date `{value}` (expected {DATE_HINT})"),
                        )
                    })?;
                    person.reviewed = Some(d);
                }
                "reason" => person.reason = Some(value.to_owned()),
                _ => person.external = true,
            }
        }
        person.title = title
            .and_then(|(s, e)| inner.get(s..e))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        self.emails.insert(email, ln.no);
        self.current = Some(self.people.len());
        self.people.push(person);
        Ok(())
    }

    fn grant(&mut self, ln: &Ln<'t>, body: &str, item: &'t str) -> Result<(), RegistryError> {
        let Some(person) = self.current else {
            return Err(ln.err(body, "a nested grant must follow the person it belongs to"));
        };
        let item = item.trim_end();
        let Some(parts) = split_grant(item) else {
            let at = item
                .rfind(':')
                .and_then(|i| item.get(i + 1..))
                .map_or(item, str::trim_start);
            return Err(ln.err(
                at,
                "expected `<project | All projects | *>: <viewer | member | admin> [(expires <date>, reason <text>)]`",
            ));
        };
        if parts.target.is_empty() {
            return Err(ln.err(item, "expected a project name or slug before `:`"));
        }
        let role = project_role(ln, parts.role)?;
        let mut expires = None;
        let mut reason = None;
        let inner = parts.inner.unwrap_or_default();
        let mut seen: Vec<&str> = Vec::new();
        for it in items(inner, true) {
            if it.is_empty() {
                return Err(ln.err(it, "empty item in parentheses"));
            }
            let Some((kw, value)) = ["expires", "reason"]
                .iter()
                .find_map(|k| keyword(it, k).map(|v| (*k, v)))
            else {
                return Err(ln.err(
                    it,
                    format!("unknown grant attribute `{it}` (expected expires or reason)"),
                ));
            };
            if seen.contains(&kw) {
                return Err(ln.err(it, format!("`{kw}` given twice")));
            }
            seen.push(kw);
            if value.is_empty() {
                return Err(ln.err(it, format!("`{kw}` needs a value")));
            }
            if kw == "expires" {
                expires = Some(date_time(ln, value)?);
            } else {
                reason = Some(value.to_owned());
            }
        }
        self.pending.push(Pending {
            person,
            target: parts.target,
            line: ln.no,
            column: column(ln.text, parts.target),
            role,
            expires,
            reason,
        });
        Ok(())
    }

    fn finish(mut self, org: Option<&str>) -> Result<Registry, RegistryError> {
        let (name, title_line, title_col) = match (self.title.take(), org) {
            (Some(t), _) => t,
            (None, Some(o)) => (o.to_owned(), 1, 1),
            (None, None) => {
                return Err(RegistryError {
                    line: 1,
                    column: 1,
                    message: "missing title `# <Name> Access Registry`".to_owned(),
                })
            }
        };
        let slug = match org {
            Some(o) => o.to_owned(),
            None => slugify(&name),
        };
        if !ids::is_slug(&slug) {
            return Err(RegistryError {
                line: title_line,
                column: title_col,
                message: match org {
                    Some(o) => format!("invalid org slug `{o}`"),
                    None => format!("cannot make an org slug of `{name}`: pass `org=`"),
                },
            });
        }
        if !self.people.iter().any(|p| p.role == OrgRole::Owner) {
            return Err(RegistryError {
                line: self.owners_heading.unwrap_or(title_line),
                column: 1,
                message: "the registry names no owner: `## Owners` needs at least one person"
                    .to_owned(),
            });
        }
        // Most grants name one of a few projects: resolve each distinct text once.
        let mut resolved: Map<&str, Option<usize>> = new_map();
        // A person's grants follow their line, so duplicates are looked for among them.
        let mut theirs: (usize, Vec<(Option<usize>, usize)>) = (usize::MAX, Vec::new());
        for g in std::mem::take(&mut self.pending) {
            let err = |message: String| RegistryError {
                line: g.line,
                column: g.column,
                message,
            };
            let project = if let Some(&p) = resolved.get(g.target) {
                p
            } else {
                let p = self.resolve(g.target, g.line).map_err(err)?;
                resolved.insert(g.target, p);
                p
            };
            if theirs.0 != g.person {
                theirs = (g.person, Vec::new());
            }
            let first = theirs
                .1
                .iter()
                .find(|(p, _)| *p == project)
                .map(|(_, l)| *l);
            theirs.1.push((project, g.line));
            if let Some(first) = first {
                let email = self.people.get(g.person).map_or("", |p| p.email.as_str());
                return Err(err(format!(
                    "`{}` is granted to `{email}` twice (first at line {first})",
                    g.target
                )));
            }
            let scope = match project.and_then(|i| self.projects.get(i)) {
                Some(p) => GrantScope::Project(p.slug.clone()),
                None => GrantScope::AllProjects,
            };
            if let Some(p) = self.people.get_mut(g.person) {
                p.grants.push(RegistryGrant {
                    target: scope,
                    role: g.role,
                    expires: g.expires,
                    reason: g.reason,
                    line: g.line,
                });
            }
        }
        for p in &mut self.people {
            if p.section == Section::Viewers && p.grants.is_empty() {
                p.grants.push(RegistryGrant {
                    target: GrantScope::AllProjects,
                    role: ProjectRole::Viewer,
                    expires: None,
                    reason: None,
                    line: p.line,
                });
            }
        }
        Ok(Registry {
            org: slug,
            name,
            projects: self.projects,
            people: self.people,
        })
    }

    /// Resolves a grant target to a project index (`None`: every project); without
    /// `## Projects`, an unknown project is created.
    fn resolve(&mut self, target: &str, line: usize) -> Result<Option<usize>, String> {
        match self.index.resolve(target) {
            Resolved::All => return Ok(None),
            Resolved::Project(i) => return Ok(Some(i)),
            Resolved::Ambiguous => {
                return Err(format!(
                    "`{target}` names several projects: use the project's slug"
                ))
            }
            Resolved::Unknown => {}
        }
        if self.projects_listed {
            return Err(format!(
                "unknown project `{target}`: it is not listed under `## Projects`"
            ));
        }
        let slug = slugify(target);
        if !ids::is_slug(&slug) {
            return Err(format!("cannot make a project slug of `{target}`"));
        }
        if let Some(&i) = self.index.by_slug.get(&slug) {
            return Ok(Some(i));
        }
        let i = self.projects.len();
        self.index.add(i, &slug, target);
        self.projects.push(RegistryProject {
            slug,
            name: target.to_owned(),
            environment: None,
            restricted: false,
            pii: false,
            default_role: None,
            line,
        });
        Ok(Some(i))
    }
}

/// A heading's level and text, if `body` is an ATX heading.
fn heading(body: &str) -> Option<(usize, &str)> {
    let level = body.chars().take_while(|&c| c == '#').count();
    let rest = body.get(level..)?;
    if level == 0 || !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let text = rest.trim();
    let text = text.trim_end_matches('#').trim_end();
    Some((level, text))
}

/// The text of a list item (`- `, `* ` or `+ `), if `body` is one.
fn list_item(body: &str) -> Option<&str> {
    let rest = body
        .strip_prefix('-')
        .or_else(|| body.strip_prefix('*'))
        .or_else(|| body.strip_prefix('+'))?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest.trim_start())
    } else {
        None
    }
}

fn strip_suffix_ci<'t>(text: &'t str, suffix: &str) -> Option<&'t str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let (head, tail) = text.split_at_checked(cut)?;
    (tail.eq_ignore_ascii_case(suffix) && (head.is_empty() || head.ends_with(char::is_whitespace)))
        .then_some(head)
}

/// The byte index of the `(` matching a `)` just after the end of `before`.
fn matching_open(before: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in before.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The comma-separated items of parentheses, trimmed (sub-slices of `inner`); with
/// `reason`, an item starting with the keyword `reason` takes the rest, commas included.
fn items(inner: &str, reason: bool) -> Vec<&str> {
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return out;
    }
    let mut rest = inner;
    loop {
        let start = rest.trim_start();
        if reason && keyword(start, "reason").is_some() {
            out.push(start.trim_end());
            break;
        }
        if let Some((item, tail)) = rest.split_once(',') {
            out.push(item.trim());
            rest = tail;
        } else {
            out.push(rest.trim());
            break;
        }
    }
    out
}

/// If `item` starts with the keyword `kw` as a whole word (any case), its value: the rest
/// of the item, trimmed, with an optional `:` after the keyword.
fn keyword<'t>(item: &'t str, kw: &str) -> Option<&'t str> {
    let head = item.get(..kw.len())?;
    if !head.eq_ignore_ascii_case(kw) {
        return None;
    }
    let tail = item.get(kw.len()..)?;
    match tail.chars().next() {
        None => Some(tail),
        Some(c) if c.is_whitespace() || c == ':' => {
            let t = tail.trim_start();
            Some(t.strip_prefix(':').unwrap_or(t).trim())
        }
        Some(_) => None,
    }
}

struct GrantParts<'t> {
    target: &'t str,
    role: &'t str,
    inner: Option<&'t str>,
}

/// Splits `<target>: <role> [(<items>)]` at the first `:` that is followed by a single
/// word and optional parentheses (so project names may contain `:`).
fn split_grant(item: &str) -> Option<GrantParts<'_>> {
    for (i, _) in item.match_indices(':') {
        let target = item.get(..i)?.trim();
        let after = item.get(i + 1..)?.trim_start();
        let word_len = after
            .find(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
            .unwrap_or(after.len());
        let (role, rest) = after.split_at_checked(word_len)?;
        if role.is_empty() {
            continue;
        }
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(GrantParts {
                target,
                role,
                inner: None,
            });
        }
        if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            return Some(GrantParts {
                target,
                role,
                inner: Some(inner),
            });
        }
    }
    None
}

fn project_role(ln: &Ln<'_>, text: &str) -> Result<ProjectRole, RegistryError> {
    ProjectRole::ALL
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            ln.err(
                text,
                format!("unknown role `{text}` (expected viewer, member or admin)"),
            )
        })
}

fn date_time(ln: &Ln<'_>, text: &str) -> Result<Instant, RegistryError> {
    Instant::parse("expires", text).map_err(|_| {
        ln.err(
            text,
            format!("invalid date `{text}` (expected {DATE_HINT})"),
        )
    })
}

enum Resolved {
    All,
    Project(usize),
    Ambiguous,
    Unknown,
}

/// Projects by slug and by name (any case), for resolving grant targets.
#[derive(Default)]
struct ProjectIndex {
    by_slug: Map<String, usize>,
    by_name: Map<String, Vec<usize>>,
}

impl ProjectIndex {
    fn add(&mut self, i: usize, slug: &str, name: &str) {
        self.by_slug.insert(slug.to_owned(), i);
        self.by_name.entry(name_key(name)).or_default().push(i);
    }

    /// `*` or `All projects`, then a slug, then a name in any case.
    fn resolve(&self, target: &str) -> Resolved {
        let t = target.trim();
        if t == "*" || name_key(t) == "all projects" {
            return Resolved::All;
        }
        if let Some(&i) = self.by_slug.get(t) {
            return Resolved::Project(i);
        }
        match self.by_name.get(&name_key(t)).map(Vec::as_slice) {
            Some([i]) => Resolved::Project(*i),
            Some([_, _, ..]) => Resolved::Ambiguous,
            _ => Resolved::Unknown,
        }
    }
}

/// How names are compared: lower-case, runs of whitespace as one space.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

// ---------------------------------------------------------------------------------------
// Import

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

// ---------------------------------------------------------------------------------------
// Export

/// Writes `org` of `graph` as a registry document (sections in SPEC order, people sorted
/// by email). Text that the grammar cannot carry (a line break in a name, a title piece
/// starting with a keyword, ...) raises `ValidationError`.
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
                .filter_map(|(pid, g)| rank.get(pid).map(|&r| Granted::new(Some(r), g)))
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
            expires: g.expires,
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
        &["# ", one_line("org name", name)?, " Access Registry"],
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
    // How each project is named in grants: by name when that reads back to it, else slug.
    let mut grant_names: Vec<&str> = Vec::with_capacity(projects.len());
    if !projects.is_empty() {
        out.push_str("## Projects\n");
    }
    for (i, (p, slug)) in projects.iter().zip(&slugs).enumerate() {
        let pname = one_line("project name", &p.attrs.name)?;
        let by_name = matches!(index.resolve(pname), Resolved::Project(j) if j == i)
            && split_grant(&format!("{pname}: viewer")).is_some_and(|g| g.target == pname);
        grant_names.push(if by_name { pname } else { slug });
        let mut attrs = Vec::new();
        if slugify(pname) != *slug {
            attrs.push(format!("slug {slug}"));
        }
        if let Some(env) = &p.attrs.environment {
            attrs.push(format!("env {}", environment(env)?));
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
            push_line(&mut out, &["- ", pname]);
        } else {
            push_line(&mut out, &["- ", pname, " (", &attrs.join(", "), ")"]);
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
            items.clear();
            if let Some(t) = &m.title {
                items.push(title(t)?.to_owned());
            }
            if let Some(e) = m.expires {
                items.push(format!("expires {}", when(e)));
            }
            if let Some(d) = m.reviewed {
                items.push(format!("reviewed {d}"));
            }
            if m.external && section != Section::External {
                items.push("external".to_owned());
            }
            if let Some(r) = &m.reason {
                items.push(format!("reason {}", one_line("reason", r)?));
            }
            push_item(&mut out, &["- ", &m.user], &items);
            if section == Section::Viewers {
                continue; // the implied `org/*` viewer grant
            }
            for g in mine {
                let target = match g.project {
                    None => "All projects",
                    Some(r) => grant_names.get(r).copied().unwrap_or_default(),
                };
                items.clear();
                if let Some(e) = g.expires {
                    items.push(format!("expires {}", when(e)));
                }
                if let Some(r) = g.reason {
                    items.push(format!("reason {}", one_line("reason", r)?));
                }
                push_item(&mut out, &["  - ", target, ": ", g.role.as_str()], &items);
            }
        }
    }
    Ok(out)
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

/// A bare date at midnight UTC, else `2024-06-01T12:00:00Z`.
fn when(i: Instant) -> String {
    if i.is_midnight() {
        i.date().to_string()
    } else {
        i.to_iso()
    }
}

/// `text` trimmed, refused when empty or spread over several lines.
fn one_line<'t>(field: &'static str, text: &'t str) -> Result<&'t str> {
    let t = text.trim();
    if t.is_empty() || t.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            text,
            "non-empty text on one line, so the Markdown registry can carry it",
        ));
    }
    Ok(t)
}

fn title(text: &str) -> Result<&str> {
    let t = one_line("title", text)?;
    let ok = t.split(',').map(str::trim).all(|piece| {
        !piece.is_empty()
            && !piece.eq_ignore_ascii_case("external")
            && PERSON_KEYWORDS.iter().all(|k| keyword(piece, k).is_none())
    });
    if ok {
        Ok(t)
    } else {
        Err(Error::invalid(
            "title",
            text,
            "a title the Markdown registry can carry: no comma-separated piece that is empty, `external`, or starts with `expires`, `reviewed` or `reason`",
        ))
    }
}

fn environment(text: &str) -> Result<&str> {
    let t = one_line("environment", text)?;
    let balanced = t.chars().try_fold(0usize, |depth, c| match c {
        '(' => Some(depth + 1),
        ')' => depth.checked_sub(1),
        _ => Some(depth),
    }) == Some(0);
    if t.contains(',') || !balanced {
        return Err(Error::invalid(
            "environment",
            text,
            "an environment the Markdown registry can carry: no comma, balanced parentheses",
        ));
    }
    Ok(t)
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

    #[test]
    fn keywords_are_whole_words() {
        assert_eq!(keyword("Expires 2024-06-01", "expires"), Some("2024-06-01"));
        assert_eq!(
            keyword("expires: 2024-06-01", "expires"),
            Some("2024-06-01")
        );
        assert_eq!(keyword("pii", "pii"), Some(""));
        assert_eq!(keyword("reasonable", "reason"), None);
        assert_eq!(keyword("env", "environment"), None);
    }

    #[test]
    fn items_give_reason_the_rest() {
        assert_eq!(
            items("CTO, expires 2024-06-01, reason a, b (c)", true),
            vec!["CTO", "expires 2024-06-01", "reason a, b (c)"]
        );
        assert_eq!(items(" ", true), Vec::<&str>::new());
    }

    #[test]
    fn grant_lines_split_at_the_role() {
        let p = split_grant("Ops: EU: admin (reason x: y)").map(|p| (p.target, p.role, p.inner));
        assert_eq!(p, Some(("Ops: EU", "admin", Some("reason x: y"))));
        assert!(split_grant("Production admin").is_none());
    }
}
