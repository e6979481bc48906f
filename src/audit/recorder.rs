//! A graph's audit recorder: the events in memory ([`Log`]) and, when the graph is
//! journaled, the store they are written to before a change is applied.
//!
//! Each mutation's events are one batch, written in one `append`. A write, sync or
//! checkpoint that fails is cut back from the journal while the writers' lock is still
//! held — nobody reads it — and the graph stops accepting mutations (fail-stop): it
//! never reports a change as done that may not be on disk, and never keeps one in
//! memory that is not in the journal.
//!
//! Group commit (`durability="group"`) writes a batch under the writers' lock and syncs
//! it after letting the lock go, one sync for every batch written before it started.
//! When that sync (or the checkpoint after it) fails, the records not made durable are
//! cut back only while they are this process's own and nothing follows them in the
//! file; records another process appended after (built on them, maybe acknowledged)
//! are never cut, so then ours stay, applied here as in the file, and the callers are
//! told they were written but may be lost on power failure.
//!
//! Lock order: `group` (the group sync's mutex) before `store` (and the writers' file
//! lock taken with it), `store` before `log` and `failed`. The graph takes its state
//! lock before `store` and never holds it while taking `group`; nothing takes `group`
//! while holding `store`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};

use super::event::{self, Event};
use super::journal::{Durability, JournalStore};
use super::log::Log;
use super::replay;
use super::session::Session;
use crate::error::AuditError;
use crate::state::Change;
use crate::time::Instant;

/// What a caller waits for after a write: where the batch ends in which generation of
/// the journal, and its last event.
#[derive(Debug)]
pub struct Durable {
    generation: u64,
    /// Where the batch starts and ends.
    start: u64,
    offset: u64,
    last: Option<(u64, String)>,
}

/// Group commit's shared sync.
#[derive(Debug, Default)]
struct Group {
    /// What the last good sync covered (generation, offset).
    synced: (u64, u64),
    /// Once a sync failed: why, and what became of the records it left unsynced. No sync
    /// is trusted after a failed one (the kernel may have dropped the pages it could not
    /// write and report success next time).
    failure: Option<(String, Cut)>,
}

/// What became of this process's records that a failed sync or checkpoint left in the
/// journal.
#[derive(Debug, Clone)]
enum Cut {
    /// Cut back: the journal now ends here (generation, offset).
    To((u64, u64)),
    /// Kept: records were appended after them since (another thread's or process's).
    Followed,
    /// Kept: cutting them back failed (the writers' lock, or the truncation), and why.
    Failed(String),
}

/// A graph's audit log and, when opened from a journal, the store behind it.
pub struct Audit {
    /// The graph's identity, named by its journal's first record.
    pub graph_id: String,
    /// The events in memory.
    pub log: RwLock<Log>,
    pub(super) store: Mutex<Option<Box<dyn JournalStore>>>,
    durability: Durability,
    /// Group commit: the shared sync (see the module docs for the lock order).
    group: Mutex<Group>,
    failed: RwLock<Option<String>>,
    /// Where the journal is and its checkpoint key, for reloading after a rewrite.
    pub source: Option<(PathBuf, Option<Vec<u8>>)>,
    /// False for a graph built with `audit=False`: no events are made or kept.
    keep: bool,
    /// Changes made while no events are kept (they still advance the revision).
    unlogged: AtomicU64,
    /// Snapshot files this graph read or wrote: an erasure removes them.
    snapshots: Mutex<Vec<PathBuf>>,
    /// Where the history is read from when the log keeps only its tail (PostgreSQL;
    /// see `super::source`).
    pub(super) history: Option<super::source::Source>,
    /// A file journal's revision beacon (see `super::beacon`).
    follow: Option<super::beacon::Follow>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("graph_id", &self.graph_id)
            .field("events", &self.log.read().len())
            .finish_non_exhaustive()
    }
}

impl Default for Audit {
    fn default() -> Self {
        Audit::in_memory()
    }
}

