//! A graph on a journal: opening it (a snapshot first, then the batches after it), the
//! recorder's store, catching up with other processes, and writing snapshot files
//! ([`super::snapfile`] reads them).

use std::path::{Path, PathBuf};

use parking_lot::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard};
use serde_json::value::RawValue;
use serde_json::Value;

use super::front::Graph;
use super::snapfile::{
    read_snapshot, read_snapshot_quick, read_snapshot_text, state_from_text, Snapshot, SnapshotFile,
};
use crate::audit::beacon::Follow;
use crate::audit::file::{FileJournal, RecordSink, Resume};
use crate::audit::journal::{Fresh, Header, Record};
use crate::audit::log::{Pending, PrefixLoader, SealCheck};
use crate::audit::prefix::PrefixCursor;
use crate::audit::{files, replay, Audit, Durability, Log, Session};
use crate::error::AuditError;
use crate::error::{Error, Result};
use crate::progress::{Hook, Meter, Stop};
use crate::state::State;

/// How a journal is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// When records reach the disk.
    pub durability: Durability,
    /// Key of the signed checkpoint kept beside the journal (`<journal>.checkpoint`), of
    /// each batch's MAC and of snapshots.
    pub hmac_key: Option<Vec<u8>>,
    /// A snapshot to start from (default: `<journal>.snapshot` when it exists).
    pub snapshot: Option<PathBuf>,
    /// This process is the journal's only user: no revision beacon, and a query never
    /// looks at the journal (`follow=False` in Python). Default: follow it.
    pub alone: bool,
}

/// `<journal>.snapshot`, where `Graph.snapshot()` writes by default.
pub(super) fn default_snapshot(path: &Path) -> PathBuf {
    files::sidecar(path, ".snapshot")
}

pub(super) fn state_from_json(v: &Value, what: &str) -> Result<State> {
    state_from_text(&v.to_string(), what)
}

pub(super) fn state_to_json(st: &State) -> Result<Value> {
    let text = crate::state::snapshot::write(st)?;
    serde_json::from_str(&text).map_err(|e| AuditError::Io(e.to_string()).into())
}

pub(super) fn journal_error(path: &Path, line: u64, reason: String) -> Error {
    AuditError::Journal {
        path: path.display().to_string(),
        line,
        reason,
    }
    .into()
}

/// Replays `records` onto `state`, each checked against the chain and every seal among
/// them against the erasures; errors name the line.
fn replay_records(
    path: &Path,
    state: &mut State,
    log: &mut Log,
    records: Vec<Record>,
) -> Result<()> {
    let held = log.events.len();
    let mut replay = Replay::new(path, log);
    replay.take(state, log, records);
    let done = replay.finish();
    if done.is_err() {
        // The log keeps only what it held: the events taken before the error go.
        log.events.truncate(held);
    }
    done
}

/// Records replayed onto a state and appended to a log as they come, a stretch at a
/// time; the first error is kept (the chain or a change that does not apply, then a
/// seal), and everything after it ignored.
struct Replay<'a> {
    path: &'a Path,
    /// Where the chain goes on.
    next: (u64, String),
    seals: SealCheck,
    error: Option<Error>,
    seal_error: Option<Error>,
}

impl<'a> Replay<'a> {
    fn new(path: &'a Path, log: &Log) -> Self {
        let first = log.last_seq();
        Replay {
            path,
            next: (first, log.last_hash()),
            seals: SealCheck::new(first),
            error: None,
            seal_error: None,
        }
    }

    fn take(&mut self, state: &mut State, log: &mut Log, records: Vec<Record>) {
        if self.error.is_some() {
            return;
        }
        for r in records {
            let ev = &r.event;
            if ev.seq != self.next.0 + 1 || ev.prev_hash != self.next.1 {
                self.error = Some(journal_error(
                    self.path,
                    r.line,
                    format!("event {} does not follow event {}", ev.seq, self.next.0),
                ));
                return;
            }
            if let Err(m) = replay::apply(state, ev) {
                self.error = Some(journal_error(self.path, r.line, m));
                return;
            }
            if self.seal_error.is_none() {
                if let Err(e) = self.seals.push(ev) {
                    self.seal_error = Some(seal_error(self.path, e));
                }
            }
            log.events.push(ev);
            self.next = (r.event.seq, r.event.hash);
        }
    }

