//! Access requests (SPEC 4.4): a member asks for a project role with a reason; someone
//! with the authority to grant it approves (the grant is applied with the request's
//! reason and a `review_by` date) or denies it.
//!
//! Requests are part of the graph's state: each step is an audited change
//! (`access_request.created`, `.approved`, `.denied`), replayed from journals and written
//! in snapshots. Ids are `req_1`, `req_2` … in the order requests are made.
//!
//! Decisions beyond the spec:
//! - The requester must be an unexpired member of the target's org (a grant needs one),
//!   must give a reason, and may have one pending request per target.
//! - `request_access` is made by the requester: the audit actor is the user.
//! - Approving needs exactly the authority of `grant` (the approver cannot be the
//!   requester); denying needs the same. A request is decided once.
//! - Approving replaces any grant the user held on the target, as `grant` does.

use crate::error::{ConflictError, Error, NotFoundError, Result};
use crate::graph::rules::{
    authorize_grant, denied, existing_grant, grantee, opt_text, require_rank, resolve_grant_target,
    same,
};
use crate::graph::Graph;
use crate::ids::{self, email_key};
use crate::model::requests::{AccessRequest, RequestStatus};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::queries::find_request;
use crate::state::State;
use crate::state::{Change, GrantAttrs};
use crate::time::{At, Instant};

/// The authority to decide `r`: the authority to grant it (SPEC 9: whoever may approve
/// may deny), and not one's own request.
fn authorize_decision(
    st: &State,
    at: &mut At<'_>,
    actor: &str,
    r: &AccessRequest,
    verb: &str,
) -> Result<()> {
    if same(actor, &r.user) {
        return Err(denied(
            actor,
            "project:manage_members",
            &r.target,
            None,
            format!(
                "{} cannot {verb} their own access request `{}`",
                email_key(actor),
                r.id
            ),
        ));
    }
    let gt = ids::grant_target("target", &r.target)?;
    match resolve_grant_target(st, gt) {
        Ok(oid) => authorize_grant(st, at, actor, gt, oid, &r.target),
        // The project went away: an org admin may still close the request.
        Err(Error::NotFound(NotFoundError::Project(_))) if verb == "deny" => {
            let org = r.target.split_once('/').map_or("", |(o, _)| o);
            let oid = st.need_org(org)?;
            require_rank(
                st,
                at,
                actor,
                oid,
                OrgRole::Admin,
                "project:manage_members",
                org,
                &format!("deciding a request on the deleted project {}", r.target),
            )
        }
        Err(e) => Err(e),
    }
}

fn pending(r: &AccessRequest) -> Result<()> {
    if r.status == RequestStatus::Pending {
        Ok(())
    } else {
        Err(ConflictError::Rule(format!(
            "access request `{}` was already {}",
            r.id,
            r.status.as_str()
        ))
        .into())
    }
}

/// The largest `review_days` accepted: about a hundred years.
const MAX_REVIEW_DAYS: i64 = 36_500;

impl Graph {
    /// `user` asks for `role` on `target` (`org/project` or `org/*`), saying why. The
    /// request is made by the user themselves; returns it, pending.
    pub fn request_access(
        &self,
        user: &str,
        target: &str,
        role: &str,
        reason: Option<&str>,
    ) -> Result<AccessRequest> {
        let email = ids::email("user", user)?;
        let gt = ids::grant_target("target", target)?;
        let role = ProjectRole::parse("role", role)?;
        let Some(reason) = opt_text(reason.map(str::to_owned)) else {
            return Err(Error::invalid(
                "reason",
                reason.unwrap_or("None"),
                "a sentence saying why the access is needed",
            ));
        };
        let id = self.mutate(Some(&email), |st, at| {
            let oid = resolve_grant_target(st, gt)?;
            let org = st.org(oid).map_or("", |o| &*o.slug);
            grantee(st, at, &email, oid, org)?;
            if let Some(r) = st.requests.iter().find(|r| {
                r.status == RequestStatus::Pending && r.user == email && r.target == target
            }) {
                return Err(ConflictError::Rule(format!(
                    "`{email}` already has a pending request for `{target}`: `{}`",
                    r.id
                ))
                .into());
            }
            let id = format!("req_{}", st.requests.len() + 1);
            Ok((
                vec![Change::AccessRequestCreated {
                    id: id.clone(),
                    user: email.clone(),
                    target: target.to_owned(),
                    role,
                    reason: Some(reason.clone()),
                }],
                id,
            ))
        })?;
        self.access_request(&id)
    }

