//! The graph's state: records, indexes, and [`State::apply`], the one place that changes
//! them.

use std::collections::BTreeSet;

use compact_str::CompactString;

use super::change::{Change, GrantAttrs, MemberAttrs};
use crate::error::{Error, NotFoundError, Result};
use crate::eval::Catalog;
use crate::ids::{email_key, new_map, Map};
use crate::model::{
    Grant, HotProject, HotUser, Membership, OrgRec, OrgRole, ProjectRec, ResourceKind, ResourceRec,
    UserRec,
};
use crate::time::Instant;

/// What a target string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRef {
    /// An org.
    Org(u32),
    /// A project.
    Project(u32),
    /// A resource.
    Resource(u32),
}

/// Who made a change and when: stamps `granted_by` / `granted_at`.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// The instant.
    pub at: Instant,
    /// The actor's email (`None` = the system).
    pub actor: Option<&'a str>,
}

/// Records and indexes.
///
/// INVARIANT: `targets` maps exactly the slugs of live orgs, the ids of live projects and
/// the ids of live resources; removed records leave `None` slots (ids are never reused).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Users by id.
    pub users: Vec<UserRec>,
    /// Email → user id. Keys up to 24 bytes are stored inline, so a lookup compares
    /// them without following a pointer.
    pub user_ids: Map<CompactString, HotUser>,
    /// Check-path view of each project, by project id.
    pub hot_projects: Vec<HotProject>,
    /// Orgs by id.
    pub orgs: Vec<Option<OrgRec>>,
    /// Projects by id.
    pub projects: Vec<Option<ProjectRec>>,
    /// Resources by id.
    pub resources: Vec<Option<ResourceRec>>,
    /// Org slug / project id / resource id → record.
    pub targets: Map<CompactString, TargetRef>,
    /// The action catalogue.
    pub catalog: Catalog,
    /// Custom onboarding templates, by name (the built-in ones are not stored).
    pub templates: std::collections::BTreeMap<String, crate::governance::templates::TemplateDef>,
    /// Access requests, in the order they were made (`req_1`, `req_2` …).
    pub requests: Vec<crate::governance::requests::AccessRequest>,
    /// Personal and project API keys.
    pub keys: crate::model::keys::KeyStore,
}

