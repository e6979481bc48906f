//! The state's tables: records by id, the email and target indexes, and the check-path
//! views (`HotUser`, `HotProject`) kept beside them.

#![expect(
    clippy::inline_always,
    reason = "the check path is inlined into one function: measured under callgrind, 935 → 784 instructions per `check` from Python (benchmarks/count_instructions.py)"
)]

use super::hot::UserIndex;
use super::targets::TargetIndex;
use super::who::{OrgIndex, OrgIndexSlot};
use crate::error::{Error, NotFoundError, Result};
use crate::ids::email_key;
use crate::model::actions::Catalog;
use crate::model::keys::KeyStore;
use crate::model::requests::AccessRequest;
use crate::model::templates::TemplateDef;
use crate::model::{
    HotProject, HotUser, HotUserBuf, Membership, OrgRec, ProjectRec, ResourceRec, UserRec,
};
use crate::time::Instant;

/// What a target string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRef {
    /// An org.
    Org(u32),
    /// A project.
    Project(u32),
    /// A resource.
    Resource(u32),
}

/// Who made a change and when: stamps `granted_by` / `granted_at`.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// The instant.
    pub at: Instant,
    /// The actor's email (`None` = the system).
    pub actor: Option<&'a str>,
}

/// Records and indexes.
///
/// INVARIANT: `targets` maps exactly the slugs of live orgs, the ids of live projects and
/// the ids of live resources; removed records leave `None` slots (ids are never reused).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Users by id.
    pub users: Vec<UserRec>,
    /// Email → the user's check-path view, and each view by user id.
    pub user_ids: UserIndex,
    /// Check-path view of each project, by project id.
    pub hot_projects: Vec<HotProject>,
    /// Orgs by id.
    pub orgs: Vec<Option<OrgRec>>,
    /// Projects by id.
    pub projects: Vec<Option<ProjectRec>>,
    /// Resources by id.
    pub resources: Vec<Option<ResourceRec>>,
    /// Org slug / project id / resource id → record.
    pub targets: TargetIndex<TargetRef>,
    /// The action catalogue.
    pub catalog: Catalog,
    /// Custom onboarding templates, by name (the built-in ones are not stored).
    pub templates: std::collections::BTreeMap<String, TemplateDef>,
    /// Access requests, in the order they were made (`req_1`, `req_2` …).
    pub requests: Vec<AccessRequest>,
    /// Personal and project API keys.
    pub keys: KeyStore,
    /// Access review campaigns, in the order they were started (`camp_1`, `camp_2` …).
    pub campaigns: Vec<crate::model::campaigns::Campaign>,
    /// The `who_can` index of each org, by org id (built on first use).
    pub who: Vec<OrgIndexSlot>,
    /// Names this state's user id → email mapping for caches kept outside it.
    pub emails_epoch: EmailEpoch,
}

/// A number no other state holds: drawn afresh for every new or cloned state and
/// whenever an existing user's email changes, so that an epoch and a user id always name
/// the same email. A cache of something made from users' emails (the binding's Python
/// strings) keyed by it needs no other check.
///
/// INVARIANT: renewed by every change of an existing user's email (erasure) and by
/// [`State::rebuild_hot`]; user ids are never reused, so a new user changes no mapping.
#[derive(Debug)]
pub struct EmailEpoch(u64);

