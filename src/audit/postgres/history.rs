//! The audit log read from the database ([`HistorySource`]): a graph opened on PostgreSQL
//! keeps no events in memory; `audit.events(...)` filters in SQL (on the columns each
//! row carries, through their indexes), and iteration, exports, `verify()` and `as_of`
//! stream the rows in pages through a cursor, all on a connection of their own (so reads
//! never wait for, nor enter, a writer's transaction).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Statement, Transaction};

use super::checkpoint;
use super::connect::{connect, connection_lost, unavailable};
use super::load::{parse_header, parse_row, RowMacs};
use super::rows::columns_agree;
use super::url::{journal_err, Target};
use crate::audit::journal::Header;
use crate::audit::log::Filter;
use crate::audit::source::{Base, HistorySource, Scanned, Span};
use crate::error::AuditError;

/// Rows fetched per round trip of a scan.
const PAGE: i32 = 5_000;

/// A graph's history in the database.
pub struct PgHistory {
    target: Target,
    graph_id: String,
    key: Option<Vec<u8>>,
    /// The reading connection (a child of `fork` makes its own).
    conn: Mutex<Option<Reader>>,
    /// The header's `base_seq`, as the store or a scan last read it.
    base_seq: AtomicU64,
}

impl std::fmt::Debug for PgHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHistory")
            .field("target", &self.target.display)
            .field("graph_id", &self.graph_id)
            .finish_non_exhaustive()
    }
}

/// The graph's header row: `$1` graph id.
const HEADER_SQL: &str = "SELECT header FROM accessgraph_graphs WHERE graph_id = $1";

/// The reading connection, the process that made it, and the statements prepared on it
/// (one per shape of filter, a handful).
struct Reader {
    pid: u32,
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Reader {
    fn new(mut client: Client) -> Self {
        // Each filter is planned for its values (a user's few events, or half the log
        // behind `member.*`), never with a generic plan (PostgreSQL 12+; best effort).
        let _ = client.batch_execute("SET plan_cache_mode = force_custom_plan");
        Reader {
            pid: std::process::id(),
            client,
            statements: HashMap::new(),
        }
    }

    /// `sql` prepared on this connection (once).
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// Why a scan stopped.
enum Stop {
    /// The database failed (maybe the connection was lost).
    Db(postgres::Error),
    /// What was read is wrong, or the visitor said so.
    Audit(AuditError),
}

impl From<postgres::Error> for Stop {
    fn from(e: postgres::Error) -> Self {
        Stop::Db(e)
    }
}

impl From<AuditError> for Stop {
    fn from(e: AuditError) -> Self {
        Stop::Audit(e)
    }
}

/// The `LIKE` pattern of an action prefix: its own `%`, `_` and `\` taken literally.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The query of a scan and its parameters after `$1` (graph), `$2` (after), `$3` (upto).
fn query(filter: &Filter) -> (String, Vec<Box<dyn ToSql + Sync>>) {
    let mut sql = String::from(
        "SELECT seq, record, mac, actor, action, target, details_user, at \
         FROM accessgraph_events WHERE graph_id = $1 AND seq > $2 AND seq <= $3",
    );
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    // A text holding U+0000, which PostgreSQL's text cannot hold (so no row does),
    // matches nothing; it is not sent, the server would refuse it.
    let texts = [&filter.actor, &filter.user, &filter.action, &filter.target];
    if texts
        .iter()
        .any(|t| t.as_deref().is_some_and(|t| t.contains('\0')))
    {
        sql.push_str(" AND false");
        return (sql, params);
    }
    let mut next = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync>| {
        params.push(value);
        sql.push_str(&clause.replace('#', &format!("${}", params.len() + 3)));
    };
    if let Some(a) = &filter.actor {
        next(&mut sql, " AND actor = #", Box::new(a.to_ascii_lowercase()));
    }
    if let Some(u) = &filter.user {
        let u = u.to_ascii_lowercase();
        next(
            &mut sql,
            " AND (actor = # OR details_user = #)",
            Box::new(u),
        );
    }
    if let Some(a) = &filter.action {
        match a.strip_suffix('*') {
            Some(prefix) => next(
                &mut sql,
                " AND action LIKE #",
                Box::new(like_prefix(prefix)),
            ),
            None => next(&mut sql, " AND action = #", Box::new(a.clone())),
        }
    }
    if let Some(t) = &filter.target {
        next(&mut sql, " AND target = #", Box::new(t.clone()));
    }
    if let Some(s) = filter.since {
        next(
            &mut sql,
            " AND at >= #::text::timestamptz",
            Box::new(s.to_iso()),
        );
    }
    if let Some(u) = filter.until {
        next(
            &mut sql,
            " AND at < #::text::timestamptz",
            Box::new(u.to_iso()),
        );
    }
    sql.push_str(" ORDER BY seq");
    if let Some(n) = filter.limit {
        next(
            &mut sql,
            " LIMIT #",
            Box::new(i64::try_from(n).unwrap_or(i64::MAX)),
        );
    }
    (sql, params)
}

/// Microseconds since the Unix epoch of a `timestamptz` read back.
fn micros(t: SystemTime) -> Option<i64> {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).ok(),
        Err(e) => i64::try_from(e.duration().as_micros()).ok().map(|m| -m),
    }
}

