//! Random bytes for salts, graph ids and pseudonyms: the operating system's generator,
//! read in blocks so an event's salts cost no system call each. A failure is an error,
//! never a weaker fallback; a forked child draws a fresh block instead of repeating its
//! parent's bytes.

use parking_lot::Mutex;

/// How many bytes one read from the OS supplies.
const BLOCK: usize = 4096;

struct Pool {
    pid: u32,
    bytes: Box<[u8; BLOCK]>,
    used: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Fills `out` with random bytes from the operating system's generator.
pub fn fill(out: &mut [u8]) -> std::io::Result<()> {
    if out.len() > BLOCK / 4 {
        return getrandom::fill(out).map_err(std::io::Error::other);
    }
    let mut guard = POOL.lock();
    let pid = std::process::id();
    let stale = guard
        .as_ref()
        .is_none_or(|p| p.pid != pid || BLOCK - p.used < out.len());
    if stale {
        let mut bytes = Box::new([0_u8; BLOCK]);
        getrandom::fill(&mut bytes[..]).map_err(std::io::Error::other)?;
        *guard = Some(Pool {
            pid,
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
}
