//! Read-only queries over the state: listings as plain records, attribute views, and
//! look-ups of templates and access requests.

use super::change::{GrantAttrs, MemberAttrs};
use super::tables::State;
use crate::error::{Error, NotFoundError, Result};
use crate::model::requests::AccessRequest;
use crate::model::templates::{builtin, TemplateDef, BUILTIN};
use crate::model::{Grant, Membership};

/// A membership's attributes, as a [`MemberAttrs`] value.
pub fn member_attrs(m: &Membership) -> MemberAttrs {
    MemberAttrs {
        role: m.role,
        expires: m.expires(),
        reason: m.reason.as_deref().map(str::to_owned),
        reviewed: m.reviewed,
        external: m.external,
    }
}

/// A grant's attributes, as a [`GrantAttrs`] value.
pub fn grant_attrs(g: &Grant) -> GrantAttrs {
    GrantAttrs {
        role: g.role,
        expires: g.expires(),
        reason: g.reason().map(str::to_owned),
        review_by: g.review_by(),
    }
}

/// Every org, sorted by slug.
pub fn list_orgs(st: &State) -> Vec<crate::model::OrgInfo> {
    let mut out: Vec<_> = st
        .orgs
        .iter()
        .flatten()
        .map(|o| crate::model::OrgInfo {
            slug: o.slug.to_string(),
            name: o.name.clone(),
            settings: o.settings.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    out
}

/// The projects of `org` (or all), sorted by id.
pub fn list_projects(st: &State, org: Option<&str>) -> Result<Vec<crate::model::ProjectInfo>> {
    let only = org.map(|o| st.need_org(o)).transpose()?;
    let mut out: Vec<_> = st
        .projects
        .iter()
        .flatten()
        .filter(|p| only.is_none_or(|o| p.org == o))
        .map(|p| crate::model::ProjectInfo {
            id: p.id.to_string(),
            org: p.id.split_once('/').map_or("", |(o, _)| o).to_owned(),
            attrs: p.attrs.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The members of `org`, sorted by email.
pub fn list_members(st: &State, org: &str) -> Result<Vec<crate::model::MemberInfo>> {
    let oid = st.need_org(org)?;
    let mut out = Vec::new();
    for &uid in st.org(oid).map(|o| &o.members).into_iter().flatten() {
        let Some(u) = st.user(uid) else { continue };
        let Some(m) = u.membership(oid) else { continue };
        out.push(crate::model::MemberInfo {
            user: u.email.to_string(),
            org: org.to_owned(),
            role: m.role,
            expires: m.expires(),
            reason: m.reason.as_deref().map(str::to_owned),
            reviewed: m.reviewed,
            external: m.external,
            granted_by: m.granted_by.as_deref().map(str::to_owned),
            granted_at: m.granted_at,
            name: u.name.clone(),
            title: u.title.clone(),
        });
    }
    out.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(out)
}

fn grant_info(email: &str, target: String, g: &Grant) -> crate::model::GrantInfo {
    crate::model::GrantInfo {
        user: email.to_owned(),
        target,
        role: g.role,
        expires: g.expires(),
        reason: g.reason().map(str::to_owned),
        granted_by: g.granted_by().map(str::to_owned),
        granted_at: g.granted_at,
        review_by: g.review_by(),
    }
}

/// Grants, filtered by user and/or target, sorted by user then target.
pub fn list_grants(
    st: &State,
    user: Option<&str>,
    target: Option<&str>,
) -> Vec<crate::model::GrantInfo> {
    let uid = match user {
        Some(u) => match st.user_id(u) {
            Some(id) => Some(id),
            None => return Vec::new(),
        },
        None => None,
    };
    let mut out = Vec::new();
    for (i, u) in st.users.iter().enumerate() {
        if uid.is_some_and(|id| id as usize != i) {
            continue;
        }
        for m in &u.memberships {
            let Some(org) = st.org(m.org) else { continue };
            if let Some(g) = &m.org_wide {
                let t = format!("{}/*", org.slug);
                if target.is_none_or(|x| x == t) {
                    out.push(grant_info(&u.email, t, g));
                }
            }
            for g in &m.grants {
                let Some(p) = st.project(g.project) else {
                    continue;
                };
                if target.is_none_or(|x| x == &*p.id) {
                    out.push(grant_info(&u.email, p.id.to_string(), g));
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.user, &a.target).cmp(&(&b.user, &b.target)));
    out
}

/// One user, by email.
pub fn user_info(st: &State, email: &str) -> Result<crate::model::UserInfo> {
    let u = st
        .user_id(email)
        .and_then(|id| st.user(id))
        .ok_or_else(|| Error::from(NotFoundError::User(email.to_owned())))?;
    let mut orgs: Vec<String> = u
        .memberships
        .iter()
        .filter_map(|m| st.org(m.org).map(|o| o.slug.to_string()))
        .collect();
    orgs.sort();
    Ok(crate::model::UserInfo {
        email: u.email.to_string(),
        name: u.name.clone(),
        title: u.title.clone(),
        orgs,
    })
}

/// The resources of `project` (or all), sorted by id.
pub fn list_resources(
    st: &State,
    project: Option<&str>,
) -> Result<Vec<crate::model::ResourceInfo>> {
    let only = project.map(|p| st.need_project(p)).transpose()?;
    let mut out: Vec<_> = st
        .resources
        .iter()
        .flatten()
        .filter(|r| only.is_none_or(|p| r.project == p))
        .filter_map(|r| {
            Some(crate::model::ResourceInfo {
                id: r.id.to_string(),
                project: st.project(r.project)?.id.to_string(),
                kind: r.kind,
                owner: st.user(r.owner)?.email.to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The template called `name`: a built-in one or a custom one.
pub fn template(st: &State, name: &str) -> Option<TemplateDef> {
    builtin(name).or_else(|| st.templates.get(name).cloned())
}

/// Every template name, sorted.
pub fn template_names(st: &State) -> Vec<String> {
    let mut out: Vec<String> = BUILTIN.iter().map(|s| (*s).to_owned()).collect();
    out.extend(st.templates.keys().cloned());
    out.sort();
    out
}

/// The request with this id.
pub fn find_request<'s>(st: &'s State, id: &str) -> Option<&'s AccessRequest> {
    // Ids are `req_<n>` in creation order: the n-th record, unless the list was edited.
    let guess = id
        .strip_prefix("req_")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| st.requests.get(i))
        .filter(|r| r.id == id);
    guess.or_else(|| st.requests.iter().find(|r| r.id == id))
}

pub(crate) fn find_request_mut<'s>(st: &'s mut State, id: &str) -> Result<&'s mut AccessRequest> {
    st.requests
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| NotFoundError::Request(id.to_owned()).into())
}
