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
    match split_slash(s) {
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

impl<'a> GrantTarget<'a> {
    /// The org the target is in.
    pub fn org(self) -> &'a str {
        match self {
            GrantTarget::AllProjects(o) => o,
            GrantTarget::Project(p) => split_slash(p).map_or(p, |(o, _)| o),
        }
    }
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

/// Validates an email the way Django's `EmailValidator` does (SPEC 1.1) and returns its
/// canonical form, the one the graph stores and looks up.
///
/// Accepted: a dot-atom local part and a domain that is `localhost`, a host name — ASCII or
/// internationalised (Django allows `\u{a1}`–`\u{ffff}` in labels) —, or an IP literal
/// (`[192.0.2.1]`, `[::1]`); at most 320 characters. The one refusal beyond Django: a
/// quoted local part (`"john doe"@example.com`), which exists to carry the whitespace and
/// control characters SPEC 1.1 rules out and which the registry's line grammar cannot hold.
///
/// Canonical form: the local part lower-cased (ASCII letters), the domain lower-cased and,
/// when internationalised, normalised with IDNA (UTS #46) to its Unicode form, so that
/// `Juergen@XN--BCHER-KVA.example` and `juergen@Bücher.example` are one user
/// (`juergen@bücher.example`).
pub fn email(field: &'static str, s: &str) -> Result<String> {
    if is_plain_email(s) {
        return Ok(s.to_owned());
    }
    match email_problem(s) {
        None => Ok(canonical_email(s).into_owned()),
        Some(why) => Err(Error::invalid(
            field,
            s,
            format!("an email address as Django's EmailValidator accepts it: {why}"),
        )),
    }
}

/// Validates an email as [`email`] does, without making its canonical form (an actor's
/// email, checked before every change).
pub fn check_email(field: &'static str, s: &str) -> Result<()> {
    if is_plain_email(s) {
        return Ok(());
    }
    email(field, s).map(drop)
}

/// A byte-class fast path for the common email: ASCII, lower-case, a dot-atom local part
/// and a domain of plain labels (`[a-z0-9-]`, none `xn--…`) ending in a top-level domain
/// of 2 to 63 letters. True means valid (Django agrees) and canonical already; false
/// means only "ask [`email_problem`]" (tested against it on a corpus).
fn is_plain_email(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > 320 {
        return false;
    }
    // One pass (the split-and-scan form it replaced cost 170–430 instructions an email,
    // three emails a mutation). The local part: atoms joined by single dots, up to the
    // one `@` (an `@` is no atom's, nor a label's).
    let mut i = 0;
    let mut atom = 0;
    loop {
        let Some(&c) = b.get(i) else {
            return false;
        };
        i += 1;
        if is_atom(c) {
            atom += 1;
        } else if (c == b'.' || c == b'@') && atom > 0 {
            atom = 0;
            if c == b'@' {
                break;
            }
        } else {
            return false;
        }
    }
    // The domain: labels of `[a-z0-9-]` joined by dots, the last (top-level) of letters.
    let mut labels = 0;
    loop {
        let start = i;
        let mut letters = true;
        while let Some(&c) = b.get(i) {
            if c == b'.' {
                break;
            }
            if !c.is_ascii_lowercase() {
                if !(c.is_ascii_digit() || c == b'-') {
                    return false;
                }
                letters = false;
            }
            i += 1;
        }
        let label = b.get(start..i).unwrap_or_default();
        if i >= b.len() {
            return labels >= 1 && (2..=63).contains(&label.len()) && letters;
        }
        let ok = (1..=63).contains(&label.len())
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && !label.starts_with(b"xn--");
        if !ok {
            return false;
        }
        labels += 1;
        i += 1;
    }
}

/// A byte of a dot-atom's atoms as the fast path takes them: lower-case, digits and
/// ``!#$%&'*+/=?^_`{|}~-``.
#[inline]
fn is_atom(c: u8) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'-'
        )
}

