//! The check path's view of the records: a user's email, memberships and grants packed
//! into consecutive 64-bit words, so that a check reads one or two adjacent cache lines
//! after the index, and each project's org and flags in 8 bytes.
//!
//! A [`HotUserBuf`] writes the words from the user's records whenever they change
//! (`state/tables.rs` keeps them in step); the user index copies them into its arena
//! (`state/hot.rs`), and a [`HotUser`] reads them wherever they are. Nothing here edits
//! words: a change writes a whole new view.
//!
//! Layout of a [`HotUser`] (each line one 64-bit word, low bits first):
//!
//! ```text
//! uid: u32 | email length: u32
//! email bytes, 8 per word, zero-padded
//! per membership, to the end:
//!   org: u32 | grants: u32
//!   org role: u8 | org-wide role: u8 (0 = none) | wide: u8 | grant expiries: u32
//!   membership expiry: i64 (NEVER = none)
//!   org-wide expiry: i64
//!   per grant, sorted by project:
//!     compact: project: u32 | role: u8 | expiry ref: u24 (0 = never, k = k-th expiry word)
//!     wide:    project: u32 | role: u8, then expiry: i64
//!   compact only: the grants' expiries, i64 each
//! ```
//!
//! Most grants never expire, so a grant costs 8 bytes, and 16 when it expires. A
//! membership with 2^24 or more expiring grants is written wide (16 bytes per grant).
//! A membership is decoded only as far as a check reads it.

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function: measured under callgrind, 935 → 784 instructions per `check` from Python (benchmarks/count_instructions.py)"
)]

use super::records::{Grant, Membership};
use crate::roles::{OrgRole, ProjectRole};
use crate::time::Instant;

pub use crate::time::NEVER;

const WIDE: u64 = 1;
/// Expiry refs are 24 bits: a membership with more expiring grants is written wide.
const MAX_EXPIRY_REF: usize = (1 << 24) - 1;
/// Grants up to this many are scanned; longer lists are binary-searched.
const SCAN: usize = 16;

/// A grant as the check path sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotGrant {
    /// Project id (`u32::MAX` for the `org/*` grant).
    pub project: u32,
    /// Role.
    pub role: ProjectRole,
    /// Expiry in microseconds, [`NEVER`] for none.
    pub expires: i64,
}

/// A project as the check path sees it (8 bytes; the table stays in L1).
///
/// INVARIANT: rebuilt by `State::refresh_project` after every change to the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HotProject {
    /// Org id.
    pub org: u32,
    /// Restricted.
    pub restricted: bool,
    /// Default role.
    pub default_role: Option<ProjectRole>,
}

/// A user as the check path sees it: the email and every membership and grant, as words
/// (see the module docs for the layout), borrowed from where they are kept: the user
/// index's arena (`state/hot.rs`) or a [`HotUserBuf`].
///
/// INVARIANT: the words were written by [`HotUserBuf::new`] (or copied from such words),
/// from the user's current records: `State::refresh_user` rewrites them after every
/// change that touches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotUser<'a>(&'a [u64]);

/// The words of a [`HotUser`], owned: how a view is built, before the index stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotUserBuf(Box<[u64]>);

/// One membership of a [`HotUser`]: its words, decoded as they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotMembership<'a> {
    h0: u64,
    h1: u64,
    /// Expiry in microseconds, [`NEVER`] for none.
    pub expires: i64,
    ow_expires: i64,
    /// The grants, then (compact) their expiries.
    body: &'a [u64],
}

#[inline]
fn lo(w: u64) -> u32 {
    u32::try_from(w & 0xffff_ffff).unwrap_or(u32::MAX)
}

#[inline]
fn hi(w: u64) -> u32 {
    u32::try_from(w >> 32).unwrap_or(u32::MAX)
}

#[inline]
fn byte(w: u64, shift: u32) -> u8 {
    u8::try_from((w >> shift) & 0xff).unwrap_or(u8::MAX)
}

