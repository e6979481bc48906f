//! Reading in sections against reading whole.

#![expect(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; it slices documents it wrote"
)]
use std::fmt::Write as _;

use super::*;
use crate::state::snapshot::read::read_whole;
use crate::state::snapshot::write;

/// A document in `write`'s shape: one org of `projects` projects, `users` members
/// (the first the owner), user `i` holding `per_user(i)` project grants, every
/// seventh an `acme/*` grant too; names, reasons and emails with escapes and
/// non-ASCII text.
fn doc(users: usize, projects: usize, per_user: impl Fn(usize) -> usize) -> String {
    let mut t = String::from(
        r#"{"format":"accessgraph","version":1,"orgs":[{"slug":"acme","name":"Acmé \"Inc\"","settings":{"members_can_invite":true,"x":[[1]]}}],"projects":["#,
    );
    for p in 0..projects {
        let sep = if p == 0 { "" } else { "," };
        let _ = write!(
            t,
            r#"{sep}{{"id":"acme/p{p:04}","name":"P\t{p} ☃","api_key":"agc_{p:032x}"}}"#
        );
    }
    t.push_str(r#"],"users":["#);
    for i in 0..users {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            t,
            r#"{sep}{{"email":"U{i:05}@example.com","name":"Ünï \"{i}\"\n","title":"\u00e9"}}"#
        );
    }
    t.push_str(r#"],"memberships":["#);
    for i in 0..users {
        let sep = if i == 0 { "" } else { "," };
        let role = if i == 0 { "owner" } else { "member" };
        let _ = write!(
            t,
            r#"{sep}{{"user":"u{i:05}@example.com","org":"acme","role":"{role}","granted_at":"2024-01-01T00:00:00Z"}}"#
        );
    }
    t.push_str(r#"],"grants":["#);
    let mut first = true;
    for i in 0..users {
        let mut targets: Vec<String> = (0..per_user(i).min(projects))
            .map(|k| format!("acme/p{:04}", (i + k) % projects))
            .collect();
        if i % 7 == 3 {
            targets.push("acme/*".to_owned());
        }
        for (k, target) in targets.iter().enumerate() {
            let sep = if first { "" } else { "," };
            first = false;
            let role = ["viewer", "member", "admin"][(i + k) % 3];
            let extra = match (i + k) % 4 {
                0 => r#","expires":"2030-01-01T00:00:00.5Z","reason":"on \"call\"\n ☎""#,
                1 => r#","granted_by":"u00000@example.com","review_by":"2025-02-03""#,
                _ => "",
            };
            let _ = write!(
                t,
                r#"{sep}{{"user":"u{i:05}@example.com","target":"{target}","role":"{role}"{extra},"granted_at":"2024-01-02T03:04:05Z"}}"#
            );
        }
    }
    t.push_str(r#"],"resources":[{"id":"acme/p0000/dashboard/1","owner":"u00000@example.com"}],"actions":[{"name":"release:deploy","scope":"project","min_role":"member"}]}"#);
    let st = read_whole(&t).unwrap_or_else(|e| panic!("the test document: {e}"));
    write(&st).unwrap_or_else(|e| panic!("{e}"))
}

/// The same records under the same ids, and the same snapshot. (The whole `Debug`
/// would differ: hash maps with random seeds, a global epoch.)
fn assert_same(a: &State, b: &State) {
    let records = |s: &State| format!("{:?}", (&s.users, &s.orgs, &s.projects, &s.resources));
    assert_eq!(records(a), records(b));
    let text = |s: &State| write(s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(a), text(b));
}

/// Reading `text` in sections gives the state the whole reading gives, or nothing
/// when that reading fails; and `read` answers as the whole reading does.
fn same(text: &str) -> Option<State> {
    let whole = read_whole(text);
    let split = read(text, 0);
    match (&whole, &split) {
        (Ok(w), Some(s)) => assert_same(w, s),
        (Err(_), Some(_)) => panic!("read in sections a document the whole reading refuses"),
        _ => {}
    }
    let public = super::super::read(text);
    match (&whole, &public) {
        (Ok(w), Ok(p)) => assert_same(w, p),
        (Err(w), Err(p)) => assert_eq!(w.to_string(), p.to_string()),
        _ => panic!("`read` and the whole reading disagree"),
    }
    split
}

#[test]
fn sections_read_as_the_whole_document() {
    // Batches of 1024 and more, ending at a change of user.
    let text = doc(3000, 40, |i| i % 9);
    assert!(same(&text).is_some());
    // Users with more grants than a batch holds.
    let text = doc(5, 1500, |i| [1500, 20, 1100, 1023, 1025][i]);
    assert!(same(&text).is_some());
    // A batch of exactly 1024, then a change of user.
    let text = doc(3, 1100, |i| [1024, 1, 1024][i]);
    assert!(same(&text).is_some());
}

#[test]
fn small_and_empty_documents() {
    let one = doc(1, 3, |_| 3);
    assert!(same(&one).is_some());
    let none = doc(3, 3, |_| 0);
    assert!(none.contains("\n  \"grants\": []"));
    assert!(same(&none).is_some());
    // Too small to be worth a thread.
    assert!(read(&one, PARALLEL_MIN).is_none());
}

/// The parser's grants of `text`'s array starting at `at` are serde's, and the document
/// reads in sections as it reads whole.
fn assert_parsed_as_serde_reads(text: &str, at: usize) {
    let (tx, rx) = mpsc::sync_channel(10_000);
    let (_spare_tx, spare_rx) = mpsc::channel();
    parse_grants(&text[at..], &tx, &spare_rx);
    drop(tx);
    let got: Vec<String> = rx
        .iter()
        .flat_map(|m| match m {
            Msg::Batch(b) => b,
            Msg::End(_) => Vec::new(),
        })
        .map(|g| serde_json::to_string(&g).unwrap_or_default())
        .collect();
    let whole: Doc<'_> = serde_json::from_str(text).unwrap_or_else(|e| panic!("the document: {e}"));
    let want: Vec<String> = whole
        .grants
        .iter()
        .map(|g| serde_json::to_string(g).unwrap_or_default())
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    assert!(same(text).is_some());
}

#[test]
fn grants_read_by_hand_are_serdes() {
    let text = doc(300, 6, |i| i % 6);
    // Grants laid out otherwise (read by serde): an explicit null, spaces, an escaped
    // key, a one-line grant; and escapes in values (the generator writes some).
    let variants = text
        .replacen(
            "\"role\": \"viewer\",\n      \"granted_at\"",
            "\"role\": \"viewer\",\n      \"expires\": null,\n      \"granted_at\"",
            1,
        )
        .replacen("\"role\": \"member\"", "\"role\" :  \"member\"", 1)
        .replacen("\"granted_at\": ", "\"granted\\u005fat\": ", 1)
        .replacen(
            "{\n      \"user\": \"u00299@example.com\",\n      \"target\": ",
            "{\"user\":\"u00299@example.com\",\"target\":",
            1,
        );
    for text in [&text, &variants] {
        let at = text.find("\n  \"grants\": [").unwrap_or(0) + GRANTS_LINE.len() - 1;
        assert_parsed_as_serde_reads(text, at);
    }
    assert_ne!(variants, text);
    assert!(variants.contains("\"expires\": null") && variants.contains("\"role\" :  "));
    assert!(variants.contains("\\u005f") && variants.contains("{\"user\":\"u00299"));
}

#[test]
fn batches_end_where_the_user_changes() {
    let text = doc(700, 10, |i| 1 + i % 5);
    let at =
        memchr::memmem::find(text.as_bytes(), GRANTS_LINE).unwrap_or(0) + GRANTS_LINE.len() - 1;
    let (tx, rx) = mpsc::sync_channel(10_000);
    let (_spare_tx, spare_rx) = mpsc::channel();
    parse_grants(text.get(at..).unwrap_or_default(), &tx, &spare_rx);
    drop(tx);
    let msgs: Vec<Msg<'_>> = rx.iter().collect();
    let batches: Vec<&Vec<GrantJson<'_>>> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Batch(b) => Some(b),
            Msg::End(_) => None,
        })
        .collect();
    assert!(batches.len() > 1);
    for pair in batches.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(a.len() >= BATCH);
        assert_ne!(a.last().map(|g| &g.user), b.first().map(|g| &g.user));
    }
    let Some(Msg::End(end)) = msgs.last() else {
        panic!("no end offset")
    };
    assert!(text[at + end..].starts_with(",\n  \"resources\""));
}

