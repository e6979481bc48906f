//! Erasure (SPEC 3.4): a user's personal data redacted from every event behind a stable
//! pseudonym, commitments sealed so the chain still verifies.

use serde_json::Value;

use super::event::{random_bytes, sha256_hex, Event};

/// A fresh pseudonym for `email`: `erased:` and 16 hex digits of a salted hash (the salt
/// is thrown away, so the pseudonym cannot be tested against guessed emails).
pub fn pseudonym(email: &str) -> String {
    let salt = random_bytes(16).unwrap_or_default();
    let mut input = salt;
    input.extend_from_slice(email.as_bytes());
    let h = sha256_hex(&input);
    format!("erased:{}", h.get(..16).unwrap_or(&h))
}

/// What to redact: the email, the names the user went by, and the pseudonym for both.
#[derive(Debug, Clone)]
pub struct Redaction {
    /// The lower-case email.
    pub email: String,
    /// Names (and other identifying text) to replace wherever they occur, longest first.
    pub names: Vec<String>,
    /// `erased:<hash>`.
    pub pseudonym: String,
}

fn replace_ci(text: &str, needle: &str, with: &str) -> Option<String> {
    if needle.is_empty() {
        return None;
    }
    let lower = text.to_lowercase();
    let n = needle.to_lowercase();
    if lower.len() != text.len() || !lower.contains(&n) {
        // Case folding changed byte lengths: fall back to an exact match.
        return text.contains(needle).then(|| text.replace(needle, with));
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(pos) = lower.get(i..).and_then(|rest| rest.find(&n)) {
        out.push_str(text.get(i..i + pos).unwrap_or_default());
        out.push_str(with);
        i += pos + n.len();
    }
    out.push_str(text.get(i..).unwrap_or_default());
    Some(out)
}

impl Redaction {
    /// Collects the names `email` went by in `events` (`name`/`title` details of events
    /// about them) besides `current`.
    pub fn new(
        email: &str,
        current: &[Option<String>],
        events: &[Event],
        pseudonym: String,
    ) -> Self {
        let mut names: Vec<String> = current.iter().flatten().cloned().collect();
        for e in events.iter().filter(|e| e.user() == Some(email)) {
            for key in ["name", "after", "before"] {
                match e.details.get(key) {
                    Some(Value::String(s)) if key == "name" => names.push(s.clone()),
                    Some(Value::Object(m)) => {
                        if let Some(Value::String(s)) = m.get("name") {
                            names.push(s.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        // Very short names would redact unrelated words; the exact fields still go.
        names.retain(|n| n.chars().count() >= 3);
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        names.dedup();
        Redaction {
            email: email.to_owned(),
            names,
            pseudonym,
        }
    }

    /// The redacted form of one string, if it changes.
    pub fn text(&self, s: &str) -> Option<String> {
        if s.eq_ignore_ascii_case(&self.email) {
            return Some(self.pseudonym.clone());
        }
        let mut out: Option<String> = None;
        for needle in std::iter::once(&self.email).chain(&self.names) {
            let cur = out.as_deref().unwrap_or(s);
            if let Some(r) = replace_ci(cur, needle, &self.pseudonym) {
                out = Some(r);
            }
        }
        out
    }

    /// Redacts one event: every string naming the user, and the `name`/`title` fields of
    /// events about them. Returns whether it changed.
    pub fn event(&self, ev: &mut Event) -> bool {
        let about = ev
            .user()
            .is_some_and(|u| u.eq_ignore_ascii_case(&self.email))
            || ev.target.eq_ignore_ascii_case(&self.email);
        ev.redact(&|path: &str, s: &str| {
            if about && (path.ends_with("/name") || path.ends_with("/title")) {
                return Some(self.pseudonym.clone());
            }
            self.text(s)
        })
    }

    /// Redacts a JSON document (a snapshot of the state): every string naming the user;
    /// the user's own `name` and `title` become null.
    pub fn json(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(r) = self.text(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.json(i)),
            Value::Object(map) => {
                let is_user = map
                    .get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(&self.email));
                for (k, item) in map.iter_mut() {
                    if is_user && (k == "name" || k == "title") {
                        *item = Value::Null;
                    } else {
                        self.json(item);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}
