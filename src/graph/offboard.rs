//! Offboarding (SPEC 4.2): someone leaves the company. One atomic mutation removes them
//! from every org, revokes their personal API keys, hands their resources to
//! `transfer_to`, and records `user.offboarded`; a report lists what was done and what
//! is left to people.
//!
//! Events, in order: for each org (by slug) its `grant.removed` events and one
//! `member.removed`; one `api_key.revoked` per unrevoked key; one `resource.transferred`
//! per resource (by id); then `user.offboarded`.
//!
//! Authority: the actor needs the authority of `remove_member` in every org the user
//! belongs to, and `org:remove_member` in every other org where they own a resource;
//! without it in one of them, `PermissionDenied` and nothing changes. The user may
//! offboard themselves (it is leaving); the system (`actor=None`) always may. Structural
//! rules come after: the last owner of an org cannot be offboarded (`ConflictError`), and
//! resources need a `transfer_to` who holds an unexpired membership of their org.

use std::collections::BTreeSet;

use super::front::Graph;
use super::keys::revoke_all;
use super::rules::{authorize, denied, plan_remove_member, same};
use crate::error::{ConflictError, Error, NotFoundError, Result};
use crate::ids::{self, email_key};
use crate::state::Change;
use crate::state::State;
use crate::time::At;

/// What an offboarding did (`done`) and the steps it leaves to people (`manual`), as
/// sentences.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffboardingReport {
    /// The user offboarded.
    pub user: String,
    /// Each step done.
    pub done: Vec<String>,
    /// Each step left to people.
    pub manual: Vec<String>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The org slug of a resource id `org/project/kind/id`.
fn org_of(resource: &str) -> &str {
    resource.split_once('/').map_or(resource, |(o, _)| o)
}

impl Graph {
    /// Offboards `user` (see the module docs) and reports what was done and what is left.
    pub fn offboard(
        &self,
        user: &str,
        actor: Option<&str>,
        transfer_to: Option<&str>,
        reason: Option<&str>,
    ) -> Result<OffboardingReport> {
        let email = ids::email("user", user)?;
        let transfer_to = transfer_to
            .map(|t| ids::email("transfer_to", t))
            .transpose()?;
        if transfer_to.as_deref() == Some(email.as_str()) {
            return Err(Error::invalid(
                "transfer_to",
                email.as_str(),
                "someone other than the user being offboarded",
            ));
        }
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        self.mutate(actor, |st, at| {
            plan(
                st,
                at,
                actor,
                &email,
                transfer_to.as_deref(),
                reason,
                "user offboarded",
            )
        })
    }
}

/// The changes of an erasure up to `user.erased` (SPEC 9): the actor must be an owner of
/// every org the user belongs to (or the system); then exactly an offboarding's changes.
pub(super) fn plan_erasure(
    st: &State,
    at: &mut At<'_>,
    actor: Option<&str>,
    email: &str,
    transfer_to: Option<&str>,
    reason: Option<String>,
) -> Result<Vec<Change>> {
    if let (Some(a), Some(uid)) = (actor, st.user_id(email)) {
        let orgs = st
            .user(uid)
            .map(|u| u.memberships.as_slice())
            .unwrap_or_default();
        for m in orgs {
            let role = super::rules::org_role(st, at, a, m.org);
            if role != Some(crate::roles::OrgRole::Owner) {
                let org = st.org(m.org).map_or("", |o| &*o.slug);
                return Err(denied(
                    a,
                    "org:remove_member",
                    org,
                    role.map(crate::roles::Role::Org),
                    format!(
                        "{} is not an owner of {org}: erasing {email}'s personal data needs an owner of every org they belong to",
                        email_key(a)
                    ),
                ));
            }
        }
    }
    if transfer_to == Some(email) {
        return Err(Error::invalid(
            "transfer_to",
            email,
            "someone other than the user being erased",
        ));
    }
    plan(st, at, actor, email, transfer_to, reason, "user erased").map(|(changes, _)| changes)
}

