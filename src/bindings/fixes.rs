//! `accessgraph._core.Fix`: one way to allow a denied check, a frozen value object; and
//! `Decision.fixes`, the getter that hands them out.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::convert::opt_datetime_py;
use super::gil::guarded;
use super::values::{q, q_opt, PyDecision};
use crate::decision::Fix;
use crate::time::Instant;

/// One way to allow a denied check: the change, what must come first, and who may make it.
#[pyclass(name = "Fix", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyFix {
    inner: Fix,
}

impl From<Fix> for PyFix {
    fn from(inner: Fix) -> Self {
        PyFix { inner }
    }
}

impl PartialEq for PyFix {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl Eq for PyFix {}

impl Hash for PyFix {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

/// `fixes` as a tuple of `Fix`.
pub fn fixes_py<'py>(py: Python<'py>, fixes: &[Fix]) -> PyResult<Bound<'py, PyTuple>> {
    let items = fixes
        .iter()
        .map(|f| Py::new(py, PyFix::from(f.clone())))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

guarded! {
#[pymethods]
impl PyFix {
    /// `grant`, `org_role`, `add_member`, `renew` or `impossible`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// The user it is about.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// The project (a grant) or org (the other kinds) it changes; `None` when impossible.
    #[getter]
    fn target(&self) -> Option<&str> {
        Some(self.inner.target.as_str()).filter(|t| !t.is_empty())
    }
    /// The role it gives (a project role for a grant, an org role otherwise).
    #[getter]
    fn role(&self) -> Option<&'static str> {
        self.inner.role.map(crate::roles::Role::as_str)
    }
    /// The expiry it gives (a grant to a member whose membership expires ends with it).
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.expires.map(Instant))
    }
    /// Steps that must come first, in order (a tuple of `Fix`).
    #[getter]
    fn requires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        fixes_py(py, &self.inner.requires)
    }
    /// Who may make the whole change (SPEC 2.3), emails sorted.
    #[getter]
    fn by<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.inner.by)
    }
    /// The fix in words.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }
    fn __str__(&self) -> &str {
        &self.inner.reason
    }
    fn __repr__(&self) -> String {
        let f = &self.inner;
        let by: Vec<String> = f.by.iter().map(|b| q(b)).collect();
        let by = match by.as_slice() {
            [one] => format!("({one},)"),
            _ => format!("({})", by.join(", ")),
        };
        let mut parts = vec![
            format!("kind={}", q(f.kind.as_str())),
            format!("user={}", q(&f.user)),
            format!(
                "target={}",
                q_opt(Some(f.target.as_str()).filter(|t| !t.is_empty()))
            ),
            format!("role={}", q_opt(f.role.map(crate::roles::Role::as_str))),
            format!(
                "expires={}",
                q_opt(f.expires.map(|e| Instant(e).to_iso()).as_deref())
            ),
            format!("by={by}"),
        ];
        if !f.requires.is_empty() {
            let steps: Vec<String> = f
                .requires
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}",
                        r.kind.as_str(),
                        r.role.map_or("", crate::roles::Role::as_str)
                    )
                })
                .collect();
            parts.push(format!("requires=[{}]", steps.join(", ")));
        }
        if f.kind == crate::decision::FixKind::Impossible {
            parts.push(format!("reason={}", q(&f.reason)));
        }
        format!("Fix({})", parts.join(", "))
    }
}
}

guarded! {
#[pymethods]
impl PyDecision {
    /// For a denial: the smallest changes that would allow it, least privilege first
    /// (a tuple of `Fix`); empty when allowed.
    #[getter]
    fn fixes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        fixes_py(py, &self.decision().fixes)
    }
}
}
