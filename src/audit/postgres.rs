//! The journal kept in PostgreSQL, shared by processes on many machines (feature
//! `postgres`).
//!
//! The records are those of the file journal — line 1 (the header) and one line per event,
//! each with its CRC — kept in tables the library creates and migrates itself (see
//! [`MIGRATIONS`]):
//!
//! - `accessgraph_schema (version, applied_at)`: the migrations applied.
//! - `accessgraph_graphs (graph_id, name, header, epoch, created_at)`: one row per graph;
//!   `name` is what a URL names (`?graph=`), `header` is line 1 of a file journal, `epoch`
//!   counts the rewrites of the events (retention pruning, erasure).
//! - `accessgraph_events (graph_id, seq, record)`, primary key `(graph_id, seq)`: one row per
//!   event; `record` is the journal line without its newline.
//! - `accessgraph_snapshots (graph_id, seq, hash, epoch, state, created_at)`: the state at
//!   one event (the JSON snapshot), so a process joining replays only what follows it.
//!
//! Writers: [`JournalStore::lock`] opens a transaction and takes
//! `pg_advisory_xact_lock(LOCK_CLASS, <graph>)`; the graph's catch-up reads the events
//! after the last one this process saw; [`JournalStore::append`] inserts the new events,
//! notifies `ag_<graph_id>` and commits, and the mutation returns only after the commit.
//! The lock goes with the transaction, so a writer that dies mid-way leaves nothing: the
//! server rolls back what it had not committed. Readers read the events after the last one
//! seen; `crate::graph::postgres::follow` LISTENs and refreshes the graph.
//!
//! A lost connection fails the call that meets it with [`AuditError::Unavailable`] (nothing
//! is applied in memory; a commit whose answer was lost is read back by the next catch-up
//! if it happened) and the next call reconnects: the store is not fail-stop.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};

use super::event::{parse_event, strip_crc};
use super::journal::{Fresh, Header, JournalStore, Record};
use super::log::{Log, Pending, PrefixLoader};
use super::recorder::{Audit, Session};
use super::replay;
use crate::error::AuditError;
use crate::error::Error;
use crate::state::State;

/// The first key of every advisory lock the library takes (`"AGJL"`).
pub const LOCK_CLASS: i32 = 0x4147_4A4C;
/// The second key of the migration lock (graph locks use `LOCK_CLASS + 1`).
const MIGRATION_KEY: i32 = 0;

/// The schema, one step per version; a database records the steps it has had in
/// `accessgraph_schema`, and opening applies the missing ones under an advisory lock.
pub const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE accessgraph_graphs (
        graph_id   text PRIMARY KEY,
        name       text NOT NULL UNIQUE,
        header     text NOT NULL,
        epoch      bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE accessgraph_events (
        graph_id text   NOT NULL REFERENCES accessgraph_graphs (graph_id) ON DELETE CASCADE,
        seq      bigint NOT NULL CHECK (seq > 0),
        record   text   NOT NULL,
        PRIMARY KEY (graph_id, seq)
    );
    CREATE TABLE accessgraph_snapshots (
        graph_id   text   NOT NULL REFERENCES accessgraph_graphs (graph_id) ON DELETE CASCADE,
        seq        bigint NOT NULL,
        hash       text   NOT NULL,
        epoch      bigint NOT NULL,
        state      text   NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (graph_id, seq)
    );",
)];

/// Set on every connection: a writer stuck inside its transaction (a stopped process)
/// loses it, and with it the writers' lock, after a minute; nobody waits for that lock
/// longer than 15 s.
const SESSION_SETTINGS: &str =
    "SET lock_timeout = '15s'; SET idle_in_transaction_session_timeout = '60s'";

/// The events after `$2`, and the graph's epoch (one row with NULL `seq` when none).
const FRESH_SQL: &str = "SELECT g.epoch, e.seq, e.record FROM accessgraph_graphs g \
     LEFT JOIN accessgraph_events e ON e.graph_id = g.graph_id AND e.seq > $2 \
     WHERE g.graph_id = $1 ORDER BY e.seq";

/// Inserts events and notifies the graph's channel with the last `seq`.
const INSERT_SQL: &str = "WITH ins AS (\
     INSERT INTO accessgraph_events (graph_id, seq, record) \
     SELECT $1, t.seq, t.record FROM unnest($2::int8[], $3::text[]) AS t(seq, record) \
     RETURNING seq) \
     SELECT pg_notify($4, (SELECT max(seq) FROM ins)::text)";

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

/// Opens a connection with the session settings.
pub fn connect(target: &Target) -> Result<Client, postgres::Error> {
    let mut client = target.config.connect(NoTls)?;
    client.batch_execute(SESSION_SETTINGS)?;
    Ok(client)
}

