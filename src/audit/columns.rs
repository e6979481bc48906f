//! The events as columns, in Arrow's memory layout but without Arrow's types: what
//! `to_arrow()` and `to_pandas()` hand to Python without building an object per event.
//!
//! A text column is one byte buffer and the offsets of each row's end in it (Arrow's
//! `large_utf8`); numbers are plain vectors. The binding layer wraps these buffers in
//! Arrow arrays without copying them.

use std::io::Write as _;

use serde_json::{Number, Value};

use super::digest::{is_plain, push_hex, push_json_str};
use super::event::Event;
use super::store::{
    Cursor, EventStore, Interner, ARRAY, FALSE, FLOAT, INT, OBJECT, STR, TRUE, UINT,
};

/// A column of UTF-8 text: row `i` is `bytes[offsets[i]..offsets[i + 1]]`; `valid`, when
/// present, says which rows hold a value (the others are null).
///
/// **UTF-8 by construction.** Its fields are private and a row is only ever appended
/// whole: a `&str`, an interned string (a `str` of the store's arena), hex, or JSON this
/// module writes from `str`s, numbers and literals. So `bytes` is UTF-8, every offset falls
/// between two characters, the offsets rise from 0 to `bytes.len()`, and `valid` has one
/// flag per row: what Arrow checks before it takes a string buffer. The binding hands the
/// buffers over unchecked ([`Text::into_parts`]); checking them again was 15% of
/// `to_arrow()`'s CPU time (70 MB of text for 250k events). [`Text::is_well_formed`] is
/// that check, asserted in debug builds and by the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// Where each row starts, and where the last one ends (one more than the rows).
    offsets: Vec<i64>,
    /// The rows' text, one after the other.
    bytes: Vec<u8>,
    /// Which rows are not null (`None`: all of them).
    valid: Option<Vec<bool>>,
}

/// A [`Text`]'s buffers, taken apart: well formed as [`Text`] says (UTF-8, offsets on
/// character boundaries rising from 0 to `bytes.len()`, one `valid` flag per row).
#[derive(Debug)]
pub struct TextParts {
    /// Where each row starts, and where the last one ends.
    pub offsets: Vec<i64>,
    /// The rows' text.
    pub bytes: Vec<u8>,
    /// Which rows are not null (`None`: all of them).
    pub valid: Option<Vec<bool>>,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            offsets: vec![0],
            bytes: Vec::new(),
            valid: None,
        }
    }
}

impl Text {
    /// An empty column with room for `rows` rows of `bytes` bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Text {
            offsets,
            bytes: Vec::with_capacity(bytes),
            valid: None,
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn end_row(&mut self) {
        self.offsets
            .push(i64::try_from(self.bytes.len()).unwrap_or(i64::MAX));
        if let Some(v) = &mut self.valid {
            v.push(true);
        }
    }