#[test]
fn other_shapes_are_read_whole() {
    let text = doc(50, 5, |i| i % 4);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    // Key order changed (memberships after grants; format last): read whole.
    let moved = text
        .replacen("\n  \"format\": \"accessgraph\",", "", 1)
        .replacen("\n}", ",\n  \"format\": \"accessgraph\"\n}", 1);
    assert!(same(&moved).is_none());
    let find = |key: &str| text.find(&format!("\n  \"{key}\": [")).unwrap_or(0);
    let (m, g, r) = (find("memberships"), find("grants"), find("resources"));
    let swapped = format!("{}{}{}{}", &text[..m], &text[g..r], &text[m..g], &text[r..]);
    assert_ne!(swapped, text);
    assert!(same(&swapped).is_none());
    // A key twice, an unknown key, compact text, text after the end: read whole.
    let twice = text.replacen("\n}", ",\n  \"orgs\": []\n}", 1);
    assert!(same(&twice).is_none());
    let grants_twice = text.replacen("\n}", ",\n  \"grants\": []\n}", 1);
    assert!(same(&grants_twice).is_none());
    let unknown = text.replacen("\n}", ",\n  \"extra\": 1\n}", 1);
    assert!(same(&unknown).is_none());
    let after = format!("{text}{{}}");
    assert!(same(&after).is_none());
    // Compact with keys sorted, as a journal snapshot holds a state, reads in sections
    // (its own tests below), whatever the order of the other keys.
    let compact = serde_json::to_string(&v).unwrap_or_default();
    assert!(compact.starts_with("{\"access_requests\"") && same(&compact).is_some());
    let unsorted = compact
        .replacen(",\"format\":\"accessgraph\"", "", 1)
        .replacen('{', "{\"format\":\"accessgraph\",", 1);
    assert_ne!(unsorted, compact);
    assert!(same(&unsorted).is_some());
    let indented = format!("{{\n    \"grants\": [],{}", &text[2..]);
    assert!(same(&indented).is_none());
    // Key order as written, a line like the grants' inside a value: read whole.
    let nested = text.replacen(
        "\"name\": \"Acmé \\\"Inc\\\"\",",
        "\"name\": \"Acmé \\\"Inc\\\"\",\n  \"grants\": [],",
        1,
    );
    assert_ne!(nested, text);
    assert!(same(&nested).is_none());
    // With a byte-order mark.
    let bom = format!("\u{feff}{text}");
    assert!(super::super::read(&bom).is_ok());
}

