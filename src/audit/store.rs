//! The events of a log held in memory, compactly: a year of history in every worker.
//!
//! An event is a fixed row — its instant, its hash as bytes, ids of its actor, action
//! and target, an offset into a byte arena — plus, in the arena, its details as a small
//! tagged tree whose strings are ids, and its seed (or, after an erasure, its salts and
//! seals). Every string (emails, targets, detail keys and values, paths) is stored once,
//! in an interner. `seq` and `prev_hash` are not stored: the row's index and the row
//! before it give them. An [`Event`] is rebuilt only when one is asked for.
//!
//! `verify` recomputes every hash from the rows without rebuilding events (see
//! [`EventStore::verify`]).

use hashbrown::HashTable;
use serde_json::{Map, Number, Value};

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::digest::{
    chain_hash, commit_bytes, derive_salt, is_personal_key, push_commitment, push_hex, push_index,
    push_iso, push_token,
};
use super::event::{to_hex, Broken, Event, Paths};
use super::personal::{is_builtin, target_is_personal};
use crate::progress::{Meter, Stop};
use crate::time::Instant;

/// Below this many events per thread, `verify` does not start threads.
const PARALLEL_FROM: usize = 20_000;

/// A verifying thread adds to its [`Tally`] once per this many rows.
const COUNTED: u64 = 1024;

/// How often the thread that reports progress looks at the [`Tally`].
const POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// The rows the verifying threads have checked, and whether to give up.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    halt: AtomicBool,
}

/// Strings stored once: an arena, each string's span in it, and a table of ids.
#[derive(Clone, Default)]
pub(super) struct Interner {
    arena: String,
    spans: Vec<(u64, u32)>,
    table: HashTable<u32>,
    state: foldhash::fast::RandomState,
}

impl Interner {
    fn hash(&self, s: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.state, s)
    }

    pub(super) fn get(&self, id: u32) -> &str {
        self.spans
            .get(id as usize)
            .and_then(|&(at, len)| {
                let at = usize::try_from(at).ok()?;
                self.arena.get(at..at + len as usize)
            })
            .unwrap_or_default()
    }

    pub(super) fn find(&self, s: &str) -> Option<u32> {
        let h = self.hash(s);
        self.table.find(h, |&id| self.get(id) == s).copied()
    }

    fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.find(s) {
            return id;
        }
        let id = u32::try_from(self.spans.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.spans.push((self.arena.len() as u64, len));
        self.arena.push_str(s);
        let h = self.hash(s);
        let Interner {
            table,
            arena,
            spans,
            state,
        } = self;
        let get = |id: &u32| -> u64 {
            let text = spans
                .get(*id as usize)
                .and_then(|&(at, len)| {
                    let at = usize::try_from(at).ok()?;
                    arena.get(at..at + len as usize)
                })
                .unwrap_or_default();
            std::hash::BuildHasher::hash_one(&*state, text)
        };
        table.insert_unique(h, id, get);
        id
    }
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("strings", &self.spans.len())
            .field("bytes", &self.arena.len())
            .finish_non_exhaustive()
    }
}

/// One event's fixed part.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) at: i64,
    /// Where its details and commitments start in `data`.
    pub(super) data: u64,
    pub(super) hash: [u8; 32],
    pub(super) actor: u32,
    pub(super) action: u32,
    pub(super) target: u32,
}

// Tags of the details tree.
pub(super) const NULL: u8 = 0;
pub(super) const FALSE: u8 = 1;
pub(super) const TRUE: u8 = 2;
pub(super) const INT: u8 = 3;
pub(super) const UINT: u8 = 4;
pub(super) const FLOAT: u8 = 5;
pub(super) const STR: u8 = 6;
pub(super) const ARRAY: u8 = 7;
pub(super) const OBJECT: u8 = 8;
// Tags of the commitments.
const SEED: u8 = 0;
const EXPLICIT: u8 = 1;

/// A log's events, in `seq` order (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct EventStore {
    pub(super) strings: Interner,
    pub(super) rows: Vec<Row>,
    pub(super) data: Vec<u8>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v.to_le_bytes()[0] | 0x80);
        v >>= 7;
    }
    out.push(v.to_le_bytes()[0]);
}

