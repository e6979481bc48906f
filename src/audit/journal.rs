//! The journal: an append-only JSON-Lines file of audit events, written before each
//! mutation is applied, replayed on open.
//!
//! File layout: line 1 is a header naming the graph (`graph_id`) and the chain's anchor
//! (and, after retention pruning, the state the remaining events start from); every other
//! line is one event. Each line ends with a CRC-32 of itself (`"crc":"…"`) so a line cut
//! short by a crash is told apart from an altered one.
//!
//! Storage sits behind [`JournalStore`] (append, read on from where it left off, lock,
//! replace), so a database-backed store can follow without touching the graph.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::event::{parse_event, strip_crc, with_crc, Event, LineError};
use crate::error::AuditError;

/// Line 1 of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Format version (1).
    pub accessgraph_journal: u32,
    /// The graph this journal belongs to.
    pub graph_id: String,
    /// `seq` of the event before the first one in the file.
    pub base_seq: u64,
    /// `prev_hash` of the first event in the file.
    pub anchor: String,
    /// The state after event `base_seq` (a JSON snapshot), present after pruning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_state: Option<Value>,
    /// How many erasures rewrote this journal (a snapshot older than the last one is stale).
    #[serde(default)]
    pub erasures: u64,
}

impl Header {
    /// The header's record line.
    pub fn to_line(&self) -> String {
        with_crc(serde_json::to_string(self).unwrap_or_default())
    }
}

/// One record read from a store, with its 1-based line number.
#[derive(Debug, Clone)]
pub struct Record {
    /// Line number in the file.
    pub line: u64,
    /// The event.
    pub event: Event,
}

/// What reading on from the last position found.
#[derive(Debug)]
pub enum Fresh {
    /// Records appended since the last read (maybe none).
    Records(Vec<Record>),
    /// The journal was rewritten (pruned, erased) by someone else: reload it whole.
    Replaced,
}

/// A journal's storage. The graph calls it under its own write serialisation.
pub trait JournalStore: Send {
    /// Takes the writers' lock (exclusive across processes), blocking.
    fn lock(&mut self) -> Result<(), AuditError>;
    /// Takes the readers' lock (shared), blocking.
    fn lock_shared(&mut self) -> Result<(), AuditError>;
    /// Releases either lock.
    fn unlock(&mut self);
    /// Records appended since the last read or append; a torn tail is cut off when
    /// `repair` (only under the writers' lock) and otherwise left for later.
    fn read_fresh(&mut self, repair: bool) -> Result<Fresh, AuditError>;
    /// Appends record lines (one write); returns the end offset.
    fn append(&mut self, lines: &str) -> std::io::Result<u64>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
    /// Atomically replaces the whole journal (header line + records).
    fn replace(&mut self, contents: &str) -> std::io::Result<()>;
    /// Records that the journal now reaches `seq` with `hash` (the signed checkpoint).
    fn checkpoint(&mut self, seq: u64, hash: &str) -> std::io::Result<()>;
    /// A handle whose `sync_data` makes appended records durable (for group commit).
    fn sync_handle(&self) -> Option<File>;
    /// The byte offset just past the record with this `seq`, for snapshots.
    fn offset(&self) -> u64;
    /// The number of lines read or written so far.
    fn lines(&self) -> u64;
    /// True (a file) when a failed append or sync leaves the journal in doubt, so the
    /// graph stops accepting mutations; false for a store that itself decides what was
    /// committed (a database): the mutation fails, and the next catch-up reads back
    /// whatever did commit.
    fn fail_stop(&self) -> bool {
        true
    }
    /// After `read_fresh` said `Replaced`, the journal read again whole (state and log) by
    /// a store that is not a file; `None`: the graph reopens its file itself.
    fn reload(&mut self) -> Result<Option<(crate::state::State, super::log::Log)>, AuditError> {
        Ok(None)
    }
    /// The store itself, for what only one kind of store does (database snapshots).
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }
}

/// How the journal is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `fdatasync` after every mutation, before the call returns (the default).
    #[default]
    Fsync,
    /// Group commit: records are written before the change is applied; concurrent
    /// mutations share one `fdatasync`, and each call returns once its records are on
    /// disk. Readers may see a change a moment before it is durable.
    Group,
    /// No `fsync`: records reach the OS before the call returns, which survives a process
    /// crash but not a power loss.
    Os,
}

