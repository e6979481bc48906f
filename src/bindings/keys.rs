//! API keys and offboarding for Python: `Principal`, `ApiKey`, `OffboardingReport`, and
//! the `Graph` methods that create, rotate, revoke and use keys and offboard someone.
//! A secret crosses this layer exactly once, as the return value of the call that made it.

use std::fmt::Write as _;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::convert::{self, instant, opt_datetime_py};
use super::errors::{to_py, IntoPyResult};
use super::graph::PyGraph;
use super::values::{q, q_opt};
use crate::decision::Decision;
use crate::error::Error;
use crate::eval::{Principal, Subject};
use crate::graph::{Graph, KeyInfo, NewKey, OffboardingReport};
use crate::time::Instant;

/// Who a request authenticated as with an API key (see `Graph.authenticate`).
#[pyclass(name = "Principal", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyPrincipal {
    inner: Principal,
}

#[pymethods]
impl PyPrincipal {
    /// `"personal"` or `"project"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// The key's user (personal keys), else `None`.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.inner.user.as_deref()
    }
    /// `pk_<hex>` for a personal key; the project id for a project key.
    #[getter]
    fn key_id(&self) -> &str {
        &self.inner.key_id
    }
    /// The key's project (project keys), else `None`.
    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner.project.as_deref()
    }
    fn __repr__(&self) -> String {
        let p = &self.inner;
        format!(
            "Principal(kind={}, key_id={}, user={}, project={})",
            q(p.kind.as_str()),
            q(&p.key_id),
            q_opt(p.user.as_deref()),
            q_opt(p.project.as_deref()),
        )
    }
}

/// A personal API key as listed: never its secret.
#[pyclass(name = "ApiKey", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyApiKey {
    inner: KeyInfo,
}

#[pymethods]
impl PyApiKey {
    /// `pk_<hex>`.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The key's user.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// What it is for.
    #[getter]
    fn label(&self) -> &str {
        &self.inner.label
    }
    /// Scopes narrowing it, or `None` for an unnarrowed key.
    #[getter]
    fn scopes(&self) -> Option<Vec<String>> {
        self.inner.scopes.clone()
    }
    /// Projects it is restricted to, or `None`.
    #[getter]
    fn projects(&self) -> Option<Vec<String>> {
        self.inner.projects.clone()
    }
    /// When it was created (graph clock).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::datetime_py(py, self.inner.created_at)
    }
    /// When its secret was last rotated, or `None`.
    #[getter]
    fn rotated_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.rotated_at)
    }
    /// Its expiry, or `None`.
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.expires)
    }
    /// When it was revoked, or `None`.
    #[getter]
    fn revoked_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.revoked_at)
    }
    /// `agp_...abcd`: enough to recognise it, never enough to use it.
    #[getter]
    fn mask(&self) -> &str {
        &self.inner.mask
    }
    /// Revoked.
    #[getter]
    fn revoked(&self) -> bool {
        self.inner.revoked_at.is_some()
    }
    /// Past its expiry (as of the listing).
    #[getter]
    fn expired(&self) -> bool {
        self.inner.expired
    }
    /// Its user holds no unexpired membership: it can do nothing until revoked.
    #[getter]
    fn dead(&self) -> bool {
        self.inner.dead
    }
    /// Usable: not revoked, expired or dead.
    #[getter]
    fn active(&self) -> bool {
        self.inner.active()
    }
    fn __repr__(&self) -> String {
        let k = &self.inner;
        let state = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expired {
            "expired"
        } else if k.dead {
            "dead"
        } else {
            "active"
        };
        format!(
            "ApiKey(id={}, user={}, label={}, mask={}, state={})",
            q(&k.id),
            q(&k.user),
            q(&k.label),
            q(&k.mask),
            q(state)
        )
    }
}

/// What an offboarding did (`done`) and what it leaves to people (`manual`).
#[pyclass(
    name = "OffboardingReport",
    module = "accessgraph._core",
    frozen,
    eq,
    hash
)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyOffboardingReport {
    inner: OffboardingReport,
}

#[pymethods]
impl PyOffboardingReport {
    /// The user offboarded.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// Each step done, as a sentence.
    #[getter]
    fn done(&self) -> Vec<String> {
        self.inner.done.clone()
    }
    /// Each step left to people, as a sentence.
    #[getter]
    fn manual(&self) -> Vec<String> {
        self.inner.manual.clone()
    }
    fn __str__(&self) -> String {
        let r = &self.inner;
        let mut out = format!("Offboarded {}\nDone:\n", r.user);
        for s in &r.done {
            let _ = writeln!(out, "  - {s}");
        }
        out.push_str("Left to do by hand:\n");
        for s in &r.manual {
            let _ = writeln!(out, "  - {s}");
        }
        out
    }
    fn __repr__(&self) -> String {
        let r = &self.inner;
        format!(
            "OffboardingReport(user={}, done={}, manual={})",
            q(&r.user),
            r.done.len(),
            r.manual.len()
        )
    }
}

