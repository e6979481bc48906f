//! [`Words`]: a growable buffer of 64-bit words for the check path's big tables (the
//! user index's slots and the users' views), which a buffer of 2 MiB or more keeps in
//! anonymous memory the kernel is asked to back with transparent huge pages.
//!
//! **Why.** On the large workload (100,000 users) a `check` reads a random slot and a
//! random view out of about 28 MB, and on 4 KiB pages each of those reads can also miss
//! the processor's address-translation cache, whose page walk is one more dependent
//! fetch; a 2 MiB page covers what 512 small ones do. (This VM exposes no performance
//! counters to count the misses; the effect was measured instead.) With every
//! allocation of the process on huge pages (glibc's `glibc.malloc.hugetlb=1`, three runs
//! alternated with three without, on a busy host) the large `check` took 383–507 ns
//! against 498–635 ns, 0.37–0.51 of the dict's time against 0.42–0.56.
//! `docs/performance.md` has the figures of the user index on these buffers (its views
//! in one arena and its tables on huge pages, measured together).
//!
//! A smaller buffer is an ordinary heap allocation: a huge page cannot back less than
//! 2 MiB, and a graph in a test suite should not cost a mapping. Where the kernel says no
//! (THP disabled, no `madvise`, a mapping refused), the buffer works the same on small
//! pages.

use memmap2::{MmapMut, MmapOptions};

/// Buffers from this many bytes are mapped and advised for huge pages.
const MAPPED_FROM: usize = 2 << 20;
/// A huge page's size: a mapped buffer's length is a multiple of it.
const HUGE_PAGE: usize = 2 << 20;

/// A growable buffer of `u64`s; see the module docs.
///
/// INVARIANT: `len <= capacity()`; every word of the storage is initialised (zero where
/// nothing was written).
#[derive(Debug, Default)]
pub struct Words {
    store: Store,
    len: usize,
}

#[derive(Debug)]
enum Store {
    Heap(Box<[u64]>),
    Mapped(MmapMut),
}

impl Default for Store {
    fn default() -> Self {
        Store::Heap(Box::default())
    }
}

impl Store {
    /// Zeroed storage for at least `words` words.
    fn zeroed(words: usize) -> Store {
        let bytes = words.saturating_mul(8);
        if bytes >= MAPPED_FROM {
            let rounded = bytes.div_ceil(HUGE_PAGE).saturating_mul(HUGE_PAGE);
            if let Ok(map) = MmapOptions::new().len(rounded).map_anon() {
                #[cfg(target_os = "linux")]
                // Refused when the kernel has THP off or never for this process: the
                // mapping then stays on small pages, which is all a hint can cost.
                let _ = map.advise(memmap2::Advice::HugePage);
                return Store::Mapped(map);
            }
        }
        Store::Heap(vec![0; words].into_boxed_slice())
    }

    #[inline]
    fn words(&self) -> &[u64] {
        match self {
            Store::Heap(b) => b,
            Store::Mapped(m) => as_words(m),
        }
    }

    #[inline]
    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            Store::Heap(b) => b,
            Store::Mapped(m) => as_words_mut(m),
        }
    }
}

/// The words of a mapping.
#[inline]
#[expect(
    clippy::cast_ptr_alignment,
    reason = "a mapping starts on a page boundary"
)]
fn as_words(map: &MmapMut) -> &[u64] {
    #[expect(
        unsafe_code,
        reason = "the check path's tables read as words from a huge-page mapping (src/state/words.rs)"
    )]
    // SAFETY: an anonymous mapping is page-aligned (so 8-byte aligned), `map.len()`
    // bytes long and zero-filled by the kernel, and every bit pattern is a valid `u64`;
    // the slice borrows `map`, so it cannot outlive the mapping, and no `&mut` to the
    // bytes exists while it does (the borrow checker holds `map` shared).
    unsafe {
        std::slice::from_raw_parts(map.as_ptr().cast::<u64>(), map.len() / 8)
    }
}

/// The words of a mapping, to write.
#[inline]
#[expect(
    clippy::cast_ptr_alignment,
    reason = "a mapping starts on a page boundary"
)]
fn as_words_mut(map: &mut MmapMut) -> &mut [u64] {
    #[expect(
        unsafe_code,
        reason = "the check path's tables written as words into a huge-page mapping (src/state/words.rs)"
    )]
    // SAFETY: as in `as_words`, and the slice borrows `map` exclusively.
    unsafe {
        std::slice::from_raw_parts_mut(map.as_mut_ptr().cast::<u64>(), map.len() / 8)
    }
}