#[inline]
fn count(n: usize) -> u64 {
    u64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn org_role_code(r: OrgRole) -> u64 {
    match r {
        OrgRole::Member => 0,
        OrgRole::Admin => 1,
        OrgRole::Owner => 2,
    }
}

#[inline]
fn org_role(code: u8) -> OrgRole {
    match code {
        0 => OrgRole::Member,
        1 => OrgRole::Admin,
        _ => OrgRole::Owner,
    }
}

/// 1, 2, 3 for viewer, member, admin (0 stands for "no role" in the org-wide slot).
fn project_role_code(r: ProjectRole) -> u64 {
    match r {
        ProjectRole::Viewer => 1,
        ProjectRole::Member => 2,
        ProjectRole::Admin => 3,
    }
}

#[inline]
fn project_role(code: u8) -> Option<ProjectRole> {
    match code {
        1 => Some(ProjectRole::Viewer),
        2 => Some(ProjectRole::Member),
        3 => Some(ProjectRole::Admin),
        _ => None,
    }
}

fn expiry_word(g: Option<crate::time::Instant>) -> Option<u64> {
    g.map(|e| e.0.cast_unsigned())
}

/// Words after the four header words of a membership.
#[inline]
fn body_len(h0: u64, h1: u64) -> usize {
    let grants = hi(h0) as usize;
    if u64::from(byte(h1, 16)) & WIDE == 0 {
        grants + hi(h1) as usize
    } else {
        2 * grants
    }
}

impl HotUserBuf {
    /// The view of user `uid` with this (lower-case) email and these memberships.
    pub fn new(uid: u32, email: &str, memberships: &[Membership]) -> Self {
        let mut w = Vec::new();
        HotUserBuf::write(&mut w, uid, email, memberships);
        HotUserBuf(w.into_boxed_slice())
    }

    /// Writes the words of [`HotUserBuf::new`]'s view into `w` (emptied first), so that
    /// a loop over many users reuses one buffer; the view of them.
    pub fn write<'w>(
        w: &'w mut Vec<u64>,
        uid: u32,
        email: &str,
        memberships: &[Membership],
    ) -> HotUser<'w> {
        let bytes = email.as_bytes();
        w.clear();
        // The exact length: a box made of an oversized buffer would be shrunk, leaving a
        // free fragment behind (measured when each view was a box of its own: 12 B per
        // grant of resident memory on the large workload).
        let len =
            1 + bytes.len().div_ceil(8) + memberships.iter().map(membership_words).sum::<usize>();
        w.reserve_exact(len);
        w.push(u64::from(uid) | count(bytes.len()) << 32);
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            if let Some(head) = buf.get_mut(..chunk.len()) {
                head.copy_from_slice(chunk);
            }
            w.push(u64::from_le_bytes(buf));
        }
        for m in memberships {
            push_membership(w, m);
        }
        debug_assert_eq!(w.len(), len, "the length computed up front");
        HotUser(w)
    }

    /// The view of these words.
    #[inline]
    pub fn view(&self) -> HotUser<'_> {
        HotUser(&self.0)
    }
}

impl<'a> HotUser<'a> {
    /// The view held in `words`, which a [`HotUserBuf`] wrote (read back from where the
    /// index copied them).
    #[inline(always)]
    pub fn from_words(words: &'a [u64]) -> Self {
        HotUser(words)
    }