    /// Appends a row holding `s`.
    pub fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.end_row();
    }

    /// Appends a row holding interned string `id`.
    fn push_interned(&mut self, strings: &Interner, id: u32) {
        let (arena, at, len) = strings.span(id);
        push_span(&mut self.bytes, arena, at, len);
        self.end_row();
    }

    /// Appends a row written by `write`, which must append UTF-8 (so this is private: only
    /// this module's writers call it).
    fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.bytes);
        self.end_row();
    }

    /// Appends a null row.
    pub fn push_null(&mut self) {
        let rows = self.len();
        self.valid
            .get_or_insert_with(|| vec![true; rows])
            .push(false);
        self.offsets
            .push(i64::try_from(self.bytes.len()).unwrap_or(i64::MAX));
    }

    /// The buffers, for the binding: well formed by construction (see [`Text`]), which
    /// debug builds assert.
    pub fn into_parts(self) -> TextParts {
        debug_assert!(self.is_well_formed(), "a malformed text column: {self:?}");
        TextParts {
            offsets: self.offsets,
            bytes: self.bytes,
            valid: self.valid,
        }
    }

    /// Whether the buffers are what [`Text`] promises: `bytes` UTF-8, the offsets rising
    /// from 0 to its length on character boundaries, one `valid` flag per row. Arrow's own
    /// check, kept for debug builds and the tests.
    pub fn is_well_formed(&self) -> bool {
        let Ok(text) = std::str::from_utf8(&self.bytes) else {
            return false;
        };
        let ends = self.offsets.first() == Some(&0)
            && self.offsets.last().copied() == i64::try_from(self.bytes.len()).ok();
        let rising = self.offsets.windows(2).all(|w| w.first() <= w.get(1));
        let bounds = self
            .offsets
            .iter()
            .all(|&o| usize::try_from(o).is_ok_and(|o| text.is_char_boundary(o)));
        let flags = self.valid.as_ref().is_none_or(|v| v.len() == self.len());
        ends && rising && bounds && flags
    }

    /// Row `i`, or `None` when it is null (or out of range).
    pub fn get(&self, i: usize) -> Option<&str> {
        if self
            .valid
            .as_ref()
            .is_some_and(|v| !v.get(i).copied().unwrap_or(false))
        {
            return None;
        }
        let start = usize::try_from(*self.offsets.get(i)?).ok()?;
        let end = usize::try_from(*self.offsets.get(i + 1)?).ok()?;
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }
}

/// The `prev_hash` and `hash` columns (hex). While each row follows the one before in the
/// chain (its `prev_hash` is that row's `hash`: a whole log, or a run of one), both are one
/// text of one row more than the table — the first row's `prev_hash`, then every row's
/// `hash` — and the binding hands out two views of the same buffers: `prev_hash` its rows
/// `0..n`, `hash` its rows `1..=n` (half the bytes to write, and no second hex encoding).
/// The first row that does not follow (a filtered selection skips events) splits them
/// into two texts for good.
#[derive(Debug, Clone, Default)]
pub struct Hashes {
    /// Shared: the first `prev_hash`, then the hashes. Split: the hashes.
    text: Text,
    /// Split: the `prev_hash` column; `None` while shared.
    prev: Option<Text>,
}

/// The texts of [`Hashes`], for the binding.
#[derive(Debug)]
pub enum HashTexts {
    /// One text of `n + 1` rows: `prev_hash` is rows `0..n`, `hash` rows `1..=n` (no rows
    /// at all when the table has none).
    Shared(Text),
    /// Two texts of `n` rows.
    Split {
        /// `prev_hash`.
        prev_hash: Text,
        /// `hash`.
        hash: Text,
    },
}

