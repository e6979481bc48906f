//! The Python binding: the only place that names pyo3. Thin: convert, call, map errors.

mod arrow;
mod audit;
mod campaigns;
mod convert;
mod emails;
mod errors;
mod fixes;
mod gil;
mod governance;
mod graph;
mod journal;
mod keys;
mod mutations;
#[cfg(feature = "postgres")]
mod postgres;
mod posthog;
mod queries;
mod unattached;
mod upgrade;
mod values;
mod whatif;

/// The compiled core of the `accessgraph` package.
#[pyo3::pymodule]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::audit::{PyAuditFile, PyEvent, PyPending};
    #[pymodule_export]
    use super::convert::{shown, spreadsheet_safe};
    #[pymodule_export]
    use super::fixes::PyFix;
    #[pymodule_export]
    use super::governance::{PyAccessRequest, PyFinding, PyOnboardingReport, PySyncPlan};
    #[pymodule_export]
    use super::graph::PyGraph;
    #[cfg(feature = "postgres")]
    #[pymodule_export]
    use super::postgres::{postgres_import, postgres_migrate, postgres_redact};
    #[pymodule_export]
    use super::upgrade::journal_upgrade;
    #[pymodule_export]
    use super::values::{PyApiKey, PyOffboardingReport, PyPrincipal};
    #[pymodule_export]
    use super::values::{PyDecision, PyGrant, PyMember, PyOrg, PyProject, PyResource, PyUser};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        // Salts come from a pool of random bytes that a child of `fork` must not share
        // with its parent. Python tells us of each fork: the pool then needs no `getpid`
        // system call per mutation to notice one.
        let hook = pyo3::types::PyCFunction::new_closure(m.py(), None, None, |_args, _kwargs| {
            crate::audit::random::forked();
        })?;
        let kwargs = pyo3::types::PyDict::new(m.py());
        kwargs.set_item("after_in_child", hook)?;
        m.py()
            .import("os")?
            .call_method("register_at_fork", (), Some(&kwargs))?;
        crate::audit::random::fork_hook_installed();
        Ok(())
    }
}