#[test]
fn errors_are_the_whole_readings() {
    let text = doc(200, 5, |i| i % 5);
    let cases = [
        text.replacen("\"role\": \"admin\"", "\"role\": \"root\"", 1),
        text.replacen("\"version\": 1", "\"version\": 2", 1),
        text.replacen("\"format\": \"accessgraph\"", "\"format\": \"other\"", 1),
        text.replacen(
            "\"target\": \"acme/p0003\"",
            "\"target\": \"acme/p9999\"",
            1,
        ),
        text.replacen("\"target\": \"acme/p0003\"", "\"target\": \"nope/*\"", 1),
        text.replacen("2024-01-02T03:04:05Z", "2024-13-02T03:04:05Z", 1),
        text.replacen("\"min_role\": \"member\"", "\"min_role\": \"boss\"", 1),
        text.replacen(
            "\"owner\": \"u00000@example.com\"",
            "\"owner\": \"x@y.z\"",
            1,
        ),
        text.replacen(
            "\"user\": \"u00101@example.com\",\n      \"target\"",
            "\"user\": \"u00101@example.com\",\n      \"bogus\": 1,\n      \"target\"",
            1,
        ),
        // A grant repeated: a duplicate within a batch.
        {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let g = serde_json::to_string_pretty(&v["grants"][5]).unwrap_or_default();
            text.replacen("\"grants\": [", &format!("\"grants\": [\n{g},"), 1)
        },
        text.get(..text.len() / 2).unwrap_or_default().to_owned(),
        text.get(..text.len() - 3).unwrap_or_default().to_owned(),
        text.replacen("\"role\": \"owner\"", "\"role\": \"member\"", 1),
    ];
    for (n, bad) in cases.iter().enumerate() {
        assert_ne!(bad, &text, "case {n} changed nothing");
        assert!(read_whole(bad).is_err(), "case {n} reads");
        assert!(same(bad).is_none(), "case {n}");
    }
}