impl Hashes {
    fn with_capacity(rows: usize) -> Self {
        Hashes {
            text: Text::with_capacity(rows + 1, (rows + 1) * 64),
            prev: None,
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        match &self.prev {
            Some(_) => self.text.len(),
            None => self.text.len().saturating_sub(1),
        }
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s `hash`.
    pub fn hash(&self, i: usize) -> Option<&str> {
        match &self.prev {
            Some(_) => self.text.get(i),
            None => self.text.get(i + 1),
        }
    }

    /// Row `i`'s `prev_hash`.
    pub fn prev_hash(&self, i: usize) -> Option<&str> {
        match &self.prev {
            Some(prev) => prev.get(i),
            None if i < self.len() => self.text.get(i),
            None => None,
        }
    }

    /// Appends a row: its `prev_hash` and its `hash`.
    pub fn push(&mut self, prev_hash: &str, hash: &str) {
        self.push_row(prev_hash, |out| out.extend_from_slice(hash.as_bytes()));
    }

    /// Appends a row: its `prev_hash` and its `hash` (written by `hash`, in hex: UTF-8, as
    /// [`Text::push_with`] needs).
    fn push_row(&mut self, prev_hash: &str, hash: impl FnOnce(&mut Vec<u8>)) {
        if self.prev.is_none() {
            let rows = self.text.len();
            if rows == 0 {
                self.text.push(prev_hash);
            } else if rows
                .checked_sub(1)
                .and_then(|last| self.text.get(last))
                .is_none_or(|last| last != prev_hash)
            {
                self.split();
            }
        }
        if let Some(prev) = &mut self.prev {
            prev.push(prev_hash);
        }
        self.text.push_with(hash);
    }

    /// Turns the shared text into two: rows `0..n` copied out as `prev_hash`, the first
    /// row dropped from the hashes.
    fn split(&mut self) {
        let n = self.len();
        let first = usize::try_from(self.text.offsets.get(1).copied().unwrap_or(0)).unwrap_or(0);
        let mut prev = Text::with_capacity(n, first + n * 64);
        for i in 0..n {
            prev.push(self.text.get(i).unwrap_or_default());
        }
        self.text.bytes.drain(..first.min(self.text.bytes.len()));
        let shift = i64::try_from(first).unwrap_or(0);
        self.text.offsets.remove(0);
        for o in &mut self.text.offsets {
            *o -= shift;
        }
        self.prev = Some(prev);
    }

    /// The texts, for the binding.
    pub fn into_texts(self) -> HashTexts {
        match self.prev {
            Some(prev_hash) => HashTexts::Split {
                prev_hash,
                hash: self.text,
            },
            None => HashTexts::Shared(self.text),
        }
    }
}

/// Equal when every row's `prev_hash` and `hash` are, shared or not.
impl PartialEq for Hashes {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && (0..self.len())
                .all(|i| self.hash(i) == other.hash(i) && self.prev_hash(i) == other.prev_hash(i))
    }
}

impl Eq for Hashes {}

/// The audit log's table: one row per event, the columns of [`Columns::NAMES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// `seq`.
    pub seq: Vec<i64>,
    /// `at`, microseconds since the Unix epoch (UTC).
    pub at: Vec<i64>,
    /// `actor`.
    pub actor: Text,
    /// `action`.
    pub action: Text,
    /// `target`.
    pub target: Text,
    /// `details["user"]` when it is a string, else null.
    pub user: Text,
    /// `details` as compact JSON text (keys sorted), as in the CSV export.
    pub details: Text,
    /// `prev_hash` and `hash`, hex.
    pub hashes: Hashes,
}

impl Columns {
    /// The columns' names, in order.
    pub const NAMES: [&'static str; 9] = [
        "seq",
        "at",
        "actor",
        "action",
        "target",
        "user",
        "details",
        "prev_hash",
        "hash",
    ];

    /// How many rows.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    /// The columns from their halves (see [`EventStore::columns_with`]).
    pub fn join(heads: Heads, details: Text, user: Text) -> Columns {
        let Heads {
            seq,
            at,
            actor,
            action,
            target,
            hashes,
        } = heads;
        Columns {
            seq,
            at,
            actor,
            action,
            target,
            user,
            details,
            hashes,
        }
    }

    /// The columns in the halves of [`EventStore::columns_with`]: the heads, `details`
    /// and `user`.
    pub fn split(self) -> (Heads, Text, Text) {
        let Columns {
            seq,
            at,
            actor,
            action,
            target,
            user,
            details,
            hashes,
        } = self;
        let heads = Heads {
            seq,
            at,
            actor,
            action,
            target,
            hashes,
        };
        (heads, details, user)
    }

    /// Appends the row of an event built whole (one read from a store that keeps the
    /// history itself).
    pub fn push_event(&mut self, e: &Event) {
        self.seq.push(i64::try_from(e.seq).unwrap_or(i64::MAX));
        self.at.push(e.at.0);
        self.actor.push(&e.actor);
        self.action.push(&e.action);
        self.target.push(&e.target);
        match e.user() {
            Some(u) => self.user.push(u),
            None => self.user.push_null(),
        }
        self.details.push_with(|out| {
            let _ = serde_json::to_writer(out, &e.details);
        });
        self.hashes.push(&e.prev_hash, &e.hash);
    }
}

