//! The CSV access matrix (SPEC 5.3, SPEC 9 "Registry" and "Further decisions"): write and
//! read back.
//!
//! CSV is a lossy matrix for spreadsheets (JSON is the lossless format): the columns are
//! `user,org,org_role,project,project_role,source,expires,reason`, one row per unexpired
//! member and project they can access, plus one row with an empty project for a member who
//! can access none. `expires` and `reason` are those of the source that gives the role.
//!
//! Decisions beyond the SPEC:
//! - Export: rows as [`Graph::access_matrix`] gives them (sorted by org, user, project);
//!   `source` as [`Source::as_str`]; `expires` as a bare date when the instant is midnight
//!   UTC, else `2024-06-01T12:00:00Z` (as in Markdown); empty cells for absent values;
//!   lines end with `\n`; values are quoted only where CSV needs it. A value that a
//!   spreadsheet would run as a formula — it starts with `=`, `+`, `-`, `@`, a tab or a
//!   carriage return, after any `'` (CWE-1236, "CSV injection") — is written with one more
//!   `'` in front ([`crate::text::spreadsheet_safe`]), which spreadsheets show as text.
//!   Import takes that quote off again, so every value reads back as it was.
//! - Import: the header is required; its names must be exactly the eight columns, in any
//!   order, each once. Each cell is first read as export wrote it (the `'` before a
//!   formula character taken off). A leading byte-order mark is skipped; rows whose cells
//!   are all empty are skipped. Cells other than `reason` are trimmed; `reason` is kept
//!   verbatim (an empty cell is no reason).
//! - Errors ([`CsvError`]) carry the 1-based line where the CSV record starts (the header
//!   is line 1) and the 1-based *field index* of the offending cell (`user` = the column
//!   where `user` sits in the header); an unknown or duplicate header name is at its own
//!   field, a missing one at column 1; a record with too few or too many fields is at the
//!   first missing or extra field.
//! - Rebuild, per org (named by its slug, which is also its display name): each member
//!   with the `org_role` of their rows (the same on every row). The membership's expiry and
//!   reason come from the rows whose source is the membership itself —
//!   `organization_admin`, `default`, and the row with no project — and must agree; a
//!   member seen only through grant rows comes back without expiry or reason. An owner's
//!   rows cannot carry an expiry (an owner membership cannot expire).
//!   `explicit_member` → a grant on the project (role, expiry, reason of the row);
//!   `org_wide_grant` → one grant on `org/*` (every such row of a user must agree);
//!   `default` → the project's `default_role` (every such row of a project must agree);
//!   `organization_admin` → nothing beyond the org role (owners and admins only, as
//!   project `admin`).
//! - Projects are created from the ids seen (display name = slug). A project is
//!   restricted when, and only when, the matrix shows it: some user's org-wide grant
//!   (seen on another project) does not reach it — their row on it is missing, lower, or
//!   an equal `default` — while no `org_wide_grant` and no `default` row names it.
//!   Otherwise it is not restricted. Environment, `pii`, titles, names, review dates,
//!   the external flag and grants hidden by a higher source are lost.
//! - Import restores the recorded state as it is: elementary changes applied by the
//!   system into a new graph ([`Graph::built`], no audit events); nothing is imported
//!   when any row is wrong.

use std::collections::BTreeMap;

use crate::decision::Source;
use crate::error::RegistryError;
use crate::error::{Error, Result};
use crate::eval::MatrixRow;
use crate::graph::Graph;
use crate::ids;
use crate::model::{ProjectAttrs, Settings};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};
use crate::time::Instant;

/// The columns, in the order export writes them.
pub const COLUMNS: [&str; 8] = [
    "user",
    "org",
    "org_role",
    "project",
    "project_role",
    "source",
    "expires",
    "reason",
];

const USER: usize = 0;
const ORG: usize = 1;
const ORG_ROLE: usize = 2;
const PROJECT: usize = 3;
const PROJECT_ROLE: usize = 4;
const SOURCE: usize = 5;
const EXPIRES: usize = 6;
const REASON: usize = 7;

/// A CSV matrix that does not read: where (1-based line of the record, 1-based field
/// index) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CsvError {
    /// 1-based line where the record starts (the header is line 1).
    pub line: usize,
    /// 1-based field index of the offending cell.
    pub column: usize,
    /// What is wrong, lower-case, user input in backticks.
    pub message: String,
}

