//! The tables the library keeps, and their migrations.

use postgres::Client;

use super::connect::{connect, unavailable};
use super::url::{journal_err, parse_url, Target};
use crate::error::AuditError;
use crate::error::Error;

/// The first key of every advisory lock the library takes (`"AGJL"`).
pub const LOCK_CLASS: i32 = 0x4147_4A4C;
/// The second key of the migration lock (graph locks use `LOCK_CLASS + 1`).
const MIGRATION_KEY: i32 = 0;

/// The schema, one step per version; a database records the steps it has had in
/// `accessgraph_schema`, and opening applies the missing ones under an advisory lock.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (
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
    ),
    (
        2,
        "CREATE TABLE accessgraph_checkpoints (
        graph_id   text PRIMARY KEY REFERENCES accessgraph_graphs (graph_id) ON DELETE CASCADE,
        record     text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );",
    ),
    (3, MIGRATION_3),
];

/// Version 3: the columns `audit.events(...)` filters on, taken from each record when it
/// is written (existing rows are filled from their records here), with an index each;
/// the MAC of each row written with `hmac_key`; the MAC of a snapshot. The columns are
/// an index of the records, which stay the truth: `verify()` checks that they agree.
/// `COLLATE "C"` lets an `action` prefix (`member.*`) use its index.
const MIGRATION_3: &str = r#"ALTER TABLE accessgraph_events
        ADD COLUMN actor        text COLLATE "C",
        ADD COLUMN action       text COLLATE "C",
        ADD COLUMN target       text COLLATE "C",
        ADD COLUMN details_user text COLLATE "C",
        ADD COLUMN at           timestamptz,
        ADD COLUMN mac          text;
    CREATE FUNCTION pg_temp.accessgraph_record(t text) RETURNS jsonb
        LANGUAGE plpgsql IMMUTABLE AS $f$
        BEGIN
            RETURN t::jsonb;
        EXCEPTION WHEN others THEN
            RETURN NULL;  -- a damaged record: opening the graph names it
        END $f$;
    UPDATE accessgraph_events e SET
        actor = r.doc->>'actor',
        action = r.doc->>'action',
        target = r.doc->>'target',
        details_user = CASE WHEN jsonb_typeof(r.doc->'details'->'user') = 'string'
                            THEN r.doc->'details'->>'user' END,
        at = CASE WHEN jsonb_typeof(r.doc->'at') = 'string'
                  THEN (r.doc->>'at')::timestamptz END
        FROM (SELECT graph_id, seq, pg_temp.accessgraph_record(record) AS doc
              FROM accessgraph_events) r
        WHERE e.graph_id = r.graph_id AND e.seq = r.seq;
    DROP FUNCTION pg_temp.accessgraph_record(text);
    CREATE INDEX accessgraph_events_actor ON accessgraph_events (graph_id, actor, seq);
    CREATE INDEX accessgraph_events_action ON accessgraph_events (graph_id, action, seq);
    CREATE INDEX accessgraph_events_target ON accessgraph_events (graph_id, target, seq);
    CREATE INDEX accessgraph_events_user ON accessgraph_events (graph_id, details_user, seq);
    CREATE INDEX accessgraph_events_at ON accessgraph_events (graph_id, at);
    ALTER TABLE accessgraph_snapshots ADD COLUMN mac text;"#;

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

/// Connects and applies the missing migrations; returns the versions applied.
pub fn migrate_url(url: &str) -> Result<Vec<i32>, Error> {
    let target = parse_url(url)?;
    let mut client = connect(&target)?;
    Ok(migrate(&mut client, &target)?)
}

/// Rows of a graph below which a poor estimate costs little.
const STATS_MIN_ROWS: u64 = 10_000;

/// Keeps the planner's statistics of `accessgraph_events` true enough for the filters'
/// indexes: when it believes graph `graph_id` (hexadecimal) holds less than half of its
/// `rows` events — a graph imported or grown since the last `ANALYZE`, which autovacuum
/// runs only after a tenth of the whole table changed — it would walk the graph's every
/// row by its primary key instead of using an index, so this runs `ANALYZE` (a sample of
/// the table: well under a second). Best effort: a failure (a user who does not own the
/// table) leaves the statistics to autovacuum.
pub(super) fn keep_statistics(client: &mut Client, graph_id: &str, rows: u64) {
    if rows < STATS_MIN_ROWS || !graph_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    let Ok(plan) = client.simple_query(&format!(
        "EXPLAIN SELECT 1 FROM accessgraph_events WHERE graph_id = '{graph_id}'"
    )) else {
        return;
    };
    let estimate = plan.iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(estimated_rows),
        _ => None,
    });
    if estimate.is_some_and(|e| e.saturating_mul(2) < rows) {
        let _ = client.batch_execute("ANALYZE accessgraph_events");
    }
}

/// The `rows=N` of a plan line.
fn estimated_rows(line: &str) -> Option<u64> {
    let rest = line.split("rows=").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_line_gives_its_estimate() {
        let line = "Index Only Scan using accessgraph_events_at on accessgraph_events  \
                    (cost=0.42..6.19 rows=1 width=4)";
        assert_eq!(estimated_rows(line), Some(1));
        assert_eq!(
            estimated_rows("Seq Scan (cost=0.00..1.00 rows=1234567 width=4)"),
            Some(1_234_567)
        );
        assert_eq!(estimated_rows("nothing"), None);
    }
}
