//! The JSON snapshot (SPEC 5.2): the whole graph, lossless and deterministic.
//!
//! [`to_json`] writes every org, project, user, membership, grant, resource and custom
//! action; [`from_json`] reads a snapshot back into a new [`Graph`], restoring the
//! recorded state as it is (expired entries included, `granted_by` / `granted_at` as
//! recorded). A snapshot that does not fit raises [`JsonError`], whose path names the
//! offending place the way SPEC 9 writes it: `$.grants[3].role`.
//!
//! Decisions beyond SPEC 5.2:
//! - Fixed shape: every key is written, absent values as `null`; arrays are sorted (orgs
//!   by slug, projects by id, users by email, memberships by org then user, grants by
//!   user then target, resources by id, actions by name). Instants are ISO-8601 UTC
//!   (`2024-06-01T12:00:00Z`, fractions only when present), dates `YYYY-MM-DD`. Two-space
//!   indent and a trailing newline, so snapshots diff well under version control.
//! - Reading is strict: unknown fields anywhere are refused. Optional values (those that
//!   may be `null`) may be left out, and so may the booleans and `settings` (false, empty) and
//!   any of the arrays (empty); `format` and `version` are read before anything else, so
//!   a newer snapshot is reported as newer rather than as having unknown fields.
//! - A snapshot is self-contained: every email a membership, grant or resource names
//!   must be listed under `users`, every org and project referenced must be listed.
//! - `api_keys` is the place for key records; they will hold hashes only, never secrets.
//!   This version has no key store: it writes `[]` and refuses a non-empty list.
//! - Custom actions are defined in name order, so after a round trip the catalogue lists
//!   them in that order.
//! - Paths are found from the parser's position in the text, so a key is written as
//!   `.key` when it is an identifier and `["key"]` otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::de::{self, Deserializer, IgnoredAny};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ValidationError};
use crate::eval::{ActionDef, Catalog, Need};
use crate::graph::{state, Change, GrantAttrs, Graph, MemberAttrs, OrgAttrs, State, UserAttrs};
use crate::ids::{self, GrantTarget};
use crate::model::{OrgRole, ProjectAttrs, ProjectRole, Settings};
use crate::time::Instant;

/// The value of the snapshot's `format` key.
pub const FORMAT: &str = "accessgraph";

/// The snapshot version this build writes and the newest it reads.
pub const VERSION: u64 = 1;

/// A snapshot that cannot be read: where (a JSON path such as `$.grants[3].role`) and why.
/// The registry's shared JSON error, so that it maps to `RegistryFormatError(.path)`.
pub use super::JsonPathError as JsonError;

// ---------------------------------------------------------------------------------------
// The document

