//! `Graph._from_posthog`: PostHog's REST API JSON (as text) into a graph and its import
//! report. The parsing and the resolver live in `crate::registry::posthog`.

use pyo3::prelude::*;
use pyo3::types::PyType;

use super::convert::{Text, TextBuf};
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
        members: Text<'_>,
        org: Text<'_>,
        name: Option<Text<'_>>,
        projects: Option<Vec<(TextBuf, TextBuf)>>,
        roles: Option<Text<'_>>,
        strict: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Vec<NoteRow>)> {
        let projects: Vec<(String, String)> = projects
            .unwrap_or_default()
            .into_iter()
            .map(|(name, text)| (name.0, text.0))
            .collect();
        let (graph, report) = detach(cls.py(), || {
            let (roles, name) = (roles.as_deref(), name.as_deref());
            posthog::import_text(&members, &projects, roles, &org, name, Options { strict })
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