/// Where a snapshot says to start reading.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Byte offset just past the snapshot's last event.
    pub offset: u64,
    /// Lines up to that offset.
    pub lines: u64,
    /// That event's `seq`.
    pub seq: u64,
    /// That event's hash.
    pub hash: String,
}

/// A journal file.
pub struct FileJournal {
    path: PathBuf,
    file: File,
    ino: (u64, u64),
    offset: u64,
    lines: u64,
    hmac_key: Option<Vec<u8>>,
    graph_id: String,
}

impl std::fmt::Debug for FileJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileJournal")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// What opening a journal found.
#[derive(Debug)]
pub struct Opened {
    /// The store, positioned after the last record.
    pub journal: FileJournal,
    /// Line 1.
    pub header: Header,
    /// The events read (all, or those after the snapshot's).
    pub records: Vec<Record>,
    /// A torn tail that was cut off: what was cut.
    pub recovered: Option<String>,
    /// True when reading started at the snapshot's resume point.
    pub resumed: bool,
}

fn io_err(path: &Path, e: &std::io::Error) -> AuditError {
    AuditError::Io(format!("{}: {e}", path.display()))
}

fn journal_err(path: &Path, line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Journal {
        path: path.display().to_string(),
        line,
        reason: reason.into(),
    }
}

fn checkpoint_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".checkpoint");
    PathBuf::from(p)
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// The signed checkpoint: the journal of `graph_id` reaches event `seq` with `hash`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Checkpoint {
    pub(crate) graph_id: String,
    pub(crate) seq: u64,
    pub(crate) hash: String,
    hmac: String,
}

impl Checkpoint {
    /// The record a store keeps (a file beside the journal, a row in a database).
    pub(crate) fn signed(key: &[u8], graph_id: &str, seq: u64, hash: &str) -> String {
        let cp = Checkpoint {
            hmac: sign(key, graph_id, seq, hash),
            graph_id: graph_id.to_owned(),
            seq,
            hash: hash.to_owned(),
        };
        serde_json::to_string(&cp).unwrap_or_default()
    }

    /// Reads a record; `Err` says why it cannot be trusted (unreadable, or not signed
    /// with `key`).
    pub(crate) fn verified(key: &[u8], text: &str) -> Result<Checkpoint, String> {
        let cp: Checkpoint =
            serde_json::from_str(text).map_err(|e| format!("signed checkpoint unreadable: {e}"))?;
        let good = hex::decode(&cp.hmac).is_ok_and(|tag| {
            <Hmac<Sha256> as KeyInit>::new_from_slice(key).is_ok_and(|mut mac| {
                mac.update(
                    format!(
                        "accessgraph/checkpoint/v1\0{}\0{}\0{}",
                        cp.graph_id, cp.seq, cp.hash
                    )
                    .as_bytes(),
                );
                mac.verify_slice(&tag).is_ok()
            })
        });
        if !good || sign(key, &cp.graph_id, cp.seq, &cp.hash).is_empty() {
            return Err(
                "the signed checkpoint does not verify with this key (wrong key or forged)".into(),
            );
        }
        Ok(cp)
    }
}

fn sign(key: &[u8], graph_id: &str, seq: u64, hash: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("accessgraph/checkpoint/v1\0{graph_id}\0{seq}\0{hash}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Splits `buf` into complete lines (each ending in `\n`) and a trailing partial line.
fn complete_lines(buf: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::new();
    let mut rest = buf;
    while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
        let (line, after) = rest.split_at(pos);
        lines.push(line);
        rest = after.get(1..).unwrap_or_default();
    }
    (lines, rest)
}

fn parse_line(path: &Path, line_no: u64, raw: &[u8]) -> Result<String, AuditError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| journal_err(path, line_no, "the record is not UTF-8"))?;
    strip_crc(text).map_err(|e| match e {
        LineError::Checksum => journal_err(
            path,
            line_no,
            "the record's checksum does not match (altered or damaged)",
        ),
        LineError::Format(m) => journal_err(path, line_no, m),
    })
}

