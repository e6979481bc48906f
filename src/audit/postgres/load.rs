//! Reading a graph from the database: its row, header, latest snapshot and events, each
//! checked against the chain (and with `hmac_key`, its MAC) and replayed into the state;
//! the events themselves are not kept (`super::history` reads them when asked).

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::Client;

use super::connect::unavailable;
use super::url::{journal_err, Target};
use crate::audit::checkpoint::{mac, mac_ok};
use crate::audit::event::{parse_event, sha256_hex};
use crate::audit::journal::{strip_crc, Header, Record};
use crate::audit::log::Log;
use crate::audit::replay;
use crate::error::AuditError;
use crate::progress::Meter;
use crate::state::State;

/// The graph's row, created with a new header when the name is new; returns its id.
pub(super) fn find_or_create(client: &mut Client, target: &Target) -> Result<String, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "finding the graph", &e);
    let id = crate::audit::random::hex_id()
        .map_err(|e| AuditError::Io(format!("cannot draw a graph id: {e}")))?;
    let header = Header {
        accessgraph_journal: crate::audit::journal::FORMAT,
        anchor: super::super::event::genesis(&id),
        graph_id: id.clone(),
        base_seq: 0,
        base_state: None,
        erasures: 0,
        upgraded_from: None,
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

pub(super) fn parse_header(target: &Target, text: &str) -> Result<Header, AuditError> {
    let json = strip_crc(text).map_err(|_| {
        journal_err(
            target,
            1,
            "the header's checksum does not match (altered or damaged)",
        )
    })?;
    let header: Header = serde_json::from_str(&json)
        .map_err(|e| journal_err(target, 1, format!("not an accessgraph journal header: {e}")))?;
    let format = crate::audit::journal::FORMAT;
    if header.accessgraph_journal != format {
        return Err(journal_err(
            target,
            1,
            format!(
                "journal format {} is not supported by this version (it reads format {format})",
                header.accessgraph_journal
            ),
        ));
    }
    Ok(header)
}

/// One event row read back: checksum, format, and that the row's `seq` is the event's.
/// Its "line" is the one it would have in a file journal with the same header.
pub(super) fn parse_row(
    target: &Target,
    base_seq: u64,
    seq: i64,
    text: &str,
) -> Result<Record, AuditError> {
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
    event
        .check()
        .map_err(|b| journal_err(target, line, format!("event {seq}: {b}")))?;
    Ok(Record { line, event })
}

fn state_from_json(target: &Target, text: &str, what: &str) -> Result<State, AuditError> {
    crate::state::snapshot::read(text).map_err(|e| journal_err(target, 1, format!("{what}: {e}")))
}

/// With `hmac_key`: the key, and the `seq` after which every row must carry a valid MAC
/// (the signed checkpoint's `trusted_from`).
#[derive(Debug, Clone, Copy)]
pub(super) struct RowMacs<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Rows after this `seq` are checked.
    pub trusted_from: u64,
}

impl RowMacs<'_> {
    /// Checks the MAC of the row of `event` (its `line`), read with `mac`.
    pub fn check(
        &self,
        target: &Target,
        graph_id: &str,
        line: u64,
        event: &crate::audit::Event,
        mac: Option<&str>,
    ) -> Result<(), AuditError> {
        if event.seq <= self.trusted_from {
            return Ok(());
        }
        let ok = mac.is_some_and(|m| {
            mac_ok(
                self.key,
                "accessgraph/batch/v2",
                &[graph_id, &event.seq.to_string(), &event.hash],
                m,
            )
        });
        if ok {
            Ok(())
        } else {
            Err(journal_err(
                target,
                line,
                format!(
                    "event {} carries no valid MAC for this key: written without the key, forged or from another graph",
                    event.seq
                ),
            ))
        }
    }
}

/// The MAC of a snapshot row: the graph, the event it was taken at, the header it was
/// taken under and the state's SHA-256 (`docs/postgres.md`).
pub(super) fn snapshot_mac(
    key: &[u8],
    graph_id: &str,
    seq: u64,
    hash: &str,
    header: &str,
    state: &str,
) -> String {
    mac(
        key,
        "accessgraph/pg-snapshot/v2",
        &[
            graph_id,
            &seq.to_string(),
            hash,
            header,
            &sha256_hex(state.as_bytes()),
        ],
    )
}

/// What reading a graph from the database gives.
pub struct Loaded {
    /// The graph's id.
    pub graph_id: String,
    /// The state after the last event.
    pub state: State,
    /// The log's tail: the last event's `seq` and hash, which the next event chains to
    /// (the events stay in the database and are read from it: `super::PgHistory`).
    pub log: Log,
    /// The events' epoch.
    pub epoch: i64,
    /// The last event's `seq`.
    pub seq: u64,
    /// The header's `base_seq`.
    pub base_seq: u64,
    /// The header's anchor (the hash event `base_seq + 1` follows).
    pub anchor: String,
    /// SHA-256 of the header row: what the signed checkpoint vouches for.
    pub header_digest: String,
    /// The snapshot started from, if any.
    pub snapshot: Option<u64>,
}

