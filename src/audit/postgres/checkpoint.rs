//! The signed checkpoint kept in the database (`hmac_key`): the file journal's checkpoint
//! record (`crate::audit::checkpoint::Checkpoint`, format 2) as the JSON text of one row
//! per graph in `accessgraph_checkpoints`. It names the last acknowledged event (`seq`,
//! `hash`), the SHA-256 of the graph's header row (`header`: base state, anchor, base
//! `seq`, erasures) and `trusted_from`, after which every event row must carry a valid
//! MAC; an HMAC-SHA-256 covers all of it.
//!
//! It is written in the transaction that commits the events it vouches for, so it never
//! leads nor lags them. Opening with the key refuses a record signed with another key, a
//! header it does not vouch for, a journal that no longer reaches it (events cut off, a
//! chain rewritten) and rows after `trusted_from` without a valid MAC (written without
//! the key). A graph with no checkpoint yet is trusted as found by the first keyed open,
//! which writes one (trust on first use, as for a file).

use postgres::GenericClient;

use super::connect::unavailable;
use super::load::{load, parse_row, Loaded, RowMacs};
use super::url::{journal_err, Target};
use crate::audit::checkpoint::Checkpoint;
use crate::error::AuditError;
use crate::progress::Meter;

/// Writes (or replaces) the graph's checkpoint: parameters `$1` graph id, `$2` record.
pub(super) const UPSERT_SQL: &str = "INSERT INTO accessgraph_checkpoints (graph_id, record) \
     VALUES ($1, $2) ON CONFLICT (graph_id) DO UPDATE SET record = EXCLUDED.record, \
     updated_at = now()";

/// Writes the first checkpoint of a graph (trust on first use) unless one exists or the
/// graph was rewritten since it was read: `$1` graph id, `$2` record, `$3` epoch read.
const FIRST_SQL: &str = "INSERT INTO accessgraph_checkpoints (graph_id, record) \
     SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM accessgraph_graphs \
     WHERE graph_id = $1 AND epoch = $3) ON CONFLICT (graph_id) DO NOTHING";

/// Where a checkpoint points and what it vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Point<'a> {
    /// The last acknowledged event: `seq` and hash.
    pub last: (u64, &'a str),
    /// SHA-256 of the header row.
    pub header: &'a str,
    /// Rows after this `seq` carry a MAC.
    pub trusted_from: u64,
}

/// The checkpoint record of `point`, signed: opaque to the database.
pub(super) fn record(key: &[u8], graph_id: &str, point: &Point<'_>) -> String {
    let cp = Checkpoint {
        accessgraph_checkpoint: 2,
        graph_id: graph_id.to_owned(),
        seq: point.last.0,
        hash: point.last.1.to_owned(),
        header: point.header.to_owned(),
        trusted_from: point.trusted_from,
        mac: String::new(),
    }
    .signed(key);
    serde_json::to_string(&cp).unwrap_or_default()
}

/// The graph's checkpoint, if it has one; it must verify with `key` and name this graph.
pub(super) fn read(
    client: &mut impl GenericClient,
    target: &Target,
    key: &[u8],
    graph_id: &str,
) -> Result<Option<Checkpoint>, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the signed checkpoint", &e);
    let Some(row) = client
        .query_opt(
            "SELECT record FROM accessgraph_checkpoints WHERE graph_id = $1",
            &[&graph_id],
        )
        .map_err(err)?
    else {
        return Ok(None);
    };
    let text: String = row.try_get(0).map_err(err)?;
    let cp: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        journal_err(
            target,
            1,
            format!("the signed checkpoint is unreadable: {e}"),
        )
    })?;
    if !cp.verifies(key) {
        return Err(journal_err(
            target,
            1,
            "the signed checkpoint does not verify with this key (wrong key or forged)",
        ));
    }
    if cp.graph_id != graph_id {
        return Err(journal_err(
            target,
            1,
            "the signed checkpoint belongs to another graph",
        ));
    }
    Ok(Some(cp))
}