fn next_id(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl State {
    /// An empty state with the default catalogue.
    pub fn new() -> Self {
        State {
            user_ids: new_map(),
            targets: new_map(),
            ..State::default()
        }
    }

    /// The check-path view of the user with this email (any case).
    #[inline]
    pub fn hot_user(&self, email: &str) -> Option<&HotUser> {
        if let Some(u) = self.user_ids.get(email) {
            return Some(u);
        }
        match email_key(email) {
            std::borrow::Cow::Owned(lower) => self.user_ids.get(lower.as_str()),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }

    /// The check-path view of user `uid`.
    #[inline]
    pub fn hot_by_id(&self, uid: u32) -> Option<&HotUser> {
        self.user(uid).and_then(|u| self.user_ids.get(&*u.email))
    }

    /// The id of the user with this email (any case).
    #[inline]
    pub fn user_id(&self, email: &str) -> Option<u32> {
        self.hot_user(email).map(|u| u.id)
    }

    /// The check-path view of project `pid`.
    #[inline]
    pub fn hot_project(&self, pid: u32) -> Option<&HotProject> {
        self.hot_projects.get(pid as usize)
    }

    /// Rebuilds the check-path view of user `uid` from their records.
    fn refresh_user(&mut self, uid: u32) {
        let Some(u) = self.users.get(uid as usize) else {
            return;
        };
        let hot = HotUser {
            id: uid,
            memberships: u.memberships.iter().map(Membership::hot).collect(),
        };
        if let Some(slot) = self.user_ids.get_mut(&*u.email) {
            *slot = hot;
        }
    }

    /// Rebuilds every check-path view (users and projects) from the records, replacing
    /// what was there: how a bulk loader that filled the records directly (a snapshot
    /// read whole) finishes, instead of refreshing the views once per change.
    pub fn rebuild_hot(&mut self) {
        let mut user_ids = crate::ids::Map::with_capacity_and_hasher(
            self.users.len(),
            foldhash::fast::RandomState::default(),
        );
        for (i, u) in self.users.iter().enumerate() {
            let hot = HotUser {
                id: next_id(i),
                memberships: u.memberships.iter().map(Membership::hot).collect(),
            };
            user_ids.insert(CompactString::from(&*u.email), hot);
        }
        self.user_ids = user_ids;
        self.hot_projects = self
            .projects
            .iter()
            .map(|p| {
                p.as_ref().map_or_else(HotProject::default, |p| HotProject {
                    org: p.org,
                    restricted: p.attrs.restricted,
                    default_role: p.attrs.default_role,
                })
            })
            .collect();
    }

    /// Rebuilds the check-path view of project `pid` from its record.
    fn refresh_project(&mut self, pid: u32) {
        let hot = self
            .project(pid)
            .map_or_else(HotProject::default, |p| HotProject {
                org: p.org,
                restricted: p.attrs.restricted,
                default_role: p.attrs.default_role,
            });
        let i = pid as usize;
        if self.hot_projects.len() <= i {
            self.hot_projects.resize(i + 1, HotProject::default());
        }
        if let Some(slot) = self.hot_projects.get_mut(i) {
            *slot = hot;
        }
    }

    /// The user record with this id.
    #[inline]
    pub fn user(&self, id: u32) -> Option<&UserRec> {
        self.users.get(id as usize)
    }

    /// The org with this id.
    #[inline]
    pub fn org(&self, id: u32) -> Option<&OrgRec> {
        self.orgs.get(id as usize).and_then(Option::as_ref)
    }

    /// The project with this id.
    #[inline]
    pub fn project(&self, id: u32) -> Option<&ProjectRec> {
        self.projects.get(id as usize).and_then(Option::as_ref)
    }

    /// The resource with this id.
    #[inline]
    pub fn resource(&self, id: u32) -> Option<&ResourceRec> {
        self.resources.get(id as usize).and_then(Option::as_ref)
    }

    /// What `target` names, if anything.
    #[inline]
    pub fn target(&self, target: &str) -> Option<TargetRef> {
        self.targets.get(target).copied()
    }

    /// The org with this slug.
    pub fn org_id(&self, slug: &str) -> Option<u32> {
        match self.target(slug) {
            Some(TargetRef::Org(id)) => Some(id),
            _ => None,
        }
    }

    /// The project with this id.
    pub fn project_id(&self, id: &str) -> Option<u32> {
        match self.target(id) {
            Some(TargetRef::Project(p)) => Some(p),
            _ => None,
        }
    }

    /// Like [`State::org_id`], raising `NotFoundError`.
    pub fn need_org(&self, slug: &str) -> Result<u32> {
        self.org_id(slug)
            .ok_or_else(|| NotFoundError::Org(slug.to_owned()).into())
    }

    /// Like [`State::project_id`], raising `NotFoundError`.
    pub fn need_project(&self, id: &str) -> Result<u32> {
        self.project_id(id)
            .ok_or_else(|| NotFoundError::Project(id.to_owned()).into())
    }

    fn org_mut(&mut self, id: u32) -> Result<&mut OrgRec> {
        self.orgs
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| NotFoundError::Org(format!("#{id}")).into())
    }

    fn membership_mut(&mut self, user: &str, org: &str) -> Result<&mut Membership> {
        let oid = self.need_org(org)?;
        let uid = self
            .user_id(user)
            .ok_or_else(|| Error::from(NotFoundError::User(user.to_owned())))?;
        self.users
            .get_mut(uid as usize)
            .and_then(|u| u.memberships.iter_mut().find(|m| m.org == oid))
            .ok_or_else(|| not_member(user, org))
    }

    fn ensure_user(&mut self, email: &str) -> u32 {
        if let Some(id) = self.user_id(email) {
            return id;
        }
        let id = next_id(self.users.len());
        self.users.push(UserRec {
            email: email.into(),
            name: None,
            title: None,
            memberships: Vec::new(),
        });
        self.user_ids.insert(
            email.into(),
            HotUser {
                id,
                memberships: smallvec::SmallVec::new(),
            },
        );
        id
    }

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
                let org = project.split_once('/').map_or("", |(o, _)| o);
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
                            m.grants.retain(|(p, _)| *p != id);
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
                u.memberships.push(Membership {
                    org: oid,
                    role: attrs.role,
                    expires: attrs.expires,
                    reason: attrs.reason.clone(),
                    reviewed: attrs.reviewed,
                    external: attrs.external,
                    granted_by: stamp.actor.map(Into::into),
                    granted_at: stamp.at,
                    org_wide: None,
                    grants: Vec::new(),
                });
                // Most users belong to one or two orgs: no room for four.
                u.memberships.shrink_to_fit();
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
                let uid = self.user_id(user).ok_or_else(|| not_member(user, org))?;
                let mut removed = None;
                if let Some(u) = self.users.get_mut(uid as usize) {
                    if let Some(i) = u.memberships.iter().position(|m| m.org == oid) {
                        removed = Some(u.memberships.remove(i).role);
                    }
                }
                let role = removed.ok_or_else(|| not_member(user, org))?;
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
                        self.user_ids.insert(pseudonym.as_str().into(), hot);
                    }
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
            Change::TemplateDefined { .. }
            | Change::AccessRequestCreated { .. }
            | Change::AccessRequestApproved { .. }
            | Change::AccessRequestDenied { .. } => {
                crate::governance::apply(self, change, stamp)?;
            }
            Change::ApiKeyCreated { .. }
            | Change::ApiKeyRotated { .. }
            | Change::ApiKeyRevoked { .. }
            | Change::ProjectKeyRotated { .. } => self.apply_key_change(change, stamp)?,
            Change::ResourceTransferred { .. } | Change::UserOffboarded { .. } => {
                self.apply_offboarding_change(change)?;
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
        let (org, slug) = target.split_once('/').unwrap_or((target, ""));
        let pid = if slug == "*" {
            None
        } else {
            Some(self.need_project(target)?)
        };
        let m = self.membership_mut(user, org)?;
        match (pid, grant) {
            (None, g) => m.org_wide = g,
            (Some(pid), Some(g)) => match m.grants.binary_search_by_key(&pid, |(p, _)| *p) {
                Ok(i) => {
                    if let Some(slot) = m.grants.get_mut(i) {
                        slot.1 = g;
                    }
                }
                Err(i) => {
                    m.grants.insert(i, (pid, g));
                    // Grants arrive one at a time; keep the vector exact rather than
                    // doubling (most members hold a handful).
                    m.grants.shrink_to_fit();
                }
            },
            (Some(pid), None) => m.grants.retain(|(p, _)| *p != pid),
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
}

/// A membership's attributes, as a [`MemberAttrs`] value.
pub fn member_attrs(m: &Membership) -> MemberAttrs {
    MemberAttrs {
        role: m.role,
        expires: m.expires,
        reason: m.reason.clone(),
        reviewed: m.reviewed,
        external: m.external,
    }
}

/// A grant's attributes, as a [`GrantAttrs`] value.
pub fn grant_attrs(g: &Grant) -> GrantAttrs {
    GrantAttrs {
        role: g.role,
        expires: g.expires,
        reason: g.reason().map(str::to_owned),
        review_by: g.review_by(),
    }
}

fn set_member_attrs(m: &mut Membership, a: &MemberAttrs) {
    m.role = a.role;
    m.expires = a.expires;
    m.reason.clone_from(&a.reason);
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

pub(crate) fn not_member(user: &str, org: &str) -> Error {
    crate::error::ConflictError::NotMember {
        user: user.to_owned(),
        org: org.to_owned(),
        detail: String::new(),
    }
    .into()
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
            expires: m.expires,
            reason: m.reason.clone(),
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
        expires: g.expires,
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
            for (pid, g) in &m.grants {
                let Some(p) = st.project(*pid) else { continue };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, NewMember, NewProject, ProjectPatch};

    /// The check-path index equals a fresh rebuild from the records.
    fn hot_index_is_consistent(st: &State) -> bool {
        let users_ok = st.users.iter().enumerate().all(|(i, u)| {
            let fresh = HotUser {
                id: u32::try_from(i).unwrap_or(u32::MAX),
                memberships: u.memberships.iter().map(Membership::hot).collect(),
            };
            st.user_ids.get(&*u.email) == Some(&fresh)
        });
        let projects_ok = st.projects.iter().enumerate().all(|(i, p)| match p {
            None => true,
            Some(p) => st.hot_projects.get(i).is_some_and(|h| {
                h.org == p.org
                    && h.restricted == p.attrs.restricted
                    && h.default_role == p.attrs.default_role
            }),
        });
        users_ok && projects_ok && st.user_ids.len() == st.users.len()
    }

    #[test]
    fn a_batch_that_does_not_fit_changes_nothing() -> Result<()> {
        use crate::graph::{Change, GrantAttrs, OrgAttrs};
        use crate::model::ProjectRole;
        let g = Graph::new();
        g.add_org("acme", None, "o@x.io", None)?;
        let before = (g.orgs(), g.members("acme")?, g.grants(None, None));
        let batch = [
            Change::OrgCreated {
                org: "beta".into(),
                attrs: OrgAttrs::default(),
            },
            Change::ProjectCreated {
                project: "acme/web".into(),
                attrs: crate::model::ProjectAttrs::default(),
                api_key: None,
            },
            // nobody@x.io is no member of acme: the whole batch must be refused
            Change::GrantAdded {
                user: "nobody@x.io".into(),
                target: "acme/web".into(),
                attrs: GrantAttrs {
                    role: ProjectRole::Viewer,
                    expires: None,
                    reason: None,
                    review_by: None,
                },
            },
        ];
        assert!(g.apply_batch(&batch, None).is_err());
        assert_eq!((g.orgs(), g.members("acme")?, g.grants(None, None)), before);
        assert!(g.projects(None)?.is_empty());
        assert!(g.read(hot_index_is_consistent));
        g.apply_batch(batch.get(..2).unwrap_or_default(), None)?;
        assert_eq!(g.orgs().len(), 2);
        assert!(g.read(hot_index_is_consistent));
        Ok(())
    }

    #[test]
    fn rebuild_hot_gives_the_index_changes_maintain() -> Result<()> {
        let g = Graph::new();
        g.add_org("acme", None, "o@x.io", None)?;
        g.add_project("acme/a", NewProject::default(), None)?;
        g.add_project("acme/b", NewProject::default(), None)?;
        g.remove_project("acme/a", None)?; // a `None` slot
        g.add_member("m@x.io", "acme", NewMember::default(), None)?;
        g.grant("m@x.io", "acme/b", "admin", Some(Instant(5)), None, None)?;
        g.grant("m@x.io", "acme/*", "viewer", None, None, None)?;
        let mut st = g.snapshot_state();
        st.user_ids = crate::ids::new_map();
        st.hot_projects.clear();
        st.rebuild_hot();
        assert!(hot_index_is_consistent(&st));
        assert_eq!(st.hot_projects, g.read(|s| s.hot_projects.clone()));
        Ok(())
    }

    #[test]
    fn hot_index_follows_every_kind_of_change() -> Result<()> {
        let g = Graph::new();
        g.set_time(Some(Instant(0)));
        let consistent = |g: &Graph| g.read(hot_index_is_consistent);
        g.add_org("acme", None, "o@x.io", None)?;
        g.add_org("beta", None, "o@x.io", None)?;
        for p in ["acme/a", "acme/b", "beta/c"] {
            g.add_project(p, NewProject::default(), None)?;
        }
        let member = NewMember {
            expires: Some(Instant(10)),
            ..NewMember::default()
        };
        g.add_member("m@x.io", "acme", member, None)?;
        g.add_member("m@x.io", "beta", NewMember::default(), None)?;
        g.grant("m@x.io", "acme/a", "viewer", None, None, None)?;
        g.grant("m@x.io", "acme/b", "admin", Some(Instant(5)), None, None)?;
        g.grant("m@x.io", "acme/*", "member", None, None, None)?;
        g.grant("m@x.io", "beta/c", "member", None, None, None)?;
        assert!(consistent(&g));
        g.grant("m@x.io", "acme/a", "admin", None, None, None)?;
        g.set_org_role("m@x.io", "acme", "admin", None)?;
        let patch = ProjectPatch {
            default_role: Some(Some("viewer".into())),
            ..ProjectPatch::default()
        };
        g.update_project("acme/b", patch, None)?;
        assert!(consistent(&g));
        g.remove_project("acme/a", None)?;
        assert!(consistent(&g));
        g.revoke("m@x.io", "acme/*", None)?;
        g.remove_member("m@x.io", "beta", None)?;
        assert!(consistent(&g));
        g.remove_org("acme", None)?;
        assert!(consistent(&g));
        assert!(!g.check("m@x.io", "project:view", "acme/b", None)?);
        Ok(())
    }
}
