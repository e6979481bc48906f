//! `Graph` methods for a journal in PostgreSQL (feature `postgres`).

use pyo3::prelude::*;

use super::audit::PyPending;
use super::errors::{to_py, IntoPyResult};
use super::graph::PyGraph;
use crate::audit::postgres as store;
use crate::audit::{AuditError, Durability};
use crate::error::Error;
use crate::graph::postgres as pg;

#[pymethods]
impl PyGraph {
    /// Opens (or creates) the graph a `postgresql://` URL names and starts its follower
    /// thread (unless the URL says `follow=off`).
    #[classmethod]
    #[pyo3(signature = (url, *, durability = "fsync", hmac_key = None))]
    fn _open_postgres<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        url: &str,
        durability: &str,
        hmac_key: Option<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // The same choices as a journal file's (`Graph._open`).
        let durability = match durability {
            "fsync" => Durability::Fsync,
            "group" => Durability::Group,
            "os" => Durability::Os,
            other => {
                return Err(to_py(Error::invalid(
                    "durability",
                    other,
                    "\"fsync\" (the default), \"group\" or \"os\"",
                )))
            }
        };
        let py = cls.py();
        let (graph, target) = py.detach(|| pg::open(url, durability, hmac_key)).py()?;
        let pending = Bound::new(py, PyPending::new(graph))?;
        let obj = cls.call1((pending,))?;
        if target.follow {
            let weak = std::sync::Arc::downgrade(&obj.cast::<PyGraph>()?.get().inner);
            pg::follow(weak, target).map_err(|e| {
                to_py(Error::from(AuditError::Io(format!(
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
        py.detach(|| g.postgres_snapshot()).py()
    }

    /// Applies the schema migrations the database lacks; returns the versions applied.
    #[staticmethod]
    fn _postgres_migrate(py: Python<'_>, url: &str) -> PyResult<Vec<i32>> {
        py.detach(|| store::migrate_url(url)).py()
    }

    /// Copies a file journal into the database as a new graph; returns the events copied.
    #[staticmethod]
    #[pyo3(signature = (path, url, *, hmac_key = None))]
    #[allow(clippy::needless_pass_by_value, reason = "PyO3 extracts owned paths")]
    fn _postgres_import(
        py: Python<'_>,
        path: std::path::PathBuf,
        url: &str,
        hmac_key: Option<Vec<u8>>,
    ) -> PyResult<u64> {
        py.detach(|| {
            let target = store::parse_url(url)?;
            store::import_file(&path, &target, hmac_key.as_deref())
        })
        .py()
    }

    /// The URL with every password hidden: the one redaction of the package.
    #[staticmethod]
    fn _postgres_redact(url: &str) -> String {
        store::redact(url)
    }
}
