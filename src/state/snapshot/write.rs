//! Writing a state as a snapshot.

use std::borrow::Cow;

use crate::error::Error;
use crate::model::actions::{ActionDef, Need};
use crate::model::requests::AccessRequest;
use crate::model::templates::TemplateDef;
use crate::model::{Grant, Membership, OrgRec, UserRec};
use crate::roles::ProjectRole;
use crate::state::queries;
use crate::state::State;

use super::doc::{
    ActionJson, ApiKeyJson, Doc, GrantJson, MembershipJson, OrgJson, ProjectJson, RequestJson,
    ResourceJson, TemplateJson, UserJson, FORMAT, VERSION,
};

// ---------------------------------------------------------------------------------------
// Writing

/// The whole state as a JSON snapshot: deterministic, pretty-printed, newline-terminated.
///
/// The document borrows the state's strings (a graph writes it under its read lock).
pub fn write(st: &State) -> crate::error::Result<String> {
    let cannot = |e: &dyn std::fmt::Display| Error::rule(format!("cannot write the snapshot: {e}"));
    let doc = snapshot(st)?;
    // About 150 bytes a grant or membership record: one allocation, not a doubling
    // series of copies of a text of hundreds of megabytes.
    let records = doc.grants.len() + doc.memberships.len() + doc.users.len();
    let mut out = Vec::with_capacity(150 * records + 4096);
    serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| cannot(&e))?;
    out.push(b'\n');
    String::from_utf8(out).map_err(|e| cannot(&e))
}

fn snapshot(st: &State) -> crate::error::Result<Doc<'_>> {
    let mut orgs: Vec<(u32, &OrgRec)> = st
        .orgs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((u32::try_from(i).ok()?, o.as_ref()?)))
        .collect();
    orgs.sort_unstable_by(|a, b| a.1.slug.cmp(&b.1.slug));
    let mut users: Vec<&UserRec> = st.users.iter().collect();
    users.sort_unstable_by(|a, b| a.email.cmp(&b.email));

    let mut memberships = Vec::new();
    let mut members: Vec<(&UserRec, &Membership)> = Vec::new();
    for (oid, org) in &orgs {
        members.clear();
        members.extend(org.members.iter().filter_map(|&uid| {
            let u = st.user(uid)?;
            Some((u, u.membership(*oid)?))
        }));
        members.sort_unstable_by(|a, b| a.0.email.cmp(&b.0.email));
        memberships.extend(members.iter().map(|(u, m)| MembershipJson {
            user: Cow::Borrowed(&u.email),
            org: Cow::Borrowed(&org.slug),
            role: m.role,
            expires: m.expires(),
            reason: m.reason.as_deref().map(Cow::Borrowed),
            reviewed: m.reviewed,
            external: m.external,
            granted_by: m.granted_by.as_deref().map(Cow::Borrowed),
            granted_at: m.granted_at,
        }));
    }

    // Grants by user (email order), then target: each user's few grants sorted alone.
    let mut grants = Vec::new();
    let mut theirs: Vec<(Cow<'_, str>, &Grant)> = Vec::new();
    for u in &users {
        theirs.clear();
        for m in &u.memberships {
            let Some(org) = st.org(m.org) else { continue };
            if let Some(g) = &m.org_wide {
                theirs.push((Cow::Owned(format!("{}/*", org.slug)), g));
            }
            theirs.extend(
                m.grants
                    .iter()
                    .filter_map(|g| Some((Cow::Borrowed(&*st.project(g.project)?.id), g))),
            );
        }
        theirs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        grants.extend(theirs.drain(..).map(|(target, g)| GrantJson {
            user: Cow::Borrowed(&u.email),
            target,
            role: g.role,
            expires: g.expires(),
            reason: g.reason().map(Cow::Borrowed),
            granted_by: g.granted_by().map(Cow::Borrowed),
            granted_at: g.granted_at,
            review_by: g.review_by(),
        }));
    }

    let mut actions: Vec<ActionJson> = st.catalog.custom().map(action_json).collect();
    actions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Doc {
        format: FORMAT.to_owned(),
        version: VERSION,
        orgs: orgs
            .iter()
            .map(|(_, o)| OrgJson {
                slug: o.slug.to_string(),
                name: o.name.clone(),
                settings: o.settings.clone(),
            })
            .collect(),
        projects: queries::list_projects(st, None)?
            .into_iter()
            .map(|p| ProjectJson {
                api_key: project_token(st, &p.id),
                id: p.id,
                name: p.attrs.name,
                environment: p.attrs.environment,
                restricted: p.attrs.restricted,
                pii: p.attrs.pii,
                default_role: p.attrs.default_role,
                settings: p.attrs.settings,
            })
            .collect(),
        users: users
            .iter()
            .map(|u| UserJson {
                email: Cow::Borrowed(&u.email),
                name: u.name.as_deref().map(Cow::Borrowed),
                title: u.title.as_deref().map(Cow::Borrowed),
            })
            .collect(),
        memberships,
        grants,
        resources: queries::list_resources(st, None)?
            .into_iter()
            .map(|r| ResourceJson {
                id: r.id,
                owner: r.owner,
            })
            .collect(),
        actions,
        api_keys: api_keys_json(st),
        templates: st.templates.values().map(template_json).collect(),
        access_requests: st.requests.iter().map(request_json).collect(),
        campaigns: super::campaigns::write(st),
    })
}

fn template_json(t: &TemplateDef) -> TemplateJson {
    TemplateJson {
        name: t.name.clone(),
        org_role: t.org_role,
        grants: t
            .grants
            .iter()
            .map(|(k, r)| (k.clone(), r.as_str().to_owned()))
            .collect(),
        external: t.external,
        requires_expiry: t.requires_expiry,
    }
}

fn request_json(r: &AccessRequest) -> RequestJson {
    RequestJson {
        id: r.id.clone(),
        user: r.user.clone(),
        target: r.target.clone(),
        role: r.role,
        reason: r.reason.clone(),
        status: r.status.as_str().to_owned(),
        requested_at: r.requested_at,
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at,
        decision_reason: r.decision_reason.clone(),
        expires: r.expires,
        review_by: r.review_by,
    }
}

fn project_token(st: &State, id: &str) -> Option<String> {
    st.project_id(id)
        .and_then(|pid| st.keys.project.get(&pid))
        .map(|k| k.token.clone())
}

fn api_keys_json(st: &State) -> Vec<ApiKeyJson> {
    let mut out: Vec<ApiKeyJson> = st
        .keys
        .personal
        .iter()
        .map(|k| ApiKeyJson {
            id: k.id.to_string(),
            user: st
                .user(k.user)
                .map(|u| u.email.to_string())
                .unwrap_or_default(),
            label: k.label.clone(),
            scopes: k.scopes.clone(),
            projects: k.projects.clone(),
            created_at: k.created_at,
            rotated_at: k.rotated_at,
            expires: k.expires,
            revoked_at: k.revoked_at,
            hash: k.hash.clone(),
            mask: k.mask.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn action_json(def: &ActionDef) -> ActionJson {
    let (scope, min_role, owner_role) = match def.need {
        Need::Org { min_role } => ("org", min_role.as_str(), None),
        Need::Project {
            min_role,
            owner_role,
        } => (
            "project",
            min_role.as_str(),
            owner_role.map(ProjectRole::as_str),
        ),
    };
    ActionJson {
        name: def.name.clone(),
        scope: scope.to_owned(),
        min_role: min_role.to_owned(),
        owner_role: owner_role.map(str::to_owned),
    }
}