    /// Approves a pending request: grants the role asked for with the request's reason,
    /// `expires`, and a review date `review_days` from today. The approver needs the
    /// authority to grant it; without it the request stays pending.
    pub fn approve(
        &self,
        id: &str,
        actor: Option<&str>,
        expires: Option<Instant>,
        review_days: i64,
    ) -> Result<AccessRequest> {
        if !(0..=MAX_REVIEW_DAYS).contains(&review_days) {
            return Err(Error::invalid(
                "review_days",
                review_days.to_string(),
                format!("a number of days from 0 to {MAX_REVIEW_DAYS}"),
            ));
        }
        if let Some(e) = expires {
            if e <= self.now() {
                return Err(Error::invalid(
                    "expires",
                    e.to_iso(),
                    "an instant after now: access that ends before it starts grants nothing",
                ));
            }
        }
        self.mutate(actor, |st, at| {
            let r = find_request(st, id).ok_or_else(|| NotFoundError::Request(id.to_owned()))?;
            if let Some(a) = actor {
                authorize_decision(st, at, a, r, "approve")?;
            }
            pending(r)?;
            let gt = ids::grant_target("target", &r.target)?;
            let oid = resolve_grant_target(st, gt)?;
            let org = st.org(oid).map_or("", |o| &*o.slug);
            let m = grantee(st, at, &r.user, oid, org)?;
            let review_by = at
                .get()
                .date()
                .checked_add_signed(chrono::TimeDelta::days(review_days));
            let attrs = GrantAttrs {
                role: r.role,
                expires,
                reason: r.reason.clone(),
                review_by,
            };
            let grant = match existing_grant(st, m, gt) {
                None => Change::GrantAdded {
                    user: r.user.clone(),
                    target: r.target.clone(),
                    attrs,
                },
                Some(before) => Change::GrantChanged {
                    user: r.user.clone(),
                    target: r.target.clone(),
                    before,
                    after: attrs,
                },
            };
            let approved = Change::AccessRequestApproved {
                id: r.id.clone(),
                user: r.user.clone(),
                target: r.target.clone(),
                expires,
                review_by,
            };
            Ok((vec![approved, grant], ()))
        })?;
        self.access_request(id)
    }

    /// Denies a pending request, saying why. Whoever may approve it may deny it.
    pub fn deny(
        &self,
        id: &str,
        actor: Option<&str>,
        reason: Option<&str>,
    ) -> Result<AccessRequest> {
        let reason = opt_text(reason.map(str::to_owned));
        self.mutate(actor, |st, at| {
            let r = find_request(st, id).ok_or_else(|| NotFoundError::Request(id.to_owned()))?;
            if let Some(a) = actor {
                authorize_decision(st, at, a, r, "deny")?;
            }
            pending(r)?;
            Ok((
                vec![Change::AccessRequestDenied {
                    id: r.id.clone(),
                    user: r.user.clone(),
                    target: r.target.clone(),
                    reason: reason.clone(),
                }],
                (),
            ))
        })?;
        self.access_request(id)
    }

    /// One access request.
    pub fn access_request(&self, id: &str) -> Result<AccessRequest> {
        self.read(|st| {
            find_request(st, id)
                .cloned()
                .ok_or_else(|| NotFoundError::Request(id.to_owned()).into())
        })
    }

    /// The access requests, optionally of one status, in the order they were made.
    pub fn access_requests(&self, status: Option<&str>) -> Result<Vec<AccessRequest>> {
        let status = status
            .map(|s| RequestStatus::parse("status", s))
            .transpose()?;
        self.read(|st| {
            Ok(st
                .requests
                .iter()
                .filter(|r| status.is_none_or(|s| r.status == s))
                .cloned()
                .collect())
        })
    }
}
