//! An event's canonical form and hash (format 2, `docs/journal-format.md`), written in
//! one pass: each personal string's commitment is computed where the string is written,
//! into a buffer reused from one event to the next, without building the committed
//! details as a value first. Every event made, read from a journal or loaded from an
//! export is hashed here, so this is the hot path of a mutation and of opening a journal.

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::digest::{
    chain_hash, commit_bytes, decode_lower_hex, derive_salt, is_personal_key, push_commitment,
    push_index, push_iso, push_json_str, push_token,
};
use super::event::{to_hex, Broken, Event, Fields, Paths, Stored};
use super::personal::{is_builtin, target_is_personal};
use crate::ids::is_pseudonym;

/// Where an event's salts come from: its seed, or (after an erasure) its own salts and
/// seals, each of which must be used exactly once.
enum Keys<'a> {
    Seed([u8; 16]),
    Explicit {
        salts: &'a Paths,
        sealed: &'a Paths,
        used: Vec<bool>,
    },
}

impl<'a> Keys<'a> {
    fn of(ev: &Fields<'a>) -> Result<Self, Broken> {
        if let Some(hex_seed) = ev.seed {
            let Some(seed) = decode_lower_hex::<16>(hex_seed) else {
                return Err(Broken::Commitment("/seed".into()));
            };
            if let Some(p) = ev.salts.keys().chain(ev.sealed.keys()).next() {
                return Err(if super::personal::is_personal(ev.action, p) {
                    Broken::Commitment(p.to_owned())
                } else {
                    Broken::NotPersonal(p.to_owned())
                });
            }
            return Ok(Keys::Seed(seed));
        }
        Ok(Keys::Explicit {
            salts: ev.salts,
            sealed: ev.sealed,
            used: vec![false; ev.salts.len() + ev.sealed.len()],
        })
    }

    /// The commitment of the personal string at `path` holding `value`.
    fn commit(&mut self, path: &str, value: &str) -> Result<[u8; 32], Broken> {
        match self {
            Keys::Seed(seed) => Ok(commit_bytes(&derive_salt(seed, path), path, value)),
            Keys::Explicit {
                salts,
                sealed,
                used,
            } => {
                let seal = sealed.position(path);
                let salt = salts.position(path);
                let c = match (seal, salt) {
                    (Some(i), None) => {
                        if !is_pseudonym(value) {
                            return Err(Broken::SealedValue(path.to_owned()));
                        }
                        mark(used, salts.len() + i);
                        decode_lower_hex::<32>(sealed.value_at(i).unwrap_or_default())
                    }
                    (None, Some(i)) => {
                        mark(used, i);
                        decode_lower_hex::<16>(salts.value_at(i).unwrap_or_default())
                            .map(|salt| commit_bytes(&salt, path, value))
                    }
                    _ => None,
                };
                c.ok_or_else(|| Broken::Commitment(path.to_owned()))
            }
        }
    }

    /// A salt or seal that no personal field used: data the schema does not commit.
    fn unused(&self) -> Option<String> {
        let Keys::Explicit {
            salts,
            sealed,
            used,
        } = self
        else {
            return None;
        };
        let i = used.iter().position(|u| !u)?;
        salts.keys().chain(sealed.keys()).nth(i).map(str::to_owned)
    }
}

fn mark(used: &mut [bool], i: usize) {
    if let Some(u) = used.get_mut(i) {
        *u = true;
    }
}

/// Writes the canonical form of `ev` (see `event.rs`) into `out`.
pub fn write(ev: &Fields<'_>, out: &mut Vec<u8>) -> Result<(), Broken> {
    write_with(ev, out, &mut String::with_capacity(64))
}

