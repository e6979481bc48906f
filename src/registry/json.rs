//! The JSON snapshot (SPEC 5.2): the whole graph, lossless and deterministic.
//!
//! [`to_json`] writes every org, project, user, membership, grant, resource and custom
//! action; [`from_json`] reads a snapshot back into a new [`Graph`], restoring the
//! recorded state as it is (expired entries included, `granted_by` / `granted_at` as
//! recorded). A snapshot that does not fit raises [`JsonError`], whose path names the
//! offending place the way SPEC 9 writes it: `$.grants[3].role`.
//!
//! Decisions beyond SPEC 5.2:
//! - Deterministic shape: every top-level key is written; in a record, a value equal to
//!   its default (`null`, `false`, empty `settings`) is left out, and the other keys are
//!   written in a fixed order. Arrays are sorted (orgs by slug, projects by id, users by
//!   email, memberships by org then user, grants by user then target, resources by id,
//!   actions by name). Instants are ISO-8601 UTC (`2024-06-01T12:00:00Z`, fractions only
//!   when present), dates `YYYY-MM-DD`. Two-space indent and a trailing newline, so
//!   snapshots diff well under version control.
//! - Leaving defaults out is still version 1: readers of version 1 always accepted absent
//!   defaults, and this one still accepts them written out (`"expires": null`,
//!   `"external": false`), which is how snapshots were written before (a third of the size
//!   of a large snapshot was such keys).
//! - Reading is strict: unknown fields anywhere are refused. Optional values (those that
//!   may be `null`) may be left out, and so may the booleans and `settings` (false, empty) and
//!   any of the arrays (empty); a newer version is reported as newer rather than as having
//!   unknown fields (the header is read on its own when the document does not read).
//! - Reading builds the graph's records directly, validated once in document order, and
//!   its check-path indexes once at the end (not one elementary change at a time), so the
//!   cost is a few hash lookups per record; strings are borrowed from the text.
//! - A snapshot is self-contained: every email a membership, grant or resource names
//!   must be listed under `users`, every org and project referenced must be listed.
//! - `api_keys` holds the personal API keys (sorted by id), revoked ones included, each
//!   with the *hash* of its secret (`sha256$<hex>`) and its mask, never the secret. Its
//!   `projects` may name projects deleted since (the restriction still holds), so they
//!   need not be listed. Each project carries its public key (`api_key`, `agc_…`); a
//!   project read without one gets a new random key.
//! - Custom actions are defined in name order, so after a round trip the catalogue lists
//!   them in that order.
//! - `templates` holds the custom onboarding templates (by name) and `access_requests` the
//!   access requests (in creation order, with their decision); a grant's `review_by` date
//!   is written when an approved request set one. Snapshots without them still read.
//! - Paths are found from the parser's position in the text, so a key is written as
//!   `.key` when it is an identifier and `["key"]` otherwise.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ValidationError};
use crate::graph::Graph;
use crate::ids::{self, new_map, GrantTarget, Map};
use crate::model::actions::{ActionDef, Need};
use crate::model::keys::{self, PersonalKey};
use crate::model::requests::{AccessRequest, RequestStatus};
use crate::model::templates::{self, TemplateDef};
use crate::model::{
    Grant, Membership, OrgRec, ProjectAttrs, ProjectRec, ResourceRec, Settings, UserRec,
};
use crate::roles::{OrgRole, ProjectRole, ResourceKind};
use crate::state::queries;
use crate::state::{State, TargetRef};
use crate::time::Instant;

/// The value of the snapshot's `format` key.
pub const FORMAT: &str = "accessgraph";

/// The snapshot version this build writes and the newest it reads.
pub const VERSION: u64 = 1;

/// A snapshot that cannot be read: where (a JSON path such as `$.grants[3].role`) and why.
/// The registry's shared JSON error, so that it maps to `RegistryFormatError(.path)`.
pub use crate::error::JsonPathError as JsonError;

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
struct Doc<'a> {
    #[serde(deserialize_with = "de_format")]
    format: String,
    #[serde(deserialize_with = "de_version")]
    version: u64,
    #[serde(default)]
    orgs: Vec<OrgJson>,
    #[serde(default)]
    projects: Vec<ProjectJson>,
    #[serde(default, borrow)]
    users: Vec<UserJson<'a>>,
    #[serde(default, borrow)]
    memberships: Vec<MembershipJson<'a>>,
    #[serde(default, borrow)]
    grants: Vec<GrantJson<'a>>,
    #[serde(default)]
    resources: Vec<ResourceJson>,
    #[serde(default)]
    actions: Vec<ActionJson>,
    /// Personal API keys: hashes only, never secrets.
    #[serde(default)]
    api_keys: Vec<ApiKeyJson>,
    /// Custom onboarding templates, by name.
    #[serde(default)]
    templates: Vec<TemplateJson>,
    /// Access requests, in the order they were made.
    #[serde(default)]
    access_requests: Vec<RequestJson>,
}

