//! `accessgraph._core.Graph`: converts arguments, calls the core, converts results.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySet, PyString, PyTuple};

use super::audit::{columns, filter_arg, PyEvent, PyPending, Row};
use super::convert::{self, instant, opt_text};
use super::errors::{to_py, IntoPyResult};
use super::values::{PyDecision, PyGrant, PyMember, PyOrg, PyProject, PyResource, PyUser};
use crate::audit::{Durability, Log};
use crate::error::Error;
use crate::graph::{Graph, MemberPatch, NewMember, NewProject, OpenOptions, ProjectPatch};
use crate::time::Instant;

/// The access graph (see the `accessgraph.Graph` docs).
#[pyclass(name = "Graph", module = "accessgraph._core", frozen, subclass)]
pub struct PyGraph {
    // An `Arc` so a background thread (the PostgreSQL follower) can hold it weakly.
    pub(super) inner: std::sync::Arc<Graph>,
}

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

/// A keyword that defaults to `False`: `True`, `False` or `None`; anything else is a
/// `ValidationError` naming the field.
fn opt_bool(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    match obj {
        Some(o) if !o.is_none() => convert::boolean(field, o),
        _ => Ok(false),
    }
}

/// `(user, project, before, after, kind)` of one access change.
type DiffRow = (
    String,
    String,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

/// A new instance of `cls` (Graph or a subclass) holding `graph`'s state.
fn adopt<'py>(cls: &Bound<'py, pyo3::types::PyType>, graph: Graph) -> PyResult<Bound<'py, PyAny>> {
    let obj = cls.call0()?;
    obj.cast::<PyGraph>()?
        .get()
        .inner
        .replace_state(graph.into_state());
    Ok(obj)
}

fn at_arg(at: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Instant>> {
    instant("at", at)
}

fn kwargs_iter<'py>(kwargs: Option<&Bound<'py, PyDict>>) -> Vec<(String, Bound<'py, PyAny>)> {
    kwargs
        .map(|d| {
            d.iter()
                .filter_map(|(k, v)| k.extract::<String>().ok().map(|k| (k, v)))
                .collect()
        })
        .unwrap_or_default()
}

