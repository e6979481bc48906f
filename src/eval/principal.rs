//! Checks made with an API key (SPEC 2.4): a [`Principal`] is what `authenticate` turns a
//! secret into, and `check` / `explain` accept one wherever they accept an email.
//!
//! A personal key is decided in this order: the key must still be the one that was
//! authenticated (a rotation or revocation since makes it stale), unexpired, its scopes
//! must cover the action and its project restriction the target; then its user's own
//! permissions decide, at check time. A project key may `event:track` on its project and
//! nothing else. A denial by the key's scope or project restriction has the source
//! `api_key_scope`.

use super::evaluate::{locate, validate_target};
use crate::decision::{Decision, Source};
use crate::error::Result;
use crate::model::actions::{ActionDef, Need};
use crate::model::keys::{scopes_allow, KeyRef, PersonalKey};
use crate::state::{State, TargetRef};
use crate::time::{At, Instant};

/// Which kind of key authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A personal API key: acts as its user, narrowed by its scopes and projects.
    Personal,
    /// A project's public key: `event:track` on that project only.
    Project,
}

impl PrincipalKind {
    /// `personal` or `project`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Personal => "personal",
            PrincipalKind::Project => "project",
        }
    }
}

/// Who a request authenticated as with an API key. Holds the hash of the secret it was
/// made from (never the secret), so a key rotated or revoked afterwards stops working for
/// principals made before, too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// Personal or project key.
    pub kind: PrincipalKind,
    /// `pk_<hex>` for a personal key; the project id for a project key.
    pub key_id: String,
    /// The key's user (personal keys).
    pub user: Option<String>,
    /// The key's project (project keys).
    pub project: Option<String>,
    /// `sha256$<hex>` of the secret it was authenticated with.
    pub hash: String,
}

impl Principal {
    /// How sentences name the principal.
    pub fn describe(&self) -> String {
        match self.kind {
            PrincipalKind::Personal => format!(
                "API key {} of {}",
                self.key_id,
                self.user.as_deref().unwrap_or("an unknown user")
            ),
            PrincipalKind::Project => format!(
                "the project API key of {}",
                self.project.as_deref().unwrap_or(&self.key_id)
            ),
        }
    }

    /// What `Decision.user` holds: the user's email for a personal key, `key:<id>` for a
    /// project key (the audit log's notation).
    pub fn subject(&self) -> String {
        match (&self.kind, &self.user) {
            (PrincipalKind::Personal, Some(u)) => u.clone(),
            _ => format!("key:{}", self.key_id),
        }
    }
}

/// Who a check is about: a user by email, or an API key.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A user's email.
    User(&'a str),
    /// An authenticated API key.
    Key(&'a Principal),
}

/// How a key check came out before (or instead of) the user's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyWhy {
    /// The key was rotated or revoked since the principal was made (or never existed).
    Stale,
    /// The personal key expired at this instant.
    Expired(Instant),
    /// The key's scopes do not cover the action.
    Scope(Vec<String>),
    /// The target lies outside the key's projects.
    Projects(Vec<String>),
    /// A project-restricted key and an org-scoped action.
    OrgScoped(Vec<String>),
    /// A project key and another action than `event:track`.
    ProjectKeyAction,
    /// A project key and a target outside its project.
    ProjectKeyElsewhere,
    /// A project key tracking events on its project.
    ProjectKeyTracks,
}

/// The outcome of the key's own rules.
enum Judged {
    /// The key decided.
    Key(KeyWhy),
    /// The key lets the check through: user `uid`'s permissions decide.
    AsUser(u32),
}

/// The project id number a target lies in, if it is a project or a resource.
fn project_of(st: &State, t: Option<TargetRef>) -> Option<u32> {
    t.and_then(|t| locate(st, t))
        .and_then(|(_, p, _)| p)
        .map(|(pid, _)| pid)
}

fn personal<'s>(st: &'s State, p: &Principal) -> Option<&'s PersonalKey> {
    match st.keys.by_hash.get(p.hash.as_str()) {
        Some(&KeyRef::Personal(i)) => st
            .keys
            .personal
            .get(i as usize)
            .filter(|k| *k.id == *p.key_id && k.revoked_at.is_none()),
        _ => None,
    }
}

