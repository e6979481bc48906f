//! API keys on the graph (SPEC 2.4): creating, rotating and revoking personal keys,
//! rotating project keys, authenticating a secret, checks made with a key, and the
//! listing. Every key mutation is an audited [`Change`] that carries the secret's hash,
//! never the secret, so replaying a journal rebuilds the same keys.
//!
//! Authority (SPEC 2.3): a personal key is created and rotated by its own user (or the
//! system) and revoked by its user or by an owner of one of the user's orgs; a project
//! key is rotated with `project_key:rotate` on the project.
//!
//! Two rules hold for every mutation, through [`complete`]: a new project gets a random
//! public key before its `project.created` event is written, and a user who leaves their
//! last org — by leaving, removal, `remove_org`, sync deprovisioning, offboarding or
//! erasure — has their unrevoked personal keys revoked (`api_key.revoked`, reason
//! `user left`) right after the `member.removed` that took the last membership.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::front::Graph;
use super::rules::{authorize, denied, org_role, same};
use crate::decision::Decision;
use crate::error::{ConflictError, Error, NotFoundError, PermissionError, Result};
use crate::eval::{self, Principal, PrincipalKind, Subject};
use crate::ids::{self, email_key};
use crate::model::keys::{self as k, KeyRef, PersonalKey};
use crate::roles::OrgRole;
use crate::state::Change;
use crate::state::State;
use crate::time::{At, Instant};

/// A new personal key's settings.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// What it is for (`ci`, `notebook` ...).
    pub label: String,
    /// Scopes narrowing it; `None` = everything its user may do; `Some(vec![])` is refused.
    pub scopes: Option<Vec<String>>,
    /// Projects it is restricted to; `None` = every project; `Some(vec![])` is refused.
    pub projects: Option<Vec<String>>,
    /// It stops working at this instant.
    pub expires: Option<Instant>,
}

/// A personal key, as listed: everything but the secret, which is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyInfo {
    /// `pk_<hex>`.
    pub id: String,
    /// The key's user.
    pub user: String,
    /// What it is for.
    pub label: String,
    /// Scopes (`None`: unnarrowed).
    pub scopes: Option<Vec<String>>,
    /// Projects (`None`: unrestricted).
    pub projects: Option<Vec<String>>,
    /// Created (graph clock).
    pub created_at: Instant,
    /// Last rotated.
    pub rotated_at: Option<Instant>,
    /// Expiry.
    pub expires: Option<Instant>,
    /// `agp_...abcd`.
    pub mask: String,
    /// When it was revoked.
    pub revoked_at: Option<Instant>,
    /// Past its expiry now.
    pub expired: bool,
    /// Its user holds no unexpired membership now: it can do nothing until revoked.
    pub dead: bool,
}

impl KeyInfo {
    /// Usable now: not revoked, not expired, not dead.
    pub fn active(&self) -> bool {
        self.revoked_at.is_none() && !self.expired && !self.dead
    }
}

/// True when user `uid` holds an unexpired membership.
fn has_live_membership(st: &State, uid: u32, at: &mut At<'_>) -> bool {
    st.user(uid)
        .is_some_and(|u| u.memberships.iter().any(|m| at.alive(m.expires())))
}

fn user_email(st: &State, uid: u32) -> String {
    st.user(uid)
        .map(|u| u.email.to_string())
        .unwrap_or_default()
}

fn key_info(st: &State, key: &PersonalKey, at: &mut At<'_>) -> KeyInfo {
    KeyInfo {
        id: key.id.to_string(),
        user: user_email(st, key.user),
        label: key.label.clone(),
        scopes: key.scopes.clone(),
        projects: key.projects.clone(),
        created_at: key.created_at,
        rotated_at: key.rotated_at,
        expires: key.expires,
        mask: key.mask.clone(),
        revoked_at: key.revoked_at,
        expired: !at.alive(key.expires),
        dead: !has_live_membership(st, key.user, at),
    }
}

/// Completes a planned list of changes with what every mutation owes (see the module
/// docs): random keys for new projects, and the revocation of the personal keys of users
/// who leave their last org.
pub(crate) fn complete(st: &State, changes: &mut Vec<Change>) -> Result<()> {
    for c in changes.iter_mut() {
        if let Change::ProjectCreated { api_key, .. } = c {
            if api_key.is_none() {
                *api_key = Some(k::new_project_token()?);
            }
        }
    }
    for (after, revocations) in leaver_revocations(st, changes).into_iter().rev() {
        changes.splice((after + 1)..=after, revocations);
    }
    Ok(())
}