/// `format` and `version`, read first (other keys are skipped here).
#[derive(Deserialize)]
#[serde(expecting = "an accessgraph snapshot (a JSON object)")]
struct Header {
    #[serde(deserialize_with = "de_format")]
    #[expect(dead_code, reason = "read to validate it")]
    format: String,
    #[serde(deserialize_with = "de_version")]
    #[expect(dead_code, reason = "read to validate it")]
    version: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an accessgraph snapshot (a JSON object)"
)]
struct Doc {
    #[serde(deserialize_with = "de_format")]
    format: String,
    #[serde(deserialize_with = "de_version")]
    version: u64,
    #[serde(default)]
    orgs: Vec<OrgJson>,
    #[serde(default)]
    projects: Vec<ProjectJson>,
    #[serde(default)]
    users: Vec<UserJson>,
    #[serde(default)]
    memberships: Vec<MembershipJson>,
    #[serde(default)]
    grants: Vec<GrantJson>,
    #[serde(default)]
    resources: Vec<ResourceJson>,
    #[serde(default)]
    actions: Vec<ActionJson>,
    /// Reserved for API keys (hashes only, never secrets); always empty for now.
    #[serde(default)]
    api_keys: Vec<ApiKeyJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an org object")]
struct OrgJson {
    slug: String,
    name: String,
    #[serde(default)]
    settings: Settings,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a project object")]
struct ProjectJson {
    id: String,
    name: String,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    restricted: bool,
    #[serde(default)]
    pii: bool,
    #[serde(default, deserialize_with = "de_opt_project_role")]
    default_role: Option<ProjectRole>,
    #[serde(default)]
    settings: Settings,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a user object")]
struct UserJson {
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a membership object")]
struct MembershipJson {
    user: String,
    org: String,
    #[serde(deserialize_with = "de_org_role")]
    role: OrgRole,
    #[serde(default, with = "iso_opt")]
    expires: Option<Instant>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default, with = "date_opt")]
    reviewed: Option<NaiveDate>,
    #[serde(default)]
    external: bool,
    #[serde(default)]
    granted_by: Option<String>,
    #[serde(with = "iso")]
    granted_at: Instant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a grant object")]
struct GrantJson {
    user: String,
    target: String,
    #[serde(deserialize_with = "de_project_role")]
    role: ProjectRole,
    #[serde(default, with = "iso_opt")]
    expires: Option<Instant>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    granted_by: Option<String>,
    #[serde(with = "iso")]
    granted_at: Instant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a resource object")]
struct ResourceJson {
    id: String,
    owner: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an action object")]
struct ActionJson {
    name: String,
    scope: String,
    min_role: String,
    #[serde(default)]
    owner_role: Option<String>,
}

/// An API key record. There is no key store yet, so there is no record either: a
/// snapshot with keys is refused rather than silently dropping them. When keys land this
/// becomes a struct of key id, user, scopes, dates and the secret's *hash*.
enum ApiKeyJson {}

impl Serialize for ApiKeyJson {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        match *self {}
    }
}

impl<'de> Deserialize<'de> for ApiKeyJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoKeys)
    }
}

/// Refuses a key record once it is read, so that the error names it.
struct NoKeys;

impl<'de> de::Visitor<'de> for NoKeys {
    type Value = ApiKeyJson;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an api key record")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ApiKeyJson, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(de::Error::custom(
            "api keys cannot be restored: this version of accessgraph has no key store",
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Field codecs: each error message says what was expected.
//
// Values are checked inside a `Visitor`, not after `String::deserialize` returns: serde_json
// positions a visitor's error right after the value, whereas an error raised later is
// positioned after the enclosing `}` or `]`, which would name the wrong path.

/// Reads a string and parses it with `parse`, whose error message is kept as is.
struct Parsed<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> de::Visitor<'_> for Parsed<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.parse)(s).map_err(E::custom)
    }
}

/// Like [`Parsed`], with `null` read as `None`.
struct ParsedOpt<T>(Parsed<T>);

impl<'de, T> de::Visitor<'de> for ParsedOpt<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} or null", self.0.expecting)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_str(self.0).map(Some)
    }
}

fn parsed<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    d.deserialize_str(Parsed { expecting, parse })
}

fn parsed_opt<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error> {
    d.deserialize_option(ParsedOpt(Parsed { expecting, parse }))
}

fn format_name(s: &str) -> Result<String, String> {
    if s == FORMAT {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "unknown format `{}` (expected `{FORMAT}`)",
            s.escape_debug()
        ))
    }
}

fn de_format<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    parsed(d, "the string `accessgraph`", format_name)
}

struct Version;

impl de::Visitor<'_> for Version {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the version number {VERSION}")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        match v {
            VERSION => Ok(v),
            0 => Err(E::custom(format!(
                "invalid version `0` (expected {VERSION})"
            ))),
            _ => Err(E::custom(format!(
                "unsupported version `{v}`: this version of accessgraph reads snapshots up to version {VERSION}"
            ))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        Err(E::custom(format!(
            "invalid version `{v}` (expected {VERSION})"
        )))
    }
}

fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_u64(Version)
}

fn org_role(s: &str) -> Result<OrgRole, String> {
    match s {
        "member" => Ok(OrgRole::Member),
        "admin" => Ok(OrgRole::Admin),
        "owner" => Ok(OrgRole::Owner),
        _ => Err(format!(
            "unknown role `{}` (expected member, admin or owner)",
            s.escape_debug()
        )),
    }
}

