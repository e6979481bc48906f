//! Audit events (format 2): their fields, the salted commitments that keep personal data
//! erasable, the hash chain, and the JSON forms of journals and exports.
//! `docs/journal-format.md` describes all of it for an independent verifier.
//!
//! # Canonical form and hashes
//!
//! Only personal fields ([`super::personal`]) are committed; each has a salt of its own,
//! 16 bytes derived from the event's random `seed` (or, once an erasure dropped the seed,
//! stored in `salts`):
//!
//! ```text
//! salt(path)          = SHA-256("accessgraph/salt/v2\0" ‖ seed ‖ path)[..16]
//! commit(path, value) = SHA-256("accessgraph/commit/v2\0" ‖ salt ‖ path ‖ "\0" ‖ value)
//! ```
//!
//! The canonical form is the compact JSON (keys sorted, no spaces, `serde_json`'s string
//! and number formatting) of `{action, actor, at, details, seq, target}` with each
//! personal string replaced by `"#" + hex(commit)`; every other value stands as it is.
//!
//! ```text
//! hash = hex(SHA-256("accessgraph/event/v2\n" ‖ prev_hash ‖ "\n" ‖ canonical))
//! ```
//!
//! Erasure replaces a personal string by the user's pseudonym (`erased:<16 hex>`) and
//! moves its commitment into `sealed`; the seed is dropped (the other personal fields'
//! salts are written out in `salts`), so the erased value's salt is gone and the hash is
//! unchanged. A sealed
//! value must be a pseudonym, and (checked over the whole log, see `log::verify_chain`)
//! one that a `user.erased` event names, listing this very field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::personal;
use crate::ids::is_pseudonym;
use crate::time::Instant;

/// The actor of changes made without one (`actor=None`).
pub const SYSTEM: &str = "system";

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// 1, 2, 3 … contiguous.
    pub seq: u64,
    /// When (UTC).
    pub at: Instant,
    /// `system`, an email, or `key:<id>`.
    pub actor: String,
    /// Dotted action name.
    pub action: String,
    /// What the event is about: an org, project, `org/*`, resource, or user.
    pub target: String,
    /// Before/after values, the user concerned, reasons …
    pub details: Map<String, Value>,
    /// 32 hex digits: every personal field's salt derives from it (absent once an erasure
    /// sealed a field of this event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Salt (32 hex digits) of each personal string that holds its cleartext, by JSON
    /// Pointer, when the event has no seed.
    #[serde(default, skip_serializing_if = "Paths::is_empty")]
    pub salts: Paths,
    /// Commitment (64 hex digits) of each personal string that was erased, by JSON Pointer.
    #[serde(default, skip_serializing_if = "Paths::is_empty")]
    pub sealed: Paths,
    /// The previous event's hash (or the chain's anchor).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// An event's journal form as read (without `prev_hash` and `hash`: the chain gives
/// both).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    seq: u64,
    at: Instant,
    actor: String,
    action: String,
    target: String,
    details: Map<String, Value>,
    #[serde(default)]
    seed: Option<String>,
    #[serde(default)]
    salts: Paths,
    #[serde(default)]
    sealed: Paths,
}

/// The fields of an event that its hash covers, borrowed: from an [`Event`], or from its
/// journal form as read ([`Stored`]), so that opening a journal hashes and stores each
/// event without building it.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// `seq`.
    pub seq: u64,
    /// `at`.
    pub at: Instant,
    /// `actor`.
    pub actor: &'a str,
    /// `action`.
    pub action: &'a str,
    /// `target`.
    pub target: &'a str,
    /// `details`.
    pub details: &'a Map<String, Value>,
    /// `seed`.
    pub seed: Option<&'a str>,
    /// `salts`.
    pub salts: &'a Paths,
    /// `sealed`.
    pub sealed: &'a Paths,
}

