//! The one mapping from core errors to the exception classes of `accessgraph.exceptions`:
//! `From<Error> for PyErr`, an exhaustive match, so a new variant cannot compile without
//! its Python class. Every binding returns `PyResult` and lets `?` do the mapping.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use super::values::PyDecision;
use crate::error::AuditError;
use crate::error::{ConflictError, Error, ValidationError};

macro_rules! exception {
    ($fn:ident, $name:literal) => {
        fn $fn(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            CELL.get_or_try_init(py, || {
                Ok::<_, PyErr>(
                    py.import("accessgraph.exceptions")?
                        .getattr($name)?
                        .cast_into::<PyType>()?
                        .unbind(),
                )
            })
            .map(|t| t.bind(py))
        }
    };
}

exception!(access_graph_error, "AccessGraphError");
exception!(validation_error, "ValidationError");
exception!(unknown_action_error, "UnknownActionError");
exception!(not_found_error, "NotFoundError");
exception!(conflict_error, "ConflictError");
exception!(read_only_error, "ReadOnlyGraphError");
exception!(permission_denied, "PermissionDenied");
exception!(registry_format_error, "RegistryFormatError");
exception!(audit_integrity_error, "AuditIntegrityError");
exception!(journal_error, "JournalError");
exception!(journal_unavailable_error, "JournalUnavailableError");

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        Python::attach(|py| build(py, err).unwrap_or_else(|e| e))
    }
}

/// What an exception says: any API secret in it masked, clipped to a readable length
/// (the core masks and clips the values it quotes; this catches the rest).
fn shown(text: &str) -> String {
    use crate::text::{clip, mask_secrets, MESSAGE};
    clip(&mask_secrets(text), MESSAGE).into_owned()
}

fn build(py: Python<'_>, err: Error) -> PyResult<PyErr> {
    let message = shown(&err.to_string());
    let (class, args): (&Bound<'_, PyType>, Bound<'_, pyo3::types::PyTuple>) = match err {
        Error::Validation(ValidationError::UnknownAction(_)) => {
            (unknown_action_error(py)?, (message,).into_pyobject(py)?)
        }
        Error::Validation(ValidationError::Invalid { .. } | ValidationError::Rule(_)) => {
            (validation_error(py)?, (message,).into_pyobject(py)?)
        }
        Error::NotFound(_) => (not_found_error(py)?, (message,).into_pyobject(py)?),
        Error::Conflict(ConflictError::ReadOnly(_)) => {
            (read_only_error(py)?, (message,).into_pyobject(py)?)
        }
        Error::Conflict(
            ConflictError::Exists(_)
            | ConflictError::LastOwner { .. }
            | ConflictError::NotMember { .. }
            | ConflictError::Rule(_),
        ) => (conflict_error(py)?, (message,).into_pyobject(py)?),
        Error::Registry(e) => return build_registry(py, Some((e.line, e.column)), None, &message),
        Error::Json(e) => {
            let path = shown(&e.path);
            return build_registry(py, None, Some(&path), &message);
        }
        Error::Audit(AuditError::Integrity { seq, .. }) => (
            audit_integrity_error(py)?,
            (message, seq).into_pyobject(py)?,
        ),
        Error::Audit(AuditError::Journal { line, .. }) => {
            (journal_error(py)?, (message, Some(line)).into_pyobject(py)?)
        }
        Error::Audit(AuditError::Unavailable(_)) => (
            journal_unavailable_error(py)?,
            (message, None::<u64>).into_pyobject(py)?,
        ),
        Error::Audit(AuditError::Io(_) | AuditError::Failed(_)) => (
            journal_error(py)?,
            (message, None::<u64>).into_pyobject(py)?,
        ),
        Error::Stopped(stop) => {
            // The progress callback's own exception, unchanged (the same object).
            if let Some(raised) = stop.reason().downcast_ref::<PyErr>() {
                return Ok(raised.clone_ref(py));
            }
            (access_graph_error(py)?, (message,).into_pyobject(py)?)
        }
        Error::Permission(p) => {
            let decision = Py::new(py, PyDecision::from(*p.decision))?;
            (
                permission_denied(py)?,
                (message, decision).into_pyobject(py)?,
            )
        }
    };
    Ok(PyErr::from_value(class.call1(args)?))
}

fn build_registry(
    py: Python<'_>,
    at: Option<(usize, usize)>,
    path: Option<&str>,
    message: &str,
) -> PyResult<PyErr> {
    let kwargs = pyo3::types::PyDict::new(py);
    if let Some((line, column)) = at {
        kwargs.set_item("line", line)?;
        kwargs.set_item("column", column)?;
    }
    kwargs.set_item("path", path)?;
    let err = registry_format_error(py)?.call((message,), Some(&kwargs))?;
    Ok(PyErr::from_value(err))
}
