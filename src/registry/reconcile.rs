//! Loading a registry into a graph that already holds its org: the org's access becomes
//! exactly what the document says, as the smallest list of elementary changes, applied
//! atomically (and so audited change by change once the audit log listens).
//!
//! What "access" covers: the org's name, its projects' attributes (projects the document
//! does not list are kept — deleting one would delete its resources — but lose every grant
//! the document does not give), memberships (role, expiry, reason, review date, external
//! flag, the person's title) and grants. An org the graph does not have yet is created.

use std::collections::{BTreeMap, BTreeSet};

use super::markdown::{self, Registry};
use crate::error::Result;
use crate::graph::Graph;
use crate::state::queries::{grant_attrs, member_attrs};
use crate::state::State;
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};

/// The changes that make `reg`'s org in `st` match the document.
pub fn changes(st: &State, reg: &Registry) -> Result<Vec<Change>> {
    let Some(oid) = st.org_id(&reg.org) else {
        return markdown::changes(reg);
    };
    let org = reg.org.as_str();
    let mut out = Vec::new();
    if let Some(rec) = st.org(oid) {
        if rec.name != reg.name {
            let before = OrgAttrs {
                name: rec.name.clone(),
                settings: rec.settings.clone(),
            };
            let after = OrgAttrs {
                name: reg.name.clone(),
                ..before.clone()
            };
            out.push(Change::OrgUpdated {
                org: org.to_owned(),
                before,
                after,
            });
        }
    }
    for p in &reg.projects {
        let id = format!("{org}/{}", p.slug);
        match st.project_id(&id).and_then(|pid| st.project(pid)) {
            None => out.push(Change::ProjectCreated {
                project: id,
                attrs: p.attrs(crate::model::Settings::new()),
                api_key: None,
            }),
            Some(rec) => {
                let after = p.attrs(rec.attrs.settings.clone());
                if after != rec.attrs {
                    out.push(Change::ProjectUpdated {
                        project: id,
                        before: rec.attrs.clone(),
                        after,
                    });
                }
            }
        }
    }

    // What the document wants: members and their grants, by email and target.
    let wanted: BTreeMap<&str, &markdown::RegistryPerson> =
        reg.people.iter().map(|p| (p.email.as_str(), p)).collect();
    let mut current: BTreeMap<String, (&crate::model::Membership, Option<&str>)> = BTreeMap::new();
    for &uid in st.org(oid).map(|o| &o.members).into_iter().flatten() {
        if let Some(u) = st.user(uid) {
            if let Some(m) = u.membership(oid) {
                current.insert(u.email.to_string(), (m, u.title.as_deref()));
            }
        }
    }
    let target_of = |pid: u32| st.project(pid).map(|p| p.id.to_string());

    // 1. grants that go (including every grant of a member who goes), then those members
    let mut removals = Vec::new();
    let mut gone = Vec::new();
    for (email, (m, _)) in &current {
        let keep: BTreeSet<String> = wanted
            .get(email.as_str())
            .map(|p| p.grants.iter().map(|g| reg.target(&g.target)).collect())
            .unwrap_or_default();
        let mut have: Vec<String> = m
            .grants
            .iter()
            .filter_map(|g| target_of(g.project))
            .collect();
        if m.org_wide.is_some() {
            have.push(format!("{org}/*"));
        }
        for target in have.into_iter().filter(|t| !keep.contains(t)) {
            removals.push(Change::GrantRemoved {
                user: email.clone(),
                target,
            });
        }
        if !wanted.contains_key(email.as_str()) {
            gone.push(Change::MemberRemoved {
                org: org.to_owned(),
                user: email.clone(),
            });
        }
    }
    out.extend(removals);
    out.extend(gone);

    // 2. memberships that come or change
    for p in &reg.people {
        let attrs = MemberAttrs {
            role: p.role,
            expires: p.expires,
            reason: p.reason.clone(),
            reviewed: p.reviewed,
            external: p.external,
        };
        match current.get(&p.email) {
            None => out.push(Change::MemberAdded {
                org: org.to_owned(),
                user: p.email.clone(),
                attrs,
                person: UserAttrs {
                    name: None,
                    title: p.title.clone(),
                },
            }),
            Some((m, title)) => {
                let before = member_attrs(m);
                if before != attrs {
                    out.push(Change::MemberUpdated {
                        org: org.to_owned(),
                        user: p.email.clone(),
                        before,
                        after: attrs,
                    });
                }
                if p.title.is_some() && p.title.as_deref() != *title {
                    let name = st
                        .user_id(&p.email)
                        .and_then(|u| st.user(u))
                        .and_then(|u| u.name.clone());
                    out.push(Change::UserUpdated {
                        user: p.email.clone(),
                        before: UserAttrs {
                            name: name.clone(),
                            title: title.map(str::to_owned),
                        },
                        after: UserAttrs {
                            name,
                            title: p.title.clone(),
                        },
                    });
                }
            }
        }
    }

    // 3. grants that come or change
    for p in &reg.people {
        let existing = current.get(&p.email).map(|(m, _)| *m);
        for g in &p.grants {
            let target = reg.target(&g.target);
            let before = existing.and_then(|m| {
                if target.ends_with("/*") {
                    m.org_wide.as_deref().map(grant_attrs)
                } else {
                    st.project_id(&target)
                        .and_then(|pid| m.grant(pid))
                        .map(grant_attrs)
                }
            });
            // The registry does not write review dates: an approved grant keeps its own.
            let attrs = GrantAttrs {
                role: g.role,
                expires: g.expires,
                reason: g.reason.clone(),
                review_by: before.as_ref().and_then(|b| b.review_by),
            };
            match before {
                None => out.push(Change::GrantAdded {
                    user: p.email.clone(),
                    target,
                    attrs,
                }),
                Some(b) if b != attrs => {
                    out.push(Change::GrantChanged {
                        user: p.email.clone(),
                        target,
                        before: b,
                        after: attrs,
                    });
                }
                Some(_) => {}
            }
        }
    }
    Ok(out)
}

/// Makes `reg`'s org in `graph` match the document, atomically, as the system. Returns the
/// changes applied (empty when the graph already matched).
pub fn import_registry(graph: &Graph, reg: &Registry) -> Result<Vec<Change>> {
    let changes = graph.read(|st| changes(st, reg))?;
    if !changes.is_empty() {
        graph.apply_batch(&changes, None)?;
    }
    Ok(changes)
}