/// True for an erased user's pseudonym (`audit::erase::pseudonym` makes them): `erased:` and 16 lower-case hex digits.
pub fn is_pseudonym(s: &str) -> bool {
    s.strip_prefix("erased:").is_some_and(|h| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The lookup form of an email: its canonical form (see [`email`]), borrowed when it
/// already is. A malformed email (one [`email`] refuses) is its own lookup form, as
/// given: no user has it, since users are stored valid and canonical. Canonicalising it
/// anyway could make it another user's — `jane@example\u{3002}com`, which Django and
/// [`email`] refuse, maps under IDNA to `jane@example.com` — and a query must find no one
/// for a text the mutations refuse (docs/semantics.md).
pub fn email_key(s: &str) -> Cow<'_, str> {
    match canonical_email(s) {
        Cow::Owned(key) if email_problem(s).is_none() => Cow::Owned(key),
        Cow::Owned(_) => Cow::Borrowed(s),
        Cow::Borrowed(key) => Cow::Borrowed(key),
    }
}

/// What makes `s` no email, or `None`.
fn email_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("the text is empty".to_owned());
    }
    // Django counts characters, not bytes.
    if s.len() > 320 && s.chars().count() > 320 {
        return Some("longer than 320 characters".to_owned());
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Some("there is no `@`".to_owned());
    };
    if local.starts_with('"') {
        return Some("a quoted local part (`\"…\"@`) is not accepted".to_owned());
    }
    if !is_dot_atom(local) {
        return Some(if local.is_empty() {
            "nothing before the `@`".to_owned()
        } else {
            format!(
                "the part before the `@`, `{}`, is not letters, digits and ``!#$%&'*+/=?^_`{{|}}~-`` between single dots",
                local.escape_debug()
            )
        });
    }
    // Django's allowlist is exactly `localhost`, case included.
    if domain == "localhost" || is_domain(domain) || is_ip_literal(domain) {
        return None;
    }
    Some(if domain.is_empty() {
        "nothing after the `@`".to_owned()
    } else {
        format!(
            "the domain `{}` is not a host name (`example.com`, `bücher.example`), `localhost` or an IP literal (`[192.0.2.1]`)",
            domain.escape_debug()
        )
    })
}

/// The specials of a dot-atom besides letters and digits.
const ATOM_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

/// Django's dot-atom: atoms of letters, digits and [`ATOM_SPECIALS`] between single dots,
/// matched case-insensitively — which in Python's `re` also admits `İ`, `ı`, `ſ` and the
/// Kelvin sign `K`.
fn is_dot_atom(s: &str) -> bool {
    let atom_char = |c: char| {
        c.is_ascii_alphanumeric()
            || ATOM_SPECIALS.contains(c)
            || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
    };
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.chars().all(atom_char))
}

/// A letter or digit of a host name in Django's pattern: ASCII, or `\u{a1}`–`\u{ffff}`.
fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ('\u{a1}'..='\u{ffff}').contains(&c)
}

/// Django's `domain_regex`: a host name label, more labels, and a top-level domain of
/// letters (2 to 63) or a punycode label `xn--…`. Labels have 1 to 63 characters and
/// neither start nor end with `-`.
fn is_domain(s: &str) -> bool {
    let label = |l: &str| {
        let n = l.chars().count();
        (1..=63).contains(&n)
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c == '-' || is_host_char(c))
    };
    let tld = |l: &str| {
        let n = l.chars().count();
        let letters = (2..=63).contains(&n)
            && l.chars().all(|c| {
                c == '-' || c.is_ascii_alphabetic() || ('\u{a1}'..='\u{ffff}').contains(&c)
            });
        let punycode = l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
            && l.get(4..).is_some_and(|r| {
                (1..=59).contains(&r.len()) && r.bytes().all(|c| c.is_ascii_alphanumeric())
            });
        !l.starts_with('-') && !l.ends_with('-') && (letters || punycode)
    };
    let mut labels = s.split('.');
    let Some(last) = labels.next_back() else {
        return false;
    };
    let mut count = 0;
    for l in labels {
        if !label(l) {
            return false;
        }
        count += 1;
    }
    count >= 1 && tld(last)
}

