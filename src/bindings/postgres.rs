//! `Graph` methods for a journal in PostgreSQL (feature `postgres`).

use pyo3::prelude::*;

use super::audit::PyPending;
use super::gil::{detach, guarded};
use super::graph::PyGraph;
use crate::audit::postgres as store;
use crate::error::AuditError;
use crate::error::Error;
use crate::graph::postgres as pg;

guarded! {
#[pymethods]
impl PyGraph {
    /// Opens (or creates) the graph a `postgresql://` URL names and starts its follower
    /// thread (unless the URL says `follow=off`).
    #[classmethod]
    fn _open_postgres<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        url: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let (graph, target) = detach(py, || pg::open(url))?;
        let pending = Bound::new(py, PyPending::new(graph))?;
        let obj = cls.call1((pending,))?;
        if target.follow {
            let weak = std::sync::Arc::downgrade(&obj.cast::<PyGraph>()?.get().inner);
            pg::follow(weak, target).map_err(|e| {
                PyErr::from(Error::from(AuditError::Io(format!(
                    "cannot start the follower thread: {e}"
                ))))
            })?;
        }
        Ok(obj)
    }

    /// The journal's URL (password hidden) when it lives in PostgreSQL, else `None`.
    #[getter]
    fn journal_url(&self) -> Option<String> {
        self.inner.journal_url()
    }

    /// Stores a snapshot in the database; returns its revision.
    fn _snapshot_postgres(&self, py: Python<'_>) -> PyResult<u64> {
        let g = &self.inner;
        detach(py, || g.postgres_snapshot())
    }

    /// Applies the schema migrations the database lacks; returns the versions applied.
    #[staticmethod]
    fn _postgres_migrate(py: Python<'_>, url: &str) -> PyResult<Vec<i32>> {
        detach(py, || store::migrate_url(url))
    }

    /// Copies a file journal into the database as a new graph; returns the events copied.
    #[staticmethod]
    fn _postgres_import(py: Python<'_>, path: std::path::PathBuf, url: &str) -> PyResult<u64> {
        detach(py, || {
            let target = store::parse_url(url)?;
            store::import_file(&path, &target)
        })
    }
}
}
