//! Access review campaigns (SOC 2 CC6.2): the access of one org, frozen when the campaign
//! starts, reviewed item by item, and closed by revoking what was rejected.
//!
//! A campaign is part of the graph's state: starting, each decision and closing are
//! audited changes (`campaign.started`, `campaign.decided`, `campaign.closed`), replayed
//! from journals and written in snapshots; the revocations on closing are the ordinary
//! `grant.removed` / `member.removed` events, and each kept membership's review date is
//! an ordinary `member.updated`. Ids are `camp_1`, `camp_2` … in start order.
//!
//! Decisions beyond the issue:
//! - Starting one needs `org:manage_roles` (org admins and owners); every reviewer must
//!   hold an unexpired membership of the org; `due` must be after now.
//! - The population is every membership of the org (expired ones included, flagged by
//!   their expiry) and every grant inside them (`org/*` too); a grant whose membership had
//!   expired is an *orphan*: its user is no longer in the org.
//! - A decision is made by one of the campaign's reviewers who may make the change a
//!   rejection leads to: for a membership, `org:remove_member` on someone at most their
//!   rank; for a grant, the authority to revoke it. Nobody reviews their own access. A
//!   decision may be changed until the campaign closes (every one is an event).
//!   Rejecting the org's last owner is refused (`ConflictError`).
//! - Closing needs `org:manage_roles` or being a reviewer, and the authority to make each
//!   revocation (they are checked like any other change); a revocation that is refused,
//!   or would leave the org without an owner, leaves everything as it was. Access that is
//!   gone already is left alone (its item says so in the evidence).

use std::collections::BTreeSet;

use crate::error::{ConflictError, Error, NotFoundError, Result};
use crate::graph::rules::{
    authorize, authorize_grant, denied, membership, opt_text, org_role, plan_remove_member,
    require_rank, resolve_grant_target, same,
};
use crate::graph::Graph;
use crate::ids::{self, email_key};
use crate::model::campaigns::{Campaign, CampaignItem, ItemKind, ItemSpec, Reviewer};
use crate::roles::{OrgRole, Role};
use crate::state::campaigns::{find_campaign, need_campaign};
use crate::state::queries::member_attrs;
use crate::state::{Change, State};
use crate::time::{At, Instant};

/// Every membership of org `oid` (slug `org`), then every grant inside them.
fn population(st: &State, oid: u32, org: &str, at: &mut At<'_>) -> Vec<ItemSpec> {
    let mut members = Vec::new();
    let mut grants = Vec::new();
    for &uid in st.org(oid).map(|o| &o.members).into_iter().flatten() {
        let Some(u) = st.user(uid) else { continue };
        let Some(m) = u.membership(oid) else { continue };
        let email = u.email.to_string();
        let orphan = !at.alive(m.expires());
        members.push(ItemSpec {
            kind: ItemKind::Membership,
            user: email.clone(),
            target: org.to_owned(),
            role: m.role.as_str().to_owned(),
            expires: m.expires(),
            orphan: false,
        });
        let mut theirs: Vec<ItemSpec> = m
            .grants
            .iter()
            .filter_map(|g| Some((st.project(g.project)?.id.to_string(), g)))
            .chain(m.org_wide.as_deref().map(|g| (format!("{org}/*"), g)))
            .map(|(target, g)| ItemSpec {
                kind: ItemKind::Grant,
                user: email.clone(),
                target,
                role: g.role.as_str().to_owned(),
                expires: g.expires(),
                orphan,
            })
            .collect();
        grants.append(&mut theirs);
    }
    members.sort_by(|a, b| a.user.cmp(&b.user));
    grants.sort_by(|a, b| (&a.user, &a.target).cmp(&(&b.user, &b.target)));
    members.append(&mut grants);
    members
}

fn open(c: &Campaign) -> Result<()> {
    match &c.closed {
        None => Ok(()),
        Some(_) => Err(ConflictError::Rule(format!("campaign `{}` is closed", c.id)).into()),
    }
}

/// The action a rejection of `it` needs (named in refusals).
fn revoke_action(it: &ItemSpec) -> &'static str {
    match it.kind {
        ItemKind::Membership => "org:remove_member",
        ItemKind::Grant => "project:manage_members",
    }
}