// Records: a value equal to its default (`null`, `false`, empty settings) is left out when
// writing and read as the default when absent; an explicit `null` / `false` / `{}` is
// accepted too, so every version 1 snapshot ever written still reads.
//
// The per-user records (users, memberships, grants) borrow their strings from the text
// when reading and from the graph when writing: a million grants, no string copies.

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's `skip_serializing_if` passes the field by reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an org object")]
struct OrgJson {
    slug: String,
    name: String,
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    settings: Settings,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a project object")]
struct ProjectJson {
    id: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    restricted: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pii: bool,
    #[serde(
        default,
        deserialize_with = "de_opt_project_role",
        skip_serializing_if = "Option::is_none"
    )]
    default_role: Option<ProjectRole>,
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    settings: Settings,
    /// The project's public API key (`agc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a user object")]
struct UserJson<'a> {
    #[serde(borrow)]
    email: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    title: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a membership object")]
struct MembershipJson<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    org: Cow<'a, str>,
    #[serde(deserialize_with = "de_org_role")]
    role: OrgRole,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    expires: Option<Instant>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    reason: Option<Cow<'a, str>>,
    #[serde(default, with = "date_opt", skip_serializing_if = "Option::is_none")]
    reviewed: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "is_false")]
    external: bool,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    granted_by: Option<Cow<'a, str>>,
    #[serde(with = "iso")]
    granted_at: Instant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a grant object")]
struct GrantJson<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    target: Cow<'a, str>,
    #[serde(deserialize_with = "de_project_role")]
    role: ProjectRole,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    expires: Option<Instant>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    reason: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    granted_by: Option<Cow<'a, str>>,
    #[serde(with = "iso")]
    granted_at: Instant,
    #[serde(default, with = "date_opt", skip_serializing_if = "Option::is_none")]
    review_by: Option<NaiveDate>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_role: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a template object")]
