//! How a Python call runs core code: inside a guard that turns a panic into
//! `AccessGraphError` ([`guard`], put around every method by [`guarded!`]), and, for work
//! that takes long enough to let other Python threads run, with the GIL released
//! ([`detach`]; [`detach_reporting`] when the work reports progress to a callable).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

use crate::error::Result;
use crate::graph::Graph;
use crate::progress::{Hook, Stop};

/// Runs `work` with the GIL released (SPEC 6.2: long calls let other threads run) and
/// maps its error. A panic unwinds to the method's [`guard`], which re-attaches first.
pub(super) fn detach<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    Ok(py.detach(work)?)
}

/// [`detach`] for work that reports progress: `work` gets the core's hook for
/// `progress` (a Python callable `progress(done, total)`, or `None`: no hook at all). The
/// hook re-takes the GIL only for the call; an exception the callable raises stops the
/// work and comes back out unchanged (as `Error::Stopped`, which the error mapping
/// unwraps).
pub(super) fn detach_reporting<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(Hook<'_>) -> Result<T> + Send,
) -> PyResult<T> {
    let callable = progress
        .filter(|p| !p.is_none())
        .map(|p| p.clone().unbind());
    detach(py, || match &callable {
        None => work(None),
        Some(f) => {
            let mut call = |done: u64, total: u64| -> std::result::Result<(), Stop> {
                Python::attach(|py| f.call1(py, (done, total)).map(drop).map_err(Stop::new))
            };
            work(Some(&mut call))
        }
    })
}

/// Runs a binding method's body. A panic (a bug) becomes `AccessGraphError`, never a
/// crashed interpreter or pyo3's `PanicException` (a `BaseException` that `except
/// Exception` lets through), and stops `graph` — the method's own, if it has one — from
/// accepting writes: the panic may have left its state half-changed.
pub(super) fn guard<T>(graph: Option<&Graph>, work: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(done) => done,
        Err(payload) => {
            let what = panic_text(payload.as_ref());
            if let Some(g) = graph {
                g.fail_stop(format!("a call panicked: {what}"));
            }
            Err(internal(what))
        }
    }
}

/// A bug (a panic) as the base `AccessGraphError`, never as pyo3's `PanicException` (a
/// `BaseException` that `except Exception` lets through). Its own lookup of the class,
/// not `errors.rs`'s: the error mapping sits above the value classes, which this guards.
fn internal(what: &str) -> PyErr {
    use crate::text::{clip, mask_secrets, MESSAGE};
    let message = format!("internal error in accessgraph (please report it): {what}");
    let message = clip(&mask_secrets(&message), MESSAGE).into_owned();
    Python::attach(|py| {
        py.import("accessgraph.exceptions")
            .and_then(|m| m.getattr("AccessGraphError"))
            .and_then(|class| class.call1((message,)))
            .map_or_else(|e| e, PyErr::from_value)
    })
}