    /// [`Replay::take`] for a [`crate::audit::part::Part`] (its first batch on line
    /// `line`), built where it was decoded.
    fn take_part(
        &mut self,
        state: &mut State,
        log: &mut Log,
        part: crate::audit::part::Part,
        line: u64,
    ) {
        if self.error.is_some() {
            return;
        }
        let seals = self.seal_error.is_none().then_some(&mut self.seals);
        let (done, sealed) = part.replay(line, state, &mut log.events, &mut self.next, seals);
        if let Some(e) = sealed {
            self.seal_error = Some(seal_error(self.path, e));
        }
        if let Err((line, m)) = done {
            self.error = Some(journal_error(self.path, line, m));
        }
    }

    /// The first error: of the chain or a change, else of a seal.
    fn finish(self) -> Result<()> {
        if let Some(e) = self.error.or(self.seal_error) {
            return Err(e);
        }
        let path = self.path;
        self.seals.finish().map_err(|e| seal_error(path, e))
    }
}

/// A seal that does not check, as opening reports it (line 0: the whole journal).
fn seal_error(path: &Path, e: AuditError) -> Error {
    match e {
        AuditError::Integrity { seq, reason } => {
            journal_error(path, 0, format!("event {seq}: {reason}"))
        }
        other => other.into(),
    }
}

/// A journal read whole or from a snapshot: the state, the log and the store.
struct Loaded {
    state: State,
    log: Log,
    graph_id: String,
    journal: FileJournal,
    recovered: Option<(u64, String)>,
}

/// The snapshot opening starts from: the one named, else `<journal>.snapshot`.
fn snapshot_path(path: &Path, opts: &OpenOptions) -> PathBuf {
    opts.snapshot
        .clone()
        .unwrap_or_else(|| default_snapshot(path))
}

/// The size of the file at `path`, 0 when there is none (what progress counts).
fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Opening's [`RecordSink`]: on the header, the state to start from (the snapshot's,
/// when it still fits the journal, or the header's base state); then each stretch of
/// records replayed onto it and into the log's store, so no more than a stretch of full
/// events is ever held.
struct Opening<'a, 'h> {
    path: &'a Path,
    /// The journal's key: the events a snapshot let `open` skip are handed out before
    /// they are all read only where a batch MAC vouches for them.
    key: Option<&'a [u8]>,
    /// The reader of the events before the snapshot, told once the journal is open
    /// which batches carry MACs.
    cursor: Option<std::sync::Arc<parking_lot::Mutex<PrefixCursor>>>,
    snapshot: Option<Snapshot<'a>>,
    /// The snapshot's state, when [`read_snapshot_quick`] read it.
    state: Option<State>,
    /// The progress of opening, in bytes of the journal and the snapshot read
    /// (`snapshot_len` of them the snapshot's), and why it stopped, if its hook stopped it.
    meter: &'a mut Meter<'h>,
    snapshot_len: u64,
    done: u64,
    stopped: Option<Stop>,
    /// Set by `start`: the state and log so far, and the replay under way.
    begun: Option<(State, Log, Replay<'a>)>,
    /// The snapshot was refused after the journal was read from it: read it whole.
    redo: bool,
    /// The snapshot is this graph's from before an erasure the journal has had since: it
    /// may hold an erased user in clear (left by a crash or by an older version).
    outdated: bool,
    /// A header or snapshot state that does not read (reported if the journal reads).
    error: Option<Error>,
}

impl Opening<'_, '_> {
    /// `bytes` more were read: tells the meter; `false` when its hook stops the opening.
    fn advance(&mut self, bytes: u64) -> bool {
        self.done += bytes;
        match self.meter.at(self.done) {
            Ok(()) => true,
            Err(stop) => {
                self.stopped = Some(stop);
                false
            }
        }
    }