fn parse_records(path: &Path, first_line: u64, lines: &[&[u8]]) -> Result<Vec<Record>, AuditError> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, raw) in lines.iter().enumerate() {
        let line = first_line + i as u64;
        let json = parse_line(path, line, raw)?;
        let event = parse_event(&json).map_err(|e| {
            journal_err(
                path,
                line,
                match e {
                    LineError::Format(m) => format!("not an audit event: {m}"),
                    LineError::Checksum => "checksum".into(),
                },
            )
        })?;
        out.push(Record { line, event });
    }
    Ok(out)
}

/// Bytes `[start, end)` of the file.
fn read_at(file: &mut File, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(end.saturating_sub(start)).unwrap_or(0));
    Read::by_ref(file)
        .take(end.saturating_sub(start))
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// Line 1 without its newline, or `None` when it is incomplete.
fn read_header_line(file: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    file.seek(SeekFrom::Start(0))?;
    let mut line = Vec::new();
    BufReader::new(Read::by_ref(file)).read_until(b'\n', &mut line)?;
    Ok(line.pop().filter(|&b| b == b'\n').map(|_| line))
}

/// Does the record ending at the snapshot's offset carry the snapshot's `seq` and hash?
/// Reads only that record: a window before the offset, widened until it holds the
/// record's start.
fn resume_point_holds(
    file: &mut File,
    body_start: u64,
    len: u64,
    r: &Resume,
) -> std::io::Result<bool> {
    let end = r.offset;
    if end <= body_start || end > len {
        return Ok(false);
    }
    let holds = |raw: &[u8]| {
        std::str::from_utf8(raw)
            .ok()
            .and_then(|t| strip_crc(t).ok())
            .and_then(|j| parse_event(&j).ok())
            .is_some_and(|e| e.seq == r.seq && e.hash == r.hash)
    };
    let mut window = 4096_u64;
    loop {
        let from = end.saturating_sub(window).max(body_start);
        let buf = read_at(file, from, end)?;
        let Some((&b'\n', head)) = buf.split_last() else {
            return Ok(false);
        };
        match head.iter().rposition(|&b| b == b'\n') {
            Some(p) => return Ok(holds(head.get(p + 1..).unwrap_or_default())),
            None if from == body_start => return Ok(holds(head)),
            None => window = window.saturating_mul(8),
        }
    }
}

/// Checks that `records` chain on from (`seq`, `hash`); errors name the line.
pub fn check_chain(
    path: &Path,
    seq: u64,
    hash: &str,
    records: &[Record],
) -> Result<(), AuditError> {
    let mut prev = hash.to_owned();
    for (expect, r) in (seq + 1..).zip(records) {
        let e = &r.event;
        if e.seq != expect {
            return Err(journal_err(
                path,
                r.line,
                format!("expected event {expect}, found event {} (events missing, repeated or reordered)", e.seq),
            ));
        }
        if e.prev_hash != prev {
            return Err(journal_err(
                path,
                r.line,
                format!(
                    "event {} does not chain to the event before it (spliced or altered)",
                    e.seq
                ),
            ));
        }
        e.check()
            .map_err(|b| journal_err(path, r.line, format!("event {}: {b}", e.seq)))?;
        prev.clone_from(&e.hash);
    }
    Ok(())
}

