//! The signed checkpoint kept in the database (`hmac_key`): the record the file journal
//! keeps beside itself (`<journal>.checkpoint`), one row per graph in
//! `accessgraph_checkpoints`. It is written in the transaction that commits the events it
//! vouches for, so it never leads nor lags them; a graph opened without the key writes
//! none, and the key's last one is still reached. Opening with the key refuses a journal
//! that no longer reaches it (events cut off, a chain rewritten) or a record signed with
//! another key.

use postgres::Client;

use super::connect::unavailable;
use super::load::{load, parse_row, Loaded};
use super::url::{journal_err, Target};
use crate::audit::checkpoint::Checkpoint;
use crate::error::AuditError;

/// Writes (or replaces) the graph's checkpoint: parameters `$1` graph id, `$2` record.
pub(super) const UPSERT_SQL: &str = "INSERT INTO accessgraph_checkpoints (graph_id, record) \
     VALUES ($1, $2) ON CONFLICT (graph_id) DO UPDATE SET record = EXCLUDED.record, \
     updated_at = now()";

/// The checkpoint record for `seq` and `hash`: opaque to the database. (The graph's
/// header row is guarded by the database's access control; its digest is left empty.)
pub(super) fn record(key: &[u8], graph_id: &str, seq: u64, hash: &str) -> String {
    let cp = Checkpoint {
        accessgraph_checkpoint: 2,
        graph_id: graph_id.to_owned(),
        seq,
        hash: hash.to_owned(),
        header: String::new(),
        trusted_from: 0,
        mac: String::new(),
    }
    .signed(key);
    serde_json::to_string(&cp).unwrap_or_default()
}

/// A checkpoint record read back, if it verifies with `key`.
fn verified(key: &[u8], text: &str) -> Result<Checkpoint, String> {
    let cp: Checkpoint = serde_json::from_str(text)
        .map_err(|e| format!("the signed checkpoint is unreadable: {e}"))?;
    if cp.verifies(key) {
        Ok(cp)
    } else {
        Err("the signed checkpoint does not verify with this key (wrong key or forged)".into())
    }
}

/// Where the graph as read ends, and where its journal starts.
pub(super) struct Reach<'a> {
    /// The graph's id.
    pub graph_id: &'a str,
    /// The header's `base_seq` and anchor (the hash event `base_seq + 1` follows).
    pub base: (u64, &'a str),
    /// The last event's `seq` and hash.
    pub last: (u64, &'a str),
}

/// Checks the graph's checkpoint against the journal as read (in the same snapshot of
/// the database): it must verify with `key`, name this graph, and name an event the
/// journal still holds with that hash.
pub(super) fn check(
    client: &mut Client,
    target: &Target,
    key: &[u8],
    reach: &Reach<'_>,
) -> Result<(), AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the signed checkpoint", &e);
    let line_of = |seq: u64| seq.saturating_sub(reach.base.0) + 1;
    let row = client
        .query_opt(
            "SELECT record FROM accessgraph_checkpoints WHERE graph_id = $1",
            &[&reach.graph_id],
        )
        .map_err(err)?;
    let Some(row) = row else {
        if reach.last.0 == reach.base.0 {
            // Nothing written yet: the first mutation writes the first checkpoint.
            return Ok(());
        }
        return Err(journal_err(
            target,
            1,
            "the signed checkpoint is missing (no row in accessgraph_checkpoints)",
        ));
    };
    let text: String = row.try_get(0).map_err(err)?;
    let cp = verified(key, &text).map_err(|why| journal_err(target, 1, why))?;
    if cp.graph_id != reach.graph_id {
        return Err(journal_err(
            target,
            1,
            "the signed checkpoint belongs to another graph",
        ));
    }
    if cp.seq > reach.last.0 {
        return Err(journal_err(
            target,
            line_of(reach.last.0) + 1,
            format!(
                "the journal ends at event {} but its signed checkpoint records event {}: events were cut off",
                reach.last.0, cp.seq
            ),
        ));
    }
    let found = if cp.seq == reach.last.0 {
        Some(reach.last.1.to_owned())
    } else if cp.seq == reach.base.0 {
        Some(reach.base.1.to_owned())
    } else {
        let seq = i64::try_from(cp.seq).unwrap_or(i64::MAX);
        client
            .query_opt(
                "SELECT record FROM accessgraph_events WHERE graph_id = $1 AND seq = $2",
                &[&reach.graph_id, &seq],
            )
            .map_err(err)?
            .map(|r| r.try_get::<_, String>(0))
            .transpose()
            .map_err(err)?
            .map(|text| parse_row(target, reach.base.0, seq, &text).map(|r| r.event.hash))
            .transpose()?
    };
    if found.as_deref() == Some(cp.hash.as_str()) {
        Ok(())
    } else {
        Err(journal_err(
            target,
            line_of(cp.seq),
            format!(
                "event {} differs from the signed checkpoint: the chain was rewritten",
                cp.seq
            ),
        ))
    }
}

/// Reads the graph (see [`load`]); with `key`, together with its checkpoint, which must
/// hold. Both are read in one snapshot of the database (a writer committing meanwhile
/// would otherwise look like a cut), or, `in_writers_tx`, in the writer's transaction,
/// whose lock keeps every other writer out (and which must not be ended here).
pub(super) fn load_checked(
    client: &mut Client,
    target: &Target,
    graph_id: &str,
    key: Option<&[u8]>,
    in_writers_tx: bool,
) -> Result<Loaded, AuditError> {
    let Some(key) = key else {
        return load(client, target, graph_id, true);
    };
    let read = |client: &mut Client| {
        load(client, target, graph_id, true).and_then(|loaded| {
            let reach = Reach {
                graph_id,
                base: (loaded.base_seq, &loaded.anchor),
                last: (loaded.seq, &loaded.log.last_hash()),
            };
            check(client, target, key, &reach).map(|()| loaded)
        })
    };
    if in_writers_tx {
        return read(client);
    }
    let err = |e: postgres::Error| unavailable(target, "reading the journal", &e);
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .map_err(err)?;
    let read = read(client);
    match read {
        Ok(loaded) => {
            client.batch_execute("COMMIT").map_err(err)?;
            Ok(loaded)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}
