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
//!
//! The same reader, [`ascii_text`], reads every [`Text`](super::convert::Text) argument
//! (with the GIL, where the argument is borrowed for the call): a single `check` spent
//! 5–7 % of its time in the two C API calls per argument that `<&str>::extract`
//! makes to find a compact ASCII string's characters.

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
        if let Some(ahead) = self.item(i + 16) {
            prefetch(ahead);
        }
        // SAFETY: every item of the snapshot, and every object an item holds, is alive
        // for `'t` (the snapshot holds them).
        unsafe {
            if let Some([user, _, target]) = self.item(i + 8).and_then(|t| triple(t)) {
                for s in [user, target] {
                    let p = s.cast::<u8>();
                    prefetch(p);
                    prefetch(p.wrapping_add(64));
                }
            }
            let [user, action, target] = triple(self.item(i)?)?;
            Some((ascii(user)?, ascii(action)?, ascii(target)?))
        }
    }

    /// Item `i` of the snapshot, if it has one.
    #[inline]
    fn item(&self, i: usize) -> Option<*mut ffi::PyObject> {
        // SAFETY: `items` is a live tuple of `len` items (the borrowed snapshot), and
        // `i < len`, which fits an `isize` because a tuple's length does.
        (i < self.len).then(|| unsafe { ffi::PyTuple_GET_ITEM(self.items, i.cast_signed()) })
    }
}

/// The text of `obj` when it is an exact, compact, ASCII `str` (the text
/// `<&str>::extract` would give), read from the object without a call into the
/// interpreter; `None` for any other object, or when this interpreter lays out `str`
/// differently. Every [`Text`](super::convert::Text) argument is read through this first:
/// `check`'s three arguments took two C API calls each.
#[inline]
pub(super) fn ascii_text<'a>(obj: Borrowed<'a, '_, PyAny>) -> Option<&'a str> {
    if !layout_known(obj.py()) {
        return None;
    }
    // SAFETY: `obj` is borrowed for `'a`, so it is alive for `'a`.
    unsafe { ascii(obj.as_ptr()) }
}

/// The three items of `item` when it is an exact `tuple` of three.
///
/// # Safety
/// `item` points to a live object. (A tuple's type, size and items never change.)
#[inline]
unsafe fn triple(item: *mut ffi::PyObject) -> Option<[*mut ffi::PyObject; 3]> {
    // SAFETY: `item` is alive (the caller's promise); the items are read only once its
    // type and size say it is a tuple of three.
    unsafe {
        (std::ptr::eq(ffi::Py_TYPE(item), &raw mut ffi::PyTuple_Type)
            && ffi::PyTuple_GET_SIZE(item) == 3)
            .then(|| [0, 1, 2].map(|k| ffi::PyTuple_GET_ITEM(item, k)))
    }
}

/// The text of `obj` when it is an exact, compact, ASCII `str`.
///
/// # Safety
/// `obj` points to a live object that stays alive for `'t`.
#[inline]
unsafe fn ascii<'t>(obj: *mut ffi::PyObject) -> Option<&'t str> {
    // SAFETY: `obj` is alive for `'t` (the caller's promise), and its type never changes.
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
            // SAFETY: `s` is alive during the comparison.
            .all(|(s, t)| unsafe { ascii(s.as_ptr()) } == Some(t));
        let not_ascii = ["é", "ünïcode@example.com", "日本", "😀"]
            .into_iter()
            .map(|t| PyString::new(py, t))
            // SAFETY: `s` is alive during the call.
            .all(|s| unsafe { ascii(s.as_ptr()) }.is_none());
        reads_as_text && not_ascii
    })
}
