//! The access graph: state behind one lock, the clock, queries and mutations.
//!
//! Concurrency: the whole [`State`] sits behind one `parking_lot::RwLock`. Queries take
//! the read lock (readers never block each other). A mutation plans its changes under an
//! *upgradable* read lock — readers keep going while authority and structural rules are
//! checked — and takes the write lock only to apply the planned changes, which is a few
//! microseconds of plain memory writes. So every mutation is atomic (a reader sees all
//! of it or none) and a writer never makes a reader wait for more than the apply step.
//!
//! Lock order: there is one lock. Nothing calls out (into Python or I/O) while holding it.

mod audited;
pub mod keys;
pub(crate) mod mutations;
pub mod offboard;
#[cfg(feature = "postgres")]
pub mod postgres;

use parking_lot::{RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard};

pub use audited::OpenOptions;
pub use keys::{KeyInfo, NewKey};
pub use mutations::{MemberPatch, NewMember, NewProject, ProjectPatch};
pub use offboard::OffboardingReport;

use crate::audit::{journal::Fresh, Audit, Session};
use crate::decision::Decision;
use crate::error::{ConflictError, Error, Result};
use crate::eval::{self, MatrixRow};
use crate::model::{GrantInfo, MemberInfo, OrgInfo, ProjectInfo, ResourceInfo, UserInfo};
use crate::roles::Role;
use crate::state::{queries, Change, Stamp, State};
use crate::time::{At, Clock, Instant};

/// The access graph. Share it between threads freely (`Graph: Send + Sync`).
#[derive(Default)]
pub struct Graph {
    state: RwLock<State>,
    clock: Clock,
    read_only: Option<String>,
    audit: Audit,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.read();
        f.debug_struct("Graph")
            .field("orgs", &st.orgs.iter().flatten().count())
            .field("users", &st.users.len())
            .finish_non_exhaustive()
    }
}

impl Graph {
    /// An empty graph on the wall clock.
    pub fn new() -> Self {
        Graph {
            state: RwLock::new(State::new()),
            ..Graph::default()
        }
    }

    /// An empty graph that keeps no audit log (see [`Audit::unaudited`]): `audit_*`,
    /// `as_of` and `record` raise `ConflictError`.
    pub fn unaudited() -> Self {
        Graph {
            state: RwLock::new(State::new()),
            audit: Audit::unaudited(),
            ..Graph::default()
        }
    }

    /// A graph holding `state` (built by replaying recorded changes with their own
    /// stamps: snapshots, journals), on the wall clock.
    pub fn from_state(state: State) -> Self {
        Graph {
            state: RwLock::new(state),
            ..Graph::default()
        }
    }

    /// A new graph holding what the changes `make` passes on create, applied by the
    /// system with `now` as their stamp and no audit events: a loaded document (a
    /// Markdown registry, a CSV matrix, a PostHog export) is where a graph's history
    /// starts, as a JSON snapshot is. Each change is applied as soon as it is made, so a
    /// million-grant document never holds a million changes at once. The first change
    /// that does not fit fails the load.
    pub fn built(
        now: Instant,
        make: impl FnOnce(&mut dyn FnMut(Change) -> Result<()>) -> Result<()>,
    ) -> Result<Graph> {
        let mut st = State::new();
        let stamp = Stamp {
            at: now,
            actor: None,
        };
        make(&mut |c| st.apply(&c, stamp))?;
        Ok(Graph::from_state(st))
    }

    /// The graph's state, taking the graph apart (no copy).
    pub fn into_state(self) -> State {
        self.state.into_inner()
    }

    /// Replaces the whole state (a freshly created graph taking a loaded one's content).
    pub fn replace_state(&self, state: State) {
        *self.state.write() = state;
    }

    /// A graph that refuses mutations with `ConflictError::ReadOnly(why)`.
    pub fn read_only(state: State, at: Option<Instant>, why: impl Into<String>) -> Self {
        let g = Graph {
            state: RwLock::new(state),
            read_only: Some(why.into()),
            ..Graph::default()
        };
        g.clock.set(at);
        g
    }

    /// Freezes the clock at `at`, or returns to the wall clock with `None`.
    pub fn set_time(&self, at: Option<Instant>) {
        self.clock.set(at);
    }

