//! The audit log's table as Arrow (`AuditLog.to_arrow()`, `__arrow_c_stream__`) and as
//! plain lists (`to_pandas()` without pyarrow).
//!
//! The core writes the table in Arrow's layout ([`crate::audit::columns`]); here its
//! buffers become Arrow arrays without a copy, and pyo3-arrow hands them over through the
//! Arrow C stream interface, so pyarrow, polars and pandas read them without a copy
//! either. pyarrow is never imported here: the Python side asks for it only in
//! `to_arrow()`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, LargeStringArray, RecordBatch, TimestampMicrosecondArray};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::PyTable;

use super::audit::{filter_arg, PyAuditFile};
use super::gil::{detach, guarded};
use super::graph::PyGraph;
use crate::audit::columns::{Columns, HashTexts, Heads, Text, TextParts};
use crate::error::{AuditError, Error, Result};

fn arrow_err(e: &arrow_schema::ArrowError) -> Error {
    Error::from(AuditError::Io(format!("building the Arrow table: {e}")))
}

/// The table's schema: `seq` int64, `at` timestamp (µs, UTC), the rest text (`user`
/// null where an event concerns no user; `details` JSON).
fn schema() -> Arc<Schema> {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::LargeUtf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        text("actor", false),
        text("action", false),
        text("target", false),
        text("user", true),
        text("details", false),
        text("prev_hash", false),
        text("hash", false),
    ]))
}

/// A text column's buffers as an Arrow array: no copy, and no second check of its UTF-8.
fn string_array(t: Text) -> LargeStringArray {
    let TextParts {
        offsets,
        bytes,
        valid,
    } = t.into_parts();
    // Checks (and panics on, never met) offsets that fall or start below 0.
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let nulls = valid.map(NullBuffer::from);
    #[expect(
        unsafe_code,
        reason = "Arrow's check of the text again was 15% of to_arrow()'s CPU time"
    )]
    // SAFETY: `new_unchecked` needs what `try_new` would check: the bytes UTF-8, each
    // offset within them on a character boundary, one null flag per row. A `Text` is so by
    // construction (its fields are private; rows are appended whole from `str`s, hex and
    // the JSON its module writes: `crate::audit::columns::Text`), which `into_parts`
    // asserts in debug builds. A core test checks every selection of a sample log with
    // characters of one to four bytes, on one thread and on two; a Python test has pyarrow
    // validate whole and filtered tables of such text in full.
    unsafe {
        LargeStringArray::new_unchecked(offsets, Buffer::from_vec(bytes), nulls)
    }
}

/// [`string_array`], as a column.
fn text_array(t: Text) -> ArrayRef {
    Arc::new(string_array(t))
}

/// The `prev_hash` and `hash` arrays; shared hashes become two views of the same buffers
/// (no copy either), `hash` one row after `prev_hash`.
fn hash_arrays(texts: HashTexts) -> (ArrayRef, ArrayRef) {
    match texts {
        HashTexts::Split { prev_hash, hash } => (text_array(prev_hash), text_array(hash)),
        HashTexts::Shared(t) if t.is_empty() => (text_array(Text::default()), text_array(t)),
        HashTexts::Shared(t) => {
            // One array of every hash text, sliced twice without a copy.
            let n = t.len() - 1;
            let all = string_array(t);
            (Arc::new(all.slice(0, n)), Arc::new(all.slice(1, n)))
        }
    }
}

/// The arrays of the heads half ([`Heads`]): `seq`, `at`, `actor`, `action`, `target`,
/// `prev_hash`, `hash`.
type HeadArrays = [ArrayRef; 7];

/// The heads' arrays, made on the thread that wrote them.
fn head_arrays(h: Heads) -> HeadArrays {
    let at = TimestampMicrosecondArray::new(ScalarBuffer::from(h.at), None).with_timezone("UTC");
    let (prev_hash, hash) = hash_arrays(h.hashes.into_texts());
    [
        Arc::new(Int64Array::new(ScalarBuffer::from(h.seq), None)),
        Arc::new(at),
        text_array(h.actor),
        text_array(h.action),
        text_array(h.target),
        prev_hash,
        hash,
    ]
}

