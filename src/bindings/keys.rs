//! `Graph`'s API-key and offboarding methods: creating, rotating, revoking and using keys,
//! and offboarding someone. A secret crosses this layer exactly once, as the return value
//! of the call that made it.

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::convert::{self, instant, Text};
use super::gil::{detach, guarded};
use super::graph::PyGraph;
use super::values::{PyApiKey, PyOffboardingReport, PyPrincipal};
use crate::error::Error;
use crate::graph::NewKey;

/// A list-of-strings argument (`scopes=`, `projects=`): `None`, or an iterable of `str`
/// that is not itself a `str`.
fn str_list(field: &'static str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let expected = "a list of strings, or None";
    if obj.cast::<PyString>().is_ok() {
        return Err(PyErr::from(Error::invalid(
            field,
            convert::repr(obj),
            expected,
        )));
    }
    let items = obj
        .try_iter()
        .map_err(|_| PyErr::from(Error::invalid(field, convert::repr(obj), expected)))?;
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(convert::text(field, s)?.to_owned()),
            Err(_) => {
                return Err(PyErr::from(Error::invalid(
                    field,
                    convert::repr(&item),
                    "a string",
                )))
            }
        }
    }
    Ok(Some(out))
}

guarded! {
#[pymethods]
impl PyGraph {
    /// Creates a personal API key; returns `(key_id, secret)`. The secret is shown once.
    #[pyo3(signature = (user, label, *, scopes = None, projects = None, expires = None, actor))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn create_personal_key(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        label: Text<'_>,
        scopes: Option<&Bound<'_, PyAny>>,
        projects: Option<&Bound<'_, PyAny>>,
        expires: Option<&Bound<'_, PyAny>>,
        actor: Option<Text<'_>>,
    ) -> PyResult<(String, String)> {
        let new = NewKey {
            label: label.as_str().to_owned(),
            scopes: str_list("scopes", scopes)?,
            projects: str_list("projects", projects)?,
            expires: instant("expires", expires)?,
        };
        let g = &self.inner;
        detach(py, || g.create_personal_key(&user, new, actor.as_deref()))
    }

    /// Gives a personal key a new secret, which it returns; the old one stops at once.
    #[pyo3(signature = (key_id, *, actor))]
    fn rotate_personal_key(
        &self,
        py: Python<'_>,
        key_id: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<String> {
        let g = &self.inner;
        detach(py, || g.rotate_personal_key(&key_id, actor.as_deref()))
    }

    /// Revokes a personal key.
    #[pyo3(signature = (key_id, *, actor))]
    fn revoke_personal_key(
        &self,
        py: Python<'_>,
        key_id: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.revoke_personal_key(&key_id, actor.as_deref()))
    }

    /// The personal keys of `user` (or everyone's); revoked ones with `include_revoked`.
    #[pyo3(signature = (user = None, *, include_revoked = false))]
    fn personal_keys(
        &self,
        user: Option<Text<'_>>,
        include_revoked: bool,
    ) -> PyResult<Vec<PyApiKey>> {
        Ok(self
            .inner
            .personal_keys(user.as_deref(), include_revoked)?
            .into_iter()
            .map(PyApiKey::from)
            .collect())
    }

    /// One personal key, by id.
    fn personal_key(&self, key_id: Text<'_>) -> PyResult<PyApiKey> {
        Ok(self.inner.personal_key(&key_id)?.into())
    }

    /// The project's public API key (`agc_…`).
    fn project_key(&self, project: Text<'_>) -> PyResult<String> {
        self.inner.project_key(&project).map_err(PyErr::from)
    }

    /// Gives a project a new public key, which it returns (`project_key:rotate`).
    #[pyo3(signature = (project, *, actor))]
    fn rotate_project_key(
        &self,
        py: Python<'_>,
        project: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<String> {
        let g = &self.inner;
        detach(py, || g.rotate_project_key(&project, actor.as_deref()))
    }

    /// The principal a secret authenticates, or `None`.
    fn authenticate(&self, secret: Text<'_>) -> PyResult<Option<PyPrincipal>> {
        Ok(self.inner.authenticate(&secret)?.map(PyPrincipal::from))
    }

    /// Offboards someone: removes them from every org, revokes their keys, hands their
    /// resources to `transfer_to`; atomic.
    #[pyo3(signature = (user, *, actor, transfer_to = None, reason = None))]
    fn offboard(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        actor: Option<Text<'_>>,
        transfer_to: Option<Text<'_>>,
        reason: Option<Text<'_>>,
    ) -> PyResult<PyOffboardingReport> {
        let g = &self.inner;
        let inner = detach(py, || {
            g.offboard(&user, actor.as_deref(), transfer_to.as_deref(), reason.as_deref())
        })?;
        Ok(inner.into())
    }
}
}
