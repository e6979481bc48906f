//! A graph whose journal lives in PostgreSQL (feature `postgres`): opening it, snapshots
//! kept in the database, and the follower thread that applies what other processes
//! commit. The store itself is `crate::audit::postgres`.
//!
//! Staleness: a commit anywhere notifies the graph's channel; each process's follower
//! wakes and refreshes, so another process sees the change a few milliseconds later. If a
//! notification is lost (the listening connection dropped), the follower's poll picks the
//! change up within `poll` (1 s by default). While the database cannot be reached,
//! checks answer from memory and nobody can commit; the follower reconnects with a
//! back-off of at most `poll` and catches up.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;
use postgres::fallible_iterator::FallibleIterator;

use super::front::Graph;
use crate::audit::postgres::{self as pg, PgJournal, Target};
use crate::audit::{Audit, Durability};
use crate::error::AuditError;
use crate::error::{Error, Result};
use crate::progress::{Hook, Meter};

/// Opens (or creates) the graph a `postgresql://` URL names: migrates the schema, reads
/// the latest snapshot and the events after it. Returns the graph and the parsed URL
/// (for [`follow`]). `durability` sets the session's `synchronous_commit` ("fsync" and
/// "group": each commit flushed by the server before the call returns, PostgreSQL sharing
/// flushes between concurrent commits itself; "os": not waited for); `hmac_key` keeps a
/// signed checkpoint in the database, as beside a journal file. `progress` hears the
/// events replayed (of those after the snapshot, or all of them, counted when the read
/// begins); a hook that stops it stops the opening before anything is written
/// ([`Error::Stopped`]; no trust-on-first-use checkpoint).
pub fn open(
    url: &str,
    durability: Durability,
    hmac_key: Option<Vec<u8>>,
    progress: Hook<'_>,
) -> Result<(Graph, Target)> {
    let mut target = pg::parse_url(url)?;
    if hmac_key.as_ref().is_some_and(Vec::is_empty) {
        return Err(Error::invalid("hmac_key", "b''", "a non-empty key"));
    }
    target.synchronous_commit = durability != Durability::Os;
    let mut meter = Meter::later(progress);
    let (store, loaded) = PgJournal::open(&target, hmac_key, &mut meter)
        .map_err(|e| meter.stopped().map_or_else(|| Error::from(e), Error::from))?;
    // The server syncs each commit (or not): the audit has no file to sync, and
    // group commit's waiting for one does not apply.
    let audit_durability = match durability {
        Durability::Os => Durability::Os,
        Durability::Fsync | Durability::Group => Durability::Fsync,
    };
    // The events stay in the database: the audit log's reads go there, in pages.
    let history: crate::audit::source::Source = store.history();
    let audit = Audit::journaled(
        loaded.graph_id,
        loaded.log,
        Box::new(store),
        audit_durability,
        None,
    )
    .with_source(Some(history));
    let g = Graph {
        state: RwLock::new(loaded.state),
        audit,
        ..Graph::default()
    };
    meter.finish()?;
    Ok((g, target))
}

impl Graph {
    /// The journal's URL (password hidden) when it lives in PostgreSQL.
    pub fn journal_url(&self) -> Option<String> {
        self.audit.with_postgres(|pg| pg.display().to_owned())
    }

    /// True for a graph on PostgreSQL whose URL asks for a follower thread: it sees
    /// other processes' commits within milliseconds (LISTEN/NOTIFY).
    pub fn follows_postgres(&self) -> bool {
        self.audit.with_postgres(|pg| pg.follows()).unwrap_or(false)
    }

    /// Stores a snapshot of the state at the current revision in the database (replacing
    /// older ones); a process opening the graph starts from it. Returns that revision.
    pub fn postgres_snapshot(&self) -> Result<u64> {
        let guard = self.state.upgradable_read();
        let (seq, hash) = {
            let log = self.audit.log.read();
            (log.last_seq(), log.last_hash())
        };
        let state = crate::state::snapshot::write(&guard)?;
        drop(guard);
        self.audit
            .with_postgres(|pg| pg.write_snapshot(seq, &hash, &state))
            .ok_or_else(|| {
                Error::rule("a database snapshot needs a graph opened from a postgresql:// URL")
            })??;
        Ok(seq)
    }
}

