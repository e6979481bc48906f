//! `accessgraph._core.Graph`: the class, its constructors and the document formats it
//! loads and writes. Its other methods are in `journal.rs`, `queries.rs`,
//! `mutations.rs`, `keys.rs` and `governance.rs` — each converts its arguments, calls
//! the core and converts the result.

use pyo3::prelude::*;

use super::audit::PyPending;
use super::convert::{self, at_arg, instant, Text};
use super::gil::{detach, guarded};
use crate::graph::Graph;
use crate::time::Instant;

/// The access graph (see the `accessgraph.Graph` docs).
#[pyclass(name = "Graph", module = "accessgraph._core", frozen, subclass)]
pub struct PyGraph {
    // An `Arc` so a background thread (the PostgreSQL follower) can hold it weakly.
    pub(super) inner: std::sync::Arc<Graph>,
    /// Users' emails as Python strings, kept for `who_can` (`emails.rs`).
    pub(super) emails: super::emails::Emails,
}

/// A new instance of `cls` (Graph or a subclass) holding `graph`'s state.
pub(super) fn adopt<'py>(
    cls: &Bound<'py, pyo3::types::PyType>,
    graph: Graph,
) -> PyResult<Bound<'py, PyAny>> {
    let obj = cls.call0()?;
    obj.cast::<PyGraph>()?
        .get()
        .inner
        .replace_state(graph.into_state());
    Ok(obj)
}

guarded! {
#[pymethods]
impl PyGraph {
    #[new]
    #[pyo3(signature = (_pending = None, *, audit = true))]
    #[expect(
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
            emails: super::emails::Emails::default(),
        }
    }

    /// False for a graph made with ``audit=False`` (no audit log kept).
    #[getter]
    fn keeps_audit_log(&self) -> bool {
        self.inner.keeps_audit_log()
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

    /// A graph holding the org of a Markdown access registry (SPEC 5.1).
    #[classmethod]
    #[pyo3(signature = (text, org = None))]
    fn from_markdown<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        text: Text<'_>,
        org: Option<Text<'_>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        use crate::registry::markdown;
        let py = cls.py();
        let graph = detach(py, || {
            let registry = markdown::parse(&text, org.as_deref())?;
            markdown::load(&registry, Instant::now())
        })?;
        adopt(cls, graph)
    }

    /// A graph read from a JSON snapshot (SPEC 5.2).
    #[classmethod]
    fn from_json<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        text: Text<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let graph = detach(py, || {
            crate::registry::json::from_json(&text).map_err(crate::error::Error::from)
        })?;
        adopt(cls, graph)
    }

    /// The whole graph as a deterministic JSON snapshot (SPEC 5.2); never a secret.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        let graph = &self.inner;
        detach(py, || crate::registry::json::to_json(graph))
    }

    /// A graph rebuilt from the CSV access matrix (SPEC 5.3; lossy, see the docs).
    #[classmethod]
    fn from_csv<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        text: Text<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let graph = detach(cls.py(), || {
            crate::registry::csv::from_csv(&text).map_err(crate::error::Error::from)
        })?;
        adopt(cls, graph)
    }

    /// The access matrix as CSV text (`user,org,org_role,project,project_role,source,
    /// expires,reason`).
    #[pyo3(signature = (at = None))]
    fn _csv_text(&self, py: Python<'_>, at: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let at = at_arg(at)?;
        let g = &self.inner;
        detach(py, || crate::registry::csv::to_csv(g, at))
    }

    /// Makes an org match a Markdown registry, atomically; returns the number of
    /// elementary changes applied.
    #[pyo3(signature = (text, org = None))]
    fn _import_registry_text(
        &self,
        py: Python<'_>,
        text: Text<'_>,
        org: Option<Text<'_>>,
    ) -> PyResult<usize> {
        let g = &self.inner;
        detach(py, || {
            let registry = crate::registry::markdown::parse(&text, org.as_deref())?;
            Ok(crate::registry::reconcile::import_registry(g, &registry)?.len())
        })
    }

    /// The Markdown access registry of `org`.
    fn to_markdown(&self, py: Python<'_>, org: Text<'_>) -> PyResult<String> {
        let g = &self.inner;
        detach(py, || crate::registry::markdown::export(g, &org))
    }

    /// Every action of the catalogue, built-ins first.
    fn actions(&self) -> PyResult<Vec<String>> {
        Ok(self
            .inner
            .read(|st| Ok(st.catalog.iter().map(|d| d.name.clone()).collect()))?)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let (orgs, projects, users) = slf.get().inner.peek(|st| {
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
}
}