struct TemplateJson {
    name: String,
    #[serde(deserialize_with = "de_org_role")]
    org_role: OrgRole,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    grants: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    external: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    requires_expiry: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an access request object")]
struct RequestJson {
    id: String,
    user: String,
    target: String,
    #[serde(deserialize_with = "de_project_role")]
    role: ProjectRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    status: String,
    #[serde(with = "iso")]
    requested_at: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decided_by: Option<String>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    decided_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decision_reason: Option<String>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    expires: Option<Instant>,
    #[serde(default, with = "date_opt", skip_serializing_if = "Option::is_none")]
    review_by: Option<NaiveDate>,
}

/// A personal API key: the hash of its secret and its mask, never the secret.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an api key object")]
struct ApiKeyJson {
    id: String,
    user: String,
    label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    projects: Option<Vec<String>>,
    #[serde(with = "iso")]
    created_at: Instant,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    rotated_at: Option<Instant>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    expires: Option<Instant>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Instant>,
    hash: String,
    mask: String,
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
///
/// The document borrows the graph's strings, so it is written under the read lock.
pub fn to_json(graph: &Graph) -> crate::error::Result<String> {
    let cannot = |e: &dyn std::fmt::Display| Error::rule(format!("cannot write the snapshot: {e}"));
    graph.read(|st| {
        let doc = snapshot(st)?;
        // About 150 bytes a grant or membership record: one allocation, not a doubling
        // series of copies of a text of hundreds of megabytes.
        let records = doc.grants.len() + doc.memberships.len() + doc.users.len();
        let mut out = Vec::with_capacity(150 * records + 4096);
        serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| cannot(&e))?;
        out.push(b'\n');
        String::from_utf8(out).map_err(|e| cannot(&e))
    })
}

fn snapshot(st: &State) -> crate::error::Result<Doc<'_>> {
    let mut orgs: Vec<(u32, &OrgRec)> = st
        .orgs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((u32::try_from(i).ok()?, o.as_ref()?)))
        .collect();
    orgs.sort_unstable_by(|a, b| a.1.slug.cmp(&b.1.slug));
    let mut users: Vec<&UserRec> = st.users.iter().collect();
    users.sort_unstable_by(|a, b| a.email.cmp(&b.email));

    let mut memberships = Vec::new();
    let mut members: Vec<(&UserRec, &Membership)> = Vec::new();
    for (oid, org) in &orgs {
        members.clear();
        members.extend(org.members.iter().filter_map(|&uid| {
            let u = st.user(uid)?;
            Some((u, u.membership(*oid)?))
        }));
        members.sort_unstable_by(|a, b| a.0.email.cmp(&b.0.email));
        memberships.extend(members.iter().map(|(u, m)| MembershipJson {
            user: Cow::Borrowed(&u.email),
            org: Cow::Borrowed(&org.slug),
            role: m.role,
            expires: m.expires,
            reason: m.reason.as_deref().map(Cow::Borrowed),
            reviewed: m.reviewed,
            external: m.external,
            granted_by: m.granted_by.as_deref().map(Cow::Borrowed),
            granted_at: m.granted_at,
        }));
    }

    // Grants by user (email order), then target: each user's few grants sorted alone.
    let mut grants = Vec::new();
    let mut theirs: Vec<(Cow<'_, str>, &Grant)> = Vec::new();
    for u in &users {
        theirs.clear();
        for m in &u.memberships {
            let Some(org) = st.org(m.org) else { continue };
            if let Some(g) = &m.org_wide {
                theirs.push((Cow::Owned(format!("{}/*", org.slug)), g));
            }
            theirs.extend(
                m.grants
                    .iter()
                    .filter_map(|(pid, g)| Some((Cow::Borrowed(&*st.project(*pid)?.id), g))),
            );
        }
        theirs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        grants.extend(theirs.drain(..).map(|(target, g)| GrantJson {
            user: Cow::Borrowed(&u.email),
            target,
            role: g.role,
            expires: g.expires,
            reason: g.reason().map(Cow::Borrowed),
            granted_by: g.granted_by().map(Cow::Borrowed),
            granted_at: g.granted_at,
            review_by: g.review_by(),
        }));
    }

    let mut actions: Vec<ActionJson> = st.catalog.custom().map(action_json).collect();
    actions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Doc {
        format: FORMAT.to_owned(),
        version: VERSION,
        orgs: orgs
            .iter()
            .map(|(_, o)| OrgJson {
                slug: o.slug.to_string(),
                name: o.name.clone(),
                settings: o.settings.clone(),
            })
            .collect(),
        projects: queries::list_projects(st, None)?
            .into_iter()
            .map(|p| ProjectJson {
                api_key: project_token(st, &p.id),
                id: p.id,
                name: p.attrs.name,
                environment: p.attrs.environment,
                restricted: p.attrs.restricted,
                pii: p.attrs.pii,
                default_role: p.attrs.default_role,
                settings: p.attrs.settings,
            })
            .collect(),
        users: users
            .iter()
            .map(|u| UserJson {
                email: Cow::Borrowed(&u.email),
                name: u.name.as_deref().map(Cow::Borrowed),
                title: u.title.as_deref().map(Cow::Borrowed),
            })
            .collect(),
        memberships,
        grants,
        resources: queries::list_resources(st, None)?
            .into_iter()
            .map(|r| ResourceJson {
                id: r.id,
                owner: r.owner,
            })
            .collect(),
        actions,
        api_keys: api_keys_json(st),
        templates: st.templates.values().map(template_json).collect(),
        access_requests: st.requests.iter().map(request_json).collect(),
    })
}

fn template_json(t: &TemplateDef) -> TemplateJson {
    TemplateJson {
        name: t.name.clone(),
        org_role: t.org_role,
        grants: t
            .grants
            .iter()
            .map(|(k, r)| (k.clone(), r.as_str().to_owned()))
            .collect(),
        external: t.external,
        requires_expiry: t.requires_expiry,
    }
}

fn request_json(r: &AccessRequest) -> RequestJson {
    RequestJson {
        id: r.id.clone(),
        user: r.user.clone(),
        target: r.target.clone(),
        role: r.role,
        reason: r.reason.clone(),
        status: r.status.as_str().to_owned(),
        requested_at: r.requested_at,
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at,
        decision_reason: r.decision_reason.clone(),
        expires: r.expires,
        review_by: r.review_by,
    }
}