impl Audit {
    /// An audit log kept in memory only. If the operating system's random source fails,
    /// the graph refuses mutations (an event's salts need it) rather than use weaker
    /// randomness.
    pub fn in_memory() -> Self {
        let (graph_id, failed) = match super::random::hex_id() {
            Ok(id) => (id, None),
            Err(e) => (
                "0".repeat(32),
                Some(format!("the operating system's random source failed: {e}")),
            ),
        };
        Audit {
            log: RwLock::new(Log::new(event::genesis(&graph_id))),
            graph_id,
            store: Mutex::new(None),
            durability: Durability::Os,
            group: Mutex::new(Group::default()),
            failed: RwLock::new(failed),
            source: None,
            keep: true,
            unlogged: AtomicU64::new(0),
            snapshots: Mutex::new(Vec::new()),
            history: None,
            follow: None,
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
        let synced = store.position();
        Audit {
            graph_id,
            log: RwLock::new(log),
            store: Mutex::new(Some(store)),
            durability,
            group: Mutex::new(Group {
                synced,
                failure: None,
            }),
            failed: RwLock::new(None),
            source,
            keep: true,
            unlogged: AtomicU64::new(0),
            snapshots: Mutex::new(Vec::new()),
            history: None,
            follow: None,
        }
    }

    /// Follows a file journal's revision beacon (made before the journal was read).
    #[must_use]
    pub fn with_follow(mut self, follow: super::beacon::Follow) -> Self {
        self.follow = Some(follow);
        self
    }

    /// The revision beacon this graph follows, for a file journal.
    #[inline]
    pub fn follow(&self) -> Option<&super::beacon::Follow> {
        self.follow.as_ref()
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
        if let Some(f) = &self.follow {
            f.revalidate();
        }
        Ok(Session::new(store, self.follow.as_ref()))
    }

    /// Locks the journal for reading what others appended (`refresh`).
    pub fn begin_shared(&self) -> Result<Session<'_>, AuditError> {
        let mut store = self.store.lock();
        if let Some(s) = store.as_mut() {
            s.lock_shared()?;
        }
        Ok(Session::new(store, None))
    }

    /// True when a journal backs this log.
    pub fn is_journaled(&self) -> bool {
        self.store.lock().is_some()
    }

