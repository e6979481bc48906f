//! API keys (SPEC 2.4, the key rows of SPEC 2.3, the API-key rules of SPEC 9): personal
//! keys inherit their user's permissions narrowed by scopes, projects and expiry; secrets
//! are stored as hashes only; rotation and revocation take effect at once; project keys
//! track events on their project only; every key mutation is audited, replays from the
//! journal and survives the JSON snapshot.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

use std::path::PathBuf;

use accessgraph::audit::Filter;
use accessgraph::error::{ConflictError, NotFoundError, ValidationError};
use accessgraph::eval::PrincipalKind;
use accessgraph::graph::{NewKey, NewMember, NewProject, OpenOptions};
use accessgraph::registry::json::{from_json, to_json};
use accessgraph::{Error, Graph, Instant, Source};

mod common;
use common::{temp_dir, TempDir, DAY, T0};

const OWNER: &str = "owner@acme.io";
const ADMIN: &str = "admin@acme.io";
const DEV: &str = "dev@acme.io";
const VIEWER: &str = "viewer@acme.io";

/// acme with web (dev is a member there), prod (restricted, dev a viewer) and docs (no
/// grant for dev); dev also belongs to beta.
fn graph() -> Graph {
    let g = Graph::new();
    g.set_time(Some(T0));
    g.add_org("acme", None, OWNER, None).unwrap();
    g.add_org("beta", None, "b@beta.io", None).unwrap();
    for p in ["acme/web", "acme/docs", "beta/app"] {
        g.add_project(p, NewProject::default(), None).unwrap();
    }
    let prod = NewProject {
        restricted: true,
        ..NewProject::default()
    };
    g.add_project("acme/prod", prod, None).unwrap();
    let admin = NewMember {
        role: Some("admin".into()),
        ..NewMember::default()
    };
    g.add_member(ADMIN, "acme", admin, None).unwrap();
    g.add_member(DEV, "acme", NewMember::default(), None)
        .unwrap();
    g.add_member(DEV, "beta", NewMember::default(), None)
        .unwrap();
    g.add_member(VIEWER, "acme", NewMember::default(), None)
        .unwrap();
    g.grant(DEV, "acme/web", "member", None, None, None)
        .unwrap();
    g.grant(DEV, "acme/prod", "viewer", None, None, None)
        .unwrap();
    g.grant(VIEWER, "acme/*", "viewer", None, None, None)
        .unwrap();
    g
}

fn key(label: &str) -> NewKey {
    NewKey {
        label: label.into(),
        ..NewKey::default()
    }
}

fn scoped(scopes: &[&str]) -> NewKey {
    NewKey {
        label: "scoped".into(),
        scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
        ..NewKey::default()
    }
}

fn temp_journal(name: &str) -> (TempDir, PathBuf) {
    let dir = temp_dir(&format!("keys-{name}"));
    let path = dir.join("access.journal");
    (dir, path)
}

#[test]
fn an_unnarrowed_key_allows_exactly_what_its_user_may() {
    let g = graph();
    let (_, secret) = g.create_personal_key(DEV, key("ci"), Some(DEV)).unwrap();
    let p = g.authenticate(&secret).unwrap().unwrap();
    assert_eq!(p.kind, PrincipalKind::Personal);
    assert_eq!(p.user.as_deref(), Some(DEV));
    let targets = [
        "acme",
        "acme/web",
        "acme/prod",
        "acme/docs",
        "beta",
        "beta/app",
    ];
    let actions = [
        "org:view",
        "org:manage_roles",
        "project:view",
        "insight:create",
        "feature_flag:manage",
        "event:track",
    ];
    let mut allowed = 0;
    for t in targets {
        for a in actions {
            let Ok(as_user) = g.check(DEV, a, t, None) else {
                continue; // a project action on an org: both raise
            };
            assert_eq!(g.check_as(&p, a, t, None).unwrap(), as_user, "{a} on {t}");
            allowed += usize::from(as_user);
        }
    }
    assert!(allowed > 5);
    // Decided at check time: a grant made later counts at once.
    assert!(!g.check_as(&p, "insight:create", "acme/docs", None).unwrap());
    g.grant(DEV, "acme/docs", "member", None, None, None)
        .unwrap();
    assert!(g.check_as(&p, "insight:create", "acme/docs", None).unwrap());
    let d = g
        .explain_as(&p, "insight:create", "acme/docs", None)
        .unwrap();
    assert!(d.allowed && d.user == DEV);
    assert_eq!(d.source, Some(Source::ExplicitMember));
    assert!(d
        .reason
        .starts_with(&format!("with API key {} of {DEV}: ", p.key_id)));
}