/// [`write`], with `path` as the JSON Pointer's scratch buffer (its text is replaced).
fn write_with(ev: &Fields<'_>, out: &mut Vec<u8>, path: &mut String) -> Result<(), Broken> {
    let mut keys = Keys::of(ev)?;
    // The order in which commitments are checked (and so which fault is named first):
    // actor, target, then the details depth first.
    let actor = keys.commit("/actor", ev.actor)?;
    let target = if target_is_personal(ev.action) {
        Some(keys.commit("/target", ev.target)?)
    } else {
        None
    };
    let builtin = is_builtin(ev.action);
    out.extend_from_slice(b"{\"action\":");
    push_json_str(out, ev.action);
    out.extend_from_slice(b",\"actor\":");
    push_commitment(out, &actor);
    out.extend_from_slice(b",\"at\":");
    push_iso(out, ev.at);
    out.extend_from_slice(b",\"details\":");
    path.clear();
    path.push_str("/details");
    let mut walk = Walk {
        keys: &mut keys,
        path,
        out,
        builtin,
    };
    walk.object(ev.details, !builtin)?;
    out.extend_from_slice(b",\"seq\":");
    push_u64(out, ev.seq);
    out.extend_from_slice(b",\"target\":");
    match &target {
        Some(c) => push_commitment(out, c),
        None => push_json_str(out, ev.target),
    }
    out.push(b'}');
    match keys.unused() {
        Some(p) => Err(Broken::NotPersonal(p)),
        None => Ok(()),
    }
}

/// Writes `n` in decimal.
fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + u8::try_from(n % 10).unwrap_or(0);
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// The details written depth first, each personal string as its commitment.
struct Walk<'k, 'a, 'o> {
    keys: &'k mut Keys<'a>,
    path: &'k mut String,
    out: &'o mut Vec<u8>,
    builtin: bool,
}

impl Walk<'_, '_, '_> {
    fn object(&mut self, map: &Map<String, Value>, personal: bool) -> Result<(), Broken> {
        self.out.push(b'{');
        for (n, (k, v)) in map.iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            push_json_str(self.out, k);
            self.out.push(b':');
            let len = self.path.len();
            push_token(self.path, k);
            let inner = personal || (self.builtin && is_personal_key(k));
            self.value(v, inner)?;
            self.path.truncate(len);
        }
        self.out.push(b'}');
        Ok(())
    }

    fn value(&mut self, v: &Value, personal: bool) -> Result<(), Broken> {
        match v {
            Value::String(s) if personal => {
                let c = self.keys.commit(self.path, s)?;
                push_commitment(self.out, &c);
            }
            Value::String(s) => push_json_str(self.out, s),
            Value::Array(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    let len = self.path.len();
                    push_index(self.path, i as u64);
                    self.value(item, personal)?;
                    self.path.truncate(len);
                }
                self.out.push(b']');
            }
            Value::Object(map) => self.object(map, personal)?,
            Value::Null | Value::Bool(_) | Value::Number(_) => {
                let _ = serde_json::to_writer(&mut *self.out, v);
            }
        }
        Ok(())
    }
}

impl Event {
    /// The canonical serialisation (see `event.rs`).
    pub fn canonical(&self) -> Result<Vec<u8>, Broken> {
        let mut out = Vec::with_capacity(256);
        write(&self.fields(), &mut out)?;
        Ok(out)
    }

    /// The hash this event's fields and `prev_hash` give.
    pub fn compute_hash(&self) -> Result<String, Broken> {
        Ok(to_hex(&hash(&self.fields(), self.prev_hash.as_bytes())?))
    }
}

impl Stored {
    /// The hash of the event chained after `prev_hash` (hex), or why it does not verify
    /// (the message [`Event::from_stored`] fails with).
    pub fn hash(&self, prev_hash: &str) -> Result<[u8; 32], String> {
        hash(&self.fields(), prev_hash.as_bytes()).map_err(|b| format!("event {}: {b}", self.seq()))
    }
}

thread_local! {
    /// The canonical form's buffer and the JSON Pointer's, reused from one event to the
    /// next.
    static BUFFER: RefCell<(Vec<u8>, String)> = const { RefCell::new((Vec::new(), String::new())) };
}

