//! The snapshot document: its records as serde types, and the codecs that say what each field expects.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::model::Settings;
use crate::roles::{OrgRole, ProjectRole};
use crate::time::Instant;

/// The value of the snapshot's `format` key.
pub const FORMAT: &str = "accessgraph";

/// The snapshot version this build writes and the newest it reads.
pub const VERSION: u64 = 1;

// ---------------------------------------------------------------------------------------
// The document

/// `format` and `version`, read first (other keys are skipped here).
#[derive(Deserialize)]
#[serde(expecting = "an accessgraph snapshot (a JSON object)")]
pub(super) struct Header {
    #[serde(deserialize_with = "de_format")]
    #[expect(dead_code, reason = "read to validate it")]
    pub(super) format: String,
    #[serde(deserialize_with = "de_version")]
    #[expect(dead_code, reason = "read to validate it")]
    pub(super) version: u64,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "an accessgraph snapshot (a JSON object)"
)]
pub(super) struct Doc<'a> {
    #[serde(deserialize_with = "de_format")]
    pub(super) format: String,
    #[serde(deserialize_with = "de_version")]
    pub(super) version: u64,
    #[serde(default)]
    pub(super) orgs: Vec<OrgJson>,
    #[serde(default)]
    pub(super) projects: Vec<ProjectJson>,
    #[serde(default, borrow)]
    pub(super) users: Vec<UserJson<'a>>,
    #[serde(default, borrow)]
    pub(super) memberships: Vec<MembershipJson<'a>>,
    #[serde(default, borrow)]
    pub(super) grants: Vec<GrantJson<'a>>,
    #[serde(default)]
    pub(super) resources: Vec<ResourceJson>,
    #[serde(default)]
    pub(super) actions: Vec<ActionJson>,
    /// Personal API keys: hashes only, never secrets.
    #[serde(default)]
    pub(super) api_keys: Vec<ApiKeyJson>,
    /// Custom onboarding templates, by name.
    #[serde(default)]
    pub(super) templates: Vec<TemplateJson>,
    /// Access requests, in the order they were made.
    #[serde(default)]
    pub(super) access_requests: Vec<RequestJson>,
    /// Access review campaigns, in the order they were started.
    #[serde(default)]
    pub(super) campaigns: Vec<CampaignJson>,
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
pub(super) struct OrgJson {
    pub(super) slug: String,
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    pub(super) settings: Settings,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a project object")]
pub(super) struct ProjectJson {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) environment: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) restricted: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) pii: bool,
    #[serde(
        default,
        deserialize_with = "de_opt_project_role",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) default_role: Option<ProjectRole>,
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    pub(super) settings: Settings,
    /// The project's public API key (`agc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) api_key: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a user object")]
pub(super) struct UserJson<'a> {
    #[serde(borrow)]
    pub(super) email: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub(super) title: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a membership object")]
pub(super) struct MembershipJson<'a> {
    #[serde(borrow)]
    pub(super) user: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) org: Cow<'a, str>,
    #[serde(deserialize_with = "de_org_role")]
    pub(super) role: OrgRole,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<Instant>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Cow<'a, str>>,
    #[serde(default, with = "date_opt", skip_serializing_if = "Option::is_none")]
    pub(super) reviewed: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) external: bool,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub(super) granted_by: Option<Cow<'a, str>>,
    #[serde(with = "iso")]
    pub(super) granted_at: Instant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a grant object")]
pub(super) struct GrantJson<'a> {
    #[serde(borrow)]
    pub(super) user: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) target: Cow<'a, str>,
    #[serde(deserialize_with = "de_project_role")]
    pub(super) role: ProjectRole,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<Instant>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub(super) granted_by: Option<Cow<'a, str>>,
    #[serde(with = "iso")]
    pub(super) granted_at: Instant,
    #[serde(default, with = "date_opt", skip_serializing_if = "Option::is_none")]
    pub(super) review_by: Option<NaiveDate>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a resource object")]
pub(super) struct ResourceJson {
    pub(super) id: String,
    pub(super) owner: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an action object")]
pub(super) struct ActionJson {
    pub(super) name: String,
    pub(super) scope: String,
    pub(super) min_role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) owner_role: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a template object")]
pub(super) struct TemplateJson {
    pub(super) name: String,
    #[serde(deserialize_with = "de_org_role")]
    pub(super) org_role: OrgRole,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) grants: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) external: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) requires_expiry: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an access request object")]
pub(super) struct RequestJson {
    pub(super) id: String,
    pub(super) user: String,
    pub(super) target: String,
    #[serde(deserialize_with = "de_project_role")]
    pub(super) role: ProjectRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<String>,
    pub(super) status: String,
    #[serde(with = "iso")]
    pub(super) requested_at: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) decided_by: Option<String>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) decided_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) decision_reason: Option<String>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<Instant>,
    #[serde(default, with = "date_opt", skip_serializing_if = "Option::is_none")]
    pub(super) review_by: Option<NaiveDate>,
}

/// An access review campaign, with its frozen population and each item's decision.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a campaign object")]
pub(super) struct CampaignJson {
    pub(super) id: String,
    pub(super) org: String,
    pub(super) reviewers: Vec<String>,
    #[serde(with = "iso")]
    pub(super) due: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) started_by: Option<String>,
    #[serde(with = "iso")]
    pub(super) started_at: Instant,
    #[serde(default)]
    pub(super) items: Vec<CampaignItemJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) closed_by: Option<String>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) closed_at: Option<Instant>,
    /// The items revoked on closing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) revoked: Vec<u32>,
}

/// One item of a campaign: what was under review and its decision (`keep` or `revoke`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a campaign item object")]
pub(super) struct CampaignItemJson {
    pub(super) id: u32,
    pub(super) kind: String,
    pub(super) user: String,
    pub(super) target: String,
    pub(super) role: String,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<Instant>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) orphan: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) decided_by: Option<String>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) decided_at: Option<Instant>,
}

/// A personal API key: the hash of its secret and its mask, never the secret.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an api key object")]
pub(super) struct ApiKeyJson {
    pub(super) id: String,
    pub(super) user: String,
    pub(super) label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) projects: Option<Vec<String>>,
    #[serde(with = "iso")]
    pub(super) created_at: Instant,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) rotated_at: Option<Instant>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<Instant>,
    #[serde(default, with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub(super) revoked_at: Option<Instant>,
    pub(super) hash: String,
    pub(super) mask: String,
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

pub(super) fn de_format<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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

pub(super) fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_u64(Version)
}

pub(super) fn org_role(s: &str) -> Result<OrgRole, String> {
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

pub(super) fn project_role(s: &str) -> Result<ProjectRole, String> {
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

pub(super) fn parse_instant(s: &str) -> Result<Instant, String> {
    Instant::parse("instant", s).map_err(|_| {
        format!(
            "invalid instant `{}` (expected ISO-8601 UTC such as `2024-06-01T12:00:00Z`)",
            s.escape_debug()
        )
    })
}

pub(super) fn parse_date(s: &str) -> Result<NaiveDate, String> {
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
