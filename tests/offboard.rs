//! Offboarding (SPEC 4.2 and the offboard rules of SPEC 9): one atomic call removes
//! someone from every org, revokes their keys, hands over their resources and records
//! `user.offboarded`, in that order; without authority in every org involved nothing
//! changes.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

use accessgraph::audit::Filter;
use accessgraph::error::{ConflictError, NotFoundError, ValidationError};
use accessgraph::graph::{NewKey, NewMember, NewProject, OpenOptions};
use accessgraph::registry::json::to_json;
use accessgraph::{Error, Graph};

mod common;
use common::T0;

const ACME_OWNER: &str = "owner@acme.io";
const BETA_OWNER: &str = "owner@beta.io";
const ADMIN: &str = "admin@acme.io";
const LEAVER: &str = "leaver@acme.io";
const HEIR: &str = "heir@acme.io";

/// The leaver belongs to acme (member, two grants) and beta (admin), holds two keys and
/// owns a dashboard in acme and a flag in beta; the heir belongs to both orgs.
fn graph() -> Graph {
    let g = Graph::new();
    g.set_time(Some(T0));
    g.add_org("acme", None, ACME_OWNER, None).unwrap();
    g.add_org("beta", None, BETA_OWNER, None).unwrap();
    for p in ["acme/web", "acme/docs", "beta/app"] {
        g.add_project(p, NewProject::default(), None).unwrap();
    }
    let admin = || NewMember {
        role: Some("admin".into()),
        ..NewMember::default()
    };
    g.add_member(ADMIN, "acme", admin(), None).unwrap();
    g.add_member(LEAVER, "acme", NewMember::default(), None)
        .unwrap();
    g.add_member(LEAVER, "beta", admin(), None).unwrap();
    g.add_member(HEIR, "acme", NewMember::default(), None)
        .unwrap();
    g.add_member(HEIR, "beta", NewMember::default(), None)
        .unwrap();
    g.grant(LEAVER, "acme/web", "member", None, None, None)
        .unwrap();
    g.grant(LEAVER, "acme/*", "viewer", None, None, None)
        .unwrap();
    for label in ["ci", "notebook"] {
        let new = NewKey {
            label: label.into(),
            ..NewKey::default()
        };
        g.create_personal_key(LEAVER, new, Some(LEAVER)).unwrap();
    }
    g
}

fn with_resources(g: &Graph) {
    g.add_resource("acme/web", "dashboard", "7", Some(LEAVER), None)
        .unwrap();
    g.add_resource("beta/app", "feature_flag", "beta-ui", Some(LEAVER), None)
        .unwrap();
}

fn actions_since(g: &Graph, seq: u64) -> Vec<String> {
    g.audit_events(&Filter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.seq > seq)
        .map(|e| e.action)
        .collect()
}

/// The whole observable state: snapshot, keys, and the audit log's length.
fn observed(g: &Graph) -> (String, usize) {
    (to_json(g).unwrap(), g.audit_len())
}

#[test]
fn offboarding_without_resources() {
    let g = graph();
    let n = g.revision();
    let report = g
        .offboard(LEAVER, None, None, Some("left the company"))
        .unwrap();
    assert!(g.user(LEAVER).unwrap().orgs.is_empty());
    assert!(g.grants(Some(LEAVER), None).unwrap().is_empty());
    assert!(g.personal_keys(Some(LEAVER), false).unwrap().is_empty());
    assert_eq!(g.personal_keys(Some(LEAVER), true).unwrap().len(), 2);
    assert_eq!(
        actions_since(&g, n),
        [
            "grant.removed",
            "grant.removed",
            "member.removed",
            "member.removed",
            "api_key.revoked",
            "api_key.revoked",
            "user.offboarded",
        ]
    );
    let last = g.audit_events(&Filter::default()).unwrap().pop().unwrap();
    assert_eq!(last.target, LEAVER);
    assert_eq!(last.user(), Some(LEAVER));
    assert_eq!(last.details["reason"], "left the company");
    assert_eq!(report.user, LEAVER);
    assert!(report
        .done
        .iter()
        .any(|s| s.starts_with("removed from acme")));
    assert!(report
        .done
        .iter()
        .any(|s| s.starts_with("removed from beta")));
    assert_eq!(
        report
            .done
            .iter()
            .filter(|s| s.starts_with("revoked personal API key"))
            .count(),
        2
    );
    assert!(report.manual.iter().any(|s| s.contains("Slack")));
    assert!(report
        .manual
        .iter()
        .any(|s| s.contains("acme/web") && s.contains("project API keys")));
    // `events(user=...)` finds every step.
    let theirs = g
        .audit_events(&Filter {
            user: Some(LEAVER.into()),
            since: Some(T0),
            action: Some("api_key.revoked".into()),
            ..Filter::default()
        })
        .unwrap();
    assert!(theirs
        .iter()
        .all(|e| e.details["reason"] == "user offboarded"));
}