impl FileJournal {
    /// Opens (or creates) the journal at `path` under the writers' lock: repairs a torn
    /// tail, verifies every record read, and checks the signed checkpoint when a key is
    /// given. Any damage other than a torn tail leaves the file untouched.
    pub fn open(
        path: &Path,
        hmac_key: Option<&[u8]>,
        resume: Option<&Resume>,
    ) -> Result<Opened, AuditError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| io_err(path, &e))?;
        file.lock().map_err(|e| io_err(path, &e))?;
        let result = Self::open_locked(path, &mut file, hmac_key, resume);
        let _ = file.unlock();
        let (header, records, recovered, offset, lines, resumed) = result?;
        let meta = file.metadata().map_err(|e| io_err(path, &e))?;
        let journal = FileJournal {
            path: path.to_owned(),
            file,
            ino: (meta.dev(), meta.ino()),
            offset,
            lines,
            hmac_key: hmac_key.map(<[u8]>::to_vec),
            graph_id: header.graph_id.clone(),
        };
        Ok(Opened {
            journal,
            header,
            records,
            recovered,
            resumed,
        })
    }

    #[expect(
        clippy::type_complexity,
        reason = "the loaded parts of a journal, named once where they are returned"
    )]
    fn open_locked(
        path: &Path,
        file: &mut File,
        hmac_key: Option<&[u8]>,
        resume: Option<&Resume>,
    ) -> Result<(Header, Vec<Record>, Option<String>, u64, u64, bool), AuditError> {
        let len = file.metadata().map_err(|e| io_err(path, &e))?.len();
        if len == 0 {
            if hmac_key.is_some() && checkpoint_path(path).exists() {
                return Err(journal_err(
                    path,
                    1,
                    "the journal is empty but its signed checkpoint records events: truncated",
                ));
            }
            let graph_id =
                hex::encode(super::event::random_bytes(16).map_err(|e| io_err(path, &e))?);
            let header = Header {
                accessgraph_journal: 1,
                anchor: super::event::genesis(&graph_id),
                graph_id,
                base_seq: 0,
                base_state: None,
                erasures: 0,
            };
            let line = header.to_line();
            file.write_all(line.as_bytes())
                .and_then(|()| file.sync_all())
                .and_then(|()| sync_dir(path))
                .map_err(|e| io_err(path, &e))?;
            return Ok((header, Vec::new(), None, line.len() as u64, 1, false));
        }
        // The header, then either everything or only the part after the snapshot.
        let head = read_header_line(file).map_err(|e| io_err(path, &e))?;
        let head = head.ok_or_else(|| {
            journal_err(
                path,
                1,
                "the header line is incomplete: not a journal, or torn at creation",
            )
        })?;
        let header_json = parse_line(path, 1, &head)?;
        let header: Header = serde_json::from_str(&header_json)
            .map_err(|e| journal_err(path, 1, format!("not an accessgraph journal header: {e}")))?;
        if header.accessgraph_journal != 1 {
            return Err(journal_err(
                path,
                1,
                format!(
                    "journal format {} is not supported (expected 1)",
                    header.accessgraph_journal
                ),
            ));
        }
        let body_start = head.len() as u64 + 1;
        let resume = match resume {
            Some(r)
                if resume_point_holds(file, body_start, len, r)
                    .map_err(|e| io_err(path, &e))? =>
            {
                Some(r)
            }
            _ => None,
        };
        let resumed = resume.is_some();
        let (start, first_line, seq, hash) = match resume {
            Some(r) => (r.offset, r.lines + 1, r.seq, r.hash.clone()),
            None => (body_start, 2, header.base_seq, header.anchor.clone()),
        };
        let body = read_at(file, start, len).map_err(|e| io_err(path, &e))?;
        let (lines, tail) = complete_lines(&body);
        let records = parse_records(path, first_line, &lines)?;
        check_chain(path, seq, &hash, &records)?;
        let last = records
            .last()
            .map_or((seq, hash.clone()), |r| (r.event.seq, r.event.hash.clone()));
        if let Some(key) = hmac_key {
            Self::check_checkpoint(path, key, &header, &records, &last, resume)?;
        }
        let complete = start + (body.len() - tail.len()) as u64;
        let recovered = if tail.is_empty() {
            None
        } else {
            file.set_len(complete)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_err(path, &e))?;
            Some(format!(
                "{}: cut off a torn record of {} bytes at line {} (a write interrupted by a crash); every complete record was kept",
                path.display(),
                tail.len(),
                first_line + lines.len() as u64
            ))
        };
        Ok((
            header,
            records,
            recovered,
            complete,
            first_line - 1 + lines.len() as u64,
            resumed,
        ))
    }

    fn check_checkpoint(
        path: &Path,
        key: &[u8],
        header: &Header,
        records: &[Record],
        last: &(u64, String),
        resume: Option<&Resume>,
    ) -> Result<(), AuditError> {
        let cp_path = checkpoint_path(path);
        let text = match std::fs::read_to_string(&cp_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if last.0 == header.base_seq {
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
        let cp = Checkpoint::verified(key, &text).map_err(|why| journal_err(path, 1, why))?;
        if cp.graph_id != header.graph_id {
            return Err(journal_err(
                path,
                1,
                "the signed checkpoint belongs to another graph",
            ));
        }
        let end_line = records.last().map_or(1, |r| r.line);
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
        let found = if cp.seq == last.0 {
            Some(last.1.as_str())
        } else {
            records
                .iter()
                .find(|r| r.event.seq == cp.seq)
                .map(|r| r.event.hash.as_str())
                .or_else(|| resume.filter(|r| r.seq == cp.seq).map(|r| r.hash.as_str()))
        };
        match found {
            Some(h) if h == cp.hash => Ok(()),
            // Before a snapshot's resume point: vouched for by the snapshot's anchor.
            None if resume.is_some_and(|r| cp.seq < r.seq) => Ok(()),
            _ => {
                let line = records
                    .iter()
                    .find(|r| r.event.seq == cp.seq)
                    .map_or(1, |r| r.line);
                Err(journal_err(
                    path,
                    line,
                    format!(
                        "event {} differs from the signed checkpoint: the chain was rewritten",
                        cp.seq
                    ),
                ))
            }
        }
    }

    fn identity_changed(&self) -> bool {
        std::fs::metadata(&self.path).map_or(true, |m| (m.dev(), m.ino()) != self.ino)
    }
}

impl JournalStore for FileJournal {
    fn lock(&mut self) -> Result<(), AuditError> {
        self.file.lock().map_err(|e| io_err(&self.path, &e))
    }

    fn lock_shared(&mut self) -> Result<(), AuditError> {
        self.file.lock_shared().map_err(|e| io_err(&self.path, &e))
    }

    fn unlock(&mut self) {
        let _ = self.file.unlock();
    }

    fn read_fresh(&mut self, repair: bool) -> Result<Fresh, AuditError> {
        if self.identity_changed() {
            return Ok(Fresh::Replaced);
        }
        let len = self
            .file
            .metadata()
            .map_err(|e| io_err(&self.path, &e))?
            .len();
        if len < self.offset {
            return Ok(Fresh::Replaced);
        }
        if len == self.offset {
            return Ok(Fresh::Records(Vec::new()));
        }
        let mut buf = Vec::new();
        self.file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&self.file).read_to_end(&mut buf))
            .map_err(|e| io_err(&self.path, &e))?;
        let (lines, tail) = complete_lines(&buf);
        let records = parse_records(&self.path, self.lines + 1, &lines)?;
        let consumed = (buf.len() - tail.len()) as u64;
        if repair && !tail.is_empty() {
            // Under the writers' lock nobody is writing: this is a crashed writer's tail.
            self.file
                .set_len(self.offset + consumed)
                .and_then(|()| self.file.sync_all())
                .map_err(|e| io_err(&self.path, &e))?;
        }
        self.offset += consumed;
        self.lines += lines.len() as u64;
        Ok(Fresh::Records(records))
    }

    fn append(&mut self, lines: &str) -> std::io::Result<u64> {
        self.file.write_all(lines.as_bytes())?;
        self.offset += lines.len() as u64;
        self.lines += lines.bytes().filter(|&b| b == b'\n').count() as u64;
        Ok(self.offset)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn replace(&mut self, contents: &str) -> std::io::Result<()> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".rewrite");
        let tmp = PathBuf::from(tmp);
        {
            let mut f = File::create(&tmp)?;
            f.write_all(contents.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        // Keep holding the writers' lock on the new file (the caller unlocks it).
        file.lock()?;
        let _ = self.file.unlock();
        let meta = file.metadata()?;
        self.file = file;
        self.ino = (meta.dev(), meta.ino());
        self.offset = contents.len() as u64;
        self.lines = contents.bytes().filter(|&b| b == b'\n').count() as u64;
        Ok(())
    }

    fn checkpoint(&mut self, seq: u64, hash: &str) -> std::io::Result<()> {
        let Some(key) = &self.hmac_key else {
            return Ok(());
        };
        let record = Checkpoint::signed(key, &self.graph_id, seq, hash);
        let path = checkpoint_path(&self.path);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, record)?;
        // Not fsync'd: a checkpoint lost in a crash is an older one, which the journal
        // (synced first) still reaches.
        std::fs::rename(&tmp, &path)
    }

    fn sync_handle(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn lines(&self) -> u64 {
        self.lines
    }
}

impl FileJournal {
    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
