//! Parsing a document: one pass over its lines, validating every token and reporting the first
//! problem with its line and column.

use super::comment::{Comments, Seen};
use super::ended::{Form, Heading, Other};
use super::escape::unescape;
use super::locate::{
    caption, column, columns, date_time, ends_item, heading, html_heading, is_blank, item_text,
    items, keyword, label, list_item, matching_open, offset, project_role, split_grant,
    strip_suffix_ci, thematic_break, too_deep, underline, unindent, unquote, unread_item, Label,
    Ln, ProjectIndex, Resolved, DATE_HINT, PERSON_KEYWORDS,
};
use super::types::{
    slugify, GrantScope, Registry, RegistryGrant, RegistryPerson, RegistryProject, Section,
};
use crate::error::{RegistryError, Result};
use crate::ids::{self, new_map, Map};
use crate::roles::{OrgRole, ProjectRole};
use crate::time::{self, Instant};
use std::borrow::Cow;

pub(super) const PROJECT_KEYWORDS: [&str; 5] = ["restricted", "pii", "env", "default", "slug"];

/// Parses a registry document. `org` overrides the org slug (else the slugified name of
/// the title); the first problem found raises [`RegistryError`].
pub fn parse(text: &str, org: Option<&str>) -> Result<Registry, RegistryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser::default();
    // Grants are most of a large registry's lines: room for one per line up front rather
    // than a series of large reallocations.
    p.pending
        .reserve(text.bytes().filter(|&b| b == b'\n').count() + 1);
    // What a reader sees of each line, HTML comments taken out, first: the parser reads
    // only that, and a list item a comment hides is an error where it stands.
    let mut comments = Comments::default();
    let seen: Vec<Seen> = text
        .lines()
        .enumerate()
        .map(|(i, raw)| {
            comments.line(&Ln {
                no: i + 1,
                text: raw,
            })
        })
        .collect();
    for (i, (raw, seen)) in text.lines().zip(&seen).enumerate() {
        let blank = is_blank(raw) || matches!(seen, Seen::Hidden);
        let after_blank = std::mem::replace(&mut p.after_blank, blank);
        let raw = match seen {
            Seen::Whole => raw,
            Seen::Part(visible) => visible.as_str(),
            Seen::Refused(e) => return Err(e.clone()),
            Seen::Code => continue,
            Seen::Fence => {
                if ends_item(raw, true, p.person_text) {
                    p.current = None;
                }
                p.paragraph = None;
                let unended = p.unended.take();
                p.end_paragraph(unended);
                continue;
            }
            Seen::Hidden => {
                p.hidden(&Ln {
                    no: i + 1,
                    text: raw,
                });
                continue;
            }
        };
        let ln = Ln {
            no: i + 1,
            text: raw,
        };
        let body = unindent(raw);
        // Less indented than the item's text, a line after a blank one, a quote or a rule
        // ends the item: a grant under it is in a list of its own (CommonMark 5.2).
        let ends = after_blank || unquote(body).0 || thematic_break(body);
        if list_item(body).is_none() && ends_item(raw, ends, p.person_text) {
            p.current = None;
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

/// A line of a paragraph: the text of a setext heading if a `---` or `===` line follows,
/// or a caption if the paragraph ends there without ending a sentence.
#[derive(Clone, Copy)]
pub(super) struct Paragraph<'t> {
    line: usize,
    column: usize,
    text: &'t str,
}

/// A grant whose target is resolved once the whole document is read.
pub(super) struct Pending<'t> {
    pub(super) person: usize,
    /// The target as written, and as it reads (escapes undone).
    pub(super) written: &'t str,
    pub(super) target: Cow<'t, str>,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) role: ProjectRole,
    pub(super) expires: Option<Instant>,
    pub(super) reason: Option<String>,
}