fn project_role(s: &str) -> Result<ProjectRole, String> {
    match s {
        "viewer" => Ok(ProjectRole::Viewer),
        "member" => Ok(ProjectRole::Member),
        "admin" => Ok(ProjectRole::Admin),
        _ => Err(format!(
            "unknown role `{}` (expected viewer, member or admin)",
            s.escape_debug()
        )),
    }
}

const ORG_ROLE: &str = "an org role (member, admin or owner)";
const PROJECT_ROLE: &str = "a project role (viewer, member or admin)";
const INSTANT: &str = "an ISO-8601 instant";
const DATE: &str = "a date YYYY-MM-DD";

fn de_org_role<'de, D: Deserializer<'de>>(d: D) -> Result<OrgRole, D::Error> {
    parsed(d, ORG_ROLE, org_role)
}

fn de_project_role<'de, D: Deserializer<'de>>(d: D) -> Result<ProjectRole, D::Error> {
    parsed(d, PROJECT_ROLE, project_role)
}

fn de_opt_project_role<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProjectRole>, D::Error> {
    parsed_opt(d, PROJECT_ROLE, project_role)
}

fn parse_instant(s: &str) -> Result<Instant, String> {
    Instant::parse("instant", s).map_err(|_| {
        format!(
            "invalid instant `{}` (expected ISO-8601 UTC such as `2024-06-01T12:00:00Z`)",
            s.escape_debug()
        )
    })
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    crate::time::parse_date("date", s)
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("invalid date `{}` (expected YYYY-MM-DD)", s.escape_debug()))
}

mod iso {
    use super::{parse_instant, parsed, Deserializer, Instant, Serializer, INSTANT};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes the field by reference"
    )]
    pub fn serialize<S: Serializer>(at: &Instant, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_iso())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        parsed(d, INSTANT, parse_instant)
    }
}

mod iso_opt {
    use super::{parse_instant, parsed_opt, Deserializer, Instant, Serializer, INSTANT};

    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes the field by reference"
    )]
    pub fn serialize<S: Serializer>(at: &Option<Instant>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_some(&at.to_iso()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Instant>, D::Error> {
        parsed_opt(d, INSTANT, parse_instant)
    }
}

mod date_opt {
    use super::{parse_date, parsed_opt, Deserializer, NaiveDate, Serializer, DATE};

    #[expect(
        clippy::ref_option,
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes the field by reference"
    )]
    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.format("%Y-%m-%d").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        parsed_opt(d, DATE, parse_date)
    }
}

// ---------------------------------------------------------------------------------------
// Writing

/// The whole graph as a JSON snapshot: deterministic, pretty-printed, newline-terminated.
pub fn to_json(graph: &Graph) -> crate::Result<String> {
    let doc = graph.read(snapshot)?;
    let mut out = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::rule(format!("cannot write the snapshot: {e}")))?;
    out.push('\n');
    Ok(out)
}

fn snapshot(st: &State) -> crate::Result<Doc> {
    let orgs = state::list_orgs(st);
    let mut memberships = Vec::new();
    for o in &orgs {
        for m in state::list_members(st, &o.slug)? {
            memberships.push(MembershipJson {
                user: m.user,
                org: m.org,
                role: m.role,
                expires: m.expires,
                reason: m.reason,
                reviewed: m.reviewed,
                external: m.external,
                granted_by: m.granted_by,
                granted_at: m.granted_at,
            });
        }
    }
    let mut users: Vec<UserJson> = st
        .users
        .iter()
        .map(|u| UserJson {
            email: u.email.to_string(),
            name: u.name.clone(),
            title: u.title.clone(),
        })
        .collect();
    users.sort_by(|a, b| a.email.cmp(&b.email));
    let mut actions: Vec<ActionJson> = st.catalog.custom().map(action_json).collect();
    actions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Doc {
        format: FORMAT.to_owned(),
        version: VERSION,
        orgs: orgs
            .into_iter()
            .map(|o| OrgJson {
                slug: o.slug,
                name: o.name,
                settings: o.settings,
            })
            .collect(),
        projects: state::list_projects(st, None)?
            .into_iter()
            .map(|p| ProjectJson {
                id: p.id,
                name: p.attrs.name,
                environment: p.attrs.environment,
                restricted: p.attrs.restricted,
                pii: p.attrs.pii,
                default_role: p.attrs.default_role,
                settings: p.attrs.settings,
            })
            .collect(),
        users,
        memberships,
        grants: state::list_grants(st, None, None)
            .into_iter()
            .map(|g| GrantJson {
                user: g.user,
                target: g.target,
                role: g.role,
                expires: g.expires,
                reason: g.reason,
                granted_by: g.granted_by,
                granted_at: g.granted_at,
            })
            .collect(),
        resources: state::list_resources(st, None)?
            .into_iter()
            .map(|r| ResourceJson {
                id: r.id,
                owner: r.owner,
            })
            .collect(),
        actions,
        api_keys: Vec::new(),
    })
}