/// The error with what the server or the socket said (`postgres::Error` alone says only
/// "db error").
fn describe(e: &postgres::Error) -> String {
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

fn unavailable(target: &Target, what: &str, e: &postgres::Error) -> AuditError {
    AuditError::Unavailable(format!("{}: {what}: {}", target.display, describe(e)))
}

fn journal_err(target: &Target, line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Journal {
        path: target.display.clone(),
        line,
        reason: reason.into(),
    }
}

/// True when the error lost the connection (rather than the server refusing a statement).
fn connection_lost(e: &postgres::Error, client: &Client) -> bool {
    e.as_db_error()
        .is_none_or(|db| db.code().code().starts_with("57"))
        || client.is_closed()
}

/// Applies the migrations the database lacks, under the migration lock; returns the
/// versions applied (none when the schema is current).
pub fn migrate(client: &mut Client, target: &Target) -> Result<Vec<i32>, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "migrating the schema", &e);
    let mut tx = client.transaction().map_err(err)?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({LOCK_CLASS}, {MIGRATION_KEY})"
    ))
    .map_err(err)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('accessgraph_schema') IS NOT NULL", &[])
        .and_then(|r| r.try_get(0))
        .map_err(err)?;
    if !exists {
        tx.batch_execute(
            "CREATE TABLE accessgraph_schema (
                version    integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .map_err(err)?;
    }
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM accessgraph_schema",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .map_err(err)?;
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(journal_err(
            target,
            1,
            format!(
                "the database schema is at version {current}, newer than this accessgraph knows ({latest}): upgrade accessgraph"
            ),
        ));
    }
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).map_err(err)?;
        tx.execute(
            "INSERT INTO accessgraph_schema (version) VALUES ($1)",
            &[&version],
        )
        .map_err(err)?;
        applied.push(version);
    }
    tx.commit().map_err(err)?;
    Ok(applied)
}

/// The graph's row, created with a new header when the name is new; returns its id.
fn find_or_create(client: &mut Client, target: &Target) -> Result<String, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "finding the graph", &e);
    let id = hex::encode(
        super::event::random_bytes(16)
            .map_err(|e| AuditError::Io(format!("cannot draw a graph id: {e}")))?,
    );
    let header = Header {
        accessgraph_journal: 1,
        anchor: super::event::genesis(&id),
        graph_id: id.clone(),
        base_seq: 0,
        base_state: None,
        erasures: 0,
    };
    let line = header.to_line();
    client
        .execute(
            "INSERT INTO accessgraph_graphs (graph_id, name, header) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            &[&id, &target.name, &line.trim_end_matches('\n')],
        )
        .map_err(err)?;
    client
        .query_one(
            "SELECT graph_id FROM accessgraph_graphs WHERE name = $1",
            &[&target.name],
        )
        .and_then(|r| r.try_get(0))
        .map_err(err)
}

fn parse_header(target: &Target, text: &str) -> Result<Header, AuditError> {
    let json = strip_crc(text).map_err(|_| {
        journal_err(
            target,
            1,
            "the header's checksum does not match (altered or damaged)",
        )
    })?;
    let header: Header = serde_json::from_str(&json)
        .map_err(|e| journal_err(target, 1, format!("not an accessgraph journal header: {e}")))?;
    if header.accessgraph_journal != 1 {
        return Err(journal_err(
            target,
            1,
            format!(
                "journal format {} is not supported (expected 1)",
                header.accessgraph_journal
            ),
        ));
    }
    Ok(header)
}

/// One event row read back: checksum, format, and that the row's `seq` is the event's.
/// Its "line" is the one it would have in a file journal with the same header.
fn parse_row(target: &Target, base_seq: u64, seq: i64, text: &str) -> Result<Record, AuditError> {
    let seq = u64::try_from(seq).unwrap_or(0);
    let line = seq.saturating_sub(base_seq) + 1;
    let json = strip_crc(text).map_err(|_| {
        journal_err(
            target,
            line,
            format!("event {seq}: the record's checksum does not match (altered or damaged)"),
        )
    })?;
    let event = parse_event(&json).map_err(|e| {
        journal_err(
            target,
            line,
            format!("event {seq}: not an audit event: {e:?}"),
        )
    })?;
    if event.seq != seq {
        return Err(journal_err(
            target,
            line,
            format!("the row of event {seq} holds event {}", event.seq),
        ));
    }
    Ok(Record { line, event })
}

fn state_from_json(target: &Target, text: &str, what: &str) -> Result<State, AuditError> {
    crate::state::snapshot::read(text).map_err(|e| journal_err(target, 1, format!("{what}: {e}")))
}

/// What reading a graph from the database gives.
pub struct Loaded {
    /// The graph's id.
    pub graph_id: String,
    /// The state after the last event.
    pub state: State,
    /// The events (those after the snapshot, when one was used; the rest load on first
    /// use of the audit log).
    pub log: Log,
    /// The events' epoch.
    pub epoch: i64,
    /// The last event's `seq`.
    pub seq: u64,
    /// The header's `base_seq`.
    pub base_seq: u64,
    /// The snapshot started from, if any.
    pub snapshot: Option<u64>,
}

