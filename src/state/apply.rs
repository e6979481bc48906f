//! [`State::apply`]: the one place that changes the state. Every mutation, replayed
//! journal event, snapshot load and import reaches the records through it, so the
//! indexes the evaluator reads are kept in one place.

use std::collections::BTreeSet;

use super::change::{Change, GrantAttrs, MemberAttrs};
use super::queries::{find_request, find_request_mut};
use super::tables::{next_id, Stamp, State, TargetRef};
use crate::error::{ConflictError, Error, NotFoundError, Result};
use crate::model::keys::{KeyRef, PersonalKey};
use crate::model::requests::{AccessRequest, RequestStatus};
use crate::model::templates::{builtin, TemplateDef};
use crate::model::{Grant, Membership, OrgRec, ProjectRec, ResourceRec};
use crate::roles::{OrgRole, ResourceKind};

impl State {
    /// Applies one planned change. Planning has checked every rule, so an error here
    /// means a replayed change that does not fit the state.
    pub fn apply(&mut self, change: &Change, stamp: Stamp<'_>) -> Result<()> {
        // Users whose check-path view a removal touches, gathered before the records go.
        let org_members = |st: &State, oid: Option<u32>| -> Vec<u32> {
            oid.and_then(|o| st.org(o))
                .map(|o| o.members.iter().copied().collect())
                .unwrap_or_default()
        };
        let touched: Vec<u32> = match change {
            Change::OrgDeleted { org } => org_members(self, self.org_id(org)),
            Change::ProjectDeleted { project } => {
                let oid = self
                    .project_id(project)
                    .and_then(|p| self.project(p))
                    .map(|p| p.org);
                org_members(self, oid)
            }
            _ => Vec::new(),
        };
        let projects: Vec<u32> = match change {
            Change::OrgDeleted { org } => self
                .org_id(org)
                .and_then(|o| self.org(o))
                .map(|o| o.projects.iter().copied().collect())
                .unwrap_or_default(),
            Change::ProjectDeleted { project } | Change::ProjectUpdated { project, .. } => {
                self.project_id(project).into_iter().collect()
            }
            _ => Vec::new(),
        };
        self.apply_records(change, stamp)?;
        if self.who.len() < self.orgs.len() {
            self.who.resize_with(self.orgs.len(), Default::default);
        }
        let user = match change {
            Change::MemberAdded { user, .. }
            | Change::MemberRoleChanged { user, .. }
            | Change::MemberUpdated { user, .. }
            | Change::MemberRemoved { user, .. }
            | Change::GrantAdded { user, .. }
            | Change::GrantChanged { user, .. }
            | Change::GrantRemoved { user, .. } => self.user_id(user),
            _ => None,
        };
        for uid in touched.into_iter().chain(user) {
            self.refresh_user(uid);
        }
        let created = match change {
            Change::ProjectCreated { project, .. } => self.project_id(project),
            _ => None,
        };
        for pid in projects.into_iter().chain(created) {
            self.refresh_project(pid);
            if self.project(pid).is_none() {
                self.keys.drop_project(pid);
            }
        }
        Ok(())
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one arm per kind of change: the single place the state moves"
    )]
    fn apply_records(&mut self, change: &Change, stamp: Stamp<'_>) -> Result<()> {
        match change {
            Change::OrgCreated { org, attrs } => {
                if self.targets.contains_key(org.as_str()) {
                    return Err(crate::error::ConflictError::Exists(format!(
                        "organization `{org}`"
                    ))
                    .into());
                }
                let id = next_id(self.orgs.len());
                self.orgs.push(Some(OrgRec {
                    slug: org.as_str().into(),
                    name: attrs.name.clone(),
                    members_can_invite: members_can_invite(&attrs.settings),
                    settings: attrs.settings.clone(),
                    members: BTreeSet::new(),
                    projects: BTreeSet::new(),
                    owners: 0,
                }));
                self.targets.insert(org.as_str().into(), TargetRef::Org(id));
            }
            Change::OrgUpdated { org, after, .. } => {
                let id = self.need_org(org)?;
                let rec = self.org_mut(id)?;
                rec.name.clone_from(&after.name);
                rec.settings.clone_from(&after.settings);
                rec.members_can_invite = members_can_invite(&after.settings);
            }
            Change::OrgDeleted { org } => {
                let id = self.need_org(org)?;
                let (members, projects) = {
                    let rec = self.org_mut(id)?;
                    (
                        std::mem::take(&mut rec.members),
                        std::mem::take(&mut rec.projects),
                    )
                };
                for pid in projects {
                    self.drop_project(pid);
                }
                for uid in members {
                    if let Some(u) = self.users.get_mut(uid as usize) {
                        u.memberships.retain(|m| m.org != id);
                    }
                }
                self.targets.remove(org.as_str());
                if let Some(slot) = self.orgs.get_mut(id as usize) {
                    *slot = None;
                }
            }
            Change::ProjectCreated {
                project,
                attrs,
                api_key,
            } => {
                if self.targets.contains_key(project.as_str()) {
                    return Err(crate::error::ConflictError::Exists(format!(
                        "project `{project}`"
                    ))
                    .into());
                }
                let org = crate::ids::split_slash(project).map_or("", |(o, _)| o);
                let oid = self.need_org(org)?;
                let id = next_id(self.projects.len());
                self.projects.push(Some(ProjectRec {
                    id: project.as_str().into(),
                    org: oid,
                    attrs: attrs.clone(),
                    resources: BTreeSet::new(),
                }));
                self.org_mut(oid)?.projects.insert(id);
                self.targets
                    .insert(project.as_str().into(), TargetRef::Project(id));
                let token = api_key
                    .clone()
                    .unwrap_or_else(|| crate::model::keys::legacy_project_token(project, stamp.at));
                self.keys.set_project(id, token);
            }
            Change::ProjectUpdated { project, after, .. } => {
                let id = self.need_project(project)?;
                if let Some(Some(p)) = self.projects.get_mut(id as usize) {
                    p.attrs = after.clone();
                }
            }
            Change::ProjectDeleted { project } => {
                let id = self.need_project(project)?;
                let oid = self.project(id).map(|p| p.org);
                if let Some(oid) = oid {
                    let members: Vec<u32> = self
                        .org(oid)
                        .map(|o| o.members.iter().copied().collect())
                        .unwrap_or_default();
                    for uid in members {
                        if let Some(m) = self
                            .users
                            .get_mut(uid as usize)
                            .and_then(|u| u.memberships.iter_mut().find(|m| m.org == oid))
                        {
                            m.grants.retain(|g| g.project != id);
                        }
                    }
                    self.org_mut(oid)?.projects.remove(&id);
                }
                self.drop_project(id);
            }
            Change::MemberAdded {
                org,
                user,
                attrs,
                person,
            } => {
                let oid = self.need_org(org)?;
                let uid = self.ensure_user(user);
                let Some(u) = self.users.get_mut(uid as usize) else {
                    return Err(NotFoundError::User(user.clone()).into());
                };
                if u.memberships.iter().any(|m| m.org == oid) {
                    return Err(crate::error::ConflictError::Exists(format!(
                        "membership of `{user}` in `{org}`"
                    ))
                    .into());
                }
                if person.name.is_some() {
                    u.name.clone_from(&person.name);
                }
                if person.title.is_some() {
                    u.title.clone_from(&person.title);
                }
                let mut m = Membership::new(oid, attrs.role, attrs.expires, stamp.at);
                m.reason = attrs.reason.as_deref().map(Box::from);
                m.reviewed = attrs.reviewed;
                m.external = attrs.external;
                m.granted_by = stamp.actor.map(Into::into);
                // Most users belong to one or two orgs: no room for four. Growing by
                // exactly one (rather than doubling, then shrinking) leaves no freed tail
                // behind each vector for the allocator to keep.
                u.memberships.reserve_exact(1);
                u.memberships.push(m);
                let rec = self.org_mut(oid)?;
                rec.members.insert(uid);
                if attrs.role == OrgRole::Owner {
                    rec.owners += 1;
                }
            }
            Change::MemberRoleChanged {
                org, user, after, ..
            } => {
                let m = self.membership_mut(user, org)?;
                let before = m.role;
                m.role = *after;
                let oid = m.org;
                self.adjust_owners(oid, before, *after)?;
            }
            Change::MemberUpdated {
                org, user, after, ..
            } => {
                let m = self.membership_mut(user, org)?;
                let before = m.role;
                set_member_attrs(m, after);
                let oid = m.org;
                self.adjust_owners(oid, before, after.role)?;
            }
            Change::MemberRemoved { org, user } => {
                let oid = self.need_org(org)?;
                let uid = self
                    .user_id(user)
                    .ok_or_else(|| Error::not_member(user, org))?;
                let mut removed = None;
                if let Some(u) = self.users.get_mut(uid as usize) {
                    if let Some(i) = u.memberships.iter().position(|m| m.org == oid) {
                        removed = Some(u.memberships.remove(i).role);
                    }
                }
                let role = removed.ok_or_else(|| Error::not_member(user, org))?;
                let rec = self.org_mut(oid)?;
                rec.members.remove(&uid);
                if role == OrgRole::Owner {
                    rec.owners = rec.owners.saturating_sub(1);
                }
            }
            Change::UserUpdated { user, after, .. } => {
                // Also how a snapshot restores a user who holds no membership any more.
                let uid = self.ensure_user(user);
                if let Some(u) = self.users.get_mut(uid as usize) {
                    u.name.clone_from(&after.name);
                    u.title.clone_from(&after.title);
                }
            }
            Change::GrantAdded {
                user,
                target,
                attrs,
            }
            | Change::GrantChanged {
                user,
                target,
                after: attrs,
                ..
            } => {
                let grant = new_grant(attrs, stamp);
                self.set_grant(user, target, Some(grant))?;
            }
            Change::GrantRemoved { user, target } => {
                self.set_grant(user, target, None)?;
            }
            Change::ResourceCreated { resource, owner } => {
                if self.targets.contains_key(resource.as_str()) {
                    return Err(crate::error::ConflictError::Exists(format!(
                        "resource `{resource}`"
                    ))
                    .into());
                }
                let mut parts = resource.splitn(4, '/');
                let (Some(o), Some(p), Some(k)) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(NotFoundError::Resource(resource.clone()).into());
                };
                let pid = self.need_project(&format!("{o}/{p}"))?;
                let kind = ResourceKind::parse(k)
                    .ok_or_else(|| Error::from(NotFoundError::Resource(resource.clone())))?;
                let uid = self.ensure_user(owner);
                let id = next_id(self.resources.len());
                self.resources.push(Some(ResourceRec {
                    id: resource.as_str().into(),
                    project: pid,
                    kind,
                    owner: uid,
                }));
                if let Some(Some(p)) = self.projects.get_mut(pid as usize) {
                    p.resources.insert(id);
                }
                self.targets
                    .insert(resource.as_str().into(), TargetRef::Resource(id));
            }
            Change::UserErased {
                user, pseudonym, ..
            } => {
                let uid = self
                    .user_id(user)
                    .ok_or_else(|| crate::error::NotFoundError::User(user.clone()))?;
                let rec = self
                    .users
                    .get_mut(uid as usize)
                    .ok_or_else(|| crate::error::NotFoundError::User(user.clone()))?;
                if !rec.memberships.is_empty() {
                    return Err(crate::error::ConflictError::Rule(format!(
                        "`{user}` still holds memberships and cannot be erased"
                    ))
                    .into());
                }
                rec.name = None;
                rec.title = None;
                if *rec.email != **pseudonym {
                    let old = std::mem::replace(&mut rec.email, pseudonym.as_str().into());
                    if let Some(hot) = self.user_ids.remove(&*old) {
                        self.user_ids.insert(pseudonym.as_str(), hot.view());
                    }
                    self.emails_epoch.renew();
                }
            }
            Change::ActionDefined { def } => {
                if self.catalog.contains(&def.name) {
                    return Err(crate::error::ConflictError::Exists(format!(
                        "action `{}`",
                        def.name
                    ))
                    .into());
                }
                self.catalog.add(def.clone());
            }
            Change::TemplateDefined { def } => apply_template(self, def)?,
            Change::AccessRequestCreated { .. }
            | Change::AccessRequestApproved { .. }
            | Change::AccessRequestDenied { .. } => apply_request(self, change, stamp)?,
            Change::ApiKeyCreated { .. }
            | Change::ApiKeyRotated { .. }
            | Change::ApiKeyRevoked { .. }
            | Change::ProjectKeyRotated { .. } => self.apply_key_change(change, stamp)?,
            Change::ResourceTransferred { .. } | Change::UserOffboarded { .. } => {
                self.apply_offboarding_change(change)?;
            }
            Change::CampaignStarted { .. }
            | Change::CampaignDecided { .. }
            | Change::CampaignClosed { .. } => {
                super::campaigns::apply_campaign(self, change, stamp)?;
            }
        }
        Ok(())
    }

    fn adjust_owners(&mut self, oid: u32, before: OrgRole, after: OrgRole) -> Result<()> {
        let rec = self.org_mut(oid)?;
        if before == OrgRole::Owner && after != OrgRole::Owner {
            rec.owners = rec.owners.saturating_sub(1);
        } else if before != OrgRole::Owner && after == OrgRole::Owner {
            rec.owners += 1;
        }
        Ok(())
    }

    fn set_grant(&mut self, user: &str, target: &str, grant: Option<Grant>) -> Result<()> {
        let (org, slug) = crate::ids::split_slash(target).unwrap_or((target, ""));
        let pid = if slug == "*" {
            None
        } else {
            Some(self.need_project(target)?)
        };
        let m = self.membership_mut(user, org)?;
        match (pid, grant) {
            (None, g) => m.org_wide = g.map(Box::new),
            (Some(pid), Some(g)) => match m.grants.binary_search_by_key(&pid, |g| g.project) {
                Ok(i) => {
                    if let Some(slot) = m.grants.get_mut(i) {
                        *slot = g.on(pid);
                    }
                }
                Err(i) => {
                    // Grants arrive one at a time and most members hold a handful: grow
                    // the vector by exactly one. Doubling then shrinking left a freed tail
                    // behind every vector that glibc kept (large workload: 108.2 -> 98.9
                    // resident B/grant, ad0e2c9).
                    m.grants.reserve_exact(1);
                    m.grants.insert(i, g.on(pid));
                }
            },
            (Some(pid), None) => m.grants.retain(|g| g.project != pid),
        }
        Ok(())
    }

    fn drop_project(&mut self, pid: u32) {
        let Some(p) = self.projects.get_mut(pid as usize).and_then(Option::take) else {
            return;
        };
        for rid in p.resources {
            if let Some(r) = self.resources.get_mut(rid as usize).and_then(Option::take) {
                self.targets.remove(&*r.id);
            }
        }
        self.targets.remove(&*p.id);
    }

    /// Applies a key change (planning checked its rules; an error here is a replayed
    /// change that does not fit).
    fn apply_key_change(&mut self, change: &Change, stamp: Stamp<'_>) -> Result<()> {
        match change {
            Change::ApiKeyCreated {
                key_id,
                user,
                label,
                scopes,
                projects,
                expires,
                hash,
                mask,
            } => {
                let uid = self
                    .user_id(user)
                    .ok_or_else(|| Error::from(NotFoundError::User(user.clone())))?;
                if self.keys.by_id.contains_key(key_id.as_str())
                    || self.keys.by_hash.contains_key(hash.as_str())
                {
                    return Err(ConflictError::Exists(format!("API key `{key_id}`")).into());
                }
                self.keys.insert(PersonalKey {
                    id: key_id.as_str().into(),
                    user: uid,
                    label: label.clone(),
                    scopes: scopes.clone(),
                    projects: projects.clone(),
                    created_at: stamp.at,
                    rotated_at: None,
                    expires: *expires,
                    hash: hash.clone(),
                    mask: mask.clone(),
                    revoked_at: None,
                });
            }
            Change::ApiKeyRotated {
                key_id, hash, mask, ..
            } => {
                let i = self
                    .keys
                    .index(key_id)
                    .ok_or_else(|| Error::from(NotFoundError::Key(key_id.clone())))?;
                if self.keys.by_hash.contains_key(hash.as_str()) {
                    return Err(ConflictError::Exists(format!("secret of `{key_id}`")).into());
                }
                let keys = &mut self.keys;
                let Some(key) = keys.personal.get_mut(i as usize) else {
                    return Err(NotFoundError::Key(key_id.clone()).into());
                };
                if key.revoked_at.is_some() {
                    return Err(ConflictError::Rule(format!(
                        "API key `{key_id}` was revoked and cannot be rotated"
                    ))
                    .into());
                }
                keys.by_hash.remove(key.hash.as_str());
                key.hash.clone_from(hash);
                key.mask.clone_from(mask);
                key.rotated_at = Some(stamp.at);
                keys.by_hash
                    .insert(hash.as_str().into(), KeyRef::Personal(i));
            }
            Change::ApiKeyRevoked { key_id, .. } => {
                let i = self
                    .keys
                    .index(key_id)
                    .ok_or_else(|| Error::from(NotFoundError::Key(key_id.clone())))?;
                let keys = &mut self.keys;
                if let Some(key) = keys.personal.get_mut(i as usize) {
                    if key.revoked_at.is_none() {
                        keys.by_hash.remove(key.hash.as_str());
                        key.revoked_at = Some(stamp.at);
                    }
                }
            }
            Change::ProjectKeyRotated { project, api_key } => {
                let pid = self.need_project(project)?;
                self.keys.set_project(pid, api_key.clone());
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies `resource.transferred` and `user.offboarded`.
    fn apply_offboarding_change(&mut self, change: &Change) -> Result<()> {
        match change {
            Change::ResourceTransferred { resource, to, .. } => {
                let Some(TargetRef::Resource(rid)) = self.target(resource) else {
                    return Err(NotFoundError::Resource(resource.clone()).into());
                };
                let uid = self
                    .user_id(to)
                    .ok_or_else(|| Error::from(NotFoundError::User(to.clone())))?;
                if let Some(Some(r)) = self.resources.get_mut(rid as usize) {
                    r.owner = uid;
                }
            }
            Change::UserOffboarded { user, .. } if self.user_id(user).is_none() => {
                return Err(NotFoundError::User(user.clone()).into());
            }
            _ => {}
        }
        Ok(())
    }
}

fn set_member_attrs(m: &mut Membership, a: &MemberAttrs) {
    m.role = a.role;
    m.set_expires(a.expires);
    m.reason = a.reason.as_deref().map(Box::from);
    m.reviewed = a.reviewed;
    m.external = a.external;
}

fn new_grant(a: &GrantAttrs, stamp: Stamp<'_>) -> Grant {
    Grant::new(
        a.role,
        a.expires,
        a.reason.as_deref(),
        stamp.actor,
        stamp.at,
    )
    .with_review_by(a.review_by)
}

fn members_can_invite(settings: &crate::model::Settings) -> bool {
    settings
        .get("members_can_invite")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Applies `template.defined`.
fn apply_template(st: &mut State, def: &TemplateDef) -> Result<()> {
    if builtin(&def.name).is_some() || st.templates.contains_key(&def.name) {
        return Err(ConflictError::Exists(format!("template `{}`", def.name)).into());
    }
    st.templates.insert(def.name.clone(), def.clone());
    Ok(())
}

/// Applies the `access_request.*` changes.
fn apply_request(st: &mut State, change: &Change, stamp: Stamp<'_>) -> Result<()> {
    match change {
        Change::AccessRequestCreated {
            id,
            user,
            target,
            role,
            reason,
        } => {
            if find_request(st, id).is_some() {
                return Err(ConflictError::Exists(format!("access request `{id}`")).into());
            }
            st.requests.push(AccessRequest {
                id: id.clone(),
                user: user.clone(),
                target: target.clone(),
                role: *role,
                reason: reason.clone(),
                status: RequestStatus::Pending,
                requested_at: stamp.at,
                decided_by: None,
                decided_at: None,
                decision_reason: None,
                expires: None,
                review_by: None,
            });
        }
        Change::AccessRequestApproved {
            id,
            expires,
            review_by,
            ..
        } => {
            let r = find_request_mut(st, id)?;
            r.status = RequestStatus::Approved;
            r.decided_by = stamp.actor.map(str::to_owned);
            r.decided_at = Some(stamp.at);
            r.expires = *expires;
            r.review_by = *review_by;
        }
        Change::AccessRequestDenied { id, reason, .. } => {
            let r = find_request_mut(st, id)?;
            r.status = RequestStatus::Denied;
            r.decided_by = stamp.actor.map(str::to_owned);
            r.decided_at = Some(stamp.at);
            r.decision_reason.clone_from(reason);
        }
        _ => {}
    }
    Ok(())
}
