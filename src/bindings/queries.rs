//! `Graph`'s queries: checks (by email or API key), explanations, reverse lookups, the
//! access matrix, diffs and the listings.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyString, PyTuple};

use super::convert::{self, at_arg, Text};
use super::gil::{detach, guarded};
use super::graph::PyGraph;
use super::unattached::Unattached;
use super::values::{
    principal, subject, PyDecision, PyGrant, PyMember, PyOrg, PyPrincipal, PyProject, PyResource,
    PyUser,
};
use crate::eval::{self, Subject};
use crate::graph::Graph;
use crate::time::{At, Clock, Instant};

/// The text of a user argument that must be an email (`check`, `require`, `explain` and
/// `check_many` also take an API key's `Principal`).
#[inline]
fn user_str<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => convert::text("user", s),
        Err(_) => Err(PyTypeError::new_err(format!(
            "user must be an email string, not {}",
            convert::repr(obj)
        ))),
    }
}

fn bad_query(i: usize, item: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "queries[{i}] must be a (user, action, target) tuple of three str, not {}",
        convert::repr(item)
    ))
}

/// `(user, project, before, after, kind)` of one access change.
type DiffRow = (
    String,
    String,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

guarded! {
#[pymethods]
impl PyGraph {
    /// May `user` perform `action` on `target`?
    #[pyo3(signature = (user, action, target, at = None))]
    #[inline]
    fn check(
        &self,
        user: &Bound<'_, PyAny>,
        action: Text<'_>,
        target: Text<'_>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let at = match at {
            None => None,
            Some(a) => at_arg(Some(a))?,
        };
        match user.cast::<PyString>() {
            Ok(s) => Ok(self.inner.check(convert::text("user", s)?, &action, &target, at)?),
            // An API key's `Principal`: its own path, off the email one.
            Err(_) => Ok(self.inner.check_as(principal(user)?, &action, &target, at)?),
        }
    }

    /// Like `check`, but raises `PermissionDenied` (with the decision) when denied.
    #[pyo3(signature = (user, action, target, at = None))]
    fn require(
        &self,
        user: &Bound<'_, PyAny>,
        action: Text<'_>,
        target: Text<'_>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        Ok(self
            .inner
            .require(subject(user)?, &action, &target, at_arg(at)?)?)
    }

    /// The decision for a check, with the reason in words.
    #[pyo3(signature = (user, action, target, at = None))]
    fn explain(
        &self,
        user: &Bound<'_, PyAny>,
        action: Text<'_>,
        target: Text<'_>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        Ok(self
            .inner
            .decide(subject(user)?, &action, &target, at_arg(at)?)?
            .into())
    }

    /// Many checks at once; releases the GIL while deciding a long batch.
    #[pyo3(signature = (queries, at = None))]
    fn check_many<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let at = at_arg(at)?;
        // A tuple of the queries holds a strong reference to each (and each query tuple to
        // its strings), so the strings' UTF-8 can be borrowed without copying while the
        // GIL is released, whatever other threads do to the caller's list.
        let items: Bound<'py, PyTuple> = match queries.cast::<PyList>() {
            Ok(list) => list.to_tuple(),
            Err(_) => match queries.cast::<PyTuple>() {
                Ok(t) => t.clone(),
                Err(_) => PyTuple::new(py, queries.try_iter()?.collect::<PyResult<Vec<_>>>()?)?,
            },
        };
        let all = items.as_slice();
        let graph = &self.inner;
        let live = Clock::default();
        let mut judged = judged_at(graph, at, &live);
        let mut answers = Vec::with_capacity(all.len());
        let mut batch = Batch::new();
        // A long batch is read and decided without the GIL, as far as its queries have
        // the usual shape; the reader stops at the first chunk with one that has not.
        let mut from = 0;
        let len = all.len();
        if len >= DETACH_BATCH {
            if let Some(unattached) = Unattached::new(&items) {
                from = detach(py, || {
                    decide_unattached(graph, &unattached, len, &mut judged, &mut answers)
                })?;
            }
        }
        // The rest chunk by chunk: the strings of a chunk are read under the GIL, then
        // decided without it while they are still in the cache; a waiting writer gets the
        // lock between chunks.
        for (c, chunk) in all.chunks(CHUNK).enumerate().skip(from.div_ceil(CHUNK)) {
            batch.queries.clear();
            for (j, item) in chunk.iter().enumerate() {
                prefetch_query(chunk, j);
                match batch.push(item) {
                    Ok(()) => {}
                    Err(Bad::Principal) => return check_many_keyed(py, graph, &items, at),
                    Err(Bad::Shape) => return Err(bad_query(c * CHUNK + j, item)),
                    Err(Bad::Text(e)) => return Err(e),
                }
            }
            let mut decide = || {
                graph.read(|st| {
                    eval::evaluate::check_batch(st, &batch.queries, &mut judged, &mut answers)
                })
            };
            if all.len() >= DETACH_BATCH {
                detach(py, decide)?;
            } else {
                decide()?;
            }
        }
        PyList::new(py, answers)
    }

    /// The effective role of `user` on `target` (org role on an org).
    #[pyo3(signature = (user, target, at = None))]
    fn role(
        &self,
        user: &Bound<'_, PyAny>,
        target: Text<'_>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<&'static str>> {
        Ok(self
            .inner
            .role(user_str(user)?, &target, at_arg(at)?)?
            .map(crate::roles::Role::as_str))
    }

    /// Every action `user` may perform on `target`.
    #[pyo3(signature = (user, target, at = None))]
    fn permissions<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        target: Text<'_>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PySet>> {
        let user = user_str(user)?;
        let at = at_arg(at)?;
        let graph = &self.inner;
        let names = detach(py, || graph.permissions(user, &target, at))?;
        PySet::new(py, names)
    }

    /// The users allowed `action` on `target`, emails sorted.
    #[pyo3(signature = (action, target, at = None))]
    fn who_can<'py>(
        &self,
        py: Python<'py>,
        action: Text<'_>,
        target: Text<'_>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let at = at_arg(at)?;
        let graph = &self.inner;
        let emails = &self.emails;
        // The ids are found under the read lock with the GIL let go, with the emails that
        // have no Python string cached yet copied into one buffer; the strings are made
        // (or the cached ones reused) once the GIL is back (`emails.rs`).
        for attempt in 0..3 {
            let found = detach(py, || {
                let live = Clock::default();
                let mut judged = judged_at(graph, at, &live);
                graph.read(|st| {
                    let ids = eval::reverse::who_can_ids(st, &action, &target, &mut judged)?;
                    Ok(emails.look_up(st, &ids, attempt == 2))
                })
            })?;
            if let Some(list) = emails.answer(py, &found)? {
                return Ok(list);
            }
        }
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "who_can: the email cache kept changing",
        ))
    }

    /// The projects where `user` may perform `action`, ids sorted.
    #[pyo3(signature = (user, action = "project:view", org = None, at = None))]
    fn accessible(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = convert::text_arg)] action: &str,
        org: Option<Text<'_>>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<String>> {
        let user = user_str(user)?;
        let at = at_arg(at)?;
        let graph = &self.inner;
        detach(py, || graph.accessible(user, action, org.as_deref(), at))
    }

    /// The access matrix rows as dicts (wrapped in a `Table` by `accessgraph.Graph`).
    #[pyo3(signature = (org = None, at = None))]
    fn _access_matrix_rows<'py>(
        &self,
        py: Python<'py>,
        org: Option<Text<'_>>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let at = at_arg(at)?;
        let graph = &self.inner;
        let rows = detach(py, || graph.access_matrix(org.as_deref(), at))?;
        let out = PyList::empty(py);
        for r in rows {
            let d = PyDict::new(py);
            d.set_item("user", r.user)?;
            d.set_item("org", r.org)?;
            d.set_item("org_role", r.org_role.as_str())?;
            d.set_item("project", r.project)?;
            d.set_item(
                "project_role",
                r.project_role.map(crate::roles::ProjectRole::as_str),
            )?;
            d.set_item("source", r.source.map(crate::decision::Source::as_str))?;
            d.set_item("expires", convert::opt_datetime_py(py, r.expires)?)?;
            d.set_item("reason", r.reason)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// Access drift rows `(user, project, before, after, kind)` (wrapped in an
    /// `AccessDiff` by `accessgraph.Graph.diff`).
    fn _diff_rows(&self, py: Python<'_>, other: &Bound<'_, PyGraph>) -> PyResult<Vec<DiffRow>> {
        let (a, b) = (&self.inner, &other.get().inner);
        Ok(detach(py, || Ok(a.diff(b)))?
            .into_iter()
            .map(|c| {
                (
                    c.user,
                    c.project,
                    c.before.map(crate::roles::Role::as_str),
                    c.after.map(crate::roles::Role::as_str),
                    c.kind.as_str(),
                )
            })
            .collect())
    }

    /// The orgs, sorted by slug.
    fn orgs(&self) -> PyResult<Vec<PyOrg>> {
        Ok(self.inner.orgs()?.into_iter().map(Into::into).collect())
    }

    /// The projects of `org` (or all), sorted by id.
    #[pyo3(signature = (org = None))]
    fn projects(&self, org: Option<Text<'_>>) -> PyResult<Vec<PyProject>> {
        Ok(self
            .inner
            .projects(org.as_deref())?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The project with this id.
    fn project(&self, project: Text<'_>) -> PyResult<PyProject> {
        Ok(self.inner.project(&project)?.into())
    }

    /// The org with this slug.
    fn org(&self, org: Text<'_>) -> PyResult<PyOrg> {
        Ok(self.inner.org(&org)?.into())
    }

    /// The members of `org`, sorted by email.
    fn members(&self, org: Text<'_>) -> PyResult<Vec<PyMember>> {
        Ok(self
            .inner
            .members(&org)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Grants, optionally of one user and/or on one target.
    #[pyo3(signature = (user = None, target = None))]
    fn grants(&self, user: Option<Text<'_>>, target: Option<Text<'_>>) -> PyResult<Vec<PyGrant>> {
        Ok(self
            .inner
            .grants(user.as_deref(), target.as_deref())?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One user, by email.
    fn user(&self, email: Text<'_>) -> PyResult<PyUser> {
        Ok(self.inner.user(&email)?.into())
    }

    /// Every user, sorted by email.
    fn users(&self) -> PyResult<Vec<PyUser>> {
        Ok(self.inner.users()?.into_iter().map(Into::into).collect())
    }

    /// The resources of `project` (or all), sorted by id.
    #[pyo3(signature = (project = None))]
    fn resources(&self, project: Option<Text<'_>>) -> PyResult<Vec<PyResource>> {
        Ok(self
            .inner
            .resources(project.as_deref())?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
}

/// `check_many` for a batch where some users are principals (the str-only batch keeps
/// its own faster path).
fn check_many_keyed<'py>(
    py: Python<'py>,
    graph: &Graph,
    items: &Bound<'py, PyTuple>,
    at: Option<Instant>,
) -> PyResult<Bound<'py, PyList>> {
    let bad = |i: usize, t: &Bound<'py, PyAny>| {
        PyTypeError::new_err(format!(
            "queries[{i}] must be a (user or Principal, action, target) tuple, not {}",
            convert::repr(t)
        ))
    };
    let mut queries: Vec<(Subject<'_>, &str, &str)> = Vec::with_capacity(items.len());
    for (i, item) in items.as_slice().iter().enumerate() {
        let Some([who, action, target]) = item.cast::<PyTuple>().ok().map(PyTupleMethods::as_slice)
        else {
            return Err(bad(i, item));
        };
        let who = subject(who).map_err(|_| bad(i, item))?;
        let action = convert::text(
            "a query's action",
            action.cast::<PyString>().map_err(|_| bad(i, item))?,
        )?;
        let target = convert::text(
            "a query's target",
            target.cast::<PyString>().map_err(|_| bad(i, item))?,
        )?;
        queries.push((who, action, target));
    }
    let answers = detach(py, || graph.check_many_as(queries.iter().copied(), at))?;
    PyList::new(py, answers)
}

/// Reads and decides the queries of `unattached` (the GIL released) a chunk at a time,
/// each chunk under one read lock, until the end or the first chunk holding a query the
/// reader cannot read; returns the index of that chunk's first query (`len` at the end),
/// every query before it decided.
fn decide_unattached<'t>(
    graph: &Graph,
    unattached: &Unattached<'t>,
    len: usize,
    judged: &mut At<'_>,
    answers: &mut Vec<bool>,
) -> crate::error::Result<usize> {
    let mut queries: Vec<(&'t str, &'t str, &'t str)> = Vec::with_capacity(CHUNK);
    for start in (0..len).step_by(CHUNK) {
        queries.clear();
        for i in start..len.min(start + CHUNK) {
            match unattached.query(i) {
                Some(q) => queries.push(q),
                None => return Ok(start),
            }
        }
        graph.read(|st| eval::evaluate::check_batch(st, &queries, judged, answers))?;
    }
    Ok(len)
}

/// A batch shorter than this is decided without releasing the GIL: releasing it costs
/// little, but taking it back behind a busy thread can cost a whole switch interval
/// (5 ms), far more than deciding a few hundred checks (~0.1 µs each).
const DETACH_BATCH: usize = 512;

/// Queries read, then decided under one read lock, at a time: their Python objects stay
/// in the L2 cache between the two passes, and a waiting writer gets in between chunks.
const CHUNK: usize = 1024;

/// The instant a query is judged at: `at`, else the graph's frozen instant, else the wall
/// clock read when an expiry is first compared — what `Graph::check` does.
fn judged_at<'c>(graph: &Graph, at: Option<Instant>, live: &'c Clock) -> At<'c> {
    At::new(at.or_else(|| graph.frozen_time()), live)
}

/// While query `j` of a chunk is read: prefetches query `j + 16`'s tuple, and the user
/// and target strings of query `j + 8` (whose tuple was prefetched 8 queries before).
/// The query tuples and fresh strings of a long batch are rarely in the cache; a hint
/// changes no result.
#[inline(always)]
fn prefetch_query(chunk: &[Bound<'_, PyAny>], j: usize) {
    use crate::state::hot::prefetch;
    if let Some(t) = chunk.get(j + 16) {
        prefetch(t.as_ptr());
    }
    if let Some(Ok(t)) = chunk.get(j + 8).map(|t| t.cast::<PyTuple>()) {
        if let [user, _, target] = t.as_slice() {
            for s in [user, target] {
                let p = s.as_ptr().cast::<u8>();
                prefetch(p);
                prefetch(p.wrapping_add(64));
            }
        }
    }
}

/// Why a query could not be read.
enum Bad {
    /// Not a tuple of three str.
    Shape,
    /// The user is an API key's `Principal`: the batch takes the keyed path.
    Principal,
    /// A str that is not valid UTF-8.
    Text(PyErr),
}

/// The queries of one chunk of a `check_many`, as text borrowed from the query tuples.
struct Batch<'a> {
    queries: Vec<(&'a str, &'a str, &'a str)>,
    /// The last actions read, by `str` object: a batch repeats a few action objects, and
    /// holds every query alive, so an object seen earlier in the call is the same one.
    actions: [(usize, &'a str); 16],
}

impl<'a> Batch<'a> {
    fn new() -> Self {
        Batch {
            queries: Vec::with_capacity(CHUNK),
            actions: [(0, ""); 16],
        }
    }

    #[inline]
    fn push(&mut self, item: &'a Bound<'_, PyAny>) -> Result<(), Bad> {
        let Some([user, action, target]) =
            item.cast::<PyTuple>().ok().map(PyTupleMethods::as_slice)
        else {
            return Err(Bad::Shape);
        };
        let (Ok(action), Ok(target)) = (action.cast::<PyString>(), target.cast::<PyString>())
        else {
            return Err(Bad::Shape);
        };
        let user = match user.cast::<PyString>() {
            Ok(u) => convert::text("a query's user", u).map_err(Bad::Text)?,
            Err(_) if user.is_instance_of::<PyPrincipal>() => return Err(Bad::Principal),
            Err(_) => return Err(Bad::Shape),
        };
        let action = self.action(action).map_err(Bad::Text)?;
        self.queries.push((
            user,
            action,
            convert::text("a query's target", target).map_err(Bad::Text)?,
        ));
        Ok(())
    }

    #[inline]
    fn action(&mut self, action: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
        let key = action.as_ptr() as usize;
        let slot = (key >> 4) % self.actions.len();
        if let Some((k, text)) = self.actions.get(slot) {
            if *k == key {
                return Ok(text);
            }
        }
        let text = convert::text("a query's action", action)?;
        if let Some(s) = self.actions.get_mut(slot) {
            *s = (key, text);
        }
        Ok(text)
    }
}
