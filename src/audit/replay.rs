//! Elementary changes as audit events and back: the journal *is* the list of changes, so
//! replaying events rebuilds a graph (opening a journal, `refresh`, `as_of`).

use serde_json::{Map, Value};

use super::event::{Event, SYSTEM};
use crate::state::Change;
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
    let action = change.action();
    let mut details = match serde_json::to_value(change) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    details.remove("change");
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
    if !is_change(&ev.action) {
        return Ok(None);
    }
    let mut doc = ev.details.clone();
    if let Some(key) = target_key(&ev.action) {
        if !keeps_target(&ev.action) {
            doc.insert(key.to_owned(), Value::String(ev.target.clone()));
        }
    }
    doc.insert(
        "change".to_owned(),
        Value::String(ev.action.replace('.', "_")),
    );
    serde_json::from_value(Value::Object(doc))
        .map(Some)
        .map_err(|e| format!("`{}` event does not describe a change: {e}", ev.action))
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
