//! Moving a file journal into the database.

use std::io;
use std::path::Path;

use super::checkpoint;
use super::connect::{connect, unavailable};
use super::schema::migrate;
use super::store::split_lines;
use super::url::Target;
use crate::audit::file::FileJournal;
use crate::audit::journal::with_crc;
use crate::error::AuditError;
use crate::error::Error;

/// Copies a file journal into the database as a new graph named by the URL, keeping its
/// `graph_id`, header and every record as they are (so the chain, erasures and `as_of`
/// carry over). The file is verified first (with `hmac_key`, against its signed
/// checkpoint too, and the database then keeps one). Returns the number of events copied.
pub fn import_file(path: &Path, target: &Target, hmac_key: Option<&[u8]>) -> Result<u64, Error> {
    if hmac_key.is_some_and(<[u8]>::is_empty) {
        return Err(Error::invalid("hmac_key", "b''", "a non-empty key"));
    }
    let opened = FileJournal::open(path, hmac_key, None)?;
    let count = opened.records.len();
    let last = opened.records.last().map_or_else(
        || (opened.header.base_seq, opened.header.anchor.clone()),
        |r| (r.event.seq, r.event.hash.clone()),
    );
    let header_text = opened.header.to_line();
    let header_line = header_text.trim_end_matches('\n');
    let rows: Vec<String> = opened
        .records
        .iter()
        .map(|r| {
            with_crc(r.event.to_json())
                .trim_end_matches('\n')
                .to_owned()
        })
        .collect();
    let graph_id = opened.header.graph_id.clone();
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
            .copy_in("COPY accessgraph_events (graph_id, seq, record) FROM STDIN")
            .map_err(err)?;
        let mut buf = String::with_capacity(1 << 20);
        for line in rows.iter().take(count) {
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
    if let Some(key) = hmac_key {
        let record = checkpoint::record(key, &graph_id, last.0, &last.1);
        tx.execute(checkpoint::UPSERT_SQL, &[&graph_id, &record])
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(count as u64)
}
