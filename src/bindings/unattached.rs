//! Reading `check_many`'s queries with the GIL released.
//!
//! `check_many` copies the caller's list into a tuple under the GIL (the call sees the
//! list as it was, and the tuple keeps every query alive), then reads and decides the
//! queries chunk by chunk. Reading them through the C API needs the GIL, and that
//! reading was a quarter of a batch's time: two threads calling `check_many` took turns
//! for it. Here the queries the C API would read trivially — an exact `tuple` of three
//! exact, compact, ASCII `str` objects, the shape of nearly every query — are read
//! straight from the objects, without the GIL; anything else stops the reader, and the
//! caller reads that query (and those after it) through the C API, with the GIL.
//!
//! Why this is sound: every object read is alive (the snapshot tuple holds it, and the
//! caller holds the snapshot until the reader is done), and none of the fields read is
//! ever written after the object is made — a tuple's size and items, a `str`'s type,
//! length and characters, and the `kind`/`compact`/`ascii` bits of its state. Other
//! threads may write a `str`'s reference count, cached hash, or interning bits meanwhile.
//! The first two are other words; the state word, which holds the interning bits beside
//! the ones read, is read with one atomic load, so it is seen whole, before or after such
//! a write (a `sys.intern` never changes the bits read). Whether this interpreter lays a `str` out the way this code
//! reads it is checked once per process by [`layout_known`], on strings whose answer it
//! knows; if it does not, `check_many` never calls the reader.
//!
//! A `str` subclass, a list instead of a tuple, a non-ASCII email, an API key's
//! `Principal`: each is read with the GIL, as before, from the query where it appears.

#![expect(
    unsafe_code,
    reason = "reads immutable fields of live Python objects without the GIL (see above)"
)]

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::state::hot::prefetch;

/// The `compact` and `ascii` bits of a `str`'s state (`CPython` 3.11 to 3.14, default
/// builds: `interned:2, kind:3, compact:1, ascii:1` from the lowest bit), both set for a
/// string whose characters are stored as ASCII right after its header.
const COMPACT_ASCII: u32 = 0b11 << 5;

/// The queries of a `check_many`, to read without the GIL: the snapshot tuple's items.
pub(super) struct Unattached<'t> {
    items: *mut ffi::PyObject,
    len: usize,
    _snapshot: PhantomData<&'t Bound<'t, PyTuple>>,
}

// SAFETY: `Unattached` only reads fields that are never written after an object is made,
// of objects the borrowed snapshot keeps alive (see the module docs), so it may be read
// from any thread, with or without the GIL.
unsafe impl Sync for Unattached<'_> {}

impl<'t> Unattached<'t> {
    /// The queries of `snapshot`, if this interpreter lays out `str` objects the way the
    /// reader reads them.
    pub(super) fn new(snapshot: &'t Bound<'_, PyTuple>) -> Option<Self> {
        layout_known(snapshot.py()).then(|| Unattached {
            items: snapshot.as_ptr(),
            len: snapshot.len(),
            _snapshot: PhantomData,
        })
    }

    /// The text of query `i` — `None` when it is not a tuple of three compact ASCII
    /// `str` (read it with the GIL), or past the end. Starts fetching the tuple of query
    /// `i + 16` and the strings of query `i + 8`, so they are in the cache when read.
    #[inline]
    pub(super) fn query(&self, i: usize) -> Option<(&'t str, &'t str, &'t str)> {
        if i + 16 < self.len {
            prefetch(self.item(i + 16));
        }
        if i + 8 < self.len {
            let ahead = self.item(i + 8);
            if is_triple(ahead) {
                for k in [0, 2] {
                    let p = tuple_item(ahead, k).cast::<u8>();
                    prefetch(p);
                    prefetch(p.wrapping_add(64));
                }
            }
        }
        if i >= self.len {
            return None;
        }
        let item = self.item(i);
        if !is_triple(item) {
            return None;
        }
        Some((
            ascii(tuple_item(item, 0))?,
            ascii(tuple_item(item, 1))?,
            ascii(tuple_item(item, 2))?,
        ))
    }

    /// Item `i < len` of the snapshot.
    #[inline]
    fn item(&self, i: usize) -> *mut ffi::PyObject {
        debug_assert!(i < self.len);
        // SAFETY: `items` is a live tuple of `len` items (the borrowed snapshot), and
        // `i < len`; `i` fits an `isize` because the length did.
        unsafe { ffi::PyTuple_GET_ITEM(self.items, i.cast_signed()) }
    }
}

/// Is `item` (alive) an exact `tuple` of three items?
#[inline]
fn is_triple(item: *mut ffi::PyObject) -> bool {
    // SAFETY: `item` is alive; its type and, for a tuple, its size never change.
    unsafe {
        std::ptr::eq(ffi::Py_TYPE(item), &raw mut ffi::PyTuple_Type)
            && ffi::PyTuple_GET_SIZE(item) == 3
    }
}

/// Item `k < 3` of `tuple`, a live exact tuple of three items.
#[inline]
fn tuple_item(tuple: *mut ffi::PyObject, k: isize) -> *mut ffi::PyObject {
    // SAFETY: the caller checked that `tuple` is an exact tuple of three items.
    unsafe { ffi::PyTuple_GET_ITEM(tuple, k) }
}

/// The text of `obj` (alive) when it is an exact, compact, ASCII `str`.
#[inline]
fn ascii<'t>(obj: *mut ffi::PyObject) -> Option<&'t str> {
    // SAFETY: `obj` is alive for `'t` (the snapshot holds it). Its type never changes.
    // For an exact `str`, the header is a `PyASCIIObject`; its state word is loaded
    // atomically (another thread may set its interning bits meanwhile; `AtomicU32` has
    // the layout of `u32`, and the word is 4-aligned in the header), and a compact ASCII
    // string's `length` bytes of ASCII follow the header and never change.
    unsafe {
        if !std::ptr::eq(ffi::Py_TYPE(obj), &raw mut ffi::PyUnicode_Type) {
            return None;
        }
        let header = obj.cast::<ffi::PyASCIIObject>();
        let state = AtomicU32::from_ptr(&raw mut (*header).state).load(Ordering::Relaxed);
        if state & COMPACT_ASCII != COMPACT_ASCII {
            return None;
        }
        let len = usize::try_from((*header).length).ok()?;
        let bytes = std::slice::from_raw_parts(header.add(1).cast::<u8>(), len);
        Some(std::str::from_utf8_unchecked(bytes))
    }
}

/// Does this interpreter lay out `str` objects the way [`ascii`] reads them? Checked
/// once per process: ASCII strings (short, long, interned) must read as their text, and
/// strings that are not compact ASCII (Latin-1, other scripts) as `None`.
fn layout_known(py: Python<'_>) -> bool {
    static KNOWN: OnceLock<bool> = OnceLock::new();
    *KNOWN.get_or_init(|| {
        let long = "x".repeat(300);
        let reads_as_text = ["", "a", "ada@example.com", long.as_str()]
            .into_iter()
            .map(|t| (PyString::new(py, t), t))
            .chain([(PyString::intern(py, "project:read"), "project:read")])
            .all(|(s, t)| ascii(s.as_ptr()) == Some(t));
        let not_ascii = ["é", "ünïcode@example.com", "日本", "😀"]
            .into_iter()
            .all(|t| ascii(PyString::new(py, t).as_ptr()).is_none());
        reads_as_text && not_ascii
    })
}