impl Stored {
    /// Its fields.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            details: &self.details,
            seed: self.seed.as_deref(),
            salts: &self.salts,
            sealed: &self.sealed,
        }
    }

    /// The event, chained after `prev_hash`, whose hash is `hash` (not checked here).
    pub fn into_event(self, prev_hash: String, hash: String) -> Event {
        Event {
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            target: self.target,
            details: self.details,
            seed: self.seed,
            salts: self.salts,
            sealed: self.sealed,
            prev_hash,
            hash,
        }
    }

    /// Its `seq`.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// A small map from JSON Pointer to hex text (salts, sealed commitments), sorted by path
/// and written as a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paths(Vec<(Box<str>, Box<str>)>);

impl Paths {
    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The text at `path`.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(p, _)| (**p).cmp(path))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| &**v)
    }

    /// Sets the text at `path`.
    pub fn insert(&mut self, path: &str, value: &str) {
        match self.0.binary_search_by(|(p, _)| (**p).cmp(path)) {
            Ok(i) => {
                if let Some(e) = self.0.get_mut(i) {
                    e.1 = value.into();
                }
            }
            Err(i) => self.0.insert(i, (path.into(), value.into())),
        }
    }

    /// Removes the text at `path`.
    pub fn remove(&mut self, path: &str) {
        if let Ok(i) = self.0.binary_search_by(|(p, _)| (**p).cmp(path)) {
            self.0.remove(i);
        }
    }

    /// The index of `path` among the entries (in path order).
    pub fn position(&self, path: &str) -> Option<usize> {
        self.0.binary_search_by(|(p, _)| (**p).cmp(path)).ok()
    }

    /// The text of entry `i` (in path order).
    pub fn value_at(&self, i: usize) -> Option<&str> {
        self.0.get(i).map(|(_, v)| &**v)
    }

    /// The entries, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(p, v)| (&**p, &**v))
    }

    /// The paths, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(p, _)| &**p)
    }
}

impl FromIterator<(String, String)> for Paths {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        // Sorted, and the last of a repeated path wins, as in a JSON object read into a map.
        let mut v: Vec<(Box<str>, Box<str>)> = iter
            .into_iter()
            .map(|(p, t)| (p.into_boxed_str(), t.into_boxed_str()))
            .collect();
        v.reverse();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        v.shrink_to_fit();
        Paths(v)
    }
}

impl Serialize for Paths {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (p, v) in &self.0 {
            m.serialize_entry(&**p, &**v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Paths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = BTreeMap::<String, String>::deserialize(d)?;
        Ok(m.into_iter().collect())
    }
}

/// Why an event does not verify on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The stored hash is not the hash of the fields.
    Hash,
    /// A personal string has neither a salt nor a sealed commitment, or a malformed one.
    Commitment(String),
    /// A salt or sealed commitment for a field the schema does not commit.
    NotPersonal(String),
    /// A sealed field whose value is not a pseudonym.
    SealedValue(String),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Hash => f.write_str("its hash does not match its fields"),
            Broken::Commitment(p) => {
                write!(f, "the commitment of `{p}` is missing or malformed")
            }
            Broken::NotPersonal(p) => write!(
                f,
                "`{p}` carries a salt or a seal but is not a personal field: only personal fields are committed"
            ),
            Broken::SealedValue(p) => write!(
                f,
                "`{p}` is sealed but does not hold an erased user's pseudonym"
            ),
        }
    }
}

/// The commitment to one personal string.
pub fn commit(salt: &[u8], path: &str, value: &str) -> String {
    to_hex(&super::digest::commit_bytes(salt, path, value))
}

/// Lower-case hex of `bytes`, written into one buffer.
pub fn to_hex(bytes: &[u8]) -> String {
    // Written as bytes a table lookup each (pushing `char`s one by one cost ~30
    // instructions a digit); ASCII, so the UTF-8 check cannot fail.
    let mut out = Vec::with_capacity(bytes.len() * 2);
    super::digest::push_hex(&mut out, bytes);
    String::from_utf8(out).unwrap_or_default()
}

