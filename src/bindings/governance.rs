//! Governance on `accessgraph._core.Graph` (access review, onboarding, access requests,
//! directory sync) and its value objects: `Finding`, `OnboardingReport`, `AccessRequest`
//! and `SyncPlan`. Convert, call the core (releasing the GIL for real work), convert.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use super::convert::{self, instant, opt_datetime_py, opt_text, Text, TextBuf};
use super::gil::{detach, detach_reporting, guarded};
use super::graph::PyGraph;
use super::values::{q, q_opt};
use crate::error::Error;
use crate::governance::review::{Finding, Thresholds};
use crate::governance::sync::{self, SyncPlan};
use crate::governance::templates::{Onboarding, OnboardingReport};
use crate::model::requests::AccessRequest;
use crate::model::templates;

/// One finding of an access review.
#[pyclass(name = "Finding", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyFinding {
    inner: Finding,
}

guarded! {
#[pymethods]
impl PyFinding {
    /// The rule's stable id (`expired-access`).
    #[getter]
    fn rule(&self) -> &'static str {
        self.inner.rule
    }
    /// `high`, `medium`, `low` or `info`.
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }
    /// The org concerned.
    #[getter]
    fn org(&self) -> Option<&str> {
        self.inner.org.as_deref()
    }
    /// The user concerned, if one.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.inner.user.as_deref()
    }
    /// The org, project or `org/*` concerned.
    #[getter]
    fn target(&self) -> Option<&str> {
        self.inner.target.as_deref()
    }
    /// What is wrong, in a sentence.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    /// What to do about it, in a sentence.
    #[getter]
    fn remediation(&self) -> &str {
        &self.inner.remediation
    }
    fn __str__(&self) -> String {
        format!(
            "[{}] {}: {}",
            self.inner.severity.as_str(),
            self.inner.rule,
            self.inner.message
        )
    }
    fn __repr__(&self) -> String {
        let f = &self.inner;
        format!(
            "Finding(rule={}, severity={}, org={}, user={}, target={}, message={})",
            q(f.rule),
            q(f.severity.as_str()),
            q_opt(f.org.as_deref()),
            q_opt(f.user.as_deref()),
            q_opt(f.target.as_deref()),
            q(&f.message),
        )
    }
}
}

/// What `onboard` did (`done`) and the steps a person still owes (`manual`).
#[pyclass(
    name = "OnboardingReport",
    module = "accessgraph._core",
    frozen,
    eq,
    hash
)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyOnboardingReport {
    inner: OnboardingReport,
}

guarded! {
#[pymethods]
impl PyOnboardingReport {
    /// The steps done, as sentences (a fresh list).
    #[getter]
    fn done(&self) -> Vec<String> {
        self.inner.done.clone()
    }
    /// The steps a person still owes, as sentences (a fresh list).
    #[getter]
    fn manual(&self) -> Vec<String> {
        self.inner.manual.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "OnboardingReport(done={} steps, manual={} steps)",
            self.inner.done.len(),
            self.inner.manual.len()
        )
    }
}
}

/// An access request and its outcome.
#[pyclass(name = "AccessRequest", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyAccessRequest {
    inner: AccessRequest,
}

guarded! {
#[pymethods]
impl PyAccessRequest {
    /// `req_<n>`.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The requester's email.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// `org/project` or `org/*`.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }
    /// The project role asked for.
    #[getter]
    fn role(&self) -> &'static str {
        self.inner.role.as_str()
    }
    /// Why they need it.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }
    /// `pending`, `approved` or `denied`.
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.status.as_str()
    }
    /// When it was made.
    #[getter]
    fn requested_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::datetime_py(py, self.inner.requested_at)
    }
    /// Who decided it (`None`: undecided, or the system).
    #[getter]
    fn decided_by(&self) -> Option<&str> {
        self.inner.decided_by.as_deref()
    }
    /// When it was decided.
    #[getter]
    fn decided_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.decided_at)
    }
    /// Why it was denied.
    #[getter]
    fn decision_reason(&self) -> Option<&str> {
        self.inner.decision_reason.as_deref()
    }
    /// The expiry given to the grant on approval.
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.expires)
    }
    /// The review date given to the grant on approval.
    #[getter]
    fn review_by(&self) -> Option<chrono::NaiveDate> {
        self.inner.review_by
    }
    fn __repr__(&self) -> String {
        let r = &self.inner;
        format!(
            "AccessRequest(id={}, user={}, target={}, role={}, status={})",
            q(&r.id),
            q(&r.user),
            q(&r.target),
            q(r.role.as_str()),
            q(r.status.as_str()),
        )
    }
}
}

