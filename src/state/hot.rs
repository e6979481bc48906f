//! The check path's index of users: email → [`HotUser`], and the users' order by email
//! (the targets' index, built the same way, is `state/targets.rs`).
//!
//! The user index is an open-addressing table with linear probing, at most half full,
//! over an arena of views. Slot `i` is two words, `hash: u32 | user id: u32` and
//! `offset: u32 | length: u32` of the user's [`HotUser`] in the arena, so a probe reads
//! one cache line and the view's words are the only dependent fetch of a lookup. Both the
//! slots and the arena are [`Words`]: from 2 MiB on, on transparent huge pages, so that
//! the large workload's random lookups do not also miss the address-translation cache
//! (`src/state/words.rs`). The keys are not stored in the slots: a slot whose hash
//! matches is confirmed against the email the view holds, which the check reads next
//! anyway. The hash is foldhash's, seeded per process because emails are
//! attacker-chosen, and inlined for keys of 16 to 32 bytes ([`KeyHasher`]); the target
//! index uses the same.
//!
//! The arena is written only under the state's write lock. A view that changes is
//! rewritten in place when it fits in the room its user holds, else appended with a
//! quarter more room; the room it leaves is garbage, and the arena is compacted (copied
//! in slot order into a fresh buffer) before a write that finds a quarter or more of it
//! garbage (and at least [`COMPACT_FROM`] words), so that after any write at most a
//! quarter of the arena is garbage; removals alone do not compact.

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function: measured under callgrind, 935 → 784 instructions per `check` from Python (benchmarks/count_instructions.py)"
)]

use std::sync::OnceLock;

use crate::model::{HotUser, HotUserBuf, UserRec};
use crate::state::hash::KeyHasher;
use crate::state::words::Words;

const EMPTY: u64 = u64::MAX;
const NOWHERE: u32 = u32::MAX;
const MIN_SLOTS: usize = 16;
/// The arena is compacted only once this many words are garbage, so that a small graph
/// is not copied over and over.
const COMPACT_FROM: usize = 1024;

/// Email → [`HotUser`], plus each user's slot by id.
///
/// INVARIANT: the slot count is a power of two, at least twice `len`. Slot `i`'s key
/// (`slots[2i]`) is `EMPTY` for a free slot; otherwise it holds the hash of the email
/// the view was made with and user `slot_id(key)`, `at[that id] == i`, and its place
/// (`slots[2i + 1]`) the view's offset and length in `arena`, with `room[that id]`
/// words reserved from that offset (at least the length; while `set` moves a view, its
/// slot names no words and its user holds no room). Rooms of indexed users do not
/// overlap; `garbage` counts the arena's other words. Every other `at` entry is
/// `NOWHERE`, and its `room` 0.
#[derive(Debug, Clone, Default)]
pub struct UserIndex {
    /// Two words per slot: key, then place.
    slots: Words,
    /// The views' words.
    arena: Words,
    /// Arena words no indexed user holds.
    garbage: usize,
    /// Slot of each user id (`NOWHERE` when not indexed).
    at: Vec<u32>,
    /// Arena words each user id holds.
    room: Vec<u32>,
    len: usize,
    hasher: KeyHasher,
    /// The users in email order; dropped whenever an email comes or goes.
    ranks: OnceLock<Ranks>,
}

/// The users in email order, both ways round.
///
/// INVARIANT: `order[rank[uid]] == uid` for every user id below `rank.len()`.
#[derive(Debug, Clone, Default)]
pub struct Ranks {
    /// Rank of each user id in email order.
    pub rank: Box<[u32]>,
    /// The user ids in email order.
    pub order: Box<[u32]>,
}

#[inline]
fn slot_hash(s: u64) -> u32 {
    u32::try_from(s >> 32).unwrap_or(u32::MAX)
}

#[inline]
fn slot_id(s: u64) -> u32 {
    u32::try_from(s & 0xffff_ffff).unwrap_or(u32::MAX)
}

