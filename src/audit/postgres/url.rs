//! `postgresql://` URLs: what they name, accessgraph's own parameters, and the URL with
//! its password hidden for messages.

use std::time::Duration;

use super::tls::{describe, Tls};
use crate::error::AuditError;
use crate::error::Error;

/// Where a `postgresql://` URL points, and the accessgraph parameters it carries.
#[derive(Clone)]
pub struct Target {
    /// The connection parameters (the URL without accessgraph's own parameters and
    /// without the TLS ones, which [`Tls`] reads).
    pub config: postgres::Config,
    /// How the connection is encrypted and the server checked (libpq's `ssl*`).
    pub tls: Tls,
    /// The graph's name in the database (`?graph=`, default `default`).
    pub name: String,
    /// The URL with its password hidden, for messages.
    pub display: String,
    /// How often a process polls when no notification arrives (`?poll=` seconds).
    pub poll: Duration,
    /// Whether a background thread applies what other processes commit (`?follow=`).
    pub follow: bool,
    /// Whether a commit waits for the server's WAL flush (`durability` "fsync" and
    /// "group"; false for "os"): sets the session's `synchronous_commit`.
    pub synchronous_commit: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// True for a `postgresql://` or `postgres://` URL.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// The query of a URL as the driver reads it: after the first `?` that follows the user
/// part (which ends at the first `@`, so a password may hold `?` but not `@` unencoded).
fn query(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    rest.split_once('?').map(|(_, q)| q)
}

/// Query parameters whose value is a secret.
fn secret(key: &str) -> bool {
    matches!(
        decode(key)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("password" | "sslpassword")
    )
}

/// True for a parameter name that is not a name once percent-decoded: not UTF-8, or
/// holding `=` (`password%3Dsecret`), so that it may carry a value, which the driver
/// would echo in its error.
fn mangled(key: &str) -> bool {
    decode(key).map_or(true, |k| k.contains('='))
}

/// The byte ranges of `url` that may hold a password.
///
/// The driver reads the user part up to the first `@`; a password holding an unencoded
/// `@` (`app:x@y@db`) ends at the last one. Both readings are taken and every range
/// either finds is hidden, so no part of such a password shows; a URL with `@` in its
/// query as well has more than its password hidden.
fn secret_ranges(url: &str) -> Vec<std::ops::Range<usize>> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = url.get(start..).unwrap_or("");
    let mut out = Vec::new();
    let mut ats: Vec<Option<usize>> = vec![rest.find('@'), rest.rfind('@')];
    ats.dedup();
    for at in ats {
        let after = match at {
            Some(at) => {
                let userinfo = rest.get(..at).unwrap_or("");
                if let Some(colon) = userinfo.find(':') {
                    out.push(start + colon + 1..start + at);
                }
                start + at + 1
            }
            None => start,
        };
        let Some(q) = url.get(after..).and_then(|r| r.find('?')) else {
            continue;
        };
        let mut pos = after + q + 1;
        for pair in url.get(pos..).unwrap_or("").split('&') {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if mangled(key) {
                out.push(pos..pos + pair.len());
            } else if secret(key) && key.len() < pair.len() {
                out.push(pos + key.len() + 1..pos + pair.len());
            }
            pos += pair.len() + 1;
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// The URL with every password hidden (`***`): the one in the user part and those given
/// as `?password=` or `?sslpassword=` (and any parameter whose decoded name holds `=`).
/// The only way a URL reaches a message, a `repr`, `journal_url` or the Django error.
pub fn redact(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut shown = 0;
    for r in secret_ranges(url) {
        if r.start >= shown {
            out.push_str(url.get(shown..r.start).unwrap_or(""));
            out.push_str("***");
        }
        shown = shown.max(r.end);
    }
    out.push_str(url.get(shown..).unwrap_or(""));
    out
}

/// A percent-encoded URL component, decoded.
fn decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(v)) = (b, hex) {
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Reads a `postgresql://user[:password]@host[:port]/dbname[?param=value&...]` URL. Besides
/// the connection parameters of libpq URLs (the TLS ones as libpq means them: see
/// [`Tls`]) it takes `graph` (the graph's name in the database, default `default`), `poll`
/// (seconds between polls when no notification arrives, default 1) and `follow`
/// (`on`/`off`: apply others' events in the background). The certificate files the URL
/// names are read once here, so a bad one is a `ValidationError` naming its parameter.
pub fn parse_url(url: &str) -> Result<Target, Error> {
    let display = redact(url);
    if !is_url(url) {
        return Err(Error::invalid(
            "url",
            display,
            "a postgresql:// or postgres:// URL",
        ));
    }
    let query = query(url);
    let mut keep = Vec::new();
    let mut tls_params = Vec::new();
    let mut name = "default".to_owned();
    let mut poll = Duration::from_secs(1);
    let mut follow = true;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        // A name holding `=`: the driver would name it in its error, value and all.
        let (false, Ok(k), Ok(v)) = (mangled(raw_key), decode(raw_key), decode(raw_value)) else {
            return Err(Error::invalid(
                "url",
                display,
                "a PostgreSQL connection URL (a parameter is not UTF-8, or its name holds `=`, once percent-decoded)",
            ));
        };
        match k.as_str() {
            "graph" => {
                if !valid_name(&v) {
                    return Err(Error::invalid(
                        "graph",
                        v,
                        "a graph name of 1 to 100 letters, digits, `_`, `-` or `.`",
                    ));
                }
                name = v;
            }
            "poll" => {
                poll = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && (0.01..=3600.0).contains(s))
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        Error::invalid(
                            "poll",
                            &v,
                            "seconds between 0.01 and 3600, such as 1 or 0.5",
                        )
                    })?;
            }
            "follow" => {
                follow = match v.as_str() {
                    "on" | "true" | "1" => true,
                    "off" | "false" | "0" => false,
                    _ => return Err(Error::invalid("follow", v, "`on` or `off`")),
                };
            }
            key if Tls::PARAMETERS.contains(&key) => tls_params.push((k, v)),
            _ => keep.push(pair),
        }
    }
    let tls = Tls::from_params(&tls_params)?;
    tls.check()?;
    let mut conn = String::with_capacity(url.len());
    let prefix_end = url.len() - query.map_or(0, |q| q.len() + 1);
    conn.push_str(url.get(..prefix_end).unwrap_or(url));
    if !keep.is_empty() {
        conn.push('?');
        conn.push_str(&keep.join("&"));
    }
    let mut config: postgres::Config = conn.parse().map_err(|e| {
        Error::invalid(
            "url",
            display.clone(),
            format!("a PostgreSQL connection URL ({})", describe(&e)),
        )
    })?;
    if config.get_application_name().is_none() {
        config.application_name("accessgraph");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    // A server that vanishes without closing the connection (a machine lost) fails the
    // call after this long instead of after TCP's quarter of an hour.
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(20));
    }
    config.keepalives_idle(Duration::from_secs(30));
    if tls.direct {
        config.ssl_negotiation(postgres::config::SslNegotiation::Direct);
    }
    Ok(Target {
        config,
        tls,
        name,
        display,
        poll,
        follow,
        synchronous_commit: true,
    })
}

