//! Plain data: the records the graph stores, API keys, the action catalogue, onboarding
//! templates, access requests and access review campaigns.

pub mod actions;
pub mod campaigns;
pub mod keys;
mod records;
pub mod requests;
pub mod templates;

pub use records::{
    Grant, GrantExtra, GrantInfo, HotGrant, HotMembership, HotProject, HotUser, MemberInfo,
    Membership, OrgInfo, OrgRec, ProjectAttrs, ProjectInfo, ProjectRec, ResourceInfo, ResourceRec,
    Settings, UserInfo, UserRec, NEVER,
};
