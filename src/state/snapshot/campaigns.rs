//! Access review campaigns in the snapshot: written with their population and decisions,
//! read back checked (ids, kinds, roles, emails, and a decision's parts together).

use crate::error::JsonPathError;
use crate::ids;
use crate::model::campaigns::{Campaign, CampaignItem, Closing, ItemDecision, ItemKind, ItemSpec};
use crate::roles::{OrgRole, ProjectRole};
use crate::state::State;

use super::doc::{CampaignItemJson, CampaignJson};

/// The campaigns of `st`, in start order.
pub(super) fn write(st: &State) -> Vec<CampaignJson> {
    st.campaigns
        .iter()
        .map(|c| CampaignJson {
            id: c.id.clone(),
            org: c.org.clone(),
            reviewers: c.reviewers.clone(),
            due: c.due,
            started_by: c.started_by.clone(),
            started_at: c.started_at,
            items: c.items.iter().map(item_json).collect(),
            closed_by: c.closed.as_ref().and_then(|x| x.by.clone()),
            closed_at: c.closed.as_ref().map(|x| x.at),
            revoked: c
                .closed
                .as_ref()
                .map(|x| x.revoked.clone())
                .unwrap_or_default(),
        })
        .collect()
}

fn item_json(i: &CampaignItem) -> CampaignItemJson {
    let d = i.decision.as_ref();
    CampaignItemJson {
        id: i.id,
        kind: i.spec.kind.as_str().to_owned(),
        user: i.spec.user.clone(),
        target: i.spec.target.clone(),
        role: i.spec.role.clone(),
        expires: i.spec.expires,
        orphan: i.spec.orphan,
        decision: d.map(|d| if d.keep { "keep" } else { "revoke" }.to_owned()),
        reason: d.and_then(|d| d.reason.clone()),
        decided_by: d.and_then(|d| d.by.clone()),
        decided_at: d.map(|d| d.at),
    }
}

fn err(path: String, message: String) -> JsonPathError {
    JsonPathError::new(path, message)
}

/// An email, or an erased user's pseudonym.
fn person(path: impl FnOnce() -> String, s: &str) -> Result<String, JsonPathError> {
    if ids::is_pseudonym(s) {
        return Ok(s.to_owned());
    }
    ids::email("user", s).map_err(|e| err(path(), e.to_string()))
}

/// Restores the campaigns of the document into `st`.
pub(super) fn read(st: &mut State, campaigns: &[CampaignJson]) -> Result<(), JsonPathError> {
    for (i, c) in campaigns.iter().enumerate() {
        let path = |name: &str| format!("$.campaigns[{i}].{name}");
        if c.id.trim().is_empty() || st.campaigns.iter().any(|x| x.id == c.id) {
            return Err(err(
                path("id"),
                format!("missing or duplicate campaign id `{}`", c.id.escape_debug()),
            ));
        }
        ids::org_slug("org", &c.org).map_err(|e| err(path("org"), e.to_string()))?;
        let reviewers = c
            .reviewers
            .iter()
            .enumerate()
            .map(|(j, r)| person(|| format!("$.campaigns[{i}].reviewers[{j}]"), r))
            .collect::<Result<Vec<_>, _>>()?;
        let opt = |v: &Option<String>, name: &str| {
            v.as_deref().map(|s| person(|| path(name), s)).transpose()
        };
        let started_by = opt(&c.started_by, "started_by")?;
        let closed_by = opt(&c.closed_by, "closed_by")?;
        let mut items = Vec::with_capacity(c.items.len());
        for (j, it) in c.items.iter().enumerate() {
            items.push(item(i, j, it)?);
        }
        let closed = match (c.closed_at, closed_by.is_some() || !c.revoked.is_empty()) {
            (Some(at), _) => Some(Closing {
                by: closed_by,
                at,
                revoked: c.revoked.clone(),
            }),
            (None, false) => None,
            (None, true) => {
                return Err(err(
                    path("closed_at"),
                    "missing: a campaign with `closed_by` or `revoked` is closed".to_owned(),
                ))
            }
        };
        st.campaigns.push(Campaign {
            id: c.id.clone(),
            org: c.org.clone(),
            reviewers,
            due: c.due,
            started_by,
            started_at: c.started_at,
            items,
            closed,
        });
    }
    Ok(())
}

fn item(i: usize, j: usize, it: &CampaignItemJson) -> Result<CampaignItem, JsonPathError> {
    let path = |name: &str| format!("$.campaigns[{i}].items[{j}].{name}");
    let expected = u32::try_from(j + 1).unwrap_or(u32::MAX);
    if it.id != expected {
        return Err(err(
            path("id"),
            format!(
                "invalid item id `{}` (expected {expected}: items are numbered in order)",
                it.id
            ),
        ));
    }
    let kind = match it.kind.as_str() {
        "membership" => ItemKind::Membership,
        "grant" => ItemKind::Grant,
        other => {
            return Err(err(
                path("kind"),
                format!(
                    "unknown kind `{}` (expected membership or grant)",
                    other.escape_debug()
                ),
            ))
        }
    };
    let role_ok = match kind {
        ItemKind::Membership => OrgRole::parse("role", &it.role).is_ok(),
        ItemKind::Grant => ProjectRole::parse("role", &it.role).is_ok(),
    };
    if !role_ok {
        return Err(err(
            path("role"),
            format!(
                "unknown role `{}` for a {}",
                it.role.escape_debug(),
                kind.as_str()
            ),
        ));
    }
    let user = person(|| path("user"), &it.user)?;
    let keep = match it.decision.as_deref() {
        None => None,
        Some("keep") => Some(true),
        Some("revoke") => Some(false),
        Some(other) => {
            return Err(err(
                path("decision"),
                format!(
                    "unknown decision `{}` (expected keep or revoke)",
                    other.escape_debug()
                ),
            ))
        }
    };
    let decision = match (keep, it.decided_at) {
        (Some(keep), Some(at)) => Some(ItemDecision {
            keep,
            reason: it.reason.clone(),
            by: it
                .decided_by
                .as_deref()
                .map(|s| person(|| path("decided_by"), s))
                .transpose()?,
            at,
        }),
        (None, None) if it.reason.is_none() && it.decided_by.is_none() => None,
        _ => {
            return Err(err(
                path("decision"),
                "a decision needs `decision` and `decided_at` together".to_owned(),
            ))
        }
    };
    Ok(CampaignItem {
        id: it.id,
        spec: ItemSpec {
            kind,
            user,
            target: it.target.clone(),
            role: it.role.clone(),
            expires: it.expires,
            orphan: it.orphan,
        },
        decision,
    })
}
