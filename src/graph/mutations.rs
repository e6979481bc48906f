//! Mutations: each is planned as a list of [`Change`]s after checking, in order, argument
//! validation (`ValidationError`), existence (`NotFoundError`), the actor's authority
//! (`PermissionDenied`, SPEC 2.3) and structural rules (`ConflictError`).

use chrono::NaiveDate;

use super::Graph;
use crate::decision::Decision;
use crate::error::{ConflictError, Error, NotFoundError, PermissionError, Result};
use crate::eval;
use crate::ids::{self, email_key, GrantTarget};
use crate::model::{Membership, ProjectAttrs, Settings};
use crate::roles::{OrgRole, ProjectRole, Role};
use crate::state::queries::{grant_attrs, member_attrs};
use crate::state::State;
use crate::state::{Change, GrantAttrs, MemberAttrs, OrgAttrs, UserAttrs};
use crate::time::{At, Instant};

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

/// A new membership's attributes.
#[derive(Debug, Clone, Default)]
pub struct NewMember {
    /// Org role name (default `member`).
    pub role: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Expiry.
    pub expires: Option<Instant>,
    /// Reason.
    pub reason: Option<String>,
    /// Last review date.
    pub reviewed: Option<NaiveDate>,
    /// Contractor / consultant.
    pub external: bool,
}

/// Changes to a membership: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    /// New expiry (`Some(None)` clears it).
    pub expires: Option<Option<Instant>>,
    /// New reason.
    pub reason: Option<Option<String>>,
    /// New review date.
    pub reviewed: Option<Option<NaiveDate>>,
    /// New external flag.
    pub external: Option<bool>,
    /// New title (of the user).
    pub title: Option<Option<String>>,
    /// New display name (of the user).
    pub name: Option<Option<String>>,
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

pub(crate) fn denied(
    actor: &str,
    action: &str,
    target: &str,
    role: Option<Role>,
    reason: String,
) -> Error {
    PermissionError {
        decision: Box::new(Decision {
            allowed: false,
            user: email_key(actor).into_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            role,
            source: None,
            reason,
        }),
    }
    .into()
}

/// The actor's authority for `action` on `target`: the decision's role, or `PermissionDenied`.
pub(crate) fn authorize(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    action: &str,
    target: &str,
) -> Result<Option<Role>> {
    let d = eval::explain(st, actor, action, target, at)?;
    if d.allowed {
        Ok(d.role)
    } else {
        Err(PermissionError {
            decision: Box::new(d),
        }
        .into())
    }
}

/// The actor's unexpired org role (authority for rank comparisons).
pub(crate) fn org_role(st: &State, at: &mut At<'_>, user: &str, oid: u32) -> Option<OrgRole> {
    let m = membership(st, user, oid)?;
    at.alive(m.expires).then_some(m.role)
}

pub(crate) fn membership<'s>(st: &'s State, user: &str, oid: u32) -> Option<&'s Membership> {
    st.user_id(user)
        .and_then(|u| st.user(u))
        .and_then(|u| u.membership(oid))
}

/// The membership through which `user` receives a grant in org `oid` (slug `org`): it
/// must exist and be unexpired (SPEC 9), or `ConflictError::NotMember` says which fails.
pub(crate) fn grantee<'s>(
    st: &'s State,
    at: &mut At<'_>,
    user: &str,
    oid: u32,
    org: &str,
) -> Result<&'s Membership> {
    let Some(m) = membership(st, user, oid) else {
        return Err(Error::not_member(user, org));
    };
    if !at.alive(m.expires) {
        return Err(ConflictError::NotMember {
            user: user.to_owned(),
            org: org.to_owned(),
            detail: ": the membership expired, so it cannot receive grants".to_owned(),
        }
        .into());
    }
    Ok(m)
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(crate) fn opt_text(s: Option<String>) -> Option<String> {
    s.filter(|t| !t.trim().is_empty())
}

/// Requires the actor to hold at least `rank` in the org, else `PermissionDenied`.
pub(crate) fn require_rank(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    oid: u32,
    rank: OrgRole,
    action: &str,
    org: &str,
    what: &str,
) -> Result<()> {
    let mine = org_role(st, at, actor, oid);
    if mine.is_some_and(|r| r >= rank) {
        Ok(())
    } else {
        let held = mine.map_or_else(
            || "no role".to_owned(),
            |r| format!("org role {}", r.as_str()),
        );
        Err(denied(
            actor,
            action,
            org,
            mine.map(Role::Org),
            format!(
                "{} holds {held} in {org}, but {what} needs {}",
                email_key(actor),
                rank.as_str()
            ),
        ))
    }
}