/// Django's `literal_regex` (`\[([A-F0-9:.]+)\]`, any case) holding an address that
/// Python's `ipaddress` accepts: IPv4 in dotted decimal without leading zeros, or IPv6 of
/// at most 39 characters.
fn is_ip_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    !inner.is_empty()
        && inner
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        && (inner.parse::<std::net::Ipv4Addr>().is_ok()
            || (inner.len() <= 39 && inner.parse::<std::net::Ipv6Addr>().is_ok()))
}

/// The canonical form of a (possibly invalid) email: see [`email`].
fn canonical_email(s: &str) -> Cow<'_, str> {
    let plain = !s.bytes().any(|c| !c.is_ascii() || c.is_ascii_uppercase());
    // ASCII, lower-case and without a punycode label: canonical already (the check path).
    if plain && !has_xn(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Cow::Owned(s.to_ascii_lowercase());
    };
    let domain = canonical_domain(domain);
    let mut out = String::with_capacity(s.len());
    out.push_str(local);
    out.make_ascii_lowercase();
    out.push('@');
    out.push_str(&domain);
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

/// Whether `b` holds `xn--` (a punycode label's start) anywhere. Most emails have no `-`
/// at all, which one `memchr` finds; `str::contains` ran a two-way substring search
/// (about 100 instructions an email, five emails looked up per mutation).
fn has_xn(b: &[u8]) -> bool {
    memchr::memchr(b'-', b).is_some() && memchr::memmem::find(b, b"xn--").is_some()
}