fn project_token(st: &State, id: &str) -> Option<String> {
    st.project_id(id)
        .and_then(|pid| st.keys.project.get(&pid))
        .map(|k| k.token.clone())
}

fn api_keys_json(st: &State) -> Vec<ApiKeyJson> {
    let mut out: Vec<ApiKeyJson> = st
        .keys
        .personal
        .iter()
        .map(|k| ApiKeyJson {
            id: k.id.to_string(),
            user: st
                .user(k.user)
                .map(|u| u.email.to_string())
                .unwrap_or_default(),
            label: k.label.clone(),
            scopes: k.scopes.clone(),
            projects: k.projects.clone(),
            created_at: k.created_at,
            rotated_at: k.rotated_at,
            expires: k.expires,
            revoked_at: k.revoked_at,
            hash: k.hash.clone(),
            mask: k.mask.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
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
    let doc: Doc<'_> = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            // The header first: a newer version must be reported as such, not as unknown
            // fields. (A document that reads whole has a valid header: no second pass.)
            serde_json::from_str::<Header>(text).map_err(|h| located(text, &h))?;
            return Err(located(text, &e));
        }
    };
    Ok(Graph::from_state(build(&doc)?))
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

/// An email, or the pseudonym (`erased:<16 hex>`) an erased user's email became: it
/// stays wherever the user was named (the user record, `granted_by`, owners).
fn email(path: impl FnOnce() -> String, s: &str) -> Result<String, JsonError> {
    if crate::audit::erase::is_pseudonym(s) {
        return Ok(s.to_owned());
    }
    ids::email("email", s).map_err(|_| {
        JsonError::new(
            path(),
            format!(
                "invalid email `{}` (expected an email address)",
                s.escape_debug()
            ),
        )
    })
}

fn check_settings(path: impl FnOnce() -> String, settings: &Settings) -> Result<(), JsonError> {
    match settings.get("members_can_invite") {
        Some(v) if !v.is_boolean() => Err(JsonError::new(
            format!("{}.settings.members_can_invite", path()),
            format!("invalid value `{v}` (expected true or false)"),
        )),
        _ => Ok(()),
    }
}

/// A user listed under `users`, while the state is built.
struct Listed<'d> {
    /// The record in the document.
    json: &'d UserJson<'d>,
    /// The user's id once a membership or a resource created the record.
    uid: Option<u32>,
}

/// The state being built and the lookups the checks need.
struct Builder<'d> {
    st: State,
    /// Org slug → (index in `$.orgs`, org id).
    orgs: Map<&'d str, (usize, u32)>,
    /// Project id → project id number.
    projects: Map<&'d str, u32>,
    /// Lower-case email → index in `listed`.
    emails: Map<String, usize>,
    listed: Vec<Listed<'d>>,
}

impl Builder<'_> {
    /// The listed user `s` names: a known email as written (the common case, no copy),
    /// else checked and lower-cased.
    fn known(&self, path: impl Fn() -> String, s: &str) -> Result<usize, JsonError> {
        if let Some(&i) = self.emails.get(s) {
            return Ok(i);
        }
        let key = email(&path, s)?;
        self.emails.get(&key).copied().ok_or_else(|| {
            JsonError::new(
                path(),
                format!("unknown user `{key}` (not listed in `$.users`)"),
            )
        })
    }

    /// The user record of listed user `i`, created (with the listed name and title) on
    /// first use, so that ids follow the order records are first needed in.
    fn user(&mut self, i: usize) -> u32 {
        let Some(l) = self.listed.get_mut(i) else {
            return u32::MAX;
        };
        if let Some(uid) = l.uid {
            return uid;
        }
        let uid = u32::try_from(self.st.users.len()).unwrap_or(u32::MAX);
        let email = l.json.email.to_ascii_lowercase();
        self.st.users.push(UserRec {
            email: email.into(),
            name: l.json.name.as_deref().map(str::to_owned),
            title: l.json.title.as_deref().map(str::to_owned),
            memberships: Vec::new(),
        });
        l.uid = Some(uid);
        uid
    }

    fn email_of(&self, i: usize) -> &str {
        self.listed.get(i).map_or("", |l| &l.json.email)
    }
}

