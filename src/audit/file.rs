//! The journal as a file (`Graph.open(path)`): opened and verified under the writers'
//! lock, appended one batch per mutation, cut back when a write fails, replaced
//! atomically by erasure and retention, and — with `hmac_key` — checked against the
//! signed checkpoint and each batch's MAC.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checkpoint::{Checkpoint, CheckpointFile};
use super::decode::complete_lines;

use super::event::{genesis, Event};
use super::files;
use super::journal::{batch_end, encode_batch, Fresh, Header, JournalStore, Record, FORMAT};
pub use super::read::RecordSink;
use super::read::{journal_err, Reader, Seen};
use crate::error::AuditError;

/// Generations of journal files, unique in the process: a store opened again after
/// another process's rewrite never reuses one, so a group commit's record of what it
/// synced (generation, offset) cannot be mistaken for the new file's.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn next_generation() -> u64 {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

/// Where a snapshot says to start reading.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Byte offset just past the snapshot's last batch.
    pub offset: u64,
    /// Lines up to that offset.
    pub lines: u64,
    /// That batch's last `seq`.
    pub seq: u64,
    /// That event's hash.
    pub hash: String,
}

/// The state of the file before the last append, to cut it back to.
#[derive(Debug, Clone)]
struct Mark {
    offset: u64,
    lines: u64,
    last: (u64, String),
}

/// A journal file.
pub struct FileJournal {
    path: PathBuf,
    file: Arc<File>,
    ino: (u64, u64),
    generation: u64,
    offset: u64,
    lines: u64,
    /// The last event read or written: where the chain goes on.
    last: (u64, String),
    before_append: Option<Mark>,
    /// Where the run of this store's own appends that ends at `offset` starts (none when
    /// the last bytes it knows of are another process's, or were read, not written).
    own_from: Option<u64>,
    /// Set by a cut: the counters no longer match the file, so the next read says
    /// `Replaced` and the graph reads the journal again.
    stale: bool,
    key: Option<Vec<u8>>,
    checkpoint: Option<CheckpointFile>,
    header_digest: String,
    trusted_from: u64,
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
    /// The store, positioned after the last batch.
    pub journal: FileJournal,
    /// Line 1.
    pub header: Header,
    /// The events read (all, or those after the snapshot's); empty when they went to a
    /// [`RecordSink`] instead ([`FileJournal::open_into`]).
    pub records: Vec<Record>,
    /// A torn tail that was cut off: its line and what was cut.
    pub recovered: Option<(u64, String)>,
    /// True when reading started at the snapshot's resume point.
    pub resumed: bool,
}

fn io_err(path: &Path, e: &std::io::Error) -> AuditError {
    AuditError::Io(format!("{}: {e}", path.display()))
}