fn action_json(def: &ActionDef) -> ActionJson {
    let (scope, min_role, owner_role) = match def.need {
        Need::Org { min_role } => ("org", min_role.as_str(), None),
        Need::Project {
            min_role,
            owner_role,
        } => (
            "project",
            min_role.as_str(),
            owner_role.map(ProjectRole::as_str),
        ),
    };
    ActionJson {
        name: def.name.clone(),
        scope: scope.to_owned(),
        min_role: min_role.to_owned(),
        owner_role: owner_role.map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Reads a snapshot into a new graph (on the wall clock). Nothing is partly restored:
/// the first problem raises [`JsonError`] naming its JSON path.
pub fn from_json(text: &str) -> Result<Graph, JsonError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The header first: a newer version must be reported as such, not as unknown fields.
    serde_json::from_str::<Header>(text).map_err(|e| located(text, &e))?;
    let doc: Doc = serde_json::from_str(text).map_err(|e| located(text, &e))?;
    apply(&plan(&doc)?)
}

/// One change to apply, the path of the record it comes from, and the stamp it must
/// carry (`None`: the change records no stamp).
struct Planned {
    change: Change,
    path: String,
    stamp: Option<(Instant, Option<String>)>,
}

fn at(list: &str, i: usize) -> String {
    format!("$.{list}[{i}]")
}

fn field(list: &str, i: usize, name: &str) -> String {
    format!("$.{list}[{i}].{name}")
}

/// A core validation error at `path`; an `Invalid` error names its field, which is
/// appended when the path does not end in it already.
fn invalid(path: String, e: &Error) -> JsonError {
    let path = match e {
        Error::Validation(ValidationError::Invalid { field, .. })
            if !path.ends_with(&format!(".{field}")) && !field.is_empty() =>
        {
            format!("{path}.{field}")
        }
        _ => path,
    };
    JsonError::new(path, e.to_string())
}

fn email(path: String, s: &str) -> Result<String, JsonError> {
    ids::email("email", s).map_err(|_| {
        JsonError::new(
            path,
            format!(
                "invalid email `{}` (expected an email address)",
                s.escape_debug()
            ),
        )
    })
}

fn check_settings(path: &str, settings: &Settings) -> Result<(), JsonError> {
    match settings.get("members_can_invite") {
        Some(v) if !v.is_boolean() => Err(JsonError::new(
            format!("{path}.settings.members_can_invite"),
            format!("invalid value `{v}` (expected true or false)"),
        )),
        _ => Ok(()),
    }
}

/// Validates the document and lists the changes that rebuild it. Every reference is
/// checked here so that an error can name the record it comes from.
fn plan(doc: &Doc) -> Result<Vec<Planned>, JsonError> {
    let mut out = Vec::new();
    let unstamped = |change: Change, path: String| Planned {
        change,
        path,
        stamp: None,
    };

    let mut orgs: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, o) in doc.orgs.iter().enumerate() {
        let path = field("orgs", i, "slug");
        ids::org_slug("slug", &o.slug).map_err(|e| invalid(path.clone(), &e))?;
        if let Some(first) = orgs.insert(&o.slug, i) {
            return Err(JsonError::new(
                path,
                format!(
                    "duplicate organization `{}` (first at {})",
                    o.slug,
                    at("orgs", first)
                ),
            ));
        }
        check_settings(&at("orgs", i), &o.settings)?;
        out.push(unstamped(
            Change::OrgCreated {
                org: o.slug.clone(),
                attrs: OrgAttrs {
                    name: o.name.clone(),
                    settings: o.settings.clone(),
                },
            },
            at("orgs", i),
        ));
    }

    let mut projects: BTreeSet<&str> = BTreeSet::new();
    for (i, p) in doc.projects.iter().enumerate() {
        let path = field("projects", i, "id");
        let (org, _) = ids::project_id("id", &p.id).map_err(|e| invalid(path.clone(), &e))?;
        if !orgs.contains_key(org) {
            return Err(JsonError::new(
                path,
                format!("unknown organization `{org}` (not listed in `$.orgs`)"),
            ));
        }
        if !projects.insert(&p.id) {
            return Err(JsonError::new(
                path,
                format!("duplicate project `{}`", p.id),
            ));
        }
        if p.restricted && p.default_role.is_some() {
            return Err(JsonError::new(
                field("projects", i, "default_role"),
                "a restricted project cannot have a default role",
            ));
        }
        out.push(unstamped(
            Change::ProjectCreated {
                project: p.id.clone(),
                attrs: ProjectAttrs {
                    name: p.name.clone(),
                    environment: p.environment.clone(),
                    restricted: p.restricted,
                    pii: p.pii,
                    default_role: p.default_role,
                    settings: p.settings.clone(),
                },
            },
            at("projects", i),
        ));
    }

    let mut catalog = Catalog::default();
    for (i, a) in doc.actions.iter().enumerate() {
        let def = catalog
            .validate_custom(&a.name, &a.scope, &a.min_role, a.owner_role.as_deref())
            .map_err(|e| invalid(at("actions", i), &e))?;
        if catalog.contains(&a.name) {
            return Err(JsonError::new(
                field("actions", i, "name"),
                format!("action `{}` already exists", a.name),
            ));
        }
        catalog.add(def.clone());
        out.push(unstamped(Change::ActionDefined { def }, at("actions", i)));
    }

    // Users by lower-case email: (their attributes, are they a member somewhere).
    let mut users: BTreeMap<String, (UserAttrs, bool)> = BTreeMap::new();
    for (i, u) in doc.users.iter().enumerate() {
        let key = email(field("users", i, "email"), &u.email)?;
        let person = UserAttrs {
            name: u.name.clone(),
            title: u.title.clone(),
        };
        if users.insert(key.clone(), (person, false)).is_some() {
            return Err(JsonError::new(
                field("users", i, "email"),
                format!("duplicate user `{key}`"),
            ));
        }
    }
    let known = |users: &BTreeMap<String, (UserAttrs, bool)>, path: String, s: &str| {
        let key = email(path.clone(), s)?;
        if users.contains_key(&key) {
            Ok(key)
        } else {
            Err(JsonError::new(
                path,
                format!("unknown user `{key}` (not listed in `$.users`)"),
            ))
        }
    };

    let mut members: BTreeSet<(String, String)> = BTreeSet::new();
    let mut with_owner: BTreeSet<&str> = BTreeSet::new();
    let mut stamped = Vec::new();
    for (i, m) in doc.memberships.iter().enumerate() {
        let user = known(&users, field("memberships", i, "user"), &m.user)?;
        if !orgs.contains_key(m.org.as_str()) {
            return Err(JsonError::new(
                field("memberships", i, "org"),
                format!(
                    "unknown organization `{}` (not listed in `$.orgs`)",
                    m.org.escape_debug()
                ),
            ));
        }
        if !members.insert((m.org.clone(), user.clone())) {
            return Err(JsonError::new(
                at("memberships", i),
                format!("duplicate membership of `{user}` in `{}`", m.org),
            ));
        }
        if m.role == OrgRole::Owner {
            if m.expires.is_some() {
                return Err(JsonError::new(
                    field("memberships", i, "expires"),
                    "an owner membership cannot expire",
                ));
            }
            with_owner.insert(&m.org);
        }
        let by = m
            .granted_by
            .as_deref()
            .map(|b| email(field("memberships", i, "granted_by"), b))
            .transpose()?;
        let person = match users.get_mut(&user) {
            Some((person, member)) => {
                *member = true;
                person.clone()
            }
            None => UserAttrs::default(),
        };
        stamped.push(Planned {
            change: Change::MemberAdded {
                org: m.org.clone(),
                user,
                attrs: MemberAttrs {
                    role: m.role,
                    expires: m.expires,
                    reason: m.reason.clone(),
                    reviewed: m.reviewed,
                    external: m.external,
                },
                person,
            },
            path: at("memberships", i),
            stamp: Some((m.granted_at, by)),
        });
    }
    if let Some((slug, i)) = orgs.iter().find(|(slug, _)| !with_owner.contains(**slug)) {
        return Err(JsonError::new(
            at("orgs", *i),
            format!("organization `{slug}` has no owner: an organization must keep an owner"),
        ));
    }
    out.append(&mut stamped);

    let mut grants: BTreeSet<(String, &str)> = BTreeSet::new();
    for (i, g) in doc.grants.iter().enumerate() {
        let user = known(&users, field("grants", i, "user"), &g.user)?;
        let path = field("grants", i, "target");
        let target =
            ids::grant_target("target", &g.target).map_err(|e| invalid(path.clone(), &e))?;
        let org = match target {
            GrantTarget::AllProjects(o) => o,
            GrantTarget::Project(p) => {
                if !projects.contains(p) {
                    return Err(JsonError::new(
                        path,
                        format!("unknown project `{p}` (not listed in `$.projects`)"),
                    ));
                }
                p.split_once('/').map_or(p, |(o, _)| o)
            }
        };
        if !orgs.contains_key(org) {
            return Err(JsonError::new(
                path,
                format!("unknown organization `{org}` (not listed in `$.orgs`)"),
            ));
        }
        if !members.contains(&(org.to_owned(), user.clone())) {
            return Err(JsonError::new(
                at("grants", i),
                format!("`{user}` holds a grant in `{org}` but no membership of it"),
            ));
        }
        if !grants.insert((user.clone(), &g.target)) {
            return Err(JsonError::new(
                at("grants", i),
                format!("duplicate grant of `{user}` on `{}`", g.target),
            ));
        }
        let by = g
            .granted_by
            .as_deref()
            .map(|b| email(field("grants", i, "granted_by"), b))
            .transpose()?;
        stamped.push(Planned {
            change: Change::GrantAdded {
                user,
                target: g.target.clone(),
                attrs: GrantAttrs {
                    role: g.role,
                    expires: g.expires,
                    reason: g.reason.clone(),
                },
            },
            path: at("grants", i),
            stamp: Some((g.granted_at, by)),
        });
    }
    out.append(&mut stamped);

    let mut resources: BTreeSet<&str> = BTreeSet::new();
    let mut created: BTreeSet<String> = BTreeSet::new();
    for (i, r) in doc.resources.iter().enumerate() {
        let path = field("resources", i, "id");
        resource_id(&r.id, &projects).map_err(|m| JsonError::new(path.clone(), m))?;
        if !resources.insert(&r.id) {
            return Err(JsonError::new(
                path,
                format!("duplicate resource `{}`", r.id),
            ));
        }
        let owner = known(&users, field("resources", i, "owner"), &r.owner)?;
        created.insert(owner.clone());
        out.push(unstamped(
            Change::ResourceCreated {
                resource: r.id.clone(),
                owner,
            },
            at("resources", i),
        ));
    }

    // Users without a membership (they left, or were removed): `UserUpdated` creates
    // the record; one is needed too for a user no earlier change created.
    for (i, u) in doc.users.iter().enumerate() {
        let user = u.email.to_ascii_lowercase();
        if users.get(&user).is_none_or(|(_, member)| *member) {
            continue;
        }
        let person = UserAttrs {
            name: u.name.clone(),
            title: u.title.clone(),
        };
        if person != UserAttrs::default() || !created.contains(&user) {
            out.push(unstamped(
                Change::UserUpdated {
                    user,
                    before: UserAttrs::default(),
                    after: person,
                },
                at("users", i),
            ));
        }
    }
    Ok(out)
}