/// Validates the document and builds the state it describes, in one pass per list: each
/// rule is checked in document order and reported at the record's path, the records are
/// written once, and the check-path indexes are built once at the end. Every reference
/// is checked here, so nothing can fail afterwards.
fn build(doc: &Doc<'_>) -> Result<State, JsonError> {
    let mut b = Builder {
        st: State::new(),
        orgs: new_map(),
        projects: new_map(),
        emails: new_map(),
        listed: Vec::with_capacity(doc.users.len()),
    };
    b.st.targets
        .reserve(doc.orgs.len() + doc.projects.len() + doc.resources.len());

    for (i, o) in doc.orgs.iter().enumerate() {
        let path = || field("orgs", i, "slug");
        ids::org_slug("slug", &o.slug).map_err(|e| invalid(path(), &e))?;
        if let Some((first, _)) = b.orgs.get(o.slug.as_str()) {
            return Err(JsonError::new(
                path(),
                format!(
                    "duplicate organization `{}` (first at {})",
                    o.slug,
                    at("orgs", *first)
                ),
            ));
        }
        check_settings(|| at("orgs", i), &o.settings)?;
        let oid = u32::try_from(b.st.orgs.len()).unwrap_or(u32::MAX);
        b.st.orgs.push(Some(OrgRec {
            slug: o.slug.as_str().into(),
            name: o.name.clone(),
            settings: o.settings.clone(),
            members_can_invite: o
                .settings
                .get("members_can_invite")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            members: BTreeSet::new(),
            projects: BTreeSet::new(),
            owners: 0,
        }));
        b.st.targets
            .insert(o.slug.as_str().into(), TargetRef::Org(oid));
        b.orgs.insert(&o.slug, (i, oid));
    }

    for (i, p) in doc.projects.iter().enumerate() {
        let path = || field("projects", i, "id");
        let (org, _) = ids::project_id("id", &p.id).map_err(|e| invalid(path(), &e))?;
        let Some(&(_, oid)) = b.orgs.get(org) else {
            return Err(JsonError::new(
                path(),
                format!("unknown organization `{org}` (not listed in `$.orgs`)"),
            ));
        };
        if b.projects.contains_key(p.id.as_str()) {
            return Err(JsonError::new(
                path(),
                format!("duplicate project `{}`", p.id),
            ));
        }
        if p.restricted && p.default_role.is_some() {
            return Err(JsonError::new(
                field("projects", i, "default_role"),
                "a restricted project cannot have a default role",
            ));
        }
        let pid = u32::try_from(b.st.projects.len()).unwrap_or(u32::MAX);
        b.st.projects.push(Some(ProjectRec {
            id: p.id.as_str().into(),
            org: oid,
            attrs: ProjectAttrs {
                name: p.name.clone(),
                environment: p.environment.clone(),
                restricted: p.restricted,
                pii: p.pii,
                default_role: p.default_role,
                settings: p.settings.clone(),
            },
            resources: BTreeSet::new(),
        }));
        if let Some(Some(o)) = b.st.orgs.get_mut(oid as usize) {
            o.projects.insert(pid);
        }
        b.st.targets
            .insert(p.id.as_str().into(), TargetRef::Project(pid));
        b.projects.insert(&p.id, pid);
        let token = match &p.api_key {
            Some(t) => {
                let path = || field("projects", i, "api_key");
                if !keys::is_project_token(t) {
                    return Err(JsonError::new(
                        path(),
                        format!(
                            "invalid api_key `{}` (expected a project key `agc_` followed by 16 to 128 letters or digits)",
                            t.escape_debug()
                        ),
                    ));
                }
                if b.st.keys.by_hash.contains_key(keys::hash(t).as_str()) {
                    return Err(JsonError::new(
                        path(),
                        "duplicate api_key: another project holds it",
                    ));
                }
                t.clone()
            }
            None => keys::new_project_token()
                .map_err(|e| JsonError::new(field("projects", i, "api_key"), e.to_string()))?,
        };
        b.st.keys.set_project(pid, token);
    }

    for (i, a) in doc.actions.iter().enumerate() {
        let def =
            b.st.catalog
                .validate_custom(&a.name, &a.scope, &a.min_role, a.owner_role.as_deref())
                .map_err(|e| invalid(at("actions", i), &e))?;
        if b.st.catalog.contains(&a.name) {
            return Err(JsonError::new(
                field("actions", i, "name"),
                format!("action `{}` already exists", a.name),
            ));
        }
        b.st.catalog.add(def);
    }

    b.emails.reserve(doc.users.len());
    for (i, u) in doc.users.iter().enumerate() {
        let key = email(|| field("users", i, "email"), &u.email)?;
        if b.emails.contains_key(&key) {
            return Err(JsonError::new(
                field("users", i, "email"),
                format!("duplicate user `{key}`"),
            ));
        }
        b.emails.insert(key, i);
        b.listed.push(Listed { json: u, uid: None });
    }

    b.st.users.reserve(doc.users.len());
    for (i, m) in doc.memberships.iter().enumerate() {
        let who = b.known(|| field("memberships", i, "user"), &m.user)?;
        let Some(&(_, oid)) = b.orgs.get(&*m.org) else {
            return Err(JsonError::new(
                field("memberships", i, "org"),
                format!(
                    "unknown organization `{}` (not listed in `$.orgs`)",
                    m.org.escape_debug()
                ),
            ));
        };
        let uid = b.user(who);
        let Some(u) = b.st.users.get_mut(uid as usize) else {
            continue; // unreachable: `user` made the record
        };
        if u.memberships.iter().any(|x| x.org == oid) {
            return Err(JsonError::new(
                at("memberships", i),
                format!("duplicate membership of `{}` in `{}`", u.email, m.org),
            ));
        }
        if m.role == OrgRole::Owner && m.expires.is_some() {
            return Err(JsonError::new(
                field("memberships", i, "expires"),
                "an owner membership cannot expire",
            ));
        }
        let by = m
            .granted_by
            .as_deref()
            .map(|s| email(|| field("memberships", i, "granted_by"), s))
            .transpose()?;
        u.memberships.push(Membership {
            org: oid,
            role: m.role,
            expires: m.expires,
            reason: m.reason.as_deref().map(str::to_owned),
            reviewed: m.reviewed,
            external: m.external,
            granted_by: by.map(String::into_boxed_str),
            granted_at: m.granted_at,
            org_wide: None,
            grants: Vec::new(),
        });
        if let Some(Some(o)) = b.st.orgs.get_mut(oid as usize) {
            o.members.insert(uid);
            if m.role == OrgRole::Owner {
                o.owners += 1;
            }
        }
    }
    // The first org by slug without an owner.
    if let Some((slug, i)) = b
        .orgs
        .iter()
        .filter(|(_, (_, oid))| b.st.org(*oid).is_some_and(|o| o.owners == 0))
        .map(|(slug, (i, _))| (*slug, *i))
        .min()
    {
        return Err(JsonError::new(
            at("orgs", i),
            format!("organization `{slug}` has no owner: an organization must keep an owner"),
        ));
    }

    for (i, g) in doc.grants.iter().enumerate() {
        let who = b.known(|| field("grants", i, "user"), &g.user)?;
        let (oid, pid) = grant_target(&b, i, &g.target)?;
        let uid = b.listed.get(who).and_then(|l| l.uid);
        let Some(m) = uid
            .and_then(|uid| b.st.users.get_mut(uid as usize))
            .and_then(|u| u.memberships.iter_mut().find(|m| m.org == oid))
        else {
            let org = b.st.org(oid).map_or("", |o| &o.slug);
            return Err(JsonError::new(
                at("grants", i),
                format!(
                    "`{}` holds a grant in `{org}` but no membership of it",
                    b.email_of(who).to_ascii_lowercase()
                ),
            ));
        };
        let dup = match pid {
            None => m.org_wide.is_some(),
            // In a snapshot `to_json` wrote, a member's grants come in project order:
            // appending keeps them sorted. Otherwise a sorted insertion finds duplicates.
            Some(pid) => match m.grants.last() {
                Some((last, _)) if *last >= pid => {
                    m.grants.binary_search_by_key(&pid, |(p, _)| *p).is_ok()
                }
                _ => false,
            },
        };
        if dup {
            let user = b.email_of(who).to_ascii_lowercase();
            return Err(JsonError::new(
                at("grants", i),
                format!("duplicate grant of `{user}` on `{}`", g.target),
            ));
        }
        let by = g
            .granted_by
            .as_deref()
            .map(|s| email(|| field("grants", i, "granted_by"), s))
            .transpose()?;
        let grant = Grant::new(
            g.role,
            g.expires,
            g.reason.as_deref(),
            by.as_deref(),
            g.granted_at,
        )
        .with_review_by(g.review_by);
        match pid {
            None => m.org_wide = Some(grant),
            Some(pid) => {
                let at = m.grants.partition_point(|(p, _)| *p < pid);
                m.grants.insert(at, (pid, grant));
            }
        }
    }

    for (i, r) in doc.resources.iter().enumerate() {
        let path = || field("resources", i, "id");
        let (pid, kind) = resource_id(&r.id, &b.projects).map_err(|m| JsonError::new(path(), m))?;
        if b.st.targets.contains_key(r.id.as_str()) {
            return Err(JsonError::new(
                path(),
                format!("duplicate resource `{}`", r.id),
            ));
        }
        let who = b.known(|| field("resources", i, "owner"), &r.owner)?;
        let owner = b.user(who);
        let rid = u32::try_from(b.st.resources.len()).unwrap_or(u32::MAX);
        b.st.resources.push(Some(ResourceRec {
            id: r.id.as_str().into(),
            project: pid,
            kind,
            owner,
        }));
        if let Some(Some(p)) = b.st.projects.get_mut(pid as usize) {
            p.resources.insert(rid);
        }
        b.st.targets
            .insert(r.id.as_str().into(), TargetRef::Resource(rid));
    }

    for (i, k) in doc.api_keys.iter().enumerate() {
        api_key(&mut b, i, k)?;
    }
    governance(&mut b.st, doc)?;

    // Users without a membership (they left, or were removed) nor a resource.
    for i in 0..b.listed.len() {
        b.user(i);
    }
    for u in &mut b.st.users {
        // Sized exactly, as grants made one at a time are: most members hold a handful.
        u.memberships.shrink_to_fit();
        for m in &mut u.memberships {
            m.grants.shrink_to_fit();
        }
    }
    b.st.rebuild_hot();
    Ok(b.st)
}

