//! Organizations: creating, updating and removing them, and custom actions.
//!
//! Each mutation is planned as a list of [`Change`]s after checking, in order, argument
//! validation (`ValidationError`), existence (`NotFoundError`), the actor's authority
//! (`PermissionDenied`, SPEC 2.3) and structural rules (`ConflictError`); `Graph::mutate`
//! then records and applies the plan whole.

use super::front::Graph;
use super::rules::{authorize, denied, grant_removals, opt_text, same, validate_settings};
use crate::error::{ConflictError, NotFoundError, Result};
use crate::ids::{self, email_key};
use crate::model::{Membership, Settings};
use crate::roles::OrgRole;
use crate::state::{Change, MemberAttrs, OrgAttrs, UserAttrs};

impl Graph {
    /// Creates an org with `owner` as its first owner.
    pub fn add_org(
        &self,
        slug: &str,
        name: Option<&str>,
        owner: &str,
        actor: Option<&str>,
    ) -> Result<()> {
        ids::org_slug("org", slug)?;
        let owner = ids::email("owner", owner)?;
        self.mutate(actor, |st, _| {
            if let Some(a) = actor {
                if !same(a, &owner) {
                    return Err(denied(
                        a,
                        "org:create",
                        slug,
                        None,
                        format!(
                            "{} cannot create `{slug}` for {owner}: an org is created by its owner",
                            email_key(a)
                        ),
                    ));
                }
            }
            if st.target(slug).is_some() {
                return Err(ConflictError::Exists(format!("organization `{slug}`")).into());
            }
            let changes = vec![
                Change::OrgCreated {
                    org: slug.to_owned(),
                    attrs: OrgAttrs {
                        name: name.unwrap_or(slug).to_owned(),
                        settings: Settings::new(),
                    },
                },
                Change::MemberAdded {
                    org: slug.to_owned(),
                    user: owner.clone(),
                    attrs: MemberAttrs {
                        role: OrgRole::Owner,
                        expires: None,
                        reason: None,
                        reviewed: None,
                        external: false,
                    },
                    person: UserAttrs::default(),
                },
            ];
            Ok((changes, ()))
        })
    }

    /// Changes an org's name and settings.
    pub fn update_org(
        &self,
        org: &str,
        name: Option<String>,
        settings: Vec<(String, Option<serde_json::Value>)>,
        actor: Option<&str>,
    ) -> Result<()> {
        ids::org_slug("org", org)?;
        for (k, v) in &settings {
            if let Some(v) = v {
                let mut one = Settings::new();
                one.insert(k.clone(), v.clone());
                validate_settings(&one)?;
            }
        }
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            if let Some(a) = actor {
                authorize(st, at, a, "org:manage_settings", org)?;
            }
            let rec = st.org(oid);
            let before = OrgAttrs {
                name: rec.map(|o| o.name.clone()).unwrap_or_default(),
                settings: rec.map(|o| o.settings.clone()).unwrap_or_default(),
            };
            let mut after = before.clone();
            if let Some(n) = opt_text(name) {
                after.name = n;
            }
            for (k, v) in settings {
                match v {
                    Some(v) => {
                        after.settings.insert(k, v);
                    }
                    None => {
                        after.settings.remove(&k);
                    }
                }
            }
            if after == before {
                return Ok((Vec::new(), ()));
            }
            Ok((
                vec![Change::OrgUpdated {
                    org: org.to_owned(),
                    before,
                    after,
                }],
                (),
            ))
        })
    }

    /// Deletes an org with its projects, memberships and grants.
    pub fn remove_org(&self, org: &str, actor: Option<&str>) -> Result<()> {
        ids::org_slug("org", org)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            if let Some(a) = actor {
                authorize(st, at, a, "org:delete", org)?;
            }
            let mut changes = Vec::new();
            let Some(rec) = st.org(oid) else {
                return Err(NotFoundError::Org(org.to_owned()).into());
            };
            let mut members: Vec<(&str, &Membership)> = rec
                .members
                .iter()
                .filter_map(|&u| {
                    st.user(u)
                        .and_then(|u| u.membership(oid).map(|m| (&*u.email, m)))
                })
                .collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            for (email, m) in &members {
                changes.extend(grant_removals(st, email, org, m));
            }
            for (email, _) in &members {
                changes.push(Change::MemberRemoved {
                    org: org.to_owned(),
                    user: (*email).to_owned(),
                });
            }
            let mut projects: Vec<&str> = rec
                .projects
                .iter()
                .filter_map(|&p| st.project(p).map(|p| &*p.id))
                .collect();
            projects.sort_unstable();
            for p in projects {
                changes.push(Change::ProjectDeleted {
                    project: p.to_owned(),
                });
            }
            changes.push(Change::OrgDeleted {
                org: org.to_owned(),
            });
            Ok((changes, ()))
        })
    }

    /// Adds a custom action. Custom actions are policy for the whole graph, so only the
    /// system (`actor=None`) defines them.
    pub fn define_action(
        &self,
        name: &str,
        scope: &str,
        min_role: &str,
        owner_role: Option<&str>,
        actor: Option<&str>,
    ) -> Result<()> {
        self.mutate(actor, |st, _| {
            let def = st.catalog.validate_custom(name, scope, min_role, owner_role)?;
            if let Some(a) = actor {
                return Err(denied(a, name, "", None, format!(
                    "{} cannot define `{name}`: custom actions are defined by the system (actor=None)", email_key(a))));
            }
            if st.catalog.contains(name) {
                return Err(ConflictError::Exists(format!("action `{name}`")).into());
            }
            Ok((vec![Change::ActionDefined { def }], ()))
        })
    }
}