    fn begin(&mut self, header: &Header, header_digest: &str, resumed: bool) -> Result<()> {
        let base_state = header
            .base_state
            .as_ref()
            .map(|v| state_from_json(v, "journal base state"))
            .transpose()?;
        self.outdated = self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.graph_id == header.graph_id && s.erasures < header.erasures);
        // A snapshot counts only if it is this graph's, of this very header (no erasure or
        // pruning since), and the journal still holds its resume point.
        let snapshot = self.snapshot.take().filter(|s| {
            resumed
                && s.graph_id == header.graph_id
                && s.erasures == header.erasures
                && s.header == header_digest
        });
        if snapshot.is_none() && resumed {
            self.redo = true;
            return Ok(());
        }
        let (state, log) = if let Some(s) = snapshot {
            let state = match self.state.take() {
                Some(state) => state,
                None => state_from_text(s.state, "snapshot state")?,
            };
            // The snapshot, and the journal up to its resume point, are read.
            self.advance(self.snapshot_len + s.offset);
            let cursor = std::sync::Arc::new(parking_lot::Mutex::new(PrefixCursor::new(
                self.path,
                s.offset,
                header_digest.to_owned(),
                (s.seq, s.hash.clone()),
                self.key,
            )));
            self.cursor = Some(std::sync::Arc::clone(&cursor));
            let log = Log {
                anchor: s.hash.clone(),
                base_seq: s.seq,
                base_state: None,
                events: crate::audit::store::EventStore::default(),
                pending: Some(Pending {
                    loader: PrefixLoader(cursor),
                    base_seq: header.base_seq,
                    anchor: header.anchor.clone(),
                    base_state,
                }),
            };
            (state, log)
        } else {
            let log = Log {
                anchor: header.anchor.clone(),
                base_seq: header.base_seq,
                base_state: base_state.clone(),
                events: crate::audit::store::EventStore::default(),
                pending: None,
            };
            (base_state.unwrap_or_default(), log)
        };
        let replay = Replay::new(self.path, &log);
        self.begun = Some((state, log, replay));
        Ok(())
    }
}

impl RecordSink for Opening<'_, '_> {
    fn start(&mut self, header: &Header, header_digest: &str, resumed: bool) -> bool {
        if let Err(e) = self.begin(header, header_digest, resumed) {
            self.error = Some(e);
        }
        self.stopped.is_none()
    }

    fn records(&mut self, records: Vec<Record>, bytes: u64) -> bool {
        if let Some((state, log, replay)) = &mut self.begun {
            log.events.reserve(records.len());
            replay.take(state, log, records);
        }
        self.stopped.is_none() && self.advance(bytes)
    }

    fn wants_parts(&self) -> bool {
        true
    }

    fn part(&mut self, part: crate::audit::part::Part, line: u64, bytes: u64) -> bool {
        if let Some((state, log, replay)) = &mut self.begun {
            replay.take_part(state, log, part, line);
        }
        self.stopped.is_none() && self.advance(bytes)
    }
}

/// Reads the journal at `path` (from its snapshot when `use_snapshot` and one fits),
/// telling `meter` the bytes read; a hook that stops it stops the opening before the
/// journal is touched (no torn tail cut, no checkpoint written).
fn load_journal(
    path: &Path,
    opts: &OpenOptions,
    use_snapshot: bool,
    meter: &mut Meter<'_>,
) -> Result<Loaded> {
    let key = opts.hmac_key.as_deref();
    let snap_path = snapshot_path(path, opts);
    let snapshot_text = if use_snapshot {
        read_snapshot_text(&snap_path, opts.snapshot.is_some())?
    } else {
        None
    };
    let (snapshot, state) = match snapshot_text.as_deref() {
        Some(text) => match read_snapshot_quick(text, key) {
            Some((snap, state)) => (Some(snap), Some(state)),
            None => (
                Some(Snapshot::from(&read_snapshot(&snap_path, text, key)?)),
                None,
            ),
        },
        None => (None, None),
    };
    let snapshot_len = if snapshot.is_some() {
        file_len(&snap_path)
    } else {
        0
    };
    let resume = snapshot.as_ref().map(|s| Resume {
        offset: s.offset,
        lines: s.lines,
        seq: s.seq,
        hash: s.hash.clone(),
    });
    let mut opening = Opening {
        path,
        key,
        cursor: None,
        snapshot,
        state,
        meter,
        snapshot_len,
        done: 0,
        stopped: None,
        begun: None,
        redo: false,
        outdated: false,
        error: None,
    };
    let opened = FileJournal::open_into(path, key, resume.as_ref(), &mut opening);
    if let Some(stop) = opening.stopped {
        return Err(stop.into());
    }
    let opened = opened?;
    if let Some(e) = opening.error {
        return Err(e);
    }
    if opening.outdated {
        // Best effort: it is ignored anyway, and a directory that refuses the removal
        // must not make the journal unopenable.
        let _ = files::remove(&snap_path);
    }
    if opening.redo {
        // The snapshot was refused after the journal was read from it: read it whole.
        drop(opened.journal);
        return load_journal(path, opts, false, opening.meter);
    }
    let Some((state, mut log, replay)) = opening.begun else {
        return Err(AuditError::Io(format!("{}: the journal was not read", path.display())).into());
    };
    replay.finish()?;
    log.events.shrink_to_fit();
    if let Some(c) = &opening.cursor {
        c.lock().trust_from(opened.journal.trusted_from());
    }
    Ok(Loaded {
        state,
        log,
        graph_id: opened.header.graph_id,
        journal: opened.journal,
        recovered: opened.recovered,
    })
}

