//! The check path's indexes: email → [`HotUser`] (and the users' order by email), and
//! target string → what it names (`TargetRef`, the value `state/tables.rs` keeps).
//!
//! The index is an open-addressing table with linear probing, at most half full. Slot
//! `i` is two parallel entries: `slots[i]` (`hash: u32 | user id: u32`, 8 bytes, so the
//! probe reads few cache lines) and `views[i]`, the user's [`HotUser`] itself. Both are
//! at the address the hash gives, so the processor fetches them together, and the view's
//! words are the only dependent fetch of a lookup. The keys are not stored in the slots:
//! a slot whose hash matches is confirmed against the email the view holds, which the
//! check reads next anyway. The hash is foldhash's, seeded per process because emails are
//! attacker-chosen, and inlined for keys of 16 to 32 bytes ([`KeyHasher`]); the target
//! index below uses the same.

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function: measured under callgrind, 935 → 784 instructions per `check` from Python (benchmarks/count_instructions.py)"
)]

use std::sync::OnceLock;

use compact_str::CompactString;

use crate::model::{HotUser, UserRec};
use crate::state::hash::KeyHasher;

const EMPTY: u64 = u64::MAX;
const NOWHERE: u32 = u32::MAX;
const MIN_SLOTS: usize = 16;

/// Email → [`HotUser`], plus each user's slot by id.
///
/// INVARIANT: `slots[i]` is `EMPTY` exactly when `views[i]` is `None`; otherwise the view
/// is user `slot_id(slots[i])`'s, made with the email whose hash `slots[i]` holds, and
/// `at[that id] == i`. Every other `at` entry is `NOWHERE`. The table is a power of two
/// long and at most half full.
#[derive(Debug, Clone, Default)]
pub struct UserIndex {
    slots: Vec<u64>,
    views: Vec<Option<HotUser>>,
    /// Slot of each user id (`NOWHERE` when not indexed).
    at: Vec<u32>,
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

impl UserIndex {
    /// An empty index with room for `users` users.
    pub fn with_capacity(users: usize) -> Self {
        let mut index = UserIndex::default();
        index.at.reserve_exact(users);
        index.grow_to((users * 2).next_power_of_two());
        index
    }

