//! Random bytes for salts, graph ids and pseudonyms: the operating system's generator,
//! read in blocks so an event's salts cost no system call each. A failure is an error,
//! never a weaker fallback; a forked child draws a fresh block instead of repeating its
//! parent's bytes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

/// How many bytes one read from the OS supplies.
const BLOCK: usize = 4096;

struct Pool {
    /// The process that drew the block, or (once a fork hook is installed) the fork
    /// count when it was drawn.
    owner: u64,
    bytes: Box<[u8; BLOCK]>,
    used: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Set once a hook calls [`forked`] in every child of `fork` (the Python binding
/// installs one with `os.register_at_fork`): the pool's owner is then the fork count,
/// read without the `getpid` system call each draw made.
static HOOKED: AtomicBool = AtomicBool::new(false);
/// Forks seen by the hook.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// Says that a hook calls [`forked`] in every child of `fork` from now on.
pub fn fork_hook_installed() {
    // The pool drawn so far belongs to this process: draw afresh under the new owner.
    let mut pool = POOL.lock();
    HOOKED.store(true, Ordering::Release);
    *pool = None;
}

/// Called in the child after a `fork`: it draws a fresh block, never its parent's.
pub fn forked() {
    FORKS.fetch_add(1, Ordering::AcqRel);
}

/// Who the pool's bytes belong to: the fork count when a hook keeps it, else the pid.
fn owner() -> u64 {
    if HOOKED.load(Ordering::Acquire) {
        FORKS.load(Ordering::Acquire)
    } else {
        u64::from(std::process::id())
    }
}

/// Fills `out` with random bytes from the operating system's generator.
pub fn fill(out: &mut [u8]) -> std::io::Result<()> {
    if out.len() > BLOCK / 4 {
        return getrandom::fill(out).map_err(std::io::Error::other);
    }
    let mut guard = POOL.lock();
    let owner = owner();
    let stale = guard
        .as_ref()
        .is_none_or(|p| p.owner != owner || BLOCK - p.used < out.len());
    if stale {
        let mut bytes = Box::new([0_u8; BLOCK]);
        getrandom::fill(&mut bytes[..]).map_err(std::io::Error::other)?;
        *guard = Some(Pool {
            owner,
            bytes,
            used: 0,
        });
    }
    let pool = guard
        .as_mut()
        .ok_or_else(|| std::io::Error::other("random pool unavailable"))?;
    let block = pool
        .bytes
        .get(pool.used..pool.used + out.len())
        .ok_or_else(|| std::io::Error::other("random pool exhausted"))?;
    out.copy_from_slice(block);
    // Bytes handed out are wiped from the pool.
    if let Some(used) = pool.bytes.get_mut(pool.used..pool.used + out.len()) {
        used.fill(0);
    }
    pool.used += out.len();
    Ok(())
}

/// `n` random bytes.
pub fn bytes(n: usize) -> std::io::Result<Vec<u8>> {
    let mut out = vec![0_u8; n];
    fill(&mut out)?;
    Ok(out)
}

/// 16 random bytes as 32 lower-case hex digits (graph ids).
pub fn hex_id() -> std::io::Result<String> {
    Ok(hex::encode(bytes(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_cross_blocks() -> std::io::Result<()> {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(bytes(16)?), "a salt repeated");
        }
        assert_eq!(bytes(5000)?.len(), 5000);
        Ok(())
    }

    #[test]
    fn a_fork_seen_by_the_hook_draws_a_fresh_block() -> std::io::Result<()> {
        // Other tests draw from the same pool on other threads meanwhile: what this
        // asserts is whose block the pool holds, not how much of it is used.
        let holder = || POOL.lock().as_ref().map(|p| p.owner);
        fork_hook_installed();
        let before = owner();
        let a = bytes(16)?;
        assert_eq!(holder(), Some(before));
        forked();
        assert_ne!(owner(), before);
        let b = bytes(16)?;
        assert_ne!(a, b);
        assert_eq!(holder(), Some(owner()), "the block was drawn afresh");
        Ok(())
    }
}
