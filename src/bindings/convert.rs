//! Conversions between Python values and core types: text, instants, dates, JSON-like
//! settings.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pyo3::exceptions::PyUnicodeEncodeError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyDate, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyTzInfo,
};

use crate::error::Error;
use crate::time::{parse_date, Instant};

/// A `str` argument, borrowed: extracted as `&str` is (the same type check, the UTF-8
/// the str caches, the same instructions: `check` reads two), but a str holding a lone
/// surrogate, which has no UTF-8, is a `ValidationError` (pyo3 adds the note naming the
/// argument) rather than a bare `UnicodeEncodeError`. An argument with a default string
/// takes [`text_arg`] instead: a default must be a literal for the signature Python shows.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Text<'a>(&'a str);

/// Why an argument is not [`Text`]: pyo3's error, mapped only when pyo3 raises it, so
/// that the `Result` of an extraction is the `&str` one, unchanged.
#[repr(transparent)]
pub struct NotText(PyErr);

impl From<NotText> for PyErr {
    fn from(NotText(err): NotText) -> PyErr {
        not_text(None, err)
    }
}

impl<'a> FromPyObject<'a, '_> for Text<'a> {
    type Error = NotText;

    #[inline]
    fn extract(obj: Borrowed<'a, '_, PyAny>) -> Result<Self, NotText> {
        if let Some(text) = super::unattached::ascii_text(obj) {
            return Ok(Text(text));
        }
        <&str>::extract(obj).map(Text).map_err(NotText)
    }
}

impl<'a> Text<'a> {
    /// The text, for as long as the Python string it borrows from.
    pub fn as_str(self) -> &'a str {
        self.0
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.0
    }
}

/// [`Text`], owned: for the items of a list or dict argument.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub struct TextBuf(pub String);

impl FromPyObject<'_, '_> for TextBuf {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        Ok(TextBuf(Text::extract(obj)?.as_str().to_owned()))
    }
}

/// [`Text`] for `#[pyo3(from_py_with = text_arg)]`, on an argument with a default string.
pub fn text_arg<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    Ok(Text::extract(obj.as_borrowed())?.as_str())
}

/// The text of a `str` a binding reads itself (an argument that may be something else,
/// an item of a container); a lone surrogate is a `ValidationError` naming `field`.
#[inline]
pub fn text<'a>(field: &'static str, s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    if let Some(text) = super::unattached::ascii_text(s.as_any().as_borrowed()) {
        return Ok(text);
    }
    s.to_str().map_err(|e| not_text(Some(field), e))
}

/// `err`, unless it is the `UnicodeEncodeError` of a str holding a lone surrogate: then a
/// `ValidationError` saying which character, where, and (when known) in which argument.
/// Never the rest of the text, which may be a secret. Out of line and taking no `py`, so
/// that the code that reads text (pyo3's argument extraction, inlined into `check`) stays
/// as small as `&str`'s.
#[cold]
#[inline(never)]
fn not_text(field: Option<&'static str>, err: PyErr) -> PyErr {
    Python::attach(|py| {
        if !err.is_instance_of::<PyUnicodeEncodeError>(py) {
            return err;
        }
        let e = err.value(py);
        let found = e.getattr("start").and_then(|start| {
            let c = e.getattr("object")?.get_item(&start)?.repr()?;
            Ok(format!(
                "it holds the lone surrogate {c} at position {start}"
            ))
        });
        let what = found.unwrap_or_else(|_| "it holds a lone surrogate".to_owned());
        let whose = field.unwrap_or("a str argument");
        Error::rule(format!("{whose} is not valid text: {what}")).into()
    })
}

/// `datetime` (naive = UTC), `date` (00:00 UTC) or an ISO-8601 string → instant.
pub fn instant(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Instant>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Instant::parse(field, text(field, s)?)
            .map(Some)
            .map_err(PyErr::from);
    }
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        if dt.call_method0("utcoffset")?.is_none() {
            let naive: NaiveDateTime = dt.extract()?;
            return Ok(Some(Instant::from_naive_utc(naive)));
        }
        let utc = dt
            .call_method1("astimezone", (PyTzInfo::utc(obj.py())?,))
            .map_err(|_| {
                PyErr::from(Error::invalid(
                    field,
                    repr(obj),
                    "a datetime that exists in UTC",
                ))
            })?;
        let aware: DateTime<Utc> = utc.extract()?;
        return Ok(Some(Instant(aware.timestamp_micros())));
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        let date: NaiveDate = d.extract()?;
        return Ok(Some(Instant::from_date(date)));
    }
    Err(PyErr::from(Error::invalid(
        field,
        repr(obj),
        "a datetime, a date or an ISO-8601 string",
    )))
}

