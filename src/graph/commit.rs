//! The one path every mutation takes: admit the call, take the journal's writers' lock and
//! catch up, plan under the upgradable lock, record the events, apply the plan whole.

use super::front::Graph;
use crate::audit::recorder::Durable;
use crate::audit::{journal::Fresh, Session};
use crate::error::{ConflictError, Error, Result};
use crate::state::{Change, Stamp, State};
use crate::time::{At, Instant};
use parking_lot::{RwLockUpgradableReadGuard, RwLockWriteGuard};

impl Graph {
    /// What every change needs before planning: a well-formed actor, a writable graph.
    pub(super) fn admit(&self, actor: Option<&str>) -> Result<()> {
        if let Some(a) = actor {
            crate::ids::check_email("actor", a)?;
        }
        if let Some(why) = &self.read_only {
            return Err(ConflictError::ReadOnly(why.clone()).into());
        }
        Ok(self.audit.admit()?)
    }

    /// Takes the journal's writers' lock and applies what other processes appended
    /// since this graph last looked; returns the (upgradable) state guard back.
    pub(super) fn catch_up<'g>(
        &'g self,
        guard: RwLockUpgradableReadGuard<'g, State>,
        session: &mut Session<'_>,
    ) -> Result<RwLockUpgradableReadGuard<'g, State>> {
        match session.fresh(true)? {
            Fresh::Records(records) if records.is_empty() => Ok(guard),
            Fresh::Records(records) => {
                let mut st = RwLockUpgradableReadGuard::upgrade(guard);
                self.apply_records(&mut st, records)?;
                Ok(RwLockWriteGuard::downgrade_to_upgradable(st))
            }
            Fresh::Replaced => {
                let mut st = RwLockUpgradableReadGuard::upgrade(guard);
                self.reload(&mut st, session, true)?;
                Ok(RwLockWriteGuard::downgrade_to_upgradable(st))
            }
        }
    }

    /// Applies `changes` as one atomic step, without authority checks: for imports made
    /// by the system (and later replay and reviewed plans). The changes are applied to a
    /// copy of the state first, so a change that does not fit (a grant without a
    /// membership, an org that exists) leaves the graph exactly as it was. Readers carry
    /// on meanwhile; the write lock is held only to swap the new state in.
    pub fn apply_batch(&self, changes: &[Change], actor: Option<&str>) -> Result<()> {
        self.admit(actor)?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        let now = self.clock.now();
        let actor = actor.map(crate::ids::email_key);
        let actor = actor.as_deref();
        let stamp = Stamp { at: now, actor };
        let changes = super::keys::completed(&guard, changes)?;
        let mut next = (*guard).clone();
        for c in &changes {
            next.apply(c, stamp)?;
        }
        let events = self.audit.events_of(&changes, actor, now)?;
        self.commit(guard, session, events, |st| {
            *st = next;
            Ok(())
        })
    }

    /// The single path every mutation takes: plan under the upgradable lock (authority and
    /// structural rules see a stable state, readers carry on), let the observer see the
    /// plan, then apply it whole under the write lock.
    pub(crate) fn mutate<T>(
        &self,
        actor: Option<&str>,
        plan: impl FnOnce(&State, &mut At<'_>) -> Result<(Vec<Change>, T)>,
    ) -> Result<T> {
        self.admit(actor)?;
        let guard = self.state.upgradable_read();
        let mut session = self.audit.begin()?;
        let guard = self.catch_up(guard, &mut session)?;
        let now = self.clock.now();
        let mut at = At::new(Some(now), &self.clock);
        let key = actor.map(crate::ids::email_key);
        let actor = key.as_deref();
        // Until `commit` writes, an early return leaves the journal as the graph caught
        // up with it: the session is settled (its end is no news to this graph).
        let (mut changes, out) = match plan(&guard, &mut at) {
            Ok(planned) => planned,
            Err(Error::Permission(p)) => return Err(self.refuse(guard, session, p, actor, now)),
            Err(e) => return Err(settled(session, e)),
        };
        if let Err(e) = super::keys::complete(&guard, &mut changes) {
            return Err(settled(session, e));
        }
        if changes.is_empty() {
            settled(session, ());
            return Ok(out);
        }
        let events = match self.audit.events_of(&changes, actor, now) {
            Ok(events) => events,
            Err(e) => return Err(settled(session, e.into())),
        };
        let stamp = Stamp { at: now, actor };
        self.commit(guard, session, events, |st| {
            changes.iter().try_for_each(|c| st.apply(c, stamp))
        })?;
        Ok(out)
    }

    /// The sequence every mutation ends with: write `events` to the journal (before
    /// anything changes), apply the change under the write lock, publish the events in
    /// the audit log, release the locks, then wait until the events are durable.
    pub(super) fn commit(
        &self,
        guard: RwLockUpgradableReadGuard<'_, State>,
        mut session: Session<'_>,
        events: Vec<crate::audit::Event>,
        apply: impl FnOnce(&mut State) -> Result<()>,
    ) -> Result<()> {
        let durable = self.audit.write(&mut session, &events)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(guard);
        if let Err(e) = apply(&mut st) {
            // Planning checked every rule, so this is a bug; the state may be half
            // changed: stop for writes, and take the batch back out of the journal.
            let _ = session.rollback();
            let _ = self
                .audit
                .fail(format!("a planned change did not apply: {e}"));
            return Err(e);
        }
        self.audit.push(events);
        drop(st);
        session.settled();
        drop(session);
        self.durable(&durable)
    }

    /// Waits for a group commit's sync. When it fails, the audit recorder has settled it
    /// (cut back what was this process's own and still ended the journal, or kept it);
    /// the state is then read again from the journal, so memory never holds a change
    /// the journal lost, nor lacks one it kept. The wait holds no state lock: the group
    /// sync's lock is never taken under the state lock (see the module docs of
    /// `crate::audit::recorder` for the order).
    fn durable(&self, d: &Durable) -> Result<()> {
        let Err(e) = self.audit.wait_durable(d) else {
            return Ok(());
        };
        let guard = self.state.upgradable_read();
        if let Ok(mut session) = self.audit.begin() {
            let _ = self.catch_up(guard, &mut session);
        }
        Err(e.into())
    }

    /// Events that change no state (an application event): written, published and
    /// made durable like a mutation's, without taking the write lock.
    pub(super) fn append_only(
        &self,
        guard: RwLockUpgradableReadGuard<'_, State>,
        mut session: Session<'_>,
        events: Vec<crate::audit::Event>,
    ) -> Result<()> {
        let durable = self.audit.write(&mut session, &events)?;
        self.audit.push(events);
        drop(guard);
        // The graph holds what it appended, as it does after `commit`.
        session.settled();
        drop(session);
        self.durable(&durable)
    }

    /// Records a refused mutation as an `access.denied` event and returns the refusal
    /// as the error to raise (or the audit failure, when the event cannot be written).
    pub(super) fn refuse(
        &self,
        guard: RwLockUpgradableReadGuard<'_, State>,
        session: Session<'_>,
        refusal: crate::error::PermissionError,
        actor: Option<&str>,
        now: Instant,
    ) -> Error {
        let events = match self
            .audit
            .prepare(vec![denied_event(&refusal.decision)], actor, now)
        {
            Ok(events) => events,
            Err(e) => return e.into(),
        };
        match self.append_only(guard, session, events) {
            Ok(()) => Error::Permission(refusal),
            Err(e) => e,
        }
    }
}

/// Ends `session` settled (see [`Session::settled`]), handing `value` back.
fn settled<T>(mut session: Session<'_>, value: T) -> T {
    session.settled();
    value
}

/// The `access.denied` event of a refused mutation: the rule (action) that refused it.
fn denied_event(
    d: &crate::decision::Decision,
) -> (String, String, serde_json::Map<String, serde_json::Value>) {
    let mut details = serde_json::Map::new();
    details.insert("rule".into(), d.action.clone().into());
    details.insert("reason".into(), d.reason.clone().into());
    if let Some(role) = d.role {
        details.insert("role".into(), role.as_str().into());
    }
    ("access.denied".to_owned(), d.target.clone(), details)
}
