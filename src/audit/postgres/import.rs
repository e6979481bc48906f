//! Moving a file journal into the database.

use std::io;
use std::path::Path;

use super::checkpoint::{self, Point};
use super::connect::{connect, unavailable};
use super::rows::{self, Row, COLUMNS};
use super::schema::{keep_statistics, migrate};
use super::url::Target;
use crate::audit::file::{FileJournal, RecordSink};
use crate::audit::journal::{Header, Record};
use crate::error::AuditError;
use crate::error::Error;
use crate::progress::{Hook, Meter, Stop};

/// Reading the journal to import: gathers its records, telling the meter the bytes read.
struct Gather<'m, 'h> {
    records: Vec<Record>,
    meter: &'m mut Meter<'h>,
    done: u64,
    stopped: Option<Stop>,
}

impl RecordSink for Gather<'_, '_> {
    fn start(&mut self, _: &Header, _: &str, _: bool) -> bool {
        true
    }

    fn records(&mut self, mut records: Vec<Record>, bytes: u64) -> bool {
        self.records.append(&mut records);
        self.done += bytes;
        match self.meter.at(self.done) {
            Ok(()) => true,
            Err(stop) => {
                self.stopped = Some(stop);
                false
            }
        }
    }
}

/// Copies a file journal into the database as a new graph named by the URL, keeping its
/// `graph_id`, header and every event as they are (so the chain, erasures and `as_of`
/// carry over), one row per event. The file is verified first (with `hmac_key`, against
/// its signed checkpoint too; every row is then signed and the database keeps a
/// checkpoint). Returns the number of events copied.
///
/// `progress` counts the journal's bytes twice: as they are read and verified, then as
/// their records are copied. A hook that stops it stops the import before the journal is
/// touched or, during the copy, rolls the transaction back: nothing is left in the
/// database ([`Error::Stopped`]).
pub fn import_file(
    path: &Path,
    target: &Target,
    hmac_key: Option<&[u8]>,
    progress: Hook<'_>,
) -> Result<u64, Error> {
    if hmac_key.is_some_and(<[u8]>::is_empty) {
        return Err(Error::invalid("hmac_key", "b''", "a non-empty key"));
    }
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut meter = Meter::start(progress, size.saturating_mul(2))?;
    let mut gather = Gather {
        records: Vec::new(),
        meter: &mut meter,
        done: 0,
        stopped: None,
    };
    let opened = FileJournal::open_into(path, hmac_key, None, &mut gather);
    if let Some(stop) = gather.stopped {
        return Err(stop.into());
    }
    let mut opened = opened?;
    opened.records = gather.records;
    meter.at(size)?;
    let count = opened.records.len();
    let last = opened.records.last().map_or_else(
        || (opened.header.base_seq, opened.header.anchor.clone()),
        |r| (r.event.seq, r.event.hash.clone()),
    );
    let header_text = opened.header.to_line();
    let header_line = header_text.trim_end_matches('\n');
    let base_seq = opened.header.base_seq;
    let graph_id = opened.header.graph_id.clone();
    let key = hmac_key.map(|k| (k, graph_id.as_str()));
    let rows: Vec<Row> = opened
        .records
        .iter()
        .map(|r| Row::of(&r.event, key))
        .collect();
    drop(opened);
    let err = |e: postgres::Error| unavailable(target, "importing the journal", &e);
    let mut client = connect(target)?;
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
            .copy_in(&format!("COPY accessgraph_events ({COLUMNS}) FROM STDIN"))
            .map_err(err)?;
        let mut buf = String::with_capacity(1 << 20);
        let n = rows.len() as u64;
        for (i, row) in (1u64..).zip(&rows) {
            rows::copy_line(&mut buf, &graph_id, row);
            // The copy's share of the total, by rows (a stop drops the transaction).
            meter.at(size + size.saturating_mul(i) / n.max(1))?;
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
    if let Some(key) = hmac_key {
        // Every row was signed: the database trusts the whole journal with this key.
        let record = checkpoint::record(
            key,
            &graph_id,
            &Point {
                last: (last.0, &last.1),
                header: &Header::digest(header_line),
                trusted_from: base_seq,
            },
        );
        tx.execute(checkpoint::UPSERT_SQL, &[&graph_id, &record])
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    // A bulk load: the planner must learn the new graph's size before its first query.
    keep_statistics(&mut client, &graph_id, count as u64);
    meter.finish()?;
    Ok(count as u64)
}
