//! Erasure (SPEC 3.4): a user's personal data sealed behind a stable pseudonym in every
//! event, the chain still verifying.
//!
//! A personal field (see [`super::personal`]) that names the user — their email anywhere
//! in it, a name or title they went by as a whole word, or any name or title field of an
//! event about them — is *sealed*: its whole value becomes the pseudonym and its
//! commitment moves into `sealed`, its salt dropped, so the hash is unchanged and the old
//! value cannot be tested against guesses. The `user.erased` event lists every field it
//! seals, so a seal added later (a forged value beside a kept commitment) is refused.

use serde_json::Value;

use super::event::{sha256_hex, Event};
use super::personal;

/// A fresh pseudonym for `email`: `erased:` and 16 hex digits of a salted hash (the salt
/// is thrown away, so the pseudonym cannot be tested against guessed emails). Fails when
/// the operating system's random source does.
pub fn pseudonym(email: &str) -> std::io::Result<String> {
    let mut input = super::random::bytes(16)?;
    input.extend_from_slice(email.as_bytes());
    let h = sha256_hex(&input);
    Ok(format!("erased:{}", h.get(..16).unwrap_or(&h)))
}

/// What to seal: the email, the names and titles the user went by, and the pseudonym.
#[derive(Debug, Clone)]
pub struct Redaction {
    /// The lower-case email.
    pub email: String,
    /// Names and titles the user went by (three characters or more), longest first.
    pub names: Vec<String>,
    /// `erased:<hash>`.
    pub pseudonym: String,
}

/// Does `needle` occur in `text` as a whole word, ignoring case?
fn has_word(text: &str, needle: &str) -> bool {
    let (text, needle) = (text.to_lowercase(), needle.to_lowercase());
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(&needle).any(|(i, _)| {
        let before = text.get(..i).and_then(|s| s.chars().next_back());
        let after = text.get(i + needle.len()..).and_then(|s| s.chars().next());
        !word(before) && !word(after)
    })
}

/// The names and titles an event gives the user it is about (`name`, `title`, and
/// those under `before` / `after`).
fn names_in(ev: &Event, out: &mut Vec<String>) {
    let mut take = |v: Option<&Value>| {
        if let Some(Value::String(s)) = v {
            out.push(s.clone());
        }
    };
    for key in ["name", "title"] {
        take(ev.details.get(key));
        for side in ["before", "after"] {
            take(ev.details.get(side).and_then(|m| m.get(key)));
        }
    }
}

impl Redaction {
    /// The redaction of `email`: the names and titles it went by are those given
    /// (`current`: the user's record now) and those the events about it carry.
    pub fn new<'e>(
        email: &str,
        current: &[Option<String>],
        events: impl IntoIterator<Item = &'e Event>,
        pseudonym: String,
    ) -> Self {
        let email = email.to_ascii_lowercase();
        let mut names: Vec<String> = current.iter().flatten().cloned().collect();
        for e in events {
            if Self::about(&email, e) {
                names_in(e, &mut names);
            }
        }
        // Very short words would seal unrelated text; the exact fields still go.
        names.retain(|n| n.chars().count() >= 3);
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        names.dedup();
        Redaction {
            email,
            names,
            pseudonym,
        }
    }

    /// Is the event about the user (their membership, grant, record or offboarding)?
    fn about(email: &str, e: &Event) -> bool {
        e.user().is_some_and(|u| u.eq_ignore_ascii_case(email))
            || (personal::is_personal(&e.action, "/target") && e.target.eq_ignore_ascii_case(email))
    }

    /// Does this personal string name the user?
    pub fn names_user(&self, s: &str) -> bool {
        s.to_ascii_lowercase().contains(&self.email) || self.names.iter().any(|n| has_word(s, n))
    }

    /// The personal fields of `ev` that must be sealed, in path order.
    pub fn fields(&self, ev: &Event) -> Vec<String> {
        let mut out = self.fields_of(&ev.action, &ev.actor, &ev.target, &ev.details);
        out.retain(|p| ev.sealed.get(p).is_none());
        out
    }

    /// The personal fields an event with these fields would have sealed.
    pub fn fields_of(
        &self,
        action: &str,
        actor: &str,
        target: &str,
        details: &serde_json::Map<String, Value>,
    ) -> Vec<String> {
        let about = details
            .get("user")
            .and_then(Value::as_str)
            .is_some_and(|u| u.eq_ignore_ascii_case(&self.email))
            || (personal::is_personal(action, "/target")
                && target.eq_ignore_ascii_case(&self.email));
        let mut out = Vec::new();
        personal::for_each(action, actor, target, details, &mut |p, s| {
            let own_name = about && (p.ends_with("/name") || p.ends_with("/title"));
            if s != self.pseudonym && (own_name || self.names_user(s)) {
                out.push(p.to_owned());
            }
        });
        out
    }

    /// Seals `paths` of `ev`.
    pub fn seal(&self, ev: &mut Event, paths: &[String]) {
        for p in paths {
            ev.seal(p, &self.pseudonym);
        }
    }

    /// Redacts a JSON document (a state snapshot): every string naming the user becomes
    /// the pseudonym; the user's own `name` and `title` become null.
    pub fn json(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if self.names_user(s) {
                    s.clone_from(&self.pseudonym);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_not_parts_of_words() {
        assert!(has_word("approved by the CTO today", "cto"));
        assert!(!has_word("doctor's note", "cto"));
        assert!(has_word("Ann Lee, on call", "ann lee"));
    }

    #[test]
    fn pseudonyms_differ_for_one_email() -> std::io::Result<()> {
        assert_ne!(pseudonym("a@x.io")?, pseudonym("a@x.io")?);
        assert!(crate::ids::is_pseudonym(&pseudonym("a@x.io")?));
        Ok(())
    }
}
