//! The part of a journal before a snapshot's resume point, read on demand.
//!
//! A graph opened from a snapshot does not read the events before the snapshot's resume
//! point on open. They are read on first use, through a [`PrefixCursor`]: in order from
//! the journal's header, each line's CRC, each event's hash and its chain from the
//! header's anchor checked as it is read (with a key, each batch's MAC too), into the
//! same compact store. A query with a `limit` reads only until its first matches are
//! found among events it may hand out; the next read goes on from where the last one
//! stopped. Everything else (a query without a limit, `verify`, exports, `as_of`,
//! erasure, retention) reads to the resume point first, where the prefix must end at the
//! snapshot's own `seq` and hash and every seal must be named by an erasure, as before.
//!
//! What the cursor may hand out before it has read to the end: events chained from the
//! anchor, and with a key only those a valid batch MAC after the chain's trusted-from
//! point vouches for (a later MAC vouches for everything chained before it); none with a
//! seal no erasure read so far names; nothing once a seal fault was found (reading then
//! goes on to the end, so the error is the one a whole read gives). A fault met while
//! reading is the error of that read and of every read after it (the events before it,
//! checked, may still answer a query with a `limit`).
//!
//! The cursor reads the file it opened when the graph was opened (the inode, not the
//! path): appends go past the resume point and never reach it, a rewrite of this graph
//! (erasure, retention) reads the rest first, and a rewrite by another process makes the
//! graph reload the journal whole, dropping the cursor.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::decode::{complete_lines, stretches, Decoded, Fault};
use super::event::Event;
use super::journal::{batch_mac_ok, strip_crc, BatchError, Header};
use super::log::{Filter, Prefix, ReadPrefix, RowFilter, SealCheck};
use super::store::EventStore;
use crate::error::AuditError;
use crate::progress::{Meter, STOPPED};

/// Bytes of the first read; each read after it doubles, up to [`MAX_CHUNK`].
const FIRST_CHUNK: u64 = 128 * 1024;
/// The largest partial read: a query that needs more reads the rest at once, as a whole
/// read does (decoding the next stretch while the one before is stored).
const MAX_CHUNK: u64 = 8 * 1024 * 1024;
/// Lines per stretch of a read to the end: one stretch of full events is held at a time.
const STRETCH: usize = 16_384;

/// What reading the header found: the chain's start and the graph (for MACs).
#[derive(Debug)]
struct Start {
    base_seq: u64,
    anchor: String,
    graph_id: String,
}

/// A resumable, checked read of a journal up to a snapshot's resume point.
#[derive(Debug)]
pub struct PrefixCursor {
    path: PathBuf,
    /// The journal as opened with the graph; `None`: opened (by path) on first read.
    file: Option<File>,
    /// The resume point: the prefix is the bytes before it.
    end: u64,
    /// The digest of the header the snapshot was accepted for.
    header_digest: String,
    /// The snapshot's `seq` and hash, where the prefix must end.
    target: (u64, String),
    /// With a key: batches ending after `trusted_from` must carry its MAC to vouch.
    key: Option<Vec<u8>>,
    trusted_from: u64,
    start: Option<Start>,
    /// Bytes and lines read so far (header included).
    pos: u64,
    lines: u64,
    /// The last event read: `seq`, hash.
    last: (u64, String),
    /// How many of the events read may be handed out.
    vouched: usize,
    seals: SealCheck,
    seal_fault: Option<AuditError>,
    events: EventStore,
    /// The first fault: the error of every read from then on.
    fault: Option<AuditError>,
    chunk: u64,
    done: bool,
}

impl PrefixCursor {
    /// A cursor over `path` up to `end`, whose header must have `header_digest` and whose
    /// events must end at `target`; `key`: the journal's key (nothing is vouched for
    /// before the end until [`PrefixCursor::trust_from`] says which batches carry MACs).
    pub fn new(
        path: &Path,
        end: u64,
        header_digest: String,
        target: (u64, String),
        key: Option<&[u8]>,
    ) -> Self {
        PrefixCursor {
            path: path.to_owned(),
            file: File::open(path).ok(),
            end,
            header_digest,
            target,
            key: key.map(<[u8]>::to_vec),
            trusted_from: u64::MAX,
            start: None,
            pos: 0,
            lines: 0,
            last: (0, String::new()),
            vouched: 0,
            seals: SealCheck::default(),
            seal_fault: None,
            events: EventStore::default(),
            fault: None,
            chunk: FIRST_CHUNK,
            done: false,
        }
    }

    /// With a key, every batch ending after `seq` carries a MAC (the signed checkpoint's
    /// trusted-from point).
    pub fn trust_from(&mut self, seq: u64) {
        self.trusted_from = seq;
    }

    /// The events read so far, how many of them (the first ones) may be handed out, and
    /// the `seq` and hash they chain from.
    pub fn read_so_far(&self) -> (&EventStore, usize, u64, &str) {
        let (seq, anchor) = self
            .start
            .as_ref()
            .map_or((0, ""), |s| (s.base_seq, s.anchor.as_str()));
        (&self.events, self.vouched, seq, anchor)
    }

