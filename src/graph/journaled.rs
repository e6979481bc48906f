//! A graph on a journal: opening it (snapshot first, then the events after it), the
//! recorder's store, catching up with other processes, and snapshot files.

use std::path::{Path, PathBuf};

use parking_lot::{RwLock, RwLockUpgradableReadGuard};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::front::Graph;
use crate::audit::journal::{FileJournal, Fresh, Header, Record, Resume};
use crate::audit::{replay, Audit, Durability, Log, Session};
use crate::error::AuditError;
use crate::error::{Error, Result};
use crate::state::State;

/// How a journal is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// When records reach the disk.
    pub durability: Durability,
    /// Key of the signed checkpoint kept beside the journal (`<journal>.checkpoint`).
    pub hmac_key: Option<Vec<u8>>,
    /// A snapshot to start from (default: `<journal>.snapshot` when it exists).
    pub snapshot: Option<PathBuf>,
}

/// A snapshot file: the state at one event of one journal.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    accessgraph_snapshot: u32,
    graph_id: String,
    seq: u64,
    hash: String,
    offset: u64,
    lines: u64,
    erasures: u64,
    state: Value,
}

pub(super) fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

pub(super) fn state_from_json(v: &Value, what: &str) -> Result<State> {
    let text = v.to_string();
    crate::state::snapshot::read(&text).map_err(|e| AuditError::Io(format!("{what}: {e}")).into())
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

/// Replays `records` onto `state`, each checked against the chain; errors name the line.
fn replay_records(
    path: &Path,
    state: &mut State,
    log: &mut Log,
    records: Vec<Record>,
) -> Result<()> {
    for r in records {
        let ev = &r.event;
        if ev.seq != log.last_seq() + 1 || ev.prev_hash != log.last_hash() {
            return Err(journal_error(
                path,
                r.line,
                format!("event {} does not follow event {}", ev.seq, log.last_seq()),
            ));
        }
        ev.check()
            .map_err(|b| journal_error(path, r.line, format!("event {}: {b}", ev.seq)))?;
        replay::apply(state, ev).map_err(|m| journal_error(path, r.line, m))?;
        log.events.push(r.event);
    }
    Ok(())
}

/// A journal read whole or from a snapshot: the state, the log and the store.
struct Loaded {
    state: State,
    log: Log,
    graph_id: String,
    journal: FileJournal,
    recovered: Option<String>,
}

fn load_journal(path: &Path, opts: &OpenOptions, use_snapshot: bool) -> Result<Loaded> {
    let snap_path = opts
        .snapshot
        .clone()
        .unwrap_or_else(|| sidecar(path, ".snapshot"));
    let text = if use_snapshot {
        std::fs::read_to_string(&snap_path)
    } else {
        Err(std::io::ErrorKind::NotFound.into())
    };
    let snapshot: Option<SnapshotFile> = match text {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| AuditError::Io(format!("snapshot {}: {e}", snap_path.display())))?,
        ),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && (opts.snapshot.is_none() || !use_snapshot) =>
        {
            None
        }
        Err(e) => {
            return Err(AuditError::Io(format!("snapshot {}: {e}", snap_path.display())).into())
        }
    };
    let resume = snapshot.as_ref().map(|s| Resume {
        offset: s.offset,
        lines: s.lines,
        seq: s.seq,
        hash: s.hash.clone(),
    });
    let opened = FileJournal::open(path, opts.hmac_key.as_deref(), resume.as_ref())?;
    let header = opened.header;
    let base_state = header
        .base_state
        .as_ref()
        .map(|v| state_from_json(v, "journal base state"))
        .transpose()?;
    // A snapshot counts only if it is this graph's and no erasure happened since.
    let snapshot = snapshot.filter(|s| {
        opened.resumed && s.graph_id == header.graph_id && s.erasures == header.erasures
    });
    let (mut state, mut log) = if let Some(s) = &snapshot {
        let state = state_from_json(&s.state, "snapshot state")?;
        let log = Log {
            anchor: s.hash.clone(),
            base_seq: s.seq,
            base_state: None,
            events: Vec::new(),
            pending: Some(crate::audit::log::Pending {
                path: path.to_owned(),
                end: s.offset,
                base_seq: header.base_seq,
                anchor: header.anchor.clone(),
                base_state: base_state.clone(),
                loader: None,
            }),
        };
        (state, log)
    } else {
        let log = Log {
            anchor: header.anchor.clone(),
            base_seq: header.base_seq,
            base_state: base_state.clone(),
            events: Vec::new(),
            pending: None,
        };
        (base_state.unwrap_or_default(), log)
    };
    if snapshot.is_none() && opened.resumed {
        // The snapshot was refused after the journal was read from it: read it whole.
        drop(opened.journal);
        return load_journal(path, opts, false);
    }
    replay_records(path, &mut state, &mut log, opened.records)?;
    Ok(Loaded {
        state,
        log,
        graph_id: header.graph_id,
        journal: opened.journal,
        recovered: opened.recovered,
    })
}

