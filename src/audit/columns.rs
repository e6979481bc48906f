//! The events as columns, in Arrow's memory layout but without Arrow's types: what
//! `to_arrow()` and `to_pandas()` hand to Python without building an object per event.
//!
//! A text column is one byte buffer and the offsets of each row's end in it (Arrow's
//! `large_utf8`); numbers are plain vectors. The binding layer wraps these buffers in
//! Arrow arrays without copying them.

use std::io::Write as _;

use serde_json::{Number, Value};

use super::digest::push_hex;
use super::event::Event;
use super::store::{Cursor, EventStore, ARRAY, FALSE, FLOAT, INT, OBJECT, STR, TRUE, UINT};

/// A column of UTF-8 text: row `i` is `bytes[offsets[i]..offsets[i + 1]]`; `valid`, when
/// present, says which rows hold a value (the others are null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// Where each row starts, and where the last one ends (one more than the rows).
    pub offsets: Vec<i64>,
    /// The rows' text, one after the other.
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

    /// Appends a row written by `write` (which must write UTF-8).
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
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

    /// Appends a row: its `prev_hash` and its `hash` (written by `hash`, in hex).
    pub fn push(&mut self, prev_hash: &str, hash: impl FnOnce(&mut Vec<u8>)) {
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
        self.hashes
            .push(&e.prev_hash, |out| out.extend_from_slice(e.hash.as_bytes()));
    }
}

