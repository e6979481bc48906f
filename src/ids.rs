//! Validated identifiers: org slugs, project ids, grant targets, resource ids, role names
//! and emails, and the seeded fast hash map every index uses.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::roles::{OrgRole, ProjectRole, ResourceKind};

/// The hash map used by every index: foldhash seeded per process, because emails and
/// targets are attacker-chosen and an unseeded hash would invite collision floods.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A new empty [`Map`].
pub fn new_map<K, V>() -> Map<K, V> {
    Map::with_hasher(foldhash::fast::RandomState::default())
}

const SLUG_RULE: &str = "a slug: lower-case letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters";

/// True when `s` is a slug `[a-z0-9][a-z0-9_-]{0,62}`.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {}
        _ => return false,
    }
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// Validates an org slug.
pub fn org_slug<'a>(field: &'static str, s: &'a str) -> Result<&'a str> {
    if is_slug(s) {
        Ok(s)
    } else {
        Err(Error::invalid(field, s, SLUG_RULE))
    }
}

/// Splits and validates a project id `org/slug`.
pub fn project_id<'a>(field: &'static str, s: &'a str) -> Result<(&'a str, &'a str)> {
    match s.split_once('/') {
        Some((org, slug)) if is_slug(org) && is_slug(slug) => Ok((org, slug)),
        _ => Err(Error::invalid(
            field,
            s,
            "a project id `org/project` made of two slugs",
        )),
    }
}

/// A validated grant target: one project or every project of an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantTarget<'a> {
    /// `org/slug`.
    Project(&'a str),
    /// `org/*`, naming the org.
    AllProjects(&'a str),
}

/// Validates a grant target `org/slug` or `org/*`.
pub fn grant_target<'a>(field: &'static str, s: &'a str) -> Result<GrantTarget<'a>> {
    if let Some(org) = s.strip_suffix("/*") {
        if is_slug(org) {
            return Ok(GrantTarget::AllProjects(org));
        }
    } else if project_id(field, s).is_ok() {
        return Ok(GrantTarget::Project(s));
    }
    Err(Error::invalid(
        field,
        s,
        "a project `org/project` or all projects of an org `org/*`",
    ))
}

/// Validates the `id` part of a resource id.
pub fn resource_local_id<'a>(field: &'static str, s: &'a str) -> Result<&'a str> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(s)
    } else {
        Err(Error::invalid(
            field,
            s,
            "1 to 128 letters, digits, `_`, `.`, `:` or `-`",
        ))
    }
}

/// Validates a resource kind.
pub fn resource_kind(field: &'static str, s: &str) -> Result<ResourceKind> {
    ResourceKind::parse(s).ok_or_else(|| {
        Error::invalid(
            field,
            s,
            format!(
                "one of {}",
                ResourceKind::ALL.map(ResourceKind::as_str).join(", ")
            ),
        )
    })
}

impl OrgRole {
    /// Parses a role name, naming `field` in the error.
    pub fn parse(field: &'static str, s: &str) -> Result<Self> {
        match s {
            "member" => Ok(OrgRole::Member),
            "admin" => Ok(OrgRole::Admin),
            "owner" => Ok(OrgRole::Owner),
            _ => Err(Error::invalid(
                field,
                s,
                "an org role: owner, admin or member",
            )),
        }
    }
}

impl ProjectRole {
    /// Parses a role name, naming `field` in the error.
    pub fn parse(field: &'static str, s: &str) -> Result<Self> {
        match s {
            "viewer" => Ok(ProjectRole::Viewer),
            "member" => Ok(ProjectRole::Member),
            "admin" => Ok(ProjectRole::Admin),
            _ => Err(Error::invalid(
                field,
                s,
                "a project role: viewer, member or admin",
            )),
        }
    }
}

/// Validates an email the way Django's `EmailValidator` does and returns it lower-cased.
pub fn email(field: &'static str, s: &str) -> Result<String> {
    if is_email(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::invalid(field, s, "an email address"))
    }
}

/// True for an erased user's pseudonym (`audit::erase::pseudonym` makes them): `erased:` and 16 lower-case hex digits.
pub fn is_pseudonym(s: &str) -> bool {
    s.strip_prefix("erased:").is_some_and(|h| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The lookup form of an email: lower-cased, borrowed when it already is.
pub fn email_key(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn is_email(s: &str) -> bool {
    if s.len() > 320 || !s.is_ascii() {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    is_dot_atom(local) && (domain.eq_ignore_ascii_case("localhost") || is_domain(domain))
}

fn is_atom_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&c)
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.bytes().all(is_atom_char))
}

fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && b.first() != Some(&b'-')
            && b.last() != Some(&b'-')
    };
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    rest.iter().all(|l| label_ok(l)) && label_ok(tld) && tld.len() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_slug("acme"));
        assert!(is_slug("a-b_c9"));
        assert!(!is_slug(""));
        assert!(!is_slug("-acme"));
        assert!(!is_slug("Acme"));
        assert!(!is_slug(&"a".repeat(64)));
        assert!(is_slug(&"a".repeat(63)));
    }

    #[test]
    fn emails() {
        for ok in [
            "jane@example.com",
            "J.Doe+x@Sub.Example.CO",
            "root@localhost",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "ja ne@example.com",
            "jane@example",
            "jane@exa mple.com",
            "jane@-x.com",
            "jane@x.c",
            "a..b@example.com",
            "jane\n@example.com",
            "jané@example.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert_eq!(
            email("user", "Jane@Example.com").ok().as_deref(),
            Some("jane@example.com")
        );
    }

    #[test]
    fn targets() {
        assert_eq!(
            grant_target("t", "acme/*").ok(),
            Some(GrantTarget::AllProjects("acme"))
        );
        assert_eq!(
            grant_target("t", "acme/prod").ok(),
            Some(GrantTarget::Project("acme/prod"))
        );
        assert!(grant_target("t", "acme").is_err());
        assert!(grant_target("t", "acme/prod/x").is_err());
        assert!(project_id("p", "acme/*").is_err());
    }
}
