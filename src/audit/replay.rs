//! Elementary changes as audit events and back: the journal *is* the list of changes, so
//! replaying events rebuilds a graph (opening a journal, `refresh`, `as_of`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::event::{Event, Fields, SYSTEM};
use crate::state::{Change, GrantAttrs, MemberAttrs, UserAttrs};
use crate::state::{Stamp, State};

/// The detail key that holds an action's target (it moves to the event's `target`).
fn target_key(action: &str) -> Option<&'static str> {
    Some(match action {
        "org.created"
        | "org.updated"
        | "org.deleted"
        | "member.added"
        | "member.role_changed"
        | "member.updated"
        | "member.removed"
        | "campaign.started"
        | "campaign.closed" => "org",
        "project.created" | "project.updated" | "project.deleted" | "project_key.rotated" => {
            "project"
        }
        "grant.added"
        | "grant.changed"
        | "grant.removed"
        | "access_request.created"
        | "access_request.approved"
        | "access_request.denied"
        | "campaign.decided" => "target",
        "resource.created" | "resource.transferred" => "resource",
        "user.updated" | "user.offboarded" => "user",
        "user.erased" => "pseudonym",
        "api_key.created" | "api_key.rotated" | "api_key.revoked" => "key_id",
        _ => return None,
    })
}

/// True for the actions whose target stays in the details too (`user.erased` keeps the
/// pseudonym, `user.offboarded` the user, so `events(user=...)` finds them).
fn keeps_target(action: &str) -> bool {
    matches!(action, "user.erased" | "user.offboarded")
}

/// True for the actions that change the graph when replayed.
pub fn is_change(action: &str) -> bool {
    target_key(action).is_some() || action == "action.defined" || action == "template.defined"
}

/// The event target and details of a change.
pub fn describe(change: &Change) -> (String, Map<String, Value>) {
    quick_describe(change).unwrap_or_else(|| describe_by_serde(change))
}

/// [`describe`] of the commonest changes (`grant.added`, `grant.removed`,
/// `member.added`), built field by field: serde's tagged, flattened `Change` buffers every
/// field as content first, a third of a grant's cost outside SHA-256. `None` for any other
/// change. Gives what [`describe_by_serde`] gives (tested).
fn quick_describe(change: &Change) -> Option<(String, Map<String, Value>)> {
    /// An attribute, left out when unset.
    fn put<T: serde::Serialize>(d: &mut Map<String, Value>, key: &str, v: Option<&T>) {
        if let Some(v) = v.and_then(|v| serde_json::to_value(v).ok()) {
            if !v.is_null() {
                d.insert(key.to_owned(), v);
            }
        }
    }
    let mut d = Map::new();
    // What a grant and a membership both record first.
    let user_role = |d: &mut Map<String, Value>, user: &str, role: &str| {
        d.insert("user".to_owned(), Value::String(user.to_owned()));
        d.insert("role".to_owned(), Value::from(role));
    };
    let target = match change {
        Change::GrantAdded {
            user,
            target,
            attrs,
        } => {
            user_role(&mut d, user, attrs.role.as_str());
            put(&mut d, "expires", attrs.expires.as_ref());
            put(&mut d, "reason", attrs.reason.as_ref());
            put(&mut d, "review_by", attrs.review_by.as_ref());
            target.clone()
        }
        Change::GrantRemoved { user, target } => {
            d.insert("user".to_owned(), Value::String(user.clone()));
            target.clone()
        }
        Change::MemberAdded {
            org,
            user,
            attrs,
            person,
        } => {
            user_role(&mut d, user, attrs.role.as_str());
            put(&mut d, "expires", attrs.expires.as_ref());
            put(&mut d, "reason", attrs.reason.as_ref());
            put(&mut d, "reviewed", attrs.reviewed.as_ref());
            d.insert("external".to_owned(), Value::Bool(attrs.external));
            put(&mut d, "name", person.name.as_ref());
            put(&mut d, "title", person.title.as_ref());
            org.clone()
        }
        _ => return None,
    };
    Some((target, d))
}