/// Checks a resource id `org/project/kind/id` whose project is listed.
fn resource_id(id: &str, projects: &BTreeSet<&str>) -> Result<(), String> {
    let mut parts = id.splitn(4, '/');
    let (Some(o), Some(p), Some(k), Some(local)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "invalid resource id `{}` (expected `org/project/kind/id`)",
            id.escape_debug()
        ));
    };
    let project = format!("{o}/{p}");
    ids::project_id("id", &project).map_err(|e| e.to_string())?;
    ids::resource_kind("kind", k).map_err(|e| e.to_string())?;
    ids::resource_local_id("id", local).map_err(|e| e.to_string())?;
    if !projects.contains(project.as_str()) {
        return Err(format!(
            "unknown project `{project}` (not listed in `$.projects`)"
        ));
    }
    Ok(())
}

/// Replays the plan into a fresh state, each change with its recorded `granted_at` and
/// `granted_by` (unstamped changes at the epoch, by the system): one pass, no clock
/// moved, and a change that does not fit is reported at its record's path.
fn apply(plan: &[Planned]) -> Result<Graph, JsonError> {
    let mut st = state::State::new();
    for p in plan {
        let (at, actor) = match &p.stamp {
            Some((when, by)) => (*when, by.as_deref()),
            None => (Instant(0), None),
        };
        st.apply(&p.change, state::Stamp { at, actor })
            .map_err(|e| JsonError::new(p.path.clone(), e.to_string()))?;
    }
    Ok(Graph::from_state(st))
}

