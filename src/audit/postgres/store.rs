//! The journal store: the writers' lock, catch-up, append, rewrite and snapshots of one
//! graph, on a connection it keeps (and makes again when it is lost).

use std::fmt::Write as _;
use std::io;
use std::sync::Arc;

use postgres::{Client, Statement};

use super::checkpoint::{self, load_checked, Point};
use super::connect::{connect, connection_lost, unavailable};
use super::history::PgHistory;
use super::load::{find_or_create, parse_row, snapshot_mac, Loaded, RowMacs};
use super::rewrite::Rewrite;
use super::rows::{self, rows_of};
use super::schema::{keep_statistics, migrate, LOCK_CLASS};
use super::tls::describe;
use super::url::{journal_err, Target};
use crate::audit::event::Event;
use crate::audit::journal::{Fresh, Header, JournalStore, Record};
use crate::audit::log::Log;
use crate::audit::{Audit, Session};
use crate::error::AuditError;
use crate::progress::Meter;
use crate::state::State;

/// The events after `$2` (their records and MACs), and the graph's epoch (one row with
/// NULL `seq` when none).
const FRESH_SQL: &str = "SELECT g.epoch, e.seq, e.record, e.mac FROM accessgraph_graphs g \
     LEFT JOIN accessgraph_events e ON e.graph_id = g.graph_id AND e.seq > $2 \
     WHERE g.graph_id = $1 ORDER BY e.seq";

/// A connection and its prepared statements.
struct Conn {
    client: Client,
    fresh: Statement,
    insert: Statement,
}

impl Conn {
    fn open(target: &Target) -> Result<Conn, AuditError> {
        Conn::prepare(connect(target)?).map_err(|e| unavailable(target, "preparing statements", &e))
    }

