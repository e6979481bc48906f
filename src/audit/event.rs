//! Audit events: their fields, the salted commitments that keep personal text erasable,
//! the hash chain, and the checksummed record line of journals and exports.
//!
//! # Canonical form and hashes
//!
//! Every string of an event that may carry personal data — `actor`, `target` and every
//! string anywhere inside `details` — enters the hash only through a *commitment*:
//!
//! ```text
//! commit(path, value) = SHA-256("accessgraph/commit/v1\0" ‖ salt ‖ path ‖ "\0" ‖ value)
//! ```
//!
//! where `path` is the JSON Pointer of the string (`/actor`, `/details/before/reason`) and
//! `salt` is 16 random bytes of its own, stored beside the cleartext in `salts`. The
//! canonical form is the compact JSON (keys sorted, no spaces, UTF-8, `serde_json`'s number
//! formatting) of `{action, actor, at, details, seq, target}` with each such string
//! replaced by `"#" + hex(commit)`; then
//!
//! ```text
//! hash = hex(SHA-256(prev_hash ‖ "\n" ‖ canonical))
//! ```
//!
//! Erasure replaces a string by a pseudonym and moves its commitment into `sealed` (the
//! salt is dropped, so the commitment cannot be tested against guessed emails): the hash
//! is unchanged and the chain still verifies.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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
    /// Salt (hex) of each committed string that still holds its cleartext, by JSON Pointer.
    #[serde(default, skip_serializing_if = "Paths::is_empty")]
    pub salts: Paths,
    /// Commitment (hex) of each string whose cleartext was erased, by JSON Pointer.
    #[serde(default, skip_serializing_if = "Paths::is_empty")]
    pub sealed: Paths,
    /// The previous event's hash (or the chain's anchor).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// A small map from JSON Pointer to hex text (salts, sealed commitments), sorted by path
/// and written as a JSON object. A sorted vector rather than a `BTreeMap`: an event has a
/// handful of entries, and a B-tree's first node holds room for eleven, which made the
/// salts the largest part of an event kept in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paths(Vec<(Box<str>, Box<str>)>);

impl Paths {
    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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

/// Why an event does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The stored hash is not the hash of the fields.
    Hash,
    /// A committed string has neither a salt nor a sealed commitment, or a bad one.
    Commitment(String),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Hash => f.write_str("its hash does not match its fields"),
            Broken::Commitment(p) => write!(f, "the commitment of `{p}` is missing or malformed"),
        }
    }
}

fn escape_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Calls `f(path, string)` for every committed string of an event, in a fixed order.
fn for_each_string(
    actor: &str,
    target: &str,
    details: &Map<String, Value>,
    f: &mut impl FnMut(&str, &str),
) {
    fn walk(path: &mut String, v: &Value, f: &mut impl FnMut(&str, &str)) {
        match v {
            Value::String(s) => f(path, s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    walk(path, item, f);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&escape_token(k));
                    walk(path, item, f);
                    path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    f("/actor", actor);
    f("/target", target);
    let mut path = String::from("/details");
    for (k, v) in details {
        let len = path.len();
        path.push('/');
        path.push_str(&escape_token(k));
        walk(&mut path, v, f);
        path.truncate(len);
    }
}

/// The commitment to one string.
pub fn commit(salt: &[u8], path: &str, value: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"accessgraph/commit/v1\0")
        .chain_update(salt)
        .chain_update(path.as_bytes())
        .chain_update([0u8])
        .chain_update(value.as_bytes())
        .finalize();
    to_hex(&digest)
}

/// Lower-case hex of `bytes`. `hex::encode` collects chars one by one, which showed up
/// as the largest single cost of replaying a journal; this writes into one buffer.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut buf = vec![0_u8; bytes.len() * 2];
    // The buffer is exactly twice the input, the only way encode_to_slice can fail.
    if hex::encode_to_slice(bytes, &mut buf).is_err() {
        return hex::encode(bytes);
    }
    String::from_utf8(buf).unwrap_or_else(|_| hex::encode(bytes))
}

/// A salt's 16 bytes from its hex, or `None` when it is not 32 hex digits.
fn salt_bytes(hex_salt: &str) -> Option<[u8; 16]> {
    let mut salt = [0_u8; 16];
    hex::decode_to_slice(hex_salt, &mut salt)
        .ok()
        .map(|()| salt)
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// The anchor of a new chain: the `prev_hash` of event 1 of graph `graph_id`.
pub fn genesis(graph_id: &str) -> String {
    sha256_hex(format!("accessgraph/genesis/v1\0{graph_id}").as_bytes())
}

/// Random bytes from the operating system.
pub fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(std::io::Error::other)?;
    Ok(buf)
}

