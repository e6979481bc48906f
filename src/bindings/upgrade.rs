//! `_core.journal_upgrade`: a format-1 journal written again as format 2
//! (`accessgraph.upgrade_journal`, `accessgraph audit upgrade`).

use pyo3::prelude::*;

use super::gil::{detach, guard};
use crate::audit::upgrade;

/// What the upgrade wrote: `(events, last_seq, upgraded_from, last_hash, torn)`, `torn`
/// the line and length of a torn final line left out of the old journal.
type Upgraded = (u64, u64, String, String, Option<(u64, usize)>);

/// Upgrades the format-1 journal `old` into a new format-2 journal `new`.
#[pyfunction]
#[pyo3(signature = (old, new, *, hmac_key = None))]
#[expect(clippy::needless_pass_by_value, reason = "PyO3 extracts owned paths")]
pub fn journal_upgrade(
    py: Python<'_>,
    old: std::path::PathBuf,
    new: std::path::PathBuf,
    hmac_key: Option<Vec<u8>>,
) -> PyResult<Upgraded> {
    guard(None, || {
        let key = super::convert::hmac_key(hmac_key)?;
        let u = detach(py, || Ok(upgrade::upgrade(&old, &new, key.as_deref())?))?;
        Ok((u.events, u.last_seq, u.upgraded_from, u.last_hash, u.torn))
    })
}
