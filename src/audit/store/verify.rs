//! Verifying the compact store: every event's hash recomputed from its row, without
//! rebuilding events, in parallel stretches for a long log, and reported to a progress
//! meter when one listens.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Number, Value};

use super::super::digest::{
    chain_hash, commit_bytes, derive_salt, is_personal_key, push_commitment, push_hex, push_index,
    push_iso, push_token,
};
use super::super::event::Broken;
use super::super::personal::{is_builtin, target_is_personal};
use super::{
    hex_array, Cursor, EventStore, Row, ARRAY, FALSE, FLOAT, INT, OBJECT, SEED, STR, TRUE, UINT,
};
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

impl EventStore {
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
    pub(super) fn verify_metered_in(
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
    pub(super) fn verify_in(
        &self,
        parts: usize,
        base_seq: u64,
        anchor: &str,
    ) -> Result<(), (u64, Broken)> {
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

    pub(super) fn skip_object(c: &mut Cursor<'_>) {
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
