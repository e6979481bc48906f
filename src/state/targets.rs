//! The check path's index of target strings (org slugs, project and resource ids) → what
//! they name (`TargetRef`, the value `state/tables.rs` keeps): an open-addressing table
//! like the user index (`state/hot.rs`), whose slots hold the keys themselves, packed
//! into three words when they are 24 bytes or shorter, so that a lookup compares them
//! without `memcmp`. The hash is the user index's ([`KeyHasher`]).

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function: measured under callgrind, 935 → 784 instructions per `check` from Python (benchmarks/count_instructions.py)"
)]

use compact_str::CompactString;

use crate::state::hash::KeyHasher;

const MIN_SLOTS: usize = 16;

/// A key of up to 24 bytes held as three words (compared without `memcmp`), or a
/// longer one on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PackedKey {
    Short { len: usize, words: [u64; 3] },
    Long(Box<str>),
}

/// The words of a key of 8 to 24 bytes: the first eight bytes, the eight from byte 8
/// (or the last eight, for a key under 16 bytes) and the last eight. A key shorter than
/// 8 bytes is one zero-padded word.
#[inline]
fn key_words(b: &[u8]) -> Option<[u64; 3]> {
    let word = |at: usize| {
        b.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    match b.len() {
        0..=7 => Some([
            b.iter().rev().fold(0u64, |w, &c| w << 8 | u64::from(c)),
            0,
            0,
        ]),
        8..=24 => Some([word(0)?, word(8.min(b.len() - 8))?, word(b.len() - 8)?]),
        _ => None,
    }
}

impl PackedKey {
    fn new(key: &str) -> Self {
        match key_words(key.as_bytes()) {
            Some(words) => PackedKey::Short {
                len: key.len(),
                words,
            },
            None => PackedKey::Long(key.into()),
        }
    }

    #[inline]
    fn is(&self, key: &str) -> bool {
        match self {
            PackedKey::Short { len, words } => {
                *len == key.len() && key_words(key.as_bytes()).as_ref() == Some(words)
            }
            PackedKey::Long(k) => **k == *key,
        }
    }
}

/// One entry of a [`TargetIndex`].
#[derive(Debug, Clone)]
struct TargetSlot<V> {
    hash: u32,
    key: PackedKey,
    target: V,
}

/// Target string (org slug, project id, resource id) → what it names: open addressing
/// with linear probing, at most half full, the key and its value in the slot. The
/// methods are those of the map it replaced.
///
/// INVARIANT: every key is in the slot its hash picks or after it, with no empty slot in
/// between (linear probing); the table is a power of two long and at most half full.
#[derive(Debug, Clone)]
pub struct TargetIndex<V> {
    slots: Vec<Option<TargetSlot<V>>>,
    len: usize,
    hasher: KeyHasher,
}

impl<V> Default for TargetIndex<V> {
    fn default() -> Self {
        TargetIndex {
            slots: Vec::new(),
            len: 0,
            hasher: KeyHasher::default(),
        }
    }
}

impl<V> TargetIndex<V> {
    #[inline]
    fn hash(&self, key: &str) -> u32 {
        u32::try_from(self.hasher.hash(key.as_bytes()) & 0xffff_ffff).unwrap_or(0)
    }

    #[inline(always)]
    fn find(&self, key: &str) -> Option<usize> {
        let hash = self.hash(key);
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots.get(i)?.as_ref()?;
            if slot.hash == hash && slot.key.is(key) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// What `key` names.
    #[inline(always)]
    pub fn get(&self, key: &str) -> Option<&V> {
        let i = self.find(key)?;
        self.slots.get(i)?.as_ref().map(|s| &s.target)
    }

    /// True when `key` names something.
    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> bool {
        self.find(key.as_ref()).is_some()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for `more` keys without growing.
    pub fn reserve(&mut self, more: usize) {
        let need = ((self.len + more) * 2).next_power_of_two();
        if need > self.slots.len() {
            self.grow_to(need);
        }
    }

    /// Maps `key` to `target`, returning what it mapped to before.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the map it replaced took its keys by value; callers build one per insert"
    )]
    pub fn insert(&mut self, key: CompactString, target: V) -> Option<V> {
        if let Some(i) = self.find(&key) {
            let slot = self.slots.get_mut(i)?.as_mut()?;
            return Some(std::mem::replace(&mut slot.target, target));
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow_to((self.slots.len() * 2).max(MIN_SLOTS));
        }
        let hash = self.hash(&key);
        self.place(TargetSlot {
            hash,
            key: PackedKey::new(&key),
            target,
        });
        self.len += 1;
        None
    }

    /// Unmaps `key`, returning what it mapped to.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<V> {
        let mut i = self.find(key.as_ref())?;
        let removed = self.slots.get_mut(i)?.take().map(|s| s.target);
        let mask = self.slots.len() - 1;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let Some(home) = self
                .slots
                .get(j)
                .and_then(Option::as_ref)
                .map(|s| s.hash as usize & mask)
            else {
                break;
            };
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                let moved = self.slots.get_mut(j).and_then(Option::take);
                if let Some(dst) = self.slots.get_mut(i) {
                    *dst = moved;
                }
                i = j;
            }
        }
        self.len -= 1;
        removed
    }

    fn place(&mut self, slot: TargetSlot<V>) {
        let mask = self.slots.len() - 1;
        let mut i = slot.hash as usize & mask;
        while self.slots.get(i).is_some_and(Option::is_some) {
            i = (i + 1) & mask;
        }
        if let Some(dst) = self.slots.get_mut(i) {
            *dst = Some(slot);
        }
    }

    fn grow_to(&mut self, slots: usize) {
        let mut fresh = Vec::new();
        fresh.resize_with(slots.max(MIN_SLOTS), || None);
        let old = std::mem::replace(&mut self.slots, fresh);
        for slot in old.into_iter().flatten() {
            self.place(slot);
        }
    }
}