    /// The graph's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The frozen instant, if the clock is frozen.
    pub fn frozen_time(&self) -> Option<Instant> {
        self.clock.frozen()
    }

    /// Runs `f` on the state under the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read())
    }

    /// A copy of the whole state (for views and exports).
    pub fn snapshot_state(&self) -> State {
        self.state.read().clone()
    }

    fn at(&self, at: Option<Instant>) -> At<'_> {
        At::new(at, &self.clock)
    }

    /// May `user` perform `action` on `target`? Unknown users and targets are `false`;
    /// an unknown action is an error.
    #[inline]
    pub fn check(
        &self,
        user: &str,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<bool> {
        let st = self.state.read();
        eval::check(&st, user, action, target, &mut self.at(at))
    }

    /// Many checks, in order. The read lock is yielded to a waiting writer every 1024
    /// checks, so a batch may see a mutation part-way; each check sees a whole state.
    pub fn check_many<'q, I>(&self, queries: I, at: Option<Instant>) -> Result<Vec<bool>>
    where
        I: IntoIterator<Item = (&'q str, &'q str, &'q str)>,
    {
        let mut st = self.state.read();
        let mut at = self.at(at);
        let queries = queries.into_iter();
        let mut out = Vec::with_capacity(queries.size_hint().0);
        for (i, (u, a, t)) in queries.enumerate() {
            // A long batch must not hold a writer (and the readers queued behind it) for
            // milliseconds: let a waiting writer in every 1024 checks. Each check still
            // sees a whole state.
            if i % 1024 == 1023 {
                RwLockReadGuard::bump(&mut st);
            }
            out.push(eval::check(&st, u, a, t, &mut at)?);
        }
        Ok(out)
    }

    /// The decision for a check, with a sentence saying why.
    pub fn explain(
        &self,
        user: &str,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<Decision> {
        let st = self.state.read();
        eval::explain(&st, user, action, target, &mut self.at(at))
    }

    /// The effective role of `user` on `target`.
    pub fn role(&self, user: &str, target: &str, at: Option<Instant>) -> Option<Role> {
        let st = self.state.read();
        eval::role(&st, user, target, &mut self.at(at))
    }

    /// Every action `user` may perform on `target`.
    pub fn permissions(&self, user: &str, target: &str, at: Option<Instant>) -> Vec<String> {
        let st = self.state.read();
        eval::permissions(&st, user, target, &mut self.at(at))
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// The users allowed `action` on `target`, emails sorted.
    pub fn who_can(&self, action: &str, target: &str, at: Option<Instant>) -> Result<Vec<String>> {
        let st = self.state.read();
        Ok(eval::who_can(&st, action, target, &mut self.at(at))?
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// The projects where `user` may perform `action`, ids sorted.
    pub fn accessible(
        &self,
        user: &str,
        action: &str,
        org: Option<&str>,
        at: Option<Instant>,
    ) -> Result<Vec<String>> {
        let st = self.state.read();
        Ok(eval::accessible(&st, user, action, org, &mut self.at(at))?
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// The access matrix of one org or of all.
    pub fn access_matrix(&self, org: Option<&str>, at: Option<Instant>) -> Result<Vec<MatrixRow>> {
        let st = self.state.read();
        if let Some(o) = org {
            st.need_org(o)?;
        }
        Ok(eval::access_matrix(&st, org, &mut self.at(at)))
    }

    /// Access drift: `self` is before, `other` after, each judged at its own clock.
    pub fn diff(&self, other: &Graph) -> Vec<eval::diff::AccessChange> {
        // read_recursive: `other` may be `self`, and a queued writer must not wedge us.
        let before = self.state.read_recursive();
        let after = other.state.read_recursive();
        eval::diff::diff(&before, &mut self.at(None), &after, &mut other.at(None))
    }

    /// The orgs, sorted by slug.
    pub fn orgs(&self) -> Vec<OrgInfo> {
        self.read(queries::list_orgs)
    }

    /// The projects of one org or of all, sorted by id.
    pub fn projects(&self, org: Option<&str>) -> Result<Vec<ProjectInfo>> {
        self.read(|st| queries::list_projects(st, org))
    }

    /// One org.
    pub fn org(&self, slug: &str) -> Result<OrgInfo> {
        self.orgs()
            .into_iter()
            .find(|o| o.slug == slug)
            .ok_or_else(|| crate::error::NotFoundError::Org(slug.to_owned()).into())
    }

    /// One project.
    pub fn project(&self, id: &str) -> Result<ProjectInfo> {
        let org = id.split_once('/').map_or(id, |(o, _)| o);
        self.projects(Some(org))
            .ok()
            .and_then(|ps| ps.into_iter().find(|p| p.id == id))
            .ok_or_else(|| crate::error::NotFoundError::Project(id.to_owned()).into())
    }

    /// Every user, sorted by email.
    pub fn users(&self) -> Vec<UserInfo> {
        self.read(|st| {
            let mut out: Vec<UserInfo> = st
                .users
                .iter()
                .filter_map(|u| queries::user_info(st, &u.email).ok())
                .collect();
            out.sort_by(|a, b| a.email.cmp(&b.email));
            out
        })
    }

    /// The members of an org, sorted by email.
    pub fn members(&self, org: &str) -> Result<Vec<MemberInfo>> {
        self.read(|st| queries::list_members(st, org))
    }

    /// The grants, optionally of one user and/or on one target, sorted by user and target.
    pub fn grants(&self, user: Option<&str>, target: Option<&str>) -> Vec<GrantInfo> {
        self.read(|st| queries::list_grants(st, user, target))
    }

    /// One user.
    pub fn user(&self, email: &str) -> Result<UserInfo> {
        self.read(|st| queries::user_info(st, email))
    }

    /// The resources of one project or of all, sorted by id.
    pub fn resources(&self, project: Option<&str>) -> Result<Vec<ResourceInfo>> {
        self.read(|st| queries::list_resources(st, project))
    }

    /// What every change needs before planning: a well-formed actor, a writable graph.
    fn admit(&self, actor: Option<&str>) -> Result<()> {
        if let Some(a) = actor {
            crate::ids::email("actor", a)?;
        }
        if let Some(why) = &self.read_only {
            return Err(ConflictError::ReadOnly(why.clone()).into());
        }
        Ok(self.audit.admit()?)
    }

    /// Takes the journal's writers' lock and applies what other processes appended
    /// since this graph last looked; returns the (upgradable) state guard back.
    fn catch_up<'g>(
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
                self.reload(&mut st, session)?;
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
        let changes = keys::completed(&guard, changes)?;
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
        let (mut changes, out) = match plan(&guard, &mut at) {
            Ok(planned) => planned,
            Err(Error::Permission(p)) => return Err(self.refuse(guard, session, p, actor, now)),
            Err(e) => return Err(e),
        };
        keys::complete(&guard, &mut changes)?;
        if changes.is_empty() {
            return Ok(out);
        }
        let events = self.audit.events_of(&changes, actor, now)?;
        let stamp = Stamp { at: now, actor };
        self.commit(guard, session, events, |st| {
            changes.iter().try_for_each(|c| st.apply(c, stamp))
        })?;
        Ok(out)
    }

    /// The sequence every mutation ends with: write `events` to the journal (before
    /// anything changes), apply the change under the write lock, publish the events in
    /// the audit log, release the locks, then wait until the events are durable.
    fn commit(
        &self,
        guard: RwLockUpgradableReadGuard<'_, State>,
        mut session: Session<'_>,
        events: Vec<crate::audit::Event>,
        apply: impl FnOnce(&mut State) -> Result<()>,
    ) -> Result<()> {
        let durable = self.audit.write(&mut session, &events)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(guard);
        apply(&mut st)?;
        self.audit.push(events);
        drop(st);
        drop(session);
        Ok(self.audit.wait_durable(durable)?)
    }

    /// Events that change no state (an application event): written, published and
    /// made durable like a mutation's, without taking the write lock.
    fn append_only(
        &self,
        guard: RwLockUpgradableReadGuard<'_, State>,
        mut session: Session<'_>,
        events: Vec<crate::audit::Event>,
    ) -> Result<()> {
        let durable = self.audit.write(&mut session, &events)?;
        self.audit.push(events);
        drop(guard);
        drop(session);
        Ok(self.audit.wait_durable(durable)?)
    }

    /// Records a refused mutation as an `access.denied` event and returns the refusal
    /// as the error to raise (or the audit failure, when the event cannot be written).
    fn refuse(
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
