//! The events as columns, in Arrow's memory layout but without Arrow's types: what
//! `to_arrow()` and `to_pandas()` hand to Python without building an object per event.
//!
//! A text column is one byte buffer and the offsets of each row's end in it (Arrow's
//! `large_utf8`); numbers are plain vectors. The binding layer wraps these buffers in
//! Arrow arrays without copying them.

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
    /// `prev_hash`, hex.
    pub prev_hash: Text,
    /// `hash`, hex.
    pub hash: Text,
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

    /// Empty columns with room for `rows` rows (the hashes' exact size, a guess for
    /// the rest).
    pub fn with_capacity(rows: usize) -> Self {
        let text = |per_row: usize| Text::with_capacity(rows, rows * per_row);
        Columns {
            seq: Vec::with_capacity(rows),
            at: Vec::with_capacity(rows),
            actor: text(24),
            action: text(12),
            target: text(16),
            user: text(24),
            details: text(64),
            prev_hash: text(64),
            hash: text(64),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
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
        self.prev_hash.push(&e.prev_hash);
        self.hash.push(&e.hash);
    }
}

/// Writes `s` as a JSON string, as `serde_json` does; most strings need no escape and
/// are copied as they are.
fn push_json_text(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// The table read straight from the compact store.
impl EventStore {
    /// Appends event `i`'s row to `cols` (numbered after `base_seq`, chained after
    /// `anchor`), read from the row and the arena without rebuilding the event;
    /// `user_key` is [`EventStore::user_key`].
    pub fn push_row(
        &self,
        i: usize,
        base_seq: u64,
        anchor: &str,
        user_key: Option<u32>,
        cols: &mut Columns,
    ) {
        let Some(row) = self.rows.get(i) else {
            return;
        };
        cols.seq
            .push(i64::try_from(base_seq + 1 + i as u64).unwrap_or(i64::MAX));
        cols.at.push(row.at);
        cols.actor.push(self.strings.get(row.actor));
        cols.action.push(self.strings.get(row.action));
        cols.target.push(self.strings.get(row.target));
        // `details["user"]` is found while the details are written.
        let mut user = None;
        let mut c = self.cursor(row);
        cols.details.push_with(|out| {
            let n = c.varint();
            out.push(b'{');
            for k in 0..n {
                if k > 0 {
                    out.push(b',');
                }
                let key = c.id();
                push_json_text(out, self.strings.get(key));
                out.push(b':');
                if Some(key) == user_key && c.bytes.get(c.at) == Some(&STR) {
                    let at = c.at;
                    c.byte();
                    user = Some(c.id());
                    c.at = at;
                }
                self.value_json(&mut c, out);
            }
            out.push(b'}');
        });
        match user {
            Some(u) => cols.user.push(self.strings.get(u)),
            None => cols.user.push_null(),
        }
        match i.checked_sub(1).and_then(|j| self.rows.get(j)) {
            Some(before) => cols.prev_hash.push_with(|out| push_hex(out, &before.hash)),
            None => cols.prev_hash.push(anchor),
        }
        cols.hash.push_with(|out| push_hex(out, &row.hash));
    }

    /// The id of `user` among the strings (the key of `details["user"]`), for
    /// [`EventStore::push_row`].
    pub fn user_key(&self) -> Option<u32> {
        self.strings.find("user")
    }

    /// Writes the object at `c` as compact JSON (its keys in stored order: sorted).
    fn object_json(&self, c: &mut Cursor<'_>, out: &mut Vec<u8>) {
        let n = c.varint();
        out.push(b'{');
        for k in 0..n {
            if k > 0 {
                out.push(b',');
            }
            push_json_text(out, self.strings.get(c.id()));
            out.push(b':');
            self.value_json(c, out);
        }
        out.push(b'}');
    }

    fn value_json(&self, c: &mut Cursor<'_>, out: &mut Vec<u8>) {
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
            STR => push_json_text(out, self.strings.get(c.id())),
            ARRAY => {
                let n = c.varint();
                out.push(b'[');
                for k in 0..n {
                    if k > 0 {
                        out.push(b',');
                    }
                    self.value_json(c, out);
                }
                out.push(b']');
            }
            OBJECT => self.object_json(c, out),
            _ => out.extend_from_slice(b"null"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_the_rows_in_order_and_match_the_events() {
        use crate::audit::event::genesis;
        use crate::audit::log::Log;
        let mut log = Log::new(genesis("g"));
        let mut prev = log.anchor.clone();
        for seq in 1..=23_u64 {
            let details =
                serde_json::json!({"user": format!("u{}@x.io", seq % 4), "n": seq, "t": "a\"b"});
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
        let mut expected = Columns::default();
        for e in log.iter() {
            expected.push_event(&e);
        }
        let rows: Vec<usize> = (0..23).collect();
        for parts in [1, 2, 3, 5] {
            let got = log.columns_in(&rows, parts);
            assert_eq!(got.len(), parts);
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
                        (&mut joined.prev_hash, &c.prev_hash),
                        (&mut joined.hash, &c.hash),
                    ] {
                        match text(from) {
                            Some(s) => to.push(&s),
                            None => to.push_null(),
                        }
                    }
                }
            }
            assert_eq!(joined, expected, "{parts} parts");
        }
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