#[derive(Default)]
pub(super) struct Parser<'t> {
    /// Title text (name), its line and column.
    pub(super) title: Option<(String, usize, usize)>,
    pub(super) heading: Option<Heading<'t>>,
    /// The paragraph the previous line belongs to, if it was text.
    pub(super) paragraph: Option<Paragraph<'t>>,
    /// The previous line, if it was a line of text that ends no sentence: should the
    /// paragraph end there, it reads as the caption of what follows.
    pub(super) unended: Option<Paragraph<'t>>,
    pub(super) projects_listed: bool,
    pub(super) owners_heading: Option<usize>,
    pub(super) projects: Vec<RegistryProject>,
    pub(super) index: ProjectIndex,
    pub(super) people: Vec<RegistryPerson>,
    pub(super) emails: Map<String, usize>,
    /// The person nested grants attach to (reset by every heading).
    pub(super) current: Option<usize>,
    /// The column (0-based) where the text of the last person or grant item starts: a
    /// line indented four columns past it is no list item to a reader.
    pub(super) item_text: usize,
    /// The column where the text of the person nested grants attach to starts.
    pub(super) person_text: usize,
    /// Whether the line before this one was blank (or held only comments).
    pub(super) after_blank: bool,
    pub(super) pending: Vec<Pending<'t>>,
}

impl<'t> Parser<'t> {
    fn line(&mut self, ln: &Ln<'t>) -> Result<(), RegistryError> {
        let text = ln.text;
        let body = unindent(text);
        let paragraph = self.paragraph.take();
        let unended = self.unended.take();
        if body.is_empty() {
            self.end_paragraph(unended);
            return Ok(());
        }
        let indent = columns(text);
        // Whatever renders as a heading is one here: a heading of another form or level
        // than `## <Section>` (or in a block quote) ends the section, so that no one a
        // reader sees under it is read as part of the section above it.
        let (quoted, inner) = unquote(body);
        if indent < 4 {
            if let Some((level, h)) = heading(body) {
                return self.heading(ln, body, level, h);
            }
            if (quoted && heading(inner).is_some()) || html_heading(inner) {
                self.end_section(ln.no, column(text, body), body.trim_end(), Form::Heading);
                return Ok(());
            }
            if let (Some(p), Some(u)) = (paragraph, underline(inner)) {
                self.end_section(p.line, p.column, p.text, Form::Underlined(u));
                return Ok(());
            }
        }
        if let Some(why) = unread_item(body) {
            match self.heading {
                None => {} // a list before any section is prose
                Some(Heading::Other(other)) => return Err(other.error(ln.no)),
                // GitHub lists it; read as prose, the person was left out unsaid.
                Some(_) => return Err(ln.err(body, why)),
            }
        }
        let Some(item) = list_item(body) else {
            // Prose: a line of text continues a paragraph or starts one (the first line
            // of a setext heading, should an underline follow); a rule or a list item in
            // a block quote ends it.
            let text_line = !thematic_break(inner) && list_item(inner).is_none();
            self.paragraph = paragraph.filter(|_| text_line).or_else(|| {
                (text_line && indent < 4).then(|| Paragraph {
                    line: ln.no,
                    column: column(text, inner),
                    text: inner.trim_end(),
                })
            });
            if !text_line {
                self.end_paragraph(unended);
                return Ok(());
            }
            // A line of text that reads as a heading ends the section as a heading does,
            // at any indentation (under a list item, Markdown may render it as a heading
            // of that item).
            let line = Paragraph {
                line: ln.no,
                column: column(text, body),
                text: body.trim_end(),
            };
            if let Some(why) = label(inner) {
                self.end_section(line.line, line.column, line.text, Form::Label(why));
            }
            self.unended = caption(inner).then_some(line);
            return Ok(());
        };
        self.end_paragraph(unended);
        match self.heading {
            None => Ok(()), // a list before any section is prose
            Some(Heading::Other(other)) => Err(other.error(ln.no)),
            Some(Heading::Projects) if indent >= 2 => Err(ln.err(
                body,
                "unexpected nested item under a project (grants are nested under people)",
            )),
            Some(Heading::Projects) => self.project(ln, item),
            Some(Heading::People(_)) if indent >= 2 => self.grant(ln, body, item),
            Some(Heading::People(section)) => {
                self.item_text = item_text(text);
                self.person_text = self.item_text;
                self.person(ln, section, item)
            }
        }
    }