impl CsvError {
    /// An error at `line`, `column`.
    pub fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        CsvError {
            line,
            column,
            message: message.into(),
        }
    }
}

impl From<CsvError> for Error {
    /// A CSV error is a registry format error with a line and a column.
    fn from(e: CsvError) -> Self {
        Error::Registry(RegistryError {
            line: e.line,
            column: e.column,
            message: e.message,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Export

/// Writes the access matrix of every org at `at` (default: the graph's clock) as CSV,
/// header first. Deterministic: the same graph and instant give the same text.
pub fn to_csv(graph: &Graph, at: Option<Instant>) -> Result<String> {
    let rows = graph.access_matrix(None, at)?;
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let write_err = |e: &dyn std::fmt::Display| Error::rule(format!("cannot write CSV: {e}"));
    w.write_record(COLUMNS).map_err(|e| write_err(&e))?;
    for r in &rows {
        w.write_record(crate::text::spreadsheet_row(cells(r)))
            .map_err(|e| write_err(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| write_err(&e))?;
    String::from_utf8(bytes).map_err(|e| write_err(&e))
}

fn cells(r: &MatrixRow) -> [String; 8] {
    [
        r.user.clone(),
        r.org.clone(),
        r.org_role.as_str().to_owned(),
        r.project.clone().unwrap_or_default(),
        r.project_role
            .map(ProjectRole::as_str)
            .unwrap_or_default()
            .to_owned(),
        r.source.map(Source::as_str).unwrap_or_default().to_owned(),
        r.expires.map(Instant::to_date_or_iso).unwrap_or_default(),
        r.reason.clone().unwrap_or_default(),
    ]
}

// ---------------------------------------------------------------------------------------
// Import

/// Reads a CSV access matrix into a new graph (on the wall clock). Nothing is partly
/// imported: the first problem raises [`CsvError`] with its line and field.
pub fn from_csv(text: &str) -> Result<Graph, CsvError> {
    let rows = read_rows(text)?;
    let plan = plan(&rows)?;
    // The line of the change being applied, for the error when it does not fit.
    let mut line = 1;
    Graph::built(Instant::now(), |apply| {
        plan.into_iter().try_for_each(|(c, at)| {
            line = at;
            apply(c)
        })
    })
    .map_err(|e| CsvError::new(line, 1, e.to_string()))
}

/// One data row, validated.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    /// The 1-based field index of each column.
    cols: [usize; 8],
    user: String,
    org: String,
    org_role: OrgRole,
    /// Project id and, for a row with a project, its role and source.
    access: Option<(String, ProjectRole, Source)>,
    expires: Option<Instant>,
    reason: Option<String>,
}

impl Row {
    fn err(&self, col: usize, message: impl Into<String>) -> CsvError {
        CsvError::new(self.line, self.cols.get(col).copied().unwrap_or(1), message)
    }

    /// True when the row's expiry and reason are the membership's own.
    fn carries_membership(&self) -> bool {
        match &self.access {
            None => true,
            Some((_, _, s)) => matches!(s, Source::OrganizationAdmin | Source::Default),
        }
    }
}

fn line_of(rec: &::csv::StringRecord) -> usize {
    rec.position()
        .and_then(|p| usize::try_from(p.line()).ok())
        .unwrap_or(1)
}

fn read_error(e: &::csv::Error) -> CsvError {
    let (line, column) = match e.kind() {
        ::csv::ErrorKind::Utf8 { pos, err } => (
            pos.as_ref().map_or(1, ::csv::Position::line),
            err.field().saturating_add(1),
        ),
        _ => (e.position().map_or(1, ::csv::Position::line), 1),
    };
    CsvError::new(
        usize::try_from(line).unwrap_or(usize::MAX),
        column,
        format!("unreadable CSV: {e}"),
    )
}

fn read_rows(text: &str) -> Result<Vec<Row>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = ::csv::StringRecord::new();
    if !rdr.read_record(&mut rec).map_err(|e| read_error(&e))? {
        return Err(CsvError::new(
            1,
            1,
            format!("missing header: expected `{}`", COLUMNS.join(",")),
        ));
    }
    let header_line = line_of(&rec);
    let mut cols: [Option<usize>; 8] = [None; 8];
    for (i, name) in rec.iter().enumerate() {
        let name = name.trim();
        let Some(c) = COLUMNS.iter().position(|&n| n == name) else {
            return Err(CsvError::new(
                header_line,
                i + 1,
                format!(
                    "unknown column `{}` (expected {})",
                    name.escape_debug(),
                    COLUMNS.join(", ")
                ),
            ));
        };
        if let Some(slot) = cols.get_mut(c) {
            if let Some(first) = slot {
                return Err(CsvError::new(
                    header_line,
                    i + 1,
                    format!("duplicate column `{name}` (first at column {first})"),
                ));
            }
            *slot = Some(i + 1);
        }
    }
    let mut found = [0usize; 8];
    for (c, slot) in cols.iter().enumerate() {
        match (slot, found.get_mut(c)) {
            (Some(i), Some(f)) => *f = *i,
            _ => {
                return Err(CsvError::new(
                    header_line,
                    1,
                    format!(
                        "missing column `{}`",
                        COLUMNS.get(c).copied().unwrap_or_default()
                    ),
                ))
            }
        }
    }
    let width = rec.len();
    let mut rows = Vec::new();
    while rdr.read_record(&mut rec).map_err(|e| read_error(&e))? {
        let line = line_of(&rec);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rec.len() != width {
            return Err(CsvError::new(
                line,
                rec.len().min(width) + 1,
                format!("expected {width} fields, found {}", rec.len()),
            ));
        }
        rows.push(row(&rec, line, found)?);
    }
    Ok(rows)
}

fn parse_source(s: &str) -> Option<Source> {
    [
        Source::OrganizationAdmin,
        Source::ExplicitMember,
        Source::OrgWideGrant,
        Source::Default,
    ]
    .into_iter()
    .find(|x| x.as_str() == s)
}

fn row(rec: &::csv::StringRecord, line: usize, cols: [usize; 8]) -> Result<Row, CsvError> {
    let cell = |c: usize| -> &str {
        cols.get(c)
            .and_then(|i| rec.get(i.saturating_sub(1)))
            .map_or("", crate::text::spreadsheet_value)
    };
    let at = |c: usize| cols.get(c).copied().unwrap_or(1);
    let bad = |c: usize, e: &Error| CsvError::new(line, at(c), e.to_string());
    let user = ids::email("user", cell(USER).trim()).map_err(|e| bad(USER, &e))?;
    let org = ids::org_slug("org", cell(ORG).trim())
        .map_err(|e| bad(ORG, &e))?
        .to_owned();
    let org_role =
        OrgRole::parse("org_role", cell(ORG_ROLE).trim()).map_err(|e| bad(ORG_ROLE, &e))?;
    let project = cell(PROJECT).trim();
    let project_role = cell(PROJECT_ROLE).trim();
    let source = cell(SOURCE).trim();
    let access = if project.is_empty() {
        if !project_role.is_empty() {
            return Err(CsvError::new(
                line,
                at(PROJECT_ROLE),
                format!("project_role `{project_role}` on a row without a project"),
            ));
        }
        if !source.is_empty() {
            return Err(CsvError::new(
                line,
                at(SOURCE),
                format!("source `{source}` on a row without a project"),
            ));
        }
        None
    } else {
        let (porg, _) = ids::project_id("project", project).map_err(|e| bad(PROJECT, &e))?;
        if porg != org {
            return Err(CsvError::new(
                line,
                at(PROJECT),
                format!("project `{project}` is not in org `{org}`"),
            ));
        }
        let role =
            ProjectRole::parse("project_role", project_role).map_err(|e| bad(PROJECT_ROLE, &e))?;
        let src = parse_source(source).ok_or_else(|| {
            CsvError::new(
                line,
                at(SOURCE),
                format!(
                    "invalid source `{}`: expected organization_admin, explicit_member, \
                     org_wide_grant or default",
                    source.escape_debug()
                ),
            )
        })?;
        if (src == Source::OrganizationAdmin) != org_role.is_admin() {
            let message = if org_role.is_admin() {
                format!(
                    "source `{source}` for an org {}: owners and admins have \
                     organization_admin",
                    org_role.as_str()
                )
            } else {
                "source `organization_admin` for an org member: only owners and admins have it"
                    .to_owned()
            };
            return Err(CsvError::new(line, at(SOURCE), message));
        }
        if src == Source::OrganizationAdmin && role != ProjectRole::Admin {
            return Err(CsvError::new(
                line,
                at(PROJECT_ROLE),
                format!("project_role `{project_role}` with source `organization_admin`, which gives admin"),
            ));
        }
        Some((project.to_owned(), role, src))
    };
    let expires = match cell(EXPIRES).trim() {
        "" => None,
        s => Some(Instant::parse("expires", s).map_err(|e| bad(EXPIRES, &e))?),
    };
    if org_role == OrgRole::Owner && expires.is_some() {
        return Err(CsvError::new(
            line,
            at(EXPIRES),
            format!("`{user}` is an owner of `{org}` and an owner membership cannot expire"),
        ));
    }
    let reason = Some(cell(REASON))
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    Ok(Row {
        line,
        cols,
        user,
        org,
        org_role,
        access,
        expires,
        reason,
    })
}

/// What the rows say about one member.
struct MemberAcc<'r> {
    first: &'r Row,
    /// The first row carrying the membership's own expiry and reason.
    own: Option<&'r Row>,
    /// The first `org_wide_grant` row.
    org_wide: Option<&'r Row>,
    /// Rows with a project, by project id; the first row with no project.
    by_project: BTreeMap<&'r str, &'r Row>,
    no_project: Option<&'r Row>,
}

/// What the rows say about one project.
#[derive(Default)]
struct ProjectAcc<'r> {
    /// The first `default` row.
    default: Option<&'r Row>,
    /// Named by an `org_wide_grant` row.
    reached: bool,
}

/// What the rows say about one org.
struct OrgAcc<'r> {
    first: &'r Row,
    has_owner: bool,
    projects: BTreeMap<&'r str, ProjectAcc<'r>>,
    members: BTreeMap<&'r str, MemberAcc<'r>>,
}

/// The changes that rebuild `rows`, each with the line it comes from.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the rows, validating each column in order"
)]
fn plan(rows: &[Row]) -> Result<Vec<(Change, usize)>, CsvError> {
    let mut orgs: BTreeMap<&str, OrgAcc<'_>> = BTreeMap::new();
    for r in rows {
        let o = orgs.entry(&r.org).or_insert_with(|| OrgAcc {
            first: r,
            has_owner: false,
            projects: BTreeMap::new(),
            members: BTreeMap::new(),
        });
        o.has_owner |= r.org_role == OrgRole::Owner;
        let m = o.members.entry(&r.user).or_insert_with(|| MemberAcc {
            first: r,
            own: None,
            org_wide: None,
            by_project: BTreeMap::new(),
            no_project: None,
        });
        if m.first.org_role != r.org_role {
            return Err(r.err(
                ORG_ROLE,
                format!(
                    "org_role `{}` of `{}` in `{}` differs from `{}` at line {}",
                    r.org_role.as_str(),
                    r.user,
                    r.org,
                    m.first.org_role.as_str(),
                    m.first.line
                ),
            ));
        }
        if r.carries_membership() {
            match m.own {
                None => m.own = Some(r),
                Some(first) => same_attrs(r, first, "the membership of")?,
            }
        }
        let Some((project, role, source)) = &r.access else {
            if let Some(first) = m.no_project {
                return Err(r.err(
                    PROJECT,
                    format!(
                        "duplicate row without a project for `{}` in `{}` (first at line {})",
                        r.user, r.org, first.line
                    ),
                ));
            }
            m.no_project = Some(r);
            continue;
        };
        if let Some(first) = m.by_project.insert(project, r) {
            return Err(r.err(
                PROJECT,
                format!(
                    "duplicate row for `{}` on `{project}` (first at line {})",
                    r.user, first.line
                ),
            ));
        }
        let p = o.projects.entry(project).or_default();
        match source {
            Source::Default => match p.default {
                None => p.default = Some(r),
                Some(first) => {
                    let first_role = first.access.as_ref().map(|a| a.1);
                    if first_role != Some(*role) {
                        return Err(r.err(
                            PROJECT_ROLE,
                            format!(
                                "conflicting default roles for `{project}`: `{}` here, `{}` at line {}",
                                role.as_str(),
                                first_role.map_or("", ProjectRole::as_str),
                                first.line
                            ),
                        ));
                    }
                }
            },
            Source::OrgWideGrant => {
                p.reached = true;
                match m.org_wide {
                    None => m.org_wide = Some(r),
                    Some(first) => {
                        let first_role = first.access.as_ref().map(|a| a.1);
                        if first_role != Some(*role) {
                            return Err(r.err(
                                PROJECT_ROLE,
                                format!(
                                    "conflicting org-wide grants of `{}` in `{}`: `{}` here, `{}` at line {}",
                                    r.user,
                                    r.org,
                                    role.as_str(),
                                    first_role.map_or("", ProjectRole::as_str),
                                    first.line
                                ),
                            ));
                        }
                        same_attrs(r, first, "the org-wide grant of")?;
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (slug, o) in &orgs {
        if !o.has_owner {
            return Err(o.first.err(
                ORG,
                format!("org `{slug}` has no owner: no row has org_role `owner`"),
            ));
        }
        org_changes(slug, o, &mut out);
    }
    Ok(out)
}

/// Errors unless `r` and `first` agree on expiry and reason.
fn same_attrs(r: &Row, first: &Row, what: &str) -> Result<(), CsvError> {
    let (col, name) = if r.expires == first.expires {
        if r.reason == first.reason {
            return Ok(());
        }
        (REASON, "reason")
    } else {
        (EXPIRES, "expires")
    };
    Err(r.err(
        col,
        format!(
            "{name} of {what} `{}` in `{}` differs from line {}",
            r.user, r.org, first.line
        ),
    ))
}

/// True when `project` must be restricted: an org-wide grant does not reach it.
fn restricted(o: &OrgAcc<'_>, project: &str, p: &ProjectAcc<'_>) -> bool {
    if p.reached || p.default.is_some() {
        return false;
    }
    o.members.values().any(|m| {
        let Some((_, wide, _)) = m.org_wide.and_then(|r| r.access.as_ref()) else {
            return false;
        };
        match m.by_project.get(project).and_then(|r| r.access.as_ref()) {
            None => true,
            Some((_, role, source)) => role < wide || (role == wide && *source == Source::Default),
        }
    })
}

fn org_changes(slug: &str, o: &OrgAcc<'_>, out: &mut Vec<(Change, usize)>) {
    out.push((
        Change::OrgCreated {
            org: slug.to_owned(),
            attrs: OrgAttrs {
                name: slug.to_owned(),
                settings: Settings::new(),
            },
        },
        o.first.line,
    ));
    for (&id, p) in &o.projects {
        let line = p.default.map_or(o.first.line, |r| r.line);
        out.push((
            Change::ProjectCreated {
                project: id.to_owned(),
                attrs: ProjectAttrs {
                    name: id.split_once('/').map_or(id, |(_, s)| s).to_owned(),
                    environment: None,
                    restricted: restricted(o, id, p),
                    pii: false,
                    default_role: p.default.and_then(|r| r.access.as_ref()).map(|a| a.1),
                    settings: Settings::new(),
                },
                api_key: None,
            },
            line,
        ));
    }
    for (&user, m) in &o.members {
        out.push((
            Change::MemberAdded {
                org: slug.to_owned(),
                user: user.to_owned(),
                attrs: MemberAttrs {
                    role: m.first.org_role,
                    expires: m.own.and_then(|r| r.expires),
                    reason: m.own.and_then(|r| r.reason.clone()),
                    reviewed: None,
                    external: false,
                },
                person: UserAttrs::default(),
            },
            m.own.map_or(m.first.line, |r| r.line),
        ));
    }
    for (&user, m) in &o.members {
        let grants = m
            .org_wide
            .into_iter()
            .map(|r| (format!("{slug}/*"), r))
            .chain(
                m.by_project
                    .iter()
                    .filter(|(_, r)| matches!(r.access, Some((_, _, Source::ExplicitMember))))
                    .map(|(&p, &r)| (p.to_owned(), r)),
            );
        for (target, r) in grants {
            let Some((_, role, _)) = &r.access else {
                continue;
            };
            out.push((
                Change::GrantAdded {
                    user: user.to_owned(),
                    target,
                    attrs: GrantAttrs {
                        role: *role,
                        expires: r.expires,
                        reason: r.reason.clone(),
                        review_by: None,
                    },
                },
                r.line,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_back() {
        for s in [
            Source::OrganizationAdmin,
            Source::ExplicitMember,
            Source::OrgWideGrant,
            Source::Default,
        ] {
            assert_eq!(parse_source(s.as_str()), Some(s));
        }
        assert_eq!(parse_source("creator"), None);
    }

    #[test]
    fn header_only_is_an_empty_graph() {
        let g = from_csv(&format!("{}\n", COLUMNS.join(",")));
        assert!(g.is_ok_and(|g| g.orgs().is_ok_and(|o| o.is_empty())));
    }
}