    #[inline]
    fn hash(&self, email: &str) -> u32 {
        // The low 32 bits: they pick the home slot and are kept in it.
        u32::try_from(self.hasher.hash(email.as_bytes()) & 0xffff_ffff).unwrap_or(0)
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

    /// Asks the processor to start fetching the home slot of `hash` (the slot word and
    /// the view's pointer), without waiting for it.
    #[inline(always)]
    pub fn prefetch(&self, hash: u32) {
        let i = hash as usize & self.slots.len().wrapping_sub(1);
        if let (Some(s), Some(v)) = (self.slots.get(i), self.views.get(i)) {
            prefetch(std::ptr::from_ref(s));
            prefetch(std::ptr::from_ref(v));
        }
    }

    /// Asks the processor to start fetching the first two cache lines of the view in the
    /// home slot of `hash` (usually the user's: the table is at most half full). Reads
    /// the slot's pointer, so [`UserIndex::prefetch`] should have run a while before.
    #[inline(always)]
    pub fn prefetch_view(&self, hash: u32) {
        let i = hash as usize & self.slots.len().wrapping_sub(1);
        if let Some(Some(u)) = self.views.get(i) {
            let p = u.words_ptr();
            prefetch(p);
            prefetch(p.wrapping_add(8));
        }
    }

    /// [`UserIndex::get`] with the hash already computed by [`UserIndex::hash_of`].
    #[inline(always)]
    pub fn get_hashed(&self, email: &str, hash: u32) -> Option<&HotUser> {
        let i = self.find_hashed(email, hash)?;
        self.views.get(i).and_then(Option::as_ref)
    }

    /// The slot holding exactly this email.
    #[inline(always)]
    fn find(&self, email: &str) -> Option<usize> {
        self.find_hashed(email, self.hash(email))
    }

    /// [`UserIndex::find`] with the hash of `email` given.
    #[inline(always)]
    fn find_hashed(&self, email: &str, hash: u32) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        loop {
            let s = *self.slots.get(i)?;
            if s == EMPTY {
                return None;
            }
            if slot_hash(s) == hash
                && self.views.get(i).and_then(Option::as_ref).is_some_and(|u| {
                    // The memberships are usually in the view's second or third line:
                    // fetch them while the first is on its way, not after it.
                    prefetch_rest(u);
                    u.email_is(email)
                })
            {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The view of the user with exactly this email.
    #[inline(always)]
    pub fn get<Q: AsRef<str> + ?Sized>(&self, email: &Q) -> Option<&HotUser> {
        let email = email.as_ref();
        self.get_hashed(email, self.hash(email))
    }

    /// The view of user `uid`.
    #[inline]
    pub fn by_id(&self, uid: u32) -> Option<&HotUser> {
        let i = *self.at.get(uid as usize)?;
        self.views.get(i as usize).and_then(Option::as_ref)
    }

    /// Indexes `hot` (user `hot.id()`) under `email`, replacing whatever was indexed under
    /// that email or that id.
    pub fn insert(&mut self, email: &str, hot: HotUser) {
        self.remove(email);
        let uid = hot.id();
        if uid == u32::MAX {
            return; // never reached: ids are positions in a Vec that would not fit in memory
        }
        if let Some(i) = self.at.get(uid as usize).copied().filter(|&i| i != NOWHERE) {
            self.delete_slot(i as usize);
        }
        let hot = if hot.email_is(email) {
            hot
        } else {
            hot.with_email(email)
        };
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow_to((self.slots.len() * 2).max(MIN_SLOTS));
        }
        let hash = self.hash(email);
        self.place(u64::from(hash) << 32 | u64::from(uid), Some(hot));
        self.len += 1;
        self.ranks = OnceLock::new();
    }

    /// Replaces the view of user `hot.id()` if that user is indexed (same email).
    pub fn set(&mut self, hot: HotUser) {
        if let Some(&i) = self.at.get(hot.id() as usize) {
            if let Some(Some(v)) = self.views.get_mut(i as usize) {
                *v = hot;
            }
        }
    }

    /// Takes the user with exactly this email out of the index, returning their view.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, email: &Q) -> Option<HotUser> {
        let i = self.find(email.as_ref())?;
        let hot = self.views.get_mut(i).and_then(Option::take);
        self.delete_slot(i);
        self.ranks = OnceLock::new();
        hot
    }

    /// Empties slot `i`, shifting back the entries after it that probed past it (linear
    /// probing needs no tombstones).
    fn delete_slot(&mut self, mut i: usize) {
        let mask = self.slots.len() - 1;
        if let Some(s) = self.slots.get(i) {
            if let Some(a) = self.at.get_mut(slot_id(*s) as usize) {
                *a = NOWHERE;
            }
        }
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots.get(j).copied().unwrap_or(EMPTY);
            if s == EMPTY {
                break;
            }
            let home = slot_hash(s) as usize & mask;
            // The entry at j may move to i when its home is not in (i, j] (cyclically).
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                let view = self.views.get_mut(j).and_then(Option::take);
                self.set_slot(i, s, view);
                i = j;
            }
        }
        self.set_slot(i, EMPTY, None);
        self.len -= 1;
    }

    /// Writes slot `i` and, for an entry, where its user is.
    fn set_slot(&mut self, i: usize, s: u64, view: Option<HotUser>) {
        if let (Some(dst), Some(v)) = (self.slots.get_mut(i), self.views.get_mut(i)) {
            *dst = s;
            *v = view;
        }
        if s != EMPTY {
            let uid = slot_id(s) as usize;
            if self.at.len() <= uid {
                self.at.resize(uid + 1, NOWHERE);
            }
            if let Some(a) = self.at.get_mut(uid) {
                *a = u32::try_from(i).unwrap_or(NOWHERE);
            }
        }
    }

    fn place(&mut self, s: u64, view: Option<HotUser>) {
        let mask = self.slots.len() - 1;
        let mut i = slot_hash(s) as usize & mask;
        while self.slots.get(i).is_some_and(|&x| x != EMPTY) {
            i = (i + 1) & mask;
        }
        self.set_slot(i, s, view);
    }

