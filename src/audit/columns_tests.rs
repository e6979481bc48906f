//! Tests of the audit log's table ([`super`]): its columns against the events, the
//! shared hashes, nulls and short copies.

use super::*;

use crate::audit::log::Log;

/// 23 chained events, some with odd details.
fn sample_log() -> Log {
    use crate::audit::event::genesis;
    let mut log = Log::new(genesis("g"));
    let mut prev = log.anchor.clone();
    for seq in 1..=23_u64 {
        let details = serde_json::json!({
            "user": format!("u{}@x.io", seq % 4), "n": seq, "t": "a\"b", "role": "user",
            "why": format!("a reason longer than 32 bytes, \"quoted\", {}", seq % 3),
        });
        // Some events' user is not a string (null in `user`); odd values and escapes.
        let details = if seq % 7 == 0 {
            serde_json::json!({
                "user": seq, "z": -3, "f": 1.5e-7, "nil": null, "ok": true,
                "nest": {"k\n": ["ü✓", {"a": false}, u64::MAX], "t": "a\"b", "v": "k\n"}
            })
        } else {
            details
        };
        let serde_json::Value::Object(d) = details else {
            unreachable!()
        };
        let action = if seq % 5 == 0 {
            "org.created"
        } else {
            "grant.added"
        };
        // Actors shorter and longer than one short copy, some with characters of two,
        // three and four bytes across the copy's 32nd byte.
        let actor = match seq % 6 {
            0 | 3 => "someone.with.a.rather.long.name@example-company.io",
            1 => "Zoë Ångström, 🚀 crew ✓ — release managers",
            _ => "o@x.io",
        };
        let e = Event::new(
            seq,
            crate::time::Instant(0),
            actor.into(),
            action.into(),
            "acme/p".into(),
            d,
            prev.clone(),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        prev.clone_from(&e.hash);
        log.extend([e]);
    }
    log
}

#[test]
fn spans_are_copied_whole_and_alone_at_every_length_and_place() {
    let src: Vec<u8> = (0..100_u8).collect();
    for at in 0..=100 {
        for len in 0..=100 - at {
            for room in [0, len, len + SHORT] {
                let mut out = Vec::with_capacity(4 + room);
                out.extend_from_slice(b"head");
                let cap = out.capacity();
                push_span(&mut out, &src, at, len);
                assert_eq!(out.get(..4), Some(&b"head"[..]));
                assert_eq!(out.get(4..), src.get(at..at + len), "{at}+{len}");
                // Never grown for the move's sake.
                assert!(room < len || out.capacity() == cap, "{at}+{len} in {room}");
            }
        }
    }
}

#[test]
fn parts_are_the_rows_in_order_and_match_the_events() {
    let log = sample_log();
    let all: Vec<usize> = (0..23).collect();
    let mut cases: Vec<(Vec<usize>, usize)> =
        [1, 2, 3, 5].into_iter().map(|p| (all.clone(), p)).collect();
    // Selections that skip events: `prev_hash` is then not the row before's `hash`.
    for rows in [
        vec![0, 2, 3, 4, 9, 22],
        vec![3, 4, 5, 6],
        vec![5],
        vec![1, 0],
    ] {
        cases.push((rows.clone(), 1));
        cases.push((rows, 2));
    }
    for (rows, parts) in cases {
        let mut expected = Columns::default();
        let events: Vec<Event> = log.iter().collect();
        for e in rows.iter().filter_map(|&i| events.get(i)) {
            expected.push_event(e);
        }
        let got = log.columns_in(&rows, parts);
        assert_eq!(got.len(), parts.min(rows.len()));
        let mut joined = Columns::default();
        for c in &got {
            for i in 0..c.len() {
                let text = |t: &Text| t.get(i).map(str::to_owned);
                joined.seq.extend(c.seq.get(i));
                joined.at.extend(c.at.get(i));
                for (to, from) in [
                    (&mut joined.actor, &c.actor),
                    (&mut joined.action, &c.action),
                    (&mut joined.target, &c.target),
                    (&mut joined.user, &c.user),
                    (&mut joined.details, &c.details),
                ] {
                    match text(from) {
                        Some(s) => to.push(&s),
                        None => to.push_null(),
                    }
                }
                let (prev, hash) = (c.hashes.prev_hash(i), c.hashes.hash(i));
                let (Some(prev), Some(hash)) = (prev, hash) else {
                    unreachable!("row {i} has no hashes")
                };
                joined.hashes.push(prev, hash);
            }
        }
        assert_eq!(joined, expected, "{rows:?} in {parts} parts");
        // Written on two threads or one, the same columns.
        for two in [false, true] {
            let one = log.events.columns_on(&rows, log.base_seq, &log.anchor, two);
            assert_eq!(one, expected, "{rows:?}, two threads: {two}");
        }
        // Each part's own rows: the hashes as the events have them.
        let mut at = 0;
        for c in &got {
            for i in 0..c.len() {
                let Some(e) = rows.get(at).and_then(|&r| events.get(r)) else {
                    unreachable!("more rows than selected")
                };
                assert_eq!(c.hashes.hash(i), Some(e.hash.as_str()));
                assert_eq!(c.hashes.prev_hash(i), Some(e.prev_hash.as_str()));
                at += 1;
            }
            assert_eq!(c.hashes.prev_hash(c.len()), None);
            assert_eq!(c.hashes.len(), c.len());
        }
    }
}

#[test]
fn hashes_share_one_text_while_rows_follow_and_split_at_the_first_that_does_not() {
    let h = |c: char| c.to_string().repeat(4);
    let mut hashes = Hashes::default();
    assert_eq!(
        (hashes.len(), hashes.hash(0), hashes.prev_hash(0)),
        (0, None, None)
    );
    let put = |hashes: &mut Hashes, prev: char, hash: char| {
        hashes.push(&h(prev), &h(hash));
    };
    put(&mut hashes, 'a', 'b');
    put(&mut hashes, 'b', 'c');
    put(&mut hashes, 'c', 'd');
    let HashTexts::Shared(text) = hashes.clone().into_texts() else {
        unreachable!("a chain is shared")
    };
    assert_eq!(text.bytes, b"aaaabbbbccccdddd");
    assert_eq!(text.offsets, [0, 4, 8, 12, 16]);
    // A row whose prev_hash is not the last hash splits the texts.
    put(&mut hashes, 'x', 'y');
    put(&mut hashes, 'y', 'z');
    let want = [
        ("aaaa", "bbbb"),
        ("bbbb", "cccc"),
        ("cccc", "dddd"),
        ("xxxx", "yyyy"),
    ];
    for (i, (prev, hash)) in want.iter().chain([&("yyyy", "zzzz")]).enumerate() {
        assert_eq!(hashes.prev_hash(i), Some(*prev), "row {i}");
        assert_eq!(hashes.hash(i), Some(*hash), "row {i}");
    }
    assert_eq!(hashes.len(), 5);
    let HashTexts::Split { prev_hash, hash } = hashes.into_texts() else {
        unreachable!("a gap splits")
    };
    assert_eq!(prev_hash.bytes, b"aaaabbbbccccxxxxyyyy");
    assert_eq!(hash.bytes, b"bbbbccccddddyyyyzzzz");
    assert_eq!(hash.offsets, [0, 4, 8, 12, 16, 20]);
}

#[test]
fn nulls_are_marked_only_once_one_appears() {
    let mut t = Text::default();
    t.push("a");
    assert!(t.valid.is_none());
    t.push_null();
    t.push("bc");
    assert_eq!(t.valid.as_deref(), Some(&[true, false, true][..]));
    assert_eq!(t.offsets, [0, 1, 1, 3]);
    assert_eq!(
        (t.get(0), t.get(1), t.get(2)),
        (Some("a"), None, Some("bc"))
    );
}

/// Every text of `c`, the hashes' as the binding takes them.
fn texts(c: &Columns) -> Vec<Text> {
    let mut all = vec![
        c.actor.clone(),
        c.action.clone(),
        c.target.clone(),
        c.user.clone(),
        c.details.clone(),
    ];
    match c.hashes.clone().into_texts() {
        HashTexts::Shared(t) => all.push(t),
        HashTexts::Split { prev_hash, hash } => all.extend([prev_hash, hash]),
    }
    all
}

#[test]
fn every_column_is_well_formed_as_arrow_takes_it_unchecked() {
    let log = sample_log();
    let all: Vec<usize> = (0..23).collect();
    for rows in [all, vec![0, 2, 3, 4, 9, 22], vec![1, 0], vec![6], vec![]] {
        for two in [false, true] {
            let c = log.events.columns_on(&rows, log.base_seq, &log.anchor, two);
            for (k, t) in texts(&c).into_iter().enumerate() {
                assert!(t.is_well_formed(), "{rows:?} text {k}: {t:?}");
                let rows_of = t.len();
                let parts = t.into_parts();
                assert_eq!(parts.offsets.len(), rows_of + 1);
            }
        }
    }
}

#[test]
fn a_malformed_text_is_caught() {
    let mut good = Text::default();
    good.push("ü✓");
    good.push_null();
    good.push("a");
    assert!(good.is_well_formed());
    let bad = |change: &dyn Fn(&mut Text)| {
        let mut t = good.clone();
        change(&mut t);
        t.is_well_formed()
    };
    let offset = |i: usize, to: i64| {
        move |t: &mut Text| {
            if let Some(o) = t.offsets.get_mut(i) {
                *o = to;
            }
        }
    };
    // Not UTF-8; an offset inside a character; past the end; short of the end; falling;
    // not starting at 0; a flag too few.
    assert!(!bad(&|t| {
        if let Some(b) = t.bytes.first_mut() {
            *b = 0xff;
        }
    }));
    assert!(!bad(&offset(1, 1)));
    assert!(!bad(&offset(3, 99)));
    assert!(!bad(&|t| t.bytes.push(b'x')));
    assert!(!bad(&offset(2, 0)));
    assert!(!bad(&offset(0, 2)));
    assert!(!bad(&|t| {
        t.valid.as_mut().map(Vec::pop);
    }));
}
