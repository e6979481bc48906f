//! Applying the `campaign.*` changes, and the campaign look-ups the graph's floors share.

use super::change::Change;
use super::tables::{Stamp, State};
use crate::error::{ConflictError, Error, NotFoundError, Result};
use crate::model::campaigns::{Campaign, CampaignItem, Closing, ItemDecision};

/// The campaign with this id.
pub fn find_campaign<'s>(st: &'s State, id: &str) -> Option<&'s Campaign> {
    // Ids are `camp_<n>` in start order: the n-th record, unless the list was edited.
    let guess = id
        .strip_prefix("camp_")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| st.campaigns.get(i))
        .filter(|c| c.id == id);
    guess.or_else(|| st.campaigns.iter().find(|c| c.id == id))
}

/// Like [`find_campaign`], raising `NotFoundError`.
pub fn need_campaign<'s>(st: &'s State, id: &str) -> Result<&'s Campaign> {
    find_campaign(st, id).ok_or_else(|| NotFoundError::Campaign(id.to_owned()).into())
}

fn campaign_mut<'s>(st: &'s mut State, id: &str) -> Result<&'s mut Campaign> {
    let c = st
        .campaigns
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::from(NotFoundError::Campaign(id.to_owned())))?;
    if c.closed.is_some() {
        return Err(ConflictError::Rule(format!("campaign `{id}` is closed")).into());
    }
    Ok(c)
}

/// Applies `campaign.started`, `campaign.decided` and `campaign.closed`.
pub(super) fn apply_campaign(st: &mut State, change: &Change, stamp: Stamp<'_>) -> Result<()> {
    match change {
        Change::CampaignStarted {
            id,
            org,
            reviewers,
            due,
            items,
        } => {
            if find_campaign(st, id).is_some() {
                return Err(ConflictError::Exists(format!("campaign `{id}`")).into());
            }
            st.campaigns.push(Campaign {
                id: id.clone(),
                org: org.clone(),
                reviewers: reviewers.iter().map(|r| r.user.clone()).collect(),
                due: *due,
                started_by: stamp.actor.map(str::to_owned),
                started_at: stamp.at,
                items: items
                    .iter()
                    .zip(1u32..)
                    .map(|(spec, n)| CampaignItem {
                        id: n,
                        spec: spec.clone(),
                        decision: None,
                    })
                    .collect(),
                closed: None,
            });
        }
        Change::CampaignDecided {
            id,
            item,
            keep,
            reason,
            ..
        } => {
            let c = campaign_mut(st, id)?;
            let it = c.items.iter_mut().find(|i| i.id == *item).ok_or_else(|| {
                Error::invalid(
                    "item",
                    item.to_string(),
                    format!("an item of campaign `{id}`"),
                )
            })?;
            it.decision = Some(ItemDecision {
                keep: *keep,
                reason: reason.clone(),
                by: stamp.actor.map(str::to_owned),
                at: stamp.at,
            });
        }
        Change::CampaignClosed { id, revoked, .. } => {
            let c = campaign_mut(st, id)?;
            c.closed = Some(Closing {
                by: stamp.actor.map(str::to_owned),
                at: stamp.at,
                revoked: revoked.clone(),
            });
        }
        _ => {}
    }
    Ok(())
}
