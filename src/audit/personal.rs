//! Which fields of an event are personal: the only ones committed behind a salted hash,
//! and so the only ones erasure may seal. Everything else — actions, targets, roles,
//! expiries, seqs — enters the hash as it is, so no stored value can change it.
//!
//! The set depends on the event's action alone (the schema), never on what a file says:
//! - `/actor`, always;
//! - `/target` of the events about a user as a whole (`user.updated`, `user.offboarded`)
//!   and of every application event (its target is whatever the application named: a
//!   user's email as often as a resource);
//! - in a built-in event's details, every string under a key in [`PERSONAL_KEYS`], at any
//!   depth (`/details/user`, `/details/after/title`, `/details/reason`);
//! - in an application event's details (`record`), every string.

use serde_json::{Map, Value};

use super::digest::is_personal_key;

/// The actions the graph records itself: applications cannot `record` them.
pub const BUILTIN_ACTIONS: &[&str] = &[
    "org.created",
    "org.deleted",
    "org.updated",
    "project.created",
    "project.deleted",
    "project.updated",
    "member.added",
    "member.role_changed",
    "member.updated",
    "member.removed",
    "user.updated",
    "grant.added",
    "grant.changed",
    "grant.removed",
    "resource.created",
    "resource.transferred",
    "action.defined",
    "template.defined",
    "api_key.created",
    "api_key.rotated",
    "api_key.revoked",
    "project_key.rotated",
    "access_request.created",
    "access_request.approved",
    "access_request.denied",
    "user.offboarded",
    "user.erased",
    "campaign.started",
    "campaign.decided",
    "campaign.closed",
    "access.denied",
];

/// Detail keys whose string values name or describe a person, or are free text.
pub const PERSONAL_KEYS: &[&str] = &[
    "user",
    "name",
    "title",
    "reason",
    "owner",
    "to",
    "transfer_to",
    "label",
    "email",
    "decision_reason",
    "reviewer",
];

/// True for an action the graph records itself (one of [`BUILTIN_ACTIONS`]: a `match`,
/// since every event hashed asks; tested to agree with the list).
pub fn is_builtin(action: &str) -> bool {
    matches!(
        action,
        "org.created"
            | "org.deleted"
            | "org.updated"
            | "project.created"
            | "project.deleted"
            | "project.updated"
            | "member.added"
            | "member.role_changed"
            | "member.updated"
            | "member.removed"
            | "user.updated"
            | "grant.added"
            | "grant.changed"
            | "grant.removed"
            | "resource.created"
            | "resource.transferred"
            | "action.defined"
            | "template.defined"
            | "api_key.created"
            | "api_key.rotated"
            | "api_key.revoked"
            | "project_key.rotated"
            | "access_request.created"
            | "access_request.approved"
            | "access_request.denied"
            | "user.offboarded"
            | "user.erased"
            | "campaign.started"
            | "campaign.decided"
            | "campaign.closed"
            | "access.denied"
    )
}

/// True when the target of an event with `action` is personal: a user's email
/// (`user.updated`, `user.offboarded`) or anything an application named (`record`).
pub fn target_is_personal(action: &str) -> bool {
    matches!(action, "user.updated" | "user.offboarded") || !is_builtin(action)
}

/// Escapes one JSON Pointer token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(key: &str) -> String {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1")
    } else {
        key.to_owned()
    }
}

/// Calls `f(path, value)` for every personal string of an event, in a fixed order:
/// `/actor`, `/target` (when personal), then the details in key order, depth first.
pub fn for_each(
    action: &str,
    actor: &str,
    target: &str,
    details: &Map<String, Value>,
    f: &mut impl FnMut(&str, &str),
) {
    f("/actor", actor);
    let builtin = is_builtin(action);
    if target_is_personal(action) {
        f("/target", target);
    }
    let mut path = String::from("/details");
    for (k, v) in details {
        let len = path.len();
        path.push('/');
        path.push_str(&escape_token(k));
        walk(&mut path, v, !builtin || is_personal_key(k), builtin, f);
        path.truncate(len);
    }
}

/// True when the string at `path` of an event with `action` is personal (a path the
/// schema commits), whatever its value.
pub fn is_personal(action: &str, path: &str) -> bool {
    if path == "/actor" {
        return true;
    }
    if path == "/target" {
        return target_is_personal(action);
    }
    let builtin = is_builtin(action);
    let Some(rest) = path.strip_prefix("/details/") else {
        return false;
    };
    !builtin
        || rest
            .split('/')
            .any(|token| PERSONAL_KEYS.iter().any(|k| escape_token(k) == token))
}

fn walk(
    path: &mut String,
    v: &Value,
    personal: bool,
    builtin: bool,
    f: &mut impl FnMut(&str, &str),
) {
    match v {
        Value::String(s) if personal => f(path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                walk(path, item, personal, builtin, f);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&escape_token(k));
                let inner = personal || (builtin && is_personal_key(k));
                walk(path, item, inner, builtin, f);
                path.truncate(len);
            }
        }
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(action: &str, details: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let Value::Object(d) = details else {
            return out;
        };
        for_each(action, "a@x.io", "acme", d, &mut |p, _| {
            out.push(p.to_owned());
        });
        out
    }

    #[test]
    fn the_personal_key_match_is_the_list() {
        for k in PERSONAL_KEYS {
            assert!(is_personal_key(k), "{k}");
        }
        for k in [
            "role", "users", "use", "", "User", "expires", "reason ", "org",
        ] {
            assert!(!is_personal_key(k), "{k}");
        }
    }

    #[test]
    fn the_builtin_match_is_the_list() {
        for a in BUILTIN_ACTIONS {
            assert!(is_builtin(a), "{a}");
        }
        for a in [
            "data.exported",
            "",
            "grant",
            "grant.added ",
            "Grant.added",
            "org.*",
        ] {
            assert!(!is_builtin(a), "{a}");
        }
        assert!(target_is_personal("user.updated") && target_is_personal("user.offboarded"));
        assert!(target_is_personal("data.exported") && !target_is_personal("grant.added"));
    }

    #[test]
    fn built_in_events_commit_only_personal_keys() {
        let d = serde_json::json!({
            "user": "u@x.io", "role": "viewer", "reason": "on call",
            "before": {"name": "Ann", "role": "member"}, "settings": {"k": "v"}
        });
        assert_eq!(
            paths("grant.added", &d),
            [
                "/actor",
                "/details/before/name",
                "/details/reason",
                "/details/user"
            ]
        );
        assert!(is_personal("grant.added", "/details/user"));
        assert!(!is_personal("grant.added", "/details/role"));
        assert!(!is_personal("grant.added", "/target"));
        assert!(is_personal("user.offboarded", "/target"));
    }

    #[test]
    fn application_events_commit_every_detail_string() {
        let d = serde_json::json!({"rows": 3, "file": "q.csv", "tags": ["a", "b"]});
        assert_eq!(
            paths("data.exported", &d),
            [
                "/actor",
                "/target",
                "/details/file",
                "/details/tags/0",
                "/details/tags/1"
            ]
        );
        assert!(is_personal("data.exported", "/details/anything"));
        // An application's target may be a user's email: erasure must be able to seal it.
        assert!(is_personal("data.exported", "/target"));
    }
}