/// `text` as a journal snapshot holds a state: compact, keys sorted.
fn sorted(text: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("the document: {e}"));
    v.to_string()
}

#[test]
fn compact_sorted_text_reads_in_sections() {
    for text in [
        doc(3000, 40, |i| i % 9),
        doc(5, 1500, |i| [1500, 20, 1100, 1023, 1025][i]),
        doc(3, 1100, |i| [1024, 1, 1024][i]),
        doc(1, 3, |_| 3),
        doc(3, 3, |_| 0),
    ] {
        let compact = sorted(&text);
        assert!(compact.contains(",\"grants\":[") && compact.contains("],\"memberships\":"));
        assert!(same(&compact).is_some());
    }
}

#[test]
fn compact_grants_read_by_hand_are_serdes() {
    let text = sorted(&doc(300, 6, |i| i % 6));
    // Grants laid out otherwise (read by serde): an explicit null, a space, an escaped
    // key, keys out of order; and escapes in values (the generator writes some).
    // The first viewer grant's role and target swapped.
    let role = text.find("\"role\":\"viewer\",\"target\":\"").unwrap_or(0);
    let target = role + "\"role\":\"viewer\",".len();
    let end = target + "\"target\":\"".len() + text[target + 10..].find('"').unwrap_or(0) + 1;
    let swapped = format!(
        "{}{},\"role\":\"viewer\"{}",
        &text[..role],
        &text[target..end],
        &text[end..]
    );
    let variants = swapped
        .replacen("\"granted_at\":", "\"expires\":null,\"granted_at\":", 1)
        .replacen("\"role\":\"member\"", "\"role\": \"member\"", 1)
        .replacen("\"granted_by\":", "\"granted\\u005fby\":", 1);
    for text in [&text, &variants] {
        let at = text.find(",\"grants\":[").unwrap_or(0) + COMPACT_GRANTS.len() - 1;
        assert_parsed_as_serde_reads(text, at);
    }
    assert!(variants.contains("\"expires\":null") && variants.contains("\"role\": \"member\""));
    assert!(variants.contains("\\u005f") && role > 0 && swapped != text);
    // Every hand-read key order and optional field.
    let mut c = Cursor {
        s: r#"{"expires":"2030-01-01T00:00:00Z","granted_at":"2024-01-01T00:00:00Z","granted_by":"a@b.co","reason":"why","review_by":"2025-01-02","role":"admin","target":"acme/p","user":"u@b.co"}"#,
        p: 0,
    };
    let g = c.sorted().unwrap_or_else(|| panic!("not read by hand"));
    assert_eq!(c.p, c.s.len());
    assert_eq!(
        serde_json::to_value(&g).unwrap_or_default(),
        serde_json::from_str::<serde_json::Value>(c.s).unwrap_or_default()
    );
    for not_by_hand in [
        r#"{"granted_at":"2024-01-01T00:00:00Z","role":"admin","target":"acme/p"}"#,
        r#"{"granted_at":"2024-01-01T00:00:00Z","role":"admin","role":"admin","target":"acme/p","user":"u@b.co"}"#,
        r#"{"granted_at":"2024-01-01T00:00:00Z","role":"admin","target":"acme/p","user":"u@b.co","x":"1"}"#,
        r#"{"granted_at":"2024-13-01T00:00:00Z","role":"admin","target":"acme/p","user":"u@b.co"}"#,
        r#"{"granted_at":"2024-01-01T00:00:00Z","role":"root","target":"acme/p","user":"u@b.co"}"#,
        r#"{"granted_at":"2024-01-01T00:00:00Z","role":"admin","target":"acme/p","user":"u\n@b.co"}"#,
    ] {
        let mut c = Cursor {
            s: not_by_hand,
            p: 0,
        };
        assert!(c.sorted().is_none(), "{not_by_hand}");
    }
}

