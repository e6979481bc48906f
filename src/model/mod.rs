//! Plain data: roles, resource kinds, and the records the graph stores.

mod records;
mod roles;

pub use records::{
    Grant, GrantInfo, MemberInfo, Membership, OrgInfo, OrgRec, ProjectAttrs, ProjectInfo,
    ProjectRec, ResourceInfo, ResourceRec, Settings, UserInfo, UserRec,
};
pub use roles::{OrgRole, ProjectRole, ResourceKind, Role};
