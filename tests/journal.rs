//! The journal's storage contract without files: fail-stop when a write or fsync fails.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first surprise, loudly"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use accessgraph::audit::journal::{Fresh, Header, JournalStore};
use accessgraph::audit::Event;
use accessgraph::audit::{Durability, Filter};
use accessgraph::error::AuditError;
use accessgraph::graph::NewMember;
use accessgraph::{Error, Graph};

mod common;

/// Keeps batches in memory; fails every append (or sync) after `ok` successful ones, and
/// counts the batches it holds so a test sees a failed one cut back.
struct Flaky {
    ok: usize,
    appends: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
    fail_sync: bool,
    /// After `ok` appends, the checkpoint fails, and so does cutting back.
    fail_checkpoint: bool,
    bytes: u64,
}

impl JournalStore for Flaky {
    fn lock(&mut self) -> Result<(), AuditError> {
        Ok(())
    }
    fn lock_shared(&mut self) -> Result<(), AuditError> {
        Ok(())
    }
    fn unlock(&mut self) {}
    fn read_fresh(&mut self, _repair: bool) -> Result<Fresh, AuditError> {
        Ok(Fresh::Records(Vec::new()))
    }
    fn append(&mut self, batch: &[Event]) -> std::io::Result<u64> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst);
        // A failed write still leaves a partial batch behind, as a full disk can.
        self.held.fetch_add(1, Ordering::SeqCst);
        if n >= self.ok && !self.fail_sync && !self.fail_checkpoint {
            return Err(std::io::Error::other("disk full"));
        }
        self.bytes += batch.len() as u64;
        Ok(self.bytes)
    }
    fn rollback(&mut self) -> std::io::Result<()> {
        self.held.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        if self.fail_sync && self.appends.load(Ordering::SeqCst) > self.ok {
            return Err(std::io::Error::other("EIO"));
        }
        Ok(())
    }
    fn replace(&mut self, _header: &Header, _events: &[Event]) -> std::io::Result<()> {
        Err(std::io::Error::other("read-only"))
    }
    fn checkpoint(&mut self, _seq: u64, _hash: &str) -> std::io::Result<()> {
        if self.fail_checkpoint && self.appends.load(Ordering::SeqCst) > self.ok {
            return Err(std::io::Error::other("EIO"));
        }
        Ok(())
    }
    fn cut_back(&mut self, _from: (u64, u64), _end: Option<u64>) -> std::io::Result<Option<u64>> {
        Err(std::io::Error::other("read-only file system"))
    }
    fn position(&self) -> (u64, u64) {
        (0, self.bytes)
    }
    fn sync_handle(&self) -> Option<Arc<std::fs::File>> {
        None
    }
    fn offset(&self) -> u64 {
        self.bytes
    }
    fn lines(&self) -> u64 {
        0
    }
}

fn graph(ok: usize, fail_sync: bool) -> (Graph, Arc<AtomicUsize>) {
    let held = Arc::new(AtomicUsize::new(0));
    let store = Flaky {
        ok,
        appends: Arc::new(AtomicUsize::new(0)),
        held: Arc::clone(&held),
        fail_sync,
        fail_checkpoint: false,
        bytes: 0,
    };
    (Graph::with_store(Box::new(store), Durability::Fsync), held)
}

/// In group mode, a checkpoint that fails after a good sync is cut back; when cutting
/// back fails too, the error says so, not that another writer appended after it (which
/// is what it said whatever the reason the change was kept).
#[test]
fn a_change_kept_because_cutting_it_back_failed_says_so() {
    let store = Flaky {
        ok: 1,
        appends: Arc::new(AtomicUsize::new(0)),
        held: Arc::new(AtomicUsize::new(0)),
        fail_sync: false,
        fail_checkpoint: true,
        bytes: 0,
    };
    let g = Graph::with_store(Box::new(store), Durability::Group);
    g.add_org("acme", None, "jane@example.com", None).unwrap();
    let err = g
        .add_member("bob@example.com", "acme", member(), None)
        .unwrap_err();
    assert!(failed(&err), "{err}");
    let text = err.to_string();
    assert!(text.contains("checkpoint write failed: EIO"), "{text}");
    assert!(
        text.contains("cutting it back failed too (read-only file system)"),
        "{text}"
    );
    assert!(!text.contains("another thread or process"), "{text}");
    // Kept in the journal, so applied here too, and no mutation is taken after it.
    assert_eq!(g.revision(), 3);
    assert!(failed(
        &g.add_member("carol@example.com", "acme", member(), None)
            .unwrap_err()
    ));
}

fn member() -> NewMember {
    NewMember::default()
}

fn failed(e: &Error) -> bool {
    matches!(e, Error::Audit(AuditError::Failed(_)))
}