#[test]
fn offboarding_with_resources_needs_and_uses_transfer_to() {
    let g = graph();
    with_resources(&g);
    let before = observed(&g);
    let err = g.offboard(LEAVER, Some(ACME_OWNER), None, None);
    // The owner of acme is no admin of beta: authority first.
    assert!(matches!(err, Err(Error::Permission(_))));
    let (snap, len) = before;
    assert_eq!(to_json(&g).unwrap(), snap);
    assert_eq!(g.audit_len(), len + 1);
    let before = observed(&g);
    let err = g.offboard(LEAVER, None, None, None).unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictError::Rule(ref m)) if m.contains("transfer_to")),
        "{err}"
    );
    assert_eq!(observed(&g), before);
    // The heir must belong to the resource's org.
    let outsider = "outsider@else.io";
    g.add_org("else", None, outsider, None).unwrap();
    let before = observed(&g);
    let err = g.offboard(LEAVER, None, Some(outsider), None).unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictError::NotMember { .. })),
        "{err}"
    );
    assert_eq!(observed(&g), before);

    let n = g.revision();
    let report = g.offboard(LEAVER, None, Some(HEIR), None).unwrap();
    let owners: Vec<(String, String)> = g
        .resources(None)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.owner))
        .collect();
    assert_eq!(
        owners,
        [
            ("acme/web/dashboard/7".to_owned(), HEIR.to_owned()),
            ("beta/app/feature_flag/beta-ui".to_owned(), HEIR.to_owned())
        ]
    );
    assert_eq!(
        actions_since(&g, n),
        [
            "grant.removed",
            "grant.removed",
            "member.removed",
            "member.removed",
            "api_key.revoked",
            "api_key.revoked",
            "resource.transferred",
            "resource.transferred",
            "user.offboarded",
        ]
    );
    let moved = g
        .audit_events(&Filter {
            action: Some("resource.transferred".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(moved[0].target, "acme/web/dashboard/7");
    assert_eq!(moved[0].details["user"], LEAVER);
    assert_eq!(moved[0].details["to"], HEIR);
    assert!(report
        .done
        .contains(&format!("transferred acme/web/dashboard/7 to {HEIR}")));
    // The heir now owns the dashboard: a project member may edit what they own.
    assert!(!g
        .check(HEIR, "dashboard:edit", "acme/web/dashboard/8", None)
        .unwrap());
    g.grant(HEIR, "acme/web", "member", None, None, None)
        .unwrap();
    g.add_resource("acme/web", "dashboard", "8", Some(ADMIN), None)
        .unwrap();
    assert!(!g
        .check(HEIR, "dashboard:edit", "acme/web/dashboard/8", None)
        .unwrap());
    assert!(g
        .check(HEIR, "dashboard:edit", "acme/web/dashboard/7", None)
        .unwrap());
}

#[test]
fn a_denied_offboarding_changes_nothing_but_the_denial() {
    let g = graph();
    // The admin of acme has no authority in beta.
    let (snap, len) = observed(&g);
    let keys = g.personal_keys(None, true);
    let err = g.offboard(LEAVER, Some(ADMIN), None, None).unwrap_err();
    let Error::Permission(p) = err else {
        panic!("{err}")
    };
    assert_eq!(p.decision.target, "beta");
    assert_eq!(to_json(&g).unwrap(), snap);
    assert_eq!(g.personal_keys(None, true), keys);
    assert_eq!(g.audit_len(), len + 1);
    let last = g.audit_events(&Filter::default()).unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("access.denied", ADMIN)
    );
    // Authority comes before the structural rules: someone who fails both is denied.
    let err = g.offboard(BETA_OWNER, Some(ADMIN), None, None).unwrap_err();
    assert!(matches!(err, Error::Permission(_)), "{err}");
    // With authority in both orgs (an owner of each), it goes through.
    let both = "both@corp.io";
    for org in ["acme", "beta"] {
        let owner = if org == "acme" {
            ACME_OWNER
        } else {
            BETA_OWNER
        };
        g.add_member(both, org, NewMember::default(), None).unwrap();
        g.set_org_role(both, org, "owner", Some(owner)).unwrap();
    }
    g.offboard(LEAVER, Some(both), None, None).unwrap();
    assert!(g.user(LEAVER).unwrap().orgs.is_empty());
}

#[test]
fn structural_rules_and_argument_checks() {
    let g = graph();
    // The last owner of an org cannot be offboarded.
    let before = observed(&g);
    let err = g.offboard(BETA_OWNER, None, None, None).unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictError::LastOwner { .. })),
        "{err}"
    );
    assert_eq!(observed(&g), before);
    assert!(matches!(
        g.offboard("nobody@acme.io", None, None, None).unwrap_err(),
        Error::NotFound(NotFoundError::User(_))
    ));
    assert!(matches!(
        g.offboard("not an email", None, None, None).unwrap_err(),
        Error::Validation(_)
    ));
    assert!(matches!(
        g.offboard(LEAVER, None, Some(LEAVER), None).unwrap_err(),
        Error::Validation(ValidationError::Invalid {
            field: "transfer_to",
            ..
        })
    ));
    assert!(matches!(
        g.offboard(LEAVER, None, Some("ghost@acme.io"), None)
            .unwrap_err(),
        Error::NotFound(NotFoundError::User(_))
    ));
    // Someone may offboard themselves (it is leaving).
    g.offboard(HEIR, Some(HEIR), None, None).unwrap();
    assert!(g.user(HEIR).unwrap().orgs.is_empty());
    // Someone who belongs to no org: only they or the system.
    assert!(matches!(
        g.offboard(HEIR, Some(ACME_OWNER), None, None).unwrap_err(),
        Error::Permission(_)
    ));
    g.offboard(HEIR, None, None, None).unwrap();
}