/// Reads the bytes of one event's part of the arena.
pub(super) struct Cursor<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl Cursor<'_> {
    pub(super) fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(NULL);
        self.at += 1;
        b
    }

    pub(super) fn varint(&mut self) -> u64 {
        let mut v = 0_u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 || shift > 56 {
                return v;
            }
            shift += 7;
        }
    }

    pub(super) fn id(&mut self) -> u32 {
        u32::try_from(self.varint()).unwrap_or(u32::MAX)
    }

    pub(super) fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0_u8; N];
        if let Some(b) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(b);
        }
        self.at += N;
        out
    }
}

fn hex_array<const N: usize>(hex_text: &str) -> [u8; N] {
    let mut out = [0_u8; N];
    let _ = hex::decode_to_slice(hex_text, &mut out);
    out
}

impl EventStore {
    /// How many events.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Makes room for `n` more events.
    pub fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
    }

    /// Keeps the first `len` events only.
    pub fn truncate(&mut self, len: usize) {
        if let Some(row) = self.rows.get(len) {
            self.data
                .truncate(usize::try_from(row.data).unwrap_or(usize::MAX));
            self.rows.truncate(len);
        }
    }

    /// Gives back the room reserved and not used.
    pub fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        self.data.shrink_to_fit();
        self.strings.arena.shrink_to_fit();
        self.strings.spans.shrink_to_fit();
    }

    /// Bytes held (rows, arena, strings), for the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.data.capacity()
            + self.strings.arena.capacity()
            + self.strings.spans.capacity() * 16
            + self.strings.table.capacity() * 5
    }

    fn put_value(&mut self, v: &Value) {
        match v {
            Value::Null => self.data.push(NULL),
            Value::Bool(false) => self.data.push(FALSE),
            Value::Bool(true) => self.data.push(TRUE),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.data.push(INT);
                    // zig-zag, so small negative numbers stay small
                    put_varint(&mut self.data, ((i << 1) ^ (i >> 63)).cast_unsigned());
                } else if let Some(u) = n.as_u64() {
                    self.data.push(UINT);
                    put_varint(&mut self.data, u);
                } else {
                    self.data.push(FLOAT);
                    let f = n.as_f64().unwrap_or(0.0);
                    self.data.extend_from_slice(&f.to_bits().to_le_bytes());
                }
            }
            Value::String(s) => {
                self.data.push(STR);
                let id = self.strings.id(s);
                put_varint(&mut self.data, u64::from(id));
            }
            Value::Array(items) => {
                self.data.push(ARRAY);
                put_varint(&mut self.data, items.len() as u64);
                for item in items {
                    self.put_value(item);
                }
            }
            Value::Object(map) => {
                self.data.push(OBJECT);
                self.put_object(map);
            }
        }
    }

    fn put_object(&mut self, map: &Map<String, Value>) {
        put_varint(&mut self.data, map.len() as u64);
        for (k, item) in map {
            let id = self.strings.id(k);
            put_varint(&mut self.data, u64::from(id));
            self.put_value(item);
        }
    }

    /// Appends an event (already chained after the last one: its `seq` and `prev_hash`
    /// are not stored).
    pub fn push(&mut self, e: &Event) {
        let data = self.data.len() as u64;
        let row = Row {
            at: e.at.0,
            data,
            hash: hex_array(&e.hash),
            actor: self.strings.id(&e.actor),
            action: self.strings.id(&e.action),
            target: self.strings.id(&e.target),
        };
        self.put_object(&e.details);
        if let Some(seed) = &e.seed {
            self.data.push(SEED);
            self.data.extend_from_slice(&hex_array::<16>(seed));
        } else {
            {
                self.data.push(EXPLICIT);
                put_varint(&mut self.data, e.salts.len() as u64);
                for (p, salt) in e.salts.iter() {
                    let id = self.strings.id(p);
                    put_varint(&mut self.data, u64::from(id));
                    self.data.extend_from_slice(&hex_array::<16>(salt));
                }
                put_varint(&mut self.data, e.sealed.len() as u64);
                for (p, c) in e.sealed.iter() {
                    let id = self.strings.id(p);
                    put_varint(&mut self.data, u64::from(id));
                    self.data.extend_from_slice(&hex_array::<32>(c));
                }
            }
        }
        self.rows.push(row);
    }

    pub(super) fn cursor(&self, row: &Row) -> Cursor<'_> {
        Cursor {
            bytes: &self.data,
            at: usize::try_from(row.data).unwrap_or(usize::MAX),
        }
    }

    fn value(&self, c: &mut Cursor<'_>) -> Value {
        match c.byte() {
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => {
                let z = c.varint();
                Value::from((z >> 1).cast_signed() ^ -((z & 1).cast_signed()))
            }
            UINT => Value::from(c.varint()),
            FLOAT => Number::from_f64(f64::from_bits(u64::from_le_bytes(c.take::<8>())))
                .map_or(Value::Null, Value::Number),
            STR => Value::String(self.strings.get(c.id()).to_owned()),
            ARRAY => {
                let n = c.varint();
                Value::Array((0..n).map(|_| self.value(c)).collect())
            }
            OBJECT => Value::Object(self.object(c)),
            _ => Value::Null,
        }
    }

    fn object(&self, c: &mut Cursor<'_>) -> Map<String, Value> {
        let n = c.varint();
        let mut map = Map::new();
        for _ in 0..n {
            let k = self.strings.get(c.id()).to_owned();
            let v = self.value(c);
            map.insert(k, v);
        }
        map
    }

    /// Event `i` (0-based), numbered after `base_seq` and chained after `anchor`.
    pub fn get(&self, i: usize, base_seq: u64, anchor: &str) -> Option<Event> {
        let row = self.rows.get(i)?;
        let prev_hash = match i.checked_sub(1).and_then(|j| self.rows.get(j)) {
            Some(before) => to_hex(&before.hash),
            None => anchor.to_owned(),
        };
        let mut c = self.cursor(row);
        let details = self.object(&mut c);
        let (mut seed, mut salts, mut sealed) = (None, Paths::default(), Paths::default());
        if c.byte() == SEED {
            seed = Some(to_hex(&c.take::<16>()));
        } else {
            {
                let n = c.varint();
                let mut list = Vec::new();
                for _ in 0..n {
                    let p = self.strings.get(c.id()).to_owned();
                    list.push((p, to_hex(&c.take::<16>())));
                }
                salts = list.into_iter().collect();
                let n = c.varint();
                let mut list = Vec::new();
                for _ in 0..n {
                    let p = self.strings.get(c.id()).to_owned();
                    list.push((p, to_hex(&c.take::<32>())));
                }
                sealed = list.into_iter().collect();
            }
        }
        Some(Event {
            seq: base_seq + 1 + i as u64,
            at: Instant(row.at),
            actor: self.strings.get(row.actor).to_owned(),
            action: self.strings.get(row.action).to_owned(),
            target: self.strings.get(row.target).to_owned(),
            details,
            seed,
            salts,
            sealed,
            prev_hash,
            hash: to_hex(&row.hash),
        })
    }

    /// Every event, in order.
    pub fn iter<'a>(&'a self, base_seq: u64, anchor: &'a str) -> impl Iterator<Item = Event> + 'a {
        (0..self.rows.len()).filter_map(move |i| self.get(i, base_seq, anchor))
    }

    /// The last event's hash.
    pub fn last_hash(&self) -> Option<String> {
        self.rows.last().map(|r| to_hex(&r.hash))
    }

    /// Event `i`'s instant, actor, action and target, without rebuilding it.
    pub fn head(&self, i: usize) -> Option<(Instant, &str, &str, &str)> {
        let r = self.rows.get(i)?;
        Some((
            Instant(r.at),
            self.strings.get(r.actor),
            self.strings.get(r.action),
            self.strings.get(r.target),
        ))
    }

    /// True when event `i` has a sealed field (an erasure sealed it).
    pub fn has_seals(&self, i: usize) -> bool {
        let Some(row) = self.rows.get(i) else {
            return false;
        };
        let mut c = self.cursor(row);
        Self::skip_object(&mut c);
        if c.byte() == SEED {
            return false;
        }
        for _ in 0..c.varint() {
            c.varint();
            c.at += 16;
        }
        c.varint() > 0
    }

    /// Event `i`'s `details["user"]`, without rebuilding it.
    pub fn user(&self, i: usize) -> Option<&str> {
        let row = self.rows.get(i)?;
        let user = self.strings.find("user")?;
        let mut c = self.cursor(row);
        let n = c.varint();
        for _ in 0..n {
            let k = c.id();
            if k == user {
                return match c.byte() {
                    STR => Some(self.strings.get(c.id())),
                    _ => None,
                };
            }
            Self::skip(&mut c);
        }
        None
    }

    fn skip(c: &mut Cursor<'_>) {
        match c.byte() {
            INT | UINT | STR => {
                c.varint();
            }
            FLOAT => c.at += 8,
            ARRAY => {
                for _ in 0..c.varint() {
                    Self::skip(c);
                }
            }
            OBJECT => Self::skip_object(c),
            _ => {}
        }
    }

    /// Recomputes every event's hash from its row, chained from `anchor`, without
    /// rebuilding events; the first that differs is named by its `seq`. (A salt or seal
    /// out of place cannot be stored: `push` takes verified events.) A long log is
    /// checked in parallel stretches: each stretch chains from the hash stored in the row
    /// before it, which the stretch before checks, so the whole chain is still checked.
    pub fn verify(&self, base_seq: u64, anchor: &str) -> Result<(), (u64, Broken)> {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let n = self.rows.len();
        self.verify_in(threads.min(n / PARALLEL_FROM).clamp(1, 8), base_seq, anchor)
    }

    /// [`EventStore::verify`] reporting the rows checked to `meter` (which counts rows);
    /// the outer error is the meter's hook stopping the work. Without a hook, exactly
    /// [`EventStore::verify`]. With one, the stretches (one at least) run on threads that
    /// count the rows they checked, and this thread reports the count while they work,
    /// so the hook is called on the caller's thread only.
    pub fn verify_metered(
        &self,
        base_seq: u64,
        anchor: &str,
        meter: &mut Meter<'_>,
    ) -> Result<Result<(), (u64, Broken)>, Stop> {
        if !meter.listens() {
            return Ok(self.verify(base_seq, anchor));
        }
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let parts = threads.min(self.rows.len() / PARALLEL_FROM).clamp(1, 8);
        self.verify_metered_in(parts, base_seq, anchor, meter)
    }

    /// [`EventStore::verify_metered`] in `parts` stretches, one thread each.
    fn verify_metered_in(
        &self,
        parts: usize,
        base_seq: u64,
        anchor: &str,
        meter: &mut Meter<'_>,
    ) -> Result<Result<(), (u64, Broken)>, Stop> {
        let n = self.rows.len();
        let bounds: Vec<usize> = (0..=parts).map(|k| n * k / parts).collect();
        let tally = Tally::default();
        std::thread::scope(|scope| {
            let tally = &tally;
            let handles: Vec<_> = bounds
                .windows(2)
                .map(|w| {
                    let (start, end) = (
                        w.first().copied().unwrap_or(0),
                        w.last().copied().unwrap_or(0),
                    );
                    let prev = self.prev_of(start, anchor);
                    scope.spawn(move || self.verify_range(start..end, base_seq, prev, Some(tally)))
                })
                .collect();
            let mut stopped = None;
            while !handles
                .iter()
                .all(std::thread::ScopedJoinHandle::is_finished)
            {
                std::thread::sleep(POLL);
                if let Err(stop) = meter.at(tally.done.load(Ordering::Relaxed)) {
                    tally.halt.store(true, Ordering::Relaxed);
                    stopped = Some(stop);
                    break;
                }
            }
            let results: Vec<Result<(), (u64, Broken)>> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err((base_seq + 1, Broken::Hash))))
                .collect();
            match stopped {
                Some(stop) => Err(stop),
                None => Ok(results.into_iter().collect()),
            }
        })
    }

    /// The hash row `start` chains from: the row before it, or the anchor.
    fn prev_of(&self, start: usize, anchor: &str) -> [u8; 32] {
        match start.checked_sub(1).and_then(|j| self.rows.get(j)) {
            Some(r) => r.hash,
            None => hex_array::<32>(anchor),
        }
    }

    /// [`EventStore::verify`] in `parts` stretches, one thread each.
    fn verify_in(&self, parts: usize, base_seq: u64, anchor: &str) -> Result<(), (u64, Broken)> {
        let n = self.rows.len();
        if parts <= 1 {
            return self.verify_range(0..n, base_seq, hex_array::<32>(anchor), None);
        }
        let bounds: Vec<usize> = (0..=parts).map(|k| n * k / parts).collect();
        let results: Vec<Result<(), (u64, Broken)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = bounds
                .windows(2)
                .map(|w| {
                    let (start, end) = (
                        w.first().copied().unwrap_or(0),
                        w.last().copied().unwrap_or(0),
                    );
                    let prev = self.prev_of(start, anchor);
                    scope.spawn(move || self.verify_range(start..end, base_seq, prev, None))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err((base_seq + 1, Broken::Hash))))
                .collect()
        });
        results.into_iter().collect()
    }

    /// Checks the rows of `range`, chained from `prev`; with a `tally`, adds the rows
    /// checked to it every [`COUNTED`] rows and gives up (as if done) when it is halted.
    fn verify_range(
        &self,
        range: std::ops::Range<usize>,
        base_seq: u64,
        mut prev: [u8; 32],
        tally: Option<&Tally>,
    ) -> Result<(), (u64, Broken)> {
        let mut canonical = Vec::with_capacity(512);
        let mut path = String::with_capacity(64);
        let mut prev_hex = Vec::with_capacity(64);
        let mut uncounted = 0_u64;
        for i in range {
            if let Some(t) = tally {
                uncounted += 1;
                if uncounted == COUNTED {
                    t.done.fetch_add(COUNTED, Ordering::Relaxed);
                    uncounted = 0;
                    if t.halt.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
            }
            let Some(row) = self.rows.get(i) else {
                break;
            };
            let seq = base_seq + 1 + i as u64;
            canonical.clear();
            self.canonical(row, seq, &mut canonical, &mut path)
                .map_err(|b| (seq, b))?;
            prev_hex.clear();
            push_hex(&mut prev_hex, &prev);
            if chain_hash(&prev_hex, &canonical) != row.hash {
                return Err((seq, Broken::Hash));
            }
            prev = row.hash;
        }
        if let Some(t) = tally {
            t.done.fetch_add(uncounted, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The canonical form of row `row` (see `event.rs`), written into `out`.
    fn canonical(
        &self,
        row: &Row,
        seq: u64,
        out: &mut Vec<u8>,
        path: &mut String,
    ) -> Result<(), Broken> {
        let action = self.strings.get(row.action);
        let builtin = is_builtin(action);
        // The commitments: skip the details to reach them.
        let mut c = self.cursor(row);
        let details_at = c.at;
        Self::skip_object(&mut c);
        let commits = Commits::read(&mut c);
        let personal_target = target_is_personal(action);
        let json_str = |out: &mut Vec<u8>, s: &str| {
            let _ = serde_json::to_writer(&mut *out, s);
        };
        out.extend_from_slice(b"{\"action\":");
        json_str(out, action);
        out.extend_from_slice(b",\"actor\":");
        let actor = self.strings.get(row.actor);
        push_commitment(out, &commits.of(self, "/actor", actor)?);
        out.extend_from_slice(b",\"at\":");
        push_iso(out, Instant(row.at));
        out.extend_from_slice(b",\"details\":");
        let mut d = Cursor {
            bytes: &self.data,
            at: details_at,
        };
        path.clear();
        path.push_str("/details");
        self.canonical_object(&mut d, out, path, !builtin, builtin, &commits)?;
        out.extend_from_slice(b",\"seq\":");
        let _ = write!(out, "{seq}");
        out.extend_from_slice(b",\"target\":");
        let target = self.strings.get(row.target);
        if personal_target {
            push_commitment(out, &commits.of(self, "/target", target)?);
        } else {
            json_str(out, target);
        }
        out.push(b'}');
        Ok(())
    }

    fn skip_object(c: &mut Cursor<'_>) {
        for _ in 0..c.varint() {
            c.varint();
            Self::skip(c);
        }
    }

    fn canonical_object(
        &self,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        path: &mut String,
        personal: bool,
        builtin: bool,
        commits: &Commits,
    ) -> Result<(), Broken> {
        let n = c.varint();
        out.push(b'{');
        for k in 0..n {
            if k > 0 {
                out.push(b',');
            }
            let key = self.strings.get(c.id());
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            let len = path.len();
            push_token(path, key);
            let inner = personal || (builtin && is_personal_key(key));
            self.canonical_value(c, out, path, inner, builtin, commits)?;
            path.truncate(len);
        }
        out.push(b'}');
        Ok(())
    }

    fn canonical_value(
        &self,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        path: &mut String,
        personal: bool,
        builtin: bool,
        commits: &Commits,
    ) -> Result<(), Broken> {
        match c.byte() {
            FALSE => out.extend_from_slice(b"false"),
            TRUE => out.extend_from_slice(b"true"),
            INT => {
                let z = c.varint();
                let i = (z >> 1).cast_signed() ^ -((z & 1).cast_signed());
                out.extend_from_slice(i.to_string().as_bytes());
            }
            UINT => out.extend_from_slice(c.varint().to_string().as_bytes()),
            FLOAT => {
                let f = f64::from_bits(u64::from_le_bytes(c.take::<8>()));
                let v = Number::from_f64(f).map_or(Value::Null, Value::Number);
                let _ = serde_json::to_writer(&mut *out, &v);
            }
            STR => {
                let s = self.strings.get(c.id());
                if personal {
                    push_commitment(out, &commits.of(self, path, s)?);
                } else {
                    let _ = serde_json::to_writer(&mut *out, s);
                }
            }
            ARRAY => {
                let n = c.varint();
                out.push(b'[');
                for i in 0..n {
                    if i > 0 {
                        out.push(b',');
                    }
                    let len = path.len();
                    push_index(path, i);
                    self.canonical_value(c, out, path, personal, builtin, commits)?;
                    path.truncate(len);
                }
                out.push(b']');
            }
            OBJECT => self.canonical_object(c, out, path, personal, builtin, commits)?,
            _ => out.extend_from_slice(b"null"),
        }
        Ok(())
    }
}

/// An event's commitments as stored: its seed, or its salts and seals by path id.
enum Commits {
    Seed([u8; 16]),
    Explicit {
        salts: Vec<(u32, [u8; 16])>,
        sealed: Vec<(u32, [u8; 32])>,
    },
}

impl Commits {
    fn read(c: &mut Cursor<'_>) -> Self {
        if c.byte() == SEED {
            return Commits::Seed(c.take::<16>());
        }
        let salts = (0..c.varint()).map(|_| (c.id(), c.take::<16>())).collect();
        let sealed = (0..c.varint()).map(|_| (c.id(), c.take::<32>())).collect();
        Commits::Explicit { salts, sealed }
    }

    /// The commitment of the personal field at `path` holding `value`.
    fn of(&self, store: &EventStore, path: &str, value: &str) -> Result<[u8; 32], Broken> {
        let c = match self {
            Commits::Seed(seed) => commit_bytes(&derive_salt(seed, path), path, value),
            Commits::Explicit { salts, sealed } => {
                let id = store.strings.find(path);
                let salt = id.and_then(|id| salts.iter().find(|(p, _)| *p == id));
                let seal = id.and_then(|id| sealed.iter().find(|(p, _)| *p == id));
                match (salt, seal) {
                    (Some((_, salt)), None) => commit_bytes(salt, path, value),
                    (None, Some((_, c))) => *c,
                    _ => return Err(Broken::Commitment(path.to_owned())),
                }
            }
        };
        Ok(c)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