impl Graph {
    /// Opens (or creates) the journal at `path`: replays and verifies it. The second
    /// value describes a torn tail that was cut off, if there was one.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<(Graph, Option<String>)> {
        let loaded = load_journal(path, opts, true)?;
        let audit = Audit::journaled(
            loaded.graph_id,
            loaded.log,
            Box::new(loaded.journal),
            opts.durability,
            Some((path.to_owned(), opts.hmac_key.clone())),
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

    /// Rebuilds state and log from the journal after another process rewrote it.
    pub(super) fn reload(&self, st: &mut State, session: &mut Session<'_>) -> Result<()> {
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
        let loaded = load_journal(&path, &opts, false)?;
        *st = loaded.state;
        *self.audit.log.write() = loaded.log;
        session.swap(Box::new(loaded.journal))?;
        Ok(())
    }

    /// Applies records appended by another process, checked against the chain.
    pub(super) fn apply_records(&self, st: &mut State, records: Vec<Record>) -> Result<()> {
        let path = self
            .audit
            .source
            .as_ref()
            .map_or_else(PathBuf::new, |(p, _)| p.clone());
        let mut log = self.audit.log.write();
        replay_records(&path, st, &mut log, records)
    }

    /// Pulls in events other processes appended to the journal; returns how many.
    pub fn refresh(&self) -> Result<usize> {
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin_shared()?;
        let before = self.audit.revision();
        match session.fresh(false)? {
            Fresh::Records(r) if r.is_empty() => return Ok(0),
            Fresh::Records(records) => {
                let mut st = RwLockUpgradableReadGuard::upgrade(guard);
                self.apply_records(&mut st, records)?;
            }
            Fresh::Replaced => {
                let mut st = RwLockUpgradableReadGuard::upgrade(guard);
                self.reload(&mut st, &mut session)?;
            }
        }
        let after = self.audit.revision();
        Ok(usize::try_from(after.saturating_sub(before)).unwrap_or(usize::MAX))
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

    /// Writes a snapshot of the state at the current revision to `path` (atomically);
    /// `Graph::open` starts from it instead of replaying the journal from the start.
    /// Returns the revision it holds.
    pub fn snapshot(&self, path: &Path) -> Result<u64> {
        let guard = self.state.upgradable_read();
        let session = self.audit.begin_shared()?;
        let (offset, lines) = session.position().ok_or_else(|| {
            Error::rule("snapshot needs a journal: open the graph with Graph.open(path)")
        })?;
        let (seq, hash) = {
            let log = self.audit.log.read();
            (log.last_seq(), log.last_hash().to_owned())
        };
        let erasures = self.erasures()?;
        let doc = SnapshotFile {
            accessgraph_snapshot: 1,
            graph_id: self.audit.graph_id.clone(),
            seq,
            hash,
            offset,
            lines,
            erasures,
            state: state_to_json(&guard)?,
        };
        drop(session);
        drop(guard);
        let text = serde_json::to_string(&doc).map_err(|e| AuditError::Io(e.to_string()))?;
        let io = |e: std::io::Error| AuditError::Io(format!("{}: {e}", path.display()));
        let tmp = sidecar(path, ".tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(io)?;
        Ok(seq)
    }

    pub(super) fn erasures(&self) -> Result<u64> {
        let Some((path, _)) = &self.audit.source else {
            return Ok(0);
        };
        // Only the header line: the journal may be hundreds of megabytes.
        let mut first = String::new();
        std::fs::File::open(path)
            .and_then(|f| std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first))
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        let json = crate::audit::event::strip_crc(first.trim_end_matches('\n'))
            .map_err(|_| journal_error(path, 1, "unreadable header".into()))?;
        let h: Header =
            serde_json::from_str(&json).map_err(|e| journal_error(path, 1, e.to_string()))?;
        Ok(h.erasures)
    }
}