/// Does the batch ending at the snapshot's offset end with the snapshot's `seq` and
/// hash? Reads only that line: a window before the offset, widened until it holds the
/// line's start.
fn resume_point_holds(file: &File, body_start: u64, len: u64, r: &Resume) -> std::io::Result<bool> {
    let end = r.offset;
    if end <= body_start || end > len {
        return Ok(false);
    }
    let holds = |raw: &[u8]| {
        std::str::from_utf8(raw)
            .ok()
            .and_then(batch_end)
            .is_some_and(|(seq, hash)| seq == r.seq && hash == r.hash)
    };
    let mut window = 4096_u64;
    loop {
        let from = end.saturating_sub(window).max(body_start);
        let buf = files::read_at(file, from, end)?;
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

/// How many times [`FileJournal::open`] takes the lock on a journal that keeps being
/// replaced under it before giving up.
const REOPENS: usize = 64;

impl FileJournal {
    /// Opens (or creates) the journal at `path` under the writers' lock: repairs a torn
    /// tail, verifies every batch read, and checks the signed checkpoint when a key is
    /// given (creating it on the first keyed open: trust on first use). Any damage other
    /// than a torn tail leaves the file byte-identical.
    pub fn open(
        path: &Path,
        key: Option<&[u8]>,
        resume: Option<&Resume>,
    ) -> Result<Opened, AuditError> {
        let mut records = Vec::new();
        let mut opened = Self::open_into(path, key, resume, &mut records)?;
        opened.records = records;
        Ok(opened)
    }

    /// [`FileJournal::open`], handing the records read to `sink` a stretch at a time
    /// (`Opened::records` stays empty). When it fails, what the sink took is to be
    /// thrown away.
    pub fn open_into(
        path: &Path,
        key: Option<&[u8]>,
        resume: Option<&Resume>,
        sink: &mut dyn RecordSink,
    ) -> Result<Opened, AuditError> {
        let file = Self::open_and_lock(path)?;
        let result = Self::open_locked(path, &file, key, resume, sink);
        let _ = file.unlock();
        let mut opened = result?;
        let meta = file.metadata().map_err(|e| io_err(path, &e))?;
        opened.journal.file = Arc::new(file);
        opened.journal.ino = (meta.dev(), meta.ino());
        Ok(opened)
    }

    /// The file at `path`, opened (created if missing) and locked for writing. A rewrite
    /// by another process renames a new file over the path while holding the old one's
    /// lock: the lock is then granted on a file no longer at the path, whose header the
    /// signed checkpoint (already moved on to the new file's) no longer vouches for. So
    /// the lock is taken again on whatever is at the path until the two are one file.
    fn open_and_lock(path: &Path) -> Result<File, AuditError> {
        for _ in 0..REOPENS {
            let file = files::open_append(path).map_err(|e| io_err(path, &e))?;
            file.lock().map_err(|e| io_err(path, &e))?;
            let held = file.metadata().map_err(|e| io_err(path, &e))?;
            let at_path = std::fs::metadata(path).ok();
            if at_path.is_some_and(|m| (m.dev(), m.ino()) == (held.dev(), held.ino())) {
                return Ok(file);
            }
            let _ = file.unlock();
        }
        Err(journal_err(
            path,
            1,
            format!(
                "replaced by other processes {REOPENS} times while this one opened it; try again"
            ),
        ))
    }

    #[expect(
        clippy::too_many_lines,
        reason = "opening is one sequence of checks, each refusing with the line it names"
    )]
    fn open_locked(
        path: &Path,
        file: &File,
        key: Option<&[u8]>,
        resume: Option<&Resume>,
        sink: &mut dyn RecordSink,
    ) -> Result<Opened, AuditError> {
        let len = file.metadata().map_err(|e| io_err(path, &e))?.len();
        let (mut cp_file, slots) = match key {
            Some(k) => {
                let (f, s) = CheckpointFile::read(path, k).map_err(|e| io_err(path, &e))?;
                (Some(f), Some(s))
            }
            None => (None, None),
        };
        if len == 0 {
            if slots.as_ref().is_some_and(|s| s.exists) {
                return Err(journal_err(
                    path,
                    1,
                    "the journal is empty but a signed checkpoint exists beside it: the journal was truncated or replaced",
                ));
            }
            return Self::create(path, file, key, cp_file, sink);
        }
        let head = files::read_header_line(file)
            .map_err(|e| io_err(path, &e))?
            .ok_or_else(|| {
                journal_err(
                    path,
                    1,
                    "the header line is incomplete: not a journal, or torn at creation",
                )
            })?;
        let head_text = std::str::from_utf8(&head)
            .map_err(|_| journal_err(path, 1, "the header is not UTF-8"))?;
        let header_json = super::journal::strip_crc(head_text).map_err(|_| {
            journal_err(
                path,
                1,
                "the header's checksum does not match (altered or damaged)",
            )
        })?;
        let version = serde_json::from_str::<serde_json::Value>(&header_json)
            .ok()
            .and_then(|v| {
                v.get("accessgraph_journal")
                    .and_then(serde_json::Value::as_u64)
            });
        if version != Some(u64::from(FORMAT)) {
            return Err(journal_err(
                path,
                1,
                match version {
                    Some(v) => format!(
                        "journal format {v} is not supported by this version (it reads format {FORMAT}); read it with the version that wrote it (docs/journal-format.md, Upgrading)"
                    ),
                    None => "not an accessgraph journal header".to_owned(),
                },
            ));
        }
        let header: Header = serde_json::from_str(&header_json)
            .map_err(|e| journal_err(path, 1, format!("not an accessgraph journal header: {e}")))?;
        // Until retention cuts it, a chain starts at its graph's genesis: this binds the
        // header's graph id to the events (and so to snapshots, MACs and exports).
        if header.base_seq == 0 && header.anchor != genesis(&header.graph_id) {
            return Err(journal_err(
                path,
                1,
                "the header's anchor is not the genesis of its graph id (graph_id or anchor altered)",
            ));
        }
        let header_digest = Header::digest(head_text);
        // With a key: the newest valid checkpoint that vouches for this very header.
        let checkpoint = match &slots {
            Some(s) if s.exists => {
                let mine: Vec<&(u64, Checkpoint)> = s
                    .valid
                    .iter()
                    .filter(|(_, c)| c.graph_id == header.graph_id)
                    .collect();
                if mine.is_empty() {
                    return Err(journal_err(
                        path,
                        1,
                        "the signed checkpoint does not verify with this key (wrong key, forged, or another graph's)",
                    ));
                }
                let (slot, vouching) = mine
                    .into_iter()
                    .find(|(_, c)| c.header == header_digest)
                    .ok_or_else(|| {
                        journal_err(
                            path,
                            1,
                            "the journal's header (base state, anchor, base seq or erasures) is not the one the signed checkpoint vouches for: altered or rolled back",
                        )
                    })?;
                if let Some(f) = &mut cp_file {
                    f.keep(*slot);
                }
                Some(vouching.clone())
            }
            _ => None,
        };
        let trusted_from = checkpoint.as_ref().map_or(u64::MAX, |c| c.trusted_from);
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
        let (start, first_line, mut last) = match resume {
            Some(r) => (r.offset, r.lines + 1, (r.seq, r.hash.clone())),
            None => (body_start, 2, (header.base_seq, header.anchor.clone())),
        };
        let body = files::read_at(file, start, len).map_err(|e| io_err(path, &e))?;
        let (lines, tail) = complete_lines(&body);
        let reader = Reader {
            path,
            graph_id: &header.graph_id,
            // Without a checkpoint yet (first keyed open), nothing is checked: trust on
            // first use.
            key: key.filter(|_| checkpoint.is_some()),
            trusted_from,
        };
        if !sink.start(&header, &header_digest, resumed) {
            return Err(AuditError::Io(super::read::STOPPED.to_owned()));
        }
        let watch = checkpoint.as_ref().map(|c| c.seq);
        let seen = reader.each(first_line, &lines, &mut last, sink, watch)?;
        let complete = start + (body.len() - tail.len()) as u64;
        let line_count = first_line - 1 + lines.len() as u64;
        let tail_len = tail.len();
        drop(lines);
        drop(body);
        if let Some(cp) = &checkpoint {
            let base = (header.base_seq, header.anchor.as_str());
            Self::reaches(path, cp, base, &seen, &last, resume)?;
        }
        let recovered = if tail_len == 0 {
            None
        } else {
            file.set_len(complete)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_err(path, &e))?;
            Some((
                line_count + 1,
                format!(
                    "{}: cut off a torn record of {} bytes at line {} (a write interrupted by a crash); every complete record was kept",
                    path.display(),
                    tail_len,
                    line_count + 1
                ),
            ))
        };
        let trusted_from = match (&mut cp_file, checkpoint) {
            // Trust on first use: from here on, every batch carries a MAC.
            (Some(f), None) => {
                let cp = Checkpoint {
                    accessgraph_checkpoint: 2,
                    graph_id: header.graph_id.clone(),
                    seq: last.0,
                    hash: last.1.clone(),
                    header: header_digest.clone(),
                    trusted_from: last.0,
                    mac: String::new(),
                };
                f.write(cp).map_err(|e| io_err(path, &e))?;
                last.0
            }
            (_, Some(cp)) => cp.trusted_from,
            (None, None) => 0,
        };
        let graph_id = header.graph_id.clone();
        Ok(Opened {
            journal: FileJournal {
                path: path.to_owned(),
                file: Arc::new(file.try_clone().map_err(|e| io_err(path, &e))?),
                ino: (0, 0),
                generation: next_generation(),
                offset: complete,
                lines: line_count,
                last,
                before_append: None,
                own_from: None,
                stale: false,
                key: key.map(<[u8]>::to_vec),
                checkpoint: cp_file,
                header_digest,
                trusted_from,
                graph_id,
            },
            header,
            records: Vec::new(),
            recovered,
            resumed,
        })
    }

    /// Writes the header of a new journal (and, with a key, its first checkpoint).
    fn create(
        path: &Path,
        mut file: &File,
        key: Option<&[u8]>,
        mut cp_file: Option<CheckpointFile>,
        sink: &mut dyn RecordSink,
    ) -> Result<Opened, AuditError> {
        let graph_id = super::random::hex_id()
            .map_err(|e| AuditError::Io(format!("cannot draw a random graph id: {e}")))?;
        let header = Header {
            accessgraph_journal: FORMAT,
            anchor: genesis(&graph_id),
            graph_id: graph_id.clone(),
            base_seq: 0,
            base_state: None,
            erasures: 0,
            upgraded_from: None,
        };
        let line = header.to_line();
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| files::sync_dir(path))
            .map_err(|e| io_err(path, &e))?;
        let header_digest = Header::digest(&line);
        // A new journal: nothing to read, so nothing to stop.
        let _ = sink.start(&header, &header_digest, false);
        if let Some(f) = &mut cp_file {
            f.write(Checkpoint {
                accessgraph_checkpoint: 2,
                graph_id: graph_id.clone(),
                seq: 0,
                hash: header.anchor.clone(),
                header: header_digest.clone(),
                trusted_from: 0,
                mac: String::new(),
            })
            .map_err(|e| io_err(path, &e))?;
        }
        Ok(Opened {
            journal: FileJournal {
                path: path.to_owned(),
                file: Arc::new(file.try_clone().map_err(|e| io_err(path, &e))?),
                ino: (0, 0),
                generation: next_generation(),
                offset: line.len() as u64,
                lines: 1,
                last: (0, header.anchor.clone()),
                before_append: None,
                own_from: None,
                stale: false,
                key: key.map(<[u8]>::to_vec),
                checkpoint: cp_file,
                header_digest,
                trusted_from: 0,
                graph_id,
            },
            header,
            records: Vec::new(),
            recovered: None,
            resumed: false,
        })
    }

    /// Does the journal reach the signed checkpoint? A journal that ends before it was
    /// cut; one whose event at the checkpoint's `seq` has another hash was rewritten.
    fn reaches(
        path: &Path,
        cp: &Checkpoint,
        base: (u64, &str),
        seen: &Seen,
        last: &(u64, String),
        resume: Option<&Resume>,
    ) -> Result<(), AuditError> {
        let end_line = seen.end_line.unwrap_or(1);
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
        } else if cp.seq == base.0 {
            // The checkpoint of a journal with no events yet (a new one, or all pruned).
            Some(base.1)
        } else {
            seen.at_checkpoint
                .as_ref()
                .map(|(_, h)| h.as_str())
                .or_else(|| resume.filter(|r| r.seq == cp.seq).map(|r| r.hash.as_str()))
        };
        match found {
            Some(h) if h == cp.hash => Ok(()),
            // Before a snapshot's resume point: vouched for by the signed snapshot.
            None if resume.is_some_and(|r| cp.seq < r.seq) => Ok(()),
            _ => {
                let line = seen.at_checkpoint.as_ref().map_or(1, |(l, _)| *l);
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

    /// With a key, every batch ending after this `seq` carries a valid MAC (the signed
    /// checkpoint's trust-from point; before a checkpoint, where this open started it).
    pub fn trusted_from(&self) -> u64 {
        self.trusted_from
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            path: &self.path,
            graph_id: &self.graph_id,
            key: self.key.as_deref(),
            trusted_from: self.trusted_from,
        }
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
        if self.stale || self.identity_changed() {
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
        // A batch read here may since have been cut back (another process's failed group
        // sync) and the journal grown again: go on only if the line before our offset is
        // still the batch we read last.
        let ours = Resume {
            offset: self.offset,
            lines: self.lines,
            seq: self.last.0,
            hash: self.last.1.clone(),
        };
        if self.lines > 1
            && !resume_point_holds(&self.file, 0, len, &ours).map_err(|e| io_err(&self.path, &e))?
        {
            return Ok(Fresh::Replaced);
        }
        let buf =
            files::read_at(&self.file, self.offset, len).map_err(|e| io_err(&self.path, &e))?;
        let (lines, tail) = complete_lines(&buf);
        let mut last = self.last.clone();
        let records = self.reader().batches(self.lines + 1, &lines, &mut last)?;
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
        self.last = last;
        if consumed > 0 {
            // Another process's records now end the file: ours before them are built on.
            self.own_from = None;
        }
        Ok(Fresh::Records(records))
    }

    fn append(&mut self, batch: &[Event]) -> std::io::Result<u64> {
        let Some(end) = batch.last() else {
            return Ok(self.offset);
        };
        let line = encode_batch(batch, self.key.as_deref(), &self.graph_id);
        self.before_append = Some(Mark {
            offset: self.offset,
            lines: self.lines,
            last: self.last.clone(),
        });
        // Before the write: a write that fails may still have put bytes in the file.
        self.own_from.get_or_insert(self.offset);
        (&*self.file).write_all(line.as_bytes())?;
        self.offset += line.len() as u64;
        self.lines += 1;
        self.last = (end.seq, end.hash.clone());
        Ok(self.offset)
    }

    fn rollback(&mut self) -> std::io::Result<()> {
        let Some(mark) = self.before_append.take() else {
            return Ok(());
        };
        self.file.set_len(mark.offset)?;
        self.file.sync_all()?;
        if self.own_from == Some(mark.offset) {
            self.own_from = None;
        }
        self.offset = mark.offset;
        self.lines = mark.lines;
        self.last = mark.last;
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Under the writers' lock. Cuts only this store's own records, and only while they
    /// still end the file: the file is the one written (same generation, still at the
    /// path) and ends where this store's last append ended. Records another process
    /// appended after ours were built on them (chained, maybe synced and acknowledged),
    /// so then nothing is cut.
    fn cut_back(&mut self, from: (u64, u64), end: Option<u64>) -> std::io::Result<Option<u64>> {
        let Some(own_from) = self.own_from else {
            return Ok(None);
        };
        let to = if from.0 == self.generation {
            from.1.max(own_from)
        } else {
            own_from
        };
        let len = self.file.metadata()?.len();
        if self.stale
            || from.0 > self.generation
            || len != self.offset
            || end.is_some_and(|e| e != self.offset)
            || to >= self.offset
            || self.identity_changed()
        {
            return Ok(None);
        }
        self.file.set_len(to)?;
        self.file.sync_all()?;
        // The counters no longer match the file: the graph reads it again.
        self.offset = to;
        self.own_from = None;
        self.before_append = None;
        self.stale = true;
        Ok(Some(to))
    }

    fn replace(&mut self, header: &Header, events: &[Event]) -> std::io::Result<()> {
        let head = header.to_line();
        let mut text = head.clone();
        for e in events {
            text.push_str(&encode_batch(
                std::slice::from_ref(e),
                self.key.as_deref(),
                &self.graph_id,
            ));
        }
        let digest = Header::digest(&head);
        let last = events
            .last()
            .map_or((header.base_seq, header.anchor.clone()), |e| {
                (e.seq, e.hash.clone())
            });
        // The new checkpoint goes first, into the slot not holding the newest one: until
        // the rename, the old slot still vouches for the old journal.
        if let Some(cp) = &mut self.checkpoint {
            cp.write(Checkpoint {
                accessgraph_checkpoint: 2,
                graph_id: self.graph_id.clone(),
                seq: last.0,
                hash: last.1.clone(),
                header: digest.clone(),
                trusted_from: header.base_seq,
                mac: String::new(),
            })?;
        }
        files::replace(&self.path, text.as_bytes())?;
        let file = files::open_append(&self.path)?;
        // Keep holding the writers' lock on the new file (the caller unlocks it).
        file.lock()?;
        let _ = self.file.unlock();
        let meta = file.metadata()?;
        self.file = Arc::new(file);
        self.ino = (meta.dev(), meta.ino());
        self.generation = next_generation();
        self.offset = text.len() as u64;
        self.lines = 1 + events.len() as u64;
        self.last = last;
        self.before_append = None;
        self.own_from = None;
        self.header_digest = digest;
        self.trusted_from = header.base_seq;
        Ok(())
    }

    fn checkpoint(&mut self, seq: u64, hash: &str) -> std::io::Result<()> {
        let Some(cp) = &mut self.checkpoint else {
            return Ok(());
        };
        cp.write(Checkpoint {
            accessgraph_checkpoint: 2,
            graph_id: self.graph_id.clone(),
            seq,
            hash: hash.to_owned(),
            header: self.header_digest.clone(),
            trusted_from: self.trusted_from,
            mac: String::new(),
        })
    }

    /// Under the writers' lock, and only while the file the batch went to is still the
    /// one at the path: once another process has rewritten the journal (and signed the
    /// checkpoint for its new header, covering this batch), signing this file's header
    /// would vouch for a file no longer at the path and, a second time, leave the
    /// journal's own header vouched for by neither slot.
    fn checkpoint_after_sync(
        &mut self,
        generation: u64,
        seq: u64,
        hash: &str,
    ) -> std::io::Result<()> {
        if self.checkpoint.is_none() {
            return Ok(()); // no key, no checkpoint: nothing to lock for
        }
        self.file.lock()?;
        let written = if self.generation == generation && !self.identity_changed() {
            self.checkpoint(seq, hash)
        } else {
            Ok(())
        };
        let _ = self.file.unlock();
        written
    }

    fn position(&self) -> (u64, u64) {
        (self.generation, self.offset)
    }

    fn sync_handle(&self) -> Option<Arc<File>> {
        Some(Arc::clone(&self.file))
    }

    fn offset(&self) -> u64 {
        self.offset
    }

    fn lines(&self) -> u64 {
        self.lines
    }
}
