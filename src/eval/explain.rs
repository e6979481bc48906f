//! `explain`: a decision in words — who, what, where, the role and where it comes from.

use super::evaluate::{evaluate, locate, validate_target, Verdict, Why};
use crate::decision::{Decision, Source};
use crate::error::Result;
use crate::model::actions::{ActionDef, Need};
use crate::roles::Role;
use crate::state::{State, TargetRef};
use crate::time::At;

/// `explain`: the verdict of `check`, with a sentence.
pub fn explain(
    st: &State,
    user: &str,
    action: &str,
    target: &str,
    at: &mut At<'_>,
) -> Result<Decision> {
    let def = st.catalog.require(action)?;
    let t = st.target(target);
    validate_target(def, target, t)?;
    let uid = st.user_id(user);
    let verdict = match (uid, t) {
        (None, _) => Verdict::denied(Why::UnknownUser),
        (_, None) => Verdict::denied(Why::UnknownTarget),
        (Some(uid), Some(t)) => evaluate(st, uid, def, t, at),
    };
    // An API secret passed as the user is masked, in the sentence as in `user`.
    let reason = crate::text::mask_secrets(&sentence(st, user, def, target, t, &verdict)).into();
    Ok(Decision {
        allowed: verdict.allowed,
        user: uid.and_then(|u| st.user(u)).map_or_else(
            || crate::text::mask_secrets(user).into_owned(),
            |u| u.email.to_string(),
        ),
        action: action.to_owned(),
        target: target.to_owned(),
        role: verdict.role,
        source: verdict.source,
        reason,
        fixes: Vec::new(),
    })
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn need_words(def: &ActionDef) -> String {
    match def.need {
        Need::Org { min_role } => format!("`{}` needs org role {}", def.name, min_role.as_str()),
        Need::Project {
            min_role,
            owner_role: Some(o),
        } => format!(
            "`{}` needs project role {} ({} on a {} they own)",
            def.name,
            min_role.as_str(),
            o.as_str(),
            def.resource_part()
        ),
        Need::Project { min_role, .. } => {
            format!("`{}` needs project role {}", def.name, min_role.as_str())
        }
    }
}

fn sentence(
    st: &State,
    user: &str,
    def: &ActionDef,
    target: &str,
    t: Option<TargetRef>,
    v: &Verdict,
) -> String {
    let org = t
        .and_then(|t| locate(st, t))
        .and_then(|(o, _, _)| st.org(o))
        .map_or_else(String::new, |o| o.slug.to_string());
    let user = crate::ids::email_key(user);
    match v.why {
        Why::UnknownUser => format!(
            "{user} is not a known user, so `{}` is denied on {target}",
            def.name
        ),
        Why::UnknownTarget => format!(
            "{target} is not a known organization, project or resource, so `{}` is denied",
            def.name
        ),
        Why::NotMember => format!(
            "{user} is not a member of {org}, so `{}` is denied on {target}",
            def.name
        ),
        Why::Expired(e) => format!(
            "{user}'s membership of {org} expired at {}, so `{}` is denied on {target}",
            e.to_iso(),
            def.name
        ),
        Why::ByOwnership => format!(
            "{user} is {} {} on {} and owns {target}; {}",
            article(v.role.map_or("", Role::as_str)),
            v.role.map_or("", Role::as_str),
            project_of(target),
            need_words(def)
        ),
        Why::ByRole => {
            let verdict = if v.allowed { "allowed" } else { "denied" };
            let held = match (v.role, v.source) {
                (Some(Role::Org(r)), _) => format!("{user} is an org {} of {org}", r.as_str()),
                (Some(Role::Project(r)), Some(Source::OrganizationAdmin)) => format!(
                    "{user} is an org owner/admin of {org}, which implies project {} on {}",
                    r.as_str(),
                    project_of(target)
                ),
                (Some(Role::Project(r)), Some(s)) => format!(
                    "{user} is {} {} on {} ({})",
                    article(r.as_str()),
                    r.as_str(),
                    project_of(target),
                    s.phrase()
                ),
                _ => {
                    let restricted = t
                        .and_then(|t| locate(st, t))
                        .and_then(|(_, p, _)| p)
                        .is_some_and(|(_, p)| p.restricted);
                    let note = if restricted {
                        " (it is restricted: grants on all projects do not reach it)"
                    } else {
                        ""
                    };
                    format!(
                        "{user} is a member of {org} but has no role on {}{note}",
                        project_of(target)
                    )
                }
            };
            format!("{held}; {}: {verdict}", need_words(def))
        }
    }
}

fn project_of(target: &str) -> &str {
    let mut idx = 0;
    for (n, (i, _)) in target.match_indices('/').enumerate() {
        if n == 1 {
            idx = i;
            break;
        }
    }
    if idx == 0 {
        target
    } else {
        target.get(..idx).unwrap_or(target)
    }
}
