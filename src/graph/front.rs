//! The access graph's front: the [`Graph`] — state behind one lock, the clock, the audit
//! recorder — and the read-only queries, each answered under the read lock.

use crate::audit::Audit;
use crate::decision::Decision;
use crate::error::Result;
use crate::eval::{self, MatrixRow};
use crate::model::{GrantInfo, MemberInfo, OrgInfo, ProjectInfo, ResourceInfo, UserInfo};
use crate::roles::Role;
use crate::state::{queries, Change, Stamp, State};
use crate::time::{At, Clock, Instant};
use parking_lot::{RwLock, RwLockReadGuard};

/// The access graph. Share it between threads freely (`Graph: Send + Sync`).
#[derive(Default)]
pub struct Graph {
    pub(super) state: RwLock<State>,
    pub(super) clock: Clock,
    pub(super) read_only: Option<String>,
    pub(super) audit: Audit,
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

    /// Refuses every mutation from now on (reads go on): a call failed in a way that may
    /// have left the state half-changed (a panic, caught by the binding).
    pub fn fail_stop(&self, why: String) {
        let _stopped = self.audit.fail(why);
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

    /// The state under the read lock, once the graph has caught up with what other
    /// processes wrote to its journal (see [`Graph::catch_up_others`]).
    #[inline]
    pub(super) fn fresh(&self) -> Result<RwLockReadGuard<'_, State>> {
        if let Some(f) = self.audit.follow() {
            if f.behind() {
                self.catch_up_others(f)?;
            }
        }
        Ok(self.state.read())
    }

    /// Runs `f` on the state under the read lock, the graph caught up with other
    /// processes first.
    #[inline]
    pub fn read<R>(&self, f: impl FnOnce(&State) -> Result<R>) -> Result<R> {
        let st = self.fresh()?;
        f(&st)
    }

    /// Runs `f` on the state as this process has it, without looking at the journal:
    /// for `repr` and names, never for a decision.
    pub fn peek<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read())
    }

    /// A copy of the whole state (for views and exports).
    pub fn snapshot_state(&self) -> Result<State> {
        Ok(self.fresh()?.clone())
    }

    pub(super) fn at(&self, at: Option<Instant>) -> At<'_> {
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
        let st = self.fresh()?;
        eval::check(&st, user, action, target, &mut self.at(at))
    }

    /// Many checks, in order. The read lock is yielded to a waiting writer every 1024
    /// checks, so a batch may see a mutation part-way; each check sees a whole state.
    pub fn check_many<'q, I>(&self, queries: I, at: Option<Instant>) -> Result<Vec<bool>>
    where
        I: IntoIterator<Item = (&'q str, &'q str, &'q str)>,
    {
        let mut st = self.fresh()?;
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

    /// The decision for a check, with a sentence saying why and, for a denial, the
    /// smallest changes that would allow it (`Decision::fixes`).
    pub fn explain(
        &self,
        user: &str,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<Decision> {
        let st = self.fresh()?;
        let mut d = eval::explain(&st, user, action, target, &mut self.at(at))?;
        super::fixes::attach(&st, &mut d, user, at, &self.clock);
        Ok(d)
    }

    /// The effective role of `user` on `target`.
    pub fn role(&self, user: &str, target: &str, at: Option<Instant>) -> Result<Option<Role>> {
        let st = self.fresh()?;
        Ok(eval::role(&st, user, target, &mut self.at(at)))
    }

    /// Every action `user` may perform on `target`.
    pub fn permissions(
        &self,
        user: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<Vec<String>> {
        let st = self.fresh()?;
        Ok(eval::permissions(&st, user, target, &mut self.at(at))
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// The users allowed `action` on `target`, emails sorted.
    pub fn who_can(&self, action: &str, target: &str, at: Option<Instant>) -> Result<Vec<String>> {
        let st = self.fresh()?;
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
        let st = self.fresh()?;
        Ok(eval::accessible(&st, user, action, org, &mut self.at(at))?
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// The access matrix of one org or of all.
    pub fn access_matrix(&self, org: Option<&str>, at: Option<Instant>) -> Result<Vec<MatrixRow>> {
        let st = self.fresh()?;
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
    pub fn orgs(&self) -> Result<Vec<OrgInfo>> {
        self.read(|st| Ok(queries::list_orgs(st)))
    }

    /// The projects of one org or of all, sorted by id.
    pub fn projects(&self, org: Option<&str>) -> Result<Vec<ProjectInfo>> {
        self.read(|st| queries::list_projects(st, org))
    }

    /// One org.
    pub fn org(&self, slug: &str) -> Result<OrgInfo> {
        self.orgs()?
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
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        self.read(|st| {
            let mut out: Vec<UserInfo> = st
                .users
                .iter()
                .filter_map(|u| queries::user_info(st, &u.email).ok())
                .collect();
            out.sort_by(|a, b| a.email.cmp(&b.email));
            Ok(out)
        })
    }

    /// The members of an org, sorted by email.
    pub fn members(&self, org: &str) -> Result<Vec<MemberInfo>> {
        self.read(|st| queries::list_members(st, org))
    }

    /// The grants, optionally of one user and/or on one target, sorted by user and target.
    pub fn grants(&self, user: Option<&str>, target: Option<&str>) -> Result<Vec<GrantInfo>> {
        self.read(|st| Ok(queries::list_grants(st, user, target)))
    }

    /// One user.
    pub fn user(&self, email: &str) -> Result<UserInfo> {
        self.read(|st| queries::user_info(st, email))
    }

    /// The resources of one project or of all, sorted by id.
    pub fn resources(&self, project: Option<&str>) -> Result<Vec<ResourceInfo>> {
        self.read(|st| queries::list_resources(st, project))
    }
}