/// Short copies are made as one fixed-size move of this many bytes.
const SHORT: usize = 32;

/// Appends `src[at..at + len]` to `out`. A short span with [`SHORT`] bytes of `src` from
/// `at`, and as much room left in `out`, is copied as those bytes, then `out` is cut back
/// to the span: a fixed-size move compiles to two vector moves, where a copy of a length
/// known only at run time calls `memcpy` (7–13% of `to_arrow()`'s samples, for two or
/// three dozen bytes a copy).
#[inline]
fn push_span(out: &mut Vec<u8>, src: &[u8], at: usize, len: usize) {
    let keep = out.len() + len;
    // Only within the room `out` has: the move must not make it grow (a buffer sized to
    // its text would double at its last rows).
    let room = out.capacity() - out.len();
    let short = src
        .get(at..at + SHORT)
        .and_then(|chunk| <&[u8; SHORT]>::try_from(chunk).ok());
    match short {
        Some(chunk) if len <= SHORT && room >= SHORT => {
            out.extend_from_slice(chunk);
            out.truncate(keep);
        }
        _ => out.extend_from_slice(src.get(at..at + len).unwrap_or_default()),
    }
}

/// Below this many rows, a table is written on one thread (a thread costs more).
const TWO_THREADS: usize = 4096;

/// The columns read from the store's rows alone (the heads): `seq`, `at`, `actor`,
/// `action`, `target` and the hashes (those of [`Columns`]).
#[derive(Debug, Default)]
#[expect(missing_docs, reason = "the fields of `Columns`, documented there")]
pub struct Heads {
    pub seq: Vec<i64>,
    pub at: Vec<i64>,
    pub actor: Text,
    pub action: Text,
    pub target: Text,
    pub hashes: Hashes,
}

/// Writes details as JSON text, knowing which interned strings need no escape (found
/// once per string, not once per use).
struct JsonWriter<'a> {
    store: &'a EventStore,
    /// Per string id: 0 not seen yet, 1 plain, 2 to escape (grown as ids come).
    plain: Vec<u8>,
}

impl<'a> JsonWriter<'a> {
    fn new(store: &'a EventStore) -> Self {
        JsonWriter {
            store,
            plain: Vec::new(),
        }
    }

    /// Writes string `id` as a JSON string.
    fn text(&mut self, out: &mut Vec<u8>, id: u32) {
        let at = id as usize;
        if at >= self.plain.len() {
            self.plain.resize(at + 1, 0);
        }
        let plain = match self.plain.get(at).copied() {
            Some(1) => true,
            Some(0) => {
                let plain = is_plain(self.store.strings.get(id));
                if let Some(slot) = self.plain.get_mut(at) {
                    *slot = if plain { 1 } else { 2 };
                }
                plain
            }
            _ => false,
        };
        if plain {
            // Copied straight from the arena (a short copy: see `push_span`).
            let (arena, start, len) = self.store.strings.span(id);
            out.push(b'"');
            push_span(out, arena, start, len);
            out.push(b'"');
        } else {
            push_json_str(out, self.store.strings.get(id));
        }
    }

    /// Writes string `id` as an object's key, with its colon.
    fn key(&mut self, out: &mut Vec<u8>, id: u32) {
        self.text(out, id);
        out.push(b':');
    }

    /// Writes the object at `c` as compact JSON (its keys in stored order: sorted).
    fn object(&mut self, c: &mut Cursor<'_>, out: &mut Vec<u8>) {
        let n = c.varint();
        out.push(b'{');
        for k in 0..n {
            if k > 0 {
                out.push(b',');
            }
            self.key(out, c.id());
            self.value(c, out);
        }
        out.push(b'}');
    }

