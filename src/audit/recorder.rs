//! A graph's audit recorder: the events in memory ([`Log`]) and, when the graph is
//! journaled, the store they are written to before a change is applied — the writers'
//! lock, fail-stop after a failed write, group commit and the signed checkpoint.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock};
use serde_json::{Map, Value};

use super::event::{self, Event};
use super::journal::{self, Durability, JournalStore};
use super::log::Log;
use super::replay;
use crate::error::AuditError;
use crate::state::Change;
use crate::time::Instant;

/// What a caller waits for after a write: the journal offset and the last event written.
#[derive(Debug)]
pub struct Durable {
    offset: u64,
    last: Option<(u64, String)>,
}

/// Group commit: one `fdatasync` covers every record written before it started.
struct GroupSync {
    file: File,
    /// Bytes known durable.
    synced: Mutex<u64>,
}

/// A graph's audit log and, when opened from a file, its journal.
pub struct Audit {
    /// The graph's identity, named by its journal's first record.
    pub graph_id: String,
    /// The events in memory.
    pub log: RwLock<Log>,
    pub(super) store: Mutex<Option<Box<dyn JournalStore>>>,
    durability: Durability,
    group: Option<GroupSync>,
    failed: RwLock<Option<String>>,
    /// Where the journal is and its checkpoint key, for reloading after a rewrite.
    pub source: Option<(PathBuf, Option<Vec<u8>>)>,
    /// False for a graph built with `audit=False`: no events are made or kept.
    keep: bool,
    /// Changes made while no events are kept (they still advance the revision).
    unlogged: AtomicU64,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("graph_id", &self.graph_id)
            .field("events", &self.log.read().events.len())
            .finish_non_exhaustive()
    }
}

impl Default for Audit {
    fn default() -> Self {
        Audit::in_memory()
    }
}

/// The journal, locked for one mutation; unlocks when dropped.
pub struct Session<'a> {
    pub(super) store: MutexGuard<'a, Option<Box<dyn JournalStore>>>,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.store.as_mut() {
            s.unlock();
        }
    }
}

impl Session<'_> {
    /// Records others appended since we last looked (none without a journal); a torn
    /// tail is cut off when `repair` (under the writers' lock).
    pub fn fresh(&mut self, repair: bool) -> Result<journal::Fresh, AuditError> {
        match self.store.as_mut() {
            Some(s) => s.read_fresh(repair),
            None => Ok(journal::Fresh::Records(Vec::new())),
        }
    }

    /// The journal's current end (offset, lines), if there is a journal.
    pub fn position(&self) -> Option<(u64, u64)> {
        self.store.as_ref().map(|s| (s.offset(), s.lines()))
    }

    /// Atomically rewrites the journal.
    pub fn replace(&mut self, contents: &str) -> std::io::Result<()> {
        match self.store.as_mut() {
            Some(s) => s.replace(contents),
            None => Ok(()),
        }
    }

    /// True when the graph has a journal.
    pub fn is_journaled(&self) -> bool {
        self.store.is_some()
    }

    /// Updates the signed checkpoint (no-op without a key).
    pub fn checkpoint(&mut self, seq: u64, hash: &str) -> std::io::Result<()> {
        match self.store.as_mut() {
            Some(s) => s.checkpoint(seq, hash),
            None => Ok(()),
        }
    }

    /// The journal read again whole by a store that is not a file (see
    /// [`JournalStore::reload`]).
    pub fn reload(&mut self) -> Result<Option<(crate::state::State, Log)>, AuditError> {
        match self.store.as_mut() {
            Some(s) => s.reload(),
            None => Ok(None),
        }
    }

    /// Swaps in a reopened store, taking its writers' lock.
    pub fn swap(&mut self, mut store: Box<dyn JournalStore>) -> Result<(), AuditError> {
        store.lock()?;
        *self.store = Some(store);
        Ok(())
    }
}

fn random_id() -> String {
    event::random_bytes(16).map_or_else(|_| format!("{:032x}", Instant::now().0), hex::encode)
}

impl Audit {
    /// An audit log kept in memory only.
    pub fn in_memory() -> Self {
        let graph_id = random_id();
        Audit {
            log: RwLock::new(Log::new(event::genesis(&graph_id))),
            graph_id,
            store: Mutex::new(None),
            durability: Durability::Os,
            group: None,
            failed: RwLock::new(None),
            source: None,
            keep: true,
            unlogged: AtomicU64::new(0),
        }
    }

    /// No audit log at all: for in-memory graphs whose history nobody wants (bulk
    /// what-if simulations, benchmarks, large fixtures), which then cost no memory or
    /// time per change beyond the state itself. Mutations are still authority-checked.
    pub fn unaudited() -> Self {
        Audit {
            keep: false,
            ..Audit::in_memory()
        }
    }

    /// False when this graph keeps no audit log (`audit=False`).
    pub fn keeps_log(&self) -> bool {
        self.keep
    }

    /// An audit log backed by a journal store.
    pub fn journaled(
        graph_id: String,
        log: Log,
        store: Box<dyn JournalStore>,
        durability: Durability,
        source: Option<(PathBuf, Option<Vec<u8>>)>,
    ) -> Self {
        let group = (durability == Durability::Group)
            .then(|| store.sync_handle())
            .flatten()
            .map(|file| GroupSync {
                file,
                synced: Mutex::new(store.offset()),
            });
        Audit {
            graph_id,
            log: RwLock::new(log),
            store: Mutex::new(Some(store)),
            durability,
            group,
            failed: RwLock::new(None),
            source,
            keep: true,
            unlogged: AtomicU64::new(0),
        }
    }

    /// Refuses mutations after a failed write (fail-stop).
    pub fn admit(&self) -> Result<(), AuditError> {
        match &*self.failed.read() {
            Some(why) => Err(AuditError::Failed(why.clone())),
            None => Ok(()),
        }
    }