pub(crate) fn check_owner_expiry(role: OrgRole, expires: Option<Instant>) -> Result<()> {
    if role == OrgRole::Owner && expires.is_some() {
        return Err(Error::rule(
            "an owner membership cannot expire: remove `expires` or give a lower role",
        ));
    }
    Ok(())
}

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

    /// Adds `user` to `org`.
    pub fn add_member(
        &self,
        user: &str,
        org: &str,
        new: NewMember,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        let role = OrgRole::parse("role", new.role.as_deref().unwrap_or("member"))?;
        check_owner_expiry(role, new.expires)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            if let Some(a) = actor {
                authorize_invite(st, at, a, org, role)?;
            }
            if membership(st, &email, oid).is_some() {
                return Err(ConflictError::Exists(format!(
                    "membership of `{email}` in `{org}` (use set_org_role or update_member)"
                ))
                .into());
            }
            Ok((
                vec![Change::MemberAdded {
                    org: org.to_owned(),
                    user: email.clone(),
                    attrs: MemberAttrs {
                        role,
                        expires: new.expires,
                        reason: opt_text(new.reason),
                        reviewed: new.reviewed,
                        external: new.external,
                    },
                    person: UserAttrs {
                        name: opt_text(new.name),
                        title: opt_text(new.title),
                    },
                }],
                (),
            ))
        })
    }

    /// Changes `user`'s org role.
    pub fn set_org_role(
        &self,
        user: &str,
        org: &str,
        role: &str,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        let role = OrgRole::parse("role", role)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            let current = membership(st, &email, oid);
            if let Some(m) = current {
                check_owner_expiry(role, m.expires).map_err(|_| Error::rule(format!(
                    "cannot make `{email}` owner of `{org}`: the membership expires and owners cannot; clear `expires` first")))?;
            }
            if let Some(a) = actor {
                authorize_role_change(st, at, a, &email, org, oid, current, role)?;
            }
            let Some(m) = current else { return Err(Error::not_member(&email, org)) };
            if !at.alive(m.expires) {
                return Err(ConflictError::NotMember { user: email.clone(), org: org.to_owned(),
                    detail: ": the membership expired (renew it with update_member)".to_owned() }.into());
            }
            if m.role == role {
                return Ok((Vec::new(), ()));
            }
            if m.role == OrgRole::Owner && st.org(oid).is_some_and(|o| o.owners <= 1) {
                return Err(ConflictError::LastOwner { user: email.clone(), org: org.to_owned() }.into());
            }
            Ok((vec![Change::MemberRoleChanged { org: org.to_owned(), user: email.clone(), before: m.role, after: role }], ()))
        })
    }

    /// Removes `user` from `org` (and their grants there). A user may always leave.
    pub fn remove_member(&self, user: &str, org: &str, actor: Option<&str>) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        self.mutate(actor, |st, at| {
            Ok((plan_remove_member(st, at, actor, &email, org)?, ()))
        })
    }

    /// Updates a membership record (expiry, reason, review date, external) and the
    /// user's name and title.
    pub fn update_member(
        &self,
        user: &str,
        org: &str,
        patch: MemberPatch,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        ids::org_slug("org", org)?;
        self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            let current = membership(st, &email, oid);
            if let (Some(m), Some(expires)) = (current, patch.expires) {
                check_owner_expiry(m.role, expires)?;
            }
            if let Some(a) = actor {
                if same(a, &email) {
                    return Err(denied(a, "org:manage_roles", org, None, format!(
                        "{email} cannot update their own membership: renewals and reviews are done by someone else")));
                }
                authorize(st, at, a, "org:manage_roles", org)?;
                let mine = org_role(st, at, a, oid).unwrap_or(OrgRole::Member);
                if let Some(m) = current.filter(|m| m.role > mine) {
                    return Err(denied(a, "org:manage_roles", org, Some(Role::Org(mine)), format!(
                        "{} is an org {} of {org} and cannot update {email}, who is {}",
                        email_key(a), mine.as_str(), m.role.as_str())));
                }
            }
            let Some(m) = current else { return Err(Error::not_member(&email, org)) };
            let before = member_attrs(m);
            let mut after = before.clone();
            if let Some(e) = patch.expires { after.expires = e; }
            if let Some(r) = patch.reason { after.reason = opt_text(r); }
            if let Some(r) = patch.reviewed { after.reviewed = r; }
            if let Some(x) = patch.external { after.external = x; }
            let mut changes = Vec::new();
            if after != before {
                changes.push(Change::MemberUpdated { org: org.to_owned(), user: email.clone(), before, after });
            }
            if patch.name.is_some() || patch.title.is_some() {
                let u = st.user_id(&email).and_then(|u| st.user(u));
                let before = UserAttrs { name: u.and_then(|u| u.name.clone()), title: u.and_then(|u| u.title.clone()) };
                let after = UserAttrs {
                    name: patch.name.map_or_else(|| before.name.clone(), opt_text),
                    title: patch.title.map_or_else(|| before.title.clone(), opt_text),
                };
                if after != before {
                    changes.push(Change::UserUpdated { user: email.clone(), before, after });
                }
            }
            Ok((changes, ()))
        })
    }

    /// Grants `user` a project role on `target` (`org/project` or `org/*`), replacing any
    /// grant they hold there.
    pub fn grant(
        &self,
        user: &str,
        target: &str,
        role: &str,
        expires: Option<Instant>,
        reason: Option<String>,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        let gt = ids::grant_target("target", target)?;
        let role = ProjectRole::parse("role", role)?;
        self.mutate(actor, |st, at| {
            let oid = resolve_grant_target(st, gt)?;
            let org = org_of(gt);
            if let Some(a) = actor {
                authorize_grant_to(st, at, a, &email, gt, oid, target)?;
            }
            let m = grantee(st, at, &email, oid, org)?;
            let attrs = GrantAttrs {
                role,
                expires,
                reason: opt_text(reason),
                review_by: None,
            };
            let existing = existing_grant(st, m, gt);
            let change = match existing {
                None => Change::GrantAdded {
                    user: email.clone(),
                    target: target.to_owned(),
                    attrs,
                },
                Some(before) if before == attrs => return Ok((Vec::new(), ())),
                Some(before) => Change::GrantChanged {
                    user: email.clone(),
                    target: target.to_owned(),
                    before,
                    after: attrs,
                },
            };
            Ok((vec![change], ()))
        })
    }

    /// Revokes `user`'s grant on `target`. Anyone may revoke their own grants.
    pub fn revoke(&self, user: &str, target: &str, actor: Option<&str>) -> Result<()> {
        let email = ids::email("user", user)?;
        let gt = ids::grant_target("target", target)?;
        self.mutate(actor, |st, at| {
            let oid = resolve_grant_target(st, gt)?;
            if let Some(a) = actor.filter(|a| !same(a, &email)) {
                authorize_grant(st, at, a, gt, oid, target)?;
            }
            let has = membership(st, &email, oid)
                .and_then(|m| existing_grant(st, m, gt))
                .is_some();
            if !has {
                return Err(NotFoundError::Grant {
                    user: email.clone(),
                    target: target.to_owned(),
                }
                .into());
            }
            Ok((
                vec![Change::GrantRemoved {
                    user: email.clone(),
                    target: target.to_owned(),
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

/// The changes that remove `email` from `org` (their grants there first), after the
/// authority and last-owner rules.
pub(crate) fn plan_remove_member(
    st: &State,
    at: &mut At<'_>,
    actor: Option<&str>,
    email: &str,
    org: &str,
) -> Result<Vec<Change>> {
    let oid = st.need_org(org)?;
    let current = membership(st, email, oid);
    if let Some(a) = actor.filter(|a| !same(a, email)) {
        authorize(st, at, a, "org:remove_member", org)?;
        let mine = org_role(st, at, a, oid).unwrap_or(OrgRole::Member);
        if let Some(m) = current.filter(|m| m.role > mine) {
            return Err(denied(
                a,
                "org:remove_member",
                org,
                Some(Role::Org(mine)),
                format!(
                    "{} is an org {} of {org} and cannot remove {email}, who is {}",
                    email_key(a),
                    mine.as_str(),
                    m.role.as_str()
                ),
            ));
        }
    }
    let Some(m) = current else {
        return Err(Error::not_member(email, org));
    };
    if m.role == OrgRole::Owner && st.org(oid).is_some_and(|o| o.owners <= 1) {
        return Err(ConflictError::LastOwner {
            user: email.to_owned(),
            org: org.to_owned(),
        }
        .into());
    }
    let mut changes = grant_removals(st, email, org, m);
    changes.push(Change::MemberRemoved {
        org: org.to_owned(),
        user: email.to_owned(),
    });
    Ok(changes)
}

/// Authority to add a member with `role` (SPEC 2.3): `org:invite_member`, and a role at
/// most the actor's own.
pub(crate) fn authorize_invite(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    org: &str,
    role: OrgRole,
) -> Result<()> {
    let r = authorize(st, at, actor, "org:invite_member", org)?;
    let mine = match r {
        Some(Role::Org(r)) => r,
        _ => OrgRole::Member,
    };
    if role > mine {
        return Err(denied(actor, "org:invite_member", org, Some(Role::Org(mine)), format!(
            "{} is an org {} of {org} and cannot add someone as {}: the role given must be at most one's own",
            email_key(actor), mine.as_str(), role.as_str())));
    }
    Ok(())
}

/// Authority to change `email`'s org role (SPEC 2.3): `org:manage_roles`, not one's own,
/// on someone at most one's rank, to a role at most one's own.
pub(crate) fn authorize_role_change(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    email: &str,
    org: &str,
    oid: u32,
    current: Option<&Membership>,
    role: OrgRole,
) -> Result<()> {
    if same(actor, email) {
        return Err(denied(
            actor,
            "org:manage_roles",
            org,
            None,
            format!("{email} cannot change their own org role"),
        ));
    }
    authorize(st, at, actor, "org:manage_roles", org)?;
    let mine = org_role(st, at, actor, oid).unwrap_or(OrgRole::Member);
    if let Some(m) = current {
        if m.role > mine {
            return Err(denied(
                actor,
                "org:manage_roles",
                org,
                Some(Role::Org(mine)),
                format!(
                    "{} is an org {} of {org} and cannot change the role of {email}, who is {}",
                    email_key(actor),
                    mine.as_str(),
                    m.role.as_str()
                ),
            ));
        }
    }
    if role > mine {
        return Err(denied(
            actor,
            "org:manage_roles",
            org,
            Some(Role::Org(mine)),
            format!(
                "{} is an org {} of {org} and cannot give the role {}",
                email_key(actor),
                mine.as_str(),
                role.as_str()
            ),
        ));
    }
    Ok(())
}

/// Authority to grant `email` a role on `target`: not oneself, and the right to manage
/// the target's members.
pub(crate) fn authorize_grant_to(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    email: &str,
    gt: GrantTarget<'_>,
    oid: u32,
    target: &str,
) -> Result<()> {
    if same(actor, email) {
        return Err(denied(
            actor,
            "project:manage_members",
            target,
            None,
            format!("{email} cannot grant themselves access"),
        ));
    }
    authorize_grant(st, at, actor, gt, oid, target)
}

pub(crate) fn org_of(gt: GrantTarget<'_>) -> &str {
    match gt {
        GrantTarget::AllProjects(o) => o,
        GrantTarget::Project(p) => p.split_once('/').map_or(p, |(o, _)| o),
    }
}

/// The org of a grant target, checking that the org and project exist.
pub(crate) fn resolve_grant_target(st: &State, gt: GrantTarget<'_>) -> Result<u32> {
    let oid = st.need_org(org_of(gt))?;
    if let GrantTarget::Project(p) = gt {
        st.need_project(p)?;
    }
    Ok(oid)
}

pub(crate) fn authorize_grant(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    gt: GrantTarget<'_>,
    oid: u32,
    target: &str,
) -> Result<()> {
    match gt {
        GrantTarget::Project(p) => {
            authorize(st, at, actor, "project:manage_members", p).map(|_| ())
        }
        GrantTarget::AllProjects(org) => require_rank(
            st,
            at,
            actor,
            oid,
            OrgRole::Admin,
            "project:manage_members",
            target,
            &format!("a grant on all projects of {org}"),
        ),
    }
}

pub(crate) fn existing_grant(
    st: &State,
    m: &Membership,
    gt: GrantTarget<'_>,
) -> Option<GrantAttrs> {
    match gt {
        GrantTarget::AllProjects(_) => m.org_wide.as_ref().map(grant_attrs),
        GrantTarget::Project(p) => st
            .project_id(p)
            .and_then(|pid| m.grant(pid))
            .map(grant_attrs),
    }
}

/// `grant.removed` for every grant of a membership: projects in id order, then `org/*`.
fn grant_removals(st: &State, email: &str, org: &str, m: &Membership) -> Vec<Change> {
    let mut targets: Vec<String> = m
        .grants
        .iter()
        .filter_map(|(pid, _)| st.project(*pid).map(|p| p.id.to_string()))
        .collect();
    targets.sort();
    if m.org_wide.is_some() {
        targets.push(format!("{org}/*"));
    }
    targets
        .into_iter()
        .map(|target| Change::GrantRemoved {
            user: email.to_owned(),
            target,
        })
        .collect()
}

fn validate_settings(settings: &Settings) -> Result<()> {
    if let Some(v) = settings.get("members_can_invite") {
        if !v.is_boolean() {
            return Err(Error::invalid(
                "members_can_invite",
                v.to_string(),
                "true or false",
            ));
        }
    }
    Ok(())
}