#[test]
fn a_failed_write_stops_mutations_and_applies_nothing() {
    for fail_sync in [false, true] {
        // add_org is the first append; the second (add_member) fails.
        let (g, held) = graph(1, fail_sync);
        g.add_org("acme", None, "jane@example.com", None).unwrap();
        let before = accessgraph::registry::json::to_json(&g).unwrap();
        let err = g
            .add_member("bob@example.com", "acme", member(), None)
            .unwrap_err();
        assert!(failed(&err), "{err}");
        assert!(err.to_string().contains("no more mutations"), "{err}");
        // The failed batch was cut back out of the journal: only add_org's is left.
        assert_eq!(held.load(Ordering::SeqCst), 1);
        assert!(err.to_string().contains("cut back"), "{err}");
        // Nothing applied, nothing logged beyond the first call.
        assert_eq!(accessgraph::registry::json::to_json(&g).unwrap(), before);
        assert_eq!(g.revision(), 2);
        // Every later mutation is refused, even one that would not touch the disk first.
        let again = g
            .add_member("carol@example.com", "acme", member(), None)
            .unwrap_err();
        assert!(failed(&again));
        assert!(failed(
            &g.record("system", "data.exported", "acme", serde_json::Map::new())
                .unwrap_err()
        ));
        // Reads go on.
        assert!(g
            .check("jane@example.com", "org:manage_roles", "acme", None)
            .unwrap());
        assert_eq!(g.audit_events(&Filter::default()).unwrap().len(), 2);
        g.audit_verify().unwrap();
    }
}

/// Opening from a snapshot reads the header, the one batch the snapshot ends with and
/// what follows; a record longer than the first read window is still found whole, and a
/// resume point that does not hold falls back to reading everything.
#[test]
fn resuming_reads_from_the_snapshot_offset() {
    use accessgraph::audit::file::{FileJournal, Resume};
    use accessgraph::graph::OpenOptions;

    let dir = common::temp_dir("resume");
    let path = dir.join("g.journal");
    let (g, _) = Graph::open(&path, &OpenOptions::default()).unwrap();
    g.add_org("acme", None, "jane@example.com", None).unwrap();
    let mut details = serde_json::Map::new();
    details.insert("note".into(), "x".repeat(50_000).into());
    g.record("jane@example.com", "data.exported", "acme", details)
        .unwrap();
    let offset = std::fs::metadata(&path).unwrap().len();
    let last = g.audit_events(&Filter::default()).unwrap().pop().unwrap();
    assert_eq!(last.seq, 3);
    g.add_member("bob@example.com", "acme", member(), None)
        .unwrap();
    drop(g);

    let resume = Resume {
        offset,
        lines: 3,
        seq: 3,
        hash: last.hash.clone(),
    };
    let opened = FileJournal::open(&path, None, Some(&resume)).unwrap();
    assert!(opened.resumed);
    let after: Vec<(u64, u64)> = opened
        .records
        .iter()
        .map(|r| (r.line, r.event.seq))
        .collect();
    assert_eq!(after, vec![(4, 4)]);
    drop(opened);

    let wrong = Resume {
        hash: "0".repeat(64),
        ..resume
    };
    let opened = FileJournal::open(&path, None, Some(&wrong)).unwrap();
    assert!(!opened.resumed);
    assert_eq!(opened.records.len(), 4);
}

/// A graph opened before another one erased a user, and that made no query since,
/// snapshots the erased journal: the erased user's cleartext never comes back to disk.
#[test]
fn a_snapshot_behind_an_erasure_is_of_the_journal_at_the_path() {
    use accessgraph::graph::OpenOptions;

    let dir = common::temp_dir("snap-erased");
    let path = dir.join("g.journal");
    let (eraser, _) = Graph::open(&path, &OpenOptions::default()).unwrap();
    eraser
        .add_org("acme", None, "jane@example.com", None)
        .unwrap();
    let bob = NewMember {
        name: Some("Bobby Tablesworth".into()),
        ..member()
    };
    eraser
        .add_member("bob@example.com", "acme", bob, Some("jane@example.com"))
        .unwrap();
    let (behind, _) = Graph::open(&path, &OpenOptions::default()).unwrap();
    eraser
        .erase_user("bob@example.com", Some("jane@example.com"), None, None)
        .unwrap();
    let snap = path.with_extension("journal.snapshot");
    assert_eq!(behind.snapshot(&snap).unwrap(), eraser.revision());
    let text = std::fs::read_to_string(&snap).unwrap();
    assert!(!text.contains("bob@example.com") && !text.contains("Bobby"));
    assert!(text.contains("\"erasures\":1"));
}