static NEXT_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl EmailEpoch {
    fn fresh() -> Self {
        EmailEpoch(NEXT_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The epoch's value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0
    }

    /// A new value: an existing user's email changed.
    pub(super) fn renew(&mut self) {
        *self = EmailEpoch::fresh();
    }
}

impl Default for EmailEpoch {
    fn default() -> Self {
        EmailEpoch::fresh()
    }
}

impl Clone for EmailEpoch {
    /// A copy may change on its own from here on: it gets its own epoch.
    fn clone(&self) -> Self {
        EmailEpoch::fresh()
    }
}

pub(crate) fn next_id(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl State {
    /// An empty state with the default catalogue.
    pub fn new() -> Self {
        State::default()
    }

    /// The check-path view of the user with this email (any case).
    #[inline(always)]
    pub fn hot_user(&self, email: &str) -> Option<HotUser<'_>> {
        self.hot_user_hashed(email, self.user_ids.hash_of(email))
    }

    /// [`State::hot_user`] with `hash`, the index's [`UserIndex::hash_of`] the email,
    /// computed beforehand (to prefetch the slot).
    #[inline(always)]
    pub fn hot_user_hashed(&self, email: &str, hash: u32) -> Option<HotUser<'_>> {
        if let Some(u) = self.user_ids.get_hashed(email, hash) {
            return Some(u);
        }
        match email_key(email) {
            std::borrow::Cow::Owned(lower) => self.user_ids.get(lower.as_str()),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }

    /// The check-path view of user `uid`.
    #[inline]
    pub fn hot_by_id(&self, uid: u32) -> Option<HotUser<'_>> {
        self.user_ids.by_id(uid)
    }

    /// The id of the user with this email (any case).
    #[inline]
    pub fn user_id(&self, email: &str) -> Option<u32> {
        self.hot_user(email).map(HotUser::id)
    }

    /// The check-path view of project `pid`.
    #[inline]
    pub fn hot_project(&self, pid: u32) -> Option<&HotProject> {
        self.hot_projects.get(pid as usize)
    }

    /// Rebuilds the check-path view of user `uid` from their records, and brings their
    /// rows in the `who_can` index of every org they were or are a member of with it.
    pub(super) fn refresh_user(&mut self, uid: u32) {
        let Some(u) = self.users.get(uid as usize) else {
            return;
        };
        let buf = HotUserBuf::new(uid, &u.email, &u.memberships);
        let hot = buf.view();
        // INVARIANT (state/who.rs): a built index holds the rows of the members' views;
        // the old view names the orgs left, the new one the orgs joined.
        let old = self.user_ids.by_id(uid);
        let orgs = old
            .into_iter()
            .flat_map(HotUser::memberships)
            .chain(hot.memberships())
            .map(|m| m.org());
        for oid in orgs {
            if let Some(ix) = self
                .who
                .get_mut(oid as usize)
                .and_then(OrgIndexSlot::get_mut)
            {
                ix.update(
                    uid,
                    old.and_then(|h| h.membership(oid)),
                    hot.membership(oid),
                );
            }
        }
        self.user_ids.set(hot);
    }

    /// The `who_can` index of org `oid` (built now if there is none), `None` for an org
    /// without an index slot.
    pub fn org_index(&self, oid: u32) -> Option<&OrgIndex> {
        let org = self.org(oid)?;
        let slot = self.who.get(oid as usize)?;
        Some(slot.get_or_build(|| {
            OrgIndex::build(oid, org.members.iter().filter_map(|&u| self.hot_by_id(u)))
        }))
    }

    /// Rebuilds every check-path view (users and projects) from the records, replacing
    /// what was there: how a bulk loader that filled the records directly (a snapshot
    /// read whole) finishes, instead of refreshing the views once per change.
    pub fn rebuild_hot(&mut self) {
        let mut user_ids = UserIndex::with_capacity(self.users.len());
        let mut words = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            let hot = HotUserBuf::write(&mut words, next_id(i), &u.email, &u.memberships);
            user_ids.insert(&u.email, hot);
        }
        self.user_ids = user_ids;
        self.who = vec![OrgIndexSlot::default(); self.orgs.len()];
        self.emails_epoch.renew();
        self.hot_projects = self
            .projects
            .iter()
            .map(|p| {
                p.as_ref().map_or_else(HotProject::default, |p| HotProject {
                    org: p.org,
                    restricted: p.attrs.restricted,
                    default_role: p.attrs.default_role,
                })
            })
            .collect();
    }

    /// Rebuilds the check-path view of project `pid` from its record.
    pub(super) fn refresh_project(&mut self, pid: u32) {
        let hot = self
            .project(pid)
            .map_or_else(HotProject::default, |p| HotProject {
                org: p.org,
                restricted: p.attrs.restricted,
                default_role: p.attrs.default_role,
            });
        let i = pid as usize;
        if self.hot_projects.len() <= i {
            self.hot_projects.resize(i + 1, HotProject::default());
        }
        if let Some(slot) = self.hot_projects.get_mut(i) {
            *slot = hot;
        }
    }

    /// The user record with this id.
    #[inline]
    pub fn user(&self, id: u32) -> Option<&UserRec> {
        self.users.get(id as usize)
    }

    /// The org with this id.
    #[inline]
    pub fn org(&self, id: u32) -> Option<&OrgRec> {
        self.orgs.get(id as usize).and_then(Option::as_ref)
    }

    /// The project with this id.
    #[inline]
    pub fn project(&self, id: u32) -> Option<&ProjectRec> {
        self.projects.get(id as usize).and_then(Option::as_ref)
    }

    /// The resource with this id.
    #[inline]
    pub fn resource(&self, id: u32) -> Option<&ResourceRec> {
        self.resources.get(id as usize).and_then(Option::as_ref)
    }

    /// What `target` names, if anything.
    #[inline(always)]
    pub fn target(&self, target: &str) -> Option<TargetRef> {
        self.targets.get(target).copied()
    }

    /// The org with this slug.
    pub fn org_id(&self, slug: &str) -> Option<u32> {
        match self.target(slug) {
            Some(TargetRef::Org(id)) => Some(id),
            _ => None,
        }
    }

    /// The project with this id.
    pub fn project_id(&self, id: &str) -> Option<u32> {
        match self.target(id) {
            Some(TargetRef::Project(p)) => Some(p),
            _ => None,
        }
    }

    /// Like [`State::org_id`], raising `NotFoundError`.
    pub fn need_org(&self, slug: &str) -> Result<u32> {
        self.org_id(slug)
            .ok_or_else(|| NotFoundError::Org(slug.to_owned()).into())
    }

    /// Like [`State::project_id`], raising `NotFoundError`.
    pub fn need_project(&self, id: &str) -> Result<u32> {
        self.project_id(id)
            .ok_or_else(|| NotFoundError::Project(id.to_owned()).into())
    }

    pub(super) fn org_mut(&mut self, id: u32) -> Result<&mut OrgRec> {
        self.orgs
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or_else(|| NotFoundError::Org(format!("#{id}")).into())
    }

    pub(super) fn membership_mut(&mut self, user: &str, org: &str) -> Result<&mut Membership> {
        let oid = self.need_org(org)?;
        let uid = self
            .user_id(user)
            .ok_or_else(|| Error::from(NotFoundError::User(user.to_owned())))?;
        self.users
            .get_mut(uid as usize)
            .and_then(|u| u.memberships.iter_mut().find(|m| m.org == oid))
            .ok_or_else(|| Error::not_member(user, org))
    }

    pub(super) fn ensure_user(&mut self, email: &str) -> u32 {
        if let Some(id) = self.user_id(email) {
            return id;
        }
        let id = next_id(self.users.len());
        self.users.push(UserRec {
            email: email.into(),
            name: None,
            title: None,
            memberships: Vec::new(),
        });
        self.user_ids
            .insert(email, HotUserBuf::new(id, email, &[]).view());
        id
    }
}