/// What a panic said, when it said it with a string.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Wraps every method of a `#[pymethods]` block in [`guard`], so no method needs a line
/// of its own for it: write `guarded! {` before `#[pymethods]` and `}` after the block.
/// A method's body becomes `guard(graph, || body)`; a method that returns a plain value
/// returns `PyResult` of it (the same to Python). In `impl PyGraph`, `graph` is the
/// receiver's graph (`&self` or `slf: &Bound<Self>`), which a panic stops; elsewhere
/// there is none. (rustfmt leaves a macro's braces alone: format the block by hand.)
macro_rules! guarded {
    (#[pymethods] impl PyGraph { $($items:tt)* }) => {
        $crate::bindings::gil::guarded!(@munch graph [impl PyGraph] [] $($items)*);
    };
    (#[pymethods] impl $ty:ident { $($items:tt)* }) => {
        $crate::bindings::gil::guarded!(@munch none [impl $ty] [] $($items)*);
    };
    // Every method rewritten: the block.
    (@munch $mode:ident [$($head:tt)*] [$($done:tt)*]) => {
        #[::pyo3::pymethods]
        $($head)* { $($done)* }
    };
    // A method that returns `PyResult<T>`.
    (@munch $mode:ident $head:tt [$($done:tt)*]
        $(#[$attr:meta])*
        fn $name:ident $(<$($lt:lifetime),+>)? ($($args:tt)*) -> PyResult<$ok:ty> $body:block
        $($rest:tt)*
    ) => {
        $crate::bindings::gil::guarded!(@munch $mode $head [$($done)*
            $(#[$attr])*
            fn $name $(<$($lt),+>)? ($($args)*) -> PyResult<$ok> {
                $crate::bindings::gil::guard(
                    $crate::bindings::gil::guarded!(@graph $mode $($args)*),
                    || $body,
                )
            }
        ] $($rest)*);
    };
    // A method that returns a plain value.
    (@munch $mode:ident $head:tt [$($done:tt)*]
        $(#[$attr:meta])*
        fn $name:ident $(<$($lt:lifetime),+>)? ($($args:tt)*) -> $ret:ty $body:block
        $($rest:tt)*
    ) => {
        $crate::bindings::gil::guarded!(@munch $mode $head [$($done)*
            $(#[$attr])*
            fn $name $(<$($lt),+>)? ($($args)*) -> PyResult<$ret> {
                $crate::bindings::gil::guard(
                    $crate::bindings::gil::guarded!(@graph $mode $($args)*),
                    || {
                        let value: $ret = $body;
                        Ok(value)
                    },
                )
            }
        ] $($rest)*);
    };
    // The graph a panic stops: the receiver's, in `impl PyGraph`.
    (@graph graph &$s:ident $($rest:tt)*) => { Some(&*$s.inner) };
    (@graph graph $s:ident: &Bound<$lt:lifetime, Self> $($rest:tt)*) => {
        Some(&*$s.get().inner)
    };
    (@graph $mode:ident $($rest:tt)*) => { None };
}
pub(super) use guarded;

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::{PyList, PyModule};

    /// An interpreter that imports `accessgraph.exceptions` from the source tree, without
    /// the package's `__init__` (which needs the built extension).
    fn with_exceptions<R>(f: impl FnOnce(Python<'_>) -> R) -> R {
        Python::initialize();
        Python::attach(|py| {
            let modules = py.import("sys")?.getattr("modules")?;
            if !modules.contains("accessgraph")? {
                let package = PyModule::new(py, "accessgraph")?;
                let source = concat!(env!("CARGO_MANIFEST_DIR"), "/python/accessgraph");
                package.setattr("__path__", PyList::new(py, [source])?)?;
                modules.set_item("accessgraph", package)?;
            }
            Ok::<_, PyErr>(f(py))
        })
        .unwrap_or_else(|e| unreachable!("cannot set the interpreter up: {e}"))
    }

    #[expect(clippy::panic, reason = "the guard's test panics on purpose")]
    fn boom() -> PyResult<u32> {
        panic!("boom at agp_0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_panic_is_an_access_graph_error_and_stops_the_graphs_writes() -> PyResult<()> {
        with_exceptions(|py| {
            let g = Graph::new();
            g.add_org("acme", None, "o@acme.io", None)?;
            let err = guard(Some(&g), boom)
                .err()
                .ok_or_else(|| internal("no error"))?;
            let class = err.get_type(py).name()?.to_string();
            assert_eq!(class, "AccessGraphError");
            let text = err.value(py).to_string();
            assert!(text.contains("internal error in accessgraph"), "{text}");
            assert!(text.contains("boom at agp_...cdef"), "{text}");
            // Reads go on; writes are refused, saying why.
            assert!(g.check("o@acme.io", "org:view", "acme", None)?);
            let refused = g.add_org("beta", None, "o@acme.io", None).err();
            let refused = refused.map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains("a call panicked: boom"), "{refused}");
            // Without a graph, only the error.
            let err = guard(None, boom)
                .err()
                .map(|e| e.get_type(py).name().map(|n| n.to_string()));
            assert_eq!(err.transpose()?.as_deref(), Some("AccessGraphError"));
            Ok(())
        })
    }

    #[test]
    fn a_panic_with_the_gil_released_reaches_the_guard_with_the_gil_held() -> PyResult<()> {
        with_exceptions(|py| {
            let g = Graph::new();
            let err = guard(Some(&g), || {
                detach(py, || boom().map_err(|_| unreachable!()))
            })
            .err()
            .ok_or_else(|| internal("no error"))?;
            assert_eq!(err.get_type(py).name()?.to_string(), "AccessGraphError");
            assert!(g.add_org("acme", None, "o@acme.io", None).is_err());
            // The thread holds the GIL again: Python still answers.
            assert_eq!(py.eval(c"1 + 1", None, None)?.extract::<i32>()?, 2);
            Ok(())
        })
    }

    #[test]
    fn every_pymethods_block_is_guarded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bindings");
        let mut blocks = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim() == "#[pymethods]" && !line.starts_with(' ') {
                    blocks += 1;
                    let before = i.checked_sub(1).and_then(|j| lines.get(j));
                    assert_eq!(
                        before.map(|l| l.trim()),
                        Some("guarded! {"),
                        "{}:{}: a #[pymethods] block outside guarded!",
                        entry.path().display(),
                        i + 1
                    );
                }
            }
        }
        assert!(blocks >= 10, "found only {blocks} blocks");
    }
}
