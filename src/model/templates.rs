//! Onboarding templates as data: a custom template's definition and the built-in ones
//! (SPEC 4.3). Applying one (`onboard`) is governance's business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids;
use crate::roles::{OrgRole, ProjectRole};

/// An onboarding template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDef {
    /// The template's name (a slug: `engineer`, `data_analyst`).
    pub name: String,
    /// The org role given.
    pub org_role: OrgRole,
    /// Project role by project slug or environment (`*`: every project).
    #[serde(default)]
    pub grants: BTreeMap<String, ProjectRole>,
    /// Marks the membership external (contractor, consultant).
    #[serde(default)]
    pub external: bool,
    /// `onboard` refuses to run without `expires`.
    #[serde(default)]
    pub requires_expiry: bool,
}

/// The names of the built-in templates.
pub const BUILTIN: [&str; 4] = ["contractor", "engineer", "executive", "product_manager"];

/// A built-in template (SPEC 4.3).
pub fn builtin(name: &str) -> Option<TemplateDef> {
    use ProjectRole::{Member, Viewer};
    let def = |org_role, grants: &[(&str, ProjectRole)], external, requires_expiry| TemplateDef {
        name: name.to_owned(),
        org_role,
        grants: grants.iter().map(|(k, r)| ((*k).to_owned(), *r)).collect(),
        external,
        requires_expiry,
    };
    Some(match name {
        "engineer" => def(
            OrgRole::Member,
            &[
                ("development", Member),
                ("staging", Member),
                ("production", Viewer),
            ],
            false,
            false,
        ),
        "product_manager" => def(OrgRole::Member, &[("*", Member)], false, false),
        "executive" => def(OrgRole::Member, &[("production", Viewer)], false, false),
        "contractor" => def(OrgRole::Member, &[], true, true),
        _ => return None,
    })
}

/// Checks a custom template's definition.
pub fn validate(
    name: &str,
    org_role: &str,
    grants: &[(String, String)],
    external: bool,
    requires_expiry: bool,
) -> Result<TemplateDef> {
    if !ids::is_slug(name) {
        return Err(Error::invalid(
            "name",
            name,
            "a template name: lower-case letters, digits, `_` and `-`, like `data_analyst`",
        ));
    }
    let org_role = OrgRole::parse("org_role", org_role)?;
    if org_role == OrgRole::Owner && requires_expiry {
        return Err(Error::rule(
            "a template giving the owner role cannot require an expiry: owner memberships cannot expire",
        ));
    }
    let mut map = BTreeMap::new();
    for (key, role) in grants {
        let k = key.trim();
        if k.is_empty() || k.contains('/') {
            return Err(Error::invalid(
                "grants",
                key.as_str(),
                "a project slug, an environment (`production`) or `*` for every project",
            ));
        }
        map.insert(k.to_owned(), ProjectRole::parse("grants", role)?);
    }
    Ok(TemplateDef {
        name: name.to_owned(),
        org_role,
        grants: map,
        external,
        requires_expiry,
    })
}