/// True for `n` lower-case hex digits.
pub fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A salt's 16 bytes from its hex, or `None` when it is not 32 lower-case hex digits.
fn salt_bytes(hex_salt: &str) -> Option<[u8; 16]> {
    super::digest::decode_lower_hex(hex_salt)
}

pub use super::digest::derive_salt;

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// The anchor of a new chain: the `prev_hash` of event 1 of graph `graph_id`.
pub fn genesis(graph_id: &str) -> String {
    sha256_hex(format!("accessgraph/genesis/v2\0{graph_id}").as_bytes())
}

impl Event {
    /// A new event chained after `prev_hash`, with a fresh random seed for its personal
    /// fields' salts.
    pub fn new(
        seq: u64,
        at: Instant,
        actor: String,
        action: String,
        target: String,
        details: Map<String, Value>,
        prev_hash: String,
    ) -> std::io::Result<Self> {
        let mut seed = [0_u8; 16];
        super::random::fill(&mut seed)?;
        let mut ev = Event {
            seq,
            at,
            actor,
            action,
            target,
            details,
            seed: Some(to_hex(&seed)),
            salts: Paths::default(),
            sealed: Paths::default(),
            prev_hash,
            hash: String::new(),
        };
        ev.hash = ev
            .compute_hash()
            .map_err(|b| std::io::Error::other(b.to_string()))?;
        Ok(ev)
    }

    /// The event's seed, when it has a well-formed one.
    fn seed_bytes(&self) -> Result<Option<[u8; 16]>, Broken> {
        match &self.seed {
            None => Ok(None),
            Some(hex_seed) => salt_bytes(hex_seed)
                .map(Some)
                .ok_or_else(|| Broken::Commitment("/seed".into())),
        }
    }

    /// Each personal field's commitment, checking the event's salts and seals against
    /// the schema: every personal string has exactly one (its seed's salt, a salt of its
    /// own, or a seal), nothing else has any, and a sealed value is a pseudonym. An event
    /// with a seed has no salts nor seals of its own.
    pub fn commitments(&self) -> Result<Vec<(String, String)>, Broken> {
        let seed = self.seed_bytes()?;
        if seed.is_some() {
            if let Some(p) = self.salts.keys().chain(self.sealed.keys()).next() {
                return Err(if personal::is_personal(&self.action, p) {
                    Broken::Commitment(p.to_owned())
                } else {
                    Broken::NotPersonal(p.to_owned())
                });
            }
        }
        let mut out: Vec<(String, String)> = Vec::with_capacity(self.salts.len() + 2);
        let mut bad: Option<Broken> = None;
        personal::for_each(
            &self.action,
            &self.actor,
            &self.target,
            &self.details,
            &mut |p, s| {
                if bad.is_some() {
                    return;
                }
                if let Some(seed) = &seed {
                    out.push((p.to_owned(), commit(&derive_salt(seed, p), p, s)));
                    return;
                }
                let c = match (self.sealed.get(p), self.salts.get(p)) {
                    (Some(c), None) => {
                        if !is_pseudonym(s) {
                            bad = Some(Broken::SealedValue(p.to_owned()));
                            return;
                        }
                        is_hex(c, 64).then(|| c.to_owned())
                    }
                    (None, Some(salt)) => salt_bytes(salt).map(|salt| commit(&salt, p, s)),
                    _ => None,
                };
                match c {
                    Some(c) => out.push((p.to_owned(), c)),
                    None => bad = Some(Broken::Commitment(p.to_owned())),
                }
            },
        );
        if let Some(b) = bad {
            return Err(b);
        }
        // A salt or seal on anything else would be data the schema does not commit.
        if let Some(p) = self
            .salts
            .keys()
            .chain(self.sealed.keys())
            .find(|p| !out.iter().any(|(q, _)| q == p))
        {
            return Err(Broken::NotPersonal(p.to_owned()));
        }
        Ok(out)
    }

