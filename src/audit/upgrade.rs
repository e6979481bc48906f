//! `accessgraph audit upgrade OLD NEW`: a format-1 journal (accessgraph before issue 14)
//! read and verified with format 1's rules, then written again as a new format-2 journal.
//!
//! Format 1 (`docs/journal-format.md`, "Upgrading", describes it): line 1 a header
//! `{accessgraph_journal: 1, graph_id, base_seq, anchor, base_state?, erasures}`, then one
//! event per line, each line with its CRC-32 as in format 2. Every string of an event
//! (`/actor`, `/target`, every string in `details`) is committed with a salt of its own
//! (`salts`) or, once erased, by its kept commitment (`sealed`):
//!
//! ```text
//! commit = hex(SHA-256("accessgraph/commit/v1" ‖ 0x00 ‖ salt ‖ path ‖ 0x00 ‖ value))
//! hash   = hex(SHA-256(prev_hash ‖ "\n" ‖ canonical))
//! ```
//!
//! With a key, `<journal>.checkpoint` is one JSON object `{graph_id, seq, hash, hmac}`,
//! `hmac = HMAC-SHA-256(key, "accessgraph/checkpoint/v1" ‖ 0x00 ‖ graph_id ‖ 0x00 ‖ seq ‖
//! 0x00 ‖ hash)`.
//!
//! The new journal is what the engine writes: the header line, then each event as a batch
//! of its own (as a rewrite writes them) with its MAC when there is a key, and the signed
//! checkpoint. It is written to a temporary file beside `NEW`, synced, and linked into
//! place only if `NEW` does not exist; `OLD` is only read.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::checkpoint::{mac_ok, Checkpoint, CheckpointFile};
use super::event::{genesis, is_hex, to_hex, Event};
use super::journal::{encode_batch, strip_crc, Header, LineError, FORMAT};
use super::{files, log, replay};
use crate::error::AuditError;
use crate::time::Instant;

/// What an upgrade wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgraded {
    /// Events carried over.
    pub events: u64,
    /// The `seq` of the last one (the base `seq` when there are none).
    pub last_seq: u64,
    /// The old journal's last hash (format 1): the new header's `upgraded_from`.
    pub upgraded_from: String,
    /// The new journal's last hash (format 2).
    pub last_hash: String,
    /// A torn final line of the old journal, left out: its line and length in bytes.
    pub torn: Option<(u64, usize)>,
}

/// Line 1 of a format-1 journal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header1 {
    #[serde(rename = "accessgraph_journal")]
    _format: u32,
    graph_id: String,
    base_seq: u64,
    anchor: String,
    #[serde(default)]
    base_state: Option<Value>,
    #[serde(default)]
    erasures: u64,
}

/// A format-1 event as stored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Event1 {
    seq: u64,
    at: Instant,
    actor: String,
    action: String,
    target: String,
    details: Map<String, Value>,
    #[serde(default)]
    salts: BTreeMap<String, String>,
    #[serde(default)]
    sealed: BTreeMap<String, String>,
    prev_hash: String,
    hash: String,
}

/// The signed checkpoint of format 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checkpoint1 {
    graph_id: String,
    seq: u64,
    hash: String,
    hmac: String,
}

fn journal_err(path: &Path, line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Journal {
        path: path.display().to_string(),
        line,
        reason: reason.into(),
    }
}

fn io_err(path: &Path, e: &std::io::Error) -> AuditError {
    AuditError::Io(format!("{}: {e}", path.display()))
}

fn escape_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Calls `f(path, string)` for every string format 1 committed: `/actor`, `/target` and
/// every string in `details`.
fn for_each_string(ev: &Event1, f: &mut impl FnMut(&str, &str)) {
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
    f("/actor", &ev.actor);
    f("/target", &ev.target);
    let mut path = String::from("/details");
    for (k, v) in &ev.details {
        let len = path.len();
        path.push('/');
        path.push_str(&escape_token(k));
        walk(&mut path, v, f);
        path.truncate(len);
    }
}