/// Refuses a header row the checkpoint does not vouch for.
pub(super) fn vouches_for_header(
    target: &Target,
    cp: &Checkpoint,
    header: &str,
) -> Result<(), AuditError> {
    if cp.header == header {
        Ok(())
    } else {
        Err(journal_err(
            target,
            1,
            "the graph's header (base state, anchor, base seq or erasures) is not the one the signed checkpoint vouches for: altered, rolled back, or rewritten without the key",
        ))
    }
}

/// Checks that the journal as read (in the same snapshot of the database) still holds the
/// event the checkpoint names, with its hash.
fn reaches(
    client: &mut impl GenericClient,
    target: &Target,
    cp: &Checkpoint,
    loaded: &Loaded,
) -> Result<(), AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the signed checkpoint", &e);
    let line_of = |seq: u64| seq.saturating_sub(loaded.base_seq) + 1;
    if cp.seq > loaded.seq {
        return Err(journal_err(
            target,
            line_of(loaded.seq) + 1,
            format!(
                "the journal ends at event {} but its signed checkpoint records event {}: events were cut off",
                loaded.seq, cp.seq
            ),
        ));
    }
    let found = if cp.seq == loaded.seq {
        Some(loaded.log.last_hash())
    } else if cp.seq == loaded.base_seq {
        Some(loaded.anchor.clone())
    } else {
        let seq = i64::try_from(cp.seq).unwrap_or(i64::MAX);
        client
            .query_opt(
                "SELECT record FROM accessgraph_events WHERE graph_id = $1 AND seq = $2",
                &[&loaded.graph_id, &seq],
            )
            .map_err(err)?
            .map(|r| r.try_get::<_, String>(0))
            .transpose()
            .map_err(err)?
            .map(|text| parse_row(target, loaded.base_seq, seq, &text).map(|r| r.event.hash))
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
/// hold (rows after its `trusted_from` carrying MACs). Both are read in one snapshot of
/// the database (a writer committing meanwhile would otherwise look like a cut), or,
/// `in_writers_tx`, in the writer's transaction, whose lock keeps every other writer out
/// (and which must not be ended here). Returns the checkpoint too: `None` with a key
/// means the graph has none yet (the caller trusts it on first use). `meter` counts the
/// events replayed ([`load`]).
pub(super) fn load_checked(
    client: &mut postgres::Client,
    target: &Target,
    graph_id: &str,
    key: Option<&[u8]>,
    in_writers_tx: bool,
    meter: &mut Meter<'_>,
) -> Result<(Loaded, Option<Checkpoint>), AuditError> {
    let Some(key) = key else {
        return load(client, target, graph_id, true, None, meter).map(|l| (l, None));
    };
    let mut read_both = |client: &mut postgres::Client| {
        let cp = read(client, target, key, graph_id)?;
        let macs = cp.as_ref().map(|c| RowMacs {
            key,
            trusted_from: c.trusted_from,
        });
        let loaded = load(client, target, graph_id, true, macs, meter)?;
        if let Some(cp) = &cp {
            vouches_for_header(target, cp, &loaded.header_digest)?;
            reaches(client, target, cp, &loaded)?;
        }
        Ok((loaded, cp))
    };
    if in_writers_tx {
        return read_both(client);
    }
    let err = |e: postgres::Error| unavailable(target, "reading the journal", &e);
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .map_err(err)?;
    match read_both(client) {
        Ok(both) => {
            client.batch_execute("COMMIT").map_err(err)?;
            Ok(both)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Trust on first use: writes the first checkpoint of a graph read without one (at its
/// last event, `trusted_from` there). False when another process wrote one first or the
/// graph was rewritten meanwhile (read it again).
pub(super) fn write_first(
    client: &mut postgres::Client,
    target: &Target,
    key: &[u8],
    loaded: &Loaded,
) -> Result<bool, AuditError> {
    let hash = loaded.log.last_hash();
    let text = record(
        key,
        &loaded.graph_id,
        &Point {
            last: (loaded.seq, &hash),
            header: &loaded.header_digest,
            trusted_from: loaded.seq,
        },
    );
    let n = client
        .execute(FIRST_SQL, &[&loaded.graph_id, &text, &loaded.epoch])
        .map_err(|e| unavailable(target, "writing the signed checkpoint", &e))?;
    Ok(n == 1)
}