/// A place word: the view's offset and length.
#[inline(always)]
fn place_word(offset: usize, len: usize) -> u64 {
    let (Ok(offset), Ok(len)) = (u32::try_from(offset), u32::try_from(len)) else {
        // 2^32 words (32 GiB) of views: an allocation that cannot be made, handled as
        // the standard library handles those (the process stops).
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u64; 1 << 20]>());
    };
    u64::from(offset) << 32 | u64::from(len)
}

/// The arena's words a place word names.
#[inline(always)]
fn view_in(arena: &[u64], place: u64) -> &[u64] {
    let offset = (place >> 32) as usize;
    let len = (place & 0xffff_ffff) as usize;
    arena.get(offset..offset + len).unwrap_or_default()
}

/// The room a view of `len` words is given when it is appended after a change: a
/// quarter more, so that a grant or two more is written in place.
fn room_for(len: usize) -> usize {
    len + len / 4 + 2
}

impl UserIndex {
    /// An empty index with room for `users` users.
    pub fn with_capacity(users: usize) -> Self {
        let mut index = UserIndex::default();
        index.at.reserve_exact(users);
        index.room.reserve_exact(users);
        index.grow_to((users * 2).next_power_of_two());
        index
    }

    #[inline]
    fn hash(&self, email: &str) -> u32 {
        // The low 32 bits: they pick the home slot and are kept in it.
        u32::try_from(self.hasher.hash(email.as_bytes()) & 0xffff_ffff).unwrap_or(0)
    }

    /// The number of slots.
    #[inline(always)]
    fn slot_count(&self) -> usize {
        self.slots.len() / 2
    }

    /// The number of users indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no user is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash a lookup of `email` starts from, for [`UserIndex::prefetch`],
    /// [`UserIndex::prefetch_view`] and [`UserIndex::get_hashed`].
    #[inline(always)]
    pub fn hash_of(&self, email: &str) -> u32 {
        self.hash(email)
    }

    /// Asks the processor to start fetching the home slot of `hash` (its key and the
    /// view's place, one cache line), without waiting for it.
    #[inline(always)]
    pub fn prefetch(&self, hash: u32) {
        let i = hash as usize & self.slot_count().wrapping_sub(1);
        if let Some(s) = self.slots.as_slice().get(2 * i) {
            prefetch(std::ptr::from_ref(s));
        }
    }

    /// Asks the processor to start fetching the first two cache lines of the view in the
    /// home slot of `hash` (usually the user's: the table is at most half full). Reads
    /// the slot's place, so [`UserIndex::prefetch`] should have run a while before.
    #[inline(always)]
    pub fn prefetch_view(&self, hash: u32) {
        let i = hash as usize & self.slot_count().wrapping_sub(1);
        if let Some(&place) = self.slots.as_slice().get(2 * i + 1) {
            let p = self
                .arena
                .as_slice()
                .as_ptr()
                .wrapping_add((place >> 32) as usize);
            prefetch(p);
            prefetch(p.wrapping_add(8));
        }
    }