    /// The words of the view.
    #[inline(always)]
    pub fn words(self) -> &'a [u64] {
        self.0
    }

    /// An owned copy of the view.
    pub fn to_buf(self) -> HotUserBuf {
        HotUserBuf(self.0.into())
    }

    /// A copy holding `email` instead of the email it was made with.
    #[must_use]
    pub fn with_email(self, email: &str) -> HotUserBuf {
        let rest = self.0.get(self.memberships_at()..).unwrap_or_default();
        let mut w: Vec<u64> = Vec::with_capacity(1 + email.len().div_ceil(8) + rest.len());
        w.push(u64::from(self.id()) | count(email.len()) << 32);
        for chunk in email.as_bytes().chunks(8) {
            let mut buf = [0u8; 8];
            if let Some(head) = buf.get_mut(..chunk.len()) {
                head.copy_from_slice(chunk);
            }
            w.push(u64::from_le_bytes(buf));
        }
        w.extend_from_slice(rest);
        debug_assert_eq!(w.len(), w.capacity(), "the length computed up front");
        HotUserBuf(w.into_boxed_slice())
    }

    /// The address of the view's first word (for a prefetch; never read through).
    #[inline(always)]
    pub fn words_ptr(self) -> *const u64 {
        self.0.as_ptr()
    }

    /// The number of words in the view (for a prefetch).
    #[inline(always)]
    pub fn words_len(self) -> usize {
        self.0.len()
    }

    /// The user's id.
    #[inline]
    pub fn id(self) -> u32 {
        self.0.first().map_or(u32::MAX, |w| lo(*w))
    }

    #[inline]
    fn email_len(self) -> usize {
        self.0.first().map_or(0, |w| hi(*w) as usize)
    }

    /// Index of the first membership's first word.
    #[inline]
    fn memberships_at(self) -> usize {
        1 + self.email_len().div_ceil(8)
    }

    /// True when the view was made with exactly this email.
    #[inline(always)]
    pub fn email_is(self, email: &str) -> bool {
        let bytes = email.as_bytes();
        if self.email_len() != bytes.len() {
            return false;
        }
        let Some(words) = self.0.get(1..) else {
            return false;
        };
        let mut chunks = bytes.chunks_exact(8);
        for (chunk, w) in (&mut chunks).zip(words) {
            if <[u8; 8]>::try_from(chunk).ok().map(u64::from_le_bytes) != Some(*w) {
                return false;
            }
        }
        let rest = bytes.len() % 8;
        if rest == 0 {
            return true;
        }
        // The last, zero-padded word: the name's last eight bytes shifted down when there
        // are eight (one load, no copy), else assembled byte by byte.
        let tail = match bytes.len().checked_sub(8).and_then(|at| bytes.get(at..)) {
            Some(last) => {
                <[u8; 8]>::try_from(last).map_or(0, u64::from_le_bytes) >> (8 * (8 - rest))
            }
            None => bytes.iter().rev().fold(0u64, |w, &c| w << 8 | u64::from(c)),
        };
        words.get(bytes.len() / 8) == Some(&tail)
    }

    /// The membership of org `oid`, expired or not.
    #[inline(always)]
    pub fn membership(self, oid: u32) -> Option<HotMembership<'a>> {
        self.memberships().find(|m| m.org() == oid)
    }

    /// Every membership, in the order of the records.
    #[inline(always)]
    pub fn memberships(self) -> impl Iterator<Item = HotMembership<'a>> + 'a {
        let mut rest = self.0.get(self.memberships_at()..).unwrap_or_default();
        std::iter::from_fn(move || {
            let [h0, h1, e0, e1, tail @ ..] = rest else {
                return None;
            };
            let n = body_len(*h0, *h1);
            let body = tail.get(..n)?;
            rest = tail.get(n..)?;
            Some(HotMembership {
                h0: *h0,
                h1: *h1,
                expires: e0.cast_signed(),
                ow_expires: e1.cast_signed(),
                body,
            })
        })
    }

    /// [`HotMembership::to_record`] of every membership, in order.
    pub fn to_memberships(self) -> Vec<Membership> {
        self.memberships().map(|m| m.to_record()).collect()
    }
}

/// The number of expiring grants of `m`, and whether it is written wide.
fn expiring(m: &Membership) -> (usize, bool) {
    let expiring = m.grants.iter().filter(|g| g.expires().is_some()).count();
    (expiring, expiring > MAX_EXPIRY_REF)
}