impl Words {
    /// An empty buffer with room for `words` words.
    pub fn with_capacity(words: usize) -> Self {
        Words {
            store: Store::zeroed(words),
            len: 0,
        }
    }

    /// A buffer of `len` copies of `word`.
    pub fn filled(len: usize, word: u64) -> Self {
        let mut w = Words::with_capacity(len);
        if let Some(all) = w.store.words_mut().get_mut(..len) {
            all.fill(word);
        }
        w.len = len;
        w
    }

    /// The number of words written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no word is written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The words the buffer has room for without growing.
    pub fn capacity(&self) -> usize {
        self.store.words().len()
    }

    /// True when the buffer is in a mapping advised for huge pages.
    pub fn is_mapped(&self) -> bool {
        matches!(self.store, Store::Mapped(_))
    }

    /// The words written.
    #[inline]
    pub fn as_slice(&self) -> &[u64] {
        self.store.words().get(..self.len).unwrap_or_default()
    }

    /// The words written, to edit in place.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u64] {
        let len = self.len;
        self.store.words_mut().get_mut(..len).unwrap_or_default()
    }

    /// Appends `words`, growing the buffer (to twice its size, or more if need be) when
    /// they do not fit; returns where they start.
    pub fn extend_from_slice(&mut self, words: &[u64]) -> usize {
        let (at, dst) = self.append_slots(words.len());
        dst.copy_from_slice(words);
        at
    }

    /// Appends `n` copies of `word`, growing the buffer as
    /// [`Words::extend_from_slice`] does.
    pub fn extend_with(&mut self, n: usize, word: u64) {
        self.append_slots(n).1.fill(word);
    }

    /// Lengthens the buffer by `n` words, growing it when they do not fit; where they
    /// start, and the words themselves (zero: nothing shortens a buffer) to write.
    fn append_slots(&mut self, n: usize) -> (usize, &mut [u64]) {
        let at = self.len;
        let end = at.saturating_add(n);
        if end > self.capacity() {
            self.grow_to(end.max(self.capacity().saturating_mul(2)).max(16));
        }
        match self.store.words_mut().get_mut(at..end) {
            Some(dst) => {
                self.len = end;
                (at, dst)
            }
            None => (at, &mut []),
        }
    }

    /// Moves the words into storage for `words` words (at least `len`).
    fn grow_to(&mut self, words: usize) {
        let mut store = Store::zeroed(words.max(self.len));
        if let (Some(dst), Some(src)) = (
            store.words_mut().get_mut(..self.len),
            self.store.words().get(..self.len),
        ) {
            dst.copy_from_slice(src);
        }
        self.store = store;
    }
}

impl Clone for Words {
    fn clone(&self) -> Self {
        let mut w = Words::with_capacity(self.len);
        w.extend_from_slice(self.as_slice());
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_buffer_is_on_the_heap_and_a_big_one_is_mapped() {
        assert!(!Words::with_capacity(1000).is_mapped());
        let big = Words::filled(MAPPED_FROM / 8, 7);
        assert!(big.is_mapped(), "2 MiB of words is mapped");
        assert_eq!(big.capacity() * 8 % HUGE_PAGE, 0, "in whole huge pages");
        assert!(big.as_slice().iter().all(|&w| w == 7));
    }

    #[test]
    fn appending_past_the_mapping_threshold_keeps_every_word() {
        let mut w = Words::default();
        let mut starts = Vec::new();
        for i in 0..400_000u64 {
            starts.push(w.extend_from_slice(&[i, !i]));
        }
        assert!(w.is_mapped());
        assert_eq!(w.len(), 800_000);
        for (i, at) in starts.into_iter().enumerate() {
            let i = i as u64;
            assert_eq!(w.as_slice().get(at..at + 2), Some(&[i, !i][..]));
        }
        let copy = w.clone();
        assert_eq!(copy.as_slice(), w.as_slice());
        assert!(copy.is_mapped());
    }

    #[test]
    fn edits_in_place_are_seen_and_a_clone_is_independent() {
        let mut w = Words::filled(MAPPED_FROM / 8 + 1, u64::MAX);
        let copy = w.clone();
        if let Some(x) = w.as_mut_slice().last_mut() {
            *x = 3;
        }
        assert_eq!(w.as_slice().last(), Some(&3));
        assert_eq!(copy.as_slice().last(), Some(&u64::MAX));
        assert!(Words::default().as_slice().is_empty());
    }
}