/// Restores the custom templates and the access requests.
fn governance(st: &mut State, doc: &Doc<'_>) -> Result<(), JsonError> {
    for (i, t) in doc.templates.iter().enumerate() {
        let grants: Vec<(String, String)> = t
            .grants
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        let def = templates::validate(
            &t.name,
            t.org_role.as_str(),
            &grants,
            t.external,
            t.requires_expiry,
        )
        .map_err(|e| invalid(at("templates", i), &e))?;
        if templates::builtin(&def.name).is_some() || st.templates.contains_key(&def.name) {
            return Err(JsonError::new(
                field("templates", i, "name"),
                format!("template `{}` already exists", def.name),
            ));
        }
        st.templates.insert(def.name.clone(), def);
    }
    for (i, r) in doc.access_requests.iter().enumerate() {
        if r.id.trim().is_empty() || st.requests.iter().any(|x| x.id == r.id) {
            return Err(JsonError::new(
                field("access_requests", i, "id"),
                format!("missing or duplicate request id `{}`", r.id.escape_debug()),
            ));
        }
        // The requester: an email, or the pseudonym of an erased user.
        let user = email(|| field("access_requests", i, "user"), &r.user)?;
        ids::grant_target("target", &r.target)
            .map_err(|e| invalid(field("access_requests", i, "target"), &e))?;
        let status = RequestStatus::parse("status", &r.status)
            .map_err(|e| invalid(field("access_requests", i, "status"), &e))?;
        let decided_by = r
            .decided_by
            .as_deref()
            .map(|s| email(|| field("access_requests", i, "decided_by"), s))
            .transpose()?;
        st.requests.push(AccessRequest {
            id: r.id.clone(),
            user,
            target: r.target.clone(),
            role: r.role,
            reason: r.reason.clone(),
            status,
            requested_at: r.requested_at,
            decided_by,
            decided_at: r.decided_at,
            decision_reason: r.decision_reason.clone(),
            expires: r.expires,
            review_by: r.review_by,
        });
    }
    Ok(())
}

