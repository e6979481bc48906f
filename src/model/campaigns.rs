//! Access review campaigns as data (SOC 2 CC6.2): the population frozen when a campaign
//! starts, each item's decision, and how the campaign closed.

use serde::{Deserialize, Serialize};

use crate::time::Instant;

/// What an item of a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A membership of the org (`target` = the org, `role` = the org role).
    Membership,
    /// A project grant, or one on `org/*` (`target` = it, `role` = the project role).
    Grant,
}

impl ItemKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Membership => "membership",
            ItemKind::Grant => "grant",
        }
    }
}

/// One item of the frozen population, as recorded when the campaign starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemSpec {
    /// Membership or grant.
    pub kind: ItemKind,
    /// The user's email.
    pub user: String,
    /// The org (a membership), or the project or `org/*` (a grant).
    pub target: String,
    /// The role held then (an org role or a project role).
    pub role: String,
    /// Its expiry then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Instant>,
    /// A grant of someone no longer in the org (their membership had expired).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orphan: bool,
}

/// A reviewer as `campaign.started` records them: an object whose `user` key holds the
/// email, so the audit log treats it as personal (erasable) data, as it does every `user`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reviewer {
    /// The reviewer's email.
    pub user: String,
}

/// A reviewer's decision on an item (the last one made counts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemDecision {
    /// Keep the access (`true`) or revoke it when the campaign closes (`false`).
    pub keep: bool,
    /// Why.
    pub reason: Option<String>,
    /// Who decided (`None` = the system).
    pub by: Option<String>,
    /// When.
    pub at: Instant,
}

/// An item: what was under review, and its decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CampaignItem {
    /// 1, 2, 3 … in the order of the population (memberships by user, then grants by
    /// user and target).
    pub id: u32,
    /// What it is.
    pub spec: ItemSpec,
    /// The decision, if one was made.
    pub decision: Option<ItemDecision>,
}

/// How a campaign closed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Closing {
    /// Who closed it (`None` = the system).
    pub by: Option<String>,
    /// When.
    pub at: Instant,
    /// The items whose access was revoked on closing.
    pub revoked: Vec<u32>,
}

/// An access review campaign.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Campaign {
    /// `camp_1`, `camp_2` … in the order campaigns are started.
    pub id: String,
    /// The org under review.
    pub org: String,
    /// Who may decide items (emails, sorted).
    pub reviewers: Vec<String>,
    /// When the review is due.
    pub due: Instant,
    /// Who started it (`None` = the system).
    pub started_by: Option<String>,
    /// When.
    pub started_at: Instant,
    /// The population, frozen when it started.
    pub items: Vec<CampaignItem>,
    /// Set once it is closed.
    pub closed: Option<Closing>,
}

impl Campaign {
    /// The item with this id.
    pub fn item(&self, id: u32) -> Option<&CampaignItem> {
        id.checked_sub(1)
            .and_then(|i| self.items.get(i as usize))
            .filter(|it| it.id == id)
            .or_else(|| self.items.iter().find(|it| it.id == id))
    }

    /// Items nobody decided.
    pub fn undecided(&self) -> usize {
        self.items.iter().filter(|i| i.decision.is_none()).count()
    }
}
