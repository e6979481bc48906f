//! The graph's audit side: opening a journal, catching up with other processes,
//! snapshots, time travel, application events and erasure.

use std::path::{Path, PathBuf};

use parking_lot::{RwLock, RwLockUpgradableReadGuard};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Change, Graph};
use crate::audit::erase::{self, Redaction};
use crate::audit::journal::{FileJournal, Fresh, Header, Record, Resume};
use crate::audit::{replay, Audit, Durability, Event, Filter, Log, Session};
use crate::error::AuditError;
use crate::error::{Error, NotFoundError, Result};
use crate::ids;
use crate::state::State;
use crate::time::{At, Instant};

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

fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

fn state_from_json(v: &Value, what: &str) -> Result<State> {
    let text = v.to_string();
    crate::state::snapshot::read(&text).map_err(|e| AuditError::Io(format!("{what}: {e}")).into())
}

fn state_to_json(st: &State) -> Result<Value> {
    let text = crate::state::snapshot::write(st)?;
    serde_json::from_str(&text).map_err(|e| AuditError::Io(e.to_string()).into())
}

fn journal_error(path: &Path, line: u64, reason: String) -> Error {
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
    fn full_log(&self) -> Result<parking_lot::RwLockReadGuard<'_, Log>> {
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

    fn need_log(&self) -> Result<()> {
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

    fn erasures(&self) -> Result<u64> {
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

    /// A read-only graph as it was at `when`, rebuilt from the audit log; its clock is
    /// frozen at `when`.
    pub fn as_of(&self, when: Instant) -> Result<Graph> {
        let log = self.full_log()?;
        if let Some(first) = log.events.first() {
            if log.base_seq > 0 && when < first.at {
                return Err(Error::rule(format!(
                    "the audit log was pruned: history before {} is gone",
                    first.at.to_iso()
                )));
            }
        }
        let state = log.state_at(when)?;
        drop(log);
        Ok(Graph::read_only(
            state,
            Some(when),
            format!("a view of the past (as_of {})", when.to_iso()),
        ))
    }

    /// The events `filter` selects.
    pub fn audit_events(&self, filter: &Filter) -> Result<Vec<Event>> {
        Ok(self.full_log()?.select(filter))
    }

    /// Number of events held.
    pub fn audit_len(&self) -> usize {
        let log = self.audit.log.read();
        usize::try_from(log.last_seq() - log.true_base_seq()).unwrap_or(usize::MAX)
    }

    /// Recomputes the chain.
    pub fn audit_verify(&self) -> Result<()> {
        Ok(self.full_log()?.verify()?)
    }

    /// Runs `f` on the whole log.
    pub fn with_audit_log<R>(&self, f: impl FnOnce(&Log) -> R) -> Result<R> {
        let log = self.full_log()?;
        Ok(f(&log))
    }

    /// Records an application event (`data.exported`, `feature_flag.changed` …).
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: Map<String, Value>,
    ) -> Result<u64> {
        let actor = if actor == crate::audit::event::SYSTEM || actor.starts_with("key:") {
            actor.to_owned()
        } else {
            ids::email("actor", actor)?
        };
        let dotted = action.split('.').count() >= 2
            && action.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if !dotted {
            return Err(Error::invalid(
                "action",
                action,
                "a dotted lower-case name such as `data.exported` or `feature_flag.changed`",
            ));
        }
        if crate::audit::is_builtin(action) {
            return Err(Error::invalid(
                "action",
                action,
                "an application action: built-in actions are recorded by the graph itself",
            ));
        }
        if target.trim().is_empty() {
            return Err(Error::invalid("target", target, "a non-empty identifier"));
        }
        if let Some(why) = &self.read_only {
            return Err(crate::error::ConflictError::ReadOnly(why.clone()).into());
        }
        self.need_log()?;
        self.audit.admit()?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        let now = self.clock.now();
        let who = (actor != crate::audit::event::SYSTEM).then_some(actor.as_str());
        let events = self.audit.prepare(
            vec![(action.to_owned(), target.to_owned(), details)],
            who,
            now,
        )?;
        let seq = events.last().map_or(0, |e| e.seq);
        self.append_only(guard, session, events)?;
        Ok(seq)
    }

    /// Drops events before `before` (retention), keeping the rest verifiable; a journal
    /// is rewritten with the state they leave as its base. Returns how many went.
    pub fn audit_prune(&self, before: Instant) -> Result<usize> {
        if let Some(why) = &self.read_only {
            return Err(crate::error::ConflictError::ReadOnly(why.clone()).into());
        }
        self.audit.admit()?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        drop(self.full_log()?);
        let mut log = self.audit.log.read().clone();
        let n = log.prune(before)?;
        if n > 0 {
            self.rewrite(&mut session, &log, 0)?;
            *self.audit.log.write() = log;
        }
        drop(guard);
        Ok(n)
    }

    /// Rewrites the journal to hold `log` (header with its base), `extra_erasures` more.
    fn rewrite(&self, session: &mut Session<'_>, log: &Log, extra_erasures: u64) -> Result<()> {
        if !session.is_journaled() {
            return Ok(());
        }
        let header = Header {
            accessgraph_journal: 1,
            graph_id: self.audit.graph_id.clone(),
            base_seq: log.base_seq,
            anchor: log.anchor.clone(),
            base_state: log.base_state.as_ref().map(state_to_json).transpose()?,
            erasures: self.erasures()? + extra_erasures,
        };
        let mut text = header.to_line();
        for e in &log.events {
            text.push_str(&e.to_line());
        }
        session.replace(&text).map_err(|e| {
            Error::from(AuditError::Failed(format!(
                "rewriting the journal failed: {e}"
            )))
        })?;
        if let Some(last) = log.events.last() {
            session
                .checkpoint(last.seq, &last.hash)
                .map_err(|e| AuditError::Io(e.to_string()))?;
        }
        Ok(())
    }

    /// Erases a user (GDPR, SPEC 3.4 and 9): offboards them (memberships, grants and
    /// personal keys go; resources they own pass to `transfer_to`; the offboarding
    /// events), records `user.erased`, then redacts their email, name and title — and any
    /// text naming them — from the audit log and the journal behind a pseudonym, which it
    /// returns. The chain still verifies. The actor must be an owner of every org the user
    /// belongs to (or the system); nothing changes otherwise.
    pub fn erase_user(
        &self,
        email: &str,
        actor: Option<&str>,
        reason: Option<&str>,
        transfer_to: Option<&str>,
    ) -> Result<String> {
        let email = ids::email("user", email)?;
        let transfer_to = transfer_to
            .map(|t| ids::email("transfer_to", t))
            .transpose()?;
        self.admit(actor)?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        if self.audit.keeps_log() {
            drop(self.full_log()?);
        }
        let now = self.clock.now();
        let key = actor.map(ids::email_key);
        let actor = key.as_deref();
        let current_name = {
            let uid = guard
                .user_id(&email)
                .ok_or_else(|| NotFoundError::User(email.clone()))?;
            let rec = guard
                .user(uid)
                .ok_or_else(|| NotFoundError::User(email.clone()))?;
            vec![rec.name.clone()]
        };
        let mut at = At::new(Some(now), &self.clock);
        let planned = super::offboard::plan_erasure(
            &guard,
            &mut at,
            actor,
            &email,
            transfer_to.as_deref(),
            reason.map(str::to_owned),
        );
        let mut changes = match planned {
            Ok(changes) => changes,
            Err(Error::Permission(p)) => return Err(self.refuse(guard, session, p, actor, now)),
            Err(e) => return Err(e),
        };
        super::keys::complete(&guard, &mut changes)?;
        let pseudonym = erase::pseudonym(&email);
        changes.push(Change::UserErased {
            user: email.clone(),
            pseudonym: pseudonym.clone(),
            reason: reason.map(str::to_owned),
        });
        if !self.audit.keeps_log() {
            // No history to redact: the removals and the pseudonym are the whole job.
            let events = self.audit.events_of(&changes, actor, now)?;
            let stamp = crate::state::Stamp { at: now, actor };
            self.commit(guard, session, events, |st| {
                changes.iter().try_for_each(|c| st.apply(c, stamp))
            })?;
            return Ok(pseudonym);
        }
        let events = self.audit.prepare(Audit::describe(&changes), actor, now)?;
        let mut log = self.audit.log.read().clone();
        log.events.extend(events);
        let redaction = Redaction::new(&email, &current_name, &log.events, pseudonym.clone());
        for e in &mut log.events {
            redaction.event(e);
        }
        if let Some(base) = &log.base_state {
            let mut v = state_to_json(base)?;
            redaction.json(&mut v);
            log.base_state = Some(state_from_json(&v, "redacted base state")?);
        }
        // The state is rebuilt from the redacted log, so it holds exactly what a replay
        // of the journal gives.
        let mut state = log.base_state.clone().unwrap_or_default();
        for e in &log.events {
            replay::apply(&mut state, e)
                .map_err(|reason| AuditError::Integrity { seq: e.seq, reason })?;
        }
        self.rewrite(&mut session, &log, 1)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(guard);
        *st = state;
        *self.audit.log.write() = log;
        Ok(pseudonym)
    }
}
