//! Users' emails as Python strings kept between calls (`who_can`), so an answer of
//! 10,000 users costs 10,000 reference counts instead of 10,000 new strings.
//!
//! A cached string is only handed out while it still spells the user's email in the
//! state being read: each slot keeps the email epoch of the state it was made from
//! (`State::emails_epoch`, which no other state shares and which an erasure renews), and
//! is a hit only in a state of the same epoch, so a hit reads nothing of the user. An
//! erasure, a replaced state (a snapshot load, a rollback, a follower) or a copy makes
//! every slot a miss, made again on the next answer; a user added is a miss of its own.
//!
//! Locking: the slots sit behind a mutex that is taken while the GIL is released
//! ([`Emails::look_up`], under the graph's read lock) and while it is held
//! ([`Emails::answer`]); neither holder waits for anything else while holding it, so the
//! two orders cannot deadlock.

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::state::State;

/// One cached email: the email epoch of the state it was made from, and the Python
/// string.
type Slot = Option<(u64, Py<PyString>)>;

/// The cache of one `Graph` (by user id).
#[derive(Default)]
pub(super) struct Emails {
    inner: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    by_id: Vec<Slot>,
    /// Bumped whenever a filled slot is replaced, so a look-up made before knows its hits
    /// may be gone.
    version: u64,
}

/// What [`Emails::look_up`] found for an answer, in answer order.
pub(super) struct Found {
    version: u64,
    /// The email epoch of the state the emails were read from.
    epoch: u64,
    /// `(user id, end of the email in `text`)`; `None` for a cache hit.
    users: Vec<(u32, Option<u32>)>,
    /// The emails that missed, end to end.
    text: String,
}

impl Emails {
    /// Under the read lock (GIL released): which of `ids` have a cached string that still
    /// spells their email in `st`, and a copy of the others' emails. `fresh` = copy all.
    pub(super) fn look_up(&self, st: &State, ids: &[u32], fresh: bool) -> Found {
        let slots = self.inner.lock();
        let epoch = st.emails_epoch.get();
        let mut found = Found {
            version: slots.version,
            epoch,
            users: Vec::with_capacity(ids.len()),
            text: String::new(),
        };
        for &uid in ids {
            let cached = !fresh
                && slots
                    .by_id
                    .get(uid as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|(made_in, _)| *made_in == epoch);
            if cached {
                found.users.push((uid, None));
            } else {
                let Some(user) = st.user(uid) else { continue };
                found.text.push_str(&user.email);
                let end = u32::try_from(found.text.len()).unwrap_or(u32::MAX);
                found.users.push((uid, Some(end)));
            }
        }
        found
    }

    /// With the GIL: the answer's list, the misses made into strings and kept. `None` if
    /// a slot this look-up counted on was replaced meanwhile (look up again).
    pub(super) fn answer<'py>(
        &self,
        py: Python<'py>,
        found: &Found,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let mut slots = self.inner.lock();
        let hits = found.users.iter().any(|(_, end)| end.is_none());
        if hits && slots.version != found.version {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(found.users.len());
        let mut start = 0usize;
        for &(uid, end) in &found.users {
            let i = uid as usize;
            if let Some(end) = end {
                let end = end as usize;
                let email = found.text.get(start..end).unwrap_or_default();
                start = end;
                let s = PyString::new(py, email).unbind();
                if slots.by_id.len() <= i {
                    slots.by_id.resize_with(i + 1, || None);
                }
                if let Some(slot) = slots.by_id.get_mut(i) {
                    let replaced = slot.replace((found.epoch, s.clone_ref(py)));
                    if replaced.is_some() {
                        slots.version = slots.version.wrapping_add(1);
                    }
                }
                out.push(s);
            } else if let Some((_, s)) = slots.by_id.get(i).and_then(Option::as_ref) {
                out.push(s.clone_ref(py));
            }
        }
        drop(slots);
        Ok(Some(PyList::new(py, out)?))
    }
}