/// Checks and restores one personal API key record.
fn api_key(b: &mut Builder<'_>, i: usize, k: &ApiKeyJson) -> Result<(), JsonError> {
    let path = |name: &str| field("api_keys", i, name);
    if !keys::is_key_id(&k.id) {
        return Err(JsonError::new(
            path("id"),
            format!(
                "invalid id `{}` (expected `pk_` followed by 8 to 64 hex digits)",
                k.id.escape_debug()
            ),
        ));
    }
    if b.st.keys.by_id.contains_key(k.id.as_str()) {
        return Err(JsonError::new(
            path("id"),
            format!("duplicate api key `{}`", k.id),
        ));
    }
    let who = b.known(|| path("user"), &k.user)?;
    let label = k.label.trim();
    if label.is_empty() {
        return Err(JsonError::new(path("label"), "an empty label"));
    }
    if let Some(scopes) = &k.scopes {
        if scopes.is_empty() {
            return Err(JsonError::new(
                path("scopes"),
                "an empty list (leave `scopes` out for an unnarrowed key)",
            ));
        }
        for (j, s) in scopes.iter().enumerate() {
            keys::validate_scope(&b.st.catalog, s).map_err(|e| {
                JsonError::new(format!("$.api_keys[{i}].scopes[{j}]"), e.to_string())
            })?;
        }
    }
    if let Some(projects) = &k.projects {
        if projects.is_empty() {
            return Err(JsonError::new(
                path("projects"),
                "an empty list (leave `projects` out for an unrestricted key)",
            ));
        }
        for (j, p) in projects.iter().enumerate() {
            ids::project_id("projects", p).map_err(|e| {
                JsonError::new(format!("$.api_keys[{i}].projects[{j}]"), e.to_string())
            })?;
        }
    }
    if !keys::is_hash(&k.hash) {
        return Err(JsonError::new(
            path("hash"),
            "invalid hash (expected `sha256$` followed by 64 lower-case hex digits)",
        ));
    }
    if k.revoked_at.is_none() && b.st.keys.by_hash.contains_key(k.hash.as_str()) {
        return Err(JsonError::new(
            path("hash"),
            "duplicate hash: another key holds this secret",
        ));
    }
    if !k.mask.starts_with(keys::PERSONAL_PREFIX) || k.mask.chars().count() > 16 {
        return Err(JsonError::new(
            path("mask"),
            format!(
                "invalid mask `{}` (expected `agp_...` and the secret's last characters)",
                k.mask.escape_debug()
            ),
        ));
    }
    let uid = b.user(who);
    b.st.keys.insert(PersonalKey {
        id: k.id.as_str().into(),
        user: uid,
        label: label.to_owned(),
        scopes: k.scopes.clone(),
        projects: k.projects.clone(),
        created_at: k.created_at,
        rotated_at: k.rotated_at,
        expires: k.expires,
        hash: k.hash.clone(),
        mask: k.mask.clone(),
        revoked_at: k.revoked_at,
    });
    Ok(())
}