/// What woke the follower.
enum Wake {
    /// A timeout (the poll), or a new connection: look for new events.
    Poll,
    /// Commits up to this `seq` were notified.
    Upto(u64),
    /// The events were rewritten (pruned, erased).
    Rewritten,
}

/// The follower's connection, listening on the graph's channel.
struct Listener {
    client: postgres::Client,
}

impl Listener {
    fn connect(target: &Target, channel: &str) -> std::result::Result<Listener, AuditError> {
        let mut client = pg::connect(target)?;
        // The channel is `ag_` and the hexadecimal graph id: a plain identifier.
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .map_err(|e| AuditError::Unavailable(e.to_string()))?;
        Ok(Listener { client })
    }

    /// Waits up to `poll` for notifications; `None` when the connection is gone.
    fn wait(&mut self, poll: Duration) -> Option<Wake> {
        let woke = {
            let mut n = self.client.notifications();
            let first = n.timeout_iter(poll).next();
            match first {
                Ok(Some(first)) => {
                    // Several commits may have come at once: one refresh takes them all.
                    let mut wake = Wake::Upto(0);
                    let mut next = Some(first);
                    while let Some(note) = next {
                        wake = match (wake, note.payload().parse::<u64>()) {
                            (Wake::Upto(a), Ok(b)) => Wake::Upto(a.max(b)),
                            _ => Wake::Rewritten,
                        };
                        next = n.iter().next().ok().flatten();
                    }
                    Some(wake)
                }
                Ok(None) => Some(Wake::Poll),
                Err(_) => None,
            }
        };
        if self.client.is_closed() {
            None
        } else {
            woke
        }
    }
}

/// Starts the thread that keeps `graph` up to date with what other processes commit:
/// it listens on the graph's channel and refreshes on each notification (but not for the
/// process's own commits), polls every `target.poll` when none comes, and reconnects
/// after a lost connection (refreshing at once, since notifications sent meanwhile are
/// lost). It ends when the graph is dropped.
pub fn follow(graph: Weak<Graph>, target: Target) -> std::io::Result<()> {
    let Some(channel) = graph
        .upgrade()
        .and_then(|g| g.audit.with_postgres(|pg| pg.channel().to_owned()))
    else {
        return Ok(());
    };
    std::thread::Builder::new()
        .name("accessgraph-follow".into())
        .spawn(move || follow_loop(&graph, &target, &channel))
        .map(drop)
}

fn follow_loop(graph: &Weak<Graph>, target: &Target, channel: &str) {
    let mut listener: Option<Listener> = None;
    let mut pause = Duration::from_millis(50);
    loop {
        let wake = match listener.as_mut().map(|l| l.wait(target.poll)) {
            Some(Some(wake)) => wake,
            Some(None) => {
                listener = None;
                Wake::Poll
            }
            None => {
                if let Ok(l) = Listener::connect(target, channel) {
                    listener = Some(l);
                    pause = Duration::from_millis(50);
                } else {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(target.poll);
                }
                Wake::Poll
            }
        };
        let Some(g) = graph.upgrade() else {
            return;
        };
        if !matches!(wake, Wake::Upto(seq) if seq <= g.revision()) {
            // Errors (the database unreachable) are met again, and raised, by the next
            // mutation or refresh() in the application; here the next round retries.
            let _ = g.refresh();
        }
        drop(g);
    }
}

/// Opens the graph (durable commits, no checkpoint) and starts its follower unless the
/// URL says `follow=off`.
pub fn open_following(url: &str) -> Result<Arc<Graph>> {
    let (g, target) = open(url, Durability::Fsync, None, None)?;
    let g = Arc::new(g);
    if target.follow {
        follow(Arc::downgrade(&g), target)
            .map_err(|e| AuditError::Io(format!("cannot start the follower thread: {e}")))?;
    }
    Ok(g)
}