    fn heading(
        &mut self,
        ln: &Ln<'t>,
        body: &'t str,
        level: usize,
        text: &str,
    ) -> Result<(), RegistryError> {
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
                let name = read(ln, name, "a name")?;
                self.title = Some((name.into_owned(), ln.no, column(ln.text, text)));
                self.end_section(ln.no, column(ln.text, body), body.trim_end(), Form::Heading);
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
            _ => self.end_section(ln.no, column(ln.text, body), body.trim_end(), Form::Heading),
        }
        Ok(())
    }

    /// A heading that is not a section heading, or a line of text that reads as one: the
    /// section it is in ends (before the first section, a list is prose anyway). A line
    /// of text after a heading that already ended the section leaves that heading named.
    fn end_section(&mut self, line: usize, column: usize, text: &'t str, form: Form<'t>) {
        self.current = None;
        let ended = match self.heading {
            None => return,
            Some(Heading::Projects) => "Projects",
            Some(Heading::People(section)) => section.heading(),
            Some(Heading::Other(_)) if matches!(form, Form::Label(_)) => return,
            Some(Heading::Other(other)) => other.ended,
        };
        self.heading = Some(Heading::Other(Other {
            line,
            column,
            text,
            form,
            ended,
        }));
    }

    /// A line a reader does not see, being in an HTML comment or holding only comments.
    /// Like a blank line it ends the paragraph above (an HTML block does), but it is no
    /// caption of the list under it; yet one that names a section (`<!-- Members -->`)
    /// ends the section, as a reviewer of the diff may take it for that section's label.
    fn hidden(&mut self, ln: &Ln<'t>) {
        self.paragraph = None;
        let unended = self.unended.take();
        self.end_paragraph(unended);
        let body = unindent(ln.text);
        if let Some(names @ Label::Names(_)) = label(unquote(body).1) {
            self.end_section(
                ln.no,
                column(ln.text, body),
                body.trim_end(),
                Form::Label(names),
            );
        }
    }

    /// The paragraph ended at `unended`, a line that ends no sentence: it reads as the
    /// caption of what follows, so it ends the section.
    fn end_paragraph(&mut self, unended: Option<Paragraph<'t>>) {
        if let Some(p) = unended {
            self.end_section(p.line, p.column, p.text, Form::Label(Label::Unended));
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one state of the line-by-line parser: every form a person line may take"
    )]
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
        let written = name;
        let name = read(ln, written, "a project name")?;
        let name = name.as_ref();
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
                    project.environment = Some(read(ln, value, "an environment")?.into_owned());
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
                    written,
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
                written,
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

    #[expect(
        clippy::too_many_lines,
        reason = "one state of the line-by-line parser: every form a grant line may take"
    )]
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
                "reason" => person.reason = Some(read(ln, value, "a reason")?.into_owned()),
                _ => person.external = true,
            }
        }
        if let Some(written) = title
            .and_then(|(s, e)| inner.get(s..e))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            person.title = Some(read(ln, written, "a title")?.into_owned());
        }
        self.emails.insert(email, ln.no);
        self.current = Some(self.people.len());
        self.people.push(person);
        Ok(())
    }

    fn grant(&mut self, ln: &Ln<'t>, body: &str, item: &'t str) -> Result<(), RegistryError> {
        let Some(person) = self.current else {
            return Err(ln.err(body, "a nested grant must follow the person it belongs to"));
        };
        let nest = (self.person_text, self.item_text);
        if let Some(why) = too_deep(body, columns(ln.text), nest) {
            return Err(ln.err(body, why));
        }
        self.item_text = item_text(ln.text);
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
                reason = Some(read(ln, value, "a reason")?.into_owned());
            }
        }
        self.pending.push(Pending {
            person,
            written: parts.target,
            target: read(ln, parts.target, "a project name")?,
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
        let mut resolved: Map<Cow<'t, str>, Option<usize>> = new_map();
        // A person's grants follow their line, so duplicates are looked for among them.
        let mut theirs: (usize, Vec<(Option<usize>, usize)>) = (usize::MAX, Vec::new());
        for g in std::mem::take(&mut self.pending) {
            let err = |message: String| RegistryError {
                line: g.line,
                column: g.column,
                message,
            };
            let project = if let Some(&p) = resolved.get(g.target.as_ref()) {
                p
            } else {
                let p = self.resolve(&g.target, g.line).map_err(err)?;
                resolved.insert(g.target.clone(), p);
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
                    g.written
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

/// `written` (a sub-slice of the line) with its escapes undone; a bad escape is an error
/// at the backslash.
fn read<'w>(ln: &Ln<'_>, written: &'w str, what: &str) -> Result<Cow<'w, str>, RegistryError> {
    unescape(written, what)
        .map_err(|(at, message)| ln.err(written.get(at..).unwrap_or(written), message))
}