    /// Whether `e` has a seal no erasure read so far names (it may not be handed out
    /// yet), or a seal fault was found (nothing is handed out before the end).
    pub fn withheld(&self, e: &Event) -> bool {
        self.seal_fault.is_some()
            || e.seals()
                .iter()
                .any(|(_, pseudonym)| self.seals.is_open(pseudonym))
    }

    /// A seal fault was found: nothing is handed out before the end.
    pub fn seal_faulted(&self) -> bool {
        self.seal_fault.is_some()
    }

    /// Read to the resume point, every check passed.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Reads on: the next chunk of lines, twice as large as the last; after the largest,
    /// the rest.
    pub fn read_more(&mut self, meter: &mut Meter<'_>) -> Result<(), AuditError> {
        let whole = self.chunk > MAX_CHUNK;
        self.guarded(meter, whole)
    }

    /// Reads the rest, up to the resume point, in stretches decoded in parallel.
    pub fn read_to_end(&mut self, meter: &mut Meter<'_>) -> Result<(), AuditError> {
        self.guarded(meter, true)
    }

    /// The whole prefix, read to the end: the events are moved out when `only` (no one
    /// else holds the cursor), else copied.
    pub fn prefix(&mut self, meter: &mut Meter<'_>, only: bool) -> Result<Prefix, AuditError> {
        self.read_to_end(meter)?;
        let events = if only {
            std::mem::take(&mut self.events)
        } else {
            self.events.clone()
        };
        Ok(Prefix {
            events,
            end: self.last.clone(),
        })
    }

    fn guarded(&mut self, meter: &mut Meter<'_>, whole: bool) -> Result<(), AuditError> {
        if let Some(f) = &self.fault {
            return Err(f.clone());
        }
        if self.done {
            return Ok(());
        }
        let r = self.step(meter, whole);
        match &r {
            // A progress hook's stop is not the journal's fault: reading can go on later.
            Err(AuditError::Io(m)) if m == STOPPED => {}
            Err(e) => self.fault = Some(e.clone()),
            Ok(()) => {}
        }
        r
    }

    fn io(&self, e: &std::io::Error) -> AuditError {
        AuditError::Io(format!("{}: {e}", self.path.display()))
    }

    fn bad(&self, line: u64, seq: u64, reason: &str) -> AuditError {
        AuditError::Integrity {
            seq,
            reason: format!("{}, line {line}: {reason}", self.path.display()),
        }
    }

    fn moved(&self) -> AuditError {
        AuditError::Integrity {
            seq: self.target.0,
            reason: "the journal no longer leads to the snapshot it was opened from".into(),
        }
    }

