//! The one way a binding runs core work that takes long enough to let other Python
//! threads run: release the GIL, catch a panic, map the error — in that order.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use super::errors::internal;
use crate::error::Result;

/// Runs `work` with the GIL released (SPEC 6.2: long calls let other threads run).
/// A panic becomes `AccessGraphError`, never a crashed interpreter or a
/// `PanicException`.
pub(super) fn detach<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(done) => Ok(done?),
        Err(payload) => Err(internal(panic_text(payload.as_ref()))),
    }
}

/// What a panic said, when it said it with a string.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}
