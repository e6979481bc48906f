//! The action catalogue: every built-in action of SPEC 2.1 and the custom ones.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ValidationError};
use crate::ids::{new_map, Map};
use crate::roles::{OrgRole, ProjectRole};

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "lowercase")]
pub enum Need {
    /// An org-scoped action: the org role must reach `min_role`.
    Org {
        /// Minimum org role.
        min_role: OrgRole,
    },
    /// A project-scoped action: the effective project role must reach `min_role`, or
    /// `owner_role` on a resource of the action's kind that the user owns.
    Project {
        /// Minimum project role.
        min_role: ProjectRole,
        /// Role that suffices on resources one owns.
        owner_role: Option<ProjectRole>,
    },
}

/// One action of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDef {
    /// `resource:verb`.
    pub name: String,
    /// What it needs.
    #[serde(flatten)]
    pub need: Need,
    /// Built into the default policy.
    #[serde(skip)]
    pub builtin: bool,
}

impl ActionDef {
    /// The `resource` part of `resource:verb`.
    pub fn resource_part(&self) -> &str {
        self.name
            .split_once(':')
            .map_or(self.name.as_str(), |(r, _)| r)
    }

    /// True for `org:invite_member`, whose minimum drops to `member` when the org allows it.
    pub fn is_invite(&self) -> bool {
        self.name == "org:invite_member"
    }
}

use OrgRole as O;
use ProjectRole as P;

const ORG_ACTIONS: &[(&str, OrgRole)] = &[
    ("org:view", O::Member),
    ("org:manage_settings", O::Admin),
    ("org:invite_member", O::Admin),
    ("org:remove_member", O::Admin),
    ("org:manage_roles", O::Admin),
    ("project:create", O::Admin),
    ("project:delete", O::Owner),
    ("billing:manage", O::Owner),
    ("org:delete", O::Owner),
    ("audit:view", O::Admin),
];

const PROJECT_ACTIONS: &[(&str, ProjectRole, Option<ProjectRole>)] = &[
    ("project:view", P::Viewer, None),
    ("dashboard:view", P::Viewer, None),
    ("insight:view", P::Viewer, None),
    ("recording:view", P::Viewer, None),
    ("annotation:view", P::Viewer, None),
    ("insight:create", P::Member, None),
    ("dashboard:create", P::Member, None),
    ("cohort:create", P::Member, None),
    ("cohort:view", P::Member, None),
    ("annotation:create", P::Member, None),
    ("notebook:create", P::Member, None),
    ("feature_flag:view", P::Member, None),
    ("feature_flag:use", P::Member, None),
    ("experiment:view", P::Member, None),
    ("event:track", P::Member, None),
    ("data:export", P::Member, None),
    ("insight:edit", P::Admin, Some(P::Member)),
    ("insight:delete", P::Admin, Some(P::Member)),
    ("dashboard:edit", P::Admin, Some(P::Member)),
    ("notebook:edit", P::Admin, Some(P::Member)),
    ("dashboard:delete", P::Admin, Some(P::Member)),
    ("project:manage_settings", P::Admin, None),
    ("project:invite_member", P::Admin, None),
    ("project:manage_members", P::Admin, None),
    ("feature_flag:manage", P::Admin, None),
    ("experiment:manage", P::Admin, None),
    ("cohort:manage", P::Admin, None),
    ("data:manage_retention", P::Admin, None),
    ("data:delete", P::Admin, None),
    ("project_key:rotate", P::Admin, None),
];

/// The catalogue: built-ins first, then custom actions in the order defined.
#[derive(Debug, Clone)]
pub struct Catalog {
    by_name: Map<Box<str>, u32>,
    defs: Vec<ActionDef>,
}

impl Default for Catalog {
    fn default() -> Self {
        let mut c = Catalog {
            by_name: new_map(),
            defs: Vec::new(),
        };
        for (name, min_role) in ORG_ACTIONS {
            c.push(ActionDef {
                name: (*name).to_owned(),
                need: Need::Org {
                    min_role: *min_role,
                },
                builtin: true,
            });
        }
        for (name, min_role, owner_role) in PROJECT_ACTIONS {
            c.push(ActionDef {
                name: (*name).to_owned(),
                need: Need::Project {
                    min_role: *min_role,
                    owner_role: *owner_role,
                },
                builtin: true,
            });
        }
        c
    }
}