/// The words [`push_membership`] writes for `m`.
fn membership_words(m: &Membership) -> usize {
    match expiring(m) {
        (_, true) => 4 + 2 * m.grants.len(),
        (n, false) => 4 + m.grants.len() + n,
    }
}

fn push_membership(w: &mut Vec<u64>, m: &Membership) {
    let (expiring, wide) = expiring(m);
    let ow_role = m.org_wide.as_ref().map_or(0, |g| project_role_code(g.role));
    w.push(u64::from(m.org) | count(m.grants.len()) << 32);
    w.push(
        org_role_code(m.role)
            | ow_role << 8
            | if wide {
                WIDE << 16
            } else {
                count(expiring) << 32
            },
    );
    let never = |e: Option<crate::time::Instant>| e.map_or(NEVER, |e| e.0).cast_unsigned();
    w.push(never(m.expires()));
    w.push(never(m.org_wide.as_deref().and_then(Grant::expires)));
    let head = |pid: u32, g: &Grant| u64::from(pid) | project_role_code(g.role) << 32;
    if wide {
        for g in &m.grants {
            w.push(head(g.project, g));
            w.push(never(g.expires()));
        }
        return;
    }
    let mut refs = 0u64;
    for g in &m.grants {
        let r = if g.expires().is_some() {
            refs += 1;
            refs
        } else {
            0
        };
        w.push(head(g.project, g) | r << 40);
    }
    w.extend(m.grants.iter().filter_map(|g| expiry_word(g.expires())));
}

