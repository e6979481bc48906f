//! Frozen value objects handed to Python: `Decision`, the listing records, API keys'
//! `Principal` and `ApiKey`, and the `OffboardingReport`.
//! Each is immutable, comparable, hashable and has a readable `repr`.

use std::hash::{DefaultHasher, Hash, Hasher};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use std::fmt::Write as _;

use pyo3::exceptions::PyTypeError;
use pyo3::types::PyString;

use super::convert::{self, datetime_py, opt_datetime_py, settings_py};
use super::gil::guarded;
use crate::decision::Decision;
use crate::eval::{Principal, Subject};
use crate::graph::{KeyInfo, OffboardingReport};
use crate::model::{GrantInfo, MemberInfo, OrgInfo, ProjectInfo, ResourceInfo, UserInfo};

fn debug_hash(v: &impl std::fmt::Debug) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{v:?}").hash(&mut h);
    h.finish()
}

/// `s` as a Python string literal, for `repr`.
pub(super) fn q(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Like [`q`], `None` for nothing.
pub(super) fn q_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_owned(), q)
}

macro_rules! value_object {
    ($py:ident, $inner:ty) => {
        impl From<$inner> for $py {
            fn from(inner: $inner) -> Self {
                $py { inner }
            }
        }

        impl PartialEq for $py {
            fn eq(&self, other: &Self) -> bool {
                self.inner == other.inner
            }
        }

        impl Eq for $py {}

        impl Hash for $py {
            fn hash<H: Hasher>(&self, state: &mut H) {
                debug_hash(&self.inner).hash(state);
            }
        }
    };
}

/// The outcome of a check, with the reason in words.
#[pyclass(name = "Decision", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyDecision {
    inner: Decision,
}
value_object!(PyDecision, Decision);

impl PyDecision {
    /// The decision itself (for the getters other files add, such as `fixes`).
    pub(super) fn decision(&self) -> &Decision {
        &self.inner
    }
}

guarded! {
#[pymethods]
impl PyDecision {
    /// Whether the action is allowed.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.allowed
    }
    /// The user (or principal) asked about.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// The action.
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }
    /// The target.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }
    /// The role that decided.
    #[getter]
    fn role(&self) -> Option<&'static str> {
        self.inner.role.map(crate::roles::Role::as_str)
    }
    /// Where that role comes from.
    #[getter]
    fn source(&self) -> Option<&'static str> {
        self.inner.source.map(crate::decision::Source::as_str)
    }
    /// A sentence explaining the decision.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }
    fn __bool__(&self) -> bool {
        self.inner.allowed
    }
    fn __str__(&self) -> &str {
        &self.inner.reason
    }
    fn __repr__(&self) -> String {
        let d = &self.inner;
        format!(
            "Decision(allowed={}, user={}, action={}, target={}, role={}, source={})",
            if d.allowed { "True" } else { "False" },
            q(&d.user),
            q(&d.action),
            q(&d.target),
            q_opt(d.role.map(crate::roles::Role::as_str)),
            q_opt(d.source.map(crate::decision::Source::as_str)),
        )
    }
    /// Rendered in Python (`accessgraph._html`), where every HTML view lives.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.py()
            .import("accessgraph._html")?
            .call_method1("decision_html", (slf,))?
            .extract()
    }
}
}

/// An organization.
#[pyclass(name = "Org", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyOrg {
    inner: OrgInfo,
}
value_object!(PyOrg, OrgInfo);

guarded! {
#[pymethods]
impl PyOrg {
    /// Slug.
    #[getter]
    fn slug(&self) -> &str {
        &self.inner.slug
    }
    /// Display name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    /// Settings (a fresh dict).
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        settings_py(py, &self.inner.settings)
    }
    fn __repr__(&self) -> String {
        format!(
            "Org(slug={}, name={})",
            q(&self.inner.slug),
            q(&self.inner.name)
        )
    }
}
}

/// A project.
#[pyclass(name = "Project", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyProject {
    inner: ProjectInfo,
}
value_object!(PyProject, ProjectInfo);

guarded! {
#[pymethods]
impl PyProject {
    /// `org/slug`.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// Org slug.
    #[getter]
    fn org(&self) -> &str {
        &self.inner.org
    }
    /// Project slug.
    #[getter]
    fn slug(&self) -> &str {
        self.inner.id.split_once('/').map_or("", |(_, s)| s)
    }
    /// Display name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.attrs.name
    }
    /// Environment.
    #[getter]
    fn environment(&self) -> Option<&str> {
        self.inner.attrs.environment.as_deref()
    }
    /// Restricted.
    #[getter]
    fn restricted(&self) -> bool {
        self.inner.attrs.restricted
    }
    /// Holds personal data.
    #[getter]
    fn pii(&self) -> bool {
        self.inner.attrs.pii
    }
    /// Default role.
    #[getter]
    fn default_role(&self) -> Option<&'static str> {
        self.inner
            .attrs
            .default_role
            .map(crate::roles::ProjectRole::as_str)
    }
    /// Settings (a fresh dict).
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        settings_py(py, &self.inner.attrs.settings)
    }
    fn __repr__(&self) -> String {
        let a = &self.inner.attrs;
        format!(
            "Project(id={}, name={}, environment={}, restricted={}, pii={}, default_role={})",
            q(&self.inner.id),
            q(&a.name),
            q_opt(a.environment.as_deref()),
            if a.restricted { "True" } else { "False" },
            if a.pii { "True" } else { "False" },
            q_opt(a.default_role.map(crate::roles::ProjectRole::as_str)),
        )
    }
}
}

