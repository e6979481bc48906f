//! One event as a row of `accessgraph_events`: its record (the event's export form with a
//! checksum), the columns `audit.events(...)` filters on, taken from the event when the
//! row is written, and — with `hmac_key` — the row's MAC. And the three ways rows are
//! written: literals in one round trip, arrays as parameters, `COPY`.

use std::fmt::Write as _;

use postgres::types::ToSql;
use postgres::{Client, Statement};

use crate::audit::event::Event;
use crate::audit::journal::{batch_mac, with_crc};

/// One event's row.
#[derive(Debug, Clone)]
pub(super) struct Row {
    /// The event's `seq`.
    pub seq: i64,
    /// The export form and its checksum (`docs/journal-format.md`), without a newline.
    pub record: String,
    /// Its actor.
    pub actor: String,
    /// Its action.
    pub action: String,
    /// Its target.
    pub target: String,
    /// `details.user`, when it is a string.
    pub user: Option<String>,
    /// Its instant (ISO 8601, read as `timestamptz`).
    pub at: String,
    /// With `hmac_key`: the MAC a file journal's batch ending at this event carries.
    pub mac: Option<String>,
}

impl Row {
    /// The row of `e`, signed with `key` (and the graph's id) when given.
    pub fn of(e: &Event, key: Option<(&[u8], &str)>) -> Row {
        let mut record = with_crc(e.to_json());
        record.pop();
        Row {
            seq: i64::try_from(e.seq).unwrap_or(i64::MAX),
            record,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            user: e.user().map(str::to_owned),
            at: e.at.to_iso(),
            mac: key.map(|(key, graph_id)| batch_mac(key, graph_id, e.seq, &e.hash)),
        }
    }
}

/// The rows of `events`.
pub(super) fn rows_of(events: &[Event], key: Option<(&[u8], &str)>) -> Vec<Row> {
    events.iter().map(|e| Row::of(e, key)).collect()
}

/// Does a row's index agree with its event? (A row whose columns were altered would hide
/// it from, or slip it into, a filtered query.)
pub(super) fn columns_agree(
    e: &Event,
    actor: Option<&str>,
    action: Option<&str>,
    target: Option<&str>,
    user: Option<&str>,
    at_micros: Option<i64>,
) -> bool {
    actor == Some(e.actor.as_str())
        && action == Some(e.action.as_str())
        && target == Some(e.target.as_str())
        && user == e.user()
        && at_micros == Some(e.at.0)
}

/// The columns of a row, in the order of [`INSERT_SQL`]'s arrays and of `COPY`.
pub(super) const COLUMNS: &str =
    "graph_id, seq, record, actor, action, target, details_user, at, mac";

/// Inserts rows given as arrays and notifies the graph's channel with the last `seq`:
/// `$1` graph id, `$2`..`$9` the columns, `$10` the channel.
pub(super) const INSERT_SQL: &str = "WITH ins AS (\
     INSERT INTO accessgraph_events (graph_id, seq, record, actor, action, target, \
     details_user, at, mac) \
     SELECT $1, t.seq, t.record, t.actor, t.action, t.target, t.details_user, \
     t.at::timestamptz, t.mac FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[]) \
     AS t(seq, record, actor, action, target, details_user, at, mac) RETURNING seq) \
     SELECT pg_notify($10, (SELECT max(seq) FROM ins)::text)";

/// Runs [`INSERT_SQL`] for `rows`.
pub(super) fn insert(
    client: &mut Client,
    statement: &Statement,
    graph_id: &str,
    rows: &[Row],
    channel: &str,
) -> Result<(), postgres::Error> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let records: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
    let actors: Vec<&str> = rows.iter().map(|r| r.actor.as_str()).collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let users: Vec<Option<&str>> = rows.iter().map(|r| r.user.as_deref()).collect();
    let ats: Vec<&str> = rows.iter().map(|r| r.at.as_str()).collect();
    let macs: Vec<Option<&str>> = rows.iter().map(|r| r.mac.as_deref()).collect();
    let params: [&(dyn ToSql + Sync); 10] = [
        &graph_id, &seqs, &records, &actors, &actions, &targets, &users, &ats, &macs, &channel,
    ];
    client.query(statement, &params).map(drop)
}

/// Quotes values in the one-round-trip append.
const TAG: &str = "$agr$";

/// True when `text` between two `TAG`s reads back as itself.
pub(super) fn quotable(text: &str) -> bool {
    !text.contains(TAG) && !text.ends_with('$') && !text.ends_with("$agr")
}

fn quoted(out: &mut String, text: Option<&str>) {
    match text {
        Some(t) => {
            out.push_str(TAG);
            out.push_str(t);
            out.push_str(TAG);
        }
        None => out.push_str("NULL"),
    }
}