/// [`complete`] for a borrowed list (imports, reviewed plans): the changes themselves,
/// borrowed, except those it fills in or adds — a large import is not copied.
pub(crate) fn completed<'c>(st: &State, changes: &'c [Change]) -> Result<Vec<Cow<'c, Change>>> {
    let mut out: Vec<Cow<'c, Change>> = Vec::with_capacity(changes.len());
    for c in changes {
        if let Change::ProjectCreated {
            api_key: None,
            project,
            attrs,
        } = c
        {
            out.push(Cow::Owned(Change::ProjectCreated {
                project: project.clone(),
                attrs: attrs.clone(),
                api_key: Some(k::new_project_token()?),
            }));
        } else {
            out.push(Cow::Borrowed(c));
        }
    }
    for (after, revocations) in leaver_revocations(st, changes).into_iter().rev() {
        out.splice((after + 1)..=after, revocations.into_iter().map(Cow::Owned));
    }
    Ok(out)
}

/// For each user the changes leave without any membership who still holds unrevoked
/// keys: the index of their last `member.removed` and the revocations to put after it.
fn leaver_revocations(st: &State, changes: &[Change]) -> Vec<(usize, Vec<Change>)> {
    let mut leaving: Vec<(&str, usize)> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        if let Change::MemberRemoved { user, .. } = c {
            match leaving.iter_mut().find(|(u, _)| same(u, user)) {
                Some(slot) => slot.1 = i,
                None => leaving.push((user, i)),
            }
        }
    }
    let revoked: BTreeSet<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::ApiKeyRevoked { key_id, .. } => Some(key_id.as_str()),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (email, at) in leaving {
        let Some(uid) = st.user_id(email) else {
            continue;
        };
        let mut orgs: BTreeSet<String> = st
            .user(uid)
            .map(|u| {
                u.memberships
                    .iter()
                    .filter_map(|m| st.org(m.org).map(|o| o.slug.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        for c in changes {
            match c {
                Change::MemberAdded { user, org, .. } if same(user, email) => {
                    orgs.insert(org.clone());
                }
                Change::MemberRemoved { user, org } if same(user, email) => {
                    orgs.remove(org);
                }
                Change::OrgDeleted { org } => {
                    orgs.remove(org);
                }
                _ => {}
            }
        }
        if !orgs.is_empty() {
            continue;
        }
        let list: Vec<Change> = st
            .keys
            .active_of(uid)
            .filter(|key| !revoked.contains(&*key.id))
            .map(|key| Change::ApiKeyRevoked {
                key_id: key.id.to_string(),
                user: user_email(st, uid),
                reason: Some("user left".to_owned()),
            })
            .collect();
        if !list.is_empty() {
            out.push((at, list));
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The `api_key.revoked` changes for every unrevoked key of `uid`, with `reason`.
pub(super) fn revoke_all(st: &State, uid: u32, reason: &str) -> Vec<Change> {
    st.keys
        .active_of(uid)
        .map(|key| Change::ApiKeyRevoked {
            key_id: key.id.to_string(),
            user: user_email(st, uid),
            reason: Some(reason.to_owned()),
        })
        .collect()
}

const LABEL_MAX: usize = 200;

fn check_label(label: &str) -> Result<String> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > LABEL_MAX || label.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "label",
            label,
            "a non-empty label of at most 200 characters without control characters",
        ));
    }
    Ok(label.to_owned())
}

/// Dedupes a list, keeping the first occurrence of each item in order.
fn dedup(list: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    list.into_iter()
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// The personal key `key_id`, or `NotFoundError`.
fn need_key<'s>(st: &'s State, key_id: &str) -> Result<&'s PersonalKey> {
    st.keys
        .key(key_id)
        .ok_or_else(|| NotFoundError::Key(key_id.to_owned()).into())
}

impl Graph {
    /// Creates a personal API key for `user`; returns `(key_id, secret)`. The secret is
    /// shown this once: only its hash is kept.
    pub fn create_personal_key(
        &self,
        user: &str,
        new: NewKey,
        actor: Option<&str>,
    ) -> Result<(String, String)> {
        let email = ids::email("user", user)?;
        let label = check_label(&new.label)?;
        let scopes = match new.scopes {
            Some(s) if s.is_empty() => {
                return Err(Error::invalid(
                    "scopes",
                    "[]",
                    "None (no narrowing) or a non-empty list of scopes",
                ))
            }
            s => s.map(dedup),
        };
        let projects = match new.projects {
            Some(p) if p.is_empty() => {
                return Err(Error::invalid(
                    "projects",
                    "[]",
                    "None (every project) or a non-empty list of project ids",
                ))
            }
            Some(p) => {
                for id in &p {
                    ids::project_id("projects", id)?;
                }
                let mut p = dedup(p);
                p.sort();
                Some(p)
            }
            None => None,
        };
        let secret = k::new_secret()?;
        self.mutate(actor, |st, at| {
            for s in scopes.iter().flatten() {
                k::validate_scope(&st.catalog, s)?;
            }
            if let Some(e) = new.expires {
                if !at.alive(Some(e)) {
                    return Err(Error::invalid(
                        "expires",
                        e.to_iso(),
                        format!("an instant after now ({})", at.get().to_iso()),
                    ));
                }
            }
            for p in projects.iter().flatten() {
                st.need_project(p)?;
            }
            let uid = st
                .user_id(&email)
                .ok_or_else(|| Error::from(NotFoundError::User(email.clone())))?;
            if let Some(a) = actor.filter(|a| !same(a, &email)) {
                return Err(denied(
                    a,
                    "api_key:create",
                    &email,
                    None,
                    format!(
                        "{} cannot create an API key for {email}: a personal key is created by its own user",
                        email_key(a)
                    ),
                ));
            }
            if !has_live_membership(st, uid, at) {
                return Err(ConflictError::Rule(format!(
                    "`{email}` holds no unexpired membership: a personal key of theirs could do nothing"
                ))
                .into());
            }
            let mut key_id = k::new_key_id()?;
            while st.keys.by_id.contains_key(key_id.as_str()) {
                key_id = k::new_key_id()?;
            }
            let change = Change::ApiKeyCreated {
                key_id: key_id.clone(),
                user: email.clone(),
                label,
                scopes,
                projects,
                expires: new.expires,
                hash: k::hash(&secret),
                mask: k::mask(&secret),
            };
            Ok((vec![change], (key_id, secret)))
        })
    }

    /// Gives a personal key a new secret, which it returns; the old secret stops working
    /// at once. Only the key's own user (or the system) rotates it.
    pub fn rotate_personal_key(&self, key_id: &str, actor: Option<&str>) -> Result<String> {
        let secret = k::new_secret()?;
        self.mutate(actor, |st, _| {
            let key = need_key(st, key_id)?;
            let owner = user_email(st, key.user);
            if let Some(a) = actor.filter(|a| !same(a, &owner)) {
                return Err(denied(
                    a,
                    "api_key:rotate",
                    key_id,
                    None,
                    format!(
                        "{} cannot rotate {key_id}, the API key of {owner}: only its own user rotates a personal key",
                        email_key(a)
                    ),
                ));
            }
            if key.revoked_at.is_some() {
                return Err(ConflictError::Rule(format!(
                    "API key `{key_id}` was revoked and cannot be rotated: create a new one"
                ))
                .into());
            }
            let change = Change::ApiKeyRotated {
                key_id: key_id.to_owned(),
                user: owner,
                hash: k::hash(&secret),
                mask: k::mask(&secret),
            };
            Ok((vec![change], secret))
        })
    }

    /// Revokes a personal key (its user, an owner of one of the user's orgs, or the
    /// system may). Revoking a revoked key changes nothing.
    pub fn revoke_personal_key(&self, key_id: &str, actor: Option<&str>) -> Result<()> {
        self.mutate(actor, |st, at| {
            let key = need_key(st, key_id)?;
            let owner = user_email(st, key.user);
            if let Some(a) = actor.filter(|a| !same(a, &owner)) {
                let org_owner = st.user(key.user).is_some_and(|u| {
                    u.memberships
                        .iter()
                        .any(|m| org_role(st, at, a, m.org) == Some(OrgRole::Owner))
                });
                if !org_owner {
                    return Err(denied(
                        a,
                        "api_key:revoke",
                        key_id,
                        None,
                        format!(
                            "{} cannot revoke {key_id}, the API key of {owner}: only its own user or an owner of one of their orgs may",
                            email_key(a)
                        ),
                    ));
                }
            }
            if key.revoked_at.is_some() {
                return Ok((Vec::new(), ()));
            }
            let change = Change::ApiKeyRevoked {
                key_id: key_id.to_owned(),
                user: owner,
                reason: None,
            };
            Ok((vec![change], ()))
        })
    }

    /// The personal keys of `user` (or of everyone), sorted by user, creation and id;
    /// revoked keys only with `include_revoked`. Never a secret.
    pub fn personal_keys(&self, user: Option<&str>, include_revoked: bool) -> Result<Vec<KeyInfo>> {
        let st = self.fresh()?;
        let only = match user {
            Some(u) => match st.user_id(u) {
                Some(uid) => Some(uid),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut at = self.at(None);
        let mut out: Vec<KeyInfo> = st
            .keys
            .personal
            .iter()
            .filter(|key| only.is_none_or(|u| key.user == u))
            .filter(|key| include_revoked || key.revoked_at.is_none())
            .map(|key| key_info(&st, key, &mut at))
            .collect();
        out.sort_by(|a, b| (&a.user, a.created_at, &a.id).cmp(&(&b.user, b.created_at, &b.id)));
        Ok(out)
    }

    /// One personal key.
    pub fn personal_key(&self, key_id: &str) -> Result<KeyInfo> {
        let st = self.fresh()?;
        let key = need_key(&st, key_id)?;
        Ok(key_info(&st, key, &mut self.at(None)))
    }

    /// The project's public API key (`agc_…`).
    pub fn project_key(&self, project: &str) -> Result<String> {
        ids::project_id("project", project)?;
        let st = self.fresh()?;
        let pid = st.need_project(project)?;
        Ok(st
            .keys
            .project
            .get(&pid)
            .map(|p| p.token.clone())
            .unwrap_or_default())
    }

    /// Gives a project a new public key, which it returns; the old one stops working at
    /// once. Needs `project_key:rotate` on the project.
    pub fn rotate_project_key(&self, project: &str, actor: Option<&str>) -> Result<String> {
        ids::project_id("project", project)?;
        let token = k::new_project_token()?;
        self.mutate(actor, |st, at| {
            st.need_project(project)?;
            if let Some(a) = actor {
                authorize(st, at, a, "project_key:rotate", project)?;
            }
            let change = Change::ProjectKeyRotated {
                project: project.to_owned(),
                api_key: token.clone(),
            };
            Ok((vec![change], token))
        })
    }

    /// The principal a secret authenticates — a personal key's (`agp_…`) or a project's
    /// (`agc_…`) — or `None` for an unknown, revoked, rotated-away or expired secret. The
    /// secret is hashed and looked up; it is never compared.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        if !(secret.starts_with(k::PERSONAL_PREFIX) || secret.starts_with(k::PROJECT_PREFIX)) {
            return Ok(None);
        }
        let hash = k::hash(secret);
        let st = self.fresh()?;
        Ok(self.principal(&st, hash))
    }

    /// The principal whose secret hashes to `hash`, if it is alive.
    fn principal(&self, st: &State, hash: String) -> Option<Principal> {
        match *st.keys.by_hash.get(hash.as_str())? {
            KeyRef::Personal(i) => {
                let key = st.keys.personal.get(i as usize)?;
                if key.revoked_at.is_some() || !self.at(None).alive(key.expires) {
                    return None;
                }
                Some(Principal {
                    kind: PrincipalKind::Personal,
                    key_id: key.id.to_string(),
                    user: Some(user_email(st, key.user)),
                    project: None,
                    hash,
                })
            }
            KeyRef::Project(pid) => {
                let project = st.project(pid)?.id.to_string();
                Some(Principal {
                    kind: PrincipalKind::Project,
                    key_id: project.clone(),
                    user: None,
                    project: Some(project),
                    hash,
                })
            }
        }
    }

    /// `check` made with an API key.
    pub fn check_as(
        &self,
        principal: &Principal,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<bool> {
        let st = self.fresh()?;
        eval::principal::check(&st, principal, action, target, &mut self.at(at))
    }

    /// `explain` made with an API key.
    pub fn explain_as(
        &self,
        principal: &Principal,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<Decision> {
        let st = self.fresh()?;
        let mut d = eval::principal::explain(&st, principal, action, target, &mut self.at(at))?;
        super::fixes::attach_key(&st, &mut d, principal, at, &self.clock);
        Ok(d)
    }

    /// `explain` for either kind of subject: a user's email or an API key.
    pub fn decide(
        &self,
        who: Subject<'_>,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<Decision> {
        match who {
            Subject::User(u) => self.explain(u, action, target, at),
            Subject::Key(p) => self.explain_as(p, action, target, at),
        }
    }

    /// Like `check`, but a denial is an error: `Error::Permission` with the decision.
    pub fn require(
        &self,
        who: Subject<'_>,
        action: &str,
        target: &str,
        at: Option<Instant>,
    ) -> Result<()> {
        let decision = self.decide(who, action, target, at)?;
        if decision.allowed {
            Ok(())
        } else {
            Err(PermissionError {
                decision: Box::new(decision),
            }
            .into())
        }
    }

    /// `check_many` where each query is about a user or an API key.
    pub fn check_many_as<'q, I>(&self, queries: I, at: Option<Instant>) -> Result<Vec<bool>>
    where
        I: IntoIterator<Item = (Subject<'q>, &'q str, &'q str)>,
    {
        let mut st = self.fresh()?;
        let mut at = self.at(at);
        let queries = queries.into_iter();
        let mut out = Vec::with_capacity(queries.size_hint().0);
        for (i, (who, a, t)) in queries.enumerate() {
            // As in `check_many`: let a waiting writer in every 1024 checks.
            if i % 1024 == 1023 {
                parking_lot::RwLockReadGuard::bump(&mut st);
            }
            out.push(match who {
                Subject::User(u) => eval::check(&st, u, a, t, &mut at)?,
                Subject::Key(p) => eval::principal::check(&st, p, a, t, &mut at)?,
            });
        }
        Ok(out)
    }
}