/// `date`, `datetime` (its UTC date) or an ISO-8601 string → calendar date.
pub fn date(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<NaiveDate>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return parse_date(field, text(field, s)?)
            .map(Some)
            .map_err(PyErr::from);
    }
    if obj.cast::<PyDateTime>().is_ok() {
        return Ok(instant(field, Some(obj))?.map(Instant::date));
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        return Ok(Some(d.extract()?));
    }
    Err(PyErr::from(Error::invalid(
        field,
        repr(obj),
        "a date or an ISO-8601 date string",
    )))
}

/// An instant as an aware UTC `datetime`.
pub fn datetime_py(py: Python<'_>, at: Instant) -> PyResult<Bound<'_, PyAny>> {
    Ok(at.to_datetime().into_pyobject(py)?.into_any())
}

/// An optional instant as an aware UTC `datetime` or `None`.
pub fn opt_datetime_py(py: Python<'_>, at: Option<Instant>) -> PyResult<Bound<'_, PyAny>> {
    match at {
        Some(at) => datetime_py(py, at),
        None => Ok(py.None().into_bound(py)),
    }
}

/// An optional text argument: `str` or `None`.
pub fn opt_text(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => match o.cast::<PyString>() {
            Ok(s) => Ok(Some(text(field, s)?.to_owned())),
            Err(_) => Err(PyErr::from(Error::invalid(
                field,
                repr(o),
                "a string or None",
            ))),
        },
    }
}

/// A bool argument (no truthiness: `1` or `"yes"` is an error).
pub fn boolean(field: &'static str, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    match obj.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(PyErr::from(Error::invalid(
            field,
            repr(obj),
            "True or False",
        ))),
    }
}

/// How many levels a JSON-like argument may nest (`record(**details)`, `settings=`),
/// its own dict included. Far more than any settings or details need, and low enough
/// that the documents the graph writes around such a value (journal records, events,
/// snapshots: a few levels each) stay within the 128 levels a JSON reader takes — a
/// value one level deeper than that made a journal that no longer opened. Also far from
/// the depth whose recursion would overflow the stack and kill the interpreter.
pub const MAX_DEPTH: usize = 64;

/// A Python value (None, bool, int, float, str, list/tuple, dict with str keys) → JSON.
/// A value nested deeper than [`MAX_DEPTH`] or that contains itself is a
/// `ValidationError` naming `field`.
pub fn json(field: &'static str, obj: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    json_at(field, obj, &mut Vec::new(), 0)
}

/// [`json`] for one value of a settings dict, which is a level itself.
pub fn setting(obj: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    json_at("settings", obj, &mut Vec::new(), 1)
}

/// [`json`] inside the containers `open` (their addresses, outermost first) and
/// `above` levels the caller's own dict makes.
fn json_at(
    field: &'static str,
    obj: &Bound<'_, PyAny>,
    open: &mut Vec<usize>,
    above: usize,
) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        if let Some(n) = serde_json::Number::from_f64(f.value()) {
            return Ok(Value::Number(n));
        }
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(text(field, s)?.to_owned()));
    }
    let list = obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok();
    let dict = obj.cast::<PyDict>().ok();
    if !list && dict.is_none() {
        return Err(PyErr::from(Error::invalid(
            field,
            repr(obj),
            "a JSON-like value: None, bool, int, float, str, list or dict",
        )));
    }
    // Neither repr() the value (it may be huge, or recurse without end) nor go deeper.
    let shown = if list { "[...]" } else { "{...}" };
    let address = obj.as_ptr() as usize;
    if open.contains(&address) {
        return Err(PyErr::from(Error::invalid(
            field,
            shown,
            "a JSON-like value, but this one contains itself",
        )));
    }
    if above + open.len() >= MAX_DEPTH {
        return Err(PyErr::from(Error::invalid(
            field,
            shown,
            format!("a JSON-like value nested at most {MAX_DEPTH} levels deep"),
        )));
    }
    open.push(address);
    let value = match dict {
        None => {
            let mut out = Vec::new();
            for item in obj.try_iter()? {
                out.push(json_at(field, &item?, open, above)?);
            }
            Value::Array(out)
        }
        Some(d) => {
            let mut out = serde_json::Map::new();
            for (k, v) in d.iter() {
                let Ok(k) = k.cast::<PyString>() else {
                    return Err(PyErr::from(Error::invalid(
                        field,
                        repr(&k),
                        "a dict with str keys",
                    )));
                };
                out.insert(text(field, k)?.to_owned(), json_at(field, &v, open, above)?);
            }
            Value::Object(out)
        }
    };
    open.pop();
    Ok(value)
}