#[test]
fn scopes_narrow_and_a_scope_denial_says_so() {
    let g = graph();
    let cases: &[(&[&str], &str, bool)] = &[
        (&["insight:view"], "insight:view", true),
        (&["insight:view"], "insight:create", false),
        (&["insight:*"], "insight:create", true),
        (&["insight:*"], "dashboard:create", false),
        (&["*"], "dashboard:create", true),
        (&["insight:read"], "insight:view", true),
        (&["insight:read"], "insight:create", false),
        (&["insight:write"], "insight:create", true),
        (&["insight:write"], "insight:view", true),
        (&["insight:write"], "feature_flag:view", false),
        (&["project:read", "insight:read"], "project:view", true),
    ];
    for (scopes, action, expected) in cases {
        let (_, s) = g.create_personal_key(DEV, scoped(scopes), None).unwrap();
        let p = g.authenticate(&s).unwrap().unwrap();
        assert_eq!(
            g.check_as(&p, action, "acme/web", None).unwrap(),
            *expected,
            "{scopes:?} {action}"
        );
        let d = g.explain_as(&p, action, "acme/web", None).unwrap();
        assert_eq!(d.allowed, *expected);
        if *expected {
            assert_ne!(d.source, Some(Source::ApiKeyScope));
        } else {
            assert_eq!(d.source, Some(Source::ApiKeyScope), "{scopes:?} {action}");
            assert!(d.reason.contains("scope"), "{}", d.reason);
            assert!(d.reason.contains(&format!("`{action}`")), "{}", d.reason);
        }
    }
    // A scope never widens: insight:* does not let a viewer create.
    let (_, s) = g.create_personal_key(VIEWER, scoped(&["*"]), None).unwrap();
    let p = g.authenticate(&s).unwrap().unwrap();
    assert!(!g.check_as(&p, "insight:create", "acme/web", None).unwrap());
    let d = g
        .explain_as(&p, "insight:create", "acme/web", None)
        .unwrap();
    assert_ne!(d.source, Some(Source::ApiKeyScope));
}

#[test]
fn scopes_are_validated() {
    let g = graph();
    let err = |s: &[&str]| g.create_personal_key(DEV, scoped(s), None).unwrap_err();
    assert!(matches!(
        err(&[]),
        Error::Validation(ValidationError::Invalid {
            field: "scopes",
            ..
        })
    ));
    for unknown in ["insight:frobnicate", "widget:read", "widget:*"] {
        assert!(
            matches!(err(&[unknown]), Error::Validation(ValidationError::UnknownAction(ref a)) if a == unknown),
            "{unknown}"
        );
    }
    for bad in ["insight", "INSIGHT:view", ""] {
        assert!(matches!(
            err(&["insight:view", bad]),
            Error::Validation(ValidationError::Invalid { .. })
        ));
    }
    // Custom actions are scopes too.
    g.define_action("report:send", "project", "member", None, None)
        .unwrap();
    g.create_personal_key(DEV, scoped(&["report:send", "report:read"]), None)
        .unwrap();
    assert_eq!(g.personal_keys(Some(DEV), false).unwrap().len(), 1);
}