    fn value(&mut self, c: &mut Cursor<'_>, out: &mut Vec<u8>) {
        match c.byte() {
            FALSE => out.extend_from_slice(b"false"),
            TRUE => out.extend_from_slice(b"true"),
            INT => {
                let z = c.varint();
                let i = (z >> 1).cast_signed() ^ -((z & 1).cast_signed());
                let _ = write!(out, "{i}");
            }
            UINT => {
                let _ = write!(out, "{}", c.varint());
            }
            FLOAT => {
                let f = f64::from_bits(u64::from_le_bytes(c.take::<8>()));
                let v = Number::from_f64(f).map_or(Value::Null, Value::Number);
                let _ = serde_json::to_writer(&mut *out, &v);
            }
            STR => self.text(out, c.id()),
            ARRAY => {
                let n = c.varint();
                out.push(b'[');
                for k in 0..n {
                    if k > 0 {
                        out.push(b',');
                    }
                    self.value(c, out);
                }
                out.push(b']');
            }
            OBJECT => self.object(c, out),
            _ => out.extend_from_slice(b"null"),
        }
    }
}

/// The table read straight from the compact store.
impl EventStore {
    /// The table of events `rows` (indexes, in order; numbered after `base_seq`, the first
    /// chained after `anchor`), read from the rows and the arena without rebuilding an
    /// event. From [`TWO_THREADS`] rows on, the heads are written on a second thread while
    /// this one writes `details` and `user`: 250k events took 0.035–0.041 s at best instead
    /// of 0.053–0.055 s on one thread (and less CPU time: the second thread's malloc arena
    /// keeps its pages for the next call, where fresh pages fault). Moving `user` to the
    /// second thread was measured slower twice: while the buffers faulted, its 7 MB
    /// faulted there each time (1,760 page faults more, three times the system time);
    /// once they did not (the room `details` now gets), finding `user` with a second walk
    /// of each row's details cost more than it balanced (26 ms a call against 23 ms).
    pub fn columns_of(&self, rows: &[usize], base_seq: u64, anchor: &str) -> Columns {
        self.columns_on(rows, base_seq, anchor, rows.len() >= TWO_THREADS)
    }

    /// [`EventStore::columns_of`] on two threads or one.
    fn columns_on(&self, rows: &[usize], base_seq: u64, anchor: &str, two: bool) -> Columns {
        let (heads, (details, user)) =
            self.halves(rows, base_seq, anchor, two, |h| h, |d, u| (d, u));
        Columns::join(heads, details, user)
    }

    /// The table of [`EventStore::columns_of`] in two halves, each handed to `heads` or
    /// `details` (`details`, then `user`) on the thread that wrote it: what the binding
    /// makes of a half (Arrow arrays, whose UTF-8 it checks) is made while the other half
    /// is still written, instead of after both.
    pub fn columns_with<H: Send, D: Send>(
        &self,
        rows: &[usize],
        base_seq: u64,
        anchor: &str,
        heads: impl Fn(Heads) -> H + Sync,
        details: impl Fn(Text, Text) -> D + Sync,
    ) -> (H, D) {
        let two = rows.len() >= TWO_THREADS;
        self.halves(rows, base_seq, anchor, two, heads, details)
    }

    /// [`EventStore::columns_with`] on two threads or one.
    fn halves<H: Send, D: Send>(
        &self,
        rows: &[usize],
        base_seq: u64,
        anchor: &str,
        two: bool,
        heads: impl Fn(Heads) -> H + Sync,
        details: impl Fn(Text, Text) -> D + Sync,
    ) -> (H, D) {
        let heads_of = || heads(self.heads(rows, base_seq, anchor));
        let details_of = || {
            let (d, u) = self.details(rows);
            details(d, u)
        };
        if !two {
            return (heads_of(), details_of());
        }
        std::thread::scope(|scope| {
            let h = scope.spawn(heads_of);
            let d = details_of();
            // A thread that panicked (a bug) is not trusted: its part again, here.
            (h.join().unwrap_or_else(|_| heads_of()), d)
        })
    }

