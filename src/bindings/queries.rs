//! `Graph`'s queries: checks (by email or API key), explanations, reverse lookups, the
//! access matrix, diffs and the listings.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyString, PyTuple};

use super::convert::{self, at_arg};
use super::gil::{detach, guarded};
use super::graph::PyGraph;
use super::values::{
    principal, subject, PyDecision, PyGrant, PyMember, PyOrg, PyPrincipal, PyProject, PyResource,
    PyUser,
};
use crate::eval::Subject;
use crate::graph::Graph;
use crate::time::Instant;

/// The text of a user argument that must be an email (`check`, `require`, `explain` and
/// `check_many` also take an API key's `Principal`).
#[inline]
fn user_str<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => s.to_str(),
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
        action: &str,
        target: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let at = match at {
            None => None,
            Some(a) => at_arg(Some(a))?,
        };
        match user.cast::<PyString>() {
            Ok(s) => Ok(self.inner.check(s.to_str()?, action, target, at)?),
            // An API key's `Principal`: its own path, off the email one.
            Err(_) => Ok(self.inner.check_as(principal(user)?, action, target, at)?),
        }
    }

    /// Like `check`, but raises `PermissionDenied` (with the decision) when denied.
    #[pyo3(signature = (user, action, target, at = None))]
    fn require(
        &self,
        user: &Bound<'_, PyAny>,
        action: &str,
        target: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        Ok(self
            .inner
            .require(subject(user)?, action, target, at_arg(at)?)?)
    }

    /// The decision for a check, with the reason in words.
    #[pyo3(signature = (user, action, target, at = None))]
    fn explain(
        &self,
        user: &Bound<'_, PyAny>,
        action: &str,
        target: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        Ok(self
            .inner
            .decide(subject(user)?, action, target, at_arg(at)?)?
            .into())
    }

    /// Many checks at once; releases the GIL while deciding.
    #[pyo3(signature = (queries, at = None))]
    fn check_many<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let at = at_arg(at)?;
        // Hold a strong reference to each query tuple (tuples are immutable, so their
        // strings live as long as they do) and borrow the strings' UTF-8 without copying.
        let items: Vec<Bound<'py, PyAny>> = match queries.cast::<PyList>() {
            Ok(list) => list.iter().collect(),
            Err(_) => queries.try_iter()?.collect::<PyResult<_>>()?,
        };
        let mut tuples: Vec<Bound<'py, PyTuple>> = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item.cast_into::<PyTuple>() {
                Ok(t) if t.len() == 3 => tuples.push(t),
                Ok(t) => return Err(bad_query(i, t.as_any())),
                Err(e) => return Err(bad_query(i, &e.into_inner())),
            }
        }
        let mut strs: Vec<&str> = Vec::with_capacity(tuples.len() * 3);
        for (i, t) in tuples.iter().enumerate() {
            for (j, part) in t.as_slice().iter().enumerate() {
                let s = match part.cast::<PyString>() {
                    Ok(s) => s,
                    // A batch with API keys' principals takes the keyed path.
                    Err(_) if j == 0 && part.is_instance_of::<PyPrincipal>() => {
                        return check_many_keyed(py, &self.inner, &tuples, at);
                    }
                    Err(_) => return Err(bad_query(i, t.as_any())),
                };
                strs.push(s.to_str()?);
            }
        }
        let graph = &self.inner;
        let answers = detach(py, || {
            graph.check_many(
                strs.chunks_exact(3).map(|c| match c {
                    [u, a, t] => (*u, *a, *t),
                    _ => ("", "", ""),
                }),
                at,
            )
        })?;
        PyList::new(py, answers)
    }

    /// The effective role of `user` on `target` (org role on an org).
    #[pyo3(signature = (user, target, at = None))]
    fn role(
        &self,
        user: &Bound<'_, PyAny>,
        target: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<&'static str>> {
        Ok(self
            .inner
            .role(user_str(user)?, target, at_arg(at)?)?
            .map(crate::roles::Role::as_str))
    }

    /// Every action `user` may perform on `target`.
    #[pyo3(signature = (user, target, at = None))]
    fn permissions<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        target: &str,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PySet>> {
        let user = user_str(user)?;
        let at = at_arg(at)?;
        let graph = &self.inner;
        let names = detach(py, || graph.permissions(user, target, at))?;
        PySet::new(py, names)
    }

    /// The users allowed `action` on `target`, emails sorted.
    #[pyo3(signature = (action, target, at = None))]
    fn who_can(
        &self,
        py: Python<'_>,
        action: &str,
        target: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<String>> {
        let at = at_arg(at)?;
        let graph = &self.inner;
        detach(py, || graph.who_can(action, target, at))
    }

    /// The projects where `user` may perform `action`, ids sorted.
    #[pyo3(signature = (user, action = "project:view", org = None, at = None))]
    fn accessible(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        action: &str,
        org: Option<&str>,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<String>> {
        let user = user_str(user)?;
        let at = at_arg(at)?;
        let graph = &self.inner;
        detach(py, || graph.accessible(user, action, org, at))
    }

    /// The access matrix rows as dicts (wrapped in a `Table` by `accessgraph.Graph`).
    #[pyo3(signature = (org = None, at = None))]
    fn _access_matrix_rows<'py>(
        &self,
        py: Python<'py>,
        org: Option<&str>,
        at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let at = at_arg(at)?;
        let graph = &self.inner;
        let rows = detach(py, || graph.access_matrix(org, at))?;
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
                    c.before.map(crate::roles::ProjectRole::as_str),
                    c.after.map(crate::roles::ProjectRole::as_str),
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
    fn projects(&self, org: Option<&str>) -> PyResult<Vec<PyProject>> {
        Ok(self
            .inner
            .projects(org)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The project with this id.
    fn project(&self, project: &str) -> PyResult<PyProject> {
        Ok(self.inner.project(project)?.into())
    }

    /// The org with this slug.
    fn org(&self, org: &str) -> PyResult<PyOrg> {
        Ok(self.inner.org(org)?.into())
    }

    /// The members of `org`, sorted by email.
    fn members(&self, org: &str) -> PyResult<Vec<PyMember>> {
        Ok(self
            .inner
            .members(org)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Grants, optionally of one user and/or on one target.
    #[pyo3(signature = (user = None, target = None))]
    fn grants(&self, user: Option<&str>, target: Option<&str>) -> PyResult<Vec<PyGrant>> {
        Ok(self
            .inner
            .grants(user, target)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One user, by email.
    fn user(&self, email: &str) -> PyResult<PyUser> {
        Ok(self.inner.user(email)?.into())
    }

    /// Every user, sorted by email.
    fn users(&self) -> PyResult<Vec<PyUser>> {
        Ok(self.inner.users()?.into_iter().map(Into::into).collect())
    }

    /// The resources of `project` (or all), sorted by id.
    #[pyo3(signature = (project = None))]
    fn resources(&self, project: Option<&str>) -> PyResult<Vec<PyResource>> {
        Ok(self
            .inner
            .resources(project)?
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
    tuples: &[Bound<'py, PyTuple>],
    at: Option<Instant>,
) -> PyResult<Bound<'py, PyList>> {
    let bad = |i: usize, t: &Bound<'py, PyTuple>| {
        PyTypeError::new_err(format!(
            "queries[{i}] must be a (user or Principal, action, target) tuple, not {}",
            convert::repr(t.as_any())
        ))
    };
    let mut queries: Vec<(Subject<'_>, &str, &str)> = Vec::with_capacity(tuples.len());
    for (i, t) in tuples.iter().enumerate() {
        let [who, action, target] = t.as_slice() else {
            return Err(bad(i, t));
        };
        let who = subject(who).map_err(|_| bad(i, t))?;
        let action = action.cast::<PyString>().map_err(|_| bad(i, t))?.to_str()?;
        let target = target.cast::<PyString>().map_err(|_| bad(i, t))?.to_str()?;
        queries.push((who, action, target));
    }
    let answers = detach(py, || graph.check_many_as(queries.iter().copied(), at))?;
    PyList::new(py, answers)
}