/// Reads a graph: the latest snapshot of the current epoch (when `use_snapshot` and its
/// event is still there) and the events after it, each checked against the chain and
/// replayed. The events are read in one statement; if a rewrite happened meanwhile
/// (the epoch moved), it starts again.
#[expect(
    clippy::too_many_lines,
    reason = "reading a graph from the database is one sequence of queries, each checked in turn"
)]
pub fn load(
    client: &mut Client,
    target: &Target,
    graph_id: &str,
    use_snapshot: bool,
) -> Result<Loaded, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the journal", &e);
    for _ in 0..5 {
        let row = client
            .query_opt(
                "SELECT header, epoch FROM accessgraph_graphs WHERE graph_id = $1",
                &[&graph_id],
            )
            .map_err(err)?
            .ok_or_else(|| {
                journal_err(
                    target,
                    1,
                    format!("graph {graph_id} is no longer in the database"),
                )
            })?;
        let header_text: String = row.try_get(0).map_err(err)?;
        let epoch: i64 = row.try_get(1).map_err(err)?;
        let header = parse_header(target, &header_text)?;
        if header.graph_id != graph_id {
            return Err(journal_err(
                target,
                1,
                format!(
                    "the header names graph {} but the row is graph {graph_id}",
                    header.graph_id
                ),
            ));
        }
        let base_state = header
            .base_state
            .as_ref()
            .map(|v| state_from_json(target, &v.to_string(), "journal base state"))
            .transpose()?;
        let snapshot = if use_snapshot {
            latest_snapshot(client, target, graph_id, epoch, header.base_seq)?
        } else {
            None
        };
        let (mut state, mut seq, mut hash) = match &snapshot {
            Some((s_seq, s_hash, text)) => (
                state_from_json(target, text, "snapshot state")?,
                *s_seq,
                s_hash.clone(),
            ),
            None => (
                base_state.clone().unwrap_or_default(),
                header.base_seq,
                header.anchor.clone(),
            ),
        };
        let start = seq;
        let mut events = Vec::new();
        {
            let start_param = i64::try_from(start).unwrap_or(i64::MAX);
            let params: [&(dyn ToSql + Sync); 2] = [&graph_id, &start_param];
            let mut rows = client
                .query_raw(
                    "SELECT seq, record FROM accessgraph_events \
                     WHERE graph_id = $1 AND seq > $2 ORDER BY seq",
                    params,
                )
                .map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let row_seq: i64 = row.try_get(0).map_err(err)?;
                let text: &str = row.try_get(1).map_err(err)?;
                let r = parse_row(target, header.base_seq, row_seq, text)?;
                let ev = r.event;
                if ev.seq != seq + 1 || ev.prev_hash != hash {
                    return Err(journal_err(
                        target,
                        r.line,
                        format!(
                            "event {} does not follow event {seq} (events missing, or spliced)",
                            ev.seq
                        ),
                    ));
                }
                ev.check()
                    .map_err(|b| journal_err(target, r.line, format!("event {}: {b}", ev.seq)))?;
                replay::apply(&mut state, &ev).map_err(|m| journal_err(target, r.line, m))?;
                seq = ev.seq;
                hash.clone_from(&ev.hash);
                events.push(ev);
            }
        }
        let now: Option<i64> = client
            .query_opt(
                "SELECT epoch FROM accessgraph_graphs WHERE graph_id = $1",
                &[&graph_id],
            )
            .map_err(err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(err)?;
        if now != Some(epoch) {
            continue;
        }
        let log = match &snapshot {
            Some((s_seq, s_hash, _)) => Log {
                anchor: s_hash.clone(),
                base_seq: *s_seq,
                base_state: None,
                events,
                pending: Some(Pending {
                    path: PathBuf::from(&target.display),
                    end: *s_seq,
                    base_seq: header.base_seq,
                    anchor: header.anchor.clone(),
                    base_state,
                    loader: Some(prefix_loader(
                        target.clone(),
                        graph_id.to_owned(),
                        epoch,
                        header.base_seq,
                    )),
                }),
            },
            None => Log {
                anchor: header.anchor.clone(),
                base_seq: header.base_seq,
                base_state,
                events,
                pending: None,
            },
        };
        return Ok(Loaded {
            graph_id: graph_id.to_owned(),
            state,
            log,
            epoch,
            seq,
            base_seq: header.base_seq,
            snapshot: snapshot.map(|s| s.0),
        });
    }
    Err(AuditError::Unavailable(format!(
        "{}: the journal kept being rewritten while it was read",
        target.display
    )))
}