/// A planned (or applied) directory sync.
#[pyclass(name = "SyncPlan", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PySyncPlan {
    inner: SyncPlan,
}

guarded! {
#[pymethods]
impl PySyncPlan {
    /// The org synced.
    #[getter]
    fn org(&self) -> &str {
        &self.inner.org
    }
    /// The changes, in order: dicts `{op, user, target, before, after}` (fresh).
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for c in &self.inner.changes {
            let d = PyDict::new(py);
            d.set_item("op", c.op.as_str())?;
            d.set_item("user", &c.user)?;
            d.set_item("target", &c.target)?;
            d.set_item("before", c.before)?;
            d.set_item("after", c.after)?;
            out.append(d)?;
        }
        Ok(out)
    }
    /// People sync left alone though the directory says otherwise (owners, expired
    /// memberships): dicts `{user, reason}` (fresh).
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for s in &self.inner.skipped {
            let d = PyDict::new(py);
            d.set_item("user", &s.user)?;
            d.set_item("reason", &s.reason)?;
            out.append(d)?;
        }
        Ok(out)
    }
    /// True once the plan was applied.
    #[getter]
    fn applied(&self) -> bool {
        self.inner.applied
    }
    fn __len__(&self) -> usize {
        self.inner.changes.len()
    }
    fn __bool__(&self) -> bool {
        !self.inner.changes.is_empty()
    }
    fn __repr__(&self) -> String {
        format!(
            "<SyncPlan org={} changes={} skipped={} applied={}>",
            q(&self.inner.org),
            self.inner.changes.len(),
            self.inner.skipped.len(),
            if self.inner.applied { "True" } else { "False" }
        )
    }
    /// The plan as a Markdown table, for a change review.
    fn to_markdown(&self) -> String {
        self.inner.to_markdown()
    }
}
}

/// A threshold value: an int or a float (not a bool).
fn number(name: &str, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    if v.cast::<PyBool>().is_err() && (v.cast::<PyInt>().is_ok() || v.cast::<PyFloat>().is_ok()) {
        if let Ok(x) = v.extract::<f64>() {
            return Ok(x);
        }
    }
    Err(PyErr::from(Error::invalid(
        "threshold",
        format!("{name}={}", convert::repr(v)),
        "a number",
    )))
}

/// Python values → JSON, for the directory.
fn json_list(field: &'static str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        out.push(convert::json(field, &item?)?);
    }
    Ok(out)
}