/// The principal of a user argument that is not a `str`.
pub(super) fn principal<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a Principal> {
    match obj.cast::<PyPrincipal>() {
        Ok(p) => Ok(&p.get().inner),
        Err(_) => Err(PyTypeError::new_err(format!(
            "user must be an email string or a Principal, not {}",
            convert::repr(obj)
        ))),
    }
}

fn subject<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Subject<'a>> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(Subject::User(s.to_str()?)),
        Err(_) => Ok(Subject::Key(principal(obj)?)),
    }
}

/// `explain` for a user argument that is an email or a principal.
pub(super) fn decide(
    graph: &Graph,
    user: &Bound<'_, PyAny>,
    action: &str,
    target: &str,
    at: Option<Instant>,
) -> PyResult<Decision> {
    match subject(user)? {
        Subject::User(u) => graph.explain(u, action, target, at).py(),
        Subject::Key(p) => graph.explain_as(p, action, target, at).py(),
    }
}

/// `check_many` for a batch where some users are principals (the str-only batch keeps
/// its own faster path).
pub(super) fn check_many_keyed<'py>(
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
    let answers = py
        .detach(|| graph.check_many_as(queries.iter().copied(), at))
        .py()?;
    PyList::new(py, answers)
}

/// A list-of-strings argument (`scopes=`, `projects=`): `None`, or an iterable of `str`
/// that is not itself a `str`.
fn str_list(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let expected = "a list of strings, or None";
    if obj.cast::<PyString>().is_ok() {
        return Err(to_py(Error::invalid(field, convert::repr(obj), expected)));
    }
    let items = obj
        .try_iter()
        .map_err(|_| to_py(Error::invalid(field, convert::repr(obj), expected)))?;
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_str()?.to_owned()),
            Err(_) => {
                return Err(to_py(Error::invalid(
                    field,
                    convert::repr(&item),
                    "a string",
                )))
            }
        }
    }
    Ok(Some(out))
}

#[pymethods]
impl PyGraph {
    /// Creates a personal API key; returns `(key_id, secret)`. The secret is shown once.
    #[pyo3(signature = (user, label, *, scopes = None, projects = None, expires = None, actor))]
    fn create_personal_key(
        &self,
        user: &str,
        label: &str,
        scopes: Option<&Bound<'_, PyAny>>,
        projects: Option<&Bound<'_, PyAny>>,
        expires: Option<&Bound<'_, PyAny>>,
        actor: Option<&str>,
    ) -> PyResult<(String, String)> {
        let new = NewKey {
            label: label.to_owned(),
            scopes: str_list("scopes", scopes)?,
            projects: str_list("projects", projects)?,
            expires: instant("expires", expires)?,
        };
        self.inner.create_personal_key(user, new, actor).py()
    }

    /// Gives a personal key a new secret, which it returns; the old one stops at once.
    #[pyo3(signature = (key_id, *, actor))]
    fn rotate_personal_key(&self, key_id: &str, actor: Option<&str>) -> PyResult<String> {
        self.inner.rotate_personal_key(key_id, actor).py()
    }

    /// Revokes a personal key.
    #[pyo3(signature = (key_id, *, actor))]
    fn revoke_personal_key(&self, key_id: &str, actor: Option<&str>) -> PyResult<()> {
        self.inner.revoke_personal_key(key_id, actor).py()
    }

    /// The personal keys of `user` (or everyone's); revoked ones with `include_revoked`.
    #[pyo3(signature = (user = None, *, include_revoked = false))]
    fn personal_keys(&self, user: Option<&str>, include_revoked: bool) -> Vec<PyApiKey> {
        self.inner
            .personal_keys(user, include_revoked)
            .into_iter()
            .map(|inner| PyApiKey { inner })
            .collect()
    }

    /// One personal key, by id.
    fn personal_key(&self, key_id: &str) -> PyResult<PyApiKey> {
        Ok(PyApiKey {
            inner: self.inner.personal_key(key_id).py()?,
        })
    }

    /// The project's public API key (`agc_…`).
    fn project_key(&self, project: &str) -> PyResult<String> {
        self.inner.project_key(project).py()
    }

    /// Gives a project a new public key, which it returns (`project_key:rotate`).
    #[pyo3(signature = (project, *, actor))]
    fn rotate_project_key(&self, project: &str, actor: Option<&str>) -> PyResult<String> {
        self.inner.rotate_project_key(project, actor).py()
    }

    /// The principal a secret authenticates, or `None`.
    fn authenticate(&self, secret: &str) -> Option<PyPrincipal> {
        self.inner
            .authenticate(secret)
            .map(|inner| PyPrincipal { inner })
    }

    /// Offboards someone: removes them from every org, revokes their keys, hands their
    /// resources to `transfer_to`; atomic.
    #[pyo3(signature = (user, *, actor, transfer_to = None, reason = None))]
    fn offboard(
        &self,
        py: Python<'_>,
        user: &str,
        actor: Option<&str>,
        transfer_to: Option<&str>,
        reason: Option<&str>,
    ) -> PyResult<PyOffboardingReport> {
        let g = &self.inner;
        let inner = py
            .detach(|| g.offboard(user, actor, transfer_to, reason))
            .py()?;
        Ok(PyOffboardingReport { inner })
    }
}