    /// True when mutations wait for a shared sync (group commit).
    pub fn group_commit(&self) -> bool {
        self.durability == Durability::Group
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
        let mut prev = log.last_hash();
        drop(log);
        let actor = actor.unwrap_or(event::SYSTEM);
        let n = items.len();
        let mut out = Vec::with_capacity(n);
        for (i, (action, target, details)) in items.into_iter().enumerate() {
            seq += 1;
            // The last event (most often the only one) takes the chain's text itself.
            let last = i + 1 == n;
            let prev_hash = if last {
                std::mem::take(&mut prev)
            } else {
                prev.clone()
            };
            let ev = Event::new(
                seq,
                at,
                actor.to_owned(),
                action,
                target,
                details,
                prev_hash,
            )
            .map_err(|e| self.fail(format!("cannot draw random salts: {e}")))?;
            if !last {
                prev.clone_from(&ev.hash);
            }
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

    /// Writes `events` to the journal as one batch and, unless group commit defers it,
    /// syncs it and signs the checkpoint. Returns what a group-commit caller must wait
    /// for. On failure the batch is cut back from the journal first.
    pub fn write(
        &self,
        session: &mut Session<'_>,
        events: &[Event],
    ) -> Result<Durable, AuditError> {
        let last = events.last().map(|e| (e.seq, e.hash.clone()));
        let Some(store) = session.store.as_mut() else {
            return Ok(Durable {
                generation: 0,
                start: 0,
                offset: 0,
                last: None,
            });
        };
        if events.is_empty() {
            let (generation, offset) = store.position();
            return Ok(Durable {
                generation,
                start: offset,
                offset,
                last: None,
            });
        }
        // A database decides itself what committed: its failures stop only this call.
        if !store.fail_stop() {
            store
                .append(events)
                .map_err(|e| AuditError::Unavailable(e.to_string()))?;
            let (generation, offset) = store.position();
            return Ok(Durable {
                generation,
                start: offset,
                offset,
                last: None,
            });
        }
        // Fail-stop, checked under the writers' lock: after a failed group sync was
        // settled (cut back or kept), nothing may be written after it.
        if let Some(why) = &*self.failed.read() {
            return Err(AuditError::Failed(why.clone()));
        }
        let undo = |what: &str, e: &std::io::Error, store: &mut Box<dyn JournalStore>| {
            let cut = match store.rollback() {
                Ok(()) => "the batch was cut back from the journal".to_owned(),
                Err(r) => format!(
                    "cutting the batch back failed too ({r}): the journal's tail is in doubt"
                ),
            };
            self.fail(format!("{what} failed: {e}; {cut}"))
        };
        let start = store.position().1;
        store.append(events).map_err(|e| undo("write", &e, store))?;
        if self.durability == Durability::Fsync {
            store.sync().map_err(|e| undo("fsync", &e, store))?;
        }
        if self.durability != Durability::Group {
            if let Some((seq, hash)) = &last {
                store
                    .checkpoint(*seq, hash)
                    .map_err(|e| undo("checkpoint write", &e, store))?;
            }
        }
        let (generation, offset) = store.position();
        Ok(Durable {
            generation,
            start,
            offset,
            last,
        })
    }

    /// Group commit: returns once everything up to the write is on disk (at once in the
    /// other modes, where `write` synced already). One sync covers every batch written
    /// before it started; it syncs the journal as it is now, so a journal rewritten in
    /// the meantime (itself synced by the rewrite) is never confused with the old file.
    ///
    /// When the sync fails, the thread that made it settles the failure for everyone
    /// while still holding the group's lock (so no waiter syncs again or goes on before
    /// it is settled): the graph stops, and under the writers' lock what was not made
    /// durable is cut back if it is this process's own and still ends the file (see
    /// [`JournalStore::cut_back`]). Every waiter not covered by an earlier good sync
    /// gets an error saying whether its batch was cut back or kept. After a cut, the
    /// store's next read says `Replaced`: the caller reads the journal again
    /// (`Graph::durable`) so that memory matches it.
    pub fn wait_durable(&self, d: &Durable) -> Result<(), AuditError> {
        if self.durability != Durability::Group || d.last.is_none() {
            return Ok(());
        }
        {
            // Lock order: `group`, then `store` (never the other way round).
            let mut group = self.group.lock();
            let covered = group.synced.0 > d.generation
                || (group.synced.0 == d.generation && group.synced.1 >= d.offset);
            if !covered {
                if let Some((why, cut)) = &group.failure {
                    return Err(Self::unsynced(d, why, cut));
                }
                let (handle, position) = {
                    let store = self.store.lock();
                    let Some(s) = store.as_ref() else {
                        return Ok(());
                    };
                    (s.sync_handle(), s.position())
                };
                if position.0 > d.generation {
                    // Rewritten since: the rewrite synced everything, ours included.
                    group.synced = position;
                } else if let Some(file) = handle {
                    if let Err(e) = file.sync_data() {
                        let why = format!("fsync failed: {e}");
                        self.fail(why.clone());
                        let cut = self.cut_back(group.synced, None);
                        let e = Self::unsynced(d, &why, &cut);
                        group.failure = Some((why, cut));
                        return Err(e);
                    }
                    group.synced = position;
                }
            }
        }
        if let Some((seq, hash)) = &d.last {
            let mut store = self.store.lock();
            if let Some(s) = store.as_mut() {
                if let Err(e) = s.checkpoint_after_sync(d.generation, *seq, hash) {
                    drop(store);
                    let why = format!("checkpoint write failed: {e}");
                    self.fail(why.clone());
                    // Synced, but not vouched for: cut back like the other modes do, as
                    // long as nothing (another thread's batch, another process's) follows.
                    let cut = self.cut_back((d.generation, d.start), Some(d.offset));
                    return Err(AuditError::Failed(match cut {
                        Cut::To(_) => format!(
                            "{why}; the change was cut back from the journal and is not applied"
                        ),
                        Cut::Followed => format!(
                            "{why}; the change was written and synced, but the journal has \
                             grown after it since (another thread or process appended), so it \
                             was kept: it is applied, here as in the journal"
                        ),
                        Cut::Failed(e) => format!(
                            "{why}; the change was written and synced, and cutting it back \
                             failed too ({e}), so it was kept: it is applied, here as in the \
                             journal"
                        ),
                    }));
                }
            }
        }
        Ok(())
    }

    /// Under the writers' lock (taken here; the caller holds no `store` lock): cuts back
    /// this process's own records after `from`, when nothing follows them.
    fn cut_back(&self, from: (u64, u64), end: Option<u64>) -> Cut {
        let mut session = match self.begin() {
            Ok(s) => s,
            Err(e) => return Cut::Failed(e.to_string()),
        };
        let Some(store) = session.store.as_mut() else {
            return Cut::Followed; // never reached: only a journal's sync or checkpoint fails
        };
        let generation = store.position().0;
        match store.cut_back(from, end) {
            Ok(Some(to)) => Cut::To((generation, to)),
            Ok(None) => Cut::Followed,
            Err(e) => Cut::Failed(e.to_string()),
        }
    }

    /// The error for a batch a failed group sync left unsynced: cut back (`cut` is at or
    /// before where it ended, in its generation), or kept.
    fn unsynced(d: &Durable, why: &str, cut: &Cut) -> AuditError {
        let was_cut = matches!(cut, Cut::To((g, to)) if *g == d.generation && *to < d.offset);
        AuditError::Failed(if was_cut {
            format!("{why}; the change was cut back from the journal and is not applied")
        } else if let Cut::Failed(e) = cut {
            format!(
                "{why}; the change was written to the journal but its sync failed, and \
                 cutting it back failed too ({e}), so it was kept: it is applied (here, and \
                 in any process that reads the journal) and may be lost on power failure"
            )
        } else {
            format!(
                "{why}; the change was written to the journal but its sync failed, and \
                 another process has since appended after it, so it was kept: it is applied \
                 (here and in the other processes) and may be lost on power failure"
            )
        })
    }

    /// Remembers a snapshot file of this graph's journal.
    pub fn remember_snapshot(&self, path: PathBuf) {
        let mut known = self.snapshots.lock();
        if !known.contains(&path) {
            known.push(path);
        }
    }

    /// The snapshot files this graph read or wrote.
    pub fn snapshot_paths(&self) -> Vec<PathBuf> {
        self.snapshots.lock().clone()
    }

    /// Adds written events to the log in memory.
    pub fn push(&self, events: Vec<Event>) {
        self.log.write().extend(events);
        self.forget_held();
    }
}

/// A graph whose history is read from its store (PostgreSQL): see `super::source`.
impl Audit {
    /// Reads the history from `source` rather than holding it: the log keeps its tail only.
    #[must_use]
    pub fn with_source(mut self, source: Option<super::source::Source>) -> Self {
        if source.is_some() {
            super::source::keep_tail(&mut self.log.write());
        }
        self.history = source;
        self
    }

    /// The store the history is read from, when the graph does not hold it.
    pub fn history_source(&self) -> Option<&dyn super::source::HistorySource> {
        self.history.as_deref()
    }

    /// With a source: forgets the events held in memory (the store has them), keeping
    /// where the chain ends. Called after events are added to the log.
    pub fn forget_held(&self) {
        if self.history.is_some() {
            super::source::keep_tail(&mut self.log.write());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::file::FileJournal;
    use crate::audit::files::TestDir;
    use crate::audit::journal::{self, Header};
    use crate::time::Instant;
    use std::os::unix::fs::MetadataExt;

    type Res = Result<(), Box<dyn std::error::Error>>;

    fn event(seq: u64, prev: &str) -> std::io::Result<Event> {
        let mut details = Map::new();
        details.insert("name".into(), Value::from(format!("Org {seq}")));
        Event::new(
            seq,
            Instant(i64::try_from(seq).unwrap_or_default()),
            event::SYSTEM.into(),
            "org.created".into(),
            format!("org{seq}"),
            details,
            prev.to_owned(),
        )
    }

    /// A journal's path in a new folder, which goes when the folder's value is dropped.
    fn journal(tag: &str) -> std::io::Result<(TestDir, PathBuf)> {
        let dir = TestDir::new(&format!("rec-{tag}"))?;
        let path = dir.join("j");
        Ok((dir, path))
    }

    /// Issue 14, finding 3: a group commit after a rewrite syncs the file the records go
    /// to, never the old (deleted) one.
    #[test]
    fn after_a_rewrite_the_sync_handle_is_the_current_file() -> Res {
        let (_dir, path) = journal("handle")?;
        let opened = FileJournal::open(&path, None, None)?;
        let mut j = opened.journal;
        let header = opened.header;
        j.lock()?;
        let e1 = event(1, &header.anchor)?;
        j.append(std::slice::from_ref(&e1))?;
        let before = j.position();
        j.replace(&header, std::slice::from_ref(&e1))?;
        let handle = j.sync_handle().ok_or("a file store has a sync handle")?;
        assert_eq!(handle.metadata()?.ino(), std::fs::metadata(&path)?.ino());
        assert!(
            j.position().0 > before.0,
            "a rewrite starts a new generation"
        );
        j.unlock();
        // A store opened afresh (after another process's rewrite) never reuses one.
        let again = FileJournal::open(&path, None, None)?.journal;
        assert!(again.position().0 > j.position().0);
        Ok(())
    }

    /// Review C, finding 2: a cut after a failed group sync removes only this store's
    /// own records, and none once another process appended after them.
    #[test]
    fn a_cut_never_removes_what_another_process_appended() -> Res {
        let (_dir, path) = journal("cut")?;
        let opened = FileJournal::open(&path, None, None)?;
        let mut mine = opened.journal;
        let header = opened.header;
        mine.lock()?;
        let synced = mine.position();
        let e1 = event(1, &header.anchor)?;
        mine.append(std::slice::from_ref(&e1))?;
        mine.unlock();
        // Another process reads our record and chains its own onto it.
        let mut other = FileJournal::open(&path, None, None)?.journal;
        other.lock()?;
        let e2 = event(2, &e1.hash)?;
        other.append(std::slice::from_ref(&e2))?;
        other.unlock();
        let len = std::fs::metadata(&path)?.len();
        mine.lock()?;
        assert_eq!(
            mine.cut_back(synced, None)?,
            None,
            "built on: nothing is cut"
        );
        assert_eq!(std::fs::metadata(&path)?.len(), len);
        // Ours after theirs, at the end of the file: only ours is cut.
        assert!(matches!(mine.read_fresh(true)?, journal::Fresh::Records(r) if r.len() == 1));
        let at = mine.position().1;
        let e3 = event(3, &e2.hash)?;
        mine.append(std::slice::from_ref(&e3))?;
        assert_eq!(mine.cut_back(synced, None)?, Some(at));
        assert_eq!(std::fs::metadata(&path)?.len(), at);
        assert!(matches!(mine.read_fresh(true)?, journal::Fresh::Replaced));
        mine.unlock();
        Ok(())
    }

    /// Issue 14, finding 3: after another process rewrote the journal (a prune leaves it
    /// shorter than what this graph had synced) and the graph reloaded it, the next
    /// group commit still syncs: what it synced before is no cover for the new file.
    #[test]
    fn a_group_commit_after_another_process_rewrote_the_journal_syncs_again() -> Res {
        let (_dir, path) = journal("group")?;
        let opened = FileJournal::open(&path, None, None)?;
        let header = opened.header;
        let audit = Audit::journaled(
            header.graph_id.clone(),
            Log::new(header.anchor.clone()),
            Box::new(opened.journal),
            Durability::Group,
            None,
        );
        let mut prev = header.anchor.clone();
        let mut events = Vec::new();
        for seq in 1..=20 {
            let e = event(seq, &prev)?;
            prev.clone_from(&e.hash);
            let mut session = audit.begin()?;
            let d = audit.write(&mut session, std::slice::from_ref(&e))?;
            drop(session);
            audit.wait_durable(&d)?;
            events.push(e);
        }
        // Another process prunes: the journal becomes its header and the last event.
        let mut other = FileJournal::open(&path, None, None)?.journal;
        other.lock()?;
        let last = events.last().ok_or("events")?.clone();
        let pruned = Header {
            base_seq: 19,
            anchor: last.prev_hash.clone(),
            ..header.clone()
        };
        other.replace(&pruned, std::slice::from_ref(&last))?;
        other.unlock();
        drop(other);
        // This graph sees the rewrite and reloads the journal (as `Graph::reload` does).
        let mut session = audit.begin()?;
        assert!(matches!(session.fresh(true)?, journal::Fresh::Replaced));
        *session.store_mut() = None;
        let reopened = FileJournal::open(&path, None, None)?;
        session.swap(Box::new(reopened.journal))?;
        let e21 = event(21, &last.hash)?;
        let d = audit.write(&mut session, std::slice::from_ref(&e21))?;
        let written = session
            .store
            .as_ref()
            .map(|s| s.position())
            .ok_or("store")?;
        drop(session);
        audit.wait_durable(&d)?;
        assert_eq!(
            audit.group.lock().synced,
            written,
            "the new file was synced up to the new batch"
        );
        Ok(())
    }
}
