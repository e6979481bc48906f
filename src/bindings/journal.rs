//! `Graph`'s journal and audit-log methods: opening a journal, snapshots, refresh, time
//! travel, application events, erasure and the audit log's queries and exports.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::audit::{filter_arg, PyEvent, PyPending};
use super::convert::{self, instant, Text};
use super::gil::{detach, detach_reporting, guarded};
use super::graph::PyGraph;
use crate::graph::{Graph, OpenOptions};
use crate::time::Instant;

/// A torn tail that opening cut off: its line and what was cut.
type Recovered = (u64, String);

guarded! {
#[pymethods]
impl PyGraph {
    /// Opens (or creates) a journal; returns `(graph, recovered)` where `recovered` is
    /// the line and description of a torn tail that was cut off.
    #[classmethod]
    #[pyo3(signature = (path, *, durability = "fsync", hmac_key = None, snapshot = None, follow = true, progress = None))]
    fn _open<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        path: std::path::PathBuf,
        #[pyo3(from_py_with = convert::text_arg)] durability: &str,
        hmac_key: Option<Vec<u8>>,
        snapshot: Option<std::path::PathBuf>,
        follow: bool,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Option<Recovered>)> {
        let durability = convert::durability(durability)?;
        let hmac_key = convert::hmac_key(hmac_key)?;
        let opts = OpenOptions {
            durability,
            hmac_key,
            snapshot,
            alone: !follow,
        };
        let py = cls.py();
        let (graph, recovered) = detach_reporting(py, progress, |hook| {
            Graph::open_reporting(&path, &opts, hook)
        })?;
        let pending = Bound::new(py, PyPending::new(graph))?;
        Ok((cls.call1((pending,))?, recovered))
    }

    /// A read-only graph as it was at `when`, rebuilt from the audit log;
    /// `progress(done, total)` hears the events replayed.
    #[pyo3(signature = (when, *, progress = None))]
    fn as_of<'py>(
        slf: &Bound<'py, Self>,
        when: &Bound<'py, PyAny>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let when = instant("when", Some(when))?.ok_or_else(|| {
            PyErr::from(crate::error::Error::invalid(
                "when",
                "None",
                "a datetime, a date or an ISO-8601 string",
            ))
        })?;
        let py = slf.py();
        let this = slf.get();
        let view = detach_reporting(py, progress, |hook| {
            this.inner.as_of_reporting(when, hook)
        })?;
        let pending = Bound::new(py, PyPending::new(view))?;
        slf.get_type().call1((pending,))
    }

    /// Pulls in events other processes appended to the journal; returns how many.
    fn refresh(&self, py: Python<'_>) -> PyResult<usize> {
        let g = &self.inner;
        detach(py, || g.refresh())
    }

    /// Writes a snapshot (the state at the current revision) that `open` starts from.
    fn _snapshot(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<u64> {
        let g = &self.inner;
        detach(py, || g.snapshot(&path))
    }

    /// The `seq` of the last applied event.
    #[getter]
    fn revision(&self) -> u64 {
        self.inner.revision()
    }

    /// True when the graph sees other processes' acknowledged changes to its journal
    /// before its next query: a file journal (through its revision beacon), or a
    /// PostgreSQL URL with a follower thread (within milliseconds).
    #[getter]
    fn follows_journal(&self) -> bool {
        #[cfg(feature = "postgres")]
        let pg = self.inner.follows_postgres();
        #[cfg(not(feature = "postgres"))]
        let pg = false;
        self.inner.follows_journal().0 || pg
    }

    /// Why a file journal's graph reads the journal before every query (it has no
    /// revision beacon), or `None`.
    #[getter]
    fn _follow_fallback(&self) -> Option<String> {
        self.inner.follows_journal().1
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
        py: Python<'_>,
        actor: Text<'_>,
        action: Text<'_>,
        target: Text<'_>,
        details: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let details = match super::convert::json("details", details)? {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let g = &self.inner;
        detach(py, || g.record(&actor, &action, &target, details))
    }

    /// Erases a user (GDPR); returns the pseudonym.
    #[pyo3(signature = (email, *, actor, reason, transfer_to = None))]
    fn erase_user(
        &self,
        py: Python<'_>,
        email: Text<'_>,
        actor: Option<Text<'_>>,
        reason: Option<Text<'_>>,
        transfer_to: Option<Text<'_>>,
    ) -> PyResult<String> {
        let g = &self.inner;
        detach(py, || {
            g.erase_user(&email, actor.as_deref(), reason.as_deref(), transfer_to.as_deref())
        })
    }

    fn _audit_len(&self) -> usize {
        self.inner.audit_len()
    }

    fn _audit_events(&self, filter: &Bound<'_, PyAny>) -> PyResult<Vec<PyEvent>> {
        let f = filter_arg(filter)?;
        let g = &self.inner;
        // A graph on PostgreSQL reads the events from the database: without the GIL.
        let events = detach(filter.py(), || g.audit_events(&f))?;
        Ok(events.into_iter().map(PyEvent::from).collect())
    }

    fn _audit_columns<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let f = filter_arg(filter)?;
        let g = &self.inner;
        let cols = detach(py, || g.audit_columns(&f))?;
        super::arrow::lists(py, &cols)
    }

    /// Up to `n` events after `after` for a graph that reads its history from its store
    /// (PostgreSQL), for an iteration page by page; `None` for one that holds it.
    fn _audit_page(&self, py: Python<'_>, after: u64, n: usize) -> PyResult<Option<Vec<PyEvent>>> {
        let g = &self.inner;
        let page = detach(py, || g.audit_page(after, n))?;
        Ok(page.map(|events| events.into_iter().map(PyEvent::from).collect()))
    }

    #[pyo3(signature = (progress = None))]
    fn _audit_verify(&self, py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = &self.inner;
        detach_reporting(py, progress, |hook| g.audit_verify_reporting(hook))
    }

    #[pyo3(signature = (progress = None))]
    fn _audit_jsonl(&self, py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let g = &self.inner;
        detach_reporting(py, progress, |hook| g.audit_jsonl_reporting(hook))
    }

    #[pyo3(signature = (progress = None))]
    fn _audit_csv(&self, py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let g = &self.inner;
        detach_reporting(py, progress, |hook| g.audit_csv_reporting(hook))
    }

    fn _audit_prune(&self, py: Python<'_>, before: &Bound<'_, PyAny>) -> PyResult<usize> {
        let before = instant("before", Some(before))?.unwrap_or(Instant::MAX);
        let g = &self.inner;
        detach(py, || g.audit_prune(before))
    }
}
}