/// JSON → Python value.
pub fn json_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(f)) => f.into_pyobject(py)?.into_any(),
            (None, None) => n.to_string().into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Settings → a Python dict.
pub fn settings_py<'py>(
    py: Python<'py>,
    s: &crate::model::Settings,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in s {
        d.set_item(k, json_py(py, v)?)?;
    }
    Ok(d)
}

/// A `repr()` for error messages: API secrets masked, clipped to a readable length.
pub fn repr(obj: &Bound<'_, PyAny>) -> String {
    use crate::text::{clip, mask_secrets, SHOWN};
    obj.repr().map_or_else(
        |_| "<unprintable>".to_owned(),
        |r| clip(&mask_secrets(&r.to_string()), SHOWN).into_owned(),
    )
}

/// The `at=` argument of a query.
pub fn at_arg(at: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Instant>> {
    instant("at", at)
}

/// A keyword that defaults to `False`: `True`, `False` or `None`; anything else is a
/// `ValidationError` naming the field.
pub fn opt_bool(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    match obj {
        Some(o) if !o.is_none() => boolean(field, o),
        _ => Ok(false),
    }
}

/// The keyword arguments (or a settings dict) as `(name, value)` pairs. A name that is
/// not text (a dict's key that is not a `str`, or holds a lone surrogate) is a
/// `ValidationError` naming `field`, never a setting silently left out.
pub fn kwargs_iter<'py>(
    field: &'static str,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let Some(d) = kwargs else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let Ok(name) = k.cast::<PyString>() else {
            return Err(PyErr::from(Error::invalid(
                field,
                repr(&k),
                "a dict with str keys",
            )));
        };
        out.push((text(field, name)?.to_owned(), v));
    }
    Ok(out)
}

/// A `durability=` argument: `"fsync"` (the default), `"group"` or `"os"`.
pub fn durability(s: &str) -> PyResult<crate::audit::Durability> {
    use crate::audit::Durability;
    match s {
        "fsync" => Ok(Durability::Fsync),
        "group" => Ok(Durability::Group),
        "os" => Ok(Durability::Os),
        other => Err(Error::invalid(
            "durability",
            other,
            "\"fsync\" (the default), \"group\" or \"os\"",
        )
        .into()),
    }
}

/// An `hmac_key=` argument: `None` or non-empty bytes.
pub fn hmac_key(key: Option<Vec<u8>>) -> PyResult<Option<Vec<u8>>> {
    match key {
        Some(k) if k.is_empty() => Err(Error::invalid("hmac_key", "b''", "a non-empty key").into()),
        other => Ok(other),
    }
}

/// `_core.shown`: the core's [`crate::text::shown`], for the text the Python side writes
/// for people (tables, the report, notebook views), so that one rule decides what is
/// written out in every view, as in the review's own messages.
#[pyfunction]
pub fn shown(text: Text<'_>) -> PyResult<std::borrow::Cow<'_, str>> {
    super::gil::guard(None, || Ok(crate::text::shown(text.as_str())))
}

/// `_core.spreadsheet_safe`: the core's CSV cell guard (CWE-1236), for the CSV tables the
/// Python side writes (the command line's, `Evidence.to_csv`), so that one rule serves
/// every CSV the package writes.
#[pyfunction]
pub fn spreadsheet_safe(cell: Text<'_>) -> PyResult<std::borrow::Cow<'_, str>> {
    super::gil::guard(None, || Ok(crate::text::spreadsheet_safe(cell.as_str())))
}
