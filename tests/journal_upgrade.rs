//! `accessgraph audit upgrade`: format-1 journals (tests/fixtures/journal-v1, written by
//! accessgraph at commit 47362a2) written again as format 2, and every way it refuses.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

mod common;

use std::path::{Path, PathBuf};

use accessgraph::audit::upgrade::upgrade;
use accessgraph::error::AuditError;
use accessgraph::graph::OpenOptions;
use accessgraph::Graph;
use sha2::Digest;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v1")
}

/// A private copy of the fixture `name` (and its checkpoint) in a new folder.
fn copy(name: &str) -> (common::TempDir, PathBuf) {
    let dir = common::temp_dir("upgrade");
    let old = dir.join(name);
    std::fs::copy(fixtures().join(name), &old).unwrap();
    let cp = fixtures().join(format!("{name}.checkpoint"));
    if cp.exists() {
        std::fs::copy(cp, dir.join(format!("{name}.checkpoint"))).unwrap();
    }
    (dir, old)
}

fn key() -> Vec<u8> {
    std::fs::read(fixtures().join("keyed.key")).unwrap()
}

fn state_of(path: &Path, key: Option<Vec<u8>>) -> serde_json::Value {
    let opts = OpenOptions {
        hmac_key: key,
        alone: true,
        ..OpenOptions::default()
    };
    let (g, recovered) = Graph::open(path, &opts).unwrap();
    assert!(recovered.is_none());
    g.audit_verify().unwrap();
    serde_json::from_str(&accessgraph::registry::json::to_json(&g).unwrap()).unwrap()
}

/// The state the fixture held, as this version writes it: access review campaigns came
/// after 47362a2, and a snapshot now always lists them (none, here).
fn expected(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.state.json"))).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fields = state.as_object_mut().unwrap();
    assert!(!fields.contains_key("campaigns"));
    fields.insert("campaigns".into(), serde_json::json!([]));
    state
}

fn refused(r: Result<impl std::fmt::Debug, AuditError>) -> (u64, String) {
    match r {
        Err(AuditError::Journal { line, reason, .. }) => (line, reason),
        other => panic!("expected a JournalError, got {other:?}"),
    }
}

#[test]
fn each_fixture_upgrades_to_a_journal_holding_the_same_state() {
    for (name, k) in [("plain", None), ("keyed", Some(key())), ("erased", None)] {
        let (dir, old) = copy(&format!("{name}.journal"));
        let before = std::fs::read(&old).unwrap();
        let new = dir.join("new.journal");
        let done = upgrade(&old, &new, k.as_deref()).unwrap();
        assert!(done.events > 10, "{name}: {done:?}");
        assert_eq!(done.torn, None);
        assert_eq!(
            std::fs::read(&old).unwrap(),
            before,
            "{name}: OLD was changed"
        );
        assert_eq!(state_of(&new, k.clone()), expected(name), "{name}");
        // The header names the old journal's last hash.
        let text = std::fs::read_to_string(&new).unwrap();
        let last_old = String::from_utf8(before).unwrap();
        let last_line = last_old.trim_end().rsplit('\n').next().unwrap();
        let old_hash: serde_json::Value = serde_json::from_str(last_line).unwrap();
        assert_eq!(done.upgraded_from, old_hash["hash"].as_str().unwrap());
        let head = text.lines().next().unwrap();
        assert!(head.contains(&format!("\"upgraded_from\":\"{}\"", done.upgraded_from)));
        // One batch per event, and nothing but the journal (and its checkpoint) was left.
        assert_eq!(text.lines().count() as u64, done.events + 1);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("new."))
            .collect();
        left.sort();
        let want: &[&str] = if k.is_some() {
            &["new.journal", "new.journal.checkpoint"]
        } else {
            &["new.journal"]
        };
        assert_eq!(left, want, "{name}");
    }
}

#[test]
fn a_keyed_upgrade_is_signed_so_a_batch_appended_without_the_key_is_refused() {
    let (dir, old) = copy("keyed.journal");
    let new = dir.join("new.journal");
    upgrade(&old, &new, Some(&key())).unwrap();
    // The upgraded journal's checkpoint and MACs hold: opening it without its checkpoint
    // then with it after an unkeyed append must fail.
    let (g, _) = Graph::open(&new, &OpenOptions::default()).unwrap();
    drop(g);
    let text = std::fs::read_to_string(&new).unwrap();
    let head = text.lines().next().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Drop the last batch: a clean cut the checkpoint catches.
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    std::fs::write(&new, cut).unwrap();
    let opts = OpenOptions {
        hmac_key: Some(key()),
        ..OpenOptions::default()
    };
    let err = Graph::open(&new, &opts).err().unwrap().to_string();
    assert!(err.contains("cut off"), "{err}");
    assert!(head.starts_with("{\"accessgraph_journal\":2"));
}

#[test]
fn a_torn_tail_is_left_out_and_reported() {
    let (dir, old) = copy("torn.journal");
    let before = std::fs::read(&old).unwrap();
    let new = dir.join("new.journal");
    let done = upgrade(&old, &new, None).unwrap();
    let (line, bytes) = done.torn.unwrap();
    assert_eq!(bytes, 40);
    assert_eq!(line, done.events + 2);
    assert_eq!(std::fs::read(&old).unwrap(), before);
    assert_eq!(state_of(&new, None), expected("plain"));
}