impl Catalog {
    fn push(&mut self, def: ActionDef) {
        let id = u32::try_from(self.defs.len()).unwrap_or(u32::MAX);
        self.by_name.insert(def.name.clone().into_boxed_str(), id);
        self.defs.push(def);
    }

    /// Looks an action up by name.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&ActionDef> {
        self.by_name
            .get(name)
            .and_then(|&i| self.defs.get(i as usize))
    }

    /// Looks an action up, raising `UnknownActionError`.
    #[inline]
    pub fn require(&self, name: &str) -> Result<&ActionDef> {
        self.get(name)
            .ok_or_else(|| ValidationError::UnknownAction(name.to_owned()).into())
    }

    /// Every action, built-ins first.
    pub fn iter(&self) -> impl Iterator<Item = &ActionDef> {
        self.defs.iter()
    }

    /// The custom actions.
    pub fn custom(&self) -> impl Iterator<Item = &ActionDef> {
        self.defs.iter().filter(|d| !d.builtin)
    }

    /// Validates a custom action definition against the catalogue.
    pub fn validate_custom(
        &self,
        name: &str,
        scope: &str,
        min_role: &str,
        owner_role: Option<&str>,
    ) -> Result<ActionDef> {
        let valid_part = |p: &str| {
            let b = p.as_bytes();
            b.first().is_some_and(u8::is_ascii_lowercase)
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        };
        match name.split_once(':') {
            Some((r, v)) if valid_part(r) && valid_part(v) => {}
            _ => {
                return Err(Error::invalid(
                    "name",
                    name,
                    "an action `resource:verb` of lower-case letters, digits and `_`",
                ))
            }
        }
        let need = match scope {
            "org" => {
                if let Some(o) = owner_role {
                    return Err(Error::invalid(
                        "owner_role",
                        o,
                        "no owner_role: it applies to project-scoped actions only",
                    ));
                }
                Need::Org {
                    min_role: OrgRole::parse("min_role", min_role)?,
                }
            }
            "project" => {
                let min_role = ProjectRole::parse("min_role", min_role)?;
                let owner_role = owner_role
                    .map(|o| ProjectRole::parse("owner_role", o))
                    .transpose()?;
                if let Some(o) = owner_role {
                    if o > min_role {
                        return Err(Error::invalid(
                            "owner_role",
                            o.as_str(),
                            format!("a role at most min_role `{}`", min_role.as_str()),
                        ));
                    }
                }
                Need::Project {
                    min_role,
                    owner_role,
                }
            }
            _ => return Err(Error::invalid("scope", scope, "`project` or `org`")),
        };
        Ok(ActionDef {
            name: name.to_owned(),
            need,
            builtin: false,
        })
    }

    /// Adds a validated custom action. The caller has checked the name is free.
    pub fn add(&mut self, def: ActionDef) {
        self.push(def);
    }

    /// True when `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_complete_and_ranked() {
        let c = Catalog::default();
        assert_eq!(c.iter().count(), ORG_ACTIONS.len() + PROJECT_ACTIONS.len());
        assert_eq!(
            c.get("feature_flag:manage").map(|d| d.need),
            Some(Need::Project {
                min_role: P::Admin,
                owner_role: None
            })
        );
        assert_eq!(
            c.get("billing:manage").map(|d| d.need),
            Some(Need::Org { min_role: O::Owner })
        );
        assert!(c.require("insight:frobnicate").is_err());
        assert_eq!(
            c.get("dashboard:delete").map(ActionDef::resource_part),
            Some("dashboard")
        );
    }

    #[test]
    fn custom_actions_are_validated() {
        let c = Catalog::default();
        assert!(c
            .validate_custom("notebook:share", "project", "member", None)
            .is_ok());
        assert!(c
            .validate_custom("Notebook:share", "project", "member", None)
            .is_err());
        assert!(c
            .validate_custom("notebook", "project", "member", None)
            .is_err());
        assert!(c.validate_custom("x:y", "team", "member", None).is_err());
        assert!(c.validate_custom("x:y", "org", "viewer", None).is_err());
        assert!(c
            .validate_custom("x:y", "project", "member", Some("admin"))
            .is_err());
        assert!(c
            .validate_custom("x:y", "org", "admin", Some("member"))
            .is_err());
    }
}
