//! What a directory says: people (plain or SCIM 2.0 records) and what each group maps to,
//! read from JSON with paths in every error.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ids::{self};
use crate::roles::{OrgRole, ProjectRole};

/// The reason written on memberships and grants that sync makes.
pub const REASON: &str = "directory sync";

/// One person of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Lower-case email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Active in the directory.
    pub active: bool,
    /// Group names.
    pub groups: Vec<String>,
}

/// What a directory group gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    /// The org role.
    pub role: OrgRole,
    /// Project role by target (`org/project`, a slug, `org/*` or `*`), as written.
    pub grants: Vec<(String, ProjectRole)>,
}

pub(super) fn escaped(v: &Value) -> String {
    match v {
        Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}

pub(super) fn bad(path: &str, v: &Value, expected: &str) -> Error {
    Error::rule(format!("invalid {path} `{}`: {expected}", escaped(v)))
}

pub(super) fn text_at<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'v str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(bad(path, v, "a string")),
    }
}

/// Reads one person: a plain record or a SCIM 2.0 User resource.
pub fn person_from_json(i: usize, v: &Value) -> Result<Person> {
    let at = |field: &str| format!("people[{i}].{field}");
    let Some(obj) = v.as_object() else {
        return Err(bad(
            &format!("people[{i}]"),
            v,
            "a dict (email, name, active, groups) or a SCIM User resource",
        ));
    };
    let scim =
        obj.contains_key("userName") || obj.contains_key("emails") || obj.contains_key("schemas");
    // The email: `email`, else SCIM's primary email, the first email, or `userName`.
    let email = match text_at(obj, "email", &at("email"))? {
        Some(e) => Some((e.to_owned(), at("email"))),
        None if scim => scim_email(obj, &at)?,
        None => None,
    };
    let Some((email, path)) = email else {
        return Err(Error::rule(format!(
            "invalid people[{i}]: no email (give `email`, or SCIM `emails` / `userName`)"
        )));
    };
    let email = ids::email("user", &email).map_err(|_| {
        Error::rule(format!(
            "invalid {path} `{}`: an email address",
            email.escape_debug()
        ))
    })?;
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(n)) => {
            if let Some(f) = text_at(n, "formatted", &at("name.formatted"))? {
                Some(f.to_owned())
            } else {
                let given = text_at(n, "givenName", &at("name.givenName"))?;
                let family = text_at(n, "familyName", &at("name.familyName"))?;
                let joined = [given, family]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.is_empty()).then_some(joined)
            }
        }
        Some(v) => return Err(bad(&at("name"), v, "a string or a SCIM name object")),
    };
    let name = match name {
        Some(n) => Some(n),
        None => text_at(obj, "displayName", &at("displayName"))?.map(str::to_owned),
    }
    .filter(|n| !n.trim().is_empty());
    let active = match obj.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(bad(&at("active"), v, "true or false")),
    };
    let mut groups = Vec::new();
    match obj.get("groups") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (j, g) in items.iter().enumerate() {
                let name = match g {
                    Value::String(s) => Some(s.as_str()),
                    Value::Object(o) => o
                        .get("display")
                        .or_else(|| o.get("value"))
                        .and_then(Value::as_str),
                    _ => None,
                };
                let Some(name) = name else {
                    return Err(bad(
                        &at(&format!("groups[{j}]")),
                        g,
                        "a group name, or a SCIM group with `display`",
                    ));
                };
                groups.push(name.to_owned());
            }
        }
        Some(v) => return Err(bad(&at("groups"), v, "a list of group names")),
    }
    Ok(Person {
        email,
        name,
        active,
        groups,
    })
}

pub(super) fn scim_email(
    obj: &Map<String, Value>,
    at: &impl Fn(&str) -> String,
) -> Result<Option<(String, String)>> {
    if let Some(v) = obj.get("emails") {
        let Value::Array(items) = v else {
            return Err(bad(&at("emails"), v, "a list of SCIM email objects"));
        };
        let value = |e: &Value| e.get("value").and_then(Value::as_str).map(str::to_owned);
        let primary = items.iter().enumerate().find(|(_, e)| {
            e.get("primary").and_then(Value::as_bool) == Some(true) && value(e).is_some()
        });
        let chosen = primary.or_else(|| items.iter().enumerate().find(|(_, e)| value(e).is_some()));
        if let Some((j, e)) = chosen {
            if let Some(v) = value(e) {
                return Ok(Some((v, at(&format!("emails[{j}].value")))));
            }
        }
    }
    Ok(text_at(obj, "userName", &at("userName"))?.map(|u| (u.to_owned(), at("userName"))))
}

/// Reads the people of a directory; an email listed twice is an error naming both.
pub fn people_from_json(items: &[Value]) -> Result<Vec<Person>> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let p = person_from_json(i, v)?;
        if let Some(first) = seen.insert(p.email.clone(), i) {
            return Err(Error::rule(format!(
                "invalid people[{i}]: `{}` is listed twice (first at people[{first}])",
                p.email
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// Reads the group mapping: group name → org role, or `{"role": ..., "grants": {...}}`.
pub fn groups_from_json(v: &Map<String, Value>) -> Result<BTreeMap<String, GroupMapping>> {
    let mut out = BTreeMap::new();
    for (name, val) in v {
        let at = |field: &str| {
            let key = serde_json::to_string(name).unwrap_or_default();
            format!("groups[{key}]{field}")
        };
        let mapping = match val {
            Value::String(r) => GroupMapping {
                role: OrgRole::parse("role", r).map_err(|_| {
                    bad(
                        &at(""),
                        val,
                        "an org role (member, admin, owner) or a dict with `role` and `grants`",
                    )
                })?,
                grants: Vec::new(),
            },
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| *k != "role" && *k != "grants") {
                    return Err(Error::rule(format!(
                        "invalid {} key `{}`: a group maps to `role` and `grants`",
                        at(""),
                        k.escape_debug()
                    )));
                }
                let role = match o.get("role") {
                    None | Some(Value::Null) => OrgRole::Member,
                    Some(r @ Value::String(s)) => OrgRole::parse("role", s)
                        .map_err(|_| bad(&at(".role"), r, "an org role: member, admin or owner"))?,
                    Some(r) => {
                        return Err(bad(&at(".role"), r, "an org role: member, admin or owner"))
                    }
                };
                let mut grants = Vec::new();
                match o.get("grants") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(g)) => {
                        for (target, r) in g {
                            let path = at(&format!(
                                ".grants[{}]",
                                serde_json::to_string(target).unwrap_or_default()
                            ));
                            let role = r
                                .as_str()
                                .and_then(|s| ProjectRole::parse("role", s).ok())
                                .ok_or_else(|| {
                                    bad(&path, r, "a project role: viewer, member or admin")
                                })?;
                            grants.push((target.clone(), role));
                        }
                    }
                    Some(g) => {
                        return Err(bad(&at(".grants"), g, "a dict of project → project role"))
                    }
                }
                GroupMapping { role, grants }
            }
            other => {
                return Err(bad(
                    &at(""),
                    other,
                    "an org role (member, admin, owner) or a dict with `role` and `grants`",
                ))
            }
        };
        out.insert(name.clone(), mapping);
    }
    Ok(out)
}
