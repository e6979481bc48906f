//! API keys (SPEC 2.4): personal keys, stored as hashes only, and project keys, public
//! tokens; the scopes that narrow a personal key; secrets and their hashes.
//!
//! A secret is never stored: a personal key keeps `sha256$<hex>` of its secret
//! (`PostHog`'s format) and a four-character mask for people to recognise it. Every live
//! secret — personal or project — is found through one map keyed by that hash, so
//! authenticating is a hash and a lookup, never a comparison of secrets.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result, ValidationError};
use crate::ids::Map;
use crate::model::actions::Catalog;
use crate::time::Instant;

/// Prefix of a personal key's secret.
pub const PERSONAL_PREFIX: &str = crate::text::SECRET_PREFIX;
/// Prefix of a project key (a public token).
pub const PROJECT_PREFIX: &str = "agc_";
/// Prefix of a personal key's id.
pub const ID_PREFIX: &str = "pk_";

/// A personal API key. Only the hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalKey {
    /// `pk_<hex>`.
    pub id: Box<str>,
    /// The owning user's id.
    pub user: u32,
    /// What it is for (`ci`, `notebook` ...).
    pub label: String,
    /// Actions and patterns it is narrowed to; `None` = everything its user may do.
    pub scopes: Option<Vec<String>>,
    /// Projects it is restricted to; `None` = no restriction.
    pub projects: Option<Vec<String>>,
    /// When it was created (graph clock).
    pub created_at: Instant,
    /// When its secret was last rotated.
    pub rotated_at: Option<Instant>,
    /// It stops working at this instant.
    pub expires: Option<Instant>,
    /// `sha256$<hex>` of the current secret.
    pub hash: String,
    /// `agp_...abcd`: the prefix and the last four characters of the secret.
    pub mask: String,
    /// When it was revoked.
    pub revoked_at: Option<Instant>,
}

/// A project's public API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKey {
    /// `agc_<hex>`.
    pub token: String,
}

/// What a live secret's hash leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef {
    /// A personal key, by index in [`KeyStore::personal`].
    Personal(u32),
    /// A project key, by project id number.
    Project(u32),
}

/// Every key of a graph.
///
/// INVARIANT: `by_hash` holds exactly the hash of every unrevoked personal key and of
/// every live project's token; `by_id` maps every personal key's id to its index.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    /// Personal keys, revoked ones included, in creation order.
    pub personal: Vec<PersonalKey>,
    /// Key id → index in `personal`.
    pub by_id: Map<Box<str>, u32>,
    /// `sha256$<hex>` of a live secret → its key.
    pub by_hash: Map<Box<str>, KeyRef>,
    /// Project id number → its key.
    pub project: Map<u32, ProjectKey>,
}

impl KeyStore {
    /// The personal key with this id.
    pub fn key(&self, id: &str) -> Option<&PersonalKey> {
        self.by_id
            .get(id)
            .and_then(|&i| self.personal.get(i as usize))
    }