    /// Checks the stored hash against the fields.
    pub fn check(&self) -> Result<(), Broken> {
        if self.compute_hash()? == self.hash {
            Ok(())
        } else {
            Err(Broken::Hash)
        }
    }

    /// The pseudonyms this event's sealed fields hold, with their paths.
    pub fn seals(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.sealed.is_empty() {
            return out;
        }
        personal::for_each(
            &self.action,
            &self.actor,
            &self.target,
            &self.details,
            &mut |p, s| {
                if self.sealed.get(p).is_some() {
                    out.push((p.to_owned(), s.to_owned()));
                }
            },
        );
        out
    }

    /// The JSON text of the event (one line, no newline): the export form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The journal form: the export form without `prev_hash` and `hash` (the chain gives
    /// both).
    pub fn to_journal(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("seq".into(), Value::from(self.seq));
        doc.insert("at".into(), Value::String(self.at.to_iso()));
        doc.insert("actor".into(), Value::String(self.actor.clone()));
        doc.insert("action".into(), Value::String(self.action.clone()));
        doc.insert("target".into(), Value::String(self.target.clone()));
        doc.insert("details".into(), Value::Object(self.details.clone()));
        if let Some(seed) = &self.seed {
            doc.insert("seed".into(), Value::String(seed.clone()));
        }
        if !self.salts.is_empty() {
            doc.insert("salts".into(), paths_json(&self.salts));
        }
        if !self.sealed.is_empty() {
            doc.insert("sealed".into(), paths_json(&self.sealed));
        }
        Value::Object(doc)
    }

    /// An event from its journal form, chained after `prev_hash` (its hash computed).
    pub fn from_journal(v: Value, prev_hash: &str) -> Result<Self, String> {
        let s: Stored = serde_json::from_value(v).map_err(|e| e.to_string())?;
        Self::from_stored(s, prev_hash)
    }

    /// An event from its journal form as read, chained after `prev_hash` (its hash
    /// computed).
    pub fn from_stored(s: Stored, prev_hash: &str) -> Result<Self, String> {
        let hash = s.hash(prev_hash)?;
        Ok(s.into_event(prev_hash.to_owned(), to_hex(&hash)))
    }

    /// Its fields.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            details: &self.details,
            seed: self.seed.as_deref(),
            salts: &self.salts,
            sealed: &self.sealed,
        }
    }

    /// Seals the personal string at `path`: its value becomes `pseudonym` and its
    /// commitment moves into `sealed`, so the hash stays the same. False when `path` is
    /// not a committed string of this event.
    pub fn seal(&mut self, path: &str, pseudonym: &str) -> bool {
        let Ok(commits) = self.commitments() else {
            return false;
        };
        if !commits.iter().any(|(p, _)| p == path) {
            return false;
        }
        // The seed goes (the erased value's salt must not be derivable any more): the
        // other cleartext fields keep their salts, written out.
        if let Ok(Some(seed)) = self.seed_bytes() {
            let mut salts = Vec::new();
            personal::for_each(
                &self.action,
                &self.actor,
                &self.target,
                &self.details,
                &mut |p, _| {
                    salts.push((p.to_owned(), to_hex(&derive_salt(&seed, p))));
                },
            );
            self.salts = salts.into_iter().collect();
            self.seed = None;
        }
        let Some((_, c)) = commits.into_iter().find(|(p, _)| p == path) else {
            return false;
        };
        self.salts.remove(path);
        self.sealed.insert(path, &c);
        self.set_string_at(path, pseudonym.to_owned());
        true
    }

    fn set_string_at(&mut self, path: &str, new: String) {
        match path {
            "/actor" => self.actor = new,
            "/target" => self.target = new,
            _ => {
                if let Some(rest) = path.strip_prefix("/details") {
                    let mut v = Value::Object(std::mem::take(&mut self.details));
                    if let Some(slot) = v.pointer_mut(rest) {
                        *slot = Value::String(new);
                    }
                    if let Value::Object(m) = v {
                        self.details = m;
                    }
                }
            }
        }
    }

    /// The user an event concerns: `details["user"]`.
    pub fn user(&self) -> Option<&str> {
        self.details.get("user").and_then(Value::as_str)
    }
}

