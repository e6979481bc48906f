//! PostHog's API export (SPEC 5.4, issue 20) through the Rust API: PostHog's resolver
//! answers per member and project, the report's notes, pagination, join dates. The
//! payloads follow PostHog's serializers (see `tests/python/test_posthog_parity.py` for the
//! field-by-field sources and `docs/posthog.md` for the resolver's lines).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use accessgraph::registry::posthog::{import, Input, NoteKind, Options, Report};
use accessgraph::roles::{ProjectRole, Role};
use accessgraph::{Error, Graph, Instant};
use serde_json::{json, Value};

fn member(id: &str, email: &str, level: u8, joined: &str) -> Value {
    json!({"id": id, "user": {"email": email, "first_name": "", "last_name": ""},
           "level": level, "joined_at": joined, "updated_at": joined})
}

fn org() -> Value {
    json!({"count": 4, "next": null, "previous": null, "results": [
        member("m-owner", "owner@example.com", 15, "2021-01-01T00:00:00Z"),
        member("m-admin", "admin@example.com", 8, "2021-02-01T00:00:00Z"),
        member("m-ann", "ann@example.com", 1, "2022-03-01T00:00:00Z"),
        member("m-bob", "bob@example.com", 1, "2022-04-01T00:00:00Z"),
    ]})
}

fn rule(level: &str, member: Option<&str>) -> Value {
    json!({"access_level": level, "resource": "project", "resource_id": "7",
           "organization_member": member, "role": null, "created_at": "2023-06-01T00:00:00Z"})
}

fn run(members: Value, projects: Vec<(&str, Value)>) -> (Graph, Report) {
    let input = Input {
        members,
        projects: projects
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect(),
        roles: None,
    };
    import(&input, "acme", None, Options::default()).unwrap()
}

fn role(g: &Graph, user: &str, project: &str) -> Option<ProjectRole> {
    match g.role(user, project, None).unwrap() {
        Some(Role::Project(r)) => Some(r),
        None => None,
        other => panic!("{other:?}"),
    }
}

#[test]
fn open_projects_give_posthogs_default() {
    let (g, report) = run(
        org(),
        vec![
            // no access-control data: the org level, capped at admin
            (
                "Plain",
                json!({"project": {"id": 1, "access_control": false}}),
            ),
            // access controls, no rule: the resolver's admin
            ("Ruled", json!({"access_controls": {"access_controls": []}})),
        ],
    );
    for user in ["ann@example.com", "bob@example.com"] {
        assert_eq!(role(&g, user, "acme/plain"), Some(ProjectRole::Member));
        assert_eq!(role(&g, user, "acme/ruled"), Some(ProjectRole::Admin));
    }
    assert_eq!(
        role(&g, "owner@example.com", "acme/plain"),
        Some(ProjectRole::Admin)
    );
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert!(g.grants(None, None).unwrap().is_empty());
}

#[test]
fn a_default_with_an_exception_becomes_grants() {
    let rules = json!({"access_controls": [rule("member", None), rule("none", Some("m-bob"))]});
    let (g, report) = run(
        org(),
        vec![(
            "Data",
            json!({"project": {"id": 7}, "access_controls": rules}),
        )],
    );
    assert_eq!(
        role(&g, "ann@example.com", "acme/data"),
        Some(ProjectRole::Member)
    );
    assert_eq!(role(&g, "bob@example.com", "acme/data"), None);
    let p = g.project("acme/data").unwrap();
    assert!(p.attrs.restricted && p.attrs.default_role.is_none());
    let note = &report.notes[0];
    assert_eq!(note.kind, NoteKind::Unexpressed);
    assert_eq!(note.path, "$[\"Data\"].access_controls");
    let grants = g.grants(Some("ann@example.com"), None).unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].reason.as_deref(),
        Some("PostHog project default `member`")
    );
    assert_eq!(
        grants[0].granted_at,
        Instant::parse("t", "2023-06-01").unwrap()
    );
}

#[test]
fn a_rule_on_another_project_is_ignored() {
    let mut other = rule("admin", Some("m-ann"));
    other["resource_id"] = json!("8");
    let (g, report) = run(
        org(),
        vec![(
            "Data",
            json!({"project": {"id": 7}, "access_controls": [rule("none", None), other]}),
        )],
    );
    assert_eq!(role(&g, "ann@example.com", "acme/data"), None);
    assert_eq!(report.notes[0].kind, NoteKind::Ignored);
    assert_eq!(report.notes[0].path, "$[\"Data\"].access_controls[1]");
}