pub(super) fn journal_err(target: &Target, line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Journal {
        path: target.display.clone(),
        line,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::SslMode;
    use super::*;

    #[test]
    fn urls_keep_their_connection_part_and_hide_the_password() {
        let t = parse_url("postgresql://app:s3cret@db.example:5433/acc?graph=acme&poll=0.5&follow=off&sslmode=disable")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(t.name, "acme");
        assert_eq!(t.poll, Duration::from_millis(500));
        assert!(!t.follow);
        assert_eq!(
            t.display,
            "postgresql://app:***@db.example:5433/acc?graph=acme&poll=0.5&follow=off&sslmode=disable"
        );
        assert_eq!(t.config.get_dbname(), Some("acc"));
        assert_eq!(t.config.get_ports(), &[5433]);
        assert!(!t.display.contains("s3cret"));
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (url, field) in [
            ("postgresql://h/db?graph=a%20b", "graph"),
            ("postgresql://h/db?poll=0", "poll"),
            ("postgresql://h/db?follow=maybe", "follow"),
            ("postgresql://h/db?nonsense=1", "url"),
            // libpq parameters the client cannot honour are refused, not ignored.
            ("postgresql://h/db?sslcrl=/etc/crl.pem", "url"),
            ("postgresql://h/db?sslpassword=x", "url"),
            ("postgresql://h/db?sslmode=verify_full", "sslmode"),
            (
                "postgresql://h/db?sslmode=require&sslrootcert=system",
                "sslmode",
            ),
            ("postgresql://h/db?sslnegotiation=direct", "sslmode"),
            ("postgresql://h/db?sslnegotiation=tls", "sslnegotiation"),
            ("postgresql://h/db?sslsni=2", "sslsni"),
            (
                "postgresql://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.crt",
                "sslrootcert",
            ),
        ] {
            let e = parse_url(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(&format!("invalid {field}")), "{url}: {e}");
            if url.contains("sslcrl") {
                assert!(e.contains("unknown option `sslcrl`"), "{e}");
            }
        }
    }

    #[test]
    fn tls_parameters_are_read_as_libpq_reads_them() {
        let mode =
            |url: &str| parse_url(url).map_or_else(|e| unreachable!("{url}: {e}"), |t| t.tls.mode);
        assert_eq!(mode("postgresql://h/db"), SslMode::Prefer);
        assert_eq!(mode("postgresql://h/db?sslmode=allow"), SslMode::Allow);
        assert_eq!(
            mode("postgresql://h/db?sslmode=verify-ca&sslrootcert=/nonexistent&sslmode=disable"),
            SslMode::Disable
        );
        let direct = parse_url("postgresql://h/db?sslmode=require&sslnegotiation=direct&sslsni=0")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(direct.tls.direct && !direct.tls.sni);
        assert_eq!(
            direct.config.get_ssl_negotiation(),
            postgres::config::SslNegotiation::Direct
        );
        // The driver never sees the parameters it would refuse or misread.
        let t = parse_url("postgresql://h/db?sslmode=verify-full&sslrootcert=system&graph=g")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert_eq!(t.tls.rootcert.as_deref(), Some("system"));
    }

    #[test]
    fn every_password_is_hidden() {
        for (url, shown) in [
            ("postgresql://app:pw@db/x", "postgresql://app:***@db/x"),
            (
                "postgresql://app@db/x?password=pw",
                "postgresql://app@db/x?password=***",
            ),
            (
                "postgresql://db/x?a=1&PASSWORD=pw&b=2",
                "postgresql://db/x?a=1&PASSWORD=***&b=2",
            ),
            (
                "postgresql://db/x?pass%77ord=pw",
                "postgresql://db/x?pass%77ord=***",
            ),
            (
                "postgresql://db/x?sslpassword=pw",
                "postgresql://db/x?sslpassword=***",
            ),
            ("postgresql://app:p/a?s:s@db/x", "postgresql://app:***@db/x"),
            ("postgresql://app@db/x", "postgresql://app@db/x"),
            // An unencoded `@` in the password: the driver ends the user part at the
            // first, the writer meant the last; neither half shows.
            (
                "postgresql://app:x@ySECRET@db/x",
                "postgresql://app:***@db/x",
            ),
            ("postgresql://app:a?b@c@db/x", "postgresql://app:***@db/x"),
            ("postgresql://app:a@b?c@db/x", "postgresql://app:***@db/x"),
            (
                "postgresql://app@db/x?password=a@b",
                "postgresql://app@db/x?password=***",
            ),
            // A parameter name that decodes to `name=value`.
            (
                "postgresql://db/x?password%3DSECRET&graph=g",
                "postgresql://db/x?***&graph=g",
            ),
            ("postgresql://db/x?pass%FF=SECRET", "postgresql://db/x?***"),
            ("postgresql://app:@db/x", "postgresql://app:***@db/x"),
        ] {
            assert_eq!(redact(url), shown);
        }
        let e = parse_url("postgresql://app:pw1@db/x?password=pw2&sslmode=bogus")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("invalid sslmode") && !e.contains("pw1") && !e.contains("pw2"),
            "{e}"
        );
        for url in [
            "postgresql://db/x?password%3DSECRET",
            "postgresql://app:x@ySECRET@db/x?sslmode=bogus",
        ] {
            let e = parse_url(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("invalid") && !e.contains("SECRET"), "{e}");
        }
    }
}
