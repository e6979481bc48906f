//! Plain data: the records the graph stores and their check-path views, API keys, the
//! action catalogue, onboarding templates, access requests and access review campaigns.

pub mod actions;
pub mod campaigns;
mod hot;
pub mod keys;
mod records;
pub mod requests;
pub mod templates;

pub use hot::{HotGrant, HotMembership, HotProject, HotUser, HotUserBuf, NEVER};
pub use records::{
    Grant, GrantExtra, GrantInfo, MemberInfo, Membership, OrgInfo, OrgRec, ProjectAttrs,
    ProjectInfo, ProjectRec, ResourceInfo, ResourceRec, Settings, UserInfo, UserRec,
};