/// The authority to revoke `it`: what `remove_member` or `revoke` would need.
fn authorize_revocation(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    c: &Campaign,
    it: &ItemSpec,
) -> Result<()> {
    match it.kind {
        ItemKind::Membership => {
            authorize(st, at, actor, "org:remove_member", &c.org)?;
            let oid = st.need_org(&c.org)?;
            let mine = org_role(st, at, actor, oid).unwrap_or(OrgRole::Member);
            let theirs = membership(st, &it.user, oid).map_or_else(
                || OrgRole::parse("role", &it.role).unwrap_or(OrgRole::Owner),
                |m| m.role,
            );
            if theirs > mine {
                return Err(denied(
                    actor,
                    "org:remove_member",
                    &c.org,
                    Some(Role::Org(mine)),
                    format!(
                        "{} is an org {} of {} and cannot review the membership of {}, who is {}",
                        email_key(actor),
                        mine.as_str(),
                        c.org,
                        it.user,
                        theirs.as_str()
                    ),
                ));
            }
            Ok(())
        }
        ItemKind::Grant => {
            let gt = ids::grant_target("target", &it.target)?;
            match resolve_grant_target(st, gt) {
                Ok(oid) => authorize_grant(st, at, actor, gt, oid, &it.target),
                // The project went away: an org admin may still decide.
                Err(Error::NotFound(NotFoundError::Project(_))) => {
                    let oid = st.need_org(&c.org)?;
                    require_rank(
                        st,
                        at,
                        actor,
                        oid,
                        OrgRole::Admin,
                        "project:manage_members",
                        &c.org,
                        &format!("reviewing a grant on the deleted project {}", it.target),
                    )
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// The authority to decide item `it` of `c`: a reviewer, not of their own access, who
/// may make the revocation a rejection leads to.
fn authorize_decision(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    c: &Campaign,
    it: &ItemSpec,
) -> Result<()> {
    let action = revoke_action(it);
    if !c.reviewers.iter().any(|r| same(r, actor)) {
        return Err(denied(
            actor,
            action,
            &it.target,
            None,
            format!(
                "{} is not a reviewer of campaign `{}` (reviewers: {})",
                email_key(actor),
                c.id,
                c.reviewers.join(", ")
            ),
        ));
    }
    if same(actor, &it.user) {
        return Err(denied(
            actor,
            action,
            &it.target,
            None,
            format!("{} cannot review their own access", it.user),
        ));
    }
    authorize_revocation(st, at, actor, c, it)
}

/// The changes that revoke what was rejected in `c`, and the items they revoke.
/// A `member.updated` for each membership the campaign kept, its `reviewed` date set to
/// the day it closes, so that `review()` does not call it overdue (SOC 2 evidence and
/// the review agree). Memberships gone since are left alone.
fn stamp_reviewed(st: &State, at: &mut At<'_>, c: &Campaign) -> Vec<Change> {
    let Some(oid) = st.org_id(&c.org) else {
        return Vec::new();
    };
    let today = at.get().date();
    c.items
        .iter()
        .filter(|i| i.spec.kind == ItemKind::Membership)
        .filter(|i| i.decision.as_ref().is_some_and(|d| d.keep))
        .filter_map(|it| {
            let before = member_attrs(membership(st, &it.spec.user, oid)?);
            let mut after = before.clone();
            after.reviewed = Some(today);
            (after != before).then(|| Change::MemberUpdated {
                org: c.org.clone(),
                user: it.spec.user.clone(),
                before,
                after,
            })
        })
        .collect()
}

fn plan_revocations(
    st: &State,
    at: &mut At<'_>,
    actor: Option<&str>,
    c: &Campaign,
) -> Result<(Vec<Change>, Vec<u32>)> {
    let oid = st.org_id(&c.org);
    let rejected: Vec<&CampaignItem> = c
        .items
        .iter()
        .filter(|i| i.decision.as_ref().is_some_and(|d| !d.keep))
        .collect();
    let mut changes = Vec::new();
    let mut revoked = Vec::new();
    let mut leaving = BTreeSet::new();
    let mut owners_left = oid.and_then(|o| st.org(o)).map_or(0, |o| o.owners);
    for it in rejected
        .iter()
        .filter(|i| i.spec.kind == ItemKind::Membership)
    {
        let Some(current) = oid.and_then(|o| membership(st, &it.spec.user, o)) else {
            continue;
        };
        if current.role == OrgRole::Owner {
            if owners_left <= 1 {
                return Err(ConflictError::LastOwner {
                    user: it.spec.user.clone(),
                    org: c.org.clone(),
                }
                .into());
            }
            owners_left -= 1;
        }
        changes.extend(plan_remove_member(st, at, actor, &it.spec.user, &c.org)?);
        leaving.insert(it.spec.user.as_str());
        revoked.push(it.id);
    }
    for it in rejected.iter().filter(|i| i.spec.kind == ItemKind::Grant) {
        let gt = ids::grant_target("target", &it.spec.target)?;
        let Ok(goid) = resolve_grant_target(st, gt) else {
            continue;
        };
        let exists = membership(st, &it.spec.user, goid)
            .and_then(|m| crate::graph::rules::existing_grant(st, m, gt))
            .is_some();
        if !exists {
            continue;
        }
        if leaving.contains(it.spec.user.as_str()) {
            // It goes with the membership (its `grant.removed` is planned already).
            revoked.push(it.id);
            continue;
        }
        if let Some(a) = actor.filter(|a| !same(a, &it.spec.user)) {
            authorize_grant(st, at, a, gt, goid, &it.spec.target)?;
        }
        changes.push(Change::GrantRemoved {
            user: it.spec.user.clone(),
            target: it.spec.target.clone(),
        });
        revoked.push(it.id);
    }
    revoked.sort_unstable();
    Ok((changes, revoked))
}

impl Graph {
    /// Starts an access review campaign of `org`: freezes its population (every
    /// membership and grant, now) as items for `reviewers` to decide by `due`.
    pub fn start_campaign(
        &self,
        org: &str,
        reviewers: &[String],
        due: Instant,
        actor: Option<&str>,
    ) -> Result<Campaign> {
        ids::org_slug("org", org)?;
        let mut people = reviewers
            .iter()
            .map(|r| ids::email("reviewers", r))
            .collect::<Result<Vec<_>>>()?;
        people.sort();
        people.dedup();
        if people.is_empty() {
            return Err(Error::invalid(
                "reviewers",
                "[]",
                "at least one reviewer's email",
            ));
        }
        if due <= self.now() {
            return Err(Error::invalid("due", due.to_iso(), "an instant after now"));
        }
        let id = self.mutate(actor, |st, at| {
            let oid = st.need_org(org)?;
            if let Some(a) = actor {
                authorize(st, at, a, "org:manage_roles", org)?;
            }
            for r in &people {
                let live = membership(st, r, oid).is_some_and(|m| at.alive(m.expires()));
                if !live {
                    return Err(ConflictError::NotMember {
                        user: r.clone(),
                        org: org.to_owned(),
                        detail: ": every reviewer must be a member of the org under review"
                            .to_owned(),
                    }
                    .into());
                }
            }
            let id = format!("camp_{}", st.campaigns.len() + 1);
            let items = population(st, oid, org, at);
            Ok((
                vec![Change::CampaignStarted {
                    id: id.clone(),
                    org: org.to_owned(),
                    reviewers: people
                        .iter()
                        .map(|r| Reviewer { user: r.clone() })
                        .collect(),
                    due,
                    items,
                }],
                id,
            ))
        })?;
        self.campaign(&id)
    }

    /// Records a reviewer's decision on item `item` of campaign `id`: keep the access, or
    /// revoke it when the campaign closes.
    pub fn decide_campaign_item(
        &self,
        id: &str,
        item: u32,
        keep: bool,
        reason: Option<&str>,
        actor: Option<&str>,
    ) -> Result<Campaign> {
        let reason = opt_text(reason.map(str::to_owned));
        self.mutate(actor, |st, at| {
            let c = need_campaign(st, id)?;
            let it = c.item(item).ok_or_else(|| {
                Error::invalid(
                    "item",
                    item.to_string(),
                    format!("an item of campaign `{id}` (1 to {})", c.items.len()),
                )
            })?;
            if let Some(a) = actor {
                authorize_decision(st, at, a, c, &it.spec)?;
            }
            open(c)?;
            if !keep && it.spec.kind == ItemKind::Membership {
                let last_owner = st.org_id(&c.org).is_some_and(|oid| {
                    membership(st, &it.spec.user, oid).is_some_and(|m| m.role == OrgRole::Owner)
                        && st.org(oid).is_some_and(|o| o.owners <= 1)
                });
                if last_owner {
                    return Err(ConflictError::LastOwner {
                        user: it.spec.user.clone(),
                        org: c.org.clone(),
                    }
                    .into());
                }
            }
            Ok((
                vec![Change::CampaignDecided {
                    id: c.id.clone(),
                    item,
                    user: it.spec.user.clone(),
                    target: it.spec.target.clone(),
                    keep,
                    reason: reason.clone(),
                }],
                (),
            ))
        })?;
        self.campaign(id)
    }

    /// Closes campaign `id`: revokes what was rejected (ordinary `member.removed` /
    /// `grant.removed` events), stamps each kept membership as reviewed today
    /// (`member.updated`), leaves the rest, and records `campaign.closed`.
    pub fn close_campaign(&self, id: &str, actor: Option<&str>) -> Result<Campaign> {
        self.mutate(actor, |st, at| {
            let c = need_campaign(st, id)?;
            if let Some(a) = actor {
                if !c.reviewers.iter().any(|r| same(r, a)) {
                    authorize(st, at, a, "org:manage_roles", &c.org)?;
                }
            }
            open(c)?;
            let (mut changes, revoked) = plan_revocations(st, at, actor, c)?;
            changes.extend(stamp_reviewed(st, at, c));
            let count = |keep: bool| {
                c.items
                    .iter()
                    .filter(|i| i.decision.as_ref().is_some_and(|d| d.keep == keep))
                    .count()
            };
            let n = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
            changes.push(Change::CampaignClosed {
                id: c.id.clone(),
                org: c.org.clone(),
                revoked,
                kept: n(count(true)),
                undecided: n(c.undecided()),
            });
            Ok((changes, ()))
        })?;
        self.campaign(id)
    }

    /// One campaign.
    pub fn campaign(&self, id: &str) -> Result<Campaign> {
        self.read(|st| {
            find_campaign(st, id)
                .cloned()
                .ok_or_else(|| NotFoundError::Campaign(id.to_owned()).into())
        })
    }

    /// The campaigns, of one org or of all, in the order they were started.
    pub fn campaigns(&self, org: Option<&str>) -> Result<Vec<Campaign>> {
        self.read(|st| {
            Ok(st
                .campaigns
                .iter()
                .filter(|c| org.is_none_or(|o| c.org == o))
                .cloned()
                .collect())
        })
    }
}
