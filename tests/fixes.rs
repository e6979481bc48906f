//! `Decision::fixes` through the public Rust API: each fix, made by each person it names,
//! allows the check; what it cannot fix it says. (The property test against the
//! reference model is `tests/python/test_fixes.py`.)

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first surprise, loudly"
)]

mod common;

use accessgraph::decision::{Fix, FixKind};
use accessgraph::graph::{MemberPatch, NewProject};
use accessgraph::roles::Role;
use accessgraph::{Graph, Instant};
use common::{nm, T0};

const JANE: &str = "jane@example.com";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn graph() -> Graph {
    let g = Graph::new();
    g.set_time(Some(T0));
    g.add_org("acme", None, JANE, None).unwrap();
    let restricted = NewProject {
        restricted: true,
        ..NewProject::default()
    };
    g.add_project("acme/prod", restricted, None).unwrap();
    g.add_member(ALICE, "acme", nm("admin"), None).unwrap();
    g.add_member(BOB, "acme", nm("member"), None).unwrap();
    g
}

/// Makes `fix` (its steps first) on `g` as `actor`.
fn make(g: &Graph, fix: &Fix, actor: &str) {
    for step in fix.requires.iter().chain(std::iter::once(fix)) {
        let role = step.role.map(Role::as_str);
        match step.kind {
            FixKind::Grant => g
                .grant(
                    &step.user,
                    &step.target,
                    role.unwrap(),
                    step.expires.map(Instant),
                    None,
                    Some(actor),
                )
                .unwrap(),
            FixKind::OrgRole => g
                .set_org_role(&step.user, &step.target, role.unwrap(), Some(actor))
                .unwrap(),
            FixKind::AddMember => g
                .add_member(&step.user, &step.target, nm(role.unwrap()), Some(actor))
                .unwrap(),
            FixKind::Renew => g
                .update_member(
                    &step.user,
                    &step.target,
                    MemberPatch {
                        expires: Some(None),
                        ..MemberPatch::default()
                    },
                    Some(actor),
                )
                .unwrap(),
            FixKind::Impossible => unreachable!("not a change: {}", step.reason),
        }
    }
}

#[test]
fn every_fix_made_by_anyone_it_names_allows_the_check() {
    let g = graph();
    for (user, action, target) in [
        (BOB, "insight:view", "acme/prod"),
        (BOB, "feature_flag:manage", "acme/prod"),
        (BOB, "org:manage_roles", "acme"),
        (ALICE, "billing:manage", "acme"),
        ("new@example.com", "insight:create", "acme/prod"),
    ] {
        let d = g.explain(user, action, target, None).unwrap();
        assert!(!d.allowed && !d.fixes.is_empty(), "{d:?}");
        let first = d.fixes.first().unwrap();
        assert!(d.reason.ends_with(&first.reason), "{}", d.reason);
        for fix in &d.fixes {
            assert!(!fix.by.is_empty());
            for actor in &fix.by {
                let copy = g.what_if().unwrap();
                make(&copy, fix, actor);
                assert!(
                    copy.check(user, action, target, None).unwrap(),
                    "{fix:?} by {actor}"
                );
            }
        }
    }
}

#[test]
fn what_cannot_be_fixed_says_why() {
    let g = graph();
    let d = g.explain(BOB, "insight:view", "acme/nope", None).unwrap();
    let [fix] = d.fixes.as_slice() else {
        unreachable!("one fix: {:?}", d.fixes)
    };
    assert_eq!(fix.kind, FixKind::Impossible);
    assert!(fix.reason.contains("acme/nope is not a known"));
    assert!(g
        .explain(JANE, "insight:view", "acme/prod", None)
        .unwrap()
        .fixes
        .is_empty());
}