#[test]
fn legacy_private_projects_read_as_migrated() {
    let rows = json!([
        {"id": "e1", "level": 1, "parent_membership_id": "m-admin", "joined_at": "2022-01-01T00:00:00Z",
         "user": {"email": "admin@example.com"}, "parent_level": 8, "effective_level": 8},
        {"id": "e2", "level": 8, "parent_membership_id": "m-ann", "joined_at": "2022-01-02T00:00:00Z",
         "user": {"email": "ann@example.com"}, "parent_level": 1, "effective_level": 8},
    ]);
    let (g, _) = run(
        org(),
        vec![(
            "Vault",
            json!({"project": {"id": 3, "access_control": true}, "explicit_members": rows}),
        )],
    );
    assert_eq!(
        role(&g, "ann@example.com", "acme/vault"),
        Some(ProjectRole::Admin)
    );
    assert_eq!(role(&g, "bob@example.com", "acme/vault"), None);
    assert_eq!(
        role(&g, "admin@example.com", "acme/vault"),
        Some(ProjectRole::Admin)
    );
    // the org admin's explicit row is not a (redundant) grant
    assert!(g
        .grants(Some("admin@example.com"), None)
        .unwrap()
        .is_empty());
    let ann = g.grants(Some("ann@example.com"), None).unwrap();
    assert_eq!(
        ann[0].granted_at,
        Instant::parse("t", "2022-01-02").unwrap()
    );
    let joined: Vec<_> = g
        .members("acme")
        .unwrap()
        .into_iter()
        .map(|m| (m.user, m.granted_at))
        .collect();
    assert!(joined.contains(&(
        "bob@example.com".to_owned(),
        Instant::parse("t", "2022-04-01").unwrap()
    )));
}

#[test]
fn overlapping_pages_merge_and_conflicts_raise() {
    let all = org()["results"].clone();
    let page =
        |rows: &[Value], next: Option<&str>| json!({"count": 4, "next": next, "results": rows});
    let rows = all.as_array().unwrap();
    let pages = json!([page(&rows[..3], Some("p2")), page(&rows[2..], None)]);
    let (g, report) = run(pages, vec![]);
    assert_eq!(g.members("acme").unwrap().len(), 4);
    assert!(report.notes.is_empty());

    let mut changed = rows[2].clone();
    changed["level"] = json!(8);
    let pages = json!([
        page(&rows[..3], Some("p2")),
        page(&[changed, rows[3].clone()], None)
    ]);
    let input = Input {
        members: pages,
        ..Input::default()
    };
    match import(&input, "acme", None, Options::default()) {
        Err(Error::Json(e)) => {
            assert_eq!(e.path, "$[1].results[0]");
            assert!(e.message.contains("conflict") && e.message.contains("$[0].results[2]"));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn a_missing_page_is_noted_or_raised() {
    let mut first = org();
    first["count"] = json!(9);
    first["next"] = json!("https://app.posthog.com/api/organizations/1/members/?offset=4");
    let input = Input {
        members: first,
        ..Input::default()
    };
    let (_, report) = import(&input, "acme", None, Options::default()).unwrap();
    let kinds: Vec<_> = report
        .notes
        .iter()
        .map(|n| (n.kind, n.path.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (NoteKind::Incomplete, "$.next"),
            (NoteKind::Incomplete, "$.count")
        ]
    );
    match import(&input, "acme", None, Options { strict: true }) {
        Err(Error::Json(e)) => assert_eq!(e.path, "$.next"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn the_duplicate_check_is_linear() {
    // 20,000 members and one project rule each: quadratic work would take minutes here.
    let n = 20_000;
    let mut rows = vec![member(
        "m-owner",
        "owner@example.com",
        15,
        "2021-01-01T00:00:00Z",
    )];
    let mut rules = vec![rule("none", None)];
    for i in 0..n {
        rows.push(member(
            &format!("m-{i}"),
            &format!("user{i}@example.com"),
            1,
            "2022-01-01",
        ));
        rules.push(rule(
            if i % 2 == 0 { "member" } else { "admin" },
            Some(&format!("m-{i}")),
        ));
    }
    let (g, report) = run(
        Value::Array(rows),
        vec![(
            "Big",
            json!({"project": {"id": 7}, "access_controls": rules}),
        )],
    );
    assert!(report.notes.is_empty());
    assert_eq!(g.members("acme").unwrap().len(), n + 1);
    assert_eq!(g.grants(None, Some("acme/big")).unwrap().len(), n);
    assert_eq!(
        role(&g, "user7@example.com", "acme/big"),
        Some(ProjectRole::Admin)
    );
}
