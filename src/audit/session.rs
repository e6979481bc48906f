//! [`Session`]: the journal locked for one mutation (the writers' lock) or for reading
//! what other processes appended (the readers' lock), unlocked when dropped. A writer's
//! session bumps the revision beacon as it ends, so other processes look again.

use parking_lot::MutexGuard;

use super::beacon::Follow;
use super::event::Event;
use super::journal::{self, Header, JournalStore};
use super::log::Log;
use crate::error::AuditError;

/// The journal, locked for one mutation; unlocks when dropped.
pub struct Session<'a> {
    pub(super) store: MutexGuard<'a, Option<Box<dyn JournalStore>>>,
    /// Set for the writers' lock: the beacon to bump before it is let go.
    wake: Option<&'a Follow>,
    /// The graph holds all the journal holds (see [`Session::settled`]).
    settled: bool,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.store.as_mut() {
            // Whatever this session did to the journal (an append, a cut, a rewrite,
            // or nothing), other processes look again before their next query.
            if let Some(f) = self.wake {
                f.bump(self.settled);
            }
            s.unlock();
        }
    }
}

impl<'a> Session<'a> {
    /// The session holding `store` (locked by the caller); `wake`, for the writers' lock.
    pub(super) fn new(
        store: MutexGuard<'a, Option<Box<dyn JournalStore>>>,
        wake: Option<&'a Follow>,
    ) -> Self {
        Session {
            store,
            wake,
            settled: false,
        }
    }

    /// Says that the graph now holds everything the journal holds (it caught up under
    /// this session and applied whatever it appended), so the bump when the session ends
    /// is not news to the graph itself.
    pub fn settled(&mut self) {
        self.settled = true;
    }

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

    /// Atomically rewrites the journal: `header`, then `events`.
    pub fn replace(&mut self, header: &Header, events: &[Event]) -> std::io::Result<()> {
        match self.store.as_mut() {
            Some(s) => s.replace(header, events),
            None => Ok(()),
        }
    }

    /// True when the graph has a journal.
    pub fn is_journaled(&self) -> bool {
        self.store.is_some()
    }

    /// The journal read again whole by a store that is not a file (see
    /// [`JournalStore::reload`]).
    pub fn reload(&mut self) -> Result<Option<(crate::state::State, Log)>, AuditError> {
        match self.store.as_mut() {
            Some(s) => s.reload(),
            None => Ok(None),
        }
    }

    /// Cuts the last batch back out of the journal (it was written but not applied).
    pub fn rollback(&mut self) -> std::io::Result<()> {
        match self.store.as_mut() {
            Some(s) => s.rollback(),
            None => Ok(()),
        }
    }

    /// The store itself (to drop it before the file is reopened).
    pub fn store_mut(&mut self) -> &mut Option<Box<dyn JournalStore>> {
        &mut self.store
    }

    /// Swaps in a reopened store, taking its writers' lock.
    pub fn swap(&mut self, mut store: Box<dyn JournalStore>) -> Result<(), AuditError> {
        store.lock()?;
        *self.store = Some(store);
        Ok(())
    }
}
