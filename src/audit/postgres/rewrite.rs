//! Rewriting a graph's whole journal (erasure, retention) in the database.

use postgres::{Client, Statement};

use super::checkpoint::{self, Point};
use super::connect::unavailable;
use super::rows::{self, Row};
use super::url::Target;
use crate::audit::journal::Header;
use crate::error::AuditError;

/// A rewrite of the whole journal (erasure, retention), inside the writer's transaction:
/// the events replaced, the header (adding the erasures the database already counts), the
/// snapshots dropped, the checkpoint re-signed, the other processes notified, committed.
pub(super) struct Rewrite<'a> {
    pub(super) target: &'a Target,
    pub(super) graph_id: &'a str,
    pub(super) channel: &'a str,
    pub(super) key: Option<&'a [u8]>,
}

impl Rewrite<'_> {
    /// Returns the new epoch and the new header's digest.
    pub(super) fn run(
        &self,
        client: &mut Client,
        insert: &Statement,
        header: &Header,
        rows: &[Row],
        last: (u64, &str),
    ) -> Result<(i64, String), AuditError> {
        let db = |e: postgres::Error| unavailable(self.target, "rewriting the journal", &e);
        let graph_id = self.graph_id;
        let old: String = client
            .query_one(
                "SELECT header FROM accessgraph_graphs WHERE graph_id = $1",
                &[&graph_id],
            )
            .and_then(|r| r.try_get(0))
            .map_err(db)?;
        // The graph counts only the erasures of this rewrite (it reads no header file):
        // add those already made.
        let mut header = header.clone();
        header.erasures += super::load::parse_header(self.target, &old)?.erasures;
        let header_text = header.to_line();
        let header_text = header_text.trim_end_matches('\n');
        let digest = Header::digest(header_text);
        client
            .execute(
                "DELETE FROM accessgraph_events WHERE graph_id = $1",
                &[&graph_id],
            )
            .map_err(db)?;
        for chunk in rows.chunks(10_000) {
            rows::insert(client, insert, graph_id, chunk, self.channel).map_err(db)?;
        }
        let epoch: i64 = client
            .query_one(
                "UPDATE accessgraph_graphs SET header = $2, epoch = epoch + 1 \
                 WHERE graph_id = $1 RETURNING epoch",
                &[&graph_id, &header_text],
            )
            .and_then(|r| r.try_get(0))
            .map_err(db)?;
        client
            .execute(
                "DELETE FROM accessgraph_snapshots WHERE graph_id = $1",
                &[&graph_id],
            )
            .map_err(db)?;
        if let Some(key) = self.key {
            let record = checkpoint::record(
                key,
                graph_id,
                &Point {
                    last,
                    header: &digest,
                    trusted_from: header.base_seq,
                },
            );
            client
                .execute(checkpoint::UPSERT_SQL, &[&graph_id, &record])
                .map_err(db)?;
        }
        client
            .execute("SELECT pg_notify($1, 'rewritten')", &[&self.channel])
            .map_err(db)?;
        client.batch_execute("COMMIT").map_err(db)?;
        Ok((epoch, digest))
    }
}
