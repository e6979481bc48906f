//! The hash of the check path's indexes ([`super::hot::UserIndex`] of emails,
//! [`super::targets::TargetIndex`] of org slugs, project and resource ids): foldhash's,
//! inlined for the lengths most of those keys have.
//!
//! `foldhash::fast` hashes a key of more than 16 bytes in a function it marks cold and
//! never inlines, and hashing a `str` through `Hash` adds a one-byte terminator that
//! costs a further multiplication in `finish`. Most emails and target ids are 16 to 32
//! bytes long, and a check hashes one of each: for those lengths this computes inline
//! the mixing foldhash gives keys of 17 to 32 bytes (the same two folded
//! multiplications of the same overlapping words, with a seed rotated by the length),
//! with seeds drawn once per index from foldhash's per-process random state, because
//! the keys are chosen by whoever adds users and projects. Any other length goes to
//! foldhash itself.

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function (see src/state/hot.rs)"
)]

use std::hash::BuildHasher;

/// A seeded hash of index keys; see the module docs.
#[derive(Debug, Clone)]
pub struct KeyHasher {
    /// Seeds for the inlined lengths, unpredictable from outside the process.
    seeds: [u64; 3],
    /// Every other length.
    other: foldhash::fast::RandomState,
}

impl Default for KeyHasher {
    fn default() -> Self {
        let other = foldhash::fast::RandomState::default();
        // Hashes of constants under a randomly seeded state: as unpredictable as it is.
        let seeds = [1u64, 2, 3].map(|k| other.hash_one(k));
        KeyHasher { seeds, other }
    }
}

/// The 128-bit product of `x` and `y`, its halves folded together (foldhash's mixer).
#[inline(always)]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let p = u128::from(x) * u128::from(y);
    let lo = u64::try_from(p & u128::from(u64::MAX)).unwrap_or(0);
    let hi = u64::try_from(p >> 64).unwrap_or(0);
    lo ^ hi
}

impl KeyHasher {
    /// The hash of `key`.
    #[inline(always)]
    pub fn hash(&self, key: &[u8]) -> u64 {
        let (len @ ..=32, Some(head), Some(tail)) =
            (key.len(), key.first_chunk::<16>(), key.last_chunk::<16>())
        else {
            return self.other.hash_one(key);
        };
        let word = |b: &[u8; 16], at: usize| {
            b.get(at..at + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
                .map_or(0, u64::from_le_bytes)
        };
        let [s, k, s1] = self.seeds;
        // The length turns the seed, so that keys which are prefixes of each other (their
        // words overlap differently) do not collide by construction.
        let s0 = s.rotate_right(u32::try_from(len).unwrap_or(0));
        let a = folded_multiply(word(head, 0) ^ s0, word(tail, 0) ^ k);
        let b = folded_multiply(word(head, 8) ^ s0.wrapping_add(s1), word(tail, 8) ^ k);
        a ^ b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_of_an_inlined_length_moves_the_hash() {
        let h = KeyHasher::default();
        for len in 16..=32 {
            let key: Vec<u8> = (0..len).map(|i| b'a' + (i % 26)).collect();
            let base = h.hash(&key);
            for i in 0..len as usize {
                let mut other = key.clone();
                if let Some(c) = other.get_mut(i) {
                    *c ^= 1;
                }
                assert_ne!(h.hash(&other), base, "length {len}, byte {i}");
            }
            // Same words, one byte longer or shorter: another hash.
            assert_ne!(h.hash(key.get(..key.len() - 1).unwrap_or_default()), base);
        }
    }

    /// The most keys that share one home slot of a table of 2^18, as the indexes pick it
    /// (the hash's low bits).
    fn fullest_slot(h: &KeyHasher, keys: impl Iterator<Item = String>) -> usize {
        let mut load = vec![0usize; 1 << 18];
        for k in keys {
            let home = usize::try_from(h.hash(k.as_bytes()) & ((1 << 18) - 1)).unwrap_or(0);
            if let Some(n) = load.get_mut(home) {
                *n += 1;
            }
        }
        load.into_iter().max().unwrap_or(0)
    }

    #[test]
    fn keys_alike_but_for_a_few_bytes_spread_over_the_table() {
        // 100,000 keys in 262,144 slots: a uniform hash puts at most about 7 in one slot.
        // Keys that differ in a counter only (the shape of generated emails and ids, and
        // what someone flooding an index would send) must spread as well.
        let h = KeyHasher::default();
        let emails = (0..100_000).map(|i| format!("user{i:06}@example.com"));
        let ids = (0..100_000).map(|i| format!("org{}/project-{}", i % 97, i / 97));
        let padded = (0..100_000).map(|i| format!("{i:0>32}"));
        for (name, n) in [
            ("emails", fullest_slot(&h, emails)),
            ("ids", fullest_slot(&h, ids)),
            ("32-byte", fullest_slot(&h, padded)),
        ] {
            assert!(n <= 12, "{name}: {n} keys in one slot");
        }
    }

    #[test]
    fn each_index_draws_its_own_seeds() {
        let (a, b) = (KeyHasher::default(), KeyHasher::default());
        let key = b"someone@example.com";
        assert_ne!(a.hash(key), b.hash(key));
        assert_eq!(a.hash(key), a.clone().hash(key));
    }

    #[test]
    fn short_and_long_keys_hash_like_foldhash() {
        let h = KeyHasher::default();
        for key in [
            &b""[..],
            b"a@b.c",
            b"fifteen@byte.io",
            &[b'x'; 33],
            &[b'y'; 300],
        ] {
            assert_eq!(h.hash(key), h.other.hash_one(key));
        }
    }
}
