//! `Graph`'s mutations: each converts its arguments and calls the core's mutation with
//! the GIL released — a mutation may wait on another process's journal or database lock,
//! and other Python threads run meanwhile (SPEC 6.2).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{self, instant, kwargs_iter, opt_bool, opt_text, Text};
use super::gil::{detach, guarded};
use super::graph::PyGraph;
use crate::error::Error;
use crate::graph::{MemberPatch, NewMember, NewProject, ProjectPatch};

guarded! {
#[pymethods]
impl PyGraph {
    /// Creates an org with `owner` as its first owner.
    #[pyo3(signature = (slug, *, owner, name = None, actor = None))]
    fn add_org(
        &self,
        py: Python<'_>,
        slug: Text<'_>,
        owner: Text<'_>,
        name: Option<Text<'_>>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.add_org(&slug, name.as_deref(), &owner, actor.as_deref()))
    }

    /// Creates a project `org/slug`.
    #[pyo3(signature = (project, *, name = None, environment = None, restricted = None, pii = None, default_role = None, settings = None, actor = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn add_project(
        &self,
        py: Python<'_>,
        project: Text<'_>,
        name: Option<&Bound<'_, PyAny>>,
        environment: Option<&Bound<'_, PyAny>>,
        restricted: Option<&Bound<'_, PyAny>>,
        pii: Option<&Bound<'_, PyAny>>,
        default_role: Option<Text<'_>>,
        settings: Option<&Bound<'_, PyDict>>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let mut s = crate::model::Settings::new();
        for (k, v) in kwargs_iter("settings", settings)? {
            s.insert(k, convert::setting(&v)?);
        }
        let new = NewProject {
            name: opt_text("name", name)?,
            environment: opt_text("environment", environment)?,
            restricted: opt_bool("restricted", restricted)?,
            pii: opt_bool("pii", pii)?,
            default_role: default_role.map(|r| r.as_str().to_owned()),
            settings: s,
        };
        let g = &self.inner;
        detach(py, || g.add_project(&project, new, actor.as_deref()))
    }

    /// Adds `user` to `org` with an org role.
    #[pyo3(signature = (user, org, role = "member", *, actor = None, name = None, title = None, expires = None, reason = None, reviewed = None, external = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn add_member(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        org: Text<'_>,
        #[pyo3(from_py_with = convert::text_arg)] role: &str,
        actor: Option<Text<'_>>,
        name: Option<&Bound<'_, PyAny>>,
        title: Option<&Bound<'_, PyAny>>,
        expires: Option<&Bound<'_, PyAny>>,
        reason: Option<&Bound<'_, PyAny>>,
        reviewed: Option<&Bound<'_, PyAny>>,
        external: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let new = NewMember {
            role: Some(role.to_owned()),
            name: opt_text("name", name)?,
            title: opt_text("title", title)?,
            expires: instant("expires", expires)?,
            reason: opt_text("reason", reason)?,
            reviewed: convert::date("reviewed", reviewed)?,
            external: opt_bool("external", external)?,
        };
        let g = &self.inner;
        detach(py, || g.add_member(&user, &org, new, actor.as_deref()))
    }

    /// Changes `user`'s org role.
    #[pyo3(signature = (user, org, role, *, actor))]
    fn set_org_role(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        org: Text<'_>,
        role: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.set_org_role(&user, &org, &role, actor.as_deref()))
    }

    /// Removes `user` from `org` with their grants there; anyone may leave.
    #[pyo3(signature = (user, org, *, actor))]
    fn remove_member(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        org: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.remove_member(&user, &org, actor.as_deref()))
    }

    /// Renews, documents or marks reviewed a membership; only the keywords given change.
    #[pyo3(signature = (user, org, *, actor, **changes))]
    fn update_member(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        org: Text<'_>,
        actor: Option<Text<'_>>,
        changes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut patch = MemberPatch::default();
        for (k, v) in kwargs_iter("keyword", changes)? {
            match k.as_str() {
                "expires" => patch.expires = Some(instant("expires", Some(&v))?),
                "reason" => patch.reason = Some(opt_text("reason", Some(&v))?),
                "reviewed" => patch.reviewed = Some(convert::date("reviewed", Some(&v))?),
                "external" => patch.external = Some(convert::boolean("external", &v)?),
                "title" => patch.title = Some(opt_text("title", Some(&v))?),
                "name" => patch.name = Some(opt_text("name", Some(&v))?),
                other => {
                    return Err(PyErr::from(Error::invalid(
                        "keyword",
                        other,
                        "one of expires, reason, reviewed, external, title, name",
                    )))
                }
            }
        }
        let g = &self.inner;
        detach(py, || g.update_member(&user, &org, patch, actor.as_deref()))
    }

    /// Grants a project role on `org/project` or `org/*`, replacing any grant there.
    #[pyo3(signature = (user, target, role, *, actor = None, expires = None, reason = None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the Python method's keyword arguments"
    )]
    fn grant(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        target: Text<'_>,
        role: Text<'_>,
        actor: Option<Text<'_>>,
        expires: Option<&Bound<'_, PyAny>>,
        reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let expires = instant("expires", expires)?;
        let reason = opt_text("reason", reason)?;
        let g = &self.inner;
        detach(py, || g.grant(&user, &target, &role, expires, reason, actor.as_deref()))
    }

    /// Revokes `user`'s grant on `target`.
    #[pyo3(signature = (user, target, *, actor))]
    fn revoke(
        &self,
        py: Python<'_>,
        user: Text<'_>,
        target: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.revoke(&user, &target, actor.as_deref()))
    }

    /// Changes a project's attributes; other keywords are merged into its settings.
    #[pyo3(signature = (project, *, actor, **changes))]
    fn update_project(
        &self,
        py: Python<'_>,
        project: Text<'_>,
        actor: Option<Text<'_>>,
        changes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut patch = ProjectPatch::default();
        for (k, v) in kwargs_iter("keyword", changes)? {
            match k.as_str() {
                "name" => {
                    patch.name = Some(opt_text("name", Some(&v))?.ok_or_else(|| {
                        PyErr::from(Error::invalid("name", "None", "a non-empty name"))
                    })?);
                }
                "environment" => patch.environment = Some(opt_text("environment", Some(&v))?),
                "restricted" => patch.restricted = Some(convert::boolean("restricted", &v)?),
                "pii" => patch.pii = Some(convert::boolean("pii", &v)?),
                "default_role" => patch.default_role = Some(opt_text("default_role", Some(&v))?),
                _ => {
                    let value = if v.is_none() {
                        None
                    } else {
                        Some(convert::setting(&v)?)
                    };
                    patch.settings.push((k, value));
                }
            }
        }
        let g = &self.inner;
        detach(py, || g.update_project(&project, patch, actor.as_deref()))
    }

    /// Deletes a project with its grants and resources.
    #[pyo3(signature = (project, *, actor))]
    fn remove_project(
        &self,
        py: Python<'_>,
        project: Text<'_>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.remove_project(&project, actor.as_deref()))
    }

    /// Changes an org's name; other keywords are merged into its settings.
    #[pyo3(signature = (org, *, actor, name = None, **settings))]
    fn update_org(
        &self,
        py: Python<'_>,
        org: Text<'_>,
        actor: Option<Text<'_>>,
        name: Option<&Bound<'_, PyAny>>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut s = Vec::new();
        for (k, v) in kwargs_iter("keyword", settings)? {
            let value = if v.is_none() {
                None
            } else {
                Some(convert::setting(&v)?)
            };
            s.push((k, value));
        }
        let name = opt_text("name", name)?;
        let g = &self.inner;
        detach(py, || g.update_org(&org, name, s, actor.as_deref()))
    }

    /// Deletes an org with its projects, memberships and grants.
    #[pyo3(signature = (org, *, actor))]
    fn remove_org(&self, py: Python<'_>, org: Text<'_>, actor: Option<Text<'_>>) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || g.remove_org(&org, actor.as_deref()))
    }

    /// Registers a resource; returns its id `org/project/kind/id`.
    #[pyo3(signature = (project, kind, id, *, owner = None, actor = None))]
    fn add_resource(
        &self,
        py: Python<'_>,
        project: Text<'_>,
        kind: Text<'_>,
        id: &Bound<'_, PyAny>,
        owner: Option<Text<'_>>,
        actor: Option<Text<'_>>,
    ) -> PyResult<String> {
        let id = convert::text("id", &id.str()?)?.to_owned();
        let g = &self.inner;
        detach(py, || g.add_resource(&project, &kind, &id, owner.as_deref(), actor.as_deref()))
    }

    /// Adds a custom action `resource:verb`.
    #[pyo3(signature = (name, scope = "project", min_role = "member", owner_role = None, *, actor = None))]
    fn define_action(
        &self,
        py: Python<'_>,
        name: Text<'_>,
        #[pyo3(from_py_with = convert::text_arg)] scope: &str,
        #[pyo3(from_py_with = convert::text_arg)] min_role: &str,
        owner_role: Option<Text<'_>>,
        actor: Option<Text<'_>>,
    ) -> PyResult<()> {
        let g = &self.inner;
        detach(py, || {
            g.define_action(&name, scope, min_role, owner_role.as_deref(), actor.as_deref())
        })
    }
}
}