impl HotMembership<'_> {
    /// Org id.
    #[inline]
    pub fn org(&self) -> u32 {
        lo(self.h0)
    }

    /// Org role.
    #[inline]
    pub fn role(&self) -> OrgRole {
        org_role(byte(self.h1, 0))
    }

    /// The `org/*` grant.
    #[inline]
    pub fn org_wide(&self) -> Option<HotGrant> {
        project_role(byte(self.h1, 8)).map(|role| HotGrant {
            project: u32::MAX,
            role,
            expires: self.ow_expires,
        })
    }

    #[inline]
    fn wide(&self) -> bool {
        u64::from(byte(self.h1, 16)) & WIDE != 0
    }

    /// The number of grants on single projects.
    pub fn grant_count(&self) -> usize {
        hi(self.h0) as usize
    }

    /// The grant on project `pid`.
    #[inline(always)]
    pub fn grant(&self, pid: u32) -> Option<HotGrant> {
        if self.wide() {
            return self.grant_wide(pid);
        }
        let (grants, expiries) = self.body.split_at_checked(self.grant_count())?;
        let i = if grants.len() <= SCAN {
            grants.iter().position(|w| lo(*w) == pid)?
        } else {
            grants.binary_search_by_key(&pid, |w| lo(*w)).ok()?
        };
        let w = *grants.get(i)?;
        let r = (w >> 40) as usize;
        Some(HotGrant {
            project: pid,
            role: project_role(byte(w, 32))?,
            expires: match r.checked_sub(1) {
                None => NEVER,
                Some(k) => expiries.get(k).map_or(NEVER, |e| e.cast_signed()),
            },
        })
    }

    /// Every grant on a single project, by project id.
    pub fn grants(&self) -> impl Iterator<Item = HotGrant> + '_ {
        let wide = self.wide();
        let n = self.grant_count();
        let (heads, ends) = if wide {
            (self.body, &[][..])
        } else {
            self.body.split_at_checked(n).unwrap_or((self.body, &[]))
        };
        let step = if wide { 2 } else { 1 };
        heads.chunks(step).take(n).filter_map(move |c| {
            let (&w, rest) = c.split_first()?;
            let expires = if wide {
                rest.first().map_or(NEVER, |e| e.cast_signed())
            } else {
                match ((w >> 40) as usize).checked_sub(1) {
                    None => NEVER,
                    Some(k) => ends.get(k).map_or(NEVER, |e| e.cast_signed()),
                }
            };
            Some(HotGrant {
                project: lo(w),
                role: project_role(byte(w, 32))?,
                expires,
            })
        })
    }

    /// The parts of the membership a check reads, as a record (reason, review date,
    /// granter and grant instants are not kept here: left empty). Editing the record and
    /// making a view of it again with [`HotUserBuf::new`] is how a what-if is judged.
    pub fn to_record(&self) -> Membership {
        let expiry = |e: i64| (e != NEVER).then_some(Instant(e));
        let grant = |g: HotGrant| Grant::new(g.role, expiry(g.expires), None, None, Instant(0));
        let mut m = Membership::new(self.org(), self.role(), expiry(self.expires), Instant(0));
        m.org_wide = self.org_wide().map(|g| Box::new(grant(g)));
        m.grants = self.grants().map(|g| grant(g).on(g.project)).collect();
        m
    }

    fn grant_wide(&self, pid: u32) -> Option<HotGrant> {
        let pairs: Vec<(u64, u64)> = self
            .body
            .chunks_exact(2)
            .filter_map(|c| match c {
                [a, b] => Some((*a, *b)),
                _ => None,
            })
            .collect();
        let i = pairs.binary_search_by_key(&pid, |(a, _)| lo(*a)).ok()?;
        let (a, b) = *pairs.get(i)?;
        Some(HotGrant {
            project: pid,
            role: project_role(byte(a, 32))?,
            expires: b.cast_signed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    fn grant(role: ProjectRole, expires: Option<i64>) -> Grant {
        Grant::new(role, expires.map(Instant), None, None, Instant(0))
    }

    fn membership(org: u32, role: OrgRole, grants: Vec<(u32, Grant)>) -> Membership {
        let mut m = Membership::new(org, role, None, Instant(0));
        m.grants = grants.into_iter().map(|(pid, g)| g.on(pid)).collect();
        m
    }

    /// What the records say, read the slow way.
    fn expected(m: &Membership, pid: u32) -> Option<HotGrant> {
        m.grant(pid).map(|g| HotGrant {
            project: pid,
            role: g.role,
            expires: g.expires_raw(),
        })
    }

    #[test]
    fn round_trips_memberships_and_grants() {
        let mut first = membership(
            3,
            OrgRole::Member,
            vec![
                (1, grant(ProjectRole::Viewer, None)),
                (4, grant(ProjectRole::Admin, Some(-5))),
                (9, grant(ProjectRole::Member, None)),
                (u32::MAX - 1, grant(ProjectRole::Member, Some(i64::MIN))),
            ],
        );
        first.set_expires(Some(Instant(77)));
        first.org_wide = Some(Box::new(grant(ProjectRole::Member, Some(12))));
        let mut second = membership(0, OrgRole::Owner, vec![]);
        second.org_wide = Some(Box::new(grant(ProjectRole::Viewer, None)));
        let third = membership(
            u32::MAX,
            OrgRole::Admin,
            (0..100)
                .map(|p| {
                    let e = (p % 3 == 0).then_some(i64::from(p) * 1000);
                    let role = [ProjectRole::Viewer, ProjectRole::Member, ProjectRole::Admin];
                    (
                        p * 2,
                        grant(
                            role.into_iter()
                                .cycle()
                                .nth(p as usize)
                                .unwrap_or(ProjectRole::Viewer),
                            e,
                        ),
                    )
                })
                .collect(),
        );
        let ms = vec![first, second, third];
        for email in [
            "",
            "a@b.co",
            "exactly8",
            "sixteen-bytes-xx",
            "jane.doe@example.com",
        ] {
            let buf = HotUserBuf::new(42, email, &ms);
            let u = buf.view();
            assert_eq!(u.id(), 42);
            assert!(u.email_is(email));
            assert!(!u.email_is(&format!("{email}x")));
            assert!(email.is_empty() || !u.email_is(email.get(1..).unwrap_or_default()));
            assert_eq!(u.memberships().count(), 3);
            assert!(u.membership(7).is_none());
            for m in &ms {
                let h = u.membership(m.org);
                assert!(h.is_some(), "org {}", m.org);
                let Some(h) = h else { continue };
                assert_eq!(h.org(), m.org);
                assert_eq!(h.role(), m.role);
                assert_eq!(h.expires, m.expires().map_or(NEVER, |e| e.0));
                assert_eq!(
                    h.org_wide().map(|g| (g.role, g.expires)),
                    m.org_wide.as_ref().map(|g| (g.role, g.expires_raw()))
                );
                assert_eq!(h.grant_count(), m.grants.len());
                for pid in (0..210).chain([u32::MAX - 1, u32::MAX]) {
                    assert_eq!(h.grant(pid), expected(m, pid), "org {} pid {pid}", m.org);
                }
            }
            // Back to records and again: the same view, and the same grants listed.
            assert_eq!(HotUserBuf::new(42, email, &u.to_memberships()), buf);
            for (h, m) in u.memberships().zip(&ms) {
                let listed: Vec<_> = h.grants().collect();
                let want: Vec<_> = m
                    .grants
                    .iter()
                    .filter_map(|g| expected(m, g.project))
                    .collect();
                assert_eq!(listed, want);
            }
            let renamed = u.with_email("erased:0123456789abcdef");
            let renamed = renamed.view();
            assert!(renamed.email_is("erased:0123456789abcdef"));
            assert!(!renamed.email_is(email));
            assert_eq!(renamed.id(), 42);
            assert_eq!(
                renamed.memberships().collect::<Vec<_>>(),
                u.memberships().collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn emails_differing_in_any_byte_or_length_do_not_match() {
        let email = "user000123@example.com";
        let buf = HotUserBuf::new(1, email, &[]);
        let u = buf.view();
        for i in 0..email.len() {
            let mut b = email.as_bytes().to_vec();
            if let Some(c) = b.get_mut(i) {
                *c ^= 1;
            }
            assert!(!u.email_is(std::str::from_utf8(&b).unwrap_or("")));
        }
        // Zero padding must not let a shorter key with trailing NULs match.
        let padded = HotUserBuf::new(1, "abc", &[]);
        let padded = padded.view();
        assert!(!padded.email_is("abc\0"));
        assert!(!padded.email_is("ab"));
    }

    #[test]
    fn wide_memberships_read_like_compact_ones() {
        let grants: Vec<(u32, Grant)> = (0..40)
            .map(|p| {
                (
                    p,
                    grant(ProjectRole::Member, (p % 2 == 0).then_some(i64::from(p))),
                )
            })
            .collect();
        let m = membership(5, OrgRole::Member, grants);
        // The wide encoding, which only 2^24 expiring grants would choose: uid 9, no
        // email, one membership.
        let mut wide = vec![9];
        wide.push(u64::from(m.org) | count(m.grants.len()) << 32);
        wide.push(org_role_code(m.role) | WIDE << 16);
        wide.push(NEVER.cast_unsigned());
        wide.push(NEVER.cast_unsigned());
        for g in &m.grants {
            wide.push(u64::from(g.project) | project_role_code(g.role) << 32);
            wide.push(g.expires_raw().cast_unsigned());
        }
        let u = HotUser::from_words(&wide);
        let h = u.membership(5);
        assert!(h.is_some());
        let Some(h) = h else { return };
        assert_eq!(h.grant_count(), 40);
        for pid in 0..45 {
            assert_eq!(h.grant(pid), expected(&m, pid));
        }
        let listed: Vec<_> = h.grants().collect();
        let want: Vec<_> = (0..40).filter_map(|p| expected(&m, p)).collect();
        assert_eq!(listed, want);
        assert_eq!(h.to_record().grants.len(), 40);
    }
}