#[expect(
    clippy::too_many_lines,
    reason = "the offboarding's changes in the order SPEC 9 lists its events, one block each"
)]
fn plan(
    st: &State,
    at: &mut At<'_>,
    actor: Option<&str>,
    email: &str,
    transfer_to: Option<&str>,
    reason: Option<String>,
    revoked_because: &str,
) -> Result<(Vec<Change>, OffboardingReport)> {
    let uid = st
        .user_id(email)
        .ok_or_else(|| Error::from(NotFoundError::User(email.to_owned())))?;
    let rec = st
        .user(uid)
        .ok_or_else(|| Error::from(NotFoundError::User(email.to_owned())))?;
    if let Some(t) = transfer_to {
        if st.user_id(t).is_none() {
            return Err(NotFoundError::User(t.to_owned()).into());
        }
    }
    let mut orgs: Vec<(String, &crate::model::Membership)> = rec
        .memberships
        .iter()
        .filter_map(|m| st.org(m.org).map(|o| (o.slug.to_string(), m)))
        .collect();
    orgs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut owned: Vec<&str> = st
        .resources
        .iter()
        .flatten()
        .filter(|r| r.owner == uid)
        .map(|r| &*r.id)
        .collect();
    owned.sort_unstable();
    // What the user could reach, for the report (before anything changes).
    let reachable = crate::eval::accessible(st, email, "project:view", None, at)?
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();

    // Authority in every org involved first: a call that fails authority somewhere and a
    // structural rule elsewhere raises PermissionDenied.
    let mut removals = Vec::new();
    let mut structural: Option<Error> = None;
    for (org, _) in &orgs {
        match plan_remove_member(st, at, actor, email, org) {
            Ok(changes) => removals.push(changes),
            Err(e @ Error::Permission(_)) => return Err(e),
            Err(e) => {
                structural.get_or_insert(e);
            }
        }
    }
    let member_of: BTreeSet<&str> = orgs.iter().map(|(o, _)| o.as_str()).collect();
    let other_orgs: BTreeSet<&str> = owned
        .iter()
        .map(|r| org_of(r))
        .filter(|o| !member_of.contains(o))
        .collect();
    if let Some(a) = actor.filter(|a| !same(a, email)) {
        for org in &other_orgs {
            authorize(st, at, a, "org:remove_member", org)?;
        }
        if member_of.is_empty() && other_orgs.is_empty() {
            return Err(denied(
                a,
                "org:remove_member",
                email,
                None,
                format!(
                    "{} has no authority over {email}, who belongs to no organization: only the system or they themselves may offboard them",
                    email_key(a)
                ),
            ));
        }
    }
    if let Some(e) = structural {
        return Err(e);
    }
    if !owned.is_empty() {
        let Some(to) = transfer_to else {
            return Err(ConflictError::Rule(format!(
                "`{email}` owns {} ({}): pass transfer_to= to hand them over",
                plural(owned.len(), "resource", "resources"),
                owned.join(", ")
            ))
            .into());
        };
        for r in &owned {
            let org = org_of(r);
            let live = st
                .org_id(org)
                .and_then(|oid| super::rules::membership(st, to, oid))
                .is_some_and(|m| at.alive(m.expires()));
            if !live {
                return Err(ConflictError::NotMember {
                    user: to.to_owned(),
                    org: org.to_owned(),
                    detail: format!(" and cannot receive `{r}`"),
                }
                .into());
            }
        }
    }

    let mut changes = Vec::new();
    let mut done = Vec::new();
    for ((org, m), c) in orgs.iter().zip(removals) {
        let grants = c
            .iter()
            .filter(|c| matches!(c, Change::GrantRemoved { .. }))
            .count();
        let with = if grants == 0 {
            String::new()
        } else {
            format!(", with {}", plural(grants, "grant", "grants"))
        };
        done.push(format!(
            "removed from {org} (org role {}{with})",
            m.role.as_str()
        ));
        changes.extend(c);
    }
    let revocations = revoke_all(st, uid, revoked_because);
    for c in &revocations {
        if let Change::ApiKeyRevoked { key_id, .. } = c {
            let label = st.keys.key(key_id).map_or("", |k| k.label.as_str());
            done.push(format!("revoked personal API key {key_id} ({label})"));
        }
    }
    changes.extend(revocations);
    for r in &owned {
        let to = transfer_to.unwrap_or_default();
        done.push(format!("transferred {r} to {to}"));
        changes.push(Change::ResourceTransferred {
            resource: (*r).to_owned(),
            user: email.to_owned(),
            to: to.to_owned(),
        });
    }
    changes.push(Change::UserOffboarded {
        user: email.to_owned(),
        reason,
        transfer_to: transfer_to.filter(|_| !owned.is_empty()).map(str::to_owned),
    });
    done.push("recorded user.offboarded in the audit log".to_owned());

    let mut manual = vec![
        format!("remove {email} from shared Slack channels, mailing lists and calendars"),
        format!(
            "revoke {email}'s access to tools outside accessgraph (SSO apps, data warehouse, shared drives) and recover company devices"
        ),
    ];
    if !reachable.is_empty() {
        manual.push(format!(
            "rotate shared secrets {email} knew, including the project API keys of {} ({})",
            plural(reachable.len(), "project", "projects"),
            reachable.join(", ")
        ));
    }
    let owner_of: Vec<&str> = orgs
        .iter()
        .filter(|(_, m)| m.role == crate::roles::OrgRole::Owner)
        .map(|(o, _)| o.as_str())
        .collect();
    if !owner_of.is_empty() {
        manual.push(format!(
            "hand over the billing contact of {}, which {email} owned",
            owner_of.join(", ")
        ));
    }
    if let (Some(to), false) = (transfer_to, owned.is_empty()) {
        let them = if owned.len() == 1 { "it" } else { "them" };
        manual.push(format!(
            "tell {to} they now own {} of {email}'s, and review who can see {them}",
            plural(owned.len(), "resource", "resources")
        ));
    }
    Ok((
        changes,
        OffboardingReport {
            user: email.to_owned(),
            done,
            manual,
        },
    ))
}
