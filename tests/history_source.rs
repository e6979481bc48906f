//! The audit log read from a store (`audit::source`, what a graph on PostgreSQL uses)
//! checked against the log held in memory: the same answers for filters, verification,
//! time travel and exports, and the same refusals for a tampered history. The store here
//! is the log itself, streamed as a database would stream it.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

use accessgraph::audit::event::Event;
use accessgraph::audit::source::{self, AsOf, Base, HistorySource, Scanned, Span};
use accessgraph::audit::{Filter, Log};
use accessgraph::error::AuditError;
use accessgraph::graph::{NewMember, NewProject};
use accessgraph::time::Instant;
use accessgraph::Graph;
use serde_json::{Map, Value};

/// A store holding a log's events, read as `scan` promises: the base, then the events a
/// span selects in `seq` order (their hashes checked), in "pages" of one.
struct Stored {
    log: Log,
    key: Option<Vec<u8>>,
}

impl HistorySource for Stored {
    fn scan(
        &self,
        span: Span<'_>,
        visit: &mut dyn FnMut(Scanned) -> Result<bool, AuditError>,
    ) -> Result<(), AuditError> {
        let base = Base {
            seq: self.log.base_seq,
            anchor: self.log.anchor.clone(),
            state: self.log.base_state.as_ref().map(|s| {
                serde_json::from_str(&accessgraph::state::snapshot::write(s).unwrap()).unwrap()
            }),
        };
        if span.chain && !visit(Scanned::Base(base))? {
            return Ok(());
        }
        let mut n = 0;
        for e in self.log.iter() {
            if e.seq <= span.after || e.seq > span.upto || !span.filter.matches(&e) {
                continue;
            }
            if span.filter.limit.is_some_and(|l| n >= l) {
                break;
            }
            e.check().map_err(|b| AuditError::Integrity {
                seq: e.seq,
                reason: b.to_string(),
            })?;
            n += 1;
            if !visit(Scanned::Event(e))? {
                break;
            }
        }
        Ok(())
    }

    fn base_seq(&self) -> u64 {
        self.log.base_seq
    }

    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
}

fn at(s: &str) -> Instant {
    Instant::parse("at", s).unwrap()
}

/// A history with memberships, grants, a refusal, application events and an erasure (so
/// the seal rule has something to check).
fn history() -> Graph {
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    g.add_org("acme", None, "jane@example.com", None).unwrap();
    for i in 0..5 {
        g.add_member(
            &format!("u{i}@example.com"),
            "acme",
            NewMember::default(),
            Some("jane@example.com"),
        )
        .unwrap();
    }
    g.set_time(Some(at("2024-06-01T12:00:00.25Z")));
    g.add_project("acme/web", NewProject::default(), Some("jane@example.com"))
        .unwrap();
    g.grant(
        "u1@example.com",
        "acme/web",
        "viewer",
        None,
        Some("on call".into()),
        Some("jane@example.com"),
    )
    .unwrap();
    let mut d = Map::new();
    d.insert("rows".into(), Value::from(3));
    g.record("u1@example.com", "data.exported", "acme/web", d)
        .unwrap();
    g.set_time(Some(at("2024-07-01")));
    g.erase_user(
        "u2@example.com",
        Some("jane@example.com"),
        Some("left"),
        None,
    )
    .unwrap();
    g.add_member(
        "late@example.com",
        "acme",
        NewMember::default(),
        Some("jane@example.com"),
    )
    .unwrap();
    g
}

fn stored(g: &Graph) -> Stored {
    Stored {
        log: g.with_audit_log(Log::clone).unwrap(),
        key: None,
    }
}

fn tail(log: &Log) -> (u64, String) {
    (log.last_seq(), log.last_hash())
}