#[test]
fn project_restriction_and_org_scoped_actions() {
    let g = graph();
    let new = NewKey {
        label: "web only".into(),
        projects: Some(vec!["acme/web".into()]),
        ..NewKey::default()
    };
    let (_, s) = g.create_personal_key(DEV, new, Some(DEV)).unwrap();
    let p = g.authenticate(&s).unwrap().unwrap();
    assert!(g.check_as(&p, "insight:create", "acme/web", None).unwrap());
    g.add_resource("acme/web", "dashboard", "1", Some(DEV), None)
        .unwrap();
    assert!(g
        .check_as(&p, "dashboard:edit", "acme/web/dashboard/1", None)
        .unwrap());
    // dev may view prod, the key may not.
    assert!(g.check(DEV, "project:view", "acme/prod", None).unwrap());
    let d = g.explain_as(&p, "project:view", "acme/prod", None).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.source, Some(Source::ApiKeyScope));
    assert!(d.reason.contains("restricted to the projects acme/web"));
    // Org-scoped actions are out, on an org or through a project.
    for t in ["acme", "acme/web"] {
        let d = g.explain_as(&p, "org:view", t, None).unwrap();
        assert!(!d.allowed && d.source == Some(Source::ApiKeyScope), "{t}");
        assert!(d.reason.contains("org-scoped"));
    }
    // Unknown projects and bad ids are refused at creation.
    let bad = |projects: Vec<String>| {
        let new = NewKey {
            label: "x".into(),
            projects: Some(projects),
            ..NewKey::default()
        };
        g.create_personal_key(DEV, new, None).unwrap_err()
    };
    assert!(matches!(
        bad(vec!["acme/nowhere".into()]),
        Error::NotFound(NotFoundError::Project(_))
    ));
    assert!(matches!(bad(vec!["acme".into()]), Error::Validation(_)));
    assert!(matches!(bad(vec![]), Error::Validation(_)));
}

#[test]
fn expiry_ends_a_key_on_the_graph_clock() {
    let g = graph();
    let new = NewKey {
        label: "temp".into(),
        expires: Some(Instant(T0.0 + 7 * DAY)),
        ..NewKey::default()
    };
    let (id, s) = g.create_personal_key(DEV, new, Some(DEV)).unwrap();
    let p = g.authenticate(&s).unwrap().unwrap();
    assert!(g
        .check_as(
            &p,
            "insight:view",
            "acme/web",
            Some(Instant(T0.0 + 7 * DAY - 1))
        )
        .unwrap());
    let at = Some(Instant(T0.0 + 7 * DAY));
    assert!(!g.check_as(&p, "insight:view", "acme/web", at).unwrap());
    let d = g.explain_as(&p, "insight:view", "acme/web", at).unwrap();
    assert!(
        d.reason.contains("expired at 2024-05-08T00:00:00Z"),
        "{}",
        d.reason
    );
    g.set_time(Some(Instant(T0.0 + 8 * DAY)));
    assert!(g.authenticate(&s).unwrap().is_none());
    // Still listed, with its past expiry, until revoked.
    let listed = g.personal_keys(Some(DEV), false).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].expired && !listed[0].active() && listed[0].id == id);
    // An expiry already past is refused.
    let past = NewKey {
        label: "late".into(),
        expires: Some(T0),
        ..NewKey::default()
    };
    assert!(matches!(
        g.create_personal_key(DEV, past, None).unwrap_err(),
        Error::Validation(ValidationError::Invalid {
            field: "expires",
            ..
        })
    ));
}