/// A membership of an org.
#[pyclass(name = "Member", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyMember {
    inner: MemberInfo,
}
value_object!(PyMember, MemberInfo);

guarded! {
#[pymethods]
impl PyMember {
    /// Email.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// Org slug.
    #[getter]
    fn org(&self) -> &str {
        &self.inner.org
    }
    /// Org role.
    #[getter]
    fn role(&self) -> &'static str {
        self.inner.role.as_str()
    }
    /// Expiry.
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.expires)
    }
    /// Reason.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }
    /// Date of the last review.
    #[getter]
    fn reviewed(&self) -> Option<chrono::NaiveDate> {
        self.inner.reviewed
    }
    /// Contractor / consultant.
    #[getter]
    fn external(&self) -> bool {
        self.inner.external
    }
    /// Who added them (`None` = the system).
    #[getter]
    fn granted_by(&self) -> Option<&str> {
        self.inner.granted_by.as_deref()
    }
    /// When.
    #[getter]
    fn granted_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_py(py, self.inner.granted_at)
    }
    /// The user's display name.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }
    /// The user's title.
    #[getter]
    fn title(&self) -> Option<&str> {
        self.inner.title.as_deref()
    }
    fn __repr__(&self) -> String {
        let m = &self.inner;
        format!(
            "Member(user={}, org={}, role={}, expires={}, external={})",
            q(&m.user),
            q(&m.org),
            q(m.role.as_str()),
            q_opt(m.expires.map(crate::time::Instant::to_iso).as_deref()),
            if m.external { "True" } else { "False" },
        )
    }
}
}

/// A grant of a project role.
#[pyclass(name = "Grant", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyGrant {
    inner: GrantInfo,
}
value_object!(PyGrant, GrantInfo);

guarded! {
#[pymethods]
impl PyGrant {
    /// Email.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// `org/project` or `org/*`.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }
    /// Project role.
    #[getter]
    fn role(&self) -> &'static str {
        self.inner.role.as_str()
    }
    /// Expiry.
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.expires)
    }
    /// Reason.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }
    /// Who granted it (`None` = the system).
    #[getter]
    fn granted_by(&self) -> Option<&str> {
        self.inner.granted_by.as_deref()
    }
    /// When.
    #[getter]
    fn granted_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_py(py, self.inner.granted_at)
    }
    /// The date by which the grant must be reviewed again (approved requests).
    #[getter]
    fn review_by(&self) -> Option<chrono::NaiveDate> {
        self.inner.review_by
    }
    fn __repr__(&self) -> String {
        let g = &self.inner;
        format!(
            "Grant(user={}, target={}, role={}, expires={})",
            q(&g.user),
            q(&g.target),
            q(g.role.as_str()),
            q_opt(g.expires.map(crate::time::Instant::to_iso).as_deref()),
        )
    }
}
}

/// A user.
#[pyclass(name = "User", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyUser {
    inner: UserInfo,
}
value_object!(PyUser, UserInfo);

guarded! {
#[pymethods]
impl PyUser {
    /// Lower-case email.
    #[getter]
    fn email(&self) -> &str {
        &self.inner.email
    }
    /// Display name.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }
    /// Title.
    #[getter]
    fn title(&self) -> Option<&str> {
        self.inner.title.as_deref()
    }
    /// Slugs of the orgs they belong to (expired memberships included).
    #[getter]
    fn orgs(&self) -> Vec<String> {
        self.inner.orgs.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "User(email={}, name={}, title={})",
            q(&self.inner.email),
            q_opt(self.inner.name.as_deref()),
            q_opt(self.inner.title.as_deref())
        )
    }
}
}

/// A resource in a project.
#[pyclass(name = "Resource", module = "accessgraph._core", frozen, eq, hash)]
pub struct PyResource {
    inner: ResourceInfo,
}
value_object!(PyResource, ResourceInfo);

guarded! {
#[pymethods]
impl PyResource {
    /// `org/project/kind/id`.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// Project id.
    #[getter]
    fn project(&self) -> &str {
        &self.inner.project
    }
    /// Kind.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// Owner's email.
    #[getter]
    fn owner(&self) -> &str {
        &self.inner.owner
    }
    fn __repr__(&self) -> String {
        format!(
            "Resource(id={}, owner={})",
            q(&self.inner.id),
            q(&self.inner.owner)
        )
    }
}
}

/// Who a request authenticated as with an API key (see `Graph.authenticate`).
#[pyclass(name = "Principal", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyPrincipal {
    inner: Principal,
}