/// The latest snapshot of this epoch whose event is still in the journal with its hash.
fn latest_snapshot(
    client: &mut Client,
    target: &Target,
    graph_id: &str,
    epoch: i64,
    base_seq: u64,
) -> Result<Option<(u64, String, String)>, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the snapshot", &e);
    let Some(row) = client
        .query_opt(
            "SELECT s.seq, s.hash, s.state, e.record FROM accessgraph_snapshots s \
             JOIN accessgraph_events e ON e.graph_id = s.graph_id AND e.seq = s.seq \
             WHERE s.graph_id = $1 AND s.epoch = $2 ORDER BY s.seq DESC LIMIT 1",
            &[&graph_id, &epoch],
        )
        .map_err(err)?
    else {
        return Ok(None);
    };
    let seq: i64 = row.try_get(0).map_err(err)?;
    let hash: String = row.try_get(1).map_err(err)?;
    let state: String = row.try_get(2).map_err(err)?;
    let record: &str = row.try_get(3).map_err(err)?;
    let event = parse_row(target, base_seq, seq, record)?.event;
    if event.hash != hash {
        // A snapshot that does not lead to the journal as it is: replay from the start.
        return Ok(None);
    }
    Ok(Some((event.seq, hash, state)))
}

/// Reads the events before a snapshot when the audit log is first used, on a connection
/// of its own.
fn prefix_loader(target: Target, graph_id: String, epoch: i64, base_seq: u64) -> PrefixLoader {
    PrefixLoader(Arc::new(move |end: u64| {
        let err = |e: postgres::Error| unavailable(&target, "reading the journal", &e);
        let mut client = connect(&target).map_err(err)?;
        let now: i64 = client
            .query_one(
                "SELECT epoch FROM accessgraph_graphs WHERE graph_id = $1",
                &[&graph_id],
            )
            .and_then(|r| r.try_get(0))
            .map_err(err)?;
        if now != epoch {
            return Err(AuditError::Integrity {
                seq: end,
                reason: "the journal was rewritten (pruned or erased) since this graph read it: refresh() and try again".into(),
            });
        }
        let lo = i64::try_from(base_seq).unwrap_or(i64::MAX);
        let hi = i64::try_from(end).unwrap_or(i64::MAX);
        let params: [&(dyn ToSql + Sync); 3] = [&graph_id, &lo, &hi];
        let mut rows = client
            .query_raw(
                "SELECT seq, record FROM accessgraph_events \
                 WHERE graph_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                params,
            )
            .map_err(err)?;
        let mut out = Vec::with_capacity(usize::try_from(end - base_seq).unwrap_or(0));
        while let Some(row) = rows.next().map_err(err)? {
            let seq: i64 = row.try_get(0).map_err(err)?;
            let text: &str = row.try_get(1).map_err(err)?;
            out.push(
                parse_row(&target, base_seq, seq, text)
                    .map_err(|e| AuditError::Integrity {
                        seq: u64::try_from(seq).unwrap_or(0),
                        reason: e.to_string(),
                    })?
                    .event,
            );
        }
        Ok(out)
    }))
}

/// The record lines of one append: their `seq`s and texts (without the newline).
fn split_lines(lines: &str) -> io::Result<(Vec<i64>, Vec<&str>)> {
    let mut seqs = Vec::new();
    let mut texts = Vec::new();
    for line in lines.split_terminator('\n') {
        // Records start `{"seq":N,` (the event's first field).
        let seq = line
            .strip_prefix("{\"seq\":")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| io::Error::other("a record without its seq"))?;
        seqs.push(seq);
        texts.push(line);
    }
    Ok((seqs, texts))
}

/// A connection and its prepared statements.
struct Conn {
    client: Client,
    fresh: Statement,
    insert: Statement,
}

impl Conn {
    fn open(target: &Target) -> Result<Conn, postgres::Error> {
        Conn::prepare(connect(target)?)
    }

    fn prepare(mut client: Client) -> Result<Conn, postgres::Error> {
        let fresh = client.prepare(FRESH_SQL)?;
        let insert = client.prepare(INSERT_SQL)?;
        Ok(Conn {
            client,
            fresh,
            insert,
        })
    }
}

/// A graph's journal in PostgreSQL (see the module docs).
pub struct PgJournal {
    target: Target,
    graph_id: String,
    channel: String,
    lock_sql: String,
    conn: Option<Conn>,
    /// A writer's transaction is open (between `lock` and `append` or `unlock`).
    in_tx: bool,
    /// The last event read or written.
    seq: u64,
    base_seq: u64,
    epoch: i64,
    /// What `lock` read in the same round trip as the lock, for the catch-up.
    prefetched: Option<FreshRows>,
    /// The process that made `conn`: a child of `fork` must not use (nor close) it.
    pid: u32,
}

impl Drop for PgJournal {
    fn drop(&mut self) {
        self.forget_if_forked();
    }
}

/// The graph's epoch (`None`: the graph is gone) and the new events' `seq` and record.
type FreshRows = (Option<i64>, Vec<(i64, String)>);

/// Quotes records in the one-round-trip append (records are JSON: they end in `}`).
const TAG: &str = "$agr$";

/// True when `text` between two `TAG`s reads back as itself.
fn quotable(text: &str) -> bool {
    !text.contains(TAG) && !text.ends_with('$') && !text.ends_with("$agr")
}

impl std::fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJournal")
            .field("target", &self.target.display)
            .field("graph_id", &self.graph_id)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// The advisory lock of a graph: its id's first 32 bits.
fn graph_lock_key(graph_id: &str) -> i32 {
    let h = graph_id
        .get(..8)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    i32::from_ne_bytes(h.to_ne_bytes())
}

