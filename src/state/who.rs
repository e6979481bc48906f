//! The per-org index `who_can` reads: every member's org-level standing in one array and
//! every grant on one of the org's projects in another, both in user id order, so that
//! deciding 10,000 members reads two arrays front to back instead of 10,000 check-path
//! views scattered over the heap.
//!
//! It is built from the views on the first `who_can` in the org, then kept in step with
//! them by `State::refresh_user` (a member's rows overwritten in place, inserted or
//! removed), and dropped when the state is rebuilt; a state that never answers `who_can`
//! never holds one.

use std::sync::OnceLock;

use crate::model::{HotGrant, HotMembership, HotUser};
use crate::roles::{OrgRole, ProjectRole};

/// One member's org-level standing (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRow {
    /// User id.
    pub uid: u32,
    /// Org role.
    pub role: OrgRole,
    /// The `org/*` grant's role.
    pub ow_role: Option<ProjectRole>,
    /// Membership expiry in microseconds, `NEVER` for none.
    pub expires: i64,
    /// The `org/*` grant's expiry.
    pub ow_expires: i64,
}

/// One grant on a project of the org (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderRow {
    /// Project id.
    pub project: u32,
    /// User id.
    pub uid: u32,
    /// Role and expiry.
    pub role: ProjectRole,
    /// Expiry in microseconds, `NEVER` for none.
    pub expires: i64,
}

/// The index of one org.
///
/// INVARIANT: `members` holds one row per user with a membership record in the org (the
/// org's `members`), sorted by user id, each equal to that membership in the user's
/// view; `holders` holds one row per grant on a single project of the org, sorted by
/// project then user id. Both are made from the views together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgIndex {
    /// Members by user id.
    pub members: Vec<MemberRow>,
    /// Grants by project, then user id.
    pub holders: Vec<HolderRow>,
}

impl OrgIndex {
    /// The index of org `oid` from the views of its members `uids`.
    pub fn build<'s>(oid: u32, views: impl Iterator<Item = HotUser<'s>>) -> Self {
        let mut ix = OrgIndex::default();
        for u in views {
            let Some(m) = u.membership(oid) else {
                continue;
            };
            ix.members.push(MemberRow::of(u.id(), m));
            ix.holders.extend(m.grants().map(|g| HolderRow {
                project: g.project,
                uid: u.id(),
                role: g.role,
                expires: g.expires,
            }));
        }
        ix.members.sort_unstable_by_key(|r| r.uid);
        ix.holders.sort_unstable_by_key(|h| (h.project, h.uid));
        ix
    }

    /// Brings user `uid`'s rows from membership `old` to membership `new` (either absent:
    /// the user joins or leaves the org).
    pub fn update(
        &mut self,
        uid: u32,
        old: Option<HotMembership<'_>>,
        new: Option<HotMembership<'_>>,
    ) {
        match (self.members.binary_search_by_key(&uid, |r| r.uid), new) {
            (Ok(i), Some(m)) => {
                if let Some(r) = self.members.get_mut(i) {
                    *r = MemberRow::of(uid, m);
                }
            }
            (Ok(i), None) => {
                self.members.remove(i);
            }
            (Err(i), Some(m)) => self.members.insert(i, MemberRow::of(uid, m)),
            (Err(_), None) => {}
        }
        // Both lists are sorted by project: a grant in both is overwritten in place, so a
        // change that keeps a member's projects moves no row.
        let olds: Vec<HotGrant> = old.map(|m| m.grants().collect()).unwrap_or_default();
        let news: Vec<HotGrant> = new.map(|m| m.grants().collect()).unwrap_or_default();
        let (mut o, mut n) = (olds.iter().peekable(), news.iter().peekable());
        loop {
            match (o.peek(), n.peek()) {
                (None, None) => break,
                (Some(a), Some(b)) if a.project == b.project => {
                    self.put(uid, b);
                    o.next();
                    n.next();
                }
                (Some(a), Some(b)) if a.project < b.project => {
                    self.take(uid, a.project);
                    o.next();
                }
                (Some(a), None) => {
                    self.take(uid, a.project);
                    o.next();
                }
                (_, Some(b)) => {
                    self.put(uid, b);
                    n.next();
                }
            }
        }
    }

    fn put(&mut self, uid: u32, g: &HotGrant) {
        let row = HolderRow {
            project: g.project,
            uid,
            role: g.role,
            expires: g.expires,
        };
        match self
            .holders
            .binary_search_by_key(&(g.project, uid), |h| (h.project, h.uid))
        {
            Ok(i) => {
                if let Some(h) = self.holders.get_mut(i) {
                    *h = row;
                }
            }
            Err(i) => self.holders.insert(i, row),
        }
    }

    fn take(&mut self, uid: u32, pid: u32) {
        if let Ok(i) = self
            .holders
            .binary_search_by_key(&(pid, uid), |h| (h.project, h.uid))
        {
            self.holders.remove(i);
        }
    }

    /// The grants on project `pid`, by user id.
    pub fn holders_of(&self, pid: u32) -> &[HolderRow] {
        let start = self.holders.partition_point(|h| h.project < pid);
        let end = self.holders.partition_point(|h| h.project <= pid);
        self.holders.get(start..end).unwrap_or_default()
    }
}

impl MemberRow {
    /// The row of user `uid` with membership `m`.
    pub fn of(uid: u32, m: HotMembership<'_>) -> Self {
        let ow = m.org_wide();
        MemberRow {
            uid,
            role: m.role(),
            ow_role: ow.map(|g| g.role),
            expires: m.expires,
            ow_expires: ow.map_or(crate::model::NEVER, |g| g.expires),
        }
    }
}

impl HolderRow {
    /// The grant as the check path sees it.
    #[inline]
    pub fn grant(&self) -> HotGrant {
        HotGrant {
            project: self.project,
            role: self.role,
            expires: self.expires,
        }
    }
}

/// An org's index slot: empty until the first `who_can` in the org needs it.
#[derive(Debug, Clone, Default)]
pub struct OrgIndexSlot(OnceLock<OrgIndex>);

impl OrgIndexSlot {
    /// The index, built by `build` if there is none.
    pub fn get_or_build(&self, build: impl FnOnce() -> OrgIndex) -> &OrgIndex {
        self.0.get_or_init(build)
    }

    /// The index, if it was built.
    pub fn get_mut(&mut self) -> Option<&mut OrgIndex> {
        self.0.get_mut()
    }

    /// Heap bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.0.get().map_or(0, |ix| {
            ix.members.capacity() * std::mem::size_of::<MemberRow>()
                + ix.holders.capacity() * std::mem::size_of::<HolderRow>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_the_size_the_docs_say() {
        assert_eq!(std::mem::size_of::<MemberRow>(), 24);
        assert_eq!(std::mem::size_of::<HolderRow>(), 24);
    }
}
