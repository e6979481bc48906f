//! The revision beacon: how a graph on a file journal sees what other processes wrote
//! before its next query, without a system call per query.
//!
//! Beside the journal sits `<journal>.rev`, a 64-byte private file holding a magic word
//! and a counter. Every process that opens the journal maps it into memory (shared), so
//! all of them read and write the same eight bytes. A writer adds one to the counter
//! whenever it is done with the journal's writers' lock (whatever it did to the file: an
//! append, a cut, a rewrite). A reader keeps the counter's value it last caught up to;
//! before each query it loads the counter (one memory read) and, when it moved, reads
//! what was appended ([`Follow::behind`]). The counter starts at a random value, so a
//! beacon made again from scratch never repeats the value a reader last saw.
//!
//! What can go wrong, and what happens then:
//! - `<journal>.rev` deleted or replaced while processes run: a process notices at its
//!   next write, its next `refresh()`, or within about [`TICK`] queries (each
//!   then `stat`s the path); it maps the new file and bumps the old one, so processes
//!   still on the old one look again too.
//! - It cannot be created or mapped (a read-only directory) or is not a beacon: the
//!   graph reads the journal before every query instead (correct, slower), and
//!   [`Follow::lost`] says why (Python's `Graph.open` warns with it).
//! - Truncating the file while processes have it mapped makes them fault (SIGBUS), as
//!   truncating any mapped file does: leave it alone, like the journal itself.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::files;

/// The first eight bytes of a beacon.
const MAGIC: [u8; 8] = *b"AGREV\x00\x00\x01";
/// A beacon's size: the magic, the counter, room to spare.
const LEN: usize = 64;
/// How many queries a graph answers between two looks at the beacon's path.
pub const TICK: u32 = 4096;
/// How many times a graph maps a new beacon before it falls back to reading the journal
/// before every query.
const SLOTS: usize = 8;
/// `Follow::current` when there is no beacon.
const LOST: usize = usize::MAX;

/// One mapped beacon file.
#[derive(Debug)]
pub struct Beacon {
    map: memmap2::MmapRaw,
    /// (device, inode) of the file mapped.
    id: (u64, u64),
    /// False for a read-only mapping (the file could not be opened for writing; such a
    /// process cannot write the journal either): only ever loaded from.
    writable: bool,
}

impl Beacon {
    /// Maps the beacon of the journal at `journal`, creating it when there is none.
    pub fn open(journal: &Path) -> std::io::Result<Beacon> {
        let path = files::sidecar(journal, ".rev");
        let (file, writable) = match open_existing(&path, true) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create(&path)?;
                (open_existing(&path, true)?, true)
            }
            // Readable, not writable: follow others' writes (this process cannot write
            // the journal either).
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                (open_existing(&path, false)?, false)
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let mut magic = [0u8; 8];
        if !meta.is_file()
            || meta.len() != LEN as u64
            || file.read_exact_at(&mut magic, 0).is_err()
            || magic != MAGIC
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not an accessgraph revision beacon", path.display()),
            ));
        }
        let mut opts = memmap2::MmapOptions::new();
        opts.len(LEN);
        let map = if writable {
            opts.map_raw(&file)?
        } else {
            opts.map_raw_read_only(&file)?
        };
        Ok(Beacon {
            map,
            id: (meta.dev(), meta.ino()),
            writable,
        })
    }

    fn counter(&self) -> &AtomicU64 {
        #[expect(
            clippy::cast_ptr_alignment,
            reason = "a mapping is page-aligned, so offset 8 is 8-byte aligned"
        )]
        let ptr = self.map.as_mut_ptr().wrapping_add(8).cast::<u64>();
        #[expect(
            unsafe_code,
            reason = "the one shared word of the revision beacon (docs/architecture.md)"
        )]
        // SAFETY: `map` is a LEN-byte shared mapping, page-aligned, alive as long as
        // `self` (the reference cannot outlive it), so `ptr` (offset 8) is in bounds and
        // 8-byte aligned. Every access to these bytes, in every process, goes through an
        // `AtomicU64`; a read-only mapping is only ever loaded from, and 64-bit atomic
        // loads are plain loads on every platform this builds for.
        unsafe {
            AtomicU64::from_ptr(ptr)
        }
    }

    /// The counter.
    #[inline]
    pub fn load(&self) -> u64 {
        self.counter().load(Ordering::Acquire)
    }

    /// Adds one to the counter (a writer, done with the journal); the new value, when
    /// this mapping may write it.
    fn bump(&self) -> Option<u64> {
        self.writable.then(|| {
            self.counter()
                .fetch_add(1, Ordering::AcqRel)
                .wrapping_add(1)
        })
    }
}

