//! `Graph._from_posthog`: PostHog's REST API JSON (as text) into a graph and its import
//! report. The parsing and the resolver live in `crate::registry::posthog`.

use pyo3::prelude::*;
use pyo3::types::PyType;

use super::gil::{detach, guarded};
use super::graph::{adopt, PyGraph};
use crate::registry::posthog::{self, Options};

/// One note of the import report: `(kind, subject, message, path, source)`.
type NoteRow = (&'static str, Option<String>, String, String, &'static str);

guarded! {
#[pymethods]
impl PyGraph {
    /// A graph of the org described by PostHog's JSON, and the report's notes. Releases
    /// the GIL while parsing and building.
    #[classmethod]
    #[pyo3(signature = (members, *, org, name = None, projects = None, roles = None, strict = false))]
    fn _from_posthog<'py>(
        cls: &Bound<'py, PyType>,
        members: &str,
        org: &str,
        name: Option<&str>,
        projects: Option<Vec<(String, String)>>,
        roles: Option<&str>,
        strict: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Vec<NoteRow>)> {
        let projects = projects.unwrap_or_default();
        let (graph, report) = detach(cls.py(), || {
            posthog::import_text(members, &projects, roles, org, name, Options { strict })
        })?;
        let obj = adopt(cls, graph)?;
        let notes = report
            .notes
            .into_iter()
            .map(|n| (n.kind.as_str(), n.subject, n.message, n.path, n.source))
            .collect();
        Ok((obj, notes))
    }
}
}