    /// The columns of `rows` read from the store's rows alone.
    fn heads(&self, rows: &[usize], base_seq: u64, anchor: &str) -> Heads {
        let n = rows.len();
        // The texts' exact sizes, so that no buffer grows (and is copied) on the way.
        let (mut actor_bytes, mut action_bytes, mut target_bytes) = (0, 0, 0);
        for row in rows.iter().filter_map(|&i| self.rows.get(i)) {
            actor_bytes += self.strings.get(row.actor).len();
            action_bytes += self.strings.get(row.action).len();
            target_bytes += self.strings.get(row.target).len();
        }
        let mut h = Heads {
            seq: Vec::with_capacity(n),
            at: Vec::with_capacity(n),
            // Room for `push_span`'s short move at the last rows.
            actor: Text::with_capacity(n, actor_bytes + SHORT),
            action: Text::with_capacity(n, action_bytes + SHORT),
            target: Text::with_capacity(n, target_bytes + SHORT),
            hashes: Hashes::with_capacity(n),
        };
        let mut last: Option<usize> = None;
        for &i in rows {
            let Some(row) = self.rows.get(i) else {
                continue;
            };
            h.seq
                .push(i64::try_from(base_seq + 1 + i as u64).unwrap_or(i64::MAX));
            h.at.push(row.at);
            h.actor.push_interned(&self.strings, row.actor);
            h.action.push_interned(&self.strings, row.action);
            h.target.push_interned(&self.strings, row.target);
            let before = i.checked_sub(1);
            if h.hashes.prev.is_none() && last.is_some() && last == before {
                // Follows the row written last: its `prev_hash` is that row's `hash`, shared.
                h.hashes.text.push_with(|out| push_hex(out, &row.hash));
            } else {
                let mut prev = Vec::with_capacity(64);
                match before.and_then(|j| self.rows.get(j)) {
                    Some(before) => push_hex(&mut prev, &before.hash),
                    None => prev.extend_from_slice(anchor.as_bytes()),
                }
                let prev = std::str::from_utf8(&prev).unwrap_or_default();
                h.hashes.push_row(prev, |out| push_hex(out, &row.hash));
            }
            last = Some(i);
        }
        h
    }

    /// The `details` (compact JSON text, keys sorted) and `user` (`details["user"]` when it
    /// is a string) columns of `rows`.
    fn details(&self, rows: &[usize]) -> (Text, Text) {
        let user_key = self.strings.find("user");
        let mut json = JsonWriter::new(self);
        // Room to spare: a buffer that outgrows its room at the last rows is copied whole
        // (16 MB for 250k grants, whose details average 65 bytes and users 29), and room
        // never written costs address space, not memory.
        let mut details = Text::with_capacity(rows.len(), rows.len() * 128);
        let mut users = Text::with_capacity(rows.len(), rows.len() * 48);
        for row in rows.iter().filter_map(|&i| self.rows.get(i)) {
            // `details["user"]` is found while the details are written.
            let mut user = None;
            let mut c = self.cursor(row);
            details.push_with(|out| {
                let n = c.varint();
                out.push(b'{');
                for k in 0..n {
                    if k > 0 {
                        out.push(b',');
                    }
                    let key = c.id();
                    json.key(out, key);
                    if Some(key) == user_key && c.bytes.get(c.at) == Some(&STR) {
                        let at = c.at;
                        c.byte();
                        user = Some(c.id());
                        c.at = at;
                    }
                    json.value(&mut c, out);
                }
                out.push(b'}');
            });
            match user {
                Some(u) => users.push_interned(&self.strings, u),
                None => users.push_null(),
            }
        }
        (details, users)
    }
}

#[cfg(test)]
#[path = "columns_tests.rs"]
mod tests;