#[test]
fn rotation_and_revocation_take_effect_at_once() {
    let g = graph();
    let (id, old) = g.create_personal_key(DEV, key("ci"), Some(DEV)).unwrap();
    let before = g.authenticate(&old).unwrap().unwrap();
    g.set_time(Some(Instant(T0.0 + DAY)));
    let new = g.rotate_personal_key(&id, Some(DEV)).unwrap();
    assert_ne!(new, old);
    assert!(g.authenticate(&old).unwrap().is_none());
    // A principal made from the old secret stops working too.
    let d = g
        .explain_as(&before, "insight:view", "acme/web", None)
        .unwrap();
    assert!(
        !d.allowed && d.reason.contains("no longer valid"),
        "{}",
        d.reason
    );
    let after = g.authenticate(&new).unwrap().unwrap();
    assert_eq!(after.key_id, id);
    assert!(g
        .check_as(&after, "insight:view", "acme/web", None)
        .unwrap());
    let info = g.personal_key(&id).unwrap();
    assert_eq!(info.created_at, T0);
    assert_eq!(info.rotated_at, Some(Instant(T0.0 + DAY)));
    assert_eq!(info.mask, format!("agp_...{}", &new[new.len() - 4..]));

    g.revoke_personal_key(&id, Some(DEV)).unwrap();
    assert!(g.authenticate(&new).unwrap().is_none());
    assert!(!g
        .check_as(&after, "insight:view", "acme/web", None)
        .unwrap());
    assert!(g.personal_keys(Some(DEV), false).unwrap().is_empty());
    let all = g.personal_keys(Some(DEV), true).unwrap();
    assert_eq!(all[0].revoked_at, Some(Instant(T0.0 + DAY)));
    // Revoking again changes nothing; a revoked key cannot be rotated.
    let n = g.revision();
    g.revoke_personal_key(&id, Some(DEV)).unwrap();
    assert_eq!(g.revision(), n);
    assert!(matches!(
        g.rotate_personal_key(&id, Some(DEV)).unwrap_err(),
        Error::Conflict(ConflictError::Rule(_))
    ));
    assert!(matches!(
        g.rotate_personal_key("pk_0000000000000000", None)
            .unwrap_err(),
        Error::NotFound(NotFoundError::Key(_))
    ));
    assert!(g.authenticate("agp_nonsense").unwrap().is_none());
    assert!(g.authenticate("").unwrap().is_none());
}