/// The `details` and `user` arrays, made on the thread that wrote them.
fn detail_arrays(details: Text, user: Text) -> [ArrayRef; 2] {
    [text_array(details), text_array(user)]
}

/// The table as one Arrow record batch and its schema, from its halves' arrays (see
/// [`Heads`]), each made on the thread that wrote it. Made without the GIL ([`detach`]),
/// then wrapped by [`table`].
fn batch(
    ([seq, at, actor, action, target, prev_hash, hash], [details, user]): (
        HeadArrays,
        [ArrayRef; 2],
    ),
) -> Result<(Arc<Schema>, Vec<RecordBatch>)> {
    let arrays = vec![
        seq, at, actor, action, target, user, details, prev_hash, hash,
    ];
    let schema = schema();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|e| arrow_err(&e))?;
    Ok((schema, vec![batch]))
}

/// The table, wrapped for Python (it has `__arrow_c_stream__`).
pub fn table((schema, batches): (Arc<Schema>, Vec<RecordBatch>)) -> PyResult<PyTable> {
    PyTable::try_new(batches, schema)
}

/// Reads one text column of a part.
type TextOf = fn(&Columns) -> &Text;

/// The table as a dict of equal-length lists (`at` as microseconds since the epoch,
/// under `at_us`), for `to_pandas()` when pyarrow is not installed.
pub fn lists<'py>(py: Python<'py>, parts: &[Columns]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let ints = |f: fn(&Columns) -> &Vec<i64>| -> Vec<i64> {
        parts.iter().flat_map(|c| f(c).iter().copied()).collect()
    };
    d.set_item("seq", ints(|c| &c.seq))?;
    d.set_item("at_us", ints(|c| &c.at))?;
    let texts: [(&str, TextOf); 5] = [
        ("actor", |c| &c.actor),
        ("action", |c| &c.action),
        ("target", |c| &c.target),
        ("user", |c| &c.user),
        ("details", |c| &c.details),
    ];
    for (name, col) in texts {
        let values = parts.iter().flat_map(|c| {
            let t = col(c);
            (0..t.len()).map(move |i| t.get(i))
        });
        d.set_item(name, PyList::new(py, values)?)?;
    }
    let prev = parts
        .iter()
        .flat_map(|c| (0..c.len()).map(|i| c.hashes.prev_hash(i)));
    d.set_item("prev_hash", PyList::new(py, prev)?)?;
    let hash = parts
        .iter()
        .flat_map(|c| (0..c.len()).map(|i| c.hashes.hash(i)));
    d.set_item("hash", PyList::new(py, hash)?)?;
    Ok(d)
}

guarded! {
#[pymethods]
impl PyAuditFile {
    fn _columns<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let f = filter_arg(filter)?;
        let log = &self.log;
        let cols = detach(py, || Ok(log.lock().columns(&f)))?;
        lists(py, &cols)
    }

    fn _arrow(&self, py: Python<'_>, filter: &Bound<'_, PyAny>) -> PyResult<PyTable> {
        let f = filter_arg(filter)?;
        let log = &self.log;
        let parts = detach(py, || {
            batch(log.lock().columns_with(&f, head_arrays, detail_arrays))
        })?;
        table(parts)
    }
}
}

guarded! {
#[pymethods]
impl PyGraph {
    /// The events `filter` selects as an Arrow table (`__arrow_c_stream__`).
    fn _audit_arrow(&self, py: Python<'_>, filter: &Bound<'_, PyAny>) -> PyResult<PyTable> {
        let f = filter_arg(filter)?;
        let g = &self.inner;
        let parts = detach(py, || {
            batch(g.audit_columns_with(&f, head_arrays, detail_arrays)?)
        })?;
        table(parts)
    }
}
}