/// `s` split at its first `/` (`org/project`), by a byte search: a `char` pattern's
/// searcher costs about 100 instructions for a short id, and every mutation on a project
/// splits its id several times.
#[inline]
pub fn split_slash(s: &str) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == b'/')?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// A domain lower-cased; an internationalised one (non-ASCII, or with a punycode label)
/// in its IDNA Unicode form when that form is itself a valid domain, else its ASCII form,
/// else lower-cased as given — so the canonical form of a valid email is valid and its own
/// canonical form.
fn canonical_domain(d: &str) -> Cow<'_, str> {
    let idn = !d.is_ascii()
        || d.split('.')
            .any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")));
    if !idn || d.starts_with('[') {
        return if d.bytes().any(|c| c.is_ascii_uppercase()) {
            Cow::Owned(d.to_ascii_lowercase())
        } else {
            Cow::Borrowed(d)
        };
    }
    let (unicode, ok) = idna::domain_to_unicode(d);
    if ok.is_ok() && is_domain(&unicode) {
        return Cow::Owned(unicode);
    }
    match idna::domain_to_ascii(d) {
        Ok(ascii) if is_domain(&ascii) => Cow::Owned(ascii),
        _ => Cow::Owned(d.to_lowercase()),
    }
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
            "juergen@bücher.example",
            "jane@例え.テスト",
            "a@xn--bcher-kva.example",
            "a@b.xn--p1ai",
            "a@b.c-d",
            "a@ex--ample.com",
            "a@[127.0.0.1]",
            "a@[::1]",
            "a@[::ffff:1.2.3.4]",
            "ſ@example.com",
            "a@ex\u{ffff}ample.com",
        ] {
            assert!(email_problem(ok).is_none(), "{ok}");
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
            "jane@x-.com",
            "jane@x.c",
            "jane@b.c1",
            "jane@exa_mple.com",
            "a..b@example.com",
            "jane\n@example.com",
            "jane@example.com\n",
            "jané@example.com",
            "root@LOCALHOST",
            "\"jane\"@example.com",
            "a@1.2.3.4",
            "a@[01.2.3.4]",
            "a@[IPv6:::1]",
            "a@[0000:0000:0000:0000:0000:ffff:255.255.255.255]",
            "a@ex\u{a0}ample.com",
            "a@ex\u{1f600}ample.com",
        ] {
            assert!(email_problem(bad).is_some(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(308));
        assert!(email_problem(&long).is_none());
        assert!(email_problem(&format!("a{long}")).is_some());
        // 248 characters in 490 bytes: Django counts characters
        let wide = format!("a@{}éé", format!("{}.", "ü".repeat(60)).repeat(4));
        assert!(wide.len() > 320 && email_problem(&wide).is_none());
    }

    /// The fast path never accepts what the full check refuses, and accepts only
    /// canonical forms: over the lists above, edge cases and generated strings.
    #[test]
    fn the_plain_email_fast_path_agrees_with_the_full_check() {
        let mut corpus: Vec<String> = [
            "jane@example.com",
            "j.d+x@sub.example.co",
            "a@b.cd",
            "a@b.c",
            "a@b.c1",
            "a@b-.cd",
            "a@-b.cd",
            "a@b..cd",
            "a@.b.cd",
            "a@b.cd.",
            "a.@b.cd",
            ".a@b.cd",
            "a..b@c.de",
            "@b.cd",
            "a@",
            "a@@b.cd",
            "a@b@c.de",
            "a@localhost",
            "a@xn--bcher-kva.example",
            "a@b.xn--p1ai",
            "axn--b@c.de",
            "Jane@example.com",
            "jane@Example.com",
            "jane@exa_mple.com",
            "ja ne@x.com",
            "jane@example.com\n",
            "\"j\"@x.com",
            "jané@example.com",
            "jane@bücher.example",
            "ſ@example.com",
            "a@[127.0.0.1]",
            "!#$%&'*+/=?^_`{|}~-@x.io",
            "a@b.c-d",
            "a@ex--ample.com",
        ]
        .map(str::to_owned)
        .to_vec();
        corpus.push(format!("{}@example.com", "a".repeat(308)));
        corpus.push(format!("{}@example.com", "a".repeat(309)));
        corpus.push(format!("a@{}.com", "b".repeat(63)));
        corpus.push(format!("a@{}.com", "b".repeat(64)));
        corpus.push(format!("a@b.{}", "c".repeat(63)));
        corpus.push(format!("a@b.{}", "c".repeat(64)));
        // Generated: `local@label.….tld`, each part drawn from letters and edge characters.
        let mut x: u32 = 11;
        let mut draw = |alphabet: &str, max: usize| -> String {
            let chars: Vec<char> = alphabet.chars().collect();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = (x >> 16) as usize % (max + 1);
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    chars
                        .get((x >> 16) as usize % chars.len())
                        .copied()
                        .unwrap_or('a')
                })
                .collect()
        };
        for _ in 0..20_000 {
            let mut s = draw("aaaaaab.+-_Z\"é@ ", 5);
            s.push('@');
            for _ in 0..=draw("ab", 2).len() {
                s.push_str(&draw("aaaaaab9-xnZé_[]:", 5));
                s.push('.');
            }
            s.push_str(&draw("aaaaabbZ1-é.", 5));
            corpus.push(s);
        }
        let mut plain = 0;
        for s in &corpus {
            assert_eq!(is_plain_email(s), is_plain_email_before(s), "{s:?}");
            if is_plain_email(s) {
                plain += 1;
                assert!(email_problem(s).is_none(), "{s:?}");
                assert_eq!(canonical_email(s), s.as_str(), "{s:?}");
            }
            let full = email_problem(s).map_or_else(|| Ok(canonical_email(s).into_owned()), Err);
            assert_eq!(
                email("user", s).map_err(|e| e.to_string()),
                full.map_err(|why| {
                    Error::invalid(
                        "user",
                        s,
                        format!("an email address as Django's EmailValidator accepts it: {why}"),
                    )
                    .to_string()
                }),
                "{s:?}"
            );
            assert_eq!(check_email("actor", s).is_ok(), email_problem(s).is_none());
        }
        assert!(
            plain > 50,
            "the generated corpus reaches the fast path ({plain})"
        );
    }

    /// The fast path as it was (split and scan), to test the one-pass form against.
    fn is_plain_email_before(s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() > 320 {
            return false;
        }
        let Some(at) = b.iter().rposition(|&c| c == b'@') else {
            return false;
        };
        let (local, domain) = (
            b.get(..at).unwrap_or_default(),
            b.get(at + 1..).unwrap_or_default(),
        );
        // The byte class is shared; the structure is what changed.
        let atom = is_atom;
        let local_ok = local
            .split(|&c| c == b'.')
            .all(|a| !a.is_empty() && a.iter().all(|&c| atom(c)));
        if !local_ok {
            return false;
        }
        let mut labels = domain.split(|&c| c == b'.');
        let Some(tld) = labels.next_back() else {
            return false;
        };
        let mut count = 0;
        for l in labels {
            let ok = (1..=63).contains(&l.len())
                && l.first() != Some(&b'-')
                && l.last() != Some(&b'-')
                && !l.starts_with(b"xn--")
                && l.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
            if !ok {
                return false;
            }
            count += 1;
        }
        count >= 1 && (2..=63).contains(&tld.len()) && tld.iter().all(u8::is_ascii_lowercase)
    }

    #[test]
    fn byte_searches_find_what_the_str_searches_find() {
        for s in [
            "",
            "/",
            "a/",
            "/b",
            "acme/web",
            "a/b/c",
            "xn--",
            "a@xn--b.c",
            "axn-b@c.d",
            "x-n--@a.b",
            "a@b-c.xn-",
            "ü/✓",
            "xn-xn--",
            "--",
        ] {
            assert_eq!(has_xn(s.as_bytes()), s.contains("xn--"), "{s:?}");
            assert_eq!(split_slash(s), s.split_once('/'), "{s:?}");
        }
    }

    #[test]
    fn canonical_emails_are_stable_and_valid() {
        for (given, stored) in [
            ("Jane@Example.com", "jane@example.com"),
            ("Juergen@Bücher.example", "juergen@bücher.example"),
            ("JUERGEN@BÜCHER.EXAMPLE", "juergen@bücher.example"),
            ("juergen@XN--BCHER-KVA.example", "juergen@bücher.example"),
            ("a@x.bücher\u{3002}example", "a@x.bücher.example"),
            ("IP@[::FFFF:1.2.3.4]", "ip@[::ffff:1.2.3.4]"),
            // punycode whose Unicode form Django would refuse keeps its ASCII form
            ("a@xn--ls8h.la", "a@xn--ls8h.la"),
            ("a@EX\u{ffff}AMPLE.com", "a@ex\u{ffff}ample.com"),
        ] {
            let once = email("user", given).ok();
            assert_eq!(once.as_deref(), Some(stored), "{given}");
            assert_eq!(email("user", stored).ok().as_deref(), Some(stored));
            assert_eq!(email_key(given), stored);
            assert_eq!(email_key(stored), stored);
        }
        assert!(matches!(email_key("jane@example.com"), Cow::Borrowed(_)));
        assert!(matches!(
            email_key("juergen@bücher.example"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_malformed_email_is_looked_up_as_given() {
        // IDNA maps these full stops to `.`, but the address is refused: its lookup form
        // must not be the valid user's.
        for bad in [
            "jane@example\u{3002}com",
            "JANE@EXAMPLE\u{ff0e}COM",
            "Jane@Example",
            "Jane",
        ] {
            assert!(email("user", bad).is_err(), "{bad}");
            assert_eq!(email_key(bad), bad);
        }
        assert_eq!(email_key("Jane@Example.com"), "jane@example.com");
    }

    #[test]
    fn email_errors_say_what_is_wrong() {
        let why = |s: &str| {
            email("user", s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(why("jane@exa mple.com").contains("the domain `exa mple.com`"));
        assert!(why("jane").contains("no `@`"));
        assert!(why("ja ne@x.com").contains("before the `@`"));
        assert!(why("\"j\"@x.com").contains("quoted"));
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