impl Event {
    /// A new event chained after `prev_hash`, every string given a fresh salt.
    pub fn new(
        seq: u64,
        at: Instant,
        actor: String,
        action: String,
        target: String,
        details: Map<String, Value>,
        prev_hash: String,
    ) -> std::io::Result<Self> {
        let mut paths = Vec::new();
        for_each_string(&actor, &target, &details, &mut |p, _| {
            paths.push(p.to_owned());
        });
        let random = random_bytes(16 * paths.len())?;
        let salts = paths
            .into_iter()
            .zip(random.chunks_exact(16))
            .map(|(p, s)| (p, to_hex(s)))
            .collect();
        let mut ev = Event {
            seq,
            at,
            actor,
            action,
            target,
            details,
            salts,
            sealed: Paths::default(),
            prev_hash,
            hash: String::new(),
        };
        ev.hash = ev
            .compute_hash()
            .map_err(|b| std::io::Error::other(b.to_string()))?;
        Ok(ev)
    }

    /// The canonical serialisation (see the module docs).
    pub fn canonical(&self) -> Result<String, Broken> {
        let mut commits: BTreeMap<String, String> = BTreeMap::new();
        let mut bad: Option<String> = None;
        for_each_string(&self.actor, &self.target, &self.details, &mut |p, s| {
            let c = if let Some(c) = self.sealed.get(p) {
                (c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit())).then(|| c.to_owned())
            } else {
                self.salts
                    .get(p)
                    .and_then(salt_bytes)
                    .map(|salt| commit(&salt, p, s))
            };
            match c {
                Some(c) => {
                    commits.insert(p.to_owned(), format!("#{c}"));
                }
                None => {
                    bad.get_or_insert_with(|| p.to_owned());
                }
            }
        });
        if let Some(p) = bad {
            return Err(Broken::Commitment(p));
        }
        // Every salt and seal must belong to a string of the event: a stray one would be
        // data outside the hash.
        if let Some(p) = self
            .salts
            .keys()
            .chain(self.sealed.keys())
            .find(|p| !commits.contains_key(*p))
        {
            return Err(Broken::Commitment(p.to_owned()));
        }
        let take = |p: &str| Value::String(commits.get(p).cloned().unwrap_or_default());
        let mut details = Value::Object(self.details.clone());
        replace_strings(&mut details, "/details", &commits);
        let mut doc = Map::new();
        doc.insert("action".into(), Value::String(self.action.clone()));
        doc.insert("actor".into(), take("/actor"));
        doc.insert("at".into(), Value::String(self.at.to_iso()));
        doc.insert("details".into(), details);
        doc.insert("seq".into(), Value::from(self.seq));
        doc.insert("target".into(), take("/target"));
        Ok(Value::Object(doc).to_string())
    }

    /// The hash this event's fields and `prev_hash` give.
    pub fn compute_hash(&self) -> Result<String, Broken> {
        let canonical = self.canonical()?;
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(canonical.as_bytes());
        Ok(to_hex(&h.finalize()))
    }

    /// Checks the stored hash against the fields.
    pub fn check(&self) -> Result<(), Broken> {
        if self.compute_hash()? == self.hash {
            Ok(())
        } else {
            Err(Broken::Hash)
        }
    }

    /// The JSON text of the event (one line, no checksum): the export form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The journal record: the JSON text with a CRC-32 of it as its last field, and `\n`.
    pub fn to_line(&self) -> String {
        with_crc(self.to_json())
    }

    /// Replaces every committed string for which `f` returns a new value, sealing its
    /// commitment so the hash stays the same. Returns whether anything changed.
    pub fn redact(&mut self, f: &impl Fn(&str, &str) -> Option<String>) -> bool {
        let mut changes: Vec<(String, String)> = Vec::new();
        for_each_string(&self.actor, &self.target, &self.details, &mut |p, s| {
            if let Some(new) = f(p, s) {
                if new != s {
                    changes.push((p.to_owned(), new));
                }
            }
        });
        if changes.is_empty() {
            return false;
        }
        let Ok(_) = self.canonical() else {
            return false;
        };
        for (p, new) in changes {
            let old = self.string_at(&p).unwrap_or_default();
            let c = match self.sealed.get(&p) {
                Some(c) => c.to_owned(),
                None => match self.salts.get(&p).and_then(|s| hex::decode(s).ok()) {
                    Some(salt) => commit(&salt, &p, &old),
                    None => continue,
                },
            };
            self.salts.remove(&p);
            self.sealed.insert(&p, &c);
            self.set_string_at(&p, new);
        }
        true
    }

    fn string_at(&self, path: &str) -> Option<String> {
        match path {
            "/actor" => Some(self.actor.clone()),
            "/target" => Some(self.target.clone()),
            _ => {
                let rest = path.strip_prefix("/details")?;
                let v = Value::Object(self.details.clone());
                v.pointer(rest).and_then(Value::as_str).map(str::to_owned)
            }
        }
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

fn replace_strings(v: &mut Value, path: &str, commits: &BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(c) = commits.get(path) {
                c.clone_into(s);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                replace_strings(item, &format!("{path}/{i}"), commits);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                replace_strings(item, &format!("{path}/{}", escape_token(k)), commits);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Appends `,"crc":"xxxxxxxx"}` and a newline to a JSON object's text.
pub fn with_crc(mut json: String) -> String {
    let crc = crc32fast::hash(json.as_bytes());
    json.pop();
    let _ = writeln!(json, ",\"crc\":\"{crc:08x}\"}}");
    json
}

/// Why a record line is unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// No checksum, or one that does not match: torn or altered.
    Checksum,
    /// Checksum fine, content not a record of this format.
    Format(String),
}

/// Strips and checks the checksum of one record line (without its `\n`), returning the
/// JSON text it covers.
pub fn strip_crc(line: &str) -> Result<String, LineError> {
    let pos = line.rfind(",\"crc\":\"").ok_or(LineError::Checksum)?;
    let (body, tail) = line.split_at(pos);
    let hex_part = tail
        .strip_prefix(",\"crc\":\"")
        .and_then(|t| t.strip_suffix("\"}"))
        .ok_or(LineError::Checksum)?;
    let stored = u32::from_str_radix(hex_part, 16).map_err(|_| LineError::Checksum)?;
    let mut json = String::with_capacity(body.len() + 1);
    json.push_str(body);
    json.push('}');
    if hex_part.len() != 8 || crc32fast::hash(json.as_bytes()) != stored {
        return Err(LineError::Checksum);
    }
    Ok(json)
}

/// Reads an event from its JSON text (export form or a checksum-stripped record).
pub fn parse_event(json: &str) -> Result<Event, LineError> {
    serde_json::from_str(json).map_err(|e| LineError::Format(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Event {
        let mut d = Map::new();
        d.insert("user".into(), Value::from("alice@example.com"));
        d.insert("role".into(), Value::from("viewer"));
        d.insert(
            "reason".into(),
            Value::from("on-call for alice@example.com"),
        );
        Event::new(
            1,
            Instant(0),
            "jane@example.com".into(),
            "grant.added".into(),
            "acme/production".into(),
            d,
            genesis("g"),
        )
        .unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn a_new_event_verifies_and_any_field_change_breaks_it() {
        let e = ev();
        assert_eq!(e.check(), Ok(()));
        let mut t = e.clone();
        t.target = "acme/staging".into();
        assert_eq!(t.check(), Err(Broken::Hash));
        let mut t = e.clone();
        t.seq = 2;
        assert_eq!(t.check(), Err(Broken::Hash));
        let mut t = e.clone();
        t.details.insert("role".into(), Value::from("admin"));
        assert_eq!(t.check(), Err(Broken::Hash));
        let mut t = e;
        t.salts.insert("/details/extra", &"00".repeat(16));
        assert!(matches!(t.check(), Err(Broken::Commitment(_))));
    }

    #[test]
    fn redaction_keeps_the_hash() {
        let mut e = ev();
        let before = e.hash.clone();
        let changed = e.redact(&|_, s| {
            s.contains("alice@example.com")
                .then(|| s.replace("alice@example.com", "erased:1"))
        });
        assert!(changed);
        assert_eq!(e.user(), Some("erased:1"));
        assert!(!e.to_json().contains("alice"));
        assert_eq!(e.hash, before);
        assert_eq!(e.check(), Ok(()));
    }

    #[test]
    fn the_record_line_round_trips_and_detects_damage() {
        let e = ev();
        let line = e.to_line();
        let body = line.trim_end_matches('\n');
        let json = strip_crc(body).unwrap_or_default();
        assert_eq!(parse_event(&json), Ok(e));
        let damaged = body.replacen("viewer", "admin!", 1);
        assert_eq!(strip_crc(&damaged), Err(LineError::Checksum));
        let torn = body.get(..body.len() - 3).unwrap_or_default();
        assert_eq!(strip_crc(torn), Err(LineError::Checksum));
    }
}
