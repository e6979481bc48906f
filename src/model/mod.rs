//! Plain data: the records the graph stores and their check-path views, API keys, the
//! action catalogue, onboarding templates and access requests.

pub mod actions;
mod hot;
pub mod keys;
mod records;
pub mod requests;
pub mod templates;

pub use hot::{HotGrant, HotMembership, HotProject, HotUser, NEVER};
pub use records::{
    Grant, GrantExtra, GrantInfo, MemberInfo, Membership, OrgInfo, OrgRec, ProjectAttrs,
    ProjectInfo, ProjectRec, ResourceInfo, ResourceRec, Settings, UserInfo, UserRec,
};