impl Graph {
    /// Opens (or creates) the journal at `path`: replays and verifies it. The second
    /// value describes a torn tail that was cut off, if there was one: its line and what
    /// was cut.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<(Graph, Option<(u64, String)>)> {
        Self::open_reporting(path, opts, None)
    }

    /// [`Graph::open`], telling `progress` how many bytes of the journal and of its
    /// snapshot are read (of their sizes when opening starts). A hook that stops the
    /// opening stops it before the journal is touched: no torn tail cut, no checkpoint
    /// written, no graph made ([`Error::Stopped`]).
    pub fn open_reporting(
        path: &Path,
        opts: &OpenOptions,
        progress: Hook<'_>,
    ) -> Result<(Graph, Option<(u64, String)>)> {
        let total = file_len(path) + file_len(&snapshot_path(path, opts));
        let mut meter = Meter::start(progress, total)?;
        // The beacon's counter is read before the journal is: a write in between makes
        // the first query read the journal again.
        let follow = (!opts.alone).then(|| Follow::new(path));
        let loaded = load_journal(path, opts, true, &mut meter)?;
        meter.finish()?;
        let mut audit = Audit::journaled(
            loaded.graph_id,
            loaded.log,
            Box::new(loaded.journal),
            opts.durability,
            Some((path.to_owned(), opts.hmac_key.clone())),
        );
        if let Some(f) = follow {
            audit = audit.with_follow(f);
        }
        audit.remember_snapshot(
            opts.snapshot
                .clone()
                .unwrap_or_else(|| default_snapshot(path)),
        );
        let g = Graph {
            state: RwLock::new(loaded.state),
            audit,
            ..Graph::default()
        };
        Ok((g, loaded.recovered))
    }

    /// An empty graph whose journal is `store` (another storage, or a failing one in
    /// tests).
    pub fn with_store(store: Box<dyn crate::audit::JournalStore>, durability: Durability) -> Graph {
        let graph_id = Audit::in_memory().graph_id;
        let log = Log::new(crate::audit::event::genesis(&graph_id));
        Graph {
            audit: Audit::journaled(graph_id, log, store, durability, None),
            ..Graph::default()
        }
    }

    /// How many times [`Graph::reload`] reads a journal that keeps being replaced before
    /// it gives up (each time, another process rewrote it between the read and the lock).
    const RELOADS: usize = 64;

    /// Rebuilds state and log from the journal after another process rewrote it. `repair`
    /// as for [`Session::fresh`]: true under the writers' lock.
    ///
    /// The file is read before its lock is taken, so another process may append to it,
    /// or rewrite it again, in between: once locked, what was appended since the read is
    /// applied, and a file replaced again is read again. Without that, the mutation
    /// that follows would be planned on a stale state and written after a stale end (a
    /// repeated `seq`), or into a file no longer at the path (a change acknowledged and
    /// lost).
    pub(super) fn reload(
        &self,
        st: &mut State,
        session: &mut Session<'_>,
        repair: bool,
    ) -> Result<()> {
        let Some((path, key)) = self.audit.source.clone() else {
            // A store that is not a file (PostgreSQL) reads itself again.
            if let Some((state, log)) = session.reload()? {
                *st = state;
                *self.audit.log.write() = log;
            }
            return Ok(());
        };
        let opts = OpenOptions {
            hmac_key: key,
            ..OpenOptions::default()
        };
        for _ in 0..Self::RELOADS {
            // The file was replaced: drop the old store (and its lock) before reopening.
            *session.store_mut() = None;
            let loaded = load_journal(&path, &opts, false, &mut Meter::none())?;
            *st = loaded.state;
            *self.audit.log.write() = loaded.log;
            session.swap(Box::new(loaded.journal))?;
            match session.fresh(repair)? {
                Fresh::Records(records) if records.is_empty() => return Ok(()),
                Fresh::Records(records) => return self.apply_records(st, records),
                Fresh::Replaced => {}
            }
        }
        Err(AuditError::Journal {
            path: path.display().to_string(),
            line: 1,
            reason: format!(
                "replaced by other processes {} times while this one read it again; try again",
                Self::RELOADS
            ),
        }
        .into())
    }

    /// Applies records appended by another process, checked against the chain.
    pub(super) fn apply_records(&self, st: &mut State, records: Vec<Record>) -> Result<()> {
        let path = self
            .audit
            .source
            .as_ref()
            .map_or_else(PathBuf::new, |(p, _)| p.clone());
        let mut log = self.audit.log.write();
        replay_records(&path, st, &mut log, records)?;
        drop(log);
        self.audit.forget_held();
        Ok(())
    }

    /// Pulls in events other processes appended to the journal; returns how many.
    pub fn refresh(&self) -> Result<usize> {
        if let Some(f) = self.audit.follow() {
            f.revalidate();
        }
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin_shared()?;
        let (_, n) = self.read_others(guard, &mut session)?;
        Ok(n)
    }

    /// Under the readers' lock (`session`): applies what other processes appended, or
    /// reloads a journal they replaced; returns the guard and how many events came in.
    fn read_others<'g>(
        &'g self,
        guard: RwLockUpgradableReadGuard<'g, State>,
        session: &mut Session<'_>,
    ) -> Result<(RwLockUpgradableReadGuard<'g, State>, usize)> {
        // Under the readers' lock no writer holds the journal, so the counter read now
        // is the one of the journal as it is about to be read.
        let seen = self.audit.follow().and_then(Follow::revision);
        let before = self.audit.revision();
        let guard = match session.fresh(false)? {
            Fresh::Records(r) if r.is_empty() => guard,
            Fresh::Records(records) => {
                let mut st = RwLockUpgradableReadGuard::upgrade(guard);
                self.apply_records(&mut st, records)?;
                RwLockWriteGuard::downgrade_to_upgradable(st)
            }
            Fresh::Replaced => {
                let mut st = RwLockUpgradableReadGuard::upgrade(guard);
                self.reload(&mut st, session, false)?;
                RwLockWriteGuard::downgrade_to_upgradable(st)
            }
        };
        if let Some(f) = self.audit.follow() {
            f.caught_up(seen);
        }
        let after = self.audit.revision();
        let n = usize::try_from(after.saturating_sub(before)).unwrap_or(usize::MAX);
        Ok((guard, n))
    }

    /// Before a query, when the beacon says other processes wrote to the journal (or it
    /// is time to check the beacon is still there): reads what they wrote.
    #[cold]
    #[inline(never)]
    pub(super) fn catch_up_others(&self, f: &Follow) -> Result<()> {
        if !f.moved() {
            // This thread's turn to check the beacon is still the file at its path.
            f.revalidate();
        }
        if f.moved() {
            self.refresh()?;
        }
        Ok(())
    }

    /// True when the graph sees other processes' writes to its journal before each
    /// query (a file journal); `Some(why)` when it does so by reading the journal each
    /// time, having no revision beacon.
    pub fn follows_journal(&self) -> (bool, Option<String>) {
        match self.audit.follow() {
            Some(f) => (true, f.lost().map(str::to_owned)),
            None => (false, None),
        }
    }

    /// The `seq` of the last applied event.
    pub fn revision(&self) -> u64 {
        self.audit.revision()
    }

    /// The graph's identity (named by its journal's first record).
    pub fn graph_id(&self) -> &str {
        &self.audit.graph_id
    }

    /// The journal's path, when a journal backs the graph.
    pub fn journal_path(&self) -> Option<&Path> {
        self.audit.source.as_ref().map(|(p, _)| p.as_path())
    }

    /// True when a journal backs the graph.
    pub fn is_journaled(&self) -> bool {
        self.audit.is_journaled()
    }

    /// Loads events a snapshot let `open` skip, verifying them.
    pub(super) fn full_log(&self) -> Result<parking_lot::RwLockReadGuard<'_, Log>> {
        self.need_log()?;
        {
            let log = self.audit.log.read();
            if log.pending.is_none() {
                return Ok(log);
            }
        }
        let mut log = self.audit.log.write();
        log.load_pending()?;
        Ok(parking_lot::RwLockWriteGuard::downgrade(log))
    }

    /// False for a graph made with `audit=False`.
    pub fn keeps_audit_log(&self) -> bool {
        self.audit.keeps_log()
    }

    pub(super) fn need_log(&self) -> Result<()> {
        if self.audit.keeps_log() {
            return Ok(());
        }
        Err(crate::error::ConflictError::Rule(
            "this graph keeps no audit log (it was created with audit=False)".into(),
        )
        .into())
    }

    /// Writes a snapshot of the journal as it is at its path — what other processes wrote
    /// is read first — to `path` (atomically, a private file; signed with the journal's
    /// key); `Graph::open` starts from it instead of replaying the journal from the
    /// start. Returns the revision it holds.
    pub fn snapshot(&self, path: &Path) -> Result<u64> {
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin_shared()?;
        let needs_journal =
            || Error::rule("snapshot needs a journal: open the graph with Graph.open(path)");
        session.position().ok_or_else(needs_journal)?;
        // The readers' lock is held from here until the file is in place: a rewrite
        // (erasure, prune) waits for it and then removes the file, or came first and is
        // read now, so no snapshot of a journal that is no longer at the path is written.
        let (guard, _) = self.read_others(guard, &mut session)?;
        let (offset, lines) = session.position().ok_or_else(needs_journal)?;
        let (seq, hash) = {
            let log = self.audit.log.read();
            (log.last_seq(), log.last_hash())
        };
        let header = self.header()?;
        let state = RawValue::from_string(state_to_json(&guard)?.to_string())
            .map_err(|e| AuditError::Io(e.to_string()))?;
        let mut doc = SnapshotFile {
            accessgraph_snapshot: 2,
            graph_id: self.audit.graph_id.clone(),
            seq,
            hash,
            offset,
            lines,
            erasures: header.erasures,
            header: Header::digest(&header.to_line()),
            state: &state,
            mac: None,
        };
        drop(guard);
        if let Some(key) = self.audit.source.as_ref().and_then(|(_, k)| k.as_deref()) {
            doc.sign(key);
        }
        let text = serde_json::to_string(&doc).map_err(|e| AuditError::Io(e.to_string()))?;
        files::replace(path, text.as_bytes())
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        self.audit.remember_snapshot(path.to_owned());
        drop(session);
        Ok(seq)
    }

    /// The journal's header (line 1), read again from the file.
    pub(super) fn header(&self) -> Result<Header> {
        let Some((path, _)) = &self.audit.source else {
            return Err(Error::rule("this graph has no journal file"));
        };
        // Only the header line: the journal may be hundreds of megabytes.
        let mut first = String::new();
        std::fs::File::open(path)
            .and_then(|f| std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first))
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        let json = crate::audit::journal::strip_crc(first.trim_end_matches('\n'))
            .map_err(|_| journal_error(path, 1, "unreadable header".into()))?;
        serde_json::from_str(&json).map_err(|e| journal_error(path, 1, e.to_string()))
    }
}
