//! Access review campaigns on `accessgraph._core.Graph`: start, decide, close, list. Each
//! returns the campaign as a plain dict that `accessgraph._campaign` wraps.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::convert::{datetime_py, instant, opt_datetime_py, Text, TextBuf};
use super::gil::guarded;
use super::graph::PyGraph;
use crate::model::campaigns::{Campaign, CampaignItem};

/// One item as a tuple: `(id, kind, user, target, role, expires, orphan, decision,
/// reason, decided_by, decided_at)`.
fn item_py<'py>(py: Python<'py>, it: &CampaignItem) -> PyResult<Bound<'py, PyTuple>> {
    let d = it.decision.as_ref();
    let decision = d.map(|d| if d.keep { "keep" } else { "revoke" });
    PyTuple::new(
        py,
        [
            it.id.into_pyobject(py)?.into_any(),
            it.spec.kind.as_str().into_pyobject(py)?.into_any(),
            it.spec.user.as_str().into_pyobject(py)?.into_any(),
            it.spec.target.as_str().into_pyobject(py)?.into_any(),
            it.spec.role.as_str().into_pyobject(py)?.into_any(),
            opt_datetime_py(py, it.spec.expires)?,
            pyo3::types::PyBool::new(py, it.spec.orphan)
                .to_owned()
                .into_any(),
            decision.into_pyobject(py)?.into_any(),
            d.and_then(|d| d.reason.as_deref())
                .into_pyobject(py)?
                .into_any(),
            d.and_then(|d| d.by.as_deref())
                .into_pyobject(py)?
                .into_any(),
            opt_datetime_py(py, d.map(|d| d.at))?,
        ],
    )
}

/// A campaign as a dict.
fn campaign_py<'py>(py: Python<'py>, c: &Campaign) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("id", &c.id)?;
    out.set_item("org", &c.org)?;
    out.set_item("reviewers", &c.reviewers)?;
    out.set_item("due", datetime_py(py, c.due)?)?;
    out.set_item("started_by", c.started_by.as_deref())?;
    out.set_item("started_at", datetime_py(py, c.started_at)?)?;
    out.set_item("closed_by", c.closed.as_ref().and_then(|x| x.by.as_deref()))?;
    out.set_item(
        "closed_at",
        opt_datetime_py(py, c.closed.as_ref().map(|x| x.at))?,
    )?;
    out.set_item(
        "revoked",
        c.closed
            .as_ref()
            .map(|x| x.revoked.clone())
            .unwrap_or_default(),
    )?;
    let items = c
        .items
        .iter()
        .map(|it| item_py(py, it))
        .collect::<PyResult<Vec<_>>>()?;
    out.set_item("items", PyList::new(py, items)?)?;
    Ok(out)
}

guarded! {
#[pymethods]
impl PyGraph {
    /// Starts an access review campaign of `org`.
    #[pyo3(signature = (org, *, reviewers, due, actor))]
    fn _start_campaign<'py>(
        &self,
        py: Python<'py>,
        org: Text<'_>,
        reviewers: Vec<TextBuf>,
        due: &Bound<'py, PyAny>,
        actor: Option<Text<'_>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let due = instant("due", Some(due))?.ok_or_else(|| {
            PyErr::from(crate::error::Error::invalid(
                "due",
                "None",
                "a datetime, a date or an ISO-8601 string",
            ))
        })?;
        let reviewers: Vec<String> = reviewers.into_iter().map(|r| r.0).collect();
        let c = self.inner.start_campaign(&org, &reviewers, due, actor.as_deref())?;
        campaign_py(py, &c)
    }

    /// Records a decision on one item of campaign `id`.
    #[pyo3(signature = (id, item, *, keep, reason, actor))]
    fn _decide_campaign_item<'py>(
        &self,
        py: Python<'py>,
        id: Text<'_>,
        item: u32,
        keep: bool,
        reason: Option<Text<'_>>,
        actor: Option<Text<'_>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let c = self
            .inner
            .decide_campaign_item(&id, item, keep, reason.as_deref(), actor.as_deref())?;
        campaign_py(py, &c)
    }

    /// Closes campaign `id`, revoking what was rejected.
    #[pyo3(signature = (id, *, actor))]
    fn _close_campaign<'py>(
        &self,
        py: Python<'py>,
        id: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.close_campaign(&id, actor.as_deref())?;
        campaign_py(py, &c)
    }

    /// One campaign.
    fn _campaign<'py>(&self, py: Python<'py>, id: Text<'_>) -> PyResult<Bound<'py, PyDict>> {
        campaign_py(py, &self.inner.campaign(&id)?)
    }

    /// The campaigns, of one org or of all, in start order.
    #[pyo3(signature = (org = None))]
    fn _campaigns<'py>(
        &self,
        py: Python<'py>,
        org: Option<Text<'_>>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .campaigns(org.as_deref())?
            .iter()
            .map(|c| campaign_py(py, c))
            .collect()
    }
}
}