#[pymethods]
impl PyGraph {
    #[new]
    #[pyo3(signature = (_pending = None, *, audit = true))]
    #[allow(
        clippy::used_underscore_binding,
        reason = "the Python name marks it private"
    )]
    fn new(_pending: Option<&Bound<'_, PyPending>>, audit: bool) -> Self {
        let inner = _pending.and_then(|p| p.get().take()).unwrap_or_else(|| {
            if audit {
                Graph::new()
            } else {
                Graph::unaudited()
            }
        });
        PyGraph {
            inner: std::sync::Arc::new(inner),
        }
    }

    /// False for a graph made with ``audit=False`` (no audit log kept).
    #[getter]
    fn keeps_audit_log(&self) -> bool {
        self.inner.keeps_audit_log()
    }

    /// Opens (or creates) a journal; returns `(graph, recovered)` where `recovered`
    /// describes a torn tail that was cut off.
    #[classmethod]
    #[pyo3(signature = (path, *, durability = "fsync", hmac_key = None, snapshot = None))]
    #[allow(clippy::needless_pass_by_value, reason = "PyO3 extracts owned paths")]
    fn _open<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        path: std::path::PathBuf,
        durability: &str,
        hmac_key: Option<Vec<u8>>,
        snapshot: Option<std::path::PathBuf>,
    ) -> PyResult<(Bound<'py, PyAny>, Option<String>)> {
        let durability = match durability {
            "fsync" => Durability::Fsync,
            "group" => Durability::Group,
            "os" => Durability::Os,
            other => {
                return Err(to_py(crate::error::Error::invalid(
                    "durability",
                    other,
                    "\"fsync\" (the default), \"group\" or \"os\"",
                )))
            }
        };
        if hmac_key.as_ref().is_some_and(Vec::is_empty) {
            return Err(to_py(crate::error::Error::invalid(
                "hmac_key",
                "b''",
                "a non-empty key",
            )));
        }
        let opts = OpenOptions {
            durability,
            hmac_key,
            snapshot,
        };
        let py = cls.py();
        let (graph, recovered) = py.detach(|| Graph::open(&path, &opts)).py()?;
        let pending = Bound::new(py, PyPending::new(graph))?;
        Ok((cls.call1((pending,))?, recovered))
    }

    /// A read-only graph as it was at `when`, rebuilt from the audit log.
    fn as_of<'py>(slf: &Bound<'py, Self>, when: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let when = instant("when", Some(when))?.ok_or_else(|| {
            to_py(crate::error::Error::invalid(
                "when",
                "None",
                "a datetime, a date or an ISO-8601 string",
            ))
        })?;
        let py = slf.py();
        let this = slf.get();
        let view = py.detach(|| this.inner.as_of(when)).py()?;
        let pending = Bound::new(py, PyPending::new(view))?;
        slf.get_type().call1((pending,))
    }

    /// Pulls in events other processes appended to the journal; returns how many.
    fn refresh(&self, py: Python<'_>) -> PyResult<usize> {
        let g = &self.inner;
        py.detach(|| g.refresh()).py()
    }

    /// Writes a snapshot (the state at the current revision) that `open` starts from.
    #[allow(clippy::needless_pass_by_value, reason = "PyO3 extracts owned paths")]
    fn _snapshot(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<u64> {
        let g = &self.inner;
        py.detach(|| g.snapshot(&path)).py()
    }

    /// The `seq` of the last applied event.
    #[getter]
    fn revision(&self) -> u64 {
        self.inner.revision()
    }

    /// The journal's path, or `None` for a graph kept in memory.
    #[getter]
    fn journal_path(&self) -> Option<String> {
        self.inner.journal_path().map(|p| p.display().to_string())
    }

    /// The graph's identity (its journal's first record names it).
    #[getter]
    fn graph_id(&self) -> &str {
        self.inner.graph_id()
    }

    /// Records an application event; returns its `seq`.
    #[pyo3(signature = (actor, action, target, details))]
    fn _record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let details = match super::convert::json("details", details)? {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        self.inner.record(actor, action, target, details).py()
    }

    /// Erases a user (GDPR); returns the pseudonym.
    #[pyo3(signature = (email, *, actor, reason, transfer_to = None))]
    fn erase_user(
        &self,
        py: Python<'_>,
        email: &str,
        actor: Option<&str>,
        reason: Option<&str>,
        transfer_to: Option<&str>,
    ) -> PyResult<String> {
        let g = &self.inner;
        py.detach(|| g.erase_user(email, actor, reason, transfer_to))
            .py()
    }

    fn _audit_len(&self) -> usize {
        self.inner.audit_len()
    }

    fn _audit_events(&self, filter: &Bound<'_, PyAny>) -> PyResult<Vec<PyEvent>> {
        let f = filter_arg(filter)?;
        Ok(self
            .inner
            .audit_events(&f)
            .py()?
            .into_iter()
            .map(PyEvent::from)
            .collect())
    }

    fn _audit_columns<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let f = filter_arg(filter)?;
        let g = &self.inner;
        let rows = py
            .detach(|| g.with_audit_log(|log| log.matching(&f).map(Row::of).collect::<Vec<_>>()))
            .py()?;
        columns(py, &rows)
    }

    fn _audit_verify(&self, py: Python<'_>) -> PyResult<()> {
        let g = &self.inner;
        py.detach(|| g.audit_verify()).py()
    }

    fn _audit_jsonl(&self, py: Python<'_>) -> PyResult<String> {
        let g = &self.inner;
        py.detach(|| g.with_audit_log(Log::to_jsonl)).py()
    }

    fn _audit_csv(&self, py: Python<'_>) -> PyResult<String> {
        let g = &self.inner;
        py.detach(|| g.with_audit_log(Log::to_csv))
            .py()?
            .map_err(|e| to_py(e.into()))
    }

    fn _audit_prune(&self, py: Python<'_>, before: &Bound<'_, PyAny>) -> PyResult<usize> {
        let before = instant("before", Some(before))?.unwrap_or(Instant::MAX);
        let g = &self.inner;
        py.detach(|| g.audit_prune(before)).py()
    }

    /// A graph holding the org of a Markdown access registry (SPEC 5.1).
    #[classmethod]
    #[pyo3(signature = (text, org = None))]
    fn from_markdown<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        text: &str,
        org: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        use crate::registry::markdown;
        let py = cls.py();
        let graph = py.detach(|| -> crate::Result<Graph> {
            let registry = markdown::parse(text, org)?;
            markdown::load(&registry, Instant::now())
        });
        adopt(cls, graph.py()?)
    }

    /// A graph read from a JSON snapshot (SPEC 5.2).
    #[classmethod]
    fn from_json<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        text: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let graph = py
            .detach(|| crate::registry::json::from_json(text))
            .map_err(|e| to_py(e.into()))?;
        adopt(cls, graph)
    }

    /// The whole graph as a deterministic JSON snapshot (SPEC 5.2); never a secret.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        let graph = &self.inner;
        py.detach(|| crate::registry::json::to_json(graph)).py()
    }

    /// A graph rebuilt from the CSV access matrix (SPEC 5.3; lossy, see the docs).
    #[classmethod]
    fn from_csv<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        text: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let graph = crate::registry::csv::from_csv(text).map_err(|e| to_py(e.into()))?;
        adopt(cls, graph)
    }

    /// The access matrix as CSV text (`user,org,org_role,project,project_role,source,
    /// expires,reason`).
    #[pyo3(signature = (at = None))]
    fn _csv_text(&self, at: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        crate::registry::csv::to_csv(&self.inner, at_arg(at)?).py()
    }

    /// Makes an org match a Markdown registry, atomically; returns the number of
    /// elementary changes applied.
    #[pyo3(signature = (text, org = None))]
    fn _import_registry_text(&self, text: &str, org: Option<&str>) -> PyResult<usize> {
        let registry = crate::registry::markdown::parse(text, org).map_err(|e| to_py(e.into()))?;
        Ok(
            crate::registry::reconcile::import_registry(&self.inner, &registry)
                .py()?
                .len(),
        )
    }

    /// The Markdown access registry of `org`.
    fn to_markdown(&self, org: &str) -> PyResult<String> {
        crate::registry::markdown::export(&self.inner, org).py()
    }

    /// Freezes the clock at `when`, or returns to the wall clock with `None`.
    #[pyo3(signature = (when))]
    fn set_time(&self, when: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.set_time(instant("when", when)?);
        Ok(())
    }

    /// The graph's clock: the frozen instant, or the wall clock.
    fn now<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::datetime_py(py, self.inner.now())
    }

    // ---- queries ------------------------------------------------------------------

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
            Ok(s) => self.inner.check(s.to_str()?, action, target, at).py(),
            // An API key's `Principal`: its own path, off the email one.
            Err(_) => self
                .inner
                .check_as(super::keys::principal(user)?, action, target, at)
                .py(),
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
        let d = super::keys::decide(&self.inner, user, action, target, at_arg(at)?)?;
        if d.allowed {
            Ok(())
        } else {
            Err(to_py(Error::Permission(crate::error::PermissionError {
                decision: Box::new(d),
            })))
        }
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
        Ok(super::keys::decide(&self.inner, user, action, target, at_arg(at)?)?.into())
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
                    Err(_) if j == 0 && part.is_instance_of::<super::keys::PyPrincipal>() => {
                        return super::keys::check_many_keyed(py, &self.inner, &tuples, at);
                    }
                    Err(_) => return Err(bad_query(i, t.as_any())),
                };
                strs.push(s.to_str()?);
            }
        }
        let graph = &self.inner;
        let answers = py
            .detach(|| {
                graph.check_many(
                    strs.chunks_exact(3).map(|c| match c {
                        [u, a, t] => (*u, *a, *t),
                        _ => ("", "", ""),
                    }),
                    at,
                )
            })
            .py()?;
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
            .role(user_str(user)?, target, at_arg(at)?)
            .map(crate::model::Role::as_str))
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
        let names = py.detach(|| graph.permissions(user, target, at));
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
        py.detach(|| graph.who_can(action, target, at)).py()
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
        py.detach(|| graph.accessible(user, action, org, at)).py()
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
        let rows = py.detach(|| graph.access_matrix(org, at)).py()?;
        let out = PyList::empty(py);
        for r in rows {
            let d = PyDict::new(py);
            d.set_item("user", r.user)?;
            d.set_item("org", r.org)?;
            d.set_item("org_role", r.org_role.as_str())?;
            d.set_item("project", r.project)?;
            d.set_item(
                "project_role",
                r.project_role.map(crate::model::ProjectRole::as_str),
            )?;
            d.set_item("source", r.source.map(crate::eval::Source::as_str))?;
            d.set_item("expires", convert::opt_datetime_py(py, r.expires)?)?;
            d.set_item("reason", r.reason)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// Access drift rows `(user, project, before, after, kind)` (wrapped in an
    /// `AccessDiff` by `accessgraph.Graph.diff`).
    fn _diff_rows(&self, py: Python<'_>, other: &Bound<'_, PyGraph>) -> Vec<DiffRow> {
        let (a, b) = (&self.inner, &other.get().inner);
        py.detach(|| a.diff(b))
            .into_iter()
            .map(|c| {
                (
                    c.user,
                    c.project,
                    c.before.map(crate::model::ProjectRole::as_str),
                    c.after.map(crate::model::ProjectRole::as_str),
                    c.kind.as_str(),
                )
            })
            .collect()
    }

    // ---- listings -----------------------------------------------------------------

    /// The orgs, sorted by slug.
    fn orgs(&self) -> Vec<PyOrg> {
        self.inner.orgs().into_iter().map(Into::into).collect()
    }

    /// The projects of `org` (or all), sorted by id.
    #[pyo3(signature = (org = None))]
    fn projects(&self, org: Option<&str>) -> PyResult<Vec<PyProject>> {
        Ok(self
            .inner
            .projects(org)
            .py()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The project with this id.
    fn project(&self, project: &str) -> PyResult<PyProject> {
        Ok(self.inner.project(project).py()?.into())
    }

    /// The org with this slug.
    fn org(&self, org: &str) -> PyResult<PyOrg> {
        Ok(self.inner.org(org).py()?.into())
    }

    /// The members of `org`, sorted by email.
    fn members(&self, org: &str) -> PyResult<Vec<PyMember>> {
        Ok(self
            .inner
            .members(org)
            .py()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Grants, optionally of one user and/or on one target.
    #[pyo3(signature = (user = None, target = None))]
    fn grants(&self, user: Option<&str>, target: Option<&str>) -> Vec<PyGrant> {
        self.inner
            .grants(user, target)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// One user, by email.
    fn user(&self, email: &str) -> PyResult<PyUser> {
        Ok(self.inner.user(email).py()?.into())
    }

    /// Every user, sorted by email.
    fn users(&self) -> Vec<PyUser> {
        self.inner.users().into_iter().map(Into::into).collect()
    }

    /// The resources of `project` (or all), sorted by id.
    #[pyo3(signature = (project = None))]
    fn resources(&self, project: Option<&str>) -> PyResult<Vec<PyResource>> {
        Ok(self
            .inner
            .resources(project)
            .py()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Every action of the catalogue, built-ins first.
    fn actions(&self) -> Vec<String> {
        self.inner
            .read(|st| st.catalog.iter().map(|d| d.name.clone()).collect())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let (orgs, projects, users) = slf.get().inner.read(|st| {
            (
                st.orgs.iter().flatten().count(),
                st.projects.iter().flatten().count(),
                st.users.len(),
            )
        });
        let name = slf.get_type().name()?;
        Ok(format!(
            "<{name} orgs={orgs} projects={projects} users={users}>"
        ))
    }

    // ---- mutations ----------------------------------------------------------------

    /// Creates an org with `owner` as its first owner.
    #[pyo3(signature = (slug, *, owner, name = None, actor = None))]
    fn add_org(
        &self,
        slug: &str,
        owner: &str,
        name: Option<&str>,
        actor: Option<&str>,
    ) -> PyResult<()> {
        self.inner.add_org(slug, name, owner, actor).py()
    }

    /// Creates a project `org/slug`.
    #[pyo3(signature = (project, *, name = None, environment = None, restricted = None, pii = None, default_role = None, settings = None, actor = None))]
    fn add_project(
        &self,
        project: &str,
        name: Option<&Bound<'_, PyAny>>,
        environment: Option<&Bound<'_, PyAny>>,
        restricted: Option<&Bound<'_, PyAny>>,
        pii: Option<&Bound<'_, PyAny>>,
        default_role: Option<&str>,
        settings: Option<&Bound<'_, PyDict>>,
        actor: Option<&str>,
    ) -> PyResult<()> {
        let mut s = crate::model::Settings::new();
        for (k, v) in kwargs_iter(settings) {
            s.insert(k, convert::json("settings", &v)?);
        }
        let new = NewProject {
            name: opt_text("name", name)?,
            environment: opt_text("environment", environment)?,
            restricted: opt_bool("restricted", restricted)?,
            pii: opt_bool("pii", pii)?,
            default_role: default_role.map(str::to_owned),
            settings: s,
        };
        self.inner.add_project(project, new, actor).py()
    }

    /// Adds `user` to `org` with an org role.
    #[pyo3(signature = (user, org, role = "member", *, actor = None, name = None, title = None, expires = None, reason = None, reviewed = None, external = None))]
    fn add_member(
        &self,
        user: &str,
        org: &str,
        role: &str,
        actor: Option<&str>,
        name: Option<&Bound<'_, PyAny>>,
        title: Option<&Bound<'_, PyAny>>,
        expires: Option<&Bound<'_, PyAny>>,
        reason: Option<&Bound<'_, PyAny>>,
        reviewed: Option<&Bound<'_, PyAny>>,
        external: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let new = NewMember {
            role: Some(role.to_owned()),
            name: opt_text("name", name)?,
            title: opt_text("title", title)?,
            expires: instant("expires", expires)?,
            reason: opt_text("reason", reason)?,
            reviewed: convert::date("reviewed", reviewed)?,
            external: opt_bool("external", external)?,
        };
        self.inner.add_member(user, org, new, actor).py()
    }

    /// Changes `user`'s org role.
    #[pyo3(signature = (user, org, role, *, actor))]
    fn set_org_role(&self, user: &str, org: &str, role: &str, actor: Option<&str>) -> PyResult<()> {
        self.inner.set_org_role(user, org, role, actor).py()
    }

    /// Removes `user` from `org` with their grants there; anyone may leave.
    #[pyo3(signature = (user, org, *, actor))]
    fn remove_member(&self, user: &str, org: &str, actor: Option<&str>) -> PyResult<()> {
        self.inner.remove_member(user, org, actor).py()
    }

    /// Renews, documents or marks reviewed a membership; only the keywords given change.
    #[pyo3(signature = (user, org, *, actor, **changes))]
    fn update_member(
        &self,
        user: &str,
        org: &str,
        actor: Option<&str>,
        changes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut patch = MemberPatch::default();
        for (k, v) in kwargs_iter(changes) {
            match k.as_str() {
                "expires" => patch.expires = Some(instant("expires", Some(&v))?),
                "reason" => patch.reason = Some(opt_text("reason", Some(&v))?),
                "reviewed" => patch.reviewed = Some(convert::date("reviewed", Some(&v))?),
                "external" => patch.external = Some(convert::boolean("external", &v)?),
                "title" => patch.title = Some(opt_text("title", Some(&v))?),
                "name" => patch.name = Some(opt_text("name", Some(&v))?),
                other => {
                    return Err(to_py(Error::invalid(
                        "keyword",
                        other,
                        "one of expires, reason, reviewed, external, title, name",
                    )))
                }
            }
        }
        self.inner.update_member(user, org, patch, actor).py()
    }

    /// Grants a project role on `org/project` or `org/*`, replacing any grant there.
    #[pyo3(signature = (user, target, role, *, actor = None, expires = None, reason = None))]
    fn grant(
        &self,
        user: &str,
        target: &str,
        role: &str,
        actor: Option<&str>,
        expires: Option<&Bound<'_, PyAny>>,
        reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let expires = instant("expires", expires)?;
        let reason = opt_text("reason", reason)?;
        self.inner
            .grant(user, target, role, expires, reason, actor)
            .py()
    }

    /// Revokes `user`'s grant on `target`.
    #[pyo3(signature = (user, target, *, actor))]
    fn revoke(&self, user: &str, target: &str, actor: Option<&str>) -> PyResult<()> {
        self.inner.revoke(user, target, actor).py()
    }

    /// Changes a project's attributes; other keywords are merged into its settings.
    #[pyo3(signature = (project, *, actor, **changes))]
    fn update_project(
        &self,
        project: &str,
        actor: Option<&str>,
        changes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut patch = ProjectPatch::default();
        for (k, v) in kwargs_iter(changes) {
            match k.as_str() {
                "name" => {
                    patch.name = Some(opt_text("name", Some(&v))?.ok_or_else(|| {
                        to_py(Error::invalid("name", "None", "a non-empty name"))
                    })?);
                }
                "environment" => patch.environment = Some(opt_text("environment", Some(&v))?),
                "restricted" => patch.restricted = Some(convert::boolean("restricted", &v)?),
                "pii" => patch.pii = Some(convert::boolean("pii", &v)?),
                "default_role" => patch.default_role = Some(opt_text("default_role", Some(&v))?),
                _ => {
                    let value = if v.is_none() {
                        None
                    } else {
                        Some(convert::json("settings", &v)?)
                    };
                    patch.settings.push((k, value));
                }
            }
        }
        self.inner.update_project(project, patch, actor).py()
    }

    /// Deletes a project with its grants and resources.
    #[pyo3(signature = (project, *, actor))]
    fn remove_project(&self, project: &str, actor: Option<&str>) -> PyResult<()> {
        self.inner.remove_project(project, actor).py()
    }

    /// Changes an org's name; other keywords are merged into its settings.
    #[pyo3(signature = (org, *, actor, name = None, **settings))]
    fn update_org(
        &self,
        org: &str,
        actor: Option<&str>,
        name: Option<&Bound<'_, PyAny>>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut s = Vec::new();
        for (k, v) in kwargs_iter(settings) {
            let value = if v.is_none() {
                None
            } else {
                Some(convert::json("settings", &v)?)
            };
            s.push((k, value));
        }
        self.inner
            .update_org(org, opt_text("name", name)?, s, actor)
            .py()
    }

    /// Deletes an org with its projects, memberships and grants.
    #[pyo3(signature = (org, *, actor))]
    fn remove_org(&self, org: &str, actor: Option<&str>) -> PyResult<()> {
        self.inner.remove_org(org, actor).py()
    }

    /// Registers a resource; returns its id `org/project/kind/id`.
    #[pyo3(signature = (project, kind, id, *, owner = None, actor = None))]
    fn add_resource(
        &self,
        project: &str,
        kind: &str,
        id: &Bound<'_, PyAny>,
        owner: Option<&str>,
        actor: Option<&str>,
    ) -> PyResult<String> {
        let id = id.str()?.to_string();
        self.inner
            .add_resource(project, kind, &id, owner, actor)
            .py()
    }

    /// Adds a custom action `resource:verb`.
    #[pyo3(signature = (name, scope = "project", min_role = "member", owner_role = None, *, actor = None))]
    fn define_action(
        &self,
        name: &str,
        scope: &str,
        min_role: &str,
        owner_role: Option<&str>,
        actor: Option<&str>,
    ) -> PyResult<()> {
        self.inner
            .define_action(name, scope, min_role, owner_role, actor)
            .py()
    }
}