#[test]
fn compact_text_otherwise_is_read_whole() {
    let text = sorted(&doc(50, 5, |i| i % 4));
    // The end's text inside a grant's reason: its quotes escaped there, so it is not the
    // end searched for, and the document reads in sections.
    let reason = text.replacen(
        "\"reason\":\"on \\\"call\\\"\\n ☎\"",
        "\"reason\":\"],\\\"memberships\\\":\"",
        1,
    );
    assert_ne!(reason, text);
    assert!(same(&reason).is_some());
    let fake = text.replacen(
        "\"reason\":\"on \\\"call\\\"\\n ☎\"",
        "\"reason\":\"x\"}],\"memberships\":[],\"x\":[{\"a\":\"b\"",
        1,
    );
    assert_ne!(fake, text);
    assert!(same(&fake).is_none());
    // No memberships key after the grants, a key twice, an unknown key, text after the
    // end, `grants` named inside a value first: read whole.
    let no_memberships = text.replacen("\"memberships\":", "\"memberships2\":", 1);
    assert!(same(&no_memberships).is_none());
    let twice = text.replacen(",\"version\":1}", ",\"version\":1,\"orgs\":[]}", 1);
    assert_ne!(twice, text);
    assert!(same(&twice).is_none());
    let grants_twice = text.replacen(",\"version\":1}", ",\"version\":1,\"grants\":[]}", 1);
    assert_ne!(grants_twice, text);
    assert!(same(&grants_twice).is_none());
    let unknown = text.replacen(",\"version\":1}", ",\"version\":1,\"extra\":1}", 1);
    assert!(same(&unknown).is_none());
    assert!(same(&format!("{text}{{}}")).is_none());
    let nested = text.replacen(
        "\"actions\":[",
        "\"actions\":[],\"x\":{\"a\":1,\"grants\":[]},\"y\":[",
        1,
    );
    assert_ne!(nested, text);
    assert!(same(&nested).is_none());
    // Errors are the whole reading's.
    for (n, bad) in [
        text.replacen("\"role\":\"admin\"", "\"role\":\"root\"", 1),
        text.replacen("\"version\":1", "\"version\":2", 1),
        text.replacen("\"target\":\"acme/p0003\"", "\"target\":\"acme/p9999\"", 1),
        text.replacen("\"role\":\"owner\"", "\"role\":\"member\"", 1),
        text.replacen("\"min_role\":\"member\"", "\"min_role\":\"boss\"", 1),
        text.get(..text.len() / 2).unwrap_or_default().to_owned(),
    ]
    .iter()
    .enumerate()
    {
        assert_ne!(bad, &text, "case {n} changed nothing");
        assert!(read_whole(bad).is_err(), "case {n} reads");
        assert!(same(bad).is_none(), "case {n}");
    }
}

#[test]
fn only_compact_text_is_searched_for_compact_grants() {
    assert!(is_compact(r#"{"api_keys":[],"grants":[]}"#));
    assert!(is_compact(r#"{"x":1"#));
    // `json.dumps` with its default separators, pretty text, and what is not an object.
    assert!(!is_compact(r#"{"api_keys": [], "grants": []}"#));
    assert!(!is_compact("{\n  \"format\": \"accessgraph\""));
    assert!(!is_compact(r#"["grants"]"#));
    assert!(!is_compact(r#"{""#));
    assert!(!is_compact(""));
    // A first key too long to be a field name: no search.
    assert!(!is_compact(&format!(r#"{{"{}":1}}"#, "k".repeat(80))));
}