/// [`describe`] through `Change`'s serde form: every change.
fn describe_by_serde(change: &Change) -> (String, Map<String, Value>) {
    let action = change.action();
    let mut details = match serde_json::to_value(change) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    details.remove("change");
    // An attribute left unset (`expires`, `reason` … as null) is left out: replay reads a
    // missing attribute as unset, and a year of `"expires":null` is journal and memory
    // spent on nothing.
    details.retain(|_, v| !v.is_null());
    let target = match target_key(action) {
        // `user.erased` keeps `user` (= the pseudonym once redacted) in its details.
        Some(key) if keeps_target(action) => details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(key) => match details.remove(key) {
            Some(Value::String(s)) => s,
            _ => String::new(),
        },
        None => details
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    (target, details)
}

/// The change an event records, if it records one; an error names what does not fit.
pub fn change_of(ev: &Event) -> Result<Option<Change>, String> {
    change_of_fields(&ev.fields())
}

/// [`change_of`] an event's fields.
pub fn change_of_fields(ev: &Fields<'_>) -> Result<Option<Change>, String> {
    if !is_change(ev.action) {
        return Ok(None);
    }
    if let Some(change) = common_change(ev) {
        return Ok(Some(change));
    }
    change_by_serde(ev)
}

/// The detail keys a `grant.added` event's change reads.
const GRANT_ADDED: [&str; 5] = ["expires", "reason", "review_by", "role", "user"];
/// The detail keys a `member.added` event's change reads.
const MEMBER_ADDED: [&str; 8] = [
    "expires", "external", "name", "reason", "reviewed", "role", "title", "user",
];

/// The change of a `grant.added` or `member.added` event (most of a journal), read
/// straight from its details; `None` for anything else, or anything not plainly of that
/// shape (a key it does not read, a value that does not read), which [`change_by_serde`]
/// reads (or refuses) instead. Where both read an event they give the same change
/// (tested): this only skips serde's buffering of the tagged, flattened `Change`.
fn common_change(ev: &Fields<'_>) -> Option<Change> {
    fn field<'a, T: Deserialize<'a>>(d: &'a Map<String, Value>, key: &str) -> Option<T> {
        T::deserialize(d.get(key)?).ok()
    }
    /// An attribute that may be left out (read as unset).
    fn optional<'a, T: Deserialize<'a>>(
        d: &'a Map<String, Value>,
        key: &str,
    ) -> Result<Option<T>, serde_json::Error> {
        d.get(key).map_or(Ok(None), Option::<T>::deserialize)
    }
    let d = ev.details;
    match ev.action {
        "grant.added" if d.keys().all(|k| GRANT_ADDED.contains(&k.as_str())) => {
            Some(Change::GrantAdded {
                user: field(d, "user")?,
                target: ev.target.to_owned(),
                attrs: GrantAttrs {
                    role: field(d, "role")?,
                    expires: optional(d, "expires").ok()?,
                    reason: optional(d, "reason").ok()?,
                    review_by: optional(d, "review_by").ok()?,
                },
            })
        }
        "member.added" if d.keys().all(|k| MEMBER_ADDED.contains(&k.as_str())) => {
            Some(Change::MemberAdded {
                org: ev.target.to_owned(),
                user: field(d, "user")?,
                attrs: MemberAttrs {
                    role: field(d, "role")?,
                    expires: optional(d, "expires").ok()?,
                    reason: optional(d, "reason").ok()?,
                    reviewed: optional(d, "reviewed").ok()?,
                    external: field(d, "external")?,
                },
                person: UserAttrs {
                    name: optional(d, "name").ok()?,
                    title: optional(d, "title").ok()?,
                },
            })
        }
        _ => None,
    }
}

/// [`change_of`] through serde: the event read as the document of its change.
fn change_by_serde(ev: &Fields<'_>) -> Result<Option<Change>, String> {
    let target = target_key(ev.action)
        .filter(|_| !keeps_target(ev.action))
        .map(|key| (key, ev.target));
    let doc = Doc {
        tag: ev.action.replace('.', "_"),
        target,
        details: ev.details,
    };
    Change::deserialize(doc)
        .map(Some)
        .map_err(|e| format!("`{}` event does not describe a change: {e}", ev.action))
}

/// An event read as the document of its change, without copying its details: the
/// `change` tag, the target under its key (unless the details keep it), then the
/// details (less any `change` or target key of their own, which the document's own
/// replace, as when it was built as a map).
struct Doc<'a> {
    tag: String,
    target: Option<(&'static str, &'a str)>,
    details: &'a Map<String, Value>,
}