    fn grow_to(&mut self, slots: usize) {
        let n = slots.max(MIN_SLOTS);
        let old_slots = std::mem::replace(&mut self.slots, vec![EMPTY; n]);
        let mut old_views = std::mem::take(&mut self.views);
        self.views.resize_with(n, || None);
        for (s, v) in old_slots.into_iter().zip(old_views.iter_mut()) {
            if s != EMPTY {
                self.place(s, v.take());
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

    /// Heap bytes held by the index and the views (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
            + self.views.capacity() * std::mem::size_of::<Option<HotUser>>()
            + self.at.capacity() * 4
            + self
                .views
                .iter()
                .flatten()
                .map(HotUser::heap_bytes)
                .sum::<usize>()
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
fn prefetch_rest(view: &HotUser) {
    let p = view.words_ptr();
    prefetch(p.wrapping_add(8));
    prefetch(p.wrapping_add(view.words_len().clamp(1, 17) - 1));
}

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
mod tests {
    use super::*;

    fn view(uid: u32, email: &str) -> HotUser {
        HotUser::new(uid, email, &[])
    }

    fn email(i: u32) -> String {
        format!("user{i:05}@example.com")
    }

    #[test]
    fn finds_every_inserted_user_and_nothing_else() {
        let mut ix = UserIndex::default();
        for i in 0..2000 {
            ix.insert(&email(i), view(i, &email(i)));
        }
        for i in 0..2000 {
            assert_eq!(ix.get(&email(i)).map(HotUser::id), Some(i));
            assert_eq!(ix.by_id(i).map(HotUser::id), Some(i));
        }
        assert!(ix.get("user02000@example.com").is_none());
        assert!(consistent(&ix));
        assert!(ix.get("").is_none());
        assert!(ix.slots.len() >= 2 * ix.len && ix.slots.len().is_power_of_two());
    }

    /// The invariant of [`UserIndex`], checked slot by slot.
    fn consistent(ix: &UserIndex) -> bool {
        let mut n = 0;
        for (i, (s, v)) in ix.slots.iter().zip(&ix.views).enumerate() {
            match (*s == EMPTY, v) {
                (true, None) => {}
                (false, Some(v)) => {
                    n += 1;
                    let ok = v.id() == slot_id(*s)
                        && ix.at.get(v.id() as usize) == Some(&u32::try_from(i).unwrap_or(0));
                    if !ok {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        let placed = ix.at.iter().filter(|&&a| a != NOWHERE).count();
        n == ix.len && placed == n && ix.slots.len() == ix.views.len()
    }

    #[test]
    fn removal_keeps_the_other_users_reachable() {
        // Tiny tables wrap around often; remove in an order unrelated to insertion.
        for n in [3u32, 17, 100, 1000] {
            let mut ix = UserIndex::default();
            for i in 0..n {
                ix.insert(&email(i), view(i, &email(i)));
            }
            let mut gone = std::collections::BTreeSet::new();
            for k in 0..n {
                let i = (k * 7919) % n;
                assert_eq!(ix.remove(&email(i)).map(|u| u.id()), Some(i));
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
            assert!(ix.slots.iter().all(|&s| s == EMPTY));
        }
    }

    #[test]
    fn renaming_a_user_moves_their_view_under_the_new_email() {
        let mut ix = UserIndex::default();
        ix.insert("jane@example.com", view(0, "jane@example.com"));
        ix.insert("john@example.com", view(1, "john@example.com"));
        let hot = ix.remove("jane@example.com");
        assert!(hot.is_some());
        if let Some(hot) = hot {
            ix.insert("erased:0123456789abcdef", hot);
        }
        assert!(ix.get("jane@example.com").is_none());
        assert_eq!(ix.get("erased:0123456789abcdef").map(HotUser::id), Some(0));
        assert!(ix
            .by_id(0)
            .is_some_and(|u| u.email_is("erased:0123456789abcdef")));
        assert_eq!(ix.get("john@example.com").map(HotUser::id), Some(1));
        // Re-indexing an id under another email drops the old email.
        ix.insert("johnny@example.com", view(1, "johnny@example.com"));
        assert!(ix.get("john@example.com").is_none());
        assert_eq!(ix.len, 2);
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
            ix.insert(&u.email, view(i, &u.email));
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
        ix.insert("0@x.io", view(3, "0@x.io"));
        assert!(ix.ranks_if_fresh().is_none());
        assert_eq!(&*ix.ranks(&more).rank, &[3, 1, 2, 0]);
        assert_eq!(&*ix.ranks(&more).order, &[3, 1, 2, 0]);
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
