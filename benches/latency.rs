//! Check latency while another thread writes (SPEC 8: p99 ≤ 5 µs at 10,000 mutations/s).
//!
//! Runs in Rust so that what is measured is the core's locking, not the Python GIL:
//! one reader thread times every `check` with `std::time::Instant`, first alone, then
//! while a writer thread applies a grant or revoke every 100 µs; then, on a journal synced
//! on every mutation, beside a thread syncing another file (the disk's own cost to the
//! reader), and with the writer.
//! `cargo bench --bench latency` (add `-- --seconds 5` for a longer run).

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    reason = "a benchmark binary: short names and numeric casts for statistics"
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use accessgraph::graph::NewMember;
use accessgraph::{Graph, Instant};

/// A tiny deterministic generator (xorshift64*), so the bench needs no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ORGS: usize = 10;
const PROJECTS: usize = 20;
const USERS: usize = 10_000;
const ACTIONS: [&str; 4] = [
    "project:view",
    "insight:create",
    "feature_flag:manage",
    "data:export",
];
const ROLES: [&str; 3] = ["viewer", "member", "admin"];

fn build(g: Graph, rng: &mut Rng) -> (Graph, Vec<(String, usize)>) {
    g.set_time(Some(Instant::parse("at", "2024-05-01").unwrap()));
    for o in 0..ORGS {
        g.add_org(
            &format!("org{o}"),
            None,
            &format!("owner{o}@example.com"),
            None,
        )
        .unwrap();
        for p in 0..PROJECTS {
            let new = accessgraph::graph::NewProject {
                restricted: p == 0,
                ..Default::default()
            };
            g.add_project(&format!("org{o}/p{p}"), new, None).unwrap();
        }
    }
    let mut users = Vec::with_capacity(USERS);
    for u in 0..USERS {
        let email = format!("user{u}@example.com");
        let org = rng.below(ORGS);
        g.add_member(&email, &format!("org{org}"), NewMember::default(), None)
            .unwrap();
        for _ in 0..3 {
            let target = format!("org{org}/p{}", rng.below(PROJECTS));
            g.grant(&email, &target, ROLES[rng.below(3)], None, None, None)
                .unwrap();
        }
        users.push((email, org));
    }
    (g, users)
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn measure(g: &Graph, users: &[(String, usize)], seconds: f64, rng: &mut Rng) -> Vec<u64> {
    let queries: Vec<(String, &str, String)> = (0..100_000)
        .map(|_| {
            let (u, o) = &users[rng.below(users.len())];
            (
                u.clone(),
                ACTIONS[rng.below(4)],
                format!("org{o}/p{}", rng.below(PROJECTS)),
            )
        })
        .collect();
    let mut samples = Vec::with_capacity(4_000_000);
    let end = Clock::now() + Duration::from_secs_f64(seconds);
    let mut i = 0;
    while Clock::now() < end {
        let (u, a, t) = &queries[i % queries.len()];
        let start = Clock::now();
        let allowed = g.check(u, a, t, None).unwrap();
        let ns = start.elapsed().as_nanos() as u64;
        std::hint::black_box(allowed);
        samples.push(ns);
        i += 1;
    }
    samples.sort_unstable();
    samples
}

/// One line of percentiles; `rate`: what the other thread did, how many times, in how
/// many seconds.
fn report(label: &str, s: &[u64], rate: Option<(&str, u64, f64)>) {
    let mean = s.iter().sum::<u64>() as f64 / s.len() as f64;
    print!(
        "{label:<28} checks={:>9} mean={mean:>6.0} ns  p50={:>5} ns  p99={:>6} ns  p99.9={:>7} ns  max={:>9} ns",
        s.len(),
        percentile(s, 0.5),
        percentile(s, 0.99),
        percentile(s, 0.999),
        s[s.len() - 1]
    );
    if let Some((name, n, secs)) = rate {
        print!("  {name}={:.0}", n as f64 / secs);
    }
    println!();
}

/// Times checks on `g` while another thread calls `step` over and over, counting the
/// calls that return true; reports their rate as `rate`.
fn beside(
    label: &str,
    rate: &str,
    g: &Graph,
    users: &[(String, usize)],
    seconds: f64,
    mut step: impl FnMut() -> bool + Send + 'static,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let other = {
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if step() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let started = Clock::now();
    let busy = measure(g, users, seconds, &mut Rng(7));
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    other.join().unwrap();
    report(
        label,
        &busy,
        Some((rate, done.load(Ordering::Relaxed), elapsed)),
    );
}

/// Times checks on `g` while a thread grants and revokes every 100 µs (10,000 mutations/s
/// asked for; a durable journal's `fdatasync` may hold it below that).
fn under_writes(label: &str, g: &Arc<Graph>, users: &[(String, usize)], seconds: f64) {
    let (writer, all) = (Arc::clone(g), users.to_vec());
    let mut rng = Rng(42);
    let period = Duration::from_micros(100); // 10,000 mutations/s
    let mut next = Clock::now();
    // Alternate: grant on a project, then revoke that grant — every call changes state.
    let mut pending: Option<(String, String)> = None;
    beside(label, "writes/s", g, users, seconds, move || {
        let done = if let Some((u, target)) = pending.take() {
            writer.revoke(&u, &target, None).is_ok()
        } else {
            let (u, o) = &all[rng.below(all.len())];
            let target = format!("org{o}/p{}", rng.below(PROJECTS));
            let _ = writer.revoke(u, &target, None);
            let ok = writer
                .grant(u, &target, ROLES[rng.below(3)], None, None, None)
                .is_ok();
            pending = Some((u.clone(), target));
            ok
        };
        next += period;
        while Clock::now() < next {
            std::hint::spin_loop();
        }
        done
    });
}

/// Times checks on `g` while a thread that never touches the graph appends a line to
/// another file and `fdatasync`s it, as fast as the disk lets it: what the operating
/// system's I/O (its interrupts and the syncing thread's wake-ups) costs the reader,
/// against which the journaled writer's phase is read.
fn beside_syncs(
    label: &str,
    g: &Graph,
    users: &[(String, usize)],
    file: &std::path::Path,
    seconds: f64,
) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    beside(label, "syncs/s", g, users, seconds, move || {
        f.write_all(&[b'x'; 200]).unwrap();
        f.sync_data().unwrap();
        true
    });
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (g, users) = build(Graph::new(), &mut rng);
    let g = Arc::new(g);

    let alone = measure(&g, &users, seconds, &mut rng);
    report("check, no writer", &alone, None);
    under_writes("check, writer at 10k/s", &g, &users, seconds);
    drop(g);

    // The same, the writer's changes going to a journal file synced on every mutation:
    // the reader must not wait for the write or the `fdatasync` (docs/architecture.md,
    // "Locks").
    let dir = std::env::temp_dir().join(format!("accessgraph-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.journal");
    // Built without syncing (40,000 mutations), then opened again synced on every one.
    let open = |durability| {
        let opts = accessgraph::graph::OpenOptions {
            durability,
            ..Default::default()
        };
        Graph::open(&path, &opts).unwrap().0
    };
    let (built, users) = build(
        open(accessgraph::audit::Durability::Os),
        &mut Rng(0x9e37_79b9_7f4a_7c15),
    );
    drop(built);
    let g = open(accessgraph::audit::Durability::Fsync);
    let g = Arc::new(g);
    beside_syncs(
        "check, other file synced",
        &g,
        &users,
        &dir.join("other.file"),
        seconds,
    );
    under_writes("check, writer on a journal", &g, &users, seconds);
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}