    fn prepare(mut client: Client) -> Result<Conn, postgres::Error> {
        let fresh = client.prepare(FRESH_SQL)?;
        let insert = client.prepare(rows::INSERT_SQL)?;
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
    /// The key of the signed checkpoint (`hmac_key`), if any.
    hmac_key: Option<Vec<u8>>,
    /// The event the checkpoint in the database names, when this process wrote it.
    checkpointed: Option<(u64, String)>,
    /// SHA-256 of the graph's header row, as last read or written.
    header_digest: String,
    /// With a key: rows after this `seq` must carry a valid MAC.
    trusted_from: u64,
    /// The audit log's reads (a connection of their own).
    history: Arc<PgHistory>,
}

impl Drop for PgJournal {
    fn drop(&mut self) {
        self.forget_if_forked();
    }
}

/// The graph's epoch (`None`: the graph is gone) and the new events' `seq`, record and
/// MAC.
type FreshRows = (Option<i64>, Vec<(i64, String, Option<String>)>);

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
    /// reads it (from its latest snapshot when there is one). With `hmac_key`, the signed
    /// checkpoint in the database must hold (see `checkpoint`), and each commit rewrites it.
    /// `meter` counts the events replayed; a hook that stops it stops the opening before
    /// anything is written (no trust-on-first-use checkpoint) with
    /// [`crate::progress::STOPPED`] (the stop is the meter's: [`Meter::stopped`]).
    pub fn open(
        target: &Target,
        hmac_key: Option<Vec<u8>>,
        meter: &mut Meter<'_>,
    ) -> Result<(PgJournal, Loaded), AuditError> {
        let mut client = connect(target)?;
        migrate(&mut client, target)?;
        let graph_id = find_or_create(&mut client, target)?;
        if graph_id.is_empty() || !graph_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(journal_err(
                target,
                1,
                format!("graph id `{graph_id}` is not hexadecimal"),
            ));
        }
        let key = hmac_key.as_deref();
        let (mut loaded, mut cp) = load_checked(&mut client, target, &graph_id, key, false, meter)?;
        if let (Some(key), None) = (key, &cp) {
            // Trust on first use: the graph as found is vouched for from here on.
            if !checkpoint::write_first(&mut client, target, key, &loaded)? {
                // Another process trusted it first: read it again under its checkpoint.
                (loaded, cp) = load_checked(
                    &mut client,
                    target,
                    &graph_id,
                    Some(key),
                    false,
                    &mut Meter::none(),
                )?;
            }
        }
        let trusted_from = cp.map_or(loaded.seq, |c| c.trusted_from);
        // The audit log's filters need the planner to know how big this graph is.
        keep_statistics(&mut client, &graph_id, loaded.seq - loaded.base_seq);
        let history = Arc::new(PgHistory::new(
            target.clone(),
            graph_id.clone(),
            hmac_key.clone(),
            loaded.base_seq,
        ));
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
            hmac_key,
            checkpointed: None,
            header_digest: loaded.header_digest.clone(),
            trusted_from,
            history,
        };
        Ok((store, loaded))
    }

    /// The audit log's reads, for the graph ([`crate::audit::source`]).
    pub fn history(&self) -> Arc<PgHistory> {
        Arc::clone(&self.history)
    }

    /// What rows read must prove, with a key.
    fn macs(&self) -> Option<RowMacs<'_>> {
        self.hmac_key.as_deref().map(|key| RowMacs {
            key,
            trusted_from: self.trusted_from,
        })
    }

    /// The signed checkpoint record naming `last`, with the header and trust as they are.
    fn checkpoint_record(&self, key: &[u8], last: (u64, &str)) -> String {
        checkpoint::record(
            key,
            &self.graph_id,
            &Point {
                last,
                header: &self.header_digest,
                trusted_from: self.trusted_from,
            },
        )
    }

    /// The URL, password hidden.
    pub fn display(&self) -> &str {
        &self.target.display
    }

    /// True when the URL asks for a follower thread (`follow=on`, the default).
    pub fn follows(&self) -> bool {
        self.target.follow
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

    /// Drops the connection when it does not answer a trivial query within
    /// [`silence`]. A connection gone silent (a network black hole, a dead NAT mapping, a
    /// hung server whose machine still acknowledges: no reset, no reply) would hold a
    /// refresh, and so the follower, until TCP gives up, or for ever; the refresh runs
    /// over a new connection instead, bounding how stale a follower gets.
    fn drop_if_silent(&mut self) {
        // A parent's connection (after a fork) is not this process's to use.
        self.forget_if_forked();
        if self.in_tx {
            return;
        }
        let wait = silence(&self.target);
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if conn.client.is_closed() || conn.client.is_valid(wait).is_ok() {
            return;
        }
        // Dropping the client waits for the answer it never got: a thread of its own
        // waits (it ends when the server answers or TCP gives up); without a thread the
        // connection is leaked rather than waited for.
        let slot = Arc::new(parking_lot::Mutex::new(self.conn.take()));
        let theirs = Arc::clone(&slot);
        let reaper = std::thread::Builder::new()
            .name("accessgraph-drop".into())
            .spawn(move || drop(theirs.lock().take()));
        if reaper.is_err() {
            if let Some(conn) = slot.lock().take() {
                std::mem::forget(conn);
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
                self.conn = Some(Conn::open(&self.target)?);
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
        self.drop_if_silent();
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
            let mac: Option<String> = row.try_get(3).map_err(err)?;
            if let (Some(seq), Some(text)) = (seq, text) {
                out.push((seq, text, mac));
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
        // With a key, signed: a keyed open uses only a snapshot of this key, this header.
        let tag = self
            .hmac_key
            .as_deref()
            .map(|key| snapshot_mac(key, &graph_id, seq, hash, &self.header_digest, state));
        // `FOR SHARE` on the graph's row, the row a rewrite updates before it deletes the
        // snapshots: the two serialize. A rewrite that began first makes the epoch check
        // fail (re-read once its commit releases the row); a snapshot that took the row
        // first commits before the rewrite's `DELETE`, which then sees it. Without it a
        // snapshot of the state before an erasure could commit after the erasure's delete
        // and keep the erased user's personal data.
        let written = self.run("writing the snapshot", |c| {
            let mut tx = c.client.transaction()?;
            let n = tx.execute(
                "INSERT INTO accessgraph_snapshots (graph_id, seq, hash, epoch, state, mac) \
                 SELECT graph_id, $2, $3, epoch, $4, $6 FROM accessgraph_graphs \
                 WHERE graph_id = $1 AND epoch = $5 FOR SHARE \
                 ON CONFLICT (graph_id, seq) DO UPDATE SET hash = EXCLUDED.hash, \
                 epoch = EXCLUDED.epoch, state = EXCLUDED.state, mac = EXCLUDED.mac, \
                 created_at = now()",
                &[&graph_id, &seq_param, &hash, &state, &epoch, &tag],
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

/// How long a connection may take to answer a trivial query before a refresh drops it
/// as silent: the poll, at least 1 s (a busy server), at most 20 s (`tcp_user_timeout`).
fn silence(target: &Target) -> std::time::Duration {
    target.poll.clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(20),
    )
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
            "{}; SELECT g.epoch, e.seq, e.record, e.mac FROM accessgraph_graphs g \
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
            if row.len() != 4 {
                continue;
            }
            epoch = row.get(0).and_then(|e| e.parse::<i64>().ok());
            if let (Some(seq), Some(record)) = (row.get(1), row.get(2)) {
                let mac = row.get(3).map(str::to_owned);
                rows.push((seq.parse::<i64>().unwrap_or(0), record.to_owned(), mac));
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
        let mut records: Vec<Record> = Vec::with_capacity(rows.len());
        for (seq, text, mac) in &rows {
            let r = parse_row(&self.target, self.base_seq, *seq, text)?;
            if let Some(m) = self.macs() {
                m.check(
                    &self.target,
                    &self.graph_id,
                    r.line,
                    &r.event,
                    mac.as_deref(),
                )?;
            }
            records.push(r);
        }
        if let Some(last) = records.last() {
            self.seq = last.event.seq;
        }
        Ok(Fresh::Records(records))
    }

    fn append(&mut self, batch: &[Event]) -> io::Result<u64> {
        let key = self.hmac_key.clone();
        let rows = rows_of(batch, key.as_deref().map(|k| (k, self.graph_id.as_str())));
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(self.seq);
        };
        // The signed checkpoint commits with the events it vouches for.
        let signed = key.map(|k| self.checkpoint_record(&k, (last.seq, &last.hash)));
        let which = if first.seq == last.seq {
            format!("event {}", first.seq)
        } else {
            format!("events {}..{}", first.seq, last.seq)
        };
        let display = self.target.display.clone();
        let Some(conn) = self.conn.as_mut().filter(|_| self.in_tx) else {
            return Err(io::Error::other(format!(
                "{display}: {which} not written: the connection was lost"
            )));
        };
        let literal = rows::values_sql(&self.graph_id, &rows)
            .filter(|_| signed.as_deref().is_none_or(rows::quotable));
        if let Some(mut sql) = literal {
            // One round trip: insert, checkpoint, notify, commit.
            if let Some(record) = &signed {
                let _ = write!(
                    sql,
                    "; INSERT INTO accessgraph_checkpoints (graph_id, record) \
                     VALUES ('{}', $agr${record}$agr$) ON CONFLICT (graph_id) DO UPDATE \
                     SET record = EXCLUDED.record, updated_at = now()",
                    self.graph_id
                );
            }
            let _ = write!(
                sql,
                "; SELECT pg_notify('{}', '{}'); COMMIT",
                self.channel, last.seq
            );
            if let Err(e) = conn.client.batch_execute(&sql) {
                let msg = commit_failed(&display, &which, &e, &conn.client, "not written");
                self.after_error(&e);
                return Err(io::Error::other(msg));
            }
        } else {
            let written = rows::insert(
                &mut conn.client,
                &conn.insert,
                &self.graph_id,
                &rows,
                &self.channel,
            )
            .and_then(|()| match &signed {
                Some(record) => conn
                    .client
                    .execute(checkpoint::UPSERT_SQL, &[&self.graph_id, record])
                    .map(drop),
                None => Ok(()),
            });
            if let Err(e) = written {
                let msg = format!("{display}: {which} not written: {}", describe(&e));
                self.after_error(&e);
                return Err(io::Error::other(msg));
            }
            if let Err(e) = conn.client.batch_execute("COMMIT") {
                let msg = commit_failed(&display, &which, &e, &conn.client, "not committed");
                self.after_error(&e);
                return Err(io::Error::other(msg));
            }
        }
        self.in_tx = false;
        self.seq = last.seq;
        if signed.is_some() {
            self.checkpointed = Some((last.seq, last.hash.clone()));
        }
        Ok(self.seq)
    }

    fn sync(&mut self) -> io::Result<()> {
        // `append` committed: the server's own settings (synchronous_commit) decide when
        // a commit is on disk.
        Ok(())
    }

    fn rollback(&mut self) -> io::Result<()> {
        // A failed append committed nothing.
        Ok(())
    }

    fn replace(&mut self, header: &Header, events: &[Event]) -> io::Result<()> {
        // The checkpoint of the rewritten journal commits with it: its last event (or,
        // none left, the event its header starts after); every row is signed again.
        let last = events.last().map_or_else(
            || (header.base_seq, header.anchor.clone()),
            |e| (e.seq, e.hash.clone()),
        );
        let key = self.hmac_key.clone();
        let rows = rows_of(events, key.as_deref().map(|k| (k, self.graph_id.as_str())));
        let display = self.target.display.clone();
        let Some(conn) = self.conn.as_mut().filter(|_| self.in_tx) else {
            return Err(io::Error::other(format!(
                "{display}: the rewrite was not done: the connection was lost"
            )));
        };
        let rewrite = Rewrite {
            target: &self.target,
            graph_id: &self.graph_id,
            channel: &self.channel,
            key: key.as_deref(),
        };
        match rewrite.run(
            &mut conn.client,
            &conn.insert,
            header,
            &rows,
            (last.0, &last.1),
        ) {
            Ok((epoch, digest)) => {
                self.in_tx = false;
                self.epoch = epoch;
                self.base_seq = header.base_seq;
                self.history.set_base_seq(header.base_seq);
                self.seq = last.0;
                self.header_digest = digest;
                self.trusted_from = header.base_seq;
                if key.is_some() {
                    self.checkpointed = Some(last);
                }
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

    fn checkpoint(&mut self, seq: u64, hash: &str) -> io::Result<()> {
        // `append` and `replace` wrote it with the events: only a checkpoint they did not
        // write (none so far) takes a statement of its own.
        let Some(key) = self.hmac_key.clone() else {
            return Ok(());
        };
        if self
            .checkpointed
            .as_ref()
            .is_some_and(|(s, h)| *s == seq && h == hash)
        {
            return Ok(());
        }
        let record = self.checkpoint_record(&key, (seq, hash));
        let graph_id = self.graph_id.clone();
        self.run("writing the signed checkpoint", |c| {
            c.client
                .execute(checkpoint::UPSERT_SQL, &[&graph_id, &record])
        })
        .map_err(|e| io::Error::other(e.to_string()))?;
        self.checkpointed = Some((seq, hash.to_owned()));
        Ok(())
    }

    fn position(&self) -> (u64, u64) {
        (u64::try_from(self.epoch).unwrap_or(0), self.seq)
    }

    fn sync_handle(&self) -> Option<std::sync::Arc<std::fs::File>> {
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
        let key = self.hmac_key.clone();
        // Called from `lock` (inside the writer's transaction) or from a refresh.
        let in_tx = self.in_tx;
        let (loaded, cp) = self.run("reading the rewritten journal", |c| {
            Ok(load_checked(
                &mut c.client,
                &target,
                &graph_id,
                key.as_deref(),
                in_tx,
                &mut Meter::none(),
            ))
        })??;
        if key.is_some() && cp.is_none() {
            return Err(journal_err(
                &self.target,
                1,
                "the signed checkpoint is missing (no row in accessgraph_checkpoints) after the journal was rewritten",
            ));
        }
        self.epoch = loaded.epoch;
        self.seq = loaded.seq;
        self.base_seq = loaded.base_seq;
        self.history.set_base_seq(loaded.base_seq);
        self.header_digest.clone_from(&loaded.header_digest);
        if let Some(cp) = cp {
            self.trusted_from = cp.trusted_from;
        }
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