    /// Stops mutations from now on, saying why (a failed write, or a bug that may have
    /// left the state half-changed); the first reason given is kept.
    pub fn fail(&self, why: String) -> AuditError {
        let mut f = self.failed.write();
        f.get_or_insert(why.clone());
        AuditError::Failed(why)
    }

    /// Locks the journal for one mutation (the writers' lock across processes).
    pub fn begin(&self) -> Result<Session<'_>, AuditError> {
        let mut store = self.store.lock();
        if let Some(s) = store.as_mut() {
            s.lock()?;
        }
        Ok(Session { store })
    }

    /// Locks the journal for reading what others appended (`refresh`).
    pub fn begin_shared(&self) -> Result<Session<'_>, AuditError> {
        let mut store = self.store.lock();
        if let Some(s) = store.as_mut() {
            s.lock_shared()?;
        }
        Ok(Session { store })
    }

    /// True when a journal backs this log.
    pub fn is_journaled(&self) -> bool {
        self.store.lock().is_some()
    }

    /// The revision: the `seq` of the last event (or, without a log, the number of
    /// changes made).
    pub fn revision(&self) -> u64 {
        self.log.read().last_seq() + self.unlogged.load(Ordering::Acquire)
    }

    /// The events of `changes`, chained after the log (none when no log is kept: the
    /// changes then only advance the revision).
    pub fn events_of<C: std::borrow::Borrow<Change>>(
        &self,
        changes: &[C],
        actor: Option<&str>,
        at: Instant,
    ) -> Result<Vec<Event>, AuditError> {
        if !self.keep {
            self.unlogged
                .fetch_add(changes.len() as u64, Ordering::AcqRel);
            return Ok(Vec::new());
        }
        self.prepare(Self::describe(changes), actor, at)
    }

    /// Builds the events of `changes` (and application events), chained after the log.
    pub fn prepare(
        &self,
        items: Vec<(String, String, Map<String, Value>)>,
        actor: Option<&str>,
        at: Instant,
    ) -> Result<Vec<Event>, AuditError> {
        if !self.keep {
            return Ok(Vec::new());
        }
        let log = self.log.read();
        let mut seq = log.last_seq();
        let mut prev = log.last_hash().to_owned();
        let actor = actor.unwrap_or(event::SYSTEM).to_owned();
        let mut out = Vec::with_capacity(items.len());
        for (action, target, details) in items {
            seq += 1;
            let ev = Event::new(
                seq,
                at,
                actor.clone(),
                action,
                target,
                details,
                prev.clone(),
            )
            .map_err(|e| AuditError::Io(format!("cannot draw random salts: {e}")))?;
            prev.clone_from(&ev.hash);
            out.push(ev);
        }
        Ok(out)
    }

    /// The events describing `changes`.
    pub fn describe<C: std::borrow::Borrow<Change>>(
        changes: &[C],
    ) -> Vec<(String, String, Map<String, Value>)> {
        changes
            .iter()
            .map(|c| {
                let c = c.borrow();
                let (target, details) = replay::describe(c);
                (c.action().to_owned(), target, details)
            })
            .collect()
    }

    /// Writes `events` to the journal (and syncs, unless group commit defers it).
    /// Returns what a group-commit caller must wait for. A failure stops the graph.
    pub fn write(
        &self,
        session: &mut Session<'_>,
        events: &[Event],
    ) -> Result<Durable, AuditError> {
        let last = events.last().map(|e| (e.seq, e.hash.clone()));
        let Some(store) = session.store.as_mut() else {
            return Ok(Durable {
                offset: 0,
                last: None,
            });
        };
        let mut lines = String::new();
        for e in events {
            lines.push_str(&e.to_line());
        }
        // A database decides itself what committed: its failures stop only this call.
        let fail_stop = store.fail_stop();
        let fail = |what: &str, e: std::io::Error| {
            if fail_stop {
                self.fail(format!("{what} failed: {e}"))
            } else {
                AuditError::Unavailable(e.to_string())
            }
        };
        let end = store.append(&lines).map_err(|e| fail("write", e))?;
        if self.durability == Durability::Fsync {
            store.sync().map_err(|e| fail("fsync", e))?;
        }
        if let Some((seq, hash)) = &last {
            if self.durability != Durability::Group {
                store
                    .checkpoint(*seq, hash)
                    .map_err(|e| self.fail(format!("checkpoint write failed: {e}")))?;
            }
        }
        Ok(Durable { offset: end, last })
    }

    /// Group commit: returns once everything up to the write is on disk (at once in the
    /// other modes, where `write` synced already).
    pub fn wait_durable(&self, d: Durable) -> Result<(), AuditError> {
        let Some(g) = &self.group else {
            return Ok(());
        };
        {
            let mut synced = g.synced.lock();
            if *synced < d.offset {
                // Everything written before this fsync starts is covered by it.
                let end = self.store_offset().unwrap_or(d.offset).max(d.offset);
                g.file
                    .sync_data()
                    .map_err(|e| self.fail(format!("fsync failed: {e}")))?;
                *synced = end;
            }
        }
        if let Some((seq, hash)) = d.last {
            let mut store = self.store.lock();
            if let Some(s) = store.as_mut() {
                s.checkpoint(seq, &hash)
                    .map_err(|e| self.fail(format!("checkpoint write failed: {e}")))?;
            }
        }
        Ok(())
    }

    fn store_offset(&self) -> Option<u64> {
        self.store
            .try_lock()
            .and_then(|s| s.as_ref().map(|s| s.offset()))
    }

    /// Adds written events to the log in memory.
    pub fn push(&self, events: Vec<Event>) {
        self.log.write().events.extend(events);
    }
}
