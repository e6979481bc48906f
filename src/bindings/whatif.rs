//! What-if overlays on `accessgraph._core.Graph`: making one (optionally with a registry
//! document imported into it) and discarding it.

use pyo3::prelude::*;

use super::audit::PyPending;
use super::convert::Text;
use super::gil::{detach, guarded};
use super::graph::PyGraph;

guarded! {
#[pymethods]
impl PyGraph {
    /// An overlay of this graph as an instance of `cls`; with `text`, the Markdown
    /// registry is imported into it first (by the system, like `import_registry`).
    #[pyo3(signature = (cls, text = None, org = None))]
    fn _what_if<'py>(
        &self,
        py: Python<'py>,
        cls: &Bound<'py, pyo3::types::PyType>,
        text: Option<Text<'_>>,
        org: Option<Text<'_>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let graph = &self.inner;
        let overlay = detach(py, || {
            let overlay = graph.what_if()?;
            if let Some(text) = text {
                let registry = crate::registry::markdown::parse(&text, org.as_deref())
                    .map_err(crate::error::Error::from)?;
                crate::registry::reconcile::import_registry(&overlay, &registry)?;
            }
            Ok(overlay)
        })?;
        let pending = Bound::new(py, PyPending::new(overlay))?;
        cls.call1((pending,))
    }

    /// Empties the state (an overlay whose block ended).
    fn _discard(&self) -> () {
        self.inner.discard_state();
    }
}
}
