//! Directory sync (SPEC 4.5, 9): make an org's access equal to what an identity
//! provider's groups map to.
//!
//! People come as plain records (`email`, `name`, `active`, `groups`) or SCIM 2.0 User
//! resources (`userName` / `emails[primary]`, `name.formatted` or `givenName` +
//! `familyName`, `active`, `groups[].display`). A group maps to an org role, or to a role
//! and project grants; someone in several groups gets the highest of each.
//!
//! A sync is planned first ([`SyncPlan`]: a list of `{op, user, target, before, after}`
//! with `op` one of `add_member`, `set_role`, `grant`, `revoke`, `remove_member`), which
//! needs no authority; applying a plan is one atomic mutation in which the actor needs the
//! authority of every change, and which first checks that each change's `before` still
//! holds (a plan gone stale changes nothing).
//!
//! Decisions beyond the spec:
//! - Owners are never removed nor demoted, and their grants are left alone: whatever the
//!   directory says about an owner that would change them is listed in `skipped`. Nor is
//!   a member whose membership expires made owner (owners cannot expire): `skipped`.
//! - A member whose membership expired is not renewed (an expiry is a decision someone
//!   made): they are listed in `skipped`; with `deprovision`, one the directory no longer
//!   gives access is removed.
//! - A grant is compared by role; an expired grant the directory gives is granted again.
//!   Grants made by sync have no expiry and the reason "directory sync"; so do
//!   memberships. A grant someone gave with an expiry and the same role is left alone.
//! - Grant targets in the mapping are `org/project`, a project slug, `org/*` or `*`.
//! - Changes are ordered by user, then `add_member`, `set_role`, `grant`, `revoke`,
//!   `remove_member`, then target. Removing a member removes their grants with them, so
//!   their grants are not listed apart.
//!
//! - [`directory`]: people and group mappings read from plain or SCIM JSON.
//! - [`plan`]: the plan of changes that makes access match the directory.
//! - [`apply`]: a reviewed plan applied as one atomic mutation.

mod apply;
mod directory;
mod plan;

pub use apply::changes_for;
pub use directory::{
    groups_from_json, people_from_json, person_from_json, GroupMapping, Person, REASON,
};
pub use plan::{plan, PlannedChange, Skipped, SyncOp, SyncPlan};