#[cfg(test)]
mod target_tests {
    use super::*;

    fn key(i: u32) -> String {
        // Lengths from 1 to 60 bytes: short and long keys, every tail length.
        let base = format!("org{i}/project-{i}-{}", "x".repeat((i % 41) as usize));
        base.get(..(i as usize % 60) + 1)
            .unwrap_or(&base)
            .to_owned()
    }

    #[test]
    fn behaves_like_a_map_through_inserts_and_removals() {
        let mut ix = TargetIndex::default();
        let mut model = std::collections::HashMap::new();
        for i in 0..600u32 {
            let k = key(i);
            let t = i;
            assert_eq!(ix.insert(k.as_str().into(), t), model.insert(k.clone(), t));
            if i % 3 == 0 {
                let gone = key(i / 2);
                assert_eq!(ix.remove(&gone), model.remove(&gone));
            }
            if i % 50 == 0 {
                for j in 0..700 {
                    let k = key(j);
                    assert_eq!(ix.get(&k), model.get(&k), "{k}");
                    assert_eq!(ix.contains_key(&k), model.contains_key(&k));
                }
            }
        }
        assert_eq!(ix.len(), model.len());
        for other in [
            "",
            "o",
            "org1/project-1-",
            "org1/project-1-x",
            &"y".repeat(80),
        ] {
            assert_eq!(ix.get(other), model.get(other), "{other}");
        }
    }

    #[test]
    fn short_keys_differing_in_one_byte_are_different() {
        let mut ix = TargetIndex::default();
        let k = "acme/web-production";
        ix.insert(k.into(), 1u32);
        for i in 0..k.len() {
            let mut b = k.as_bytes().to_vec();
            if let Some(c) = b.get_mut(i) {
                *c ^= 1;
            }
            assert!(ix.get(std::str::from_utf8(&b).unwrap_or("")).is_none());
        }
        assert!(ix.get("acme/web-productio").is_none());
        assert!(ix.get("acme/web-production\0").is_none());
        assert_eq!(ix.get(k), Some(&1));
    }
}