/// Checks a grant target: its org id, and its project id (`None` for `org/*`).
fn grant_target(b: &Builder<'_>, i: usize, target: &str) -> Result<(u32, Option<u32>), JsonError> {
    // A listed project or `org/*` of a listed org, as written: valid and known.
    if let Some(&pid) = b.projects.get(target) {
        if let Some(p) = b.st.project(pid) {
            return Ok((p.org, Some(pid)));
        }
    }
    if let Some(&(_, oid)) = target.strip_suffix("/*").and_then(|o| b.orgs.get(o)) {
        return Ok((oid, None));
    }
    let path = || field("grants", i, "target");
    let org = match ids::grant_target("target", target).map_err(|e| invalid(path(), &e))? {
        GrantTarget::AllProjects(o) => o,
        GrantTarget::Project(p) => {
            return Err(JsonError::new(
                path(),
                format!("unknown project `{p}` (not listed in `$.projects`)"),
            ))
        }
    };
    Err(JsonError::new(
        path(),
        format!("unknown organization `{org}` (not listed in `$.orgs`)"),
    ))
}

/// Checks a resource id `org/project/kind/id` whose project is listed: the project's id
/// and the kind.
fn resource_id(id: &str, projects: &Map<&str, u32>) -> Result<(u32, ResourceKind), String> {
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
    let kind = ids::resource_kind("kind", k).map_err(|e| e.to_string())?;
    ids::resource_local_id("id", local).map_err(|e| e.to_string())?;
    match projects.get(project.as_str()) {
        Some(&pid) => Ok((pid, kind)),
        None => Err(format!(
            "unknown project `{project}` (not listed in `$.projects`)"
        )),
    }
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
