//! Set-up shared by the integration tests: instants, the fixed start of the test clock,
//! membership builders and private temporary folders. Each test crate uses part of it.
#![expect(dead_code, reason = "each test crate uses a different part of it")]
#![expect(
    clippy::unwrap_used,
    reason = "a test set-up that cannot parse fails the test"
)]

use std::path::{Path, PathBuf};

use accessgraph::graph::NewMember;
use accessgraph::Instant;

/// One day in microseconds.
pub const DAY: i64 = 86_400_000_000;

/// 2024-05-01T00:00:00Z: where the tests' frozen clocks start.
pub const T0: Instant = Instant(1_714_521_600_000_000);

/// An instant from an ISO-8601 date or date-time.
pub fn at(s: &str) -> Instant {
    Instant::parse("at", s).unwrap()
}

/// A calendar date `YYYY-MM-DD`.
pub fn date(s: &str) -> chrono::NaiveDate {
    accessgraph::time::parse_date("date", s).unwrap()
}

/// `n` days after [`T0`] (before it when negative).
pub fn days(n: i64) -> Instant {
    Instant(T0.0 + n * DAY)
}

/// A membership with `role` and nothing else.
pub fn nm(role: &str) -> NewMember {
    NewMember {
        role: Some(role.to_owned()),
        ..NewMember::default()
    }
}

/// A new empty folder of this process's own under the system's temporary folder,
/// removed with all it holds when the value is dropped (so a run leaves nothing behind).
pub fn temp_dir(tag: &str) -> TempDir {
    // Tests run in parallel: the counter keeps two folders made at one instant apart.
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "accessgraph-{tag}-{}-{}-{n}",
        std::process::id(),
        Instant::now().0
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A folder of [`temp_dir`]'s: a `Path` that removes itself when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
