//! Project grants: granting a project role (or one on every project of an org) and revoking it.
//!
//! Each mutation is planned as a list of [`Change`]s after checking, in order, argument
//! validation (`ValidationError`), existence (`NotFoundError`), the actor's authority
//! (`PermissionDenied`, SPEC 2.3) and structural rules (`ConflictError`); `Graph::mutate`
//! then records and applies the plan whole.

use super::front::Graph;
use super::rules::{
    authorize_grant, authorize_grant_to, existing_grant, grantee, membership, opt_text,
    resolve_grant_target, same,
};
use crate::error::{NotFoundError, Result};
use crate::ids::{self};
use crate::roles::ProjectRole;
use crate::state::{Change, GrantAttrs};
use crate::time::Instant;

impl Graph {
    /// Grants `user` a project role on `target` (`org/project` or `org/*`), replacing any
    /// grant they hold there.
    pub fn grant(
        &self,
        user: &str,
        target: &str,
        role: &str,
        expires: Option<Instant>,
        reason: Option<String>,
        actor: Option<&str>,
    ) -> Result<()> {
        let email = ids::email("user", user)?;
        let gt = ids::grant_target("target", target)?;
        let role = ProjectRole::parse("role", role)?;
        self.mutate(actor, |st, at| {
            let oid = resolve_grant_target(st, gt)?;
            let org = gt.org();
            if let Some(a) = actor {
                authorize_grant_to(st, at, a, &email, gt, oid, target)?;
            }
            let m = grantee(st, at, &email, oid, org)?;
            let attrs = GrantAttrs {
                role,
                expires,
                reason: opt_text(reason),
                review_by: None,
            };
            let existing = existing_grant(st, m, gt);
            // The email moves into the change (the plan is the last to need it).
            let change = match existing {
                None => Change::GrantAdded {
                    user: email,
                    target: target.to_owned(),
                    attrs,
                },
                Some(before) if before == attrs => return Ok((Vec::new(), ())),
                Some(before) => Change::GrantChanged {
                    user: email,
                    target: target.to_owned(),
                    before,
                    after: attrs,
                },
            };
            Ok((vec![change], ()))
        })
    }

    /// Revokes `user`'s grant on `target`. Anyone may revoke their own grants.
    pub fn revoke(&self, user: &str, target: &str, actor: Option<&str>) -> Result<()> {
        let email = ids::email("user", user)?;
        let gt = ids::grant_target("target", target)?;
        self.mutate(actor, |st, at| {
            let oid = resolve_grant_target(st, gt)?;
            if let Some(a) = actor.filter(|a| !same(a, &email)) {
                authorize_grant(st, at, a, gt, oid, target)?;
            }
            let has = membership(st, &email, oid)
                .and_then(|m| existing_grant(st, m, gt))
                .is_some();
            if !has {
                return Err(NotFoundError::Grant {
                    user: email.clone(),
                    target: target.to_owned(),
                }
                .into());
            }
            Ok((
                vec![Change::GrantRemoved {
                    user: email.clone(),
                    target: target.to_owned(),
                }],
                (),
            ))
        })
    }
}