impl Drop for PgHistory {
    fn drop(&mut self) {
        // In a child of `fork`, closing the parent's connection would say goodbye on its
        // socket: leave it alone.
        if let Some(reader) = self.conn.get_mut().take() {
            if reader.pid == std::process::id() {
                drop(reader);
            } else {
                std::mem::forget(reader);
            }
        }
    }
}

impl PgHistory {
    /// The history of graph `graph_id` at `target`, checked with `key` when given.
    pub(super) fn new(
        target: Target,
        graph_id: String,
        key: Option<Vec<u8>>,
        base_seq: u64,
    ) -> Self {
        PgHistory {
            target,
            graph_id,
            key,
            conn: Mutex::new(None),
            base_seq: AtomicU64::new(base_seq),
        }
    }

    /// Records the header's `base_seq` after the store read or rewrote it.
    pub(super) fn set_base_seq(&self, seq: u64) {
        self.base_seq.store(seq, Ordering::Release);
    }

    /// One scan on the reading connection; `delivered` tells whether `visit` saw
    /// anything (a scan that did may not be run again). A read of the chain, or any read
    /// with a key, runs in a read-only `REPEATABLE READ` transaction (the header, the
    /// checkpoint and the rows in one view) through a cursor; a filter or a page without
    /// a key is one statement, itself one view.
    fn scan_on(
        &self,
        reader: &mut Reader,
        span: Span<'_>,
        visit: &mut dyn FnMut(Scanned) -> Result<bool, AuditError>,
        delivered: &mut bool,
    ) -> Result<(), Stop> {
        let (sql, extra) = query(span.filter);
        let statement = reader.statement(&sql)?;
        let after = i64::try_from(span.after).unwrap_or(i64::MAX);
        let upto = i64::try_from(span.upto).unwrap_or(i64::MAX);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.graph_id, &after, &upto];
        params.extend(extra.iter().map(|p| &**p as &(dyn ToSql + Sync)));
        if !span.chain && self.key.is_none() {
            let header_base = self.base_seq.load(Ordering::Acquire);
            let mut rows = reader.client.query_raw(&statement, params)?;
            while let Some(row) = rows.next()? {
                *delivered = true;
                if !self.deliver(&row, header_base, None, span.filter, visit)? {
                    return Ok(());
                }
            }
            return Ok(());
        }
        let header = reader.statement(HEADER_SQL)?;
        let mut tx = reader
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let base = self.read_base(&mut tx, &header)?;
        let macs = match &self.key {
            Some(key) => Some(self.checkpoint(&mut tx, key, &base.1)?),
            None => None,
        };
        let header_base = base.0.seq;
        self.base_seq.store(header_base, Ordering::Release);
        if span.chain {
            *delivered = true;
            if !visit(Scanned::Base(base.0))? {
                return Ok(());
            }
        }
        let portal = tx.bind(&statement, &params)?;
        loop {
            let rows = tx.query_portal(&portal, PAGE)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                *delivered = true;
                if !self.deliver(row, header_base, macs.as_ref(), span.filter, visit)? {
                    return Ok(());
                }
            }
        }
        drop(portal);
        tx.commit()?;
        Ok(())
    }

    /// Checks one row (its record, its columns, with a key its MAC and the checkpoint's
    /// event) and gives its event to `visit` if the filter selects it; false: stop.
    fn deliver(
        &self,
        row: &postgres::Row,
        header_base: u64,
        macs: Option<&(RowMacs<'_>, (u64, String))>,
        filter: &Filter,
        visit: &mut dyn FnMut(Scanned) -> Result<bool, AuditError>,
    ) -> Result<bool, Stop> {
        let seq: i64 = row.try_get(0)?;
        let text: &str = row.try_get(1)?;
        let record = parse_row(&self.target, header_base, seq, text)?;
        let e = record.event;
        if let Some((m, cp)) = macs {
            m.check(
                &self.target,
                &self.graph_id,
                record.line,
                &e,
                row.try_get(2)?,
            )?;
            if e.seq == cp.0 && e.hash != cp.1 {
                return Err(Stop::Audit(journal_err(
                    &self.target,
                    record.line,
                    format!(
                        "event {} differs from the signed checkpoint: the chain was rewritten",
                        e.seq
                    ),
                )));
            }
        }
        let at: Option<SystemTime> = row.try_get(7)?;
        if !columns_agree(
            &e,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            at.and_then(micros),
        ) {
            return Err(Stop::Audit(journal_err(
                &self.target,
                record.line,
                format!(
                    "the columns of event {} (actor, action, target, details_user, at) disagree with its record: altered",
                    e.seq
                ),
            )));
        }
        if !filter.matches(&e) {
            return Ok(true);
        }
        Ok(visit(Scanned::Event(e))?)
    }

    /// The graph's header in this snapshot: the chain's base and the header's digest.
    fn read_base(
        &self,
        tx: &mut Transaction<'_>,
        header: &Statement,
    ) -> Result<(Base, String), Stop> {
        let row = tx.query_opt(header, &[&self.graph_id])?.ok_or_else(|| {
            journal_err(
                &self.target,
                1,
                format!("graph {} is no longer in the database", self.graph_id),
            )
        })?;
        let text: String = row.try_get(0)?;
        let header = parse_header(&self.target, &text)?;
        Ok((
            Base {
                seq: header.base_seq,
                anchor: header.anchor,
                state: header.base_state,
            },
            Header::digest(&text),
        ))
    }

    /// With a key: the signed checkpoint in this snapshot, which must verify and vouch for
    /// this header; what it makes rows prove, and the event it names.
    fn checkpoint<'k>(
        &self,
        tx: &mut Transaction<'_>,
        key: &'k [u8],
        header: &str,
    ) -> Result<(RowMacs<'k>, (u64, String)), Stop> {
        let cp = checkpoint::read(tx, &self.target, key, &self.graph_id)?.ok_or_else(|| {
            journal_err(
                &self.target,
                1,
                "the signed checkpoint is missing (no row in accessgraph_checkpoints)",
            )
        })?;
        checkpoint::vouches_for_header(&self.target, &cp, header)?;
        Ok((
            RowMacs {
                key,
                trusted_from: cp.trusted_from,
            },
            (cp.seq, cp.hash),
        ))
    }
}