impl PgJournal {
    /// Connects, migrates the schema, finds (or creates) the graph named by the URL and
    /// reads it (from its latest snapshot when there is one).
    pub fn open(target: &Target) -> Result<(PgJournal, Loaded), AuditError> {
        let mut client = connect(target).map_err(|e| unavailable(target, "cannot connect", &e))?;
        migrate(&mut client, target)?;
        let graph_id = find_or_create(&mut client, target)?;
        if graph_id.is_empty() || !graph_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(journal_err(
                target,
                1,
                format!("graph id `{graph_id}` is not hexadecimal"),
            ));
        }
        let loaded = load(&mut client, target, &graph_id, true)?;
        let conn =
            Conn::prepare(client).map_err(|e| unavailable(target, "preparing statements", &e))?;
        let store = PgJournal {
            target: target.clone(),
            channel: format!("ag_{graph_id}"),
            lock_sql: format!(
                "BEGIN; SELECT pg_advisory_xact_lock({}, {})",
                LOCK_CLASS + 1,
                graph_lock_key(&graph_id)
            ),
            graph_id,
            conn: Some(conn),
            in_tx: false,
            prefetched: None,
            pid: std::process::id(),
            seq: loaded.seq,
            base_seq: loaded.base_seq,
            epoch: loaded.epoch,
        };
        Ok((store, loaded))
    }

    /// The URL, password hidden.
    pub fn display(&self) -> &str {
        &self.target.display
    }

    /// The channel the graph's commits notify.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// In a child of `fork`, leaves the parent's connection alone: closing it would send
    /// the server a goodbye on the parent's socket. The child connects anew.
    fn forget_if_forked(&mut self) {
        if self.pid != std::process::id() {
            if let Some(conn) = self.conn.take() {
                std::mem::forget(conn);
            }
            self.in_tx = false;
            self.prefetched = None;
            self.pid = std::process::id();
        }
    }

    /// Drops a connection that failed in a way that may have lost it; rolls back a
    /// transaction the server refused to go on with.
    fn after_error(&mut self, e: &postgres::Error) {
        let lost = self
            .conn
            .as_ref()
            .is_none_or(|c| connection_lost(e, &c.client));
        if lost {
            self.conn = None;
            self.in_tx = false;
        } else {
            self.finish();
        }
    }

    /// Ends a transaction left open (a mutation refused after the catch-up).
    fn finish(&mut self) {
        self.forget_if_forked();
        self.prefetched = None;
        if !self.in_tx {
            return;
        }
        self.in_tx = false;
        if let Some(c) = self.conn.as_mut() {
            if c.client.batch_execute("ROLLBACK").is_err() {
                self.conn = None;
            }
        }
    }

    /// Runs `f` on a connection, connecting first if need be. Outside a transaction, a
    /// connection found dead (the server restarted since it was last used) is replaced
    /// and `f` runs once more.
    fn run<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut Conn) -> Result<T, postgres::Error>,
    ) -> Result<T, AuditError> {
        let mut fresh_conn = false;
        self.forget_if_forked();
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
            self.in_tx = false;
        }
        loop {
            if self.conn.is_none() {
                self.conn = Some(
                    Conn::open(&self.target)
                        .map_err(|e| unavailable(&self.target, "cannot connect", &e))?,
                );
                fresh_conn = true;
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let in_tx = self.in_tx;
                    let lost = connection_lost(&e, &conn.client);
                    let out = unavailable(&self.target, what, &e);
                    self.after_error(&e);
                    if lost && !in_tx && !fresh_conn {
                        continue;
                    }
                    return Err(out);
                }
            }
        }
    }

    /// The events after the last one seen, read on their own (a refresh).
    fn query_fresh(&mut self) -> Result<FreshRows, AuditError> {
        let graph_id = self.graph_id.clone();
        let after = i64::try_from(self.seq).unwrap_or(i64::MAX);
        let rows = self.run("reading new events", |c| {
            c.client.query(&c.fresh, &[&graph_id, &after])
        })?;
        let err = |e: postgres::Error| unavailable(&self.target, "reading new events", &e);
        let mut epoch = None;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            epoch = Some(row.try_get::<_, i64>(0).map_err(err)?);
            let seq: Option<i64> = row.try_get(1).map_err(err)?;
            let text: Option<String> = row.try_get(2).map_err(err)?;
            if let (Some(seq), Some(text)) = (seq, text) {
                out.push((seq, text));
            }
        }
        Ok((epoch, out))
    }

    /// Stores a snapshot: the state (JSON) after event `seq` with `hash`, replacing older
    /// ones. Refused when the journal was rewritten since this process read it.
    pub fn write_snapshot(&mut self, seq: u64, hash: &str, state: &str) -> Result<(), AuditError> {
        self.finish();
        let graph_id = self.graph_id.clone();
        let epoch = self.epoch;
        let seq_param = i64::try_from(seq).unwrap_or(i64::MAX);
        let written = self.run("writing the snapshot", |c| {
            let mut tx = c.client.transaction()?;
            let n = tx.execute(
                "INSERT INTO accessgraph_snapshots (graph_id, seq, hash, epoch, state) \
                 SELECT graph_id, $2, $3, epoch, $4 FROM accessgraph_graphs \
                 WHERE graph_id = $1 AND epoch = $5 \
                 ON CONFLICT (graph_id, seq) DO UPDATE SET hash = EXCLUDED.hash, \
                 epoch = EXCLUDED.epoch, state = EXCLUDED.state, created_at = now()",
                &[&graph_id, &seq_param, &hash, &state, &epoch],
            )?;
            tx.execute(
                "DELETE FROM accessgraph_snapshots WHERE graph_id = $1 AND seq < $2",
                &[&graph_id, &seq_param],
            )?;
            tx.commit()?;
            Ok(n)
        })?;
        if written == 0 {
            return Err(journal_err(
                &self.target,
                1,
                "the journal was rewritten (pruned or erased) by another process: refresh() and snapshot again",
            ));
        }
        Ok(())
    }
}