fn judge(
    st: &State,
    p: &Principal,
    def: &ActionDef,
    t: Option<TargetRef>,
    at: &mut At<'_>,
) -> Judged {
    match p.kind {
        PrincipalKind::Personal => {
            let Some(k) = personal(st, p) else {
                return Judged::Key(KeyWhy::Stale);
            };
            if let Some(e) = k.expires.filter(|&e| !at.alive(Some(e))) {
                return Judged::Key(KeyWhy::Expired(e));
            }
            if !scopes_allow(k.scopes.as_deref(), &def.name) {
                return Judged::Key(KeyWhy::Scope(k.scopes.clone().unwrap_or_default()));
            }
            if let Some(list) = &k.projects {
                if matches!(def.need, Need::Org { .. }) {
                    return Judged::Key(KeyWhy::OrgScoped(list.clone()));
                }
                if let Some(pid) = project_of(st, t) {
                    let inside = st
                        .project(pid)
                        .is_some_and(|rec| list.iter().any(|x| **x == *rec.id));
                    if !inside {
                        return Judged::Key(KeyWhy::Projects(list.clone()));
                    }
                }
            }
            Judged::AsUser(k.user)
        }
        PrincipalKind::Project => {
            let own = match st.keys.by_hash.get(p.hash.as_str()) {
                Some(&KeyRef::Project(pid))
                    if st
                        .project(pid)
                        .is_some_and(|rec| Some(&*rec.id) == p.project.as_deref()) =>
                {
                    pid
                }
                _ => return Judged::Key(KeyWhy::Stale),
            };
            if def.name != "event:track" {
                Judged::Key(KeyWhy::ProjectKeyAction)
            } else if project_of(st, t) == Some(own) {
                Judged::Key(KeyWhy::ProjectKeyTracks)
            } else {
                Judged::Key(KeyWhy::ProjectKeyElsewhere)
            }
        }
    }
}

/// The user whose own permissions decide a check made with this key, when the key's
/// rules let the check through to them (`None`: the key decides by itself).
pub fn lets_through(
    st: &State,
    p: &Principal,
    def: &ActionDef,
    target: &str,
    at: &mut At<'_>,
) -> Option<u32> {
    match judge(st, p, def, st.target(target), at) {
        Judged::AsUser(uid) => Some(uid),
        Judged::Key(_) => None,
    }
}

/// `check` for a principal.
pub fn check(
    st: &State,
    p: &Principal,
    action: &str,
    target: &str,
    at: &mut At<'_>,
) -> Result<bool> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    Ok(match judge(st, p, def, t, at) {
        Judged::Key(why) => why == KeyWhy::ProjectKeyTracks,
        Judged::AsUser(uid) => t.is_some_and(|t| super::evaluate(st, uid, def, t, at).allowed),
    })
}

/// `explain` for a principal: the decision, with a sentence that names the key.
pub fn explain(
    st: &State,
    p: &Principal,
    action: &str,
    target: &str,
    at: &mut At<'_>,
) -> Result<Decision> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let why = match judge(st, p, def, t, at) {
        Judged::AsUser(uid) => {
            let email = st
                .user(uid)
                .map_or_else(|| p.subject(), |u| u.email.to_string());
            let mut d = super::explain(st, &email, action, target, at)?;
            d.reason = format!("with {}: {}", p.describe(), d.reason);
            return Ok(d);
        }
        Judged::Key(why) => why,
    };
    let who = p.describe();
    let project = p.project.as_deref().unwrap_or_default();
    let (scoped, reason) = match &why {
        KeyWhy::Stale => (
            false,
            format!("{who} is no longer valid (revoked or rotated since it was authenticated), so `{action}` is denied on {target}"),
        ),
        KeyWhy::Expired(e) => (
            false,
            format!("{who} expired at {}, so `{action}` is denied on {target}", e.to_iso()),
        ),
        KeyWhy::Scope(scopes) => (
            true,
            format!(
                "{who} is limited to the scopes {}, which do not cover `{action}`: denied",
                scopes.join(", ")
            ),
        ),
        KeyWhy::Projects(list) => (
            true,
            format!(
                "{who} is restricted to the projects {}, and {target} lies outside them: denied",
                list.join(", ")
            ),
        ),
        KeyWhy::OrgScoped(list) => (
            true,
            format!(
                "{who} is restricted to the projects {}, so it cannot perform the org-scoped `{action}`: denied",
                list.join(", ")
            ),
        ),
        KeyWhy::ProjectKeyAction => (
            true,
            format!("{who} may only `event:track` on {project}; `{action}` is outside its scope: denied"),
        ),
        KeyWhy::ProjectKeyElsewhere => (
            true,
            format!("{who} may only `event:track` on {project}, and {target} is not in it: denied"),
        ),
        KeyWhy::ProjectKeyTracks => (
            false,
            format!("{who} may `event:track` on its project {project}: allowed"),
        ),
    };
    let allowed = why == KeyWhy::ProjectKeyTracks;
    Ok(Decision {
        allowed,
        user: p.subject(),
        action: action.to_owned(),
        target: target.to_owned(),
        role: None,
        source: scoped.then_some(Source::ApiKeyScope),
        reason,
        fixes: Vec::new(),
    })
}