// ---------------------------------------------------------------------------------------
// Error paths

/// A `serde_json` error with the JSON path of the place it was raised.
fn located(text: &str, e: &serde_json::Error) -> JsonError {
    let offset = byte_offset(text, e.line(), e.column());
    let frames = frames_at(text, offset);
    let mut message = e.to_string();
    if e.is_data() {
        // The path says where; drop serde_json's " at line L column C".
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
    }
    JsonError::new(render(&frames), message)
}

/// The byte offset of `serde_json`'s 1-based line and 0-based byte column.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column).min(text.len())
}

/// Where the parser is inside the document: the open containers, each with the key or
/// index being read.
#[derive(Debug)]
enum Frame {
    Obj(Option<String>),
    Arr(usize),
}

fn frames_at(text: &str, end: usize) -> Vec<Frame> {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < end {
        let Some(&c) = bytes.get(i) else { break };
        match c {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while let Some(&b) = bytes.get(j) {
                    match b {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                if expect_key {
                    if let Some(Frame::Obj(key)) = stack.last_mut() {
                        *key = Some(
                            serde_json::from_str::<String>(text.get(i..=j).unwrap_or_default())
                                .unwrap_or_else(|_| {
                                    text.get(start..j).unwrap_or_default().to_owned()
                                }),
                        );
                    }
                    expect_key = false;
                }
                i = j + 1;
                continue;
            }
            b'{' => {
                stack.push(Frame::Obj(None));
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::Arr(0));
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Obj(key)) => {
                    *key = None;
                    expect_key = true;
                }
                Some(Frame::Arr(n)) => *n += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    stack
}

fn render(frames: &[Frame]) -> String {
    let mut out = String::from("$");
    for f in frames {
        match f {
            Frame::Arr(n) => {
                let _ = write!(out, "[{n}]");
            }
            Frame::Obj(Some(key)) => {
                let plain = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    out.push('.');
                    out.push_str(key);
                } else {
                    let quoted = serde_json::to_string(key).unwrap_or_default();
                    let _ = write!(out, "[{quoted}]");
                }
            }
            Frame::Obj(None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_parser() {
        let text = r#"{"a": [1, {"b c": 2, "d": [3, 4]}], "e": {}}"#;
        let at = |needle: &str| {
            render(&frames_at(
                text,
                text.find(needle).unwrap_or(0) + needle.len(),
            ))
        };
        assert_eq!(at("[1"), "$.a[0]");
        assert_eq!(at("\"b c\""), "$.a[1][\"b c\"]");
        assert_eq!(at("[3, 4"), "$.a[1].d[1]");
        assert_eq!(at("\"e\""), "$.e");
        assert_eq!(render(&frames_at(text, text.len())), "$");
    }
}
