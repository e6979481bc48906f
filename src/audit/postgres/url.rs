//! `postgresql://` URLs: what they name, accessgraph's own parameters, and the URL with
//! its password hidden for messages.

use std::time::Duration;

use super::AuditError;
use crate::error::Error;

/// Where a `postgresql://` URL points, and the accessgraph parameters it carries.
#[derive(Clone)]
pub struct Target {
    /// The connection parameters (the URL without accessgraph's own parameters).
    pub config: postgres::Config,
    /// The graph's name in the database (`?graph=`, default `default`).
    pub name: String,
    /// The URL with its password hidden, for messages.
    pub display: String,
    /// How often a process polls when no notification arrives (`?poll=` seconds).
    pub poll: Duration,
    /// Whether a background thread applies what other processes commit (`?follow=`).
    pub follow: bool,
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

/// The URL with the password of its user part replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Reads a `postgresql://user[:password]@host[:port]/dbname[?param=value&...]` URL. Besides
/// the connection parameters of libpq URLs it takes `graph` (the graph's name in the
/// database, default `default`), `poll` (seconds between polls when no notification
/// arrives, default 1) and `follow` (`on`/`off`: apply others' events in the background).
pub fn parse_url(url: &str) -> Result<Target, Error> {
    let display = redact(url);
    if !is_url(url) {
        return Err(Error::invalid(
            "url",
            display,
            "a postgresql:// or postgres:// URL",
        ));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut keep = Vec::new();
    let mut name = "default".to_owned();
    let mut poll = Duration::from_secs(1);
    let mut follow = true;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "graph" => {
                if !valid_name(v) {
                    return Err(Error::invalid(
                        "graph",
                        v,
                        "a graph name of 1 to 100 letters, digits, `_`, `-` or `.`",
                    ));
                }
                v.clone_into(&mut name);
            }
            "poll" => {
                poll = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && (0.01..=3600.0).contains(s))
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        Error::invalid("poll", v, "seconds between 0.01 and 3600, such as 1 or 0.5")
                    })?;
            }
            "follow" => {
                follow = match v {
                    "on" | "true" | "1" => true,
                    "off" | "false" | "0" => false,
                    _ => return Err(Error::invalid("follow", v, "`on` or `off`")),
                };
            }
            _ => keep.push(pair),
        }
    }
    let conn = if keep.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", keep.join("&"))
    };
    let mut config: postgres::Config = conn.parse().map_err(|e| {
        Error::invalid(
            "url",
            display.clone(),
            format!("a PostgreSQL connection URL ({e})"),
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
    Ok(Target {
        config,
        name,
        display,
        poll,
        follow,
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
        ] {
            let e = parse_url(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(&format!("invalid {field}")), "{url}: {e}");
        }
    }
}