    /// [`UserIndex::get`] with the hash already computed by [`UserIndex::hash_of`].
    #[inline(always)]
    pub fn get_hashed(&self, email: &str, hash: u32) -> Option<HotUser<'_>> {
        self.find_hashed(email, hash).map(|(_, u)| u)
    }

    /// The slot holding exactly this email.
    fn find(&self, email: &str) -> Option<usize> {
        self.find_hashed(email, self.hash(email)).map(|(i, _)| i)
    }

    /// The slot holding exactly `email`, whose hash is `hash`, and its view.
    #[inline(always)]
    fn find_hashed(&self, email: &str, hash: u32) -> Option<(usize, HotUser<'_>)> {
        let slots = self.slots.as_slice();
        let arena = self.arena.as_slice();
        let mask = (slots.len() / 2).checked_sub(1)?;
        let mut i = hash as usize & mask;
        loop {
            let [key, place] = *slots.get(2 * i..2 * i + 2)? else {
                return None;
            };
            if key == EMPTY {
                return None;
            }
            if slot_hash(key) == hash {
                let u = HotUser::from_words(view_in(arena, place));
                // The memberships are usually in the view's second or third line:
                // fetch them while the first is on its way, not after it.
                prefetch_rest(u);
                if u.email_is(email) {
                    return Some((i, u));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The view of the user with exactly this email.
    #[inline(always)]
    pub fn get<Q: AsRef<str> + ?Sized>(&self, email: &Q) -> Option<HotUser<'_>> {
        let email = email.as_ref();
        self.get_hashed(email, self.hash(email))
    }

    /// The view in slot `i`.
    #[inline]
    fn view_at(&self, i: usize) -> Option<HotUser<'_>> {
        let slots = self.slots.as_slice();
        if *slots.get(2 * i)? == EMPTY {
            return None;
        }
        let place = *slots.get(2 * i + 1)?;
        Some(HotUser::from_words(view_in(self.arena.as_slice(), place)))
    }

    /// The view of user `uid`.
    #[inline]
    pub fn by_id(&self, uid: u32) -> Option<HotUser<'_>> {
        let i = *self.at.get(uid as usize)?;
        self.view_at(i as usize)
    }

    /// Indexes `hot` (user `hot.id()`) under `email`, replacing whatever was indexed under
    /// that email or that id.
    pub fn insert(&mut self, email: &str, hot: HotUser<'_>) {
        self.remove(email);
        let uid = hot.id();
        if uid == u32::MAX {
            return; // never reached: ids are positions in a Vec that would not fit in memory
        }
        if let Some(i) = self.at.get(uid as usize).copied().filter(|&i| i != NOWHERE) {
            self.delete_slot(i as usize);
        }
        let renamed;
        let hot = if hot.email_is(email) {
            hot
        } else {
            renamed = hot.with_email(email);
            renamed.view()
        };
        if (self.len + 1) * 2 > self.slot_count() {
            self.grow_to((self.slot_count() * 2).max(MIN_SLOTS));
        }
        let place = self.append(uid, hot.words(), hot.words().len());
        let hash = self.hash(email);
        self.place(u64::from(hash) << 32 | u64::from(uid), place);
        self.len += 1;
        self.ranks = OnceLock::new();
    }

    /// Replaces the view of user `hot.id()` if that user is indexed (same email).
    pub fn set(&mut self, hot: HotUser<'_>) {
        let words = hot.words();
        let uid = hot.id();
        let Some(&i) = self.at.get(uid as usize).filter(|&&i| i != NOWHERE) else {
            return;
        };
        let i = i as usize;
        let Some(&old) = self.slots.as_slice().get(2 * i + 1) else {
            return;
        };
        let room = self.room.get(uid as usize).copied().unwrap_or(0) as usize;
        let offset = (old >> 32) as usize;
        let place = if words.len() <= room {
            if let Some(dst) = self
                .arena
                .as_mut_slice()
                .get_mut(offset..offset + words.len())
            {
                dst.copy_from_slice(words);
            }
            place_word(offset, words.len())
        } else {
            // The old words become garbage; until the new ones are written the slot names
            // none, so that a compaction on the way copies nothing for this user.
            self.release(uid);
            if let Some(p) = self.slots.as_mut_slice().get_mut(2 * i + 1) {
                *p = 0;
            }
            self.append(uid, words, room_for(words.len()))
        };
        if let Some(p) = self.slots.as_mut_slice().get_mut(2 * i + 1) {
            *p = place;
        }
    }

    /// Takes the user with exactly this email out of the index, returning their view.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, email: &Q) -> Option<HotUserBuf> {
        let i = self.find(email.as_ref())?;
        let hot = self.view_at(i).map(HotUser::to_buf);
        self.delete_slot(i);
        self.ranks = OnceLock::new();
        hot
    }

    /// Counts user `uid`'s room as garbage.
    fn release(&mut self, uid: u32) {
        if let Some(r) = self.room.get_mut(uid as usize) {
            self.garbage += *r as usize;
            *r = 0;
        }
    }

    /// Writes `words` at the arena's end with `room` words reserved for user `uid`,
    /// compacting the arena first when a quarter of it is garbage (and at least
    /// [`COMPACT_FROM`] words); the place word. The user's slot, if any, must not hold a
    /// room (see [`UserIndex::release`]).
    fn append(&mut self, uid: u32, words: &[u64], room: usize) -> u64 {
        let room = room.max(words.len());
        if self.garbage >= COMPACT_FROM && self.garbage * 4 >= self.arena.len() {
            self.compact(room);
        }
        let offset = self.arena.extend_from_slice(words);
        self.arena.extend_with(room - words.len(), 0);
        let uid = uid as usize;
        if self.room.len() <= uid {
            self.room.resize(uid + 1, 0);
        }
        if let Some(r) = self.room.get_mut(uid) {
            *r = u32::try_from(room).unwrap_or(u32::MAX);
        }
        place_word(offset, words.len())
    }

    /// Copies the views into a fresh arena, in slot order and each with its room, with
    /// space for `more` words after them; the garbage is left behind.
    fn compact(&mut self, more: usize) {
        let live = self.arena.len() - self.garbage;
        let mut arena = Words::with_capacity((live + more) + (live + more) / 4);
        for i in 0..self.slot_count() {
            let slots = self.slots.as_slice();
            let (Some(&key), Some(&place)) = (slots.get(2 * i), slots.get(2 * i + 1)) else {
                break;
            };
            if key == EMPTY {
                continue;
            }
            let room = self.room.get(slot_id(key) as usize).copied().unwrap_or(0) as usize;
            let words = view_in(self.arena.as_slice(), place);
            let offset = arena.extend_from_slice(words);
            arena.extend_with(room.saturating_sub(words.len()), 0);
            if let Some(p) = self.slots.as_mut_slice().get_mut(2 * i + 1) {
                *p = place_word(offset, words.len());
            }
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// Empties slot `i`, releasing its user's room and shifting back the entries after
    /// it that probed past it (linear probing needs no tombstones).
    fn delete_slot(&mut self, mut i: usize) {
        let mask = self.slot_count() - 1;
        if let Some(&key) = self.slots.as_slice().get(2 * i) {
            if key != EMPTY {
                let uid = slot_id(key);
                if let Some(a) = self.at.get_mut(uid as usize) {
                    *a = NOWHERE;
                }
                self.release(uid);
            }
        }
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let slots = self.slots.as_slice();
            let key = slots.get(2 * j).copied().unwrap_or(EMPTY);
            if key == EMPTY {
                break;
            }
            let place = slots.get(2 * j + 1).copied().unwrap_or(0);
            let home = slot_hash(key) as usize & mask;
            // The entry at j may move to i when its home is not in (i, j] (cyclically).
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                self.set_slot(i, key, place);
                i = j;
            }
        }
        self.set_slot(i, EMPTY, 0);
        self.len -= 1;
    }

    /// Writes slot `i` and, for an entry, where its user is.
    fn set_slot(&mut self, i: usize, key: u64, place: u64) {
        if let Some(dst) = self.slots.as_mut_slice().get_mut(2 * i..2 * i + 2) {
            dst.copy_from_slice(&[key, place]);
        }
        if key != EMPTY {
            let uid = slot_id(key) as usize;
            if self.at.len() <= uid {
                self.at.resize(uid + 1, NOWHERE);
            }
            if let Some(a) = self.at.get_mut(uid) {
                *a = u32::try_from(i).unwrap_or(NOWHERE);
            }
        }
    }

    fn place(&mut self, key: u64, place: u64) {
        let mask = self.slot_count() - 1;
        let mut i = slot_hash(key) as usize & mask;
        while self
            .slots
            .as_slice()
            .get(2 * i)
            .is_some_and(|&x| x != EMPTY)
        {
            i = (i + 1) & mask;
        }
        self.set_slot(i, key, place);
    }

    fn grow_to(&mut self, slots: usize) {
        let n = slots.max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, Words::filled(2 * n, EMPTY));
        for pair in old.as_slice().chunks_exact(2) {
            if let [key, place] = *pair {
                if key != EMPTY {
                    self.place(key, place);
                }
            }
        }
    }

    /// The users in email order (`users` are the records the views were built from).
    /// Computed on first use after an email came or went.
    pub fn ranks(&self, users: &[UserRec]) -> &Ranks {
        self.ranks.get_or_init(|| {
            let mut ids: Vec<u32> = (0..users.len())
                .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect();
            ids.sort_unstable_by(|a, b| {
                let email = |i: &u32| users.get(*i as usize).map(|u| &*u.email);
                email(a).cmp(&email(b))
            });
            let mut rank = vec![0u32; users.len()];
            for (r, id) in ids.iter().enumerate() {
                if let Some(slot) = rank.get_mut(*id as usize) {
                    *slot = u32::try_from(r).unwrap_or(u32::MAX);
                }
            }
            Ranks {
                rank: rank.into_boxed_slice(),
                order: ids.into_boxed_slice(),
            }
        })
    }

    /// The ranks of [`UserIndex::ranks`] if no email came or went since they were made.
    pub fn ranks_if_fresh(&self) -> Option<&Ranks> {
        self.ranks.get()
    }
}