/// The message of a failed commit: when the connection went down during it, the events
/// may have been committed (and are applied on reconnecting); otherwise they were not.
fn commit_failed(
    display: &str,
    which: &str,
    e: &postgres::Error,
    client: &Client,
    otherwise: &str,
) -> String {
    if connection_lost(e, client) {
        format!(
            "{display}: the connection was lost while committing {which} ({}): \
             it may have been committed; if so this process applies it when it reconnects",
            describe(e)
        )
    } else {
        format!("{display}: {which} {otherwise}: {}", describe(e))
    }
}

impl JournalStore for PgJournal {
    fn lock(&mut self) -> Result<(), AuditError> {
        self.finish();
        // One round trip: open the transaction, wait for the lock, read what the others
        // committed (the literals are a hexadecimal id and a number).
        let sql = format!(
            "{}; SELECT g.epoch, e.seq, e.record FROM accessgraph_graphs g \
             LEFT JOIN accessgraph_events e ON e.graph_id = g.graph_id AND e.seq > {} \
             WHERE g.graph_id = '{}' ORDER BY e.seq",
            self.lock_sql, self.seq, self.graph_id
        );
        let result = self.run("taking the writers' lock", |c| c.client.simple_query(&sql));
        // BEGIN may have gone through before the lock failed (a lock timeout).
        self.in_tx = true;
        let messages = match result {
            Ok(m) => m,
            Err(e) => {
                self.finish();
                return Err(e);
            }
        };
        let mut epoch = None;
        let mut rows = Vec::new();
        for m in messages {
            let postgres::SimpleQueryMessage::Row(row) = m else {
                continue;
            };
            if row.len() != 3 {
                continue;
            }
            epoch = row.get(0).and_then(|e| e.parse::<i64>().ok());
            if let (Some(seq), Some(record)) = (row.get(1), row.get(2)) {
                rows.push((seq.parse::<i64>().unwrap_or(0), record.to_owned()));
            }
        }
        self.prefetched = Some((epoch, rows));
        Ok(())
    }

    fn lock_shared(&mut self) -> Result<(), AuditError> {
        self.finish();
        Ok(())
    }

    fn unlock(&mut self) {
        self.finish();
    }

    fn read_fresh(&mut self, _repair: bool) -> Result<Fresh, AuditError> {
        let (epoch, rows) = match self.prefetched.take() {
            Some(p) => p,
            None => self.query_fresh()?,
        };
        let Some(epoch) = epoch else {
            return Err(journal_err(
                &self.target,
                1,
                format!("graph {} is no longer in the database", self.graph_id),
            ));
        };
        if epoch != self.epoch {
            return Ok(Fresh::Replaced);
        }
        let mut records = Vec::with_capacity(rows.len());
        for (seq, text) in &rows {
            records.push(parse_row(&self.target, self.base_seq, *seq, text)?);
        }
        if let Some(last) = records.last() {
            self.seq = last.event.seq;
        }
        Ok(Fresh::Records(records))
    }

