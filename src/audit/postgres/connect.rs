//! Opening a connection with the URL's TLS mode and the session settings, and what a
//! failed call says.

use super::tls::{describe, SslMode};
use super::url::Target;
use crate::error::AuditError;
use postgres::config::SslMode as DriverMode;
use postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Set on every connection: a writer stuck inside its transaction (a stopped process)
/// loses it, and with it the writers' lock, after a minute; nobody waits for that lock
/// longer than 15 s.
const SESSION_SETTINGS: &str =
    "SET lock_timeout = '15s'; SET idle_in_transaction_session_timeout = '60s'";

/// `durability` "fsync" and "group": a commit returns once the server flushed it, even
/// where the database's default says otherwise (PostgreSQL shares one flush between
/// concurrent commits itself). A stronger setting (waiting for standbys) is kept.
const SYNCHRONOUS: &str = "SELECT set_config('synchronous_commit', 'on', false) \
     WHERE current_setting('synchronous_commit') = 'off'";

/// `durability` "os": a commit returns before the flush (a server crash may lose the last
/// ones, never half of one).
const ASYNCHRONOUS: &str = "SET synchronous_commit = off";

fn attempt(
    target: &Target,
    mode: DriverMode,
    tls: &MakeRustlsConnect,
) -> Result<Client, postgres::Error> {
    let mut config = target.config.clone();
    config.ssl_mode(mode);
    config.connect(tls.clone())
}

/// True when a connection attempt failed in the TLS handshake (a certificate refused).
fn handshake_failed(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let inner = s
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map_or(s, |i| i as &(dyn std::error::Error + 'static));
        if inner.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Opens a connection as the URL's `sslmode` says (see the module docs), with the session
/// settings. Errors are `AuditError::Unavailable` naming the URL (password hidden).
pub fn connect(target: &Target) -> Result<Client, AuditError> {
    let cannot = |e: &postgres::Error| unavailable(target, "cannot connect", e);
    let both = |first: &str, e1: &postgres::Error, then: &str, e2: &postgres::Error| {
        AuditError::Unavailable(format!(
            "{}: cannot connect: {first}: {}; then {then}: {}",
            target.display,
            describe(e1),
            describe(e2)
        ))
    };
    let mut client = if target.tls.mode == SslMode::Disable {
        let mut config = target.config.clone();
        config.ssl_mode(DriverMode::Disable);
        config.connect(NoTls).map_err(|e| cannot(&e))?
    } else {
        let tls = MakeRustlsConnect::new(
            target
                .tls
                .client_config()
                .map_err(|e| AuditError::Unavailable(format!("{}: {e}", target.display)))?,
        );
        match target.tls.mode {
            SslMode::Allow => match attempt(target, DriverMode::Disable, &tls) {
                Ok(c) => c,
                // The server refused plaintext (pg_hba.conf): try TLS.
                Err(e) if e.as_db_error().is_some() => {
                    attempt(target, DriverMode::Require, &tls)
                        .map_err(|e2| both("without TLS", &e, "with TLS", &e2))?
                }
                Err(e) => return Err(cannot(&e)),
            },
            SslMode::Prefer => match attempt(target, DriverMode::Prefer, &tls) {
                Ok(c) => c,
                Err(e) if handshake_failed(&e) => attempt(target, DriverMode::Disable, &tls)
                    .map_err(|e2| both("with TLS", &e, "without TLS", &e2))?,
                Err(e) => return Err(cannot(&e)),
            },
            _ => attempt(target, DriverMode::Require, &tls).map_err(|e| cannot(&e))?,
        }
    };
    let durability = if target.synchronous_commit {
        SYNCHRONOUS
    } else {
        ASYNCHRONOUS
    };
    client
        .batch_execute(&format!("{SESSION_SETTINGS}; {durability}"))
        .map_err(|e| cannot(&e))?;
    Ok(client)
}

pub(super) fn unavailable(target: &Target, what: &str, e: &postgres::Error) -> AuditError {
    AuditError::Unavailable(format!("{}: {what}: {}", target.display, describe(e)))
}

/// True when the error lost the connection (rather than the server refusing a statement).
pub(super) fn connection_lost(e: &postgres::Error, client: &Client) -> bool {
    e.as_db_error()
        .is_none_or(|db| db.code().code().starts_with("57"))
        || client.is_closed()
}
