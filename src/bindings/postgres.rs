//! A journal in PostgreSQL (feature `postgres`): `Graph`'s methods for it, and the
//! module functions `postgres_migrate`, `postgres_import` and `postgres_redact` that
//! `accessgraph.postgres` wraps.

use pyo3::prelude::*;

use super::audit::PyPending;
use super::convert::{self, Text};
use super::gil::{detach, detach_reporting, guard, guarded};
use super::graph::PyGraph;
use crate::audit::postgres as store;
use crate::error::{AuditError, Error};
use crate::graph::postgres as pg;

guarded! {
#[pymethods]
impl PyGraph {
    /// Opens (or creates) the graph a `postgresql://` URL names and starts its follower
    /// thread (unless the URL says `follow=off`); `progress(done, total)` hears the events
    /// replayed.
    #[classmethod]
    #[pyo3(signature = (url, *, durability = "fsync", hmac_key = None, progress = None))]
    fn _open_postgres<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        url: Text<'_>,
        #[pyo3(from_py_with = convert::text_arg)] durability: &str,
        hmac_key: Option<Vec<u8>>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let durability = super::convert::durability(durability)?;
        let hmac_key = super::convert::hmac_key(hmac_key)?;
        let py = cls.py();
        let (graph, target) = detach_reporting(py, progress, |hook| {
            pg::open(&url, durability, hmac_key, hook)
        })?;
        let pending = Bound::new(py, PyPending::new(graph))?;
        let obj = cls.call1((pending,))?;
        if target.follow {
            let weak = std::sync::Arc::downgrade(&obj.cast::<PyGraph>()?.get().inner);
            pg::follow(weak, target).map_err(|e| {
                Error::from(AuditError::Io(format!(
                    "cannot start the follower thread: {e}"
                )))
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
}
}

/// Applies the schema migrations the database lacks; returns the versions applied.
#[pyfunction]
pub fn postgres_migrate(py: Python<'_>, url: Text<'_>) -> PyResult<Vec<i32>> {
    guard(None, || detach(py, || store::migrate_url(&url)))
}

/// Copies a file journal into the database as a new graph; returns the events copied.
/// `progress(done, total)` hears the journal's bytes read, then copied.
#[pyfunction]
#[pyo3(signature = (path, url, *, hmac_key = None, progress = None))]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts owned paths")]
pub fn postgres_import(
    py: Python<'_>,
    path: std::path::PathBuf,
    url: Text<'_>,
    hmac_key: Option<Vec<u8>>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    guard(None, || {
        detach_reporting(py, progress, |hook| {
            let target = store::parse_url(&url)?;
            store::import_file(&path, &target, hmac_key.as_deref(), hook)
        })
    })
}

/// The URL with every password hidden: the one redaction of the package.
#[pyfunction]
pub fn postgres_redact(url: Text<'_>) -> String {
    store::redact(&url)
}