/// Opens the beacon file, never following a link.
fn open_existing(path: &Path, write: bool) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Creates the beacon at `path` whole: written to a private temporary file, then linked
/// into place (`link` fails when another process made it first, which is as good).
fn create(path: &Path) -> std::io::Result<()> {
    let (tmp, mut f) = files::temp_beside(path)?;
    let mut start = [0u8; 8];
    let made = super::random::fill(&mut start).and_then(|()| {
        // Random, well below the top so it never wraps in practice.
        let start = u64::from_ne_bytes(start) >> 2;
        let mut body = Vec::with_capacity(LEN);
        body.extend_from_slice(&MAGIC);
        body.extend_from_slice(&start.to_ne_bytes());
        body.resize(LEN, 0);
        f.write_all(&body)
    });
    let linked = made.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// A graph's following of its journal: the beacon it maps and the counter's value its
/// state has caught up to.
#[derive(Debug)]
pub struct Follow {
    journal: PathBuf,
    /// The beacons mapped, the current one last (a new one after the file was replaced).
    slots: [OnceLock<Beacon>; SLOTS],
    /// Which slot is current; [`LOST`] when there is no beacon.
    current: AtomicUsize,
    /// Queries answered, counted loosely (a load and a store, no read-modify-write:
    /// threads may lose a count, never stall on each other).
    queries: AtomicU32,
    /// The counter's value when this graph last read the journal to its end.
    seen: AtomicU64,
    /// No beacon: read the journal before every query.
    lost: AtomicBool,
    /// Why there is no beacon.
    why: OnceLock<String>,
}

impl Follow {
    /// Follows the journal at `journal`, reading the counter before the journal is read
    /// (so a write in between makes the first query look again).
    pub fn new(journal: &Path) -> Follow {
        let f = Follow {
            journal: journal.to_owned(),
            slots: Default::default(),
            current: AtomicUsize::new(0),
            queries: AtomicU32::new(0),
            seen: AtomicU64::new(0),
            lost: AtomicBool::new(false),
            why: OnceLock::new(),
        };
        match Beacon::open(journal) {
            Ok(b) => {
                f.seen.store(b.load(), Ordering::Relaxed);
                let _ = f.slots[0].set(b);
            }
            Err(e) => f.lose(&e),
        }
        f
    }

    fn lose(&self, e: &dyn std::fmt::Display) {
        let _ = self.why.set(e.to_string());
        self.lost.store(true, Ordering::Release);
        self.current.store(LOST, Ordering::Release);
    }

    /// Why the graph has no beacon and reads the journal before every query instead
    /// (none while it has one).
    pub fn lost(&self) -> Option<&str> {
        if self.lost.load(Ordering::Acquire) {
            self.why.get().map(String::as_str)
        } else {
            None
        }
    }

    fn beacon(&self) -> Option<&Beacon> {
        self.slots
            .get(self.current.load(Ordering::Acquire))
            .and_then(OnceLock::get)
    }

    /// True when the graph must look at the journal (or the beacon's path) before the
    /// query: the counter moved, there is no beacon, or it is time to
    /// check the beacon is still the one at the path.
    #[inline]
    pub fn behind(&self) -> bool {
        match self.beacon() {
            Some(b) => b.load() != self.seen.load(Ordering::Relaxed) || self.tick(),
            None => true,
        }
    }

    /// True once every [`TICK`] queries (roughly: see `queries`).
    #[inline]
    fn tick(&self) -> bool {
        let n = self.queries.load(Ordering::Relaxed).wrapping_add(1);
        self.queries.store(n, Ordering::Relaxed);
        n.is_multiple_of(TICK)
    }

    /// True when the journal must be read: the counter moved since the graph caught up,
    /// or there is no beacon.
    pub fn moved(&self) -> bool {
        match self.beacon() {
            Some(b) => b.load() != self.seen.load(Ordering::Relaxed),
            None => true,
        }
    }

    /// The counter now (none without a beacon); read before reading the journal under
    /// the readers' lock, then given to [`Follow::caught_up`].
    pub fn revision(&self) -> Option<u64> {
        self.beacon().map(Beacon::load)
    }

    /// The graph read the journal to its end while the counter was `v`.
    pub fn caught_up(&self, v: Option<u64>) {
        if let Some(v) = v {
            self.seen.store(v, Ordering::Relaxed);
        }
    }

    /// A writer is done with the journal: wakes every other process's graph. When
    /// `settled` (the writer's graph holds all the journal holds: it caught up under the
    /// writers' lock, which it still holds, and applied what it appended), the graph
    /// takes the new value as seen, so its own next query does not read the journal again
    /// — which would wait for the readers' lock, i.e. for the next writer's fsync.
    pub fn bump(&self, settled: bool) {
        if let Some(new) = self.beacon().and_then(Beacon::bump) {
            if settled {
                self.caught_up(Some(new));
            }
        }
    }

    /// Checks the beacon mapped is still the file at its path; when not, maps the one
    /// there (creating it) and bumps the old one, so processes still on it look again.
    pub fn revalidate(&self) {
        if self.lost.load(Ordering::Relaxed) {
            return;
        }
        let path = files::sidecar(&self.journal, ".rev");
        let here = std::fs::symlink_metadata(&path).map(|m| (m.dev(), m.ino()));
        let old = self.beacon();
        if let (Ok(id), Some(b)) = (&here, old) {
            if *id == b.id {
                return;
            }
        }
        let next = self.current.load(Ordering::Acquire).wrapping_add(1);
        match (self.slots.get(next), Beacon::open(&self.journal)) {
            (Some(slot), Ok(b)) => {
                // The new counter is unrelated to the old one: the next query reads the
                // journal (seen keeps the old beacon's value).
                if slot.set(b).is_ok() {
                    self.current.store(next, Ordering::Release);
                }
                if let Some(b) = old {
                    let _ = b.bump();
                }
            }
            (None, _) => {
                self.lose(&"the revision beacon was replaced too many times");
            }
            (_, Err(e)) => self.lose(&e),
        }
    }
}