fn commit1(salt: &[u8], path: &str, value: &str) -> String {
    to_hex(
        &Sha256::new()
            .chain_update(b"accessgraph/commit/v1\0")
            .chain_update(salt)
            .chain_update(path.as_bytes())
            .chain_update([0u8])
            .chain_update(value.as_bytes())
            .finalize(),
    )
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

impl Event1 {
    /// The hash format 1 gives this event's fields, or why its commitments are bad.
    fn compute_hash(&self) -> Result<String, String> {
        let mut commits: BTreeMap<String, String> = BTreeMap::new();
        let mut bad: Option<String> = None;
        for_each_string(self, &mut |p, s| {
            let c = if let Some(c) = self.sealed.get(p) {
                (c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit())).then(|| c.clone())
            } else {
                self.salts.get(p).and_then(|h| {
                    let mut salt = [0_u8; 16];
                    hex::decode_to_slice(h, &mut salt)
                        .ok()
                        .map(|()| commit1(&salt, p, s))
                })
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
        let stray = self
            .salts
            .keys()
            .chain(self.sealed.keys())
            .find(|p| !commits.contains_key(*p))
            .cloned();
        if let Some(p) = bad.or(stray) {
            return Err(format!("the commitment of `{p}` is missing or malformed"));
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
        let canonical = Value::Object(doc).to_string();
        Ok(to_hex(
            &Sha256::new()
                .chain_update(self.prev_hash.as_bytes())
                .chain_update(b"\n")
                .chain_update(canonical.as_bytes())
                .finalize(),
        ))
    }

    /// The string at a JSON Pointer of the event.
    fn string_at(&self, path: &str) -> Option<&str> {
        match path {
            "/actor" => Some(&self.actor),
            "/target" => Some(&self.target),
            _ => {
                let rest = path.strip_prefix("/details/")?;
                let mut v: Option<&Value> = None;
                for token in rest.split('/') {
                    let key = token.replace("~1", "/").replace("~0", "~");
                    v = match v {
                        None => self.details.get(&key),
                        Some(Value::Object(m)) => m.get(&key),
                        Some(Value::Array(a)) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                        Some(_) => None,
                    };
                }
                v.and_then(Value::as_str)
            }
        }
    }
}

/// The pseudonyms (`erased:` and 16 hex digits) in a text.
fn pseudonyms_in(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("erased:") {
        let candidate = rest.get(i..i + 23).unwrap_or_default();
        if candidate.len() == 23 && is_hex(candidate.get(7..).unwrap_or_default(), 16) {
            if !out.contains(&candidate) {
                out.push(candidate);
            }
            rest = rest.get(i + 23..).unwrap_or_default();
        } else {
            rest = rest.get(i + 7..).unwrap_or_default();
        }
    }
    out
}

/// A format-1 journal, read and verified.
struct Journal1 {
    header: Header1,
    /// Each event with its line.
    events: Vec<(u64, Event1)>,
    torn: Option<(u64, usize)>,
}

/// The text of line `n` without its checksum.
fn line_text(path: &Path, n: u64, raw: &[u8]) -> Result<String, AuditError> {
    let t =
        std::str::from_utf8(raw).map_err(|_| journal_err(path, n, "the record is not UTF-8"))?;
    strip_crc(t).map_err(|e| match e {
        LineError::Checksum => journal_err(
            path,
            n,
            "the record's checksum does not match (altered or damaged)",
        ),
        LineError::Format(m) => journal_err(path, n, m),
    })
}

/// The header line's text, once it says it is format 1.
fn header_text(path: &Path, raw: &[u8]) -> Result<String, AuditError> {
    // A file that never was a journal says so, rather than "damaged".
    if !raw.windows(19).any(|w| w == b"accessgraph_journal") {
        return Err(journal_err(path, 1, "not an accessgraph journal header"));
    }
    let head = line_text(path, 1, raw)?;
    let version = serde_json::from_str::<Value>(&head)
        .ok()
        .and_then(|v| v.get("accessgraph_journal").and_then(Value::as_u64));
    match version {
        Some(1) => {}
        Some(v) if v == u64::from(FORMAT) => {
            return Err(journal_err(
                path,
                1,
                format!("`accessgraph_journal` is {v}: this journal is already format {FORMAT}, there is nothing to upgrade"),
            ))
        }
        Some(v) => {
            return Err(journal_err(
                path,
                1,
                format!("`accessgraph_journal` is {v}: only a format-1 journal can be upgraded"),
            ))
        }
        None => return Err(journal_err(path, 1, "not an accessgraph journal header")),
    }
    Ok(head)
}

/// Reads `path` as format 1 did (every line's checksum, the chain from the header's
/// anchor, each event's hash and commitments, and with `key` the signed checkpoint),
/// without changing it. A final line without its `\n` is a torn tail, left out.
fn read1(path: &Path, key: Option<&[u8]>) -> Result<Journal1, AuditError> {
    let mut file = std::fs::File::open(path).map_err(|e| io_err(path, &e))?;
    // Format 1's writers held an exclusive lock while appending.
    file.lock_shared().map_err(|e| io_err(path, &e))?;
    let mut bytes = Vec::new();
    let read = file.read_to_end(&mut bytes);
    let _ = file.unlock();
    read.map_err(|e| io_err(path, &e))?;
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // After the last `\n`: empty, or a torn tail.
    let tail = lines.pop().unwrap_or_default();
    let text = |n: u64, raw: &[u8]| line_text(path, n, raw);
    let Some(head) = lines.first() else {
        return Err(journal_err(
            path,
            1,
            "the header line is missing or incomplete: not a journal",
        ));
    };
    let head = header_text(path, head)?;
    let header: Header1 = serde_json::from_str(&head)
        .map_err(|e| journal_err(path, 1, format!("not a format-1 journal header: {e}")))?;
    let mut events = Vec::with_capacity(lines.len());
    let mut prev = header.anchor.clone();
    for (n, raw) in (2_u64..).zip(lines.iter().skip(1)) {
        let json = text(n, raw)?;
        let ev: Event1 = serde_json::from_str(&json)
            .map_err(|e| journal_err(path, n, format!("not a format-1 audit event: {e}")))?;
        let expect = header.base_seq + n - 1;
        if ev.seq != expect {
            return Err(journal_err(
                path,
                n,
                format!(
                    "expected event {expect}, found event {} (events missing, repeated or reordered)",
                    ev.seq
                ),
            ));
        }
        if ev.prev_hash != prev {
            return Err(journal_err(
                path,
                n,
                format!(
                    "event {} does not chain to the event before it (spliced or altered)",
                    ev.seq
                ),
            ));
        }
        match ev.compute_hash() {
            Ok(h) if h == ev.hash => {}
            Ok(_) => {
                return Err(journal_err(
                    path,
                    n,
                    format!("event {}: its hash does not match its fields", ev.seq),
                ))
            }
            Err(m) => return Err(journal_err(path, n, format!("event {}: {m}", ev.seq))),
        }
        prev.clone_from(&ev.hash);
        events.push((n, ev));
    }
    let journal = Journal1 {
        torn: (!tail.is_empty()).then(|| (lines.len() as u64 + 1, tail.len())),
        header,
        events,
    };
    if let Some(key) = key {
        check_checkpoint1(path, key, &journal)?;
    }
    Ok(journal)
}

/// Format 1's checkpoint check: it must verify with `key`, name this graph, and the
/// journal must reach its `seq` with its hash there.
fn check_checkpoint1(path: &Path, key: &[u8], j: &Journal1) -> Result<(), AuditError> {
    let cp_path = files::sidecar(path, ".checkpoint");
    let last = j
        .events
        .last()
        .map_or((j.header.base_seq, j.header.anchor.as_str()), |(_, e)| {
            (e.seq, e.hash.as_str())
        });
    let text = match std::fs::read_to_string(&cp_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if last.0 == j.header.base_seq {
                return Ok(());
            }
            return Err(journal_err(
                path,
                1,
                format!("signed checkpoint {} is missing", cp_path.display()),
            ));
        }
        Err(e) => return Err(io_err(&cp_path, &e)),
    };
    let cp: Checkpoint1 = serde_json::from_str(&text).map_err(|e| {
        journal_err(
            path,
            1,
            format!("the format-1 signed checkpoint is unreadable: {e}"),
        )
    })?;
    if !mac_ok(
        key,
        "accessgraph/checkpoint/v1",
        &[&cp.graph_id, &cp.seq.to_string(), &cp.hash],
        &cp.hmac,
    ) {
        return Err(journal_err(
            path,
            1,
            "the signed checkpoint does not verify with this key (wrong key or forged)",
        ));
    }
    if cp.graph_id != j.header.graph_id {
        return Err(journal_err(
            path,
            1,
            "the signed checkpoint belongs to another graph",
        ));
    }
    let end_line = j.events.last().map_or(1, |(n, _)| *n);
    if cp.seq > last.0 {
        return Err(journal_err(
            path,
            end_line + 1,
            format!(
                "the journal ends at event {} but its signed checkpoint records event {}: events were cut off",
                last.0, cp.seq
            ),
        ));
    }
    let at = j.events.iter().find(|(_, e)| e.seq == cp.seq);
    let found = if cp.seq == last.0 {
        Some(last.1)
    } else {
        at.map(|(_, e)| e.hash.as_str())
    };
    if found == Some(cp.hash.as_str()) {
        Ok(())
    } else {
        Err(journal_err(
            path,
            at.map_or(1, |(n, _)| *n),
            format!(
                "event {} differs from the signed checkpoint: the chain was rewritten",
                cp.seq
            ),
        ))
    }
}

/// Each erased field of the old journal: (line, seq, path) → its pseudonym, checked
/// against the seal rule: it holds one pseudonym, which a `user.erased` event at or
/// after it names.
type Seals = BTreeMap<(u64, u64, String), String>;

fn seals_of(path: &Path, j: &Journal1) -> Result<Seals, AuditError> {
    let mut erasures: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, e) in &j.events {
        if e.action == "user.erased" {
            if let Some(p) = e.details.get("pseudonym").and_then(Value::as_str) {
                erasures.insert(p, e.seq);
            }
        }
    }
    let mut seals = Seals::new();
    for (n, e) in &j.events {
        for field in e.sealed.keys() {
            let value = e.string_at(field).unwrap_or_default();
            let found = pseudonyms_in(value);
            let [p] = found.as_slice() else {
                return Err(journal_err(
                    path,
                    *n,
                    format!(
                        "event {}: the erased field `{field}` holds {} pseudonyms (`erased:` and 16 hex digits), not one",
                        e.seq,
                        found.len()
                    ),
                ));
            };
            if erasures.get(p).is_none_or(|at| *at < e.seq) {
                return Err(journal_err(
                    path,
                    *n,
                    format!(
                        "event {}: the erased field `{field}` holds `{p}`, which no `user.erased` event at or after it names: its value was replaced",
                        e.seq
                    ),
                ));
            }
            seals.insert((*n, e.seq, field.clone()), (*p).to_owned());
        }
    }
    Ok(seals)
}

/// The format-2 events of the old journal: the same `seq`, `at`, actor, action, target
/// and details, new seeds, commitments and hashes; erased fields sealed again with their
/// pseudonym, and each `user.erased` event listing what it sealed.
fn convert(
    path: &Path,
    j: &Journal1,
    seals: &Seals,
    anchor: &str,
) -> Result<Vec<Event>, AuditError> {
    let mut out = Vec::with_capacity(j.events.len());
    let mut prev = anchor.to_owned();
    for (n, e) in &j.events {
        let mut details = e.details.clone();
        if e.action == "user.erased" {
            let pseudonym = details.get("pseudonym").and_then(Value::as_str);
            let listed: Vec<Value> = seals
                .iter()
                .filter(|(_, p)| Some(p.as_str()) == pseudonym)
                .map(|((_, seq, field), _)| {
                    Value::from(vec![Value::from(*seq), Value::from(field.as_str())])
                })
                .collect();
            details.insert("sealed".into(), Value::Array(listed));
        }
        let mut ev = Event::new(
            e.seq,
            e.at,
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            details,
            prev.clone(),
        )
        .map_err(|err| journal_err(path, *n, format!("event {}: {err}", e.seq)))?;
        for ((_, _, field), p) in seals.range((*n, 0, String::new())..(*n + 1, 0, String::new())) {
            if !ev.seal(field, p) {
                return Err(journal_err(
                    path,
                    *n,
                    format!(
                        "event {}: the erased field `{field}` is not personal in format 2, which cannot seal it (docs/journal-format.md, Personal fields)",
                        e.seq
                    ),
                ));
            }
        }
        prev.clone_from(&ev.hash);
        out.push(ev);
    }
    Ok(out)
}

/// Upgrades the format-1 journal at `old` into a new format-2 journal at `new` (which
/// must not exist), signed with `key` when given; `old` is verified with the same key.
pub fn upgrade(old: &Path, new: &Path, key: Option<&[u8]>) -> Result<Upgraded, AuditError> {
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if exists(new) {
        return Err(AuditError::Io(format!(
            "{}: already exists; the upgrade writes a new journal and never replaces a file",
            new.display()
        )));
    }
    let j = read1(old, key)?;
    let seals = seals_of(old, &j)?;
    let h = &j.header;
    // A journal that retention cut keeps its anchor (format 2 binds only an uncut chain
    // to its graph's genesis).
    let anchor = if h.base_seq == 0 {
        genesis(&h.graph_id)
    } else {
        h.anchor.clone()
    };
    let events = convert(old, &j, &seals, &anchor)?;
    // What opening the new journal will check: the chain, the seal rule, the replay.
    log::verify_chain(&anchor, h.base_seq, &events)?;
    log::check_seals(h.base_seq, &events)?;
    let mut state = match &h.base_state {
        Some(v) => crate::state::snapshot::read(&v.to_string())
            .map_err(|e| journal_err(old, 1, format!("the base state does not read: {e}")))?,
        None => crate::state::State::default(),
    };
    for ((n, _), ev) in j.events.iter().zip(&events) {
        replay::apply(&mut state, ev).map_err(|m| journal_err(old, *n, m))?;
    }
    let upgraded_from = j
        .events
        .last()
        .map_or_else(|| h.anchor.clone(), |(_, e)| e.hash.clone());
    let header = Header {
        accessgraph_journal: FORMAT,
        graph_id: h.graph_id.clone(),
        base_seq: h.base_seq,
        anchor,
        base_state: h.base_state.clone(),
        erasures: h.erasures,
        upgraded_from: Some(upgraded_from.clone()),
    };
    let head = header.to_line();
    let mut text = head.clone();
    for e in &events {
        text.push_str(&encode_batch(std::slice::from_ref(e), key, &h.graph_id));
    }
    let last = events
        .last()
        .map_or((h.base_seq, header.anchor.clone()), |e| {
            (e.seq, e.hash.clone())
        });
    write_new(
        new,
        text.as_bytes(),
        key,
        Checkpoint {
            accessgraph_checkpoint: 2,
            graph_id: h.graph_id.clone(),
            seq: last.0,
            hash: last.1.clone(),
            header: Header::digest(&head),
            trusted_from: h.base_seq,
            mac: String::new(),
        },
    )?;
    Ok(Upgraded {
        events: events.len() as u64,
        last_seq: last.0,
        upgraded_from,
        last_hash: last.1,
        torn: j.torn,
    })
}

/// Writes `contents` to a new file at `new`: a private temporary file beside it, synced,
/// then (with a key, after the signed checkpoint) linked into place only if nothing is
/// there, and the directory synced. Anything that fails leaves neither file behind.
fn write_new(
    new: &Path,
    contents: &[u8],
    key: Option<&[u8]>,
    cp: Checkpoint,
) -> Result<(), AuditError> {
    let cp_path = super::checkpoint::path_of(new);
    let mut checkpoint = match key {
        Some(k) => {
            let (f, slots) = CheckpointFile::read(new, k).map_err(|e| io_err(&cp_path, &e))?;
            if slots.exists {
                return Err(AuditError::Io(format!(
                    "{}: already exists; remove it or choose another NEW",
                    cp_path.display()
                )));
            }
            Some(f)
        }
        None => None,
    };
    let (tmp, mut f) = files::temp_beside(new).map_err(|e| io_err(new, &e))?;
    let mut wrote_cp = false;
    let mut done = f.write_all(contents).and_then(|()| f.sync_all());
    drop(f);
    if done.is_ok() {
        if let Some(c) = &mut checkpoint {
            done = c.write(cp);
            wrote_cp = done.is_ok();
        }
    }
    // A link, not a rename: it fails when `new` appeared meanwhile, instead of replacing it.
    let linked = done.and_then(|()| std::fs::hard_link(&tmp, new));
    let _ = std::fs::remove_file(&tmp);
    if let Err(e) = linked {
        if wrote_cp {
            let _ = files::remove(&cp_path);
        }
        return Err(io_err(new, &e));
    }
    files::sync_dir(new).map_err(|e| io_err(new, &e))
}
