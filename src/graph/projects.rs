//! Projects and their resources: creating, updating and removing projects, registering resources.
//!
//! Each mutation is planned as a list of [`Change`]s after checking, in order, argument
//! validation (`ValidationError`), existence (`NotFoundError`), the actor's authority
//! (`PermissionDenied`, SPEC 2.3) and structural rules (`ConflictError`); `Graph::mutate`
//! then records and applies the plan whole.

use super::front::Graph;
use super::rules::{authorize, opt_text, validate_settings};
use crate::error::{ConflictError, Error, Result};
use crate::ids::{self};
use crate::model::{ProjectAttrs, Settings};
use crate::roles::ProjectRole;
use crate::state::Change;

/// A new project's attributes.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    /// Display name (default: the slug).
    pub name: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Restricted.
    pub restricted: bool,
    /// Holds personal data.
    pub pii: bool,
    /// Default role name.
    pub default_role: Option<String>,
    /// Settings.
    pub settings: Settings,
}

/// Changes to a project: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    /// New name.
    pub name: Option<String>,
    /// New environment.
    pub environment: Option<Option<String>>,
    /// New restricted flag.
    pub restricted: Option<bool>,
    /// New pii flag.
    pub pii: Option<bool>,
    /// New default role name (`Some(None)` clears it).
    pub default_role: Option<Option<String>>,
    /// Settings to merge (`None` deletes the key).
    pub settings: Vec<(String, Option<serde_json::Value>)>,
}

impl Graph {
    /// Creates a project.
    pub fn add_project(&self, project: &str, new: NewProject, actor: Option<&str>) -> Result<()> {
        let (org, slug) = ids::project_id("project", project)?;
        let default_role = new
            .default_role
            .as_deref()
            .map(|r| ProjectRole::parse("default_role", r))
            .transpose()?;
        if new.restricted && default_role.is_some() {
            return Err(Error::rule(format!(
                "restricted project `{project}` cannot have a default role: only explicit grants and org owners/admins reach it"
            )));
        }
        validate_settings(&new.settings)?;
        self.mutate(actor, |st, at| {
            st.need_org(org)?;
            if let Some(a) = actor {
                authorize(st, at, a, "project:create", org)?;
            }
            if st.target(project).is_some() {
                return Err(ConflictError::Exists(format!("project `{project}`")).into());
            }
            let attrs = ProjectAttrs {
                name: opt_text(new.name).unwrap_or_else(|| slug.to_owned()),
                environment: opt_text(new.environment),
                restricted: new.restricted,
                pii: new.pii,
                default_role,
                settings: new.settings,
            };
            Ok((
                vec![Change::ProjectCreated {
                    project: project.to_owned(),
                    attrs,
                    api_key: None,
                }],
                (),
            ))
        })
    }

    /// Changes a project's attributes and settings.
    pub fn update_project(
        &self,
        project: &str,
        patch: ProjectPatch,
        actor: Option<&str>,
    ) -> Result<()> {
        ids::project_id("project", project)?;
        if patch.restricted == Some(true) && matches!(patch.default_role, Some(Some(_))) {
            return Err(Error::rule(format!(
                "restricted project `{project}` cannot have a default role: only explicit grants and org owners/admins reach it"
            )));
        }
        let default_role = patch
            .default_role
            .as_ref()
            .map(|d| {
                d.as_deref()
                    .map(|r| ProjectRole::parse("default_role", r))
                    .transpose()
            })
            .transpose()?;
        for (k, v) in &patch.settings {
            if let Some(v) = v {
                let mut one = Settings::new();
                one.insert(k.clone(), v.clone());
                validate_settings(&one)?;
            }
        }
        self.mutate(actor, |st, at| {
            let pid = st.need_project(project)?;
            let before = st.project(pid).map(|p| p.attrs.clone()).unwrap_or_default();
            let mut after = before.clone();
            if let Some(n) = patch.name { after.name = n; }
            if let Some(e) = patch.environment { after.environment = opt_text(e); }
            if let Some(r) = patch.restricted { after.restricted = r; }
            if let Some(p) = patch.pii { after.pii = p; }
            if let Some(d) = default_role { after.default_role = d; }
            for (k, v) in patch.settings {
                match v {
                    Some(v) => { after.settings.insert(k, v); }
                    None => { after.settings.remove(&k); }
                }
            }
            if after.restricted && after.default_role.is_some() {
                return Err(Error::rule(format!(
                    "restricted project `{project}` cannot have a default role: clear it with default_role=None")));
            }
            if let Some(a) = actor {
                authorize(st, at, a, "project:manage_settings", project)?;
            }
            if after == before {
                return Ok((Vec::new(), ()));
            }
            Ok((vec![Change::ProjectUpdated { project: project.to_owned(), before, after }], ()))
        })
    }

    /// Deletes a project, its grants and its resources.
    pub fn remove_project(&self, project: &str, actor: Option<&str>) -> Result<()> {
        ids::project_id("project", project)?;
        self.mutate(actor, |st, at| {
            let pid = st.need_project(project)?;
            if let Some(a) = actor {
                authorize(st, at, a, "project:delete", project)?;
            }
            let mut changes = Vec::new();
            let oid = st.project(pid).map_or(u32::MAX, |p| p.org);
            if let Some(org) = st.org(oid) {
                for &uid in &org.members {
                    let Some(u) = st.user(uid) else { continue };
                    if u.membership(oid).and_then(|m| m.grant(pid)).is_some() {
                        changes.push(Change::GrantRemoved {
                            user: u.email.to_string(),
                            target: project.to_owned(),
                        });
                    }
                }
            }
            changes.push(Change::ProjectDeleted {
                project: project.to_owned(),
            });
            Ok((changes, ()))
        })
    }

    /// Registers a resource in a project; returns its id `org/project/kind/id`.
    pub fn add_resource(
        &self,
        project: &str,
        kind: &str,
        id: &str,
        owner: Option<&str>,
        actor: Option<&str>,
    ) -> Result<String> {
        ids::project_id("project", project)?;
        let kind = ids::resource_kind("kind", kind)?;
        ids::resource_local_id("id", id)?;
        let owner = match owner.or(actor) {
            Some(o) => ids::email("owner", o)?,
            None => {
                return Err(Error::rule(
                    "add_resource needs an owner (or an actor, who then owns it)",
                ))
            }
        };
        let rid = format!("{project}/{}/{id}", kind.as_str());
        self.mutate(actor, |st, at| {
            st.need_project(project)?;
            if let Some(a) = actor {
                let create = format!("{}:create", kind.as_str());
                let needed = if kind == crate::roles::ResourceKind::Recording {
                    "event:track".to_owned()
                } else if st.catalog.contains(&create) {
                    create
                } else {
                    format!("{}:manage", kind.as_str())
                };
                authorize(st, at, a, &needed, project)?;
            }
            if st.target(&rid).is_some() {
                return Err(ConflictError::Exists(format!("resource `{rid}`")).into());
            }
            Ok((
                vec![Change::ResourceCreated {
                    resource: rid.clone(),
                    owner: owner.clone(),
                }],
                rid.clone(),
            ))
        })
    }
}