    fn append(&mut self, lines: &str) -> io::Result<u64> {
        let (seqs, texts) = split_lines(lines)?;
        let (first, last) = (
            seqs.first().copied().unwrap_or(0),
            seqs.last().copied().unwrap_or(0),
        );
        let which = if first == last {
            format!("event {first}")
        } else {
            format!("events {first}..{last}")
        };
        let display = self.target.display.clone();
        let Some(conn) = self.conn.as_mut().filter(|_| self.in_tx) else {
            return Err(io::Error::other(format!(
                "{display}: {which} not written: the connection was lost"
            )));
        };
        if texts.iter().all(|t| quotable(t)) {
            // One round trip: insert, notify, commit.
            let mut sql = String::with_capacity(lines.len() + 64 * seqs.len() + 160);
            sql.push_str("INSERT INTO accessgraph_events (graph_id, seq, record) VALUES ");
            for (i, (seq, text)) in seqs.iter().zip(&texts).enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                let _ = write!(sql, "('{}', {seq}, {TAG}{text}{TAG})", self.graph_id);
            }
            let _ = write!(
                sql,
                "; SELECT pg_notify('{}', '{last}'); COMMIT",
                self.channel
            );
            if let Err(e) = conn.client.batch_execute(&sql) {
                let msg = commit_failed(&display, &which, &e, &conn.client, "not written");
                self.after_error(&e);
                return Err(io::Error::other(msg));
            }
            self.in_tx = false;
            self.seq = u64::try_from(last).unwrap_or(0);
            return Ok(self.seq);
        }
        let params: [&(dyn ToSql + Sync); 4] = [&self.graph_id, &seqs, &texts, &self.channel];
        if let Err(e) = conn.client.query(&conn.insert, &params) {
            let msg = format!("{display}: {which} not written: {}", describe(&e));
            self.after_error(&e);
            return Err(io::Error::other(msg));
        }
        if let Err(e) = conn.client.batch_execute("COMMIT") {
            let msg = commit_failed(&display, &which, &e, &conn.client, "not committed");
            self.after_error(&e);
            return Err(io::Error::other(msg));
        }
        self.in_tx = false;
        self.seq = u64::try_from(last).unwrap_or(0);
        Ok(self.seq)
    }

    fn sync(&mut self) -> io::Result<()> {
        // `append` committed: the server's own settings (synchronous_commit) decide when
        // a commit is on disk.
        Ok(())
    }

    fn replace(&mut self, contents: &str) -> io::Result<()> {
        let mut lines = contents.split_terminator('\n');
        let header_line = lines.next().unwrap_or_default();
        let mut header =
            parse_header(&self.target, header_line).map_err(|e| io::Error::other(e.to_string()))?;
        let rest: String = lines.flat_map(|l| [l, "\n"]).collect();
        let (seqs, texts) = split_lines(&rest)?;
        let display = self.target.display.clone();
        let graph_id = self.graph_id.clone();
        let channel = self.channel.clone();
        let Some(conn) = self.conn.as_mut().filter(|_| self.in_tx) else {
            return Err(io::Error::other(format!(
                "{display}: the rewrite was not done: the connection was lost"
            )));
        };
        let target = self.target.clone();
        let mut rewrite = || -> Result<i64, AuditError> {
            let db = |e: postgres::Error| unavailable(&target, "rewriting the journal", &e);
            let old: String = conn
                .client
                .query_one(
                    "SELECT header FROM accessgraph_graphs WHERE graph_id = $1",
                    &[&graph_id],
                )
                .and_then(|r| r.try_get(0))
                .map_err(db)?;
            // The graph counts only the erasures of this rewrite (it reads no header
            // file): add those already made.
            header.erasures += parse_header(&target, &old)?.erasures;
            let header_text = header.to_line();
            conn.client
                .execute(
                    "DELETE FROM accessgraph_events WHERE graph_id = $1",
                    &[&graph_id],
                )
                .map_err(db)?;
            for (s, t) in seqs.chunks(10_000).zip(texts.chunks(10_000)) {
                let (s, t) = (s.to_vec(), t.to_vec());
                let params: [&(dyn ToSql + Sync); 4] = [&graph_id, &s, &t, &channel];
                conn.client.query(&conn.insert, &params).map_err(db)?;
            }
            let epoch: i64 = conn
                .client
                .query_one(
                    "UPDATE accessgraph_graphs SET header = $2, epoch = epoch + 1 \
                     WHERE graph_id = $1 RETURNING epoch",
                    &[&graph_id, &header_text.trim_end_matches('\n')],
                )
                .and_then(|r| r.try_get(0))
                .map_err(db)?;
            conn.client
                .execute(
                    "DELETE FROM accessgraph_snapshots WHERE graph_id = $1",
                    &[&graph_id],
                )
                .map_err(db)?;
            conn.client
                .execute("SELECT pg_notify($1, 'rewritten')", &[&channel])
                .map_err(db)?;
            conn.client.batch_execute("COMMIT").map_err(db)?;
            Ok(epoch)
        };
        match rewrite() {
            Ok(epoch) => {
                self.in_tx = false;
                self.epoch = epoch;
                self.base_seq = header.base_seq;
                self.seq = seqs
                    .last()
                    .and_then(|s| u64::try_from(*s).ok())
                    .unwrap_or(header.base_seq);
                Ok(())
            }
            Err(e) => {
                if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                    self.conn = None;
                    self.in_tx = false;
                } else {
                    self.finish();
                }
                Err(io::Error::other(e.to_string()))
            }
        }
    }

    fn checkpoint(&mut self, _seq: u64, _hash: &str) -> io::Result<()> {
        // No signed checkpoint: the database's own access control guards the events.
        Ok(())
    }

    fn sync_handle(&self) -> Option<std::fs::File> {
        None
    }

    fn offset(&self) -> u64 {
        self.seq
    }

    fn lines(&self) -> u64 {
        self.seq.saturating_sub(self.base_seq) + 1
    }

    fn fail_stop(&self) -> bool {
        false
    }

    fn reload(&mut self) -> Result<Option<(State, Log)>, AuditError> {
        let graph_id = self.graph_id.clone();
        let target = self.target.clone();
        let loaded = self.run("reading the rewritten journal", |c| {
            Ok(load(&mut c.client, &target, &graph_id, true))
        })??;
        self.epoch = loaded.epoch;
        self.seq = loaded.seq;
        self.base_seq = loaded.base_seq;
        Ok(Some((loaded.state, loaded.log)))
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
}