/// A hint that the cache line holding `p` will be read soon: a prefetch instruction on
/// x86-64 (nothing elsewhere). It never faults and changes nothing the program can see,
/// whatever the address.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    #[expect(
        unsafe_code,
        reason = "`_mm_prefetch` is an unsafe fn only because it is a target-feature intrinsic taking a pointer"
    )]
    // SAFETY: SSE (which `prefetcht0` belongs to) is part of the x86-64 baseline, so the
    // instruction exists on every processor this code runs on; a prefetch does not
    // dereference the pointer in the language's sense: it never faults, even for an
    // invalid address, and has no effect but on the caches.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks the processor to fetch the lines of `view` after its first, up to its 128th
/// byte past the first word, without waiting for them.
#[inline(always)]
fn prefetch_rest(view: HotUser<'_>) {
    let p = view.words_ptr();
    prefetch(p.wrapping_add(8));
    prefetch(p.wrapping_add(view.words_len().clamp(1, 17) - 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(uid: u32, email: &str) -> HotUserBuf {
        HotUserBuf::new(uid, email, &[])
    }

    fn email(i: u32) -> String {
        format!("user{i:05}@example.com")
    }

    #[test]
    fn finds_every_inserted_user_and_nothing_else() {
        let mut ix = UserIndex::default();
        for i in 0..2000 {
            ix.insert(&email(i), view(i, &email(i)).view());
        }
        for i in 0..2000 {
            assert_eq!(ix.get(&email(i)).map(HotUser::id), Some(i));
            assert_eq!(ix.by_id(i).map(HotUser::id), Some(i));
        }
        assert!(ix.get("user02000@example.com").is_none());
        assert!(consistent(&ix));
        assert!(ix.get("").is_none());
        assert!(ix.slot_count() >= 2 * ix.len && ix.slot_count().is_power_of_two());
    }

    /// The invariant of [`UserIndex`], checked slot by slot: every key's place holds
    /// that user's view within their room, rooms do not overlap, and the garbage is the
    /// arena's words outside them.
    fn consistent(ix: &UserIndex) -> bool {
        let mut n = 0;
        let mut rooms: Vec<(usize, usize)> = Vec::new();
        for (i, pair) in ix.slots.as_slice().chunks(2).enumerate() {
            let [key, place] = *pair else { return false };
            if key == EMPTY {
                continue;
            }
            n += 1;
            let uid = slot_id(key);
            let v = HotUser::from_words(view_in(ix.arena.as_slice(), place));
            let room = ix.room.get(uid as usize).copied().unwrap_or(0) as usize;
            let offset = (place >> 32) as usize;
            let ok = v.id() == uid
                && ix.at.get(uid as usize) == Some(&u32::try_from(i).unwrap_or(0))
                && v.words_len() == (place & 0xffff_ffff) as usize
                && v.words_len() <= room
                && offset + room <= ix.arena.len();
            if !ok {
                return false;
            }
            rooms.push((offset, room));
        }
        rooms.sort_unstable();
        let apart = rooms.windows(2).all(|w| match w {
            [(a, r), (b, _)] => a + r <= *b,
            _ => true,
        });
        let held: usize = rooms.iter().map(|(_, r)| r).sum();
        let placed = ix.at.iter().filter(|&&a| a != NOWHERE).count();
        let unheld = (0..ix.room.len())
            .all(|u| ix.at.get(u).is_some_and(|&a| a != NOWHERE) || ix.room.get(u) == Some(&0));
        n == ix.len
            && placed == n
            && apart
            && unheld
            && held + ix.garbage == ix.arena.len()
            && ix.slot_count().is_power_of_two()
    }

    #[test]
    fn removal_keeps_the_other_users_reachable() {
        // Tiny tables wrap around often; remove in an order unrelated to insertion.
        for n in [3u32, 17, 100, 1000] {
            let mut ix = UserIndex::default();
            for i in 0..n {
                ix.insert(&email(i), view(i, &email(i)).view());
            }
            let mut gone = std::collections::BTreeSet::new();
            for k in 0..n {
                let i = (k * 7919) % n;
                assert_eq!(ix.remove(&email(i)).map(|u| u.view().id()), Some(i));
                assert!(ix.remove(&email(i)).is_none());
                gone.insert(i);
                assert!(consistent(&ix), "n {n} k {k}");
                if k % 13 == 0 || n < 20 {
                    for j in 0..n {
                        let found = ix.get(&email(j)).map(HotUser::id);
                        assert_eq!(
                            found,
                            (!gone.contains(&j)).then_some(j),
                            "n {n} k {k} j {j}"
                        );
                    }
                }
            }
            assert_eq!(ix.len, 0);
            assert!(ix
                .slots
                .as_slice()
                .chunks(2)
                .all(|s| s.first() == Some(&EMPTY)));
        }
    }

    #[test]
    fn renaming_a_user_moves_their_view_under_the_new_email() {
        let mut ix = UserIndex::default();
        ix.insert("jane@example.com", view(0, "jane@example.com").view());
        ix.insert("john@example.com", view(1, "john@example.com").view());
        let hot = ix.remove("jane@example.com");
        assert!(hot.is_some());
        if let Some(hot) = hot {
            ix.insert("erased:0123456789abcdef", hot.view());
        }
        assert!(ix.get("jane@example.com").is_none());
        assert_eq!(ix.get("erased:0123456789abcdef").map(HotUser::id), Some(0));
        assert!(ix
            .by_id(0)
            .is_some_and(|u| u.email_is("erased:0123456789abcdef")));
        assert_eq!(ix.get("john@example.com").map(HotUser::id), Some(1));
        // Re-indexing an id under another email drops the old email.
        ix.insert("johnny@example.com", view(1, "johnny@example.com").view());
        assert!(ix.get("john@example.com").is_none());
        assert_eq!(ix.len, 2);
    }

    /// A user's view with `grants` grants in org 0 (projects 0, 2, 4, ...).
    fn with_grants(uid: u32, email: &str, grants: u32) -> HotUserBuf {
        use crate::model::{Grant, Membership};
        use crate::roles::{OrgRole, ProjectRole};
        use crate::time::Instant;
        let mut m = Membership::new(0, OrgRole::Member, None, Instant(0));
        m.grants = (0..grants)
            .map(|p| Grant::new(ProjectRole::Viewer, None, None, None, Instant(0)).on(2 * p))
            .collect();
        HotUserBuf::new(uid, email, &[m])
    }

    #[test]
    fn views_rewritten_in_place_moved_and_compacted_read_back_whole() {
        let n = 300u32;
        let mut ix = UserIndex::with_capacity(n as usize);
        let mut grants = vec![0u32; n as usize];
        for i in 0..n {
            ix.insert(&email(i), with_grants(i, &email(i), 0).view());
        }
        assert!(consistent(&ix));
        let (mut in_place, mut moved, mut compactions) = (0, 0, 0);
        // Grow, shrink and regrow views in an order unrelated to the ids: some fit in
        // their room, some move and leave garbage, and the garbage is compacted away.
        for k in 0..6000u32 {
            let uid = (k * 7919) % n;
            let g = grants.get_mut(uid as usize);
            let Some(g) = g else { continue };
            *g = if k % 5 == 4 { *g / 2 } else { *g + 1 + k % 3 };
            let before = ix.arena.len();
            ix.set(with_grants(uid, &email(uid), *g).view());
            match ix.arena.len() {
                len if len < before => compactions += 1,
                len if len == before => in_place += 1,
                _ => moved += 1,
            }
            // After a write, at most a quarter of the arena is garbage (or less than
            // the compaction threshold).
            assert!(
                ix.garbage < COMPACT_FROM || ix.garbage * 4 < ix.arena.len(),
                "k {k}: {} of {}",
                ix.garbage,
                ix.arena.len()
            );
            if k % 97 == 0 {
                assert!(consistent(&ix), "k {k}");
            }
        }
        assert!(consistent(&ix));
        assert!(
            in_place > 0 && moved > 0 && compactions > 0,
            "{in_place} {moved} {compactions}"
        );
        for i in 0..n {
            let want = with_grants(i, &email(i), grants.get(i as usize).copied().unwrap_or(0));
            assert_eq!(
                ix.get(&email(i)).map(HotUser::words),
                Some(want.view().words())
            );
            assert_eq!(ix.by_id(i).map(HotUser::words), Some(want.view().words()));
        }
        // Removing everyone leaves every word garbage, and the next insert starts over.
        for i in 0..n {
            assert!(ix.remove(&email(i)).is_some());
        }
        assert!(consistent(&ix));
        assert_eq!(ix.garbage, ix.arena.len());
        ix.insert(&email(0), with_grants(0, &email(0), 3).view());
        assert!(consistent(&ix));
        assert_eq!(ix.get(&email(0)).map(HotUser::id), Some(0));
    }

    #[test]
    fn a_large_index_is_on_huge_page_mappings() {
        let n = 40_000u32;
        let mut ix = UserIndex::with_capacity(n as usize);
        for i in 0..n {
            ix.insert(&email(i), with_grants(i, &email(i), 4).view());
        }
        assert!(ix.slots.is_mapped(), "{} slot words", ix.slots.len());
        assert!(ix.arena.is_mapped(), "{} arena words", ix.arena.len());
        assert!(consistent(&ix));
        // Views grown (moved), then shrunk (in place), until the mapped arena is
        // compacted into a fresh mapping: every view reads back as written.
        let grants = |i: u32, round: u32| 4 + (i + round) % 7;
        let mut compacted = false;
        for round in 1..=3 {
            for i in (0..n).step_by(2) {
                let before = ix.arena.len();
                ix.set(with_grants(i, &email(i), grants(i, round)).view());
                compacted |= ix.arena.len() < before;
            }
        }
        assert!(compacted && ix.arena.is_mapped());
        assert!(consistent(&ix));
        for i in 0..n {
            let g = if i % 2 == 0 { grants(i, 3) } else { 4 };
            let want = with_grants(i, &email(i), g);
            assert_eq!(
                ix.get(&email(i)).map(HotUser::words),
                Some(want.view().words())
            );
        }
    }

    #[test]
    fn ranks_follow_email_order_and_are_dropped_on_change() {
        let users: Vec<UserRec> = ["c@x.io", "a@x.io", "b@x.io"]
            .iter()
            .map(|e| UserRec {
                email: (*e).into(),
                name: None,
                title: None,
                memberships: Vec::new(),
            })
            .collect();
        let mut ix = UserIndex::default();
        for (i, u) in (0u32..).zip(&users) {
            ix.insert(&u.email, view(i, &u.email).view());
        }
        assert_eq!(&*ix.ranks(&users).rank, &[2, 0, 1]);
        assert_eq!(&*ix.ranks(&users).order, &[1, 2, 0]);
        let mut more = users.clone();
        more.push(UserRec {
            email: "0@x.io".into(),
            ..users.first().cloned().unwrap_or_else(|| UserRec {
                email: "".into(),
                name: None,
                title: None,
                memberships: Vec::new(),
            })
        });
        ix.insert("0@x.io", view(3, "0@x.io").view());
        assert!(ix.ranks_if_fresh().is_none());
        assert_eq!(&*ix.ranks(&more).rank, &[3, 1, 2, 0]);
        assert_eq!(&*ix.ranks(&more).order, &[3, 1, 2, 0]);
    }
}
