//! The organization in PostHog's JSON: its members (deduplicated by membership id, since
//! offset pages overlap when someone joins between fetches) and its roles with their
//! members; and the JSON helpers every PostHog object shares.

use serde_json::Value;

use super::listing::{listing, Item};
use super::report::{source, Notes};
use crate::error::JsonPathError;
use crate::ids::{new_map, Map};
use crate::roles::OrgRole;
use crate::time::Instant;

/// A member of the organization.
pub(super) struct Person {
    /// Canonical email.
    pub email: String,
    /// `first_name last_name`.
    pub name: Option<String>,
    /// Org role from the level (1, 8, 15).
    pub role: OrgRole,
    /// The organization membership's id (what access-control rules name).
    pub id: Option<String>,
    /// `joined_at`.
    pub joined: Option<Instant>,
    /// `is_guest`.
    pub guest: bool,
    /// Where the member is listed.
    pub path: String,
}

/// The members, indexed by email and by membership id.
#[derive(Default)]
pub(super) struct People {
    /// In listing order, each once.
    pub list: Vec<Person>,
    by_email: Map<String, usize>,
    by_id: Map<String, usize>,
}

impl People {
    /// The member with membership id `id`, else the one with email `email`.
    pub fn find(&self, id: Option<&str>, email: Option<&str>) -> Option<usize> {
        id.and_then(|id| self.by_id.get(id))
            .or_else(|| email.and_then(|e| self.by_email.get(e)))
            .copied()
    }

    /// Member `i`.
    pub fn get(&self, i: usize) -> Option<&Person> {
        self.list.get(i)
    }

    /// Records `id` as member `i`'s membership id when the members listing gave none.
    pub fn learn_id(&mut self, i: usize, id: &str) {
        if let Some(p) = self.list.get_mut(i).filter(|p| p.id.is_none()) {
            p.id = Some(id.to_owned());
            self.by_id.insert(id.to_owned(), i);
        }
    }

    /// Whether member `i` is a guest.
    pub fn guest(&self, i: usize) -> bool {
        self.get(i).is_some_and(|p| p.guest)
    }

    /// Member `i`'s email.
    pub fn email(&self, i: usize) -> &str {
        self.get(i).map_or("", |p| &p.email)
    }
}

/// A role and who holds it.
pub(super) struct Role {
    /// The role's id (what rules name).
    pub id: String,
    /// Its name, when the roles listing gives it.
    pub name: Option<String>,
    /// Members holding it.
    pub holders: Vec<usize>,
}

/// The roles, indexed by id.
#[derive(Default)]
pub(super) struct Roles {
    /// Each role once.
    pub list: Vec<Role>,
    by_id: Map<String, usize>,
    /// Whether any listing says who holds roles (`roles=` or `role_ids`).
    pub known: bool,
}

impl Roles {
    fn entry(&mut self, id: &str) -> usize {
        if let Some(&i) = self.by_id.get(id) {
            return i;
        }
        self.list.push(Role {
            id: id.to_owned(),
            name: None,
            holders: Vec::new(),
        });
        let i = self.list.len() - 1;
        self.by_id.insert(id.to_owned(), i);
        i
    }

    /// Records that `person` holds role `role`.
    pub fn hold(&mut self, role: &str, person: usize) {
        let i = self.entry(role);
        if let Some(r) = self.list.get_mut(i) {
            if !r.holders.contains(&person) {
                r.holders.push(person);
            }
        }
    }

    /// The role with id `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The role's name, or its id when no listing names it.
    pub fn label(&self, i: usize) -> &str {
        self.list
            .get(i)
            .map_or("", |r| r.name.as_deref().unwrap_or(&r.id))
    }
}

/// A JSON id: a string or a number, or an object's `id`.
pub(super) fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => id_of(o.get("id")),
        _ => None,
    }
}

/// `v[key]` as an instant, if present.
pub(super) fn instant_at(
    v: &Value,
    key: &'static str,
    path: &str,
) -> Result<Option<Instant>, JsonPathError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Instant::parse(key, s)
            .map(Some)
            .map_err(|e| JsonPathError::new(format!("{path}.{key}"), e.to_string())),
        Some(_) => Err(JsonPathError::new(
            format!("{path}.{key}"),
            "expected an ISO-8601 datetime",
        )),
    }
}

/// A user object's canonical email and display name.
pub(super) fn person_of(m: &Value, path: &str) -> Result<(String, Option<String>), JsonPathError> {
    let user = m
        .get("user")
        .filter(|u| u.is_object())
        .ok_or_else(|| JsonPathError::new(path, "missing `user`"))?;
    let email = user
        .get("email")
        .and_then(Value::as_str)
        .ok_or_else(|| JsonPathError::new(format!("{path}.user.email"), "missing email"))?;
    let email = crate::ids::email("email", email)
        .map_err(|e| JsonPathError::new(format!("{path}.user.email"), e.to_string()))?;
    let part = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let name = match (part("first_name"), part("last_name")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.to_owned()),
        (None, None) => None,
    };
    Ok((email, name))
}

pub(super) fn level(m: &Value, path: &str) -> Result<i64, JsonPathError> {
    m.get("level")
        .and_then(Value::as_i64)
        .ok_or_else(|| JsonPathError::new(format!("{path}.level"), "missing or non-integer level"))
}