#[test]
fn filters_give_what_the_log_in_memory_gives() {
    let g = history();
    let s = stored(&g);
    let upto = s.log.last_seq();
    let filters = [
        Filter::default(),
        Filter {
            user: Some("U1@example.com".into()),
            ..Filter::default()
        },
        Filter {
            action: Some("member.*".into()),
            limit: Some(3),
            ..Filter::default()
        },
        Filter {
            since: Some(at("2024-06-01T12:00:00.25Z")),
            until: Some(at("2024-07-01")),
            ..Filter::default()
        },
    ];
    for f in &filters {
        let want: Vec<Event> = s.log.select(f);
        assert_eq!(source::select(&s, f, upto).unwrap(), want, "{f:?}");
    }
    // Pages of an iteration put back together are the log.
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = source::page(&s, after, upto, 4).unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page);
    }
    assert_eq!(all, s.log.iter().collect::<Vec<_>>());
    // Bounded by the revision: a graph does not show what it has not applied.
    assert_eq!(source::select(&s, &Filter::default(), 3).unwrap().len(), 3);
    assert_eq!(source::len(&s, upto), upto);
}

#[test]
fn verification_time_travel_and_exports_match_the_log() {
    let g = history();
    let s = stored(&g);
    let (seq, hash) = tail(&s.log);
    source::verify(&s, (seq, &hash)).unwrap();
    for when in ["2024-05-01", "2024-06-15", "2024-07-01", "2030-01-01"] {
        let want = s.log.state_at(at(when)).unwrap();
        let AsOf::State(got) = source::state_at(&s, at(when), seq).unwrap() else {
            unreachable!("nothing was pruned");
        };
        assert_eq!(
            accessgraph::state::snapshot::write(&got).unwrap(),
            accessgraph::state::snapshot::write(&want).unwrap(),
            "{when}"
        );
    }
    assert_eq!(
        source::to_jsonl(&s, "g1", seq).unwrap(),
        s.log.to_jsonl("g1", None)
    );
    let keyed = Stored {
        log: s.log.clone(),
        key: Some(b"k".to_vec()),
    };
    assert_eq!(
        source::to_jsonl(&keyed, "g1", seq).unwrap(),
        s.log.to_jsonl("g1", Some(b"k"))
    );
    assert_eq!(source::to_csv(&s, seq).unwrap(), s.log.to_csv().unwrap());
    let whole = source::whole(&s, (seq, &hash)).unwrap();
    assert_eq!(
        whole.iter().collect::<Vec<_>>(),
        s.log.iter().collect::<Vec<_>>()
    );
}

#[derive(Debug)]
struct Enough;
impl std::fmt::Display for Enough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("enough")
    }
}
impl std::error::Error for Enough {}

#[test]
fn streamed_verification_and_exports_report_progress_and_stop_when_told() {
    use accessgraph::progress::Stop;
    let g = history();
    let s = stored(&g);
    let (seq, hash) = tail(&s.log);
    let total = source::len(&s, seq);
    let mut calls = Vec::new();
    let mut hook = |d: u64, t: u64| {
        calls.push((d, t));
        Ok(())
    };
    source::verify_reporting(&s, (seq, &hash), Some(&mut hook)).unwrap();
    let jsonl = source::to_jsonl_reporting(&s, "g1", seq, Some(&mut hook)).unwrap();
    let csv = source::to_csv_reporting(&s, seq, Some(&mut hook)).unwrap();
    assert_eq!(jsonl, s.log.to_jsonl("g1", None));
    assert_eq!(csv, s.log.to_csv().unwrap());
    // Each call: (0, total), every event in between (a small total), (total, total) once.
    let one: Vec<(u64, u64)> = (0..=total).map(|d| (d, total)).collect();
    assert_eq!(calls, [one.clone(), one.clone(), one].concat());
    // A hook that stops: its error comes back, and the export gives nothing.
    let mut stop = |d: u64, _: u64| {
        if d == 2 {
            return Err(Stop::new(Enough));
        }
        Ok(())
    };
    for err in [
        source::verify_reporting(&s, (seq, &hash), Some(&mut stop)).err(),
        source::to_jsonl_reporting(&s, "g1", seq, Some(&mut stop)).err(),
        source::to_csv_reporting(&s, seq, Some(&mut stop)).err(),
    ] {
        assert!(
            matches!(&err, Some(accessgraph::Error::Stopped(s)) if s.reason().to_string() == "enough"),
            "{err:?}"
        );
    }
}