impl<'de> serde::Deserializer<'de> for Doc<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_map(DocAccess {
            tag: Some(self.tag),
            target: self.target,
            details: self.details.iter().filter(|(k, _)| {
                *k != "change" && self.target.is_none_or(|(t, _)| k.as_str() != t)
            }),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

enum Next<'a> {
    Text(String),
    Borrowed(&'a str),
    Value(&'a Value),
}

struct DocAccess<'a, I> {
    tag: Option<String>,
    target: Option<(&'static str, &'a str)>,
    details: I,
    value: Option<Next<'a>>,
}

impl<'de, I: Iterator<Item = (&'de String, &'de Value)>> serde::de::MapAccess<'de>
    for DocAccess<'de, I>
{
    type Error = serde_json::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key: &'de str = if let Some(tag) = self.tag.take() {
            self.value = Some(Next::Text(tag));
            "change"
        } else if let Some((key, target)) = self.target.take() {
            self.value = Some(Next::Borrowed(target));
            key
        } else if let Some((k, v)) = self.details.next() {
            self.value = Some(Next::Value(v));
            k.as_str()
        } else {
            return Ok(None);
        };
        let de: serde::de::value::BorrowedStrDeserializer<'de, Self::Error> =
            serde::de::value::BorrowedStrDeserializer::new(key);
        seed.deserialize(de).map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(Next::Text(s)) => seed.deserialize(serde::de::value::StringDeserializer::new(s)),
            Some(Next::Borrowed(s)) => {
                seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(s))
            }
            Some(Next::Value(v)) => seed.deserialize(v),
            None => Err(serde::de::Error::custom("a value without its key")),
        }
    }
}

/// The stamp an event's change is applied with.
pub fn stamp(ev: &Event) -> Stamp<'_> {
    Stamp {
        at: ev.at,
        actor: (ev.actor != SYSTEM && !ev.actor.starts_with("key:")).then_some(ev.actor.as_str()),
    }
}