/// The organization's members: deduplicated by membership id (offset pages overlap when
/// someone joins between fetches), a real conflict raising.
pub(super) fn people(value: &Value, notes: &mut Notes) -> Result<People, JsonPathError> {
    let l = listing(value, "$", "members")?;
    let mut people = People {
        list: Vec::with_capacity(l.items.len()),
        by_email: new_map(),
        by_id: new_map(),
    };
    for Item { path, value: m } in &l.items {
        let (email, name) = person_of(m, path)?;
        let role = match level(m, path)? {
            1 => OrgRole::Member,
            8 => OrgRole::Admin,
            15 => OrgRole::Owner,
            other => {
                return Err(JsonPathError::new(
                    format!("{path}.level"),
                    format!("unknown organization level `{other}` (expected 1, 8 or 15)"),
                ))
            }
        };
        let guest = match m.get("is_guest") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(JsonPathError::new(
                    format!("{path}.is_guest"),
                    "expected true or false",
                ))
            }
        };
        let id = id_of(m.get("id"));
        if let Some(first) = id
            .as_ref()
            .and_then(|id| people.by_id.get(id))
            .and_then(|&i| people.get(i))
        {
            if first.email == email && first.role == role && first.guest == guest {
                continue; // the same membership on two overlapping pages
            }
            return Err(JsonPathError::new(
                path.clone(),
                format!(
                    "conflict: membership `{}` is `{}` at level {} at {} but `{email}` at level {} here",
                    id.as_deref().unwrap_or_default().escape_debug(),
                    first.email,
                    level_number(first.role),
                    first.path,
                    level_number(role),
                ),
            ));
        }
        if let Some(first) = people.by_email.get(&email).and_then(|&i| people.get(i)) {
            return Err(JsonPathError::new(
                format!("{path}.user.email"),
                format!("`{email}` is listed twice (first at {})", first.path),
            ));
        }
        let joined = instant_at(m, "joined_at", path)?;
        let i = people.list.len();
        people.by_email.insert(email.clone(), i);
        if let Some(id) = &id {
            people.by_id.insert(id.clone(), i);
        }
        people.list.push(Person {
            email,
            name,
            role,
            id,
            joined,
            guest,
            path: path.clone(),
        });
    }
    l.check_complete(people.list.len(), "members", source::MEMBERS, notes)?;
    for p in people.list.iter().filter(|p| p.guest) {
        notes.unexpressed(
            &p.path,
            Some(&p.email),
            "a guest: PostHog gives guests viewer access to single dashboards, insights and notebooks only (GuestResourceGrant), which no project role expresses; not imported".to_owned(),
            source::GUEST,
        );
    }
    Ok(people)
}

fn level_number(role: OrgRole) -> u8 {
    match role {
        OrgRole::Member => 1,
        OrgRole::Admin => 8,
        OrgRole::Owner => 15,
    }
}

/// The roles listing (`GET /api/organizations/:id/roles/`) with the members of each.
pub(super) fn roles(
    value: Option<&Value>,
    people: &People,
    notes: &mut Notes,
) -> Result<Roles, JsonPathError> {
    let mut roles = Roles {
        by_id: new_map(),
        ..Roles::default()
    };
    let Some(value) = value else {
        return Ok(roles);
    };
    roles.known = true;
    let l = listing(value, "roles", "roles")?;
    for Item { path, value: r } in &l.items {
        let Some(id) = id_of(r.get("id")) else {
            return Err(JsonPathError::new(
                format!("{path}.id"),
                "missing role `id`",
            ));
        };
        if roles.by_id.contains_key(&id) {
            continue; // overlapping pages
        }
        let i = roles.entry(&id);
        let name = r.get("name").and_then(Value::as_str).map(str::to_owned);
        let members = match r.get("members") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(m)) => m.as_slice(),
            Some(_) => {
                return Err(JsonPathError::new(
                    format!("{path}.members"),
                    "expected a list of role members",
                ))
            }
        };
        let mut holders = Vec::new();
        for (j, rm) in members.iter().enumerate() {
            let at = format!("{path}.members[{j}]");
            let member_id = id_of(rm.get("organization_member"));
            let email =
                match rm
                    .get("user")
                    .and_then(|u| u.get("email"))
                    .and_then(Value::as_str)
                {
                    Some(e) => Some(crate::ids::email("email", e).map_err(|e| {
                        JsonPathError::new(format!("{at}.user.email"), e.to_string())
                    })?),
                    None => None,
                };
            match people.find(member_id.as_deref(), email.as_deref()) {
                Some(p) if people.guest(p) => {}
                Some(p) => holders.push(p),
                None => notes.ignored(
                    &at,
                    email.as_deref(),
                    format!(
                        "a member of role `{}` who is not in the members listing",
                        name.as_deref().unwrap_or(&id).escape_debug()
                    ),
                    source::ROLES,
                ),
            }
        }
        if let Some(role) = roles.list.get_mut(i) {
            role.name = name;
            role.holders = holders;
        }
    }
    l.check_complete(roles.list.len(), "roles", source::ROLES, notes)?;
    Ok(roles)
}