#[test]
fn after_retention_the_base_carries_the_state() {
    let g = history();
    let mut log = g.with_audit_log(Log::clone).unwrap();
    assert!(log.prune(at("2024-06-01")).unwrap() > 0);
    let s = Stored { log, key: None };
    let (seq, hash) = tail(&s.log);
    source::verify(&s, (seq, &hash)).unwrap();
    assert!(matches!(
        source::state_at(&s, at("2024-05-15"), seq).unwrap(),
        AsOf::Pruned(first) if first == at("2024-06-01T12:00:00.25Z")
    ));
    let AsOf::State(got) = source::state_at(&s, at("2024-06-15"), seq).unwrap() else {
        unreachable!("kept by retention");
    };
    let want = s.log.state_at(at("2024-06-15")).unwrap();
    assert_eq!(
        accessgraph::state::snapshot::write(&got).unwrap(),
        accessgraph::state::snapshot::write(&want).unwrap()
    );
    assert_eq!(source::len(&s, seq), s.log.len() as u64);
}

#[test]
fn a_tampered_history_is_refused_naming_the_event() {
    let g = history();
    let base = stored(&g);
    let (seq, hash) = tail(&base.log);
    // A role changed: the event's hash no longer fits.
    let mut edited: Vec<Event> = base.log.iter().collect();
    let i = edited
        .iter()
        .position(|e| e.action == "grant.added")
        .unwrap();
    edited[i]
        .details
        .insert("role".into(), Value::from("admin"));
    let bad_seq = edited[i].seq;
    let mut log = Log::new(base.log.anchor.clone());
    log.extend(edited);
    let err = source::verify(&Stored { log, key: None }, (seq, &hash)).unwrap_err();
    assert!(
        matches!(&err, AuditError::Integrity { seq, .. } if *seq == bad_seq),
        "{err}"
    );
    // An event missing in the middle: the chain breaks there.
    let mut gap: Vec<Event> = base.log.iter().collect();
    gap.remove(3);
    let mut log = Log::new(base.log.anchor.clone());
    log.extend(gap);
    let err = source::verify(&Stored { log, key: None }, (seq, &hash)).unwrap_err();
    assert!(matches!(err, AuditError::Integrity { seq: 4, .. }), "{err}");
    // The last events gone: the stored chain no longer reaches the graph's.
    let mut cut: Vec<Event> = base.log.iter().collect();
    cut.pop();
    let mut log = Log::new(base.log.anchor.clone());
    log.extend(cut);
    let err = source::verify(&Stored { log, key: None }, (seq, &hash)).unwrap_err();
    assert!(err.to_string().contains("events were removed"), "{err}");
    // A seal the erasure does not list (a value replaced behind a kept commitment).
    let mut forged: Vec<Event> = base.log.iter().collect();
    let j = forged
        .iter()
        .position(|e| e.user() == Some("u3@example.com"))
        .unwrap();
    let erased = forged
        .iter()
        .find(|e| e.action == "user.erased")
        .and_then(|e| e.details.get("pseudonym"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    assert!(forged[j].seal("/details/user", &erased));
    let forged_seq = forged[j].seq;
    let mut log = Log::new(base.log.anchor.clone());
    log.extend(forged);
    let err = source::verify(&Stored { log, key: None }, (seq, &hash)).unwrap_err();
    assert!(matches!(&err, AuditError::Integrity { .. }), "{err}");
    assert!(
        err.to_string().contains("not the ones this erasure lists"),
        "{err} ({forged_seq})"
    );
}