impl Session<'_> {
    /// The PostgreSQL store behind this session, when that is the journal.
    pub fn postgres(&mut self) -> Option<&mut PgJournal> {
        self.store
            .as_mut()?
            .as_any_mut()?
            .downcast_mut::<PgJournal>()
    }
}

impl Audit {
    /// Runs `f` on the PostgreSQL store, when that is the journal (no lock is taken
    /// across processes).
    pub fn with_postgres<R>(&self, f: impl FnOnce(&mut PgJournal) -> R) -> Option<R> {
        let mut store = self.store.lock();
        let pg = store.as_mut()?.as_any_mut()?.downcast_mut::<PgJournal>()?;
        Some(f(pg))
    }
}

/// Copies a file journal into the database as a new graph named by the URL, keeping its
/// `graph_id`, header and every record as they are (so the chain, erasures and `as_of`
/// carry over). The file is verified first. Returns the number of events copied.
pub fn import_file(path: &Path, target: &Target) -> Result<u64, Error> {
    let opened = super::journal::FileJournal::open(path, None, None)?;
    let count = opened.records.len();
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    let mut lines = text.split_terminator('\n');
    let header_line = lines.next().unwrap_or_default();
    let graph_id = opened.header.graph_id.clone();
    drop(opened);
    let err = |e: postgres::Error| unavailable(target, "importing the journal", &e);
    let mut client = connect(target).map_err(err)?;
    migrate(&mut client, target)?;
    let mut tx = client.transaction().map_err(err)?;
    let clash: Option<String> = tx
        .query_opt(
            "SELECT name FROM accessgraph_graphs WHERE name = $1 OR graph_id = $2",
            &[&target.name, &graph_id],
        )
        .map_err(err)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(err)?;
    if let Some(name) = clash {
        return Err(crate::error::ConflictError::Exists(format!(
            "graph `{name}` (or this journal, graph {graph_id}) in {}",
            target.display
        ))
        .into());
    }
    tx.execute(
        "INSERT INTO accessgraph_graphs (graph_id, name, header) VALUES ($1, $2, $3)",
        &[&graph_id, &target.name, &header_line],
    )
    .map_err(err)?;
    {
        let mut w = tx
            .copy_in("COPY accessgraph_events (graph_id, seq, record) FROM STDIN")
            .map_err(err)?;
        let mut buf = String::with_capacity(1 << 20);
        for line in lines.take(count) {
            let seq = split_lines(line)
                .ok()
                .and_then(|(s, _)| s.first().copied())
                .unwrap_or(0);
            buf.push_str(&graph_id);
            buf.push('\t');
            buf.push_str(&seq.to_string());
            buf.push('\t');
            for ch in line.chars() {
                match ch {
                    '\\' => buf.push_str("\\\\"),
                    '\t' => buf.push_str("\\t"),
                    '\r' => buf.push_str("\\r"),
                    c => buf.push(c),
                }
            }
            buf.push('\n');
            if buf.len() >= 1 << 20 {
                io::Write::write_all(&mut w, buf.as_bytes())
                    .map_err(|e| AuditError::Unavailable(format!("{}: {e}", target.display)))?;
                buf.clear();
            }
        }
        io::Write::write_all(&mut w, buf.as_bytes())
            .map_err(|e| AuditError::Unavailable(format!("{}: {e}", target.display)))?;
        w.finish().map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(count as u64)
}

/// Connects and applies the missing migrations; returns the versions applied.
pub fn migrate_url(url: &str) -> Result<Vec<i32>, Error> {
    let target = parse_url(url)?;
    let mut client = connect(&target).map_err(|e| unavailable(&target, "cannot connect", &e))?;
    Ok(migrate(&mut client, &target)?)
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

    #[test]
    fn only_records_that_read_back_are_dollar_quoted() {
        assert!(quotable("{\"seq\":1,\"crc\":\"00000000\"}"));
        assert!(!quotable("a $agr$ b"));
        assert!(!quotable("ends in $agr"));
        assert!(!quotable("ends in $"));
    }

    #[test]
    fn record_lines_give_their_seq() {
        let (s, t) = split_lines("{\"seq\":7,\"a\":1}\n{\"seq\":8,\"b\":\"x\"}\n")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(s, vec![7, 8]);
        assert_eq!(t, vec!["{\"seq\":7,\"a\":1}", "{\"seq\":8,\"b\":\"x\"}"]);
        assert!(split_lines("{\"sq\":1}\n").is_err());
    }
}