fn paths_json(p: &Paths) -> Value {
    Value::Object(
        p.iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    )
}

/// Reads an event from its export form.
pub fn parse_event(json: &str) -> Result<Event, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Event {
        let mut d = Map::new();
        d.insert("user".into(), Value::from("alice@example.com"));
        d.insert("role".into(), Value::from("viewer"));
        d.insert("reason".into(), Value::from("on-call"));
        Event::new(
            1,
            Instant(0),
            "bob@example.com".into(),
            "grant.added".into(),
            "acme/prod".into(),
            d,
            genesis("g"),
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn only_personal_fields_are_committed() {
        let e = ev();
        assert!(e.seed.is_some() && e.salts.is_empty());
        let paths: Vec<String> = e
            .commitments()
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(paths, ["/actor", "/details/reason", "/details/user"]);
        assert_eq!(e.check(), Ok(()));
    }

    #[test]
    fn sealing_drops_the_seed_and_writes_the_other_salts_out() {
        let mut e = ev();
        assert!(e.seal("/details/user", "erased:0123456789abcdef"));
        assert!(e.seed.is_none());
        assert_eq!(
            e.salts.keys().collect::<Vec<_>>(),
            ["/actor", "/details/reason"]
        );
        assert_eq!(e.sealed.keys().collect::<Vec<_>>(), ["/details/user"]);
        assert_eq!(e.check(), Ok(()));
    }

    #[test]
    fn a_role_edit_breaks_the_hash() {
        let mut e = ev();
        e.details.insert("role".into(), Value::from("admin"));
        assert_eq!(e.check(), Err(Broken::Hash));
    }

    #[test]
    fn sealing_keeps_the_hash_and_needs_a_pseudonym() {
        let mut e = ev();
        let before = e.hash.clone();
        assert!(e.seal("/details/user", "erased:0123456789abcdef"));
        assert_eq!(e.compute_hash().as_deref(), Ok(before.as_str()));
        // A forger writing other cleartext beside the kept commitment is refused.
        e.details
            .insert("user".into(), Value::from("mallory@example.com"));
        assert_eq!(e.check(), Err(Broken::SealedValue("/details/user".into())));
    }

    #[test]
    fn a_non_personal_field_cannot_be_sealed() {
        let mut e = ev();
        assert!(!e.seal("/details/role", "erased:0123456789abcdef"));
        // ... nor can a file claim it is (beside a seed, or with salts of their own).
        e.sealed.insert("/details/role", &"0".repeat(64));
        assert_eq!(e.check(), Err(Broken::NotPersonal("/details/role".into())));
        e.sealed.remove("/details/role");
        assert!(e.seal("/details/reason", "erased:0123456789abcdef"));
        e.sealed.insert("/details/role", &"0".repeat(64));
        assert_eq!(e.check(), Err(Broken::NotPersonal("/details/role".into())));
    }

    #[test]
    fn hex_is_the_hex_crates() {
        let all: Vec<u8> = (0..=255_u8).collect();
        for n in [0, 1, 16, 32, 33, 256] {
            let some = all.get(..n).unwrap_or_default();
            assert_eq!(to_hex(some), hex::encode(some));
        }
    }

    #[test]
    fn the_journal_form_round_trips() {
        let e = ev();
        let back = Event::from_journal(e.to_journal(), &e.prev_hash);
        assert_eq!(back.as_ref(), Ok(&e));
    }
}