#[test]
fn offboarding_replays_from_the_journal() {
    let dir = common::temp_dir("offboard");
    let path = dir.join("access.journal");
    let opts = OpenOptions::default();
    let (g, _) = Graph::open(&path, &opts).unwrap();
    g.set_time(Some(T0));
    g.add_org("acme", None, ACME_OWNER, None).unwrap();
    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    g.add_member(LEAVER, "acme", NewMember::default(), None)
        .unwrap();
    g.add_member(HEIR, "acme", NewMember::default(), None)
        .unwrap();
    g.add_resource("acme/web", "insight", "1", Some(LEAVER), None)
        .unwrap();
    let new = NewKey {
        label: "ci".into(),
        ..NewKey::default()
    };
    let (_, secret) = g.create_personal_key(LEAVER, new, Some(LEAVER)).unwrap();
    g.offboard(LEAVER, Some(ACME_OWNER), Some(HEIR), None)
        .unwrap();
    let before = to_json(&g).unwrap();
    drop(g);
    let (h, _) = Graph::open(&path, &opts).unwrap();
    assert_eq!(to_json(&h).unwrap(), before);
    assert!(h.authenticate(&secret).unwrap().is_none());
    assert_eq!(h.resources(None).unwrap()[0].owner, HEIR);
    h.audit_verify().unwrap();
}
