//! Connecting to the server: the connector, the session settings, and what a failed call
//! says.

use postgres::{Client, NoTls};

use super::{AuditError, Target};

/// Set on every connection: a writer stuck inside its transaction (a stopped process)
/// loses it, and with it the writers' lock, after a minute; nobody waits for that lock
/// longer than 15 s.
const SESSION_SETTINGS: &str =
    "SET lock_timeout = '15s'; SET idle_in_transaction_session_timeout = '60s'";

/// Opens a connection with the session settings.
pub fn connect(target: &Target) -> Result<Client, postgres::Error> {
    let mut client = target.config.connect(NoTls)?;
    client.batch_execute(SESSION_SETTINGS)?;
    Ok(client)
}

/// The error with what the server or the socket said (`postgres::Error` alone says only
/// "db error").
pub(super) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
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
