//! Audit events, exported audit files and the journal's open options, for Python.

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::convert::{self, datetime_py, json_py, Text};
use super::gil::{detach, detach_reporting, guarded};
use crate::audit::{Event, Filter, Log};
use crate::graph::Graph;

/// One audit event.
#[pyclass(name = "Event", module = "accessgraph._core", frozen)]
pub struct PyEvent {
    inner: Event,
}

impl From<Event> for PyEvent {
    fn from(inner: Event) -> Self {
        PyEvent { inner }
    }
}

guarded! {
#[pymethods]
impl PyEvent {
    /// 1, 2, 3 … contiguous.
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq
    }
    /// When (aware UTC datetime).
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_py(py, self.inner.at)
    }
    /// `system`, an email or `key:<id>`.
    #[getter]
    fn actor(&self) -> &str {
        &self.inner.actor
    }
    /// Dotted action name.
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }
    /// The org, project, `org/*`, resource or user the event is about.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }
    /// Before/after values, the user concerned, the reason …
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_py(py, &serde_json::Value::Object(self.inner.details.clone()))
    }
    /// `details["user"]`, if any.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.inner.user()
    }
    /// The previous event's hash.
    #[getter]
    fn prev_hash(&self) -> &str {
        &self.inner.prev_hash
    }
    /// SHA-256 over `prev_hash` and the canonical form of the other fields.
    #[getter]
    fn hash(&self) -> &str {
        &self.inner.hash
    }
    /// The event as one JSON line (the export form).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }
    fn __repr__(&self) -> String {
        let e = &self.inner;
        let user = e.user().map(|u| format!(" user={u:?}")).unwrap_or_default();
        format!(
            "Event(seq={}, at={:?}, actor={:?}, action={:?}, target={:?}{user})",
            e.seq,
            e.at.to_iso(),
            e.actor,
            e.action,
            e.target
        )
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyEvent>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }
    fn __hash__(&self) -> u64 {
        u64::from_str_radix(self.inner.hash.get(..15).unwrap_or("0"), 16).unwrap_or(0)
    }
}
}

/// An audit log read back from a JSON Lines export (`AuditLog.load`).
#[pyclass(name = "AuditFile", module = "accessgraph._core", frozen)]
pub struct PyAuditFile {
    pub(super) log: Mutex<Log>,
    graph_id: String,
}

guarded! {
#[pymethods]
impl PyAuditFile {
    /// Reads the text of a JSON Lines export; its trailer must account for its first
    /// and last event (and, with `hmac_key`, verify).
    #[staticmethod]
    #[pyo3(signature = (text, *, hmac_key = None))]
    fn parse(py: Python<'_>, text: Text<'_>, hmac_key: Option<Vec<u8>>) -> PyResult<Self> {
        let key = super::convert::hmac_key(hmac_key)?;
        let (log, trailer) = detach(py, || Ok(Log::from_jsonl(&text, key.as_deref())?))?;
        Ok(PyAuditFile {
            log: Mutex::new(log),
            graph_id: trailer.graph_id,
        })
    }

    fn _len(&self) -> usize {
        self.log.lock().len()
    }

    fn _events(&self, filter: &Bound<'_, PyAny>) -> PyResult<Vec<PyEvent>> {
        let f = filter_arg(filter)?;
        Ok(self
            .log
            .lock()
            .select(&f)
            .into_iter()
            .map(PyEvent::from)
            .collect())
    }

    // The lock is taken and let go inside the released call: holding it while waiting
    // for the GIL would deadlock with a thread that holds the GIL and waits for it. For
    // the same reason a call that reports progress (whose hook waits for the GIL) works
    // on a copy of the log, taken out of the lock.
    #[pyo3(signature = (progress = None))]
    fn _verify(&self, py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let log = &self.log;
        detach_reporting(py, progress, |hook| match hook {
            None => Ok(log.lock().verify()?),
            Some(_) => copy(log).verify_reporting(hook),
        })
    }

    #[pyo3(signature = (progress = None))]
    fn _jsonl(&self, py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let (log, graph_id) = (&self.log, &self.graph_id);
        detach_reporting(py, progress, |hook| match hook {
            None => Ok(log.lock().to_jsonl(graph_id, None)),
            Some(_) => Ok(copy(log).to_jsonl_reporting(graph_id, None, hook)?),
        })
    }

    #[pyo3(signature = (progress = None))]
    fn _csv(&self, py: Python<'_>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let log = &self.log;
        detach_reporting(py, progress, |hook| match hook {
            None => Ok(log.lock().to_csv()?),
            Some(_) => copy(log).to_csv_reporting(hook),
        })
    }

    fn _prune(&self, before: &Bound<'_, PyAny>) -> PyResult<usize> {
        let before =
            super::convert::instant("before", Some(before))?.unwrap_or(crate::time::Instant::MAX);
        self.log
            .lock()
            .prune(before)
            .map_err(crate::error::Error::from)
            .map_err(PyErr::from)
    }
}
}

/// The log, copied out of its lock (which is let go before the copy is used).
fn copy(log: &Mutex<Log>) -> Log {
    log.lock().clone()
}

/// A graph built in Rust (opened journal, past view) waiting to be adopted by
/// `Graph.__new__`, so `Graph` subclasses get instances of themselves.
#[pyclass(name = "_Pending", module = "accessgraph._core", frozen)]
pub struct PyPending {
    graph: Mutex<Option<Graph>>,
}

impl PyPending {
    /// Wraps a graph.
    pub fn new(graph: Graph) -> Self {
        PyPending {
            graph: Mutex::new(Some(graph)),
        }
    }

    /// Takes the graph (once).
    pub fn take(&self) -> Option<Graph> {
        self.graph.lock().take()
    }
}

/// `Filter` from the dict of `events()` keyword arguments (`None` values ignored).
pub fn filter_arg(obj: &Bound<'_, PyAny>) -> PyResult<Filter> {
    let d = obj.cast::<PyDict>()?;
    let text = |k: &'static str| -> PyResult<Option<String>> {
        match d.get_item(k)? {
            Some(v) if !v.is_none() => {
                Ok(Some(convert::text(k, v.cast::<PyString>()?)?.to_owned()))
            }
            _ => Ok(None),
        }
    };
    let when = |k: &'static str| -> PyResult<Option<crate::time::Instant>> {
        match d.get_item(k)? {
            Some(v) => super::convert::instant(k, Some(&v)),
            None => Ok(None),
        }
    };
    let limit = match d.get_item("limit")? {
        Some(v) if !v.is_none() => Some(v.extract::<usize>()?),
        _ => None,
    };
    Ok(Filter {
        actor: text("actor")?,
        user: text("user")?,
        action: text("action")?,
        target: text("target")?,
        since: when("since")?,
        until: when("until")?,
        limit,
    })
}