/// Reads a graph: the latest snapshot of the current epoch (when `use_snapshot` and its
/// event is still there; with a key, only a snapshot signed with it) and the events after
/// it, each checked against the chain (and with `macs`, its MAC) and replayed. The events
/// are read in one statement and not kept; if a rewrite happened meanwhile (the epoch
/// moved), it starts again. `meter` counts the events replayed (of those after the
/// starting point when the read begins); a hook that stops it stops the read with
/// [`crate::progress::STOPPED`] (the stop is the meter's: [`Meter::stopped`]).
#[expect(
    clippy::too_many_lines,
    reason = "reading a graph from the database is one sequence of queries, each checked in turn"
)]
pub(super) fn load(
    client: &mut Client,
    target: &Target,
    graph_id: &str,
    use_snapshot: bool,
    macs: Option<RowMacs<'_>>,
    meter: &mut Meter<'_>,
) -> Result<Loaded, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the journal", &e);
    let stopped = |_| AuditError::Io(crate::progress::STOPPED.to_owned());
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
        let header_digest = Header::digest(&header_text);
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
        let snapshot = if use_snapshot {
            let key = macs.map(|m| (m.key, header_digest.as_str()));
            latest_snapshot(client, target, graph_id, epoch, header.base_seq, key)?
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
                header
                    .base_state
                    .as_ref()
                    .map(|v| state_from_json(target, &v.to_string(), "journal base state"))
                    .transpose()?
                    .unwrap_or_default(),
                header.base_seq,
                header.anchor.clone(),
            ),
        };
        {
            let start = seq;
            let start_param = i64::try_from(seq).unwrap_or(i64::MAX);
            if meter.listens() {
                let last: i64 = client
                    .query_one(
                        "SELECT coalesce(max(seq), $2) FROM accessgraph_events \
                         WHERE graph_id = $1",
                        &[&graph_id, &start_param],
                    )
                    .and_then(|r| r.try_get(0))
                    .map_err(err)?;
                let last = u64::try_from(last).unwrap_or(start);
                meter.begin(last.saturating_sub(start)).map_err(stopped)?;
            }
            let params: [&(dyn ToSql + Sync); 2] = [&graph_id, &start_param];
            let mut rows = client
                .query_raw(
                    "SELECT seq, record, mac FROM accessgraph_events \
                     WHERE graph_id = $1 AND seq > $2 ORDER BY seq",
                    params,
                )
                .map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let row_seq: i64 = row.try_get(0).map_err(err)?;
                let text: &str = row.try_get(1).map_err(err)?;
                let mac: Option<&str> = row.try_get(2).map_err(err)?;
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
                if let Some(m) = &macs {
                    m.check(target, graph_id, r.line, &ev, mac)?;
                }
                replay::apply(&mut state, &ev).map_err(|m| journal_err(target, r.line, m))?;
                seq = ev.seq;
                hash = ev.hash;
                meter.at(seq - start).map_err(stopped)?;
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
        let mut log = Log::new(hash);
        log.base_seq = seq;
        return Ok(Loaded {
            graph_id: graph_id.to_owned(),
            state,
            log,
            epoch,
            seq,
            base_seq: header.base_seq,
            anchor: header.anchor.clone(),
            header_digest,
            snapshot: snapshot.map(|s| s.0),
        });
    }
    Err(AuditError::Unavailable(format!(
        "{}: the journal kept being rewritten while it was read",
        target.display
    )))
}

/// The latest snapshot of this epoch whose event is still in the journal with its hash
/// (and, with a key and the header's digest, whose MAC verifies).
fn latest_snapshot(
    client: &mut Client,
    target: &Target,
    graph_id: &str,
    epoch: i64,
    base_seq: u64,
    key: Option<(&[u8], &str)>,
) -> Result<Option<(u64, String, String)>, AuditError> {
    let err = |e: postgres::Error| unavailable(target, "reading the snapshot", &e);
    let Some(row) = client
        .query_opt(
            "SELECT s.seq, s.hash, s.state, e.record, s.mac FROM accessgraph_snapshots s \
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
    let tag: Option<String> = row.try_get(4).map_err(err)?;
    let event = parse_row(target, base_seq, seq, record)?.event;
    if event.hash != hash {
        // A snapshot that does not lead to the journal as it is: replay from the start.
        return Ok(None);
    }
    if let Some((key, header)) = key {
        let signed = tag.is_some_and(|t| {
            mac_ok(
                key,
                "accessgraph/pg-snapshot/v2",
                &[
                    graph_id,
                    &event.seq.to_string(),
                    &hash,
                    header,
                    &sha256_hex(state.as_bytes()),
                ],
                &t,
            )
        });
        if !signed {
            // Unsigned, another key's, or altered: the events themselves are replayed.
            return Ok(None);
        }
    }
    Ok(Some((event.seq, hash, state)))
}