/// The hash `ev`'s fields give chained after `prev_hash` (hex).
pub fn hash(ev: &Fields<'_>, prev_hash: &[u8]) -> Result<[u8; 32], Broken> {
    BUFFER.with(|buf| {
        // A re-entrant call (none today) would find the buffers taken: use fresh ones.
        let mut fresh = (Vec::new(), String::new());
        let mut guard = buf.try_borrow_mut();
        let (out, path) = match &mut guard {
            Ok(b) => &mut **b,
            Err(_) => &mut fresh,
        };
        out.clear();
        write_with(ev, out, path)?;
        Ok(chain_hash(prev_hash, out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::genesis;
    use crate::time::Instant;

    /// The canonical form as format 2 defines it, built the slow, obvious way: the
    /// commitments first, then the details with each committed string replaced.
    fn reference(ev: &Event) -> Result<Vec<u8>, Broken> {
        let commits = ev.commitments()?;
        let take = |p: &str| {
            commits
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, c)| format!("#{c}"))
        };
        let mut details = Value::Object(ev.details.clone());
        for (path, c) in &commits {
            if let Some(rest) = path.strip_prefix("/details") {
                if let Some(slot) = details.pointer_mut(rest) {
                    *slot = Value::String(format!("#{c}"));
                }
            }
        }
        let doc = serde_json::json!({
            "action": ev.action,
            "actor": take("/actor").unwrap_or_else(|| ev.actor.clone()),
            "at": ev.at.to_iso(),
            "details": details,
            "seq": ev.seq,
            "target": take("/target").unwrap_or_else(|| ev.target.clone()),
        });
        Ok(serde_json::to_vec(&doc).unwrap_or_default())
    }

    fn event(action: &str, target: &str, details: Value) -> Event {
        let Value::Object(d) = details else {
            unreachable!("details are an object")
        };
        Event::new(
            7,
            Instant(1_714_521_600_123_456),
            "a@x.io".into(),
            action.into(),
            target.into(),
            d,
            genesis("g"),
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn the_one_pass_form_is_the_reference_form() {
        let events = [
            event(
                "grant.added",
                "acme/p",
                serde_json::json!({"user": "u@x.io", "role": "viewer", "expires": null, "reason": "on \"call\"\n"}),
            ),
            event(
                "grant.changed",
                "acme/p",
                serde_json::json!({"user": "u@x.io", "before": {"role": "viewer", "reason": "x"}, "after": {"role": "admin", "name": ["Ann", "B"]}}),
            ),
            event(
                "user.offboarded",
                "u@x.io",
                serde_json::json!({"user": "u@x.io", "reason": null}),
            ),
            event(
                "data.exported",
                "report/7",
                serde_json::json!({"rows": -3, "big": u64::MAX, "f": 1.5e-7, "tags": ["a", {"k~/": "v", "n": [true, null]}], "é": "ü"}),
            ),
        ];
        for mut ev in events {
            assert_eq!(ev.canonical(), reference(&ev), "{}", ev.action);
            let hash = ev.hash.clone();
            assert_eq!(ev.compute_hash().as_deref(), Ok(hash.as_str()));
            // After an erasure: explicit salts and a seal.
            let path = if ev.action == "data.exported" {
                "/details/tags/1/k~0~1"
            } else {
                "/actor"
            };
            assert!(ev.seal(path, "erased:0123456789abcdef"), "{path}");
            assert_eq!(ev.canonical(), reference(&ev), "{} sealed", ev.action);
            assert_eq!(ev.compute_hash().as_deref(), Ok(hash.as_str()));
        }
    }

    #[test]
    fn seqs_are_written_in_decimal() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = b"x".to_vec();
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}").as_bytes());
        }
    }

    type Edit = Box<dyn Fn(&mut Event)>;

    #[test]
    fn faults_are_named_as_the_reference_names_them() {
        let mut ev = event(
            "grant.added",
            "acme/p",
            serde_json::json!({"user": "u@x.io", "role": "viewer"}),
        );
        assert!(ev.seal("/details/user", "erased:0123456789abcdef"));
        let cases: Vec<Edit> = vec![
            Box::new(|e| e.sealed.insert("/details/role", &"0".repeat(64))),
            Box::new(|e| e.salts.remove("/actor")),
            Box::new(|e| e.salts.insert("/actor", "zz")),
            Box::new(|e| e.sealed.insert("/details/user", "short")),
            Box::new(|e| {
                e.details.insert("user".into(), Value::from("mallory@x.io"));
            }),
            Box::new(|e| e.seed = Some("0".repeat(32))),
            Box::new(|e| e.salts.insert("/target", &"0".repeat(32))),
        ];
        for (i, edit) in cases.iter().enumerate() {
            let mut bad = ev.clone();
            edit(&mut bad);
            assert_eq!(bad.canonical(), reference(&bad), "case {i}");
            assert!(bad.canonical().is_err(), "case {i}");
        }
    }
}