/// `INSERT … VALUES …` of `rows` with every value a literal (one statement of a
/// multi-statement round trip), or `None` when a value cannot be dollar-quoted (the
/// caller then passes them as parameters).
pub(super) fn values_sql(graph_id: &str, rows: &[Row]) -> Option<String> {
    let all_quotable = rows.iter().all(|r| {
        [&r.record, &r.actor, &r.action, &r.target]
            .into_iter()
            .chain(r.user.as_ref())
            .all(|t| quotable(t))
    });
    // The graph id is hexadecimal, an instant is digits and `-:.TZ`, a MAC is hex.
    if !all_quotable || !graph_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let size: usize = rows.iter().map(|r| r.record.len() * 2 + 200).sum();
    let mut sql = String::with_capacity(size + 64);
    let _ = write!(sql, "INSERT INTO accessgraph_events ({COLUMNS}) VALUES ");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        let _ = write!(sql, "('{graph_id}', {}, ", r.seq);
        quoted(&mut sql, Some(&r.record));
        sql.push_str(", ");
        quoted(&mut sql, Some(&r.actor));
        sql.push_str(", ");
        quoted(&mut sql, Some(&r.action));
        sql.push_str(", ");
        quoted(&mut sql, Some(&r.target));
        sql.push_str(", ");
        quoted(&mut sql, r.user.as_deref());
        let _ = write!(sql, ", '{}'::timestamptz, ", r.at);
        match &r.mac {
            Some(m) => {
                let _ = write!(sql, "'{m}'");
            }
            None => sql.push_str("NULL"),
        }
        sql.push(')');
    }
    Some(sql)
}

/// Appends one `COPY … FROM STDIN` (text format) line of `row` to `buf`.
pub(super) fn copy_line(buf: &mut String, graph_id: &str, row: &Row) {
    let field = |buf: &mut String, text: Option<&str>| {
        match text {
            None => buf.push_str("\\N"),
            Some(t) => {
                for ch in t.chars() {
                    match ch {
                        '\\' => buf.push_str("\\\\"),
                        '\t' => buf.push_str("\\t"),
                        '\n' => buf.push_str("\\n"),
                        '\r' => buf.push_str("\\r"),
                        c => buf.push(c),
                    }
                }
            }
        }
        buf.push('\t');
    };
    field(buf, Some(graph_id));
    field(buf, Some(&row.seq.to_string()));
    field(buf, Some(&row.record));
    field(buf, Some(&row.actor));
    field(buf, Some(&row.action));
    field(buf, Some(&row.target));
    field(buf, row.user.as_deref());
    field(buf, Some(&row.at));
    field(buf, row.mac.as_deref());
    buf.pop();
    buf.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::genesis;
    use crate::time::Instant;
    use serde_json::{Map, Value};

    fn ev(user: &str) -> Event {
        let mut d = Map::new();
        d.insert("user".into(), Value::from(user));
        d.insert("role".into(), Value::from("viewer"));
        Event::new(
            7,
            Instant(1_714_550_400_000_000),
            "jane@example.com".into(),
            "member.added".into(),
            "acme".into(),
            d,
            genesis("ab"),
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_row_carries_its_columns_and_mac() {
        let e = ev("bob@example.com");
        let r = Row::of(&e, Some((b"k", "ab")));
        assert_eq!(r.seq, 7);
        assert!(r.record.starts_with("{\"seq\":7,") && r.record.ends_with("\"}"));
        assert_eq!(r.user.as_deref(), Some("bob@example.com"));
        assert_eq!(r.at, "2024-05-01T08:00:00Z");
        assert_eq!(r.mac, Some(batch_mac(b"k", "ab", 7, &e.hash)));
        assert!(columns_agree(
            &e,
            Some("jane@example.com"),
            Some("member.added"),
            Some("acme"),
            Some("bob@example.com"),
            Some(e.at.0)
        ));
        assert!(!columns_agree(
            &e,
            Some("jane@example.com"),
            Some("member.added"),
            Some("acme"),
            Some("mallory@example.com"),
            Some(e.at.0)
        ));
    }

    #[test]
    fn only_values_that_read_back_are_dollar_quoted() {
        assert!(quotable("{\"seq\":1,\"crc\":\"00000000\"}"));
        assert!(!quotable("a $agr$ b"));
        assert!(!quotable("ends in $agr"));
        assert!(!quotable("ends in $"));
        let r = Row::of(&ev("x $agr$ y"), None);
        assert!(values_sql("ab", std::slice::from_ref(&r)).is_none());
        let r = Row::of(&ev("bob@example.com"), None);
        let sql = values_sql("ab", &[r]).unwrap_or_default();
        assert!(sql.contains("'2024-05-01T08:00:00Z'::timestamptz, NULL)"));
    }

    #[test]
    fn copy_lines_escape_and_mark_nulls() {
        let mut r = Row::of(&ev("bob@example.com"), None);
        r.target = "a\tb\\c".into();
        let mut buf = String::new();
        copy_line(&mut buf, "ab", &r);
        let fields: Vec<&str> = buf.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), 9);
        assert_eq!(fields.get(5), Some(&"a\\tb\\\\c"));
        assert_eq!(fields.get(8), Some(&"\\N"));
    }
}