#[test]
fn a_tampered_line_is_refused_naming_it_and_nothing_is_written() {
    let (dir, old) = copy("plain.journal");
    let text = std::fs::read_to_string(&old).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Line 8: the role of a grant, with its checksum recomputed (a forger's edit).
    let n = lines
        .iter()
        .position(|l| l.contains("\"reason\":\"on-call\""))
        .unwrap();
    let edited = lines[n].replace("\"role\":\"member\"", "\"role\":\"admin\"");
    let json = accessgraph::audit::journal::strip_crc(&lines[n]).unwrap();
    let json = json.replace("\"role\":\"member\"", "\"role\":\"admin\"");
    lines[n] = accessgraph::audit::journal::with_crc(json)
        .trim_end()
        .to_owned();
    std::fs::write(&old, lines.join("\n") + "\n").unwrap();
    let new = dir.join("new.journal");
    let (line, reason) = refused(upgrade(&old, &new, None));
    assert_eq!(line, n as u64 + 1);
    assert!(reason.contains("hash does not match"), "{reason}");
    assert!(!new.exists());
    // Without recomputing the checksum: damage, on the same line.
    lines[n] = edited;
    std::fs::write(&old, lines.join("\n") + "\n").unwrap();
    let (line, reason) = refused(upgrade(&old, &new, None));
    assert_eq!(line, n as u64 + 1);
    assert!(reason.contains("checksum"), "{reason}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "only OLD is there"
    );
}

#[test]
fn a_wrong_key_or_a_missing_checkpoint_is_refused() {
    let (dir, old) = copy("keyed.journal");
    let new = dir.join("new.journal");
    let (line, reason) = refused(upgrade(&old, &new, Some(b"not the key")));
    assert_eq!(line, 1);
    assert!(reason.contains("does not verify with this key"), "{reason}");
    std::fs::remove_file(dir.join("keyed.journal.checkpoint")).unwrap();
    let (_, reason) = refused(upgrade(&old, &new, Some(&key())));
    assert!(reason.contains("is missing"), "{reason}");
    assert!(!new.exists());
    assert!(!dir.join("new.journal.checkpoint").exists());
}

#[test]
fn new_existing_a_format_2_journal_and_an_unreadable_path_are_refused() {
    let (dir, old) = copy("plain.journal");
    let new = dir.join("new.journal");
    std::fs::write(&new, "mine").unwrap();
    match upgrade(&old, &new, None) {
        Err(AuditError::Io(m)) => assert!(m.contains("already exists"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&new).unwrap(), b"mine");
    // A format-2 journal.
    std::fs::remove_file(&new).unwrap();
    upgrade(&old, &new, None).unwrap();
    let again = dir.join("again.journal");
    let (line, reason) = refused(upgrade(&new, &again, None));
    assert_eq!(line, 1);
    assert!(reason.contains("already format 2"), "{reason}");
    assert!(!again.exists());
    // A path that is not there, and a directory.
    match upgrade(&dir.join("absent.journal"), &again, None) {
        Err(AuditError::Io(m)) => assert!(m.contains("absent.journal"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        upgrade(&dir, &again, None),
        Err(AuditError::Io(_))
    ));
    assert!(!again.exists());
}

#[test]
fn a_forged_seal_in_the_old_journal_is_refused() {
    // Format 1's weakness: a field moved into `sealed` with new cleartext beside it keeps
    // the hash. The upgrade requires each erased field to hold a pseudonym that a later
    // `user.erased` names, so the forgery is not carried into format 2.
    let (dir, old) = copy("plain.journal");
    let text = std::fs::read_to_string(&old).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines
        .iter()
        .position(|l| l.contains("\"reason\":\"on-call\""))
        .unwrap();
    let json = accessgraph::audit::journal::strip_crc(&lines[n]).unwrap();
    let mut ev: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Seal `/details/reason` (salt → commitment) and write new cleartext.
    let salt = hex::decode(ev["salts"]["/details/reason"].as_str().unwrap()).unwrap();
    let value = ev["details"]["reason"].as_str().unwrap().to_owned();
    let c = hex::encode(
        sha2::Sha256::new()
            .chain_update(b"accessgraph/commit/v1\0")
            .chain_update(&salt)
            .chain_update(b"/details/reason\0")
            .chain_update(value.as_bytes())
            .finalize(),
    );
    ev["salts"]
        .as_object_mut()
        .unwrap()
        .remove("/details/reason");
    ev["sealed"] = serde_json::json!({ "/details/reason": c });
    ev["details"]["reason"] = "approved by the CISO".into();
    lines[n] = accessgraph::audit::journal::with_crc(ev.to_string())
        .trim_end()
        .to_owned();
    std::fs::write(&old, lines.join("\n") + "\n").unwrap();
    let new = dir.join("new.journal");
    let (line, reason) = refused(upgrade(&old, &new, None));
    assert_eq!(line, n as u64 + 1);
    assert!(reason.contains("`/details/reason`"), "{reason}");
    assert!(!new.exists());
}