/// Applies one event to `state`.
pub fn apply(state: &mut State, ev: &Event) -> Result<(), String> {
    if let Some(change) = change_of(ev)? {
        state
            .apply(&change, stamp(ev))
            .map_err(|e| format!("event {} (`{}`) does not apply: {e}", ev.seq, ev.action))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::GrantAttrs;

    fn event_of(change: &Change) -> Event {
        let (target, details) = describe(change);
        Event::new(
            1,
            crate::time::Instant(0),
            "a@x.io".into(),
            change.action().into(),
            target,
            details,
            super::super::event::genesis("g"),
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn the_quick_description_is_the_serde_one() {
        use crate::roles::{OrgRole, ProjectRole};
        use crate::state::{MemberAttrs, UserAttrs};
        let day = chrono::NaiveDate::from_ymd_opt(2024, 5, 1);
        let far = chrono::NaiveDate::from_ymd_opt(12_345, 1, 2);
        let mut changes = Vec::new();
        for (role, expires, reason, review_by) in [
            (ProjectRole::Viewer, None, None, None),
            (
                ProjectRole::Admin,
                Some(crate::time::Instant(1_714_521_600_123_456)),
                Some("on \"call\"\n é".to_owned()),
                day,
            ),
            (
                ProjectRole::Member,
                Some(crate::time::Instant(-5)),
                Some(String::new()),
                far,
            ),
        ] {
            changes.push(Change::GrantAdded {
                user: "u@x.io".into(),
                target: "acme/*".into(),
                attrs: GrantAttrs {
                    role,
                    expires,
                    reason: reason.clone(),
                    review_by,
                },
            });
            changes.push(Change::GrantRemoved {
                user: "ü@bücher.example".into(),
                target: "acme/web".into(),
            });
            for (org_role, external, name) in [
                (OrgRole::Member, false, None),
                (OrgRole::Owner, true, Some("Ann \u{1f600}".to_owned())),
                (OrgRole::Admin, false, Some(String::new())),
            ] {
                changes.push(Change::MemberAdded {
                    org: "acme".into(),
                    user: "u@x.io".into(),
                    attrs: MemberAttrs {
                        role: org_role,
                        expires,
                        reason: reason.clone(),
                        reviewed: review_by,
                        external,
                    },
                    person: UserAttrs {
                        name: name.clone(),
                        title: name.map(|n| format!("{n} title")),
                    },
                });
            }
        }
        for c in &changes {
            assert_eq!(quick_describe(c), Some(describe_by_serde(c)), "{c:?}");
        }
        let other = Change::OrgDeleted { org: "acme".into() };
        assert_eq!(quick_describe(&other), None);
        assert_eq!(describe(&other), describe_by_serde(&other));
    }

    #[test]
    fn a_change_comes_back_from_its_event_without_its_unset_attributes() {
        let change = Change::GrantAdded {
            user: "u@x.io".into(),
            target: "acme/web".into(),
            attrs: GrantAttrs {
                role: crate::roles::ProjectRole::Viewer,
                expires: None,
                reason: None,
                review_by: None,
            },
        };
        let ev = event_of(&change);
        assert_eq!(ev.target, "acme/web");
        assert_eq!(ev.details.keys().collect::<Vec<_>>(), ["role", "user"]);
        assert_eq!(change_of(&ev), Ok(Some(change)));
        // A journal written before (unset attributes as null) reads the same.
        let mut old = ev.clone();
        old.details.insert("expires".into(), Value::Null);
        old.details.insert("reason".into(), Value::Null);
        assert_eq!(change_of(&old), change_of(&ev));
        // The event's own target wins over a `target` or `change` in its details.
        old.details
            .insert("target".into(), Value::from("acme/other"));
        old.details
            .insert("change".into(), Value::from("org_deleted"));
        assert_eq!(change_of(&old), change_of(&ev));
    }
    /// Every combination of a few values per key, good and bad (a key it does not read
    /// beside a few others only).
    fn detail_maps() -> Vec<Map<String, Value>> {
        let values: [(&str, &[Value]); 10] = [
            (
                "user",
                &[Value::from("u@x.io"), Value::from(3), Value::Null],
            ),
            (
                "role",
                &[
                    Value::from("viewer"),
                    Value::from("admin"),
                    Value::from("owner"),
                    Value::from("nope"),
                    Value::Null,
                ],
            ),
            (
                "expires",
                &[
                    Value::from("2025-01-01T00:00:00Z"),
                    Value::from("soon"),
                    Value::Null,
                ],
            ),
            (
                "reason",
                &[Value::from("on-call"), Value::from(1), Value::Null],
            ),
            (
                "review_by",
                &[Value::from("2025-02-01"), Value::from("later")],
            ),
            ("reviewed", &[Value::from("2025-02-01"), Value::Null]),
            (
                "external",
                &[Value::from(false), Value::from(true), Value::from("no")],
            ),
            ("name", &[Value::from("Ann"), Value::Null]),
            ("title", &[Value::from(2)]),
            (
                "extra",
                &[
                    Value::from("x"),
                    Value::from("acme"),
                    Value::from("org_deleted"),
                ],
            ),
        ];
        let mut maps = vec![Map::new()];
        for (key, vals) in &values {
            let names: &[&str] = if *key == "extra" {
                &["extra", "org", "target", "change"]
            } else {
                &[key]
            };
            let mut next = Vec::new();
            for m in &maps {
                next.push(m.clone());
                if *key == "extra" && m.len() > 3 {
                    continue;
                }
                for name in names {
                    for v in *vals {
                        let mut m = m.clone();
                        m.insert((*name).into(), v.clone());
                        next.push(m);
                    }
                }
            }
            maps = next;
        }
        maps
    }

    #[test]
    fn the_common_changes_read_as_serde_reads_them() {
        // Where the short way reads an event, serde reads the same change; where serde
        // reads one from only the keys the short way knows, the short way reads it too.
        let mut checked = 0;
        for action in ["grant.added", "member.added"] {
            for details in detail_maps() {
                let ev = Event {
                    seq: 1,
                    at: crate::time::Instant(0),
                    actor: "a@x.io".into(),
                    action: action.into(),
                    target: "acme/web".into(),
                    details,
                    seed: None,
                    salts: crate::audit::event::Paths::default(),
                    sealed: crate::audit::event::Paths::default(),
                    prev_hash: String::new(),
                    hash: String::new(),
                };
                let slow = change_by_serde(&ev.fields());
                if let Some(fast) = common_change(&ev.fields()) {
                    assert_eq!(slow, Ok(Some(fast)), "{action} {:?}", ev.details);
                    checked += 1;
                } else {
                    let known = ev.details.keys().all(|k| match action {
                        "grant.added" => GRANT_ADDED.contains(&k.as_str()),
                        _ => MEMBER_ADDED.contains(&k.as_str()),
                    });
                    assert!(!(known && slow.is_ok()), "{action} {:?}", ev.details);
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }
}