    /// The index of the personal key with this id.
    pub fn index(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Adds a personal key (the caller checked its id and hash are new).
    pub fn insert(&mut self, key: PersonalKey) {
        let i = u32::try_from(self.personal.len()).unwrap_or(u32::MAX);
        self.by_id.insert(key.id.clone(), i);
        if key.revoked_at.is_none() {
            self.by_hash
                .insert(key.hash.as_str().into(), KeyRef::Personal(i));
        }
        self.personal.push(key);
    }

    /// Sets project `pid`'s token, dropping the previous one's hash.
    pub fn set_project(&mut self, pid: u32, token: String) {
        if let Some(old) = self.project.remove(&pid) {
            self.by_hash.remove(hash(&old.token).as_str());
        }
        self.by_hash
            .insert(hash(&token).into_boxed_str(), KeyRef::Project(pid));
        self.project.insert(pid, ProjectKey { token });
    }

    /// Drops project `pid`'s key (the project is gone).
    pub fn drop_project(&mut self, pid: u32) {
        if let Some(old) = self.project.remove(&pid) {
            self.by_hash.remove(hash(&old.token).as_str());
        }
    }

    /// The unrevoked personal keys of user `uid`.
    pub fn active_of(&self, uid: u32) -> impl Iterator<Item = &PersonalKey> {
        self.personal
            .iter()
            .filter(move |k| k.user == uid && k.revoked_at.is_none())
    }
}

/// `sha256$<hex>` of a secret, `PostHog`'s stored form.
pub fn hash(secret: &str) -> String {
    format!("sha256${}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// True for a well-formed stored hash.
pub fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256$")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// `agp_...abcd`: how a secret is shown once it is gone (the one mask,
/// [`crate::text::mask_secret`], also used where a secret is echoed by mistake).
pub fn mask(secret: &str) -> String {
    crate::text::mask_secret(secret)
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::from(crate::error::AuditError::Io(format!(
            "cannot draw a random key from the operating system: {e}"
        )))
    })?;
    Ok(hex::encode(buf))
}

/// A new personal secret from the OS random source: `agp_` and 192 random bits.
pub fn new_secret() -> Result<String> {
    Ok(format!("{PERSONAL_PREFIX}{}", random_hex(24)?))
}

/// A new project token: `agc_` and 128 random bits.
pub fn new_project_token() -> Result<String> {
    Ok(format!("{PROJECT_PREFIX}{}", random_hex(16)?))
}

/// A new personal key id: `pk_` and 64 random bits.
pub fn new_key_id() -> Result<String> {
    Ok(format!("{ID_PREFIX}{}", random_hex(8)?))
}

/// True for a well-formed personal key id.
pub fn is_key_id(s: &str) -> bool {
    s.strip_prefix(ID_PREFIX).is_some_and(|h| {
        (8..=64).contains(&h.len()) && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// True for a well-formed project token.
pub fn is_project_token(s: &str) -> bool {
    s.strip_prefix(PROJECT_PREFIX).is_some_and(|h| {
        (16..=128).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The token a `project.created` event without one (a journal written before project
/// keys existed) gives its project: derived from the project and the instant, so every
/// replay gives the same. Rotating replaces it with a random one.
pub fn legacy_project_token(project: &str, at: Instant) -> String {
    let h = hex::encode(Sha256::digest(
        format!("accessgraph/legacy-project-key/v1\0{project}\0{}", at.0).as_bytes(),
    ));
    format!("{PROJECT_PREFIX}{}", h.get(..32).unwrap_or(&h))
}

const SCOPE_FORMS: &str =
    "an action (`insight:view`), `resource:*`, `resource:read`, `resource:write` or `*`";

fn is_part(p: &str) -> bool {
    let b = p.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Checks one scope against the catalogue: `*`, an action, `resource:*`, or `PostHog`'s
/// `resource:read` / `resource:write` of a resource some action names. An action or
/// resource the catalogue does not know raises `UnknownActionError`.
pub fn validate_scope(catalog: &Catalog, scope: &str) -> Result<()> {
    if scope == "*" || catalog.contains(scope) {
        return Ok(());
    }
    let Some((resource, verb)) = scope.split_once(':') else {
        return Err(Error::invalid("scopes", scope, SCOPE_FORMS));
    };
    if !is_part(resource) || !(verb == "*" || is_part(verb)) {
        return Err(Error::invalid("scopes", scope, SCOPE_FORMS));
    }
    let known = catalog.iter().any(|d| d.resource_part() == resource);
    if known && matches!(verb, "*" | "read" | "write") {
        return Ok(());
    }
    Err(ValidationError::UnknownAction(scope.to_owned()).into())
}

/// Does `scope` cover `action`? `*` covers everything; `resource:*` and `resource:write`
/// every action of the resource; `resource:read` its `view` (and `read`) actions; any
/// other scope only the action of that name.
pub fn scope_allows(scope: &str, action: &str) -> bool {
    if scope == "*" || scope == action {
        return true;
    }
    let (Some((resource, verb)), Some((a_resource, a_verb))) =
        (scope.split_once(':'), action.split_once(':'))
    else {
        return false;
    };
    resource == a_resource
        && match verb {
            "*" | "write" => true,
            "read" => matches!(a_verb, "view" | "read"),
            _ => false,
        }
}

/// Does any of `scopes` cover `action`? (`None`: an unnarrowed key covers everything.)
pub fn scopes_allow(scopes: Option<&[String]>, action: &str) -> bool {
    scopes.is_none_or(|s| s.iter().any(|scope| scope_allows(scope, action)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_narrow_the_way_posthog_writes_them() {
        assert!(scope_allows("*", "org:delete"));
        assert!(scope_allows("insight:view", "insight:view"));
        assert!(!scope_allows("insight:view", "insight:create"));
        assert!(scope_allows("insight:*", "insight:delete"));
        assert!(!scope_allows("insight:*", "dashboard:view"));
        assert!(scope_allows("insight:read", "insight:view"));
        assert!(!scope_allows("insight:read", "insight:edit"));
        assert!(scope_allows("insight:write", "insight:edit"));
        assert!(scope_allows("insight:write", "insight:view"));
        assert!(!scope_allows("insight:write", "dashboard:edit"));
        assert!(scopes_allow(None, "anything:at_all"));
        assert!(!scopes_allow(Some(&[]), "insight:view"));
    }

    #[test]
    fn scopes_are_validated_against_the_catalogue() {
        let c = Catalog::default();
        for ok in [
            "*",
            "insight:view",
            "insight:*",
            "insight:read",
            "feature_flag:write",
        ] {
            assert!(validate_scope(&c, ok).is_ok(), "{ok}");
        }
        for unknown in ["insight:frobnicate", "widget:*", "widget:read"] {
            assert!(matches!(
                validate_scope(&c, unknown),
                Err(Error::Validation(ValidationError::UnknownAction(_)))
            ));
        }
        for malformed in ["", "insight", "Insight:view", "insight:", ":view", "a:b:c"] {
            assert!(matches!(
                validate_scope(&c, malformed),
                Err(Error::Validation(ValidationError::Invalid { .. }))
            ));
        }
    }

    #[test]
    fn secrets_hash_and_mask() -> Result<()> {
        let s = new_secret()?;
        assert!(s.starts_with("agp_") && s.len() == 4 + 48);
        assert_ne!(s, new_secret()?);
        let h = hash(&s);
        assert!(is_hash(&h) && !h.contains(&s));
        assert_eq!(
            mask(&s),
            format!("agp_...{}", s.get(s.len() - 4..).unwrap_or(""))
        );
        assert!(is_key_id(&new_key_id()?));
        assert!(is_project_token(&new_project_token()?));
        assert_eq!(
            legacy_project_token("a/b", Instant(1)),
            legacy_project_token("a/b", Instant(1))
        );
        Ok(())
    }
}