/// Writes `s` as a JSON string, as `serde_json` does; most strings need no escape and
/// are copied as they are.
fn push_json_text(out: &mut Vec<u8>, s: &str) {
    if is_plain(s) {
        push_plain(out, s);
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// True when `s` is its own JSON text between quotes (no byte to escape).
fn is_plain(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

fn push_plain(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
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

impl JsonWriter<'_> {
    fn text(&mut self, out: &mut Vec<u8>, id: u32) {
        let s = self.store.strings.get(id);
        let at = id as usize;
        if at >= self.plain.len() {
            self.plain.resize(at + 1, 0);
        }
        let plain = match self.plain.get(at).copied() {
            Some(1) => true,
            Some(0) => {
                let plain = is_plain(s);
                if let Some(slot) = self.plain.get_mut(at) {
                    *slot = if plain { 1 } else { 2 };
                }
                plain
            }
            _ => false,
        };
        if plain {
            push_plain(out, s);
        } else {
            push_json_text(out, s);
        }
    }

    /// Writes the object at `c` as compact JSON (its keys in stored order: sorted).
    fn object(&mut self, c: &mut Cursor<'_>, out: &mut Vec<u8>) {
        let n = c.varint();
        out.push(b'{');
        for k in 0..n {
            if k > 0 {
                out.push(b',');
            }
            self.text(out, c.id());
            out.push(b':');
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
    /// keeps its pages for the next call, where fresh pages fault).
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
            actor: Text::with_capacity(n, actor_bytes),
            action: Text::with_capacity(n, action_bytes),
            target: Text::with_capacity(n, target_bytes),
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
            h.actor.push(self.strings.get(row.actor));
            h.action.push(self.strings.get(row.action));
            h.target.push(self.strings.get(row.target));
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
                h.hashes.push(prev, |out| push_hex(out, &row.hash));
            }
            last = Some(i);
        }
        h
    }

    /// The `details` (compact JSON text, keys sorted) and `user` (`details["user"]` when it
    /// is a string) columns of `rows`.
    fn details(&self, rows: &[usize]) -> (Text, Text) {
        let user_key = self.strings.find("user");
        let mut json = JsonWriter {
            store: self,
            plain: Vec::new(),
        };
        let mut details = Text::with_capacity(rows.len(), rows.len() * 64);
        let mut users = Text::with_capacity(rows.len(), rows.len() * 24);
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
                    json.text(out, key);
                    out.push(b':');
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
                Some(u) => users.push(self.strings.get(u)),
                None => users.push_null(),
            }
        }
        (details, users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::audit::log::Log;

    /// 23 chained events, some with odd details.
    fn sample_log() -> Log {
        use crate::audit::event::genesis;
        let mut log = Log::new(genesis("g"));
        let mut prev = log.anchor.clone();
        for seq in 1..=23_u64 {
            let details =
                serde_json::json!({"user": format!("u{}@x.io", seq % 4), "n": seq, "t": "a\"b"});
            // Some events' user is not a string (null in `user`); odd values and escapes.
            let details = if seq % 7 == 0 {
                serde_json::json!({
                    "user": seq, "z": -3, "f": 1.5e-7, "nil": null, "ok": true,
                    "nest": {"k\n": ["ü✓", {"a": false}, u64::MAX], "t": "a\"b"}
                })
            } else {
                details
            };
            let serde_json::Value::Object(d) = details else {
                unreachable!()
            };
            let action = if seq % 5 == 0 {
                "org.created"
            } else {
                "grant.added"
            };
            let e = Event::new(
                seq,
                crate::time::Instant(0),
                "o@x.io".into(),
                action.into(),
                "acme/p".into(),
                d,
                prev.clone(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
            prev.clone_from(&e.hash);
            log.extend([e]);
        }
        log
    }

    #[test]
    fn parts_are_the_rows_in_order_and_match_the_events() {
        let log = sample_log();
        let all: Vec<usize> = (0..23).collect();
        let mut cases: Vec<(Vec<usize>, usize)> =
            [1, 2, 3, 5].into_iter().map(|p| (all.clone(), p)).collect();
        // Selections that skip events: `prev_hash` is then not the row before's `hash`.
        for rows in [
            vec![0, 2, 3, 4, 9, 22],
            vec![3, 4, 5, 6],
            vec![5],
            vec![1, 0],
        ] {
            cases.push((rows.clone(), 1));
            cases.push((rows, 2));
        }
        for (rows, parts) in cases {
            let mut expected = Columns::default();
            let events: Vec<Event> = log.iter().collect();
            for e in rows.iter().filter_map(|&i| events.get(i)) {
                expected.push_event(e);
            }
            let got = log.columns_in(&rows, parts);
            assert_eq!(got.len(), parts.min(rows.len()));
            let mut joined = Columns::default();
            for c in &got {
                for i in 0..c.len() {
                    let text = |t: &Text| t.get(i).map(str::to_owned);
                    joined.seq.extend(c.seq.get(i));
                    joined.at.extend(c.at.get(i));
                    for (to, from) in [
                        (&mut joined.actor, &c.actor),
                        (&mut joined.action, &c.action),
                        (&mut joined.target, &c.target),
                        (&mut joined.user, &c.user),
                        (&mut joined.details, &c.details),
                    ] {
                        match text(from) {
                            Some(s) => to.push(&s),
                            None => to.push_null(),
                        }
                    }
                    let (prev, hash) = (c.hashes.prev_hash(i), c.hashes.hash(i));
                    let (Some(prev), Some(hash)) = (prev, hash) else {
                        unreachable!("row {i} has no hashes")
                    };
                    joined
                        .hashes
                        .push(prev, |out| out.extend_from_slice(hash.as_bytes()));
                }
            }
            assert_eq!(joined, expected, "{rows:?} in {parts} parts");
            // Written on two threads or one, the same columns.
            for two in [false, true] {
                let one = log.events.columns_on(&rows, log.base_seq, &log.anchor, two);
                assert_eq!(one, expected, "{rows:?}, two threads: {two}");
            }
            // Each part's own rows: the hashes as the events have them.
            let mut at = 0;
            for c in &got {
                for i in 0..c.len() {
                    let Some(e) = rows.get(at).and_then(|&r| events.get(r)) else {
                        unreachable!("more rows than selected")
                    };
                    assert_eq!(c.hashes.hash(i), Some(e.hash.as_str()));
                    assert_eq!(c.hashes.prev_hash(i), Some(e.prev_hash.as_str()));
                    at += 1;
                }
                assert_eq!(c.hashes.prev_hash(c.len()), None);
                assert_eq!(c.hashes.len(), c.len());
            }
        }
    }

    #[test]
    fn hashes_share_one_text_while_rows_follow_and_split_at_the_first_that_does_not() {
        let h = |c: char| c.to_string().repeat(4);
        let mut hashes = Hashes::default();
        assert_eq!(
            (hashes.len(), hashes.hash(0), hashes.prev_hash(0)),
            (0, None, None)
        );
        let put = |hashes: &mut Hashes, prev: char, hash: char| {
            hashes.push(&h(prev), |out| out.extend_from_slice(h(hash).as_bytes()));
        };
        put(&mut hashes, 'a', 'b');
        put(&mut hashes, 'b', 'c');
        put(&mut hashes, 'c', 'd');
        let HashTexts::Shared(text) = hashes.clone().into_texts() else {
            unreachable!("a chain is shared")
        };
        assert_eq!(text.bytes, b"aaaabbbbccccdddd");
        assert_eq!(text.offsets, [0, 4, 8, 12, 16]);
        // A row whose prev_hash is not the last hash splits the texts.
        put(&mut hashes, 'x', 'y');
        put(&mut hashes, 'y', 'z');
        let want = [
            ("aaaa", "bbbb"),
            ("bbbb", "cccc"),
            ("cccc", "dddd"),
            ("xxxx", "yyyy"),
        ];
        for (i, (prev, hash)) in want.iter().chain([&("yyyy", "zzzz")]).enumerate() {
            assert_eq!(hashes.prev_hash(i), Some(*prev), "row {i}");
            assert_eq!(hashes.hash(i), Some(*hash), "row {i}");
        }
        assert_eq!(hashes.len(), 5);
        let HashTexts::Split { prev_hash, hash } = hashes.into_texts() else {
            unreachable!("a gap splits")
        };
        assert_eq!(prev_hash.bytes, b"aaaabbbbccccxxxxyyyy");
        assert_eq!(hash.bytes, b"bbbbccccddddyyyyzzzz");
        assert_eq!(hash.offsets, [0, 4, 8, 12, 16, 20]);
    }

    #[test]
    fn nulls_are_marked_only_once_one_appears() {
        let mut t = Text::default();
        t.push("a");
        assert!(t.valid.is_none());
        t.push_null();
        t.push("bc");
        assert_eq!(t.valid.as_deref(), Some(&[true, false, true][..]));
        assert_eq!(t.offsets, [0, 1, 1, 3]);
        assert_eq!(
            (t.get(0), t.get(1), t.get(2)),
            (Some("a"), None, Some("bc"))
        );
    }
}
