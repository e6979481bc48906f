//! Freshness across graphs on one journal (issue 15, docs/django.md "What a request
//! sees"): a query sees every change another graph (here in the same process, each with
//! its own mapping of the revision beacon) acknowledged, without `refresh()`; and what
//! happens when the beacon is deleted, replaced or not a beacon.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first surprise, loudly"
)]

use std::path::{Path, PathBuf};

use accessgraph::audit::beacon::TICK;
use accessgraph::error::Error;
use accessgraph::graph::{NewProject, OpenOptions};
use accessgraph::Graph;
use serde_json::Map;

mod common;
use common::{nm, temp_dir, TempDir};

const OWNER: &str = "owner@acme.io";
const DEV: &str = "dev@acme.io";

fn open(path: &Path) -> Graph {
    Graph::open(path, &OpenOptions::default()).unwrap().0
}

fn beacon(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".rev");
    PathBuf::from(p)
}

/// A journal with an org, a project and `DEV` a member with viewer on it.
fn setup(tag: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir(tag);
    let path = dir.join("access.journal");
    let g = open(&path);
    g.add_org("acme", None, OWNER, None).unwrap();
    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    g.add_member(DEV, "acme", nm("member"), Some(OWNER))
        .unwrap();
    g.grant(DEV, "acme/web", "viewer", None, None, Some(OWNER))
        .unwrap();
    (dir, path)
}

fn can_view(g: &Graph) -> bool {
    g.check(DEV, "project:view", "acme/web", None).unwrap()
}

#[test]
fn a_revocation_in_one_graph_is_seen_by_the_next_query_of_another() {
    let (_dir, path) = setup("fresh-basic");
    let writer = open(&path);
    let reader = open(&path);
    assert!(reader.follows_journal().0 && reader.follows_journal().1.is_none());
    assert!(can_view(&reader));
    writer.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
    // No refresh(): the next check reads what the writer appended.
    assert!(!can_view(&reader));
    assert_eq!(reader.revision(), writer.revision());
    // Every kind of query catches up, not only check.
    writer
        .grant(DEV, "acme/web", "admin", None, None, Some(OWNER))
        .unwrap();
    assert_eq!(reader.grants(Some(DEV), None).unwrap().len(), 1);
    writer.remove_member(DEV, "acme", Some(OWNER)).unwrap();
    assert!(reader.who_can("project:view", "acme/web", None).unwrap() == [OWNER]);
    assert!(reader.role(DEV, "acme", None).unwrap().is_none());
    // The reader's own writes and the writer's interleave in one journal.
    reader
        .add_member(DEV, "acme", nm("member"), Some(OWNER))
        .unwrap();
    assert!(writer.role(DEV, "acme", None).unwrap().is_some());
}

#[test]
fn a_deleted_beacon_is_made_again_and_the_old_one_woken() {
    let (_dir, path) = setup("fresh-deleted");
    let writer = open(&path);
    let reader = open(&path);
    assert!(can_view(&reader));
    std::fs::remove_file(beacon(&path)).unwrap();
    // The writer notices at its write, makes a new beacon and bumps the old one, which
    // the reader still maps.
    writer.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
    assert!(beacon(&path).exists());
    assert!(!can_view(&reader));
    // And both follow the new one from then on.
    writer
        .grant(DEV, "acme/web", "viewer", None, None, Some(OWNER))
        .unwrap();
    assert!(can_view(&reader));
}

#[test]
fn a_beacon_replaced_behind_everyone_is_noticed_within_a_tick() {
    let (_dir, path) = setup("fresh-replaced");
    let reader = open(&path);
    assert!(can_view(&reader));
    // Deleted, then a graph opened afterwards makes a new one and writes: nobody bumps
    // the file the reader maps.
    std::fs::remove_file(beacon(&path)).unwrap();
    let late = open(&path);
    late.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
    // The reader looks at the beacon's path once every TICK queries on its thread.
    let mut stale = 0u32;
    while can_view(&reader) {
        stale += 1;
        assert!(stale <= TICK, "still allowed after {stale} checks");
    }
    // From then on it follows the new beacon at once.
    late.grant(DEV, "acme/web", "viewer", None, None, Some(OWNER))
        .unwrap();
    assert!(can_view(&reader));
}

#[test]
fn without_a_beacon_every_query_reads_the_journal() {
    let (_dir, path) = setup("fresh-lost");
    std::fs::remove_file(beacon(&path)).unwrap();
    std::fs::write(beacon(&path), b"not a beacon").unwrap();
    let writer = open(&path);
    let reader = open(&path);
    let (follows, why) = reader.follows_journal();
    assert!(follows);
    assert!(why.unwrap().contains("not an accessgraph revision beacon"));
    assert!(can_view(&reader));
    writer.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
    assert!(!can_view(&reader));
}

#[test]
fn a_beacon_is_private_and_fixed_in_size() {
    use std::os::unix::fs::PermissionsExt as _;
    let (_dir, path) = setup("fresh-mode");
    let meta = std::fs::metadata(beacon(&path)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 64);
    let writer = open(&path);
    for _ in 0..3 {
        writer.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
        writer
            .grant(DEV, "acme/web", "viewer", None, None, Some(OWNER))
            .unwrap();
    }
    assert_eq!(std::fs::metadata(beacon(&path)).unwrap().len(), 64);
}

/// Whether `g` answers a check within two seconds while the journal's writers' lock is
/// held by someone else (as another process mid-write holds it).
fn answers_while_the_journal_is_locked(path: &Path, g: &Graph) -> bool {
    let lock = std::fs::File::open(path).unwrap();
    lock.lock().unwrap();
    let (done, answered) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _ = done.send(can_view(g));
        });
        let within = answered
            .recv_timeout(std::time::Duration::from_secs(2))
            .is_ok();
        lock.unlock().unwrap();
        within
    })
}

#[test]
fn a_graph_does_not_read_the_journal_again_after_its_own_write() {
    // A graph's own write bumps the beacon for the other processes. Its own next query
    // must not take that as news: reading the journal again waits for the readers' lock,
    // i.e. for whichever writer holds the journal, fsync included (the reader's p99.9
    // was the writer's fsync, ~0.5 ms, in `cargo bench --bench latency`).
    let (_dir, path) = setup("fresh-own-write");
    let g = open(&path);
    g.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
    assert!(answers_while_the_journal_is_locked(&path, &g));
    // Nor after a change that failed before anything was written (nothing to revoke).
    assert!(g.revoke(DEV, "acme/web", Some(OWNER)).is_err());
    assert!(answers_while_the_journal_is_locked(&path, &g));
    g.grant(DEV, "acme/web", "viewer", None, None, Some(OWNER))
        .unwrap();
    assert!(answers_while_the_journal_is_locked(&path, &g));
    assert!(can_view(&g));
    // Nor after a refused change, whose `access.denied` event it wrote and holds, nor
    // after an event recorded by hand.
    let refused = g.revoke(OWNER, "acme/web", Some(DEV));
    assert!(matches!(refused, Err(Error::Permission(_))), "{refused:?}");
    assert!(answers_while_the_journal_is_locked(&path, &g));
    g.record("ops@acme.io", "deploy.approved", "acme/web", Map::new())
        .unwrap();
    assert!(answers_while_the_journal_is_locked(&path, &g));
    // Another graph's write is still news: its next query reads the journal (so it waits
    // for the lock; here it is free) and sees the change.
    let other = open(&path);
    other.revoke(DEV, "acme/web", Some(OWNER)).unwrap();
    assert!(!can_view(&g));
}
