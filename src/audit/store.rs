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

use super::event::{to_hex, Event, Fields, Paths};
use crate::time::Instant;

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
        let (_, at, len) = self.span(id);
        self.arena.get(at..at + len).unwrap_or_default()
    }

    /// The arena's bytes and where string `id` lies in them (`(0, 0)` for an unknown id),
    /// for copying it without slicing it out first.
    pub(super) fn span(&self, id: u32) -> (&[u8], usize, usize) {
        let (at, len) = self.spans.get(id as usize).copied().unwrap_or_default();
        (
            self.arena.as_bytes(),
            usize::try_from(at).unwrap_or(0),
            len as usize,
        )
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
    if let Some(out) = super::digest::decode_hex(hex_text) {
        return out;
    }
    // Not hex: whatever the `hex` crate leaves (no event the log holds gets here).
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
        self.push_fields(&e.fields(), hex_array(&e.hash));
    }

    /// [`EventStore::push`] of an event's fields and hash, without the event built.
    pub fn push_fields(&mut self, e: &Fields<'_>, hash: [u8; 32]) {
        let data = self.data.len() as u64;
        let row = Row {
            at: e.at.0,
            data,
            hash,
            actor: self.strings.id(e.actor),
            action: self.strings.id(e.action),
            target: self.strings.id(e.target),
        };
        self.put_object(e.details);
        if let Some(seed) = e.seed {
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

    /// Appends every event of `other` (built elsewhere, chained after this store's last
    /// event): its strings are interned here, its rows copied with their ids mapped, and
    /// its arena copied with the ids in it mapped. Gives what pushing its events one by
    /// one gives (tested), without rebuilding them: opening a journal builds a store of
    /// each stretch on the thread that decoded it and appends it here.
    pub fn append_from(&mut self, other: &EventStore) {
        let remap: Vec<u32> = (0..other.strings.spans.len())
            .map(|id| {
                let id = u32::try_from(id).unwrap_or(u32::MAX);
                self.strings.id(other.strings.get(id))
            })
            .collect();
        let map = |id: u32| remap.get(id as usize).copied().unwrap_or(u32::MAX);
        self.rows.reserve(other.rows.len());
        self.data.reserve(other.data.len());
        for row in &other.rows {
            let data = self.data.len() as u64;
            let mut c = other.cursor(row);
            self.copy_object(&mut c, &map);
            if c.byte() == SEED {
                self.data.push(SEED);
                self.data.extend_from_slice(&c.take::<16>());
            } else {
                self.data.push(EXPLICIT);
                let n = c.varint();
                put_varint(&mut self.data, n);
                for _ in 0..n {
                    put_varint(&mut self.data, u64::from(map(c.id())));
                    self.data.extend_from_slice(&c.take::<16>());
                }
                let n = c.varint();
                put_varint(&mut self.data, n);
                for _ in 0..n {
                    put_varint(&mut self.data, u64::from(map(c.id())));
                    self.data.extend_from_slice(&c.take::<32>());
                }
            }
            self.rows.push(Row {
                at: row.at,
                data,
                hash: row.hash,
                actor: map(row.actor),
                action: map(row.action),
                target: map(row.target),
            });
        }
    }

    /// Copies a details object from another store's arena, its string ids mapped.
    fn copy_object(&mut self, c: &mut Cursor<'_>, map: &impl Fn(u32) -> u32) {
        let n = c.varint();
        put_varint(&mut self.data, n);
        for _ in 0..n {
            put_varint(&mut self.data, u64::from(map(c.id())));
            self.copy_value(c, map);
        }
    }

    fn copy_value(&mut self, c: &mut Cursor<'_>, map: &impl Fn(u32) -> u32) {
        let tag = c.byte();
        self.data.push(tag);
        match tag {
            INT | UINT => put_varint(&mut self.data, c.varint()),
            FLOAT => self.data.extend_from_slice(&c.take::<8>()),
            STR => put_varint(&mut self.data, u64::from(map(c.id()))),
            ARRAY => {
                let n = c.varint();
                put_varint(&mut self.data, n);
                for _ in 0..n {
                    self.copy_value(c, map);
                }
            }
            OBJECT => self.copy_object(c, map),
            _ => {}
        }
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
}

mod verify;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
