//! Plain data: roles, resource kinds, and the records the graph stores.

pub mod keys;
mod records;
mod roles;

pub use records::{
    Grant, GrantExtra, GrantInfo, HotGrant, HotMembership, HotProject, HotUser, MemberInfo,
    Membership, OrgInfo, OrgRec, ProjectAttrs, ProjectInfo, ProjectRec, ResourceInfo, ResourceRec,
    Settings, UserInfo, UserRec, NEVER,
};
pub use roles::{OrgRole, ProjectRole, ResourceKind, Role};