#[test]
fn authority_over_personal_keys() {
    let g = graph();
    let denied = |e: Error| matches!(e, Error::Permission(_));
    // Another member, even an admin, cannot create or rotate someone's key.
    assert!(denied(
        g.create_personal_key(DEV, key("x"), Some(ADMIN))
            .unwrap_err()
    ));
    assert!(denied(
        g.create_personal_key(DEV, key("x"), Some(OWNER))
            .unwrap_err()
    ));
    let (id, _) = g.create_personal_key(DEV, key("ci"), Some(DEV)).unwrap();
    assert!(denied(
        g.rotate_personal_key(&id, Some(VIEWER)).unwrap_err()
    ));
    assert!(denied(g.rotate_personal_key(&id, Some(OWNER)).unwrap_err()));
    // Revoking: an admin may not, an owner of one of the user's orgs may.
    let n = g.revision();
    assert!(denied(g.revoke_personal_key(&id, Some(ADMIN)).unwrap_err()));
    assert!(denied(
        g.revoke_personal_key(&id, Some(VIEWER)).unwrap_err()
    ));
    assert_eq!(g.personal_keys(Some(DEV), false).unwrap().len(), 1);
    // Each refusal is one access.denied event and nothing else.
    let events = g.audit_events(&Filter::default()).unwrap();
    let since: Vec<&str> = events[usize::try_from(n).unwrap()..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(since, ["access.denied", "access.denied"]);
    let (id2, _) = g.create_personal_key(DEV, key("two"), Some(DEV)).unwrap();
    g.revoke_personal_key(&id2, Some(OWNER)).unwrap();
    assert!(g
        .personal_keys(Some(DEV), false)
        .unwrap()
        .iter()
        .all(|k| k.id != id2));
    // A user without an unexpired membership cannot get a key.
    let gone = NewMember {
        expires: Some(Instant(T0.0 - DAY)),
        ..NewMember::default()
    };
    g.add_member("gone@acme.io", "acme", gone, None).unwrap();
    assert!(matches!(
        g.create_personal_key("gone@acme.io", key("x"), None)
            .unwrap_err(),
        Error::Conflict(_)
    ));
    assert!(matches!(
        g.create_personal_key("nobody@acme.io", key("x"), None)
            .unwrap_err(),
        Error::NotFound(NotFoundError::User(_))
    ));
    assert!(matches!(
        g.create_personal_key(DEV, key("  "), None).unwrap_err(),
        Error::Validation(_)
    ));
}

#[test]
fn an_owner_of_another_org_of_the_user_may_revoke() {
    let g = graph();
    let (id, s) = g.create_personal_key(DEV, key("ci"), Some(DEV)).unwrap();
    // b@beta.io owns beta, where dev is a member.
    g.revoke_personal_key(&id, Some("b@beta.io")).unwrap();
    assert!(g.authenticate(&s).unwrap().is_none());
    let ev = g
        .audit_events(&Filter {
            action: Some("api_key.revoked".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].actor, "b@beta.io");
    assert_eq!(ev[0].target, id);
    assert_eq!(ev[0].user(), Some(DEV));
}

#[test]
fn leaving_the_last_org_revokes_and_expiry_makes_a_key_dead() {
    let g = graph();
    let (id, s) = g.create_personal_key(DEV, key("ci"), Some(DEV)).unwrap();
    // Leaving one org of two: the key lives on.
    g.remove_member(DEV, "beta", Some(DEV)).unwrap();
    assert!(g.authenticate(&s).unwrap().is_some());
    // Leaving the last: revoked, right after the member.removed.
    g.remove_member(DEV, "acme", Some(ADMIN)).unwrap();
    assert!(g.authenticate(&s).unwrap().is_none());
    let events = g.audit_events(&Filter::default()).unwrap();
    let last: Vec<&str> = events[events.len() - 2..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(last, ["member.removed", "api_key.revoked"]);
    assert_eq!(events.last().unwrap().details["reason"], "user left");
    assert!(g.personal_key(&id).unwrap().revoked_at.is_some());

    // An expired membership is no membership: the key is dead but listed, not revoked.
    let g = graph();
    let (id, s) = g.create_personal_key(VIEWER, key("ci"), None).unwrap();
    g.update_member(
        VIEWER,
        "acme",
        accessgraph::graph::MemberPatch {
            expires: Some(Some(Instant(T0.0 + DAY))),
            ..Default::default()
        },
        Some(ADMIN),
    )
    .unwrap();
    g.set_time(Some(Instant(T0.0 + 2 * DAY)));
    let listed = g.personal_key(&id).unwrap();
    assert!(listed.dead && !listed.active() && listed.revoked_at.is_none());
    let p = g.authenticate(&s).unwrap().unwrap();
    assert!(!g.check_as(&p, "project:view", "acme/web", None).unwrap());

    // remove_org takes every membership: keys of those left without an org go.
    let g = graph();
    let (_, only_acme) = g
        .create_personal_key(VIEWER, key("ci"), Some(VIEWER))
        .unwrap();
    let (_, two_orgs) = g.create_personal_key(DEV, key("ci"), Some(DEV)).unwrap();
    g.remove_org("acme", Some(OWNER)).unwrap();
    assert!(g.authenticate(&only_acme).unwrap().is_none());
    assert!(g.authenticate(&two_orgs).unwrap().is_some());
    let actions: Vec<String> = g
        .audit_events(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.last().unwrap(), "org.deleted");
    assert_eq!(
        actions.iter().filter(|a| *a == "api_key.revoked").count(),
        1
    );
}

#[test]
fn project_keys_track_events_on_their_project_only() {
    let g = graph();
    let token = g.project_key("acme/web").unwrap();
    assert!(token.starts_with("agc_"));
    assert_ne!(token, g.project_key("acme/docs").unwrap());
    let p = g.authenticate(&token).unwrap().unwrap();
    assert_eq!(p.kind, PrincipalKind::Project);
    assert_eq!(p.project.as_deref(), Some("acme/web"));
    assert!(p.user.is_none());
    assert!(g.check_as(&p, "event:track", "acme/web", None).unwrap());
    g.add_resource("acme/web", "recording", "r1", Some(DEV), None)
        .unwrap();
    assert!(g
        .check_as(&p, "event:track", "acme/web/recording/r1", None)
        .unwrap());
    for (action, target) in [
        ("event:track", "acme/docs"),
        ("event:track", "beta/app"),
        ("insight:view", "acme/web"),
        ("project:view", "acme/web"),
    ] {
        let d = g.explain_as(&p, action, target, None).unwrap();
        assert!(!d.allowed, "{action} {target}");
        assert_eq!(d.source, Some(Source::ApiKeyScope));
        assert_eq!(d.user, "key:acme/web");
    }
    // Errors as for a user: an unknown action, a project action on an org.
    assert!(g.check_as(&p, "event:frob", "acme/web", None).is_err());
    assert!(g.check_as(&p, "event:track", "acme", None).is_err());

    // Rotation needs project_key:rotate (project admin).
    assert!(matches!(
        g.rotate_project_key("acme/web", Some(DEV)).unwrap_err(),
        Error::Permission(_)
    ));
    assert_eq!(g.project_key("acme/web").unwrap(), token);
    let new = g.rotate_project_key("acme/web", Some(ADMIN)).unwrap();
    assert_ne!(new, token);
    assert!(g.authenticate(&token).unwrap().is_none());
    assert!(!g.check_as(&p, "event:track", "acme/web", None).unwrap());
    assert_eq!(g.project_key("acme/web").unwrap(), new);
    assert!(g.authenticate(&new).unwrap().is_some());
    let ev = g
        .audit_events(&Filter {
            action: Some("project_key.rotated".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!((ev.len(), ev[0].target.as_str()), (1, "acme/web"));
    // A deleted project's key is gone with it.
    g.remove_project("acme/web", None).unwrap();
    assert!(g.authenticate(&new).unwrap().is_none());
    assert!(matches!(
        g.project_key("acme/web").unwrap_err(),
        Error::NotFound(_)
    ));
}

#[test]
fn check_many_mixes_users_and_keys() {
    use accessgraph::eval::Subject;
    let g = graph();
    let (_, s) = g
        .create_personal_key(DEV, scoped(&["insight:read"]), Some(DEV))
        .unwrap();
    let p = g.authenticate(&s).unwrap().unwrap();
    let c = g
        .authenticate(&g.project_key("acme/web").unwrap())
        .unwrap()
        .unwrap();
    let answers = g
        .check_many_as(
            vec![
                (Subject::User(DEV), "insight:create", "acme/web"),
                (Subject::Key(&p), "insight:create", "acme/web"),
                (Subject::Key(&p), "insight:view", "acme/web"),
                (Subject::Key(&c), "event:track", "acme/web"),
                (Subject::Key(&c), "event:track", "acme/docs"),
            ],
            None,
        )
        .unwrap();
    assert_eq!(answers, [true, false, true, true, false]);
}

fn secrets_of(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for u in [DEV, VIEWER] {
        let (id, s) = g.create_personal_key(u, key("ci"), Some(u)).unwrap();
        out.push(s);
        out.push(g.rotate_personal_key(&id, Some(u)).unwrap());
    }
    out
}

#[test]
fn secrets_never_leave_the_call_that_made_them() {
    let g = graph();
    let secrets = secrets_of(&g);
    let json = to_json(&g).unwrap();
    let jsonl = g
        .with_audit_log(|l| l.to_jsonl(g.graph_id(), None))
        .unwrap();
    let csv = g
        .with_audit_log(accessgraph::audit::Log::to_csv)
        .unwrap()
        .unwrap();
    let md = accessgraph::registry::markdown::export(&g, "acme").unwrap();
    let debug = format!("{g:?} {:?}", g.personal_keys(None, true).unwrap());
    for s in &secrets {
        for (what, text) in [
            ("json", &json),
            ("jsonl", &jsonl),
            ("csv", &csv),
            ("md", &md),
            ("debug", &debug),
        ] {
            assert!(!text.contains(s.as_str()), "secret in {what}");
            // Not even the random part without its prefix.
            assert!(!text.contains(&s[4..]), "secret body in {what}");
        }
    }
    // The hash is what is stored and exported.
    for k in g.personal_keys(None, true).unwrap() {
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let rec = v["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == k.id.as_str())
            .unwrap();
        assert!(rec["hash"].as_str().unwrap().starts_with("sha256$"));
        assert_eq!(rec["mask"], k.mask.as_str());
    }
}

#[test]
fn key_state_survives_the_json_snapshot() {
    let g = graph();
    let restricted = NewKey {
        label: "nb".into(),
        scopes: Some(vec!["insight:read".into(), "dashboard:*".into()]),
        projects: Some(vec!["acme/web".into()]),
        expires: Some(Instant(T0.0 + 30 * DAY)),
    };
    let (id1, s1) = g.create_personal_key(DEV, restricted, Some(DEV)).unwrap();
    let (id2, _) = g
        .create_personal_key(VIEWER, key("ci"), Some(VIEWER))
        .unwrap();
    g.set_time(Some(Instant(T0.0 + DAY)));
    let s1 = {
        let _ = s1;
        g.rotate_personal_key(&id1, Some(DEV)).unwrap()
    };
    g.revoke_personal_key(&id2, Some(VIEWER)).unwrap();
    let text = to_json(&g).unwrap();
    let back = from_json(&text).unwrap();
    back.set_time(Some(Instant(T0.0 + DAY)));
    assert_eq!(to_json(&back).unwrap(), text);
    assert_eq!(
        back.personal_keys(None, true).unwrap(),
        g.personal_keys(None, true).unwrap()
    );
    let p = back.authenticate(&s1).unwrap().unwrap();
    assert_eq!(p.key_id, id1);
    assert!(back.check_as(&p, "insight:view", "acme/web", None).unwrap());
    assert!(!back
        .check_as(&p, "insight:create", "acme/web", None)
        .unwrap());
    for project in ["acme/web", "acme/prod", "beta/app"] {
        assert_eq!(
            back.project_key(project).unwrap(),
            g.project_key(project).unwrap()
        );
    }
    // A snapshot without project keys (written before they existed) gets new ones.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for p in v["projects"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("api_key");
    }
    let old = from_json(&v.to_string()).unwrap();
    assert!(old.project_key("acme/web").unwrap().starts_with("agc_"));
    assert_ne!(
        old.project_key("acme/web").unwrap(),
        g.project_key("acme/web").unwrap()
    );
    // Bad key records name their path.
    for (edit, path) in [
        (
            ("hash", serde_json::json!("plain-secret")),
            "$.api_keys[0].hash",
        ),
        (("scopes", serde_json::json!([])), "$.api_keys[0].scopes"),
        (
            ("scopes", serde_json::json!(["insight:nope"])),
            "$.api_keys[0].scopes[0]",
        ),
        (("id", serde_json::json!("key-1")), "$.api_keys[0].id"),
        (("secret", serde_json::json!("agp_x")), "$.api_keys[0]"),
    ] {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["api_keys"][0][edit.0] = edit.1;
        let e = from_json(&v.to_string()).err().unwrap();
        assert!(e.path.starts_with(path), "{e}");
    }
}

#[test]
fn key_state_replays_from_the_journal() {
    let (_dir, path) = temp_journal("replay");
    let opts = OpenOptions::default();
    let (g, _) = Graph::open(&path, &opts).unwrap();
    g.set_time(Some(T0));
    g.add_org("acme", None, OWNER, None).unwrap();
    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    g.add_member(DEV, "acme", NewMember::default(), None)
        .unwrap();
    g.grant(DEV, "acme/web", "member", None, None, None)
        .unwrap();
    let (id, first) = g
        .create_personal_key(DEV, scoped(&["insight:*"]), Some(DEV))
        .unwrap();
    let (revoked, _) = g.create_personal_key(DEV, key("old"), Some(DEV)).unwrap();
    g.set_time(Some(Instant(T0.0 + DAY)));
    let secret = g.rotate_personal_key(&id, Some(DEV)).unwrap();
    g.revoke_personal_key(&revoked, Some(OWNER)).unwrap();
    let token = g.rotate_project_key("acme/web", Some(OWNER)).unwrap();
    let before = to_json(&g).unwrap();
    let journal = std::fs::read_to_string(&path).unwrap();
    assert!(!journal.contains(&first) && !journal.contains(&secret));
    drop(g);

    let (h, _) = Graph::open(&path, &opts).unwrap();
    assert_eq!(to_json(&h).unwrap(), before);
    assert!(h.authenticate(&first).unwrap().is_none());
    let p = h.authenticate(&secret).unwrap().unwrap();
    assert!(h.check_as(&p, "insight:create", "acme/web", None).unwrap());
    assert_eq!(h.project_key("acme/web").unwrap(), token);
    // Time travel sees the keys as they were.
    let past = h.as_of(Instant(T0.0 + DAY / 2)).unwrap();
    assert!(past.authenticate(&first).unwrap().is_some());
    assert!(past.authenticate(&secret).unwrap().is_none());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