    /// Bytes `from .. to` of the file, fewer if it ends before `to`.
    fn read(&mut self, from: u64, to: u64) -> Result<Vec<u8>, AuditError> {
        if self.file.is_none() {
            self.file = Some(File::open(&self.path).map_err(|e| self.io(&e))?);
        }
        let n = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
        let mut buf = vec![0; n];
        let mut got = 0;
        while got < n {
            let read = match &self.file {
                Some(f) => f.read_at(buf.get_mut(got..).unwrap_or_default(), from + got as u64),
                None => Ok(0),
            };
            match read {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(&e)),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    fn read_header(&mut self) -> Result<(), AuditError> {
        let mut upto = FIRST_CHUNK.min(self.end);
        let line = loop {
            let buf = self.read(0, upto)?;
            if let Some(i) = memchr::memchr(b'\n', &buf) {
                let mut buf = buf;
                buf.truncate(i);
                break buf;
            }
            if upto >= self.end || (buf.len() as u64) < upto {
                return Err(self.bad(1, 0, "unreadable header"));
            }
            upto = (upto * 2).min(self.end);
        };
        let text = std::str::from_utf8(&line).map_err(|_| self.bad(1, 0, "unreadable header"))?;
        if Header::digest(text) != self.header_digest {
            return Err(self.moved());
        }
        let head = strip_crc(text)
            .ok()
            .and_then(|j| serde_json::from_str::<Header>(&j).ok())
            .ok_or_else(|| self.bad(1, 0, "unreadable header"))?;
        self.pos = line.len() as u64 + 1;
        self.lines = 1;
        self.last = (head.base_seq, head.anchor.clone());
        self.seals = SealCheck::new(head.base_seq);
        self.start = Some(Start {
            base_seq: head.base_seq,
            anchor: head.anchor,
            graph_id: head.graph_id,
        });
        Ok(())
    }

    fn step(&mut self, meter: &mut Meter<'_>, whole: bool) -> Result<(), AuditError> {
        if self.start.is_none() {
            self.read_header()?;
        }
        let mut upto = if whole {
            self.end
        } else {
            (self.pos + self.chunk).min(self.end)
        };
        loop {
            let bytes = self.read(self.pos, upto)?;
            // The file ends before the resume point (cut or replaced): read what is there,
            // the end's checks then say it no longer leads to the snapshot.
            let short = (bytes.len() as u64) < upto - self.pos;
            let (lines, _) = complete_lines(&bytes);
            if lines.is_empty() && !short && upto < self.end {
                upto = (upto + self.chunk).min(self.end);
                continue;
            }
            self.events.reserve(lines.len());
            if whole {
                let mut result = Ok(());
                let from = self.last.clone();
                stretches(&lines, &from, STRETCH, |at, decoded| {
                    let len = decoded_lines(&lines, at, &decoded);
                    result = self.take(decoded, len, meter);
                    result.is_ok()
                });
                result?;
            } else if !lines.is_empty() {
                let decoded = super::decode::lines(&lines, &self.last);
                let len = decoded_lines(&lines, 0, &decoded);
                self.take(decoded, len, meter)?;
            }
            if short || upto >= self.end {
                // A partial line before the resume point is not read (as a whole read
                // never did): the end's checks below fail on it.
                self.pos = self.end;
            }
            break;
        }
        self.chunk *= 2;
        if self.pos < self.end {
            return Ok(());
        }
        // The end: what a whole read checks there, in its order.
        if let Some(e) = self.seal_fault.take() {
            return Err(e);
        }
        std::mem::take(&mut self.seals).finish()?;
        if self.last != self.target {
            return Err(self.moved());
        }
        self.events.shrink_to_fit();
        self.vouched = self.events.len();
        self.done = true;
        Ok(())
    }

    /// Takes one decoded run of lines (`bytes` of the file, newlines included): its events
    /// into the store, checked; the run's fault, if any, is the error.
    fn take(
        &mut self,
        (batches, fault): Decoded,
        bytes: u64,
        meter: &mut Meter<'_>,
    ) -> Result<(), AuditError> {
        let first_line = self.lines + 1;
        let n = batches.len() as u64;
        let graph_id = self.start.as_ref().map_or("", |s| s.graph_id.as_str());
        for batch in batches {
            let vouches = match &self.key {
                None => true,
                Some(key) => {
                    let end = batch.events.last().map_or(0, |e| e.seq);
                    end > self.trusted_from && batch_mac_ok(key, graph_id, &batch)
                }
            };
            for e in batch.events {
                if self.seal_fault.is_none() {
                    self.seal_fault = self.seals.push(&e).err();
                }
                self.events.push(&e);
                self.last = (e.seq, e.hash);
            }
            if vouches {
                self.vouched = self.events.len();
            }
        }
        self.pos += bytes;
        self.lines += n;
        if let Some((i, fault)) = fault {
            let line = first_line + i as u64;
            let first = self.last.0 + 1;
            return Err(match fault {
                Fault::NotUtf8 => self.bad(line, first, "not UTF-8"),
                Fault::Batch(BatchError::Checksum) => {
                    self.bad(line, first, "checksum does not match")
                }
                Fault::Batch(BatchError::Event(seq, m)) => self.bad(line, seq, &m),
                Fault::Batch(BatchError::Format(m) | BatchError::Chain(m)) => {
                    self.bad(line, first, &m)
                }
            });
        }
        let read = self.events.len() as u64;
        if meter.at(read).is_err() {
            return Err(AuditError::Io(STOPPED.to_owned()));
        }
        Ok(())
    }
}

/// The bytes (newlines included) of the lines a decoded run read, from line `at` on:
/// all of them, or those before its fault.
fn decoded_lines(lines: &[&[u8]], at: usize, decoded: &Decoded) -> u64 {
    let n = decoded.1.as_ref().map_or(decoded.0.len(), |(i, _)| *i);
    lines
        .get(at..at + n)
        .unwrap_or_default()
        .iter()
        .map(|l| l.len() as u64 + 1)
        .sum()
}

impl ReadPrefix for parking_lot::Mutex<PrefixCursor> {
    fn read(&self, meter: &mut Meter<'_>, only: bool) -> Result<Prefix, AuditError> {
        self.lock().prefix(meter, only)
    }

    fn select(&self, filter: &Filter) -> Result<Option<Vec<Event>>, AuditError> {
        let Some(limit) = filter.limit else {
            return Ok(None);
        };
        let rows = RowFilter::new(filter);
        let mut cursor = self.lock();
        let mut found = Vec::new();
        let mut i = 0;
        loop {
            if cursor.seal_faulted() {
                return Ok(None);
            }
            let (events, usable, base_seq, anchor) = cursor.read_so_far();
            while i < usable && found.len() < limit {
                if rows.matches(events, i) {
                    let Some(e) = events.get(i, base_seq, anchor) else {
                        return Ok(None);
                    };
                    if cursor.withheld(&e) {
                        // Its seal is vouched for by an erasure not read yet.
                        break;
                    }
                    found.push(e);
                }
                i += 1;
            }
            if found.len() >= limit {
                return Ok(Some(found));
            }
            if cursor.done() {
                return Ok(None);
            }
            cursor.read_more(&mut Meter::none())?;
        }
    }
}