guarded! {
#[pymethods]
impl PyPrincipal {
    /// `"personal"` or `"project"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// The key's user (personal keys), else `None`.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.inner.user.as_deref()
    }
    /// `pk_<hex>` for a personal key; the project id for a project key.
    #[getter]
    fn key_id(&self) -> &str {
        &self.inner.key_id
    }
    /// The key's project (project keys), else `None`.
    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner.project.as_deref()
    }
    fn __repr__(&self) -> String {
        let p = &self.inner;
        format!(
            "Principal(kind={}, key_id={}, user={}, project={})",
            q(p.kind.as_str()),
            q(&p.key_id),
            q_opt(p.user.as_deref()),
            q_opt(p.project.as_deref()),
        )
    }
}
}

/// A personal API key as listed: never its secret.
#[pyclass(name = "ApiKey", module = "accessgraph._core", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyApiKey {
    inner: KeyInfo,
}

guarded! {
#[pymethods]
impl PyApiKey {
    /// `pk_<hex>`.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The key's user.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// What it is for.
    #[getter]
    fn label(&self) -> &str {
        &self.inner.label
    }
    /// Scopes narrowing it, or `None` for an unnarrowed key.
    #[getter]
    fn scopes(&self) -> Option<Vec<String>> {
        self.inner.scopes.clone()
    }
    /// Projects it is restricted to, or `None`.
    #[getter]
    fn projects(&self) -> Option<Vec<String>> {
        self.inner.projects.clone()
    }
    /// When it was created (graph clock).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::datetime_py(py, self.inner.created_at)
    }
    /// When its secret was last rotated, or `None`.
    #[getter]
    fn rotated_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.rotated_at)
    }
    /// Its expiry, or `None`.
    #[getter]
    fn expires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.expires)
    }
    /// When it was revoked, or `None`.
    #[getter]
    fn revoked_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        opt_datetime_py(py, self.inner.revoked_at)
    }
    /// `agp_...abcd`: enough to recognise it, never enough to use it.
    #[getter]
    fn mask(&self) -> &str {
        &self.inner.mask
    }
    /// Revoked.
    #[getter]
    fn revoked(&self) -> bool {
        self.inner.revoked_at.is_some()
    }
    /// Past its expiry (as of the listing).
    #[getter]
    fn expired(&self) -> bool {
        self.inner.expired
    }
    /// Its user holds no unexpired membership: it can do nothing until revoked.
    #[getter]
    fn dead(&self) -> bool {
        self.inner.dead
    }
    /// Usable: not revoked, expired or dead.
    #[getter]
    fn active(&self) -> bool {
        self.inner.active()
    }
    fn __repr__(&self) -> String {
        let k = &self.inner;
        let state = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expired {
            "expired"
        } else if k.dead {
            "dead"
        } else {
            "active"
        };
        format!(
            "ApiKey(id={}, user={}, label={}, mask={}, state={})",
            q(&k.id),
            q(&k.user),
            q(&k.label),
            q(&k.mask),
            q(state)
        )
    }
}
}

/// What an offboarding did (`done`) and what it leaves to people (`manual`).
#[pyclass(
    name = "OffboardingReport",
    module = "accessgraph._core",
    frozen,
    eq,
    hash
)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyOffboardingReport {
    inner: OffboardingReport,
}

guarded! {
#[pymethods]
impl PyOffboardingReport {
    /// The user offboarded.
    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }
    /// Each step done, as a sentence.
    #[getter]
    fn done(&self) -> Vec<String> {
        self.inner.done.clone()
    }
    /// Each step left to people, as a sentence.
    #[getter]
    fn manual(&self) -> Vec<String> {
        self.inner.manual.clone()
    }
    fn __str__(&self) -> String {
        let r = &self.inner;
        let mut out = format!("Offboarded {}\nDone:\n", r.user);
        for s in &r.done {
            let _ = writeln!(out, "  - {s}");
        }
        out.push_str("Left to do by hand:\n");
        for s in &r.manual {
            let _ = writeln!(out, "  - {s}");
        }
        out
    }
    fn __repr__(&self) -> String {
        let r = &self.inner;
        format!(
            "OffboardingReport(user={}, done={}, manual={})",
            q(&r.user),
            r.done.len(),
            r.manual.len()
        )
    }
}
}

/// The principal of a user argument that is not a `str`.
pub(super) fn principal<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a Principal> {
    match obj.cast::<PyPrincipal>() {
        Ok(p) => Ok(&p.get().inner),
        Err(_) => Err(PyTypeError::new_err(format!(
            "user must be an email string or a Principal, not {}",
            convert::repr(obj)
        ))),
    }
}

/// A user argument: an email (`str`) or an API key's `Principal`.
pub(super) fn subject<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Subject<'a>> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(Subject::User(convert::text("user", s)?)),
        Err(_) => Ok(Subject::Key(principal(obj)?)),
    }
}

impl From<Principal> for PyPrincipal {
    fn from(inner: Principal) -> Self {
        PyPrincipal { inner }
    }
}

impl From<KeyInfo> for PyApiKey {
    fn from(inner: KeyInfo) -> Self {
        PyApiKey { inner }
    }
}

impl From<OffboardingReport> for PyOffboardingReport {
    fn from(inner: OffboardingReport) -> Self {
        PyOffboardingReport { inner }
    }
}