guarded! {
#[pymethods]
impl PyGraph {
    /// The findings of an access review (wrapped in a `Review` by `accessgraph.Graph`).
    #[pyo3(signature = (org = None, at = None, thresholds = None, progress = None))]
    fn _review(
        &self,
        py: Python<'_>,
        org: Option<Text<'_>>,
        at: Option<&Bound<'_, PyAny>>,
        thresholds: Option<&Bound<'_, PyDict>>,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyFinding>> {
        let at = instant("at", at)?;
        let mut t = Thresholds::default();
        if let Some(d) = thresholds {
            for (k, v) in d.iter() {
                let name = convert::text("thresholds", k.cast::<PyString>()?)?;
                t.set(name, number(name, &v)?)?;
            }
        }
        let g = &self.inner;
        let findings = detach_reporting(py, progress, |hook| {
            g.review_reporting(org.as_deref(), at, &t, hook)
        })?;
        Ok(findings
            .into_iter()
            .map(|inner| PyFinding { inner })
            .collect())
    }

    /// Adds a custom onboarding template (SPEC 4.3); only the system defines them.
    #[pyo3(signature = (name, *, org_role = "member", grants = None, external = false, requires_expiry = false, actor = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn define_template(
        &self,
        py: Python<'_>,
        name: Text<'_>,
        #[pyo3(from_py_with = convert::text_arg)] org_role: &str,
        grants: Option<std::collections::BTreeMap<TextBuf, TextBuf>>,
        external: bool,
        requires_expiry: bool,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let def = templates::validate(
            &name,
            org_role,
            &grants
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.0, v.0))
                .collect::<Vec<_>>(),
            external,
            requires_expiry,
        )?;
        let g = &self.inner;
        detach(py, || g.define_template(&def, actor.as_deref()))
    }

    /// The names of the onboarding templates, built-in and custom, sorted.
    fn templates(&self) -> PyResult<Vec<String>> {
        Ok(self.inner.template_names()?)
    }

    /// Onboards `user` into `org` with a template, atomically (SPEC 4.3).
    #[pyo3(signature = (user, org, template, *, actor, name = None, title = None, projects = None, expires = None, reason = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn onboard(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        org: Text<'_>,
        template: Text<'_>,
        actor: Option<Text<'_>>,
        name: Option<&Bound<'_, PyAny>>,
        title: Option<&Bound<'_, PyAny>>,
        projects: Option<Vec<TextBuf>>,
        expires: Option<&Bound<'_, PyAny>>,
        reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyOnboardingReport> {
        let req = Onboarding {
            user: user.as_str().to_owned(),
            org: org.as_str().to_owned(),
            template: template.as_str().to_owned(),
            name: opt_text("name", name)?,
            title: opt_text("title", title)?,
            projects: projects
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.0)
                .collect(),
            expires: instant("expires", expires)?,
            reason: opt_text("reason", reason)?,
        };
        let g = &self.inner;
        let inner = detach(py, || g.onboard(&req, actor.as_deref()))?;
        Ok(PyOnboardingReport { inner })
    }

    /// `user` asks for `role` on `target`, saying why (SPEC 4.4).
    #[pyo3(signature = (user, target, role, *, reason))]
    fn request_access(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        target: Text<'_>,
        role: Text<'_>,
        reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyAccessRequest> {
        let reason = opt_text("reason", reason)?;
        let g = &self.inner;
        let inner = detach(py, || g.request_access(&user, &target, &role, reason.as_deref()))?;
        Ok(PyAccessRequest { inner })
    }

    /// Approves a pending request: grants it with its reason and a review date.
    #[pyo3(signature = (request_id, *, actor, expires = None, review_days = 90))]
    fn approve(
        &self,
        py: Python<'_>,
        request_id: Text<'_>,
        actor: Option<Text<'_>>,
        expires: Option<&Bound<'_, PyAny>>,
        review_days: i64,
    ) -> PyResult<PyAccessRequest> {
        let expires = instant("expires", expires)?;
        let g = &self.inner;
        let inner = detach(py, || g.approve(&request_id, actor.as_deref(), expires, review_days))?;
        Ok(PyAccessRequest { inner })
    }

    /// Denies a pending request, saying why.
    #[pyo3(signature = (request_id, *, actor, reason))]
    fn deny(
        &self,
        py: Python<'_>,
        request_id: Text<'_>,
        actor: Option<Text<'_>>,
        reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyAccessRequest> {
        let reason = opt_text("reason", reason)?;
        let g = &self.inner;
        let inner = detach(py, || g.deny(&request_id, actor.as_deref(), reason.as_deref()))?;
        Ok(PyAccessRequest { inner })
    }

    /// The access requests, optionally of one status, in the order they were made.
    #[pyo3(signature = (status = None))]
    fn access_requests(&self, status: Option<Text<'_>>) -> PyResult<Vec<PyAccessRequest>> {
        Ok(self
            .inner
            .access_requests(status.as_deref())?
            .into_iter()
            .map(|inner| PyAccessRequest { inner })
            .collect())
    }

    /// Plans (and with `dry_run=False` applies) a directory sync of `org` (SPEC 4.5).
    #[pyo3(signature = (org, people, *, groups, actor, dry_run = true, deprovision = true))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn sync_directory(
        &self,
        py: Python<'_>,
        org: Text<'_>,
        people: &Bound<'_, PyAny>,
        groups: &Bound<'_, PyAny>,
        actor: Option<Text<'_>>,
        dry_run: bool,
        deprovision: bool,
    ) -> PyResult<PySyncPlan> {
        let people = sync::people_from_json(&json_list("people", people)?)?;
        let groups = match convert::json("groups", groups)? {
            serde_json::Value::Object(m) => sync::groups_from_json(&m)?,
            _ => return Err(PyErr::from(Error::invalid(
                "groups",
                convert::repr(groups),
                "a dict from directory group to an org role or {\"role\": ..., \"grants\": {...}}",
            ))),
        };
        let g = &self.inner;
        let inner = detach(py, || {
            g.sync_directory(&org, &people, &groups, actor.as_deref(), dry_run, deprovision)
        })?;
        Ok(PySyncPlan { inner })
    }

    /// Applies a reviewed `SyncPlan` atomically; returns it, applied.
    #[pyo3(signature = (plan, *, actor))]
    fn apply(
        &self,
        py: Python<'_>,
        plan: &Bound<'_, PySyncPlan>,
        actor: Option<Text<'_>>,
    ) -> PyResult<PySyncPlan> {
        let plan = &plan.get().inner;
        let g = &self.inner;
        let inner = detach(py, || g.apply_sync_plan(plan, actor.as_deref()))?;
        Ok(PySyncPlan { inner })
    }
}
}
