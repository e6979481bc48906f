//! Tests of the event store (`store.rs`): events come back as they went in, and verify,
//! with and without a progress hook.

use super::*;
use crate::progress::{Meter, Stop};

fn event(seq: u64, prev: &str, user: &str) -> Event {
    let mut d = Map::new();
    d.insert("user".into(), Value::from(user));
    d.insert("role".into(), Value::from("viewer"));
    d.insert("n".into(), Value::from(-5));
    d.insert("big".into(), Value::from(u64::MAX));
    d.insert("f".into(), Value::from(1.5));
    d.insert(
        "list".into(),
        serde_json::json!([1, "a", null, {"k": true}]),
    );
    Event::new(
        seq,
        Instant(seq.cast_signed() * 1_000_000),
        "o@x.io".into(),
        "grant.added".into(),
        "acme/p".into(),
        d,
        prev.to_owned(),
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
}

#[test]
fn events_come_back_as_they_went_in_and_verify() {
    let anchor = crate::audit::event::genesis("g");
    let mut store = EventStore::default();
    let mut prev = anchor.clone();
    let mut events = Vec::new();
    for seq in 1..=50 {
        let mut e = event(seq, &prev, &format!("u{}@x.io", seq % 7));
        if seq == 7 {
            assert!(e.seal("/details/user", "erased:0123456789abcdef"));
        }
        prev.clone_from(&e.hash);
        events.push(e.clone());
        store.push(&e);
    }
    let back: Vec<Event> = store.iter(0, &anchor).collect();
    assert_eq!(back, events);
    assert_eq!(store.user(2), Some("u3@x.io"));
    assert_eq!(store.verify(0, &anchor), Ok(()));
    assert_eq!(store.verify(0, &"0".repeat(64)).map_err(|(s, _)| s), Err(1));
    // In stretches: each one chains from the row before it; the first fault is named.
    for parts in [2, 3, 7] {
        assert_eq!(store.verify_in(parts, 0, &anchor), Ok(()));
    }
    let mut bad = store.clone();
    if let Some(r) = bad.rows.get_mut(30) {
        r.hash[0] ^= 1;
    }
    if let Some(r) = bad.rows.get_mut(44) {
        r.hash[0] ^= 1;
    }
    for parts in [1, 2, 3, 7] {
        assert_eq!(
            bad.verify_in(parts, 0, &anchor).map_err(|(s, _)| s),
            Err(31)
        );
    }
}

fn chained(n: u64) -> (EventStore, String) {
    let anchor = crate::audit::event::genesis("g");
    let mut store = EventStore::default();
    let mut prev = anchor.clone();
    for seq in 1..=n {
        let e = event(seq, &prev, "u@x.io");
        prev.clone_from(&e.hash);
        store.push(&e);
    }
    (store, anchor)
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
fn a_hooked_verify_reports_on_the_calling_thread_and_finds_the_fault() -> Result<(), Stop> {
    let (store, anchor) = chained(3_000);
    let caller = std::thread::current().id();
    for parts in [1, 3] {
        let mut calls = Vec::new();
        let mut hook = |d: u64, t: u64| {
            assert_eq!(std::thread::current().id(), caller);
            calls.push((d, t));
            Ok(())
        };
        let mut meter = Meter::start(Some(&mut hook), 3_000)?;
        assert_eq!(
            store.verify_metered_in(parts, 0, &anchor, &mut meter)?,
            Ok(())
        );
        meter.finish()?;
        assert_eq!(calls.first(), Some(&(0, 3_000)));
        assert_eq!(calls.last(), Some(&(3_000, 3_000)));
        let dones: Vec<u64> = calls.iter().map(|c| c.0).collect();
        assert!(dones.windows(2).all(|w| w.first() < w.last()), "{dones:?}");
    }
    let mut bad = store.clone();
    if let Some(r) = bad.rows.get_mut(2_500) {
        r.hash[0] ^= 1;
    }
    let mut hook = |_: u64, _: u64| Ok(());
    let mut meter = Meter::start(Some(&mut hook), 3_000)?;
    let found = bad.verify_metered_in(3, 0, &anchor, &mut meter)?;
    assert_eq!(found.map_err(|(s, _)| s), Err(2_501));
    Ok(())
}

#[test]
fn a_hook_that_stops_halts_every_verifying_thread() -> Result<(), Stop> {
    // Long enough that the threads are still at work when the calling thread first
    // looks (every 2 ms).
    let (store, anchor) = chained(40_000);
    let mut heard = 0;
    let mut hook = |d: u64, _: u64| {
        heard += 1;
        if d > 0 {
            return Err(Stop::new(Enough));
        }
        Ok(())
    };
    let stopped = {
        let mut meter = Meter::start(Some(&mut hook), 40_000)?;
        store.verify_metered_in(3, 0, &anchor, &mut meter)
    };
    assert_eq!(
        stopped.err().map(|s| s.reason().to_string()).as_deref(),
        Some("enough")
    );
    assert_eq!(heard, 2); // the start, then the report that stopped it
                          // Without a hook: the plain verify, nothing to stop.
    let mut none = Meter::none();
    assert_eq!(store.verify_metered(0, &anchor, &mut none)?, Ok(()));
    Ok(())
}

/// Events whose strings repeat across any cut (actors, users, keys), with unicode in
/// their strings and details, one sealed by an erasure and one from after it.
fn mixed(n: u64) -> (Vec<Event>, String) {
    let anchor = crate::audit::event::genesis("g");
    let mut prev = anchor.clone();
    let mut events = Vec::new();
    for seq in 1..=n {
        let user = match seq % 4 {
            0 => "zoë@x.io".to_owned(),
            1 => format!("u{}@x.io", seq % 3),
            2 => "東京@例え.jp".to_owned(),
            _ => format!("new{seq}@x.io"),
        };
        let mut e = event(seq, &prev, &user);
        if seq % 5 == 0 {
            e = Event::new(
                seq,
                Instant(seq.cast_signed()),
                "key:k1".into(),
                "org.created".into(),
                format!("org-{}", seq % 2),
                serde_json::json!({"name": "Ünïcødé 🚀", "tags": ["a", "ü"], "n": seq})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                prev.clone(),
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
        }
        if seq == 9 || seq == 11 {
            // Sealed after the fact, as an erasure seals: salts and seals, no seed.
            assert!(e.seal("/details/user", "erased:0123456789abcdef"));
        }
        prev.clone_from(&e.hash);
        events.push(e);
    }
    (events, anchor)
}

#[test]
fn a_store_appended_from_parts_is_the_store_pushed_event_by_event() {
    let (events, anchor) = mixed(60);
    let mut whole = EventStore::default();
    for e in &events {
        whole.push(e);
    }
    let all: Vec<usize> = (0..events.len()).collect();
    for cuts in [
        vec![],
        vec![0],
        vec![1],
        vec![9, 10],
        vec![7, 30, 31, 59],
        vec![60],
    ] {
        let mut joined = EventStore::default();
        let mut from = 0;
        for to in cuts.iter().copied().chain([events.len()]) {
            let mut part = EventStore::default();
            for e in events.get(from..to).unwrap_or_default() {
                part.push(e);
            }
            joined.append_from(&part);
            from = to;
        }
        let back: Vec<Event> = joined.iter(0, &anchor).collect();
        assert_eq!(back, events, "{cuts:?}");
        assert_eq!(joined.verify(0, &anchor), Ok(()), "{cuts:?}");
        assert_eq!(
            joined.columns_of(&all, 0, &anchor),
            whole.columns_of(&all, 0, &anchor),
            "{cuts:?}"
        );
        assert!(joined.has_seals(8) && joined.has_seals(10) && !joined.has_seals(9));
        assert_eq!(joined.user(3), Some("zoë@x.io"));
        // The strings are interned in the order they first came, as pushing does: the
        // same ids, the same arena.
        assert_eq!(joined.strings.arena, whole.strings.arena, "{cuts:?}");
        assert_eq!(joined.data, whole.data, "{cuts:?}");
        assert_eq!(
            joined.strings.find("東京@例え.jp"),
            whole.strings.find("東京@例え.jp")
        );
    }
    // Appended to a store that holds strings of its own first: the ids differ, the
    // events do not.
    let mut other = EventStore::default();
    let mut head = EventStore::default();
    for e in events.iter().skip(20) {
        other.push(e);
    }
    for e in events.iter().take(20) {
        head.push(e);
    }
    let mut joined = EventStore::default();
    joined.strings.id("someone else");
    joined.strings.id("zoë@x.io");
    joined.append_from(&head);
    joined.append_from(&other);
    assert_eq!(joined.iter(0, &anchor).collect::<Vec<_>>(), events);
    assert_eq!(joined.verify(0, &anchor), Ok(()));
    assert_eq!(
        joined.columns_of(&all, 0, &anchor),
        whole.columns_of(&all, 0, &anchor)
    );
}