impl HistorySource for PgHistory {
    fn scan(
        &self,
        span: Span<'_>,
        visit: &mut dyn FnMut(Scanned) -> Result<bool, AuditError>,
    ) -> Result<(), AuditError> {
        let mut slot = self.conn.lock();
        if let Some(reader) = slot.take() {
            if reader.pid != std::process::id() {
                // The parent's connection: neither used nor closed here.
                std::mem::forget(reader);
            } else if !reader.client.is_closed() {
                *slot = Some(reader);
            }
        }
        for attempt in 0..2 {
            let reader = match slot.as_mut() {
                Some(r) => r,
                None => slot.insert(Reader::new(connect(&self.target)?)),
            };
            let mut delivered = false;
            match self.scan_on(reader, span, visit, &mut delivered) {
                Ok(()) => return Ok(()),
                // A scan's transaction is rolled back when it is dropped.
                Err(Stop::Audit(e)) => {
                    if reader.client.is_closed() {
                        *slot = None;
                    }
                    return Err(e);
                }
                Err(Stop::Db(e)) => {
                    let lost = connection_lost(&e, &reader.client);
                    let out = unavailable(&self.target, "reading the audit log", &e);
                    if lost {
                        *slot = None;
                    }
                    // A connection found dead (the server restarted) is made again once,
                    // unless the visitor already saw part of the history.
                    if lost && !delivered && attempt == 0 {
                        continue;
                    }
                    return Err(out);
                }
            }
        }
        Err(AuditError::Unavailable(format!(
            "{}: reading the audit log failed twice",
            self.target.display
        )))
    }

    fn base_seq(&self) -> u64 {
        self.base_seq.load(Ordering::Acquire)
    }

    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_filter_holding_nul_matches_nothing_and_is_not_sent() {
        let f = Filter {
            target: Some("res\0ource".into()),
            actor: Some("a@example.com".into()),
            ..Filter::default()
        };
        let (sql, params) = query(&f);
        assert!(sql.ends_with(" AND false"), "{sql}");
        assert!(params.is_empty());
    }

    #[test]
    fn filters_become_parameters() {
        let f = Filter {
            user: Some("Bob@Example.com".into()),
            action: Some("member.*".into()),
            limit: Some(3),
            ..Filter::default()
        };
        let (sql, params) = query(&f);
        assert!(sql.contains("(actor = $4 OR details_user = $4)"), "{sql}");
        assert!(sql.contains("action LIKE $5"), "{sql}");
        assert!(sql.ends_with("ORDER BY seq LIMIT $6"), "{sql}");
        assert_eq!(params.len(), 3);
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }

    #[test]
    fn instants_read_back_to_the_microsecond() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_714_550_400_123_456);
        assert_eq!(micros(t), Some(1_714_550_400_123_456));
        let before = SystemTime::UNIX_EPOCH - Duration::from_micros(5);
        assert_eq!(micros(before), Some(-5));
    }
}
