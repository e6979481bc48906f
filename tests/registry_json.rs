//! The JSON snapshot (SPEC 5.2, SPEC 9 "Registry" and "Further decisions"): byte-identical
//! round trips of a rich graph, determinism, the recorded stamps restored as they were,
//! and every error naming its JSON path.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

use accessgraph::graph::{MemberPatch, NewMember, NewProject};
use accessgraph::registry::json::{from_json, to_json, JsonError};
use accessgraph::{Graph, Instant};
use chrono::NaiveDate;
use serde_json::{json, Value};

mod common;
use common::{days as t, T0};

/// Several orgs, restricted / pii / default-role projects, members with expiries,
/// reasons, reviews and external flags, org-wide and project grants (expired ones
/// included), resources, custom actions, a user who left, stamps by several actors.
#[expect(clippy::too_many_lines, reason = "a fixture spelled out")]
fn rich() -> Graph {
    let g = Graph::new();
    g.set_time(Some(T0));
    g.add_org("acme", Some("Acme Corp"), "root@acme.io", None)
        .unwrap();
    g.add_org("beta", Some("Beta GmbH"), "boss@beta.io", None)
        .unwrap();
    g.update_org(
        "acme",
        None,
        vec![
            ("members_can_invite".into(), Some(json!(true))),
            (
                "sso".into(),
                Some(json!({"provider": "okta", "domains": ["acme.io"]})),
            ),
        ],
        None,
    )
    .unwrap();
    let project = |id: &str, new: NewProject| g.add_project(id, new, None).unwrap();
    project(
        "acme/production",
        NewProject {
            name: Some("Production".into()),
            environment: Some("production".into()),
            restricted: true,
            pii: true,
            ..NewProject::default()
        },
    );
    project(
        "acme/staging",
        NewProject {
            name: Some("Staging".into()),
            environment: Some("staging".into()),
            default_role: Some("viewer".into()),
            ..NewProject::default()
        },
    );
    project("acme/web", NewProject::default());
    project(
        "beta/app",
        NewProject {
            name: Some("App".into()),
            default_role: Some("member".into()),
            settings: [("retention_days".to_owned(), json!(30))]
                .into_iter()
                .collect(),
            ..NewProject::default()
        },
    );
    g.set_time(Some(t(1)));
    g.add_member(
        "Ada@Acme.io",
        "acme",
        NewMember {
            role: Some("admin".into()),
            name: Some("Ada Lovelace".into()),
            title: Some("Head of Platform".into()),
            reason: Some("on loan, from Initech".into()),
            reviewed: NaiveDate::from_ymd_opt(2024, 3, 1),
            external: true,
            ..NewMember::default()
        },
        Some("root@acme.io"),
    )
    .unwrap();
    g.set_time(Some(t(2)));
    g.add_member(
        "dev@acme.io",
        "acme",
        NewMember {
            title: Some("Engineer".into()),
            expires: Some(Instant(t(200).0 + 43_200_500_000)),
            ..NewMember::default()
        },
        Some("ada@acme.io"),
    )
    .unwrap();
    g.add_member(
        "temp@agency.com",
        "acme",
        NewMember {
            expires: Some(t(10)),
            reason: Some("campaign".into()),
            external: true,
            ..NewMember::default()
        },
        None,
    )
    .unwrap();
    g.add_member(
        "dev@acme.io",
        "beta",
        NewMember::default(),
        Some("boss@beta.io"),
    )
    .unwrap();
    g.add_member("gone@acme.io", "acme", NewMember::default(), None)
        .unwrap();
    g.set_time(Some(t(3)));
    g.grant(
        "dev@acme.io",
        "acme/production",
        "member",
        Some(t(120)),
        Some("on-call, Q3 (rotation)".into()),
        Some("ada@acme.io"),
    )
    .unwrap();
    g.grant("dev@acme.io", "acme/web", "admin", None, None, None)
        .unwrap();
    g.grant(
        "temp@agency.com",
        "acme/*",
        "viewer",
        Some(t(5)),
        None,
        Some("root@acme.io"),
    )
    .unwrap();
    g.grant(
        "ada@acme.io",
        "acme/production",
        "admin",
        None,
        None,
        Some("root@acme.io"),
    )
    .unwrap();
    g.grant(
        "dev@acme.io",
        "beta/*",
        "viewer",
        None,
        Some("read-only".into()),
        None,
    )
    .unwrap();
    g.add_resource("acme/web", "dashboard", "42", Some("dev@acme.io"), None)
        .unwrap();
    g.add_resource(
        "acme/web",
        "insight",
        "kpi.weekly",
        Some("gone@acme.io"),
        None,
    )
    .unwrap();
    g.add_resource(
        "beta/app",
        "feature_flag",
        "new-ui",
        Some("boss@beta.io"),
        None,
    )
    .unwrap();
    g.define_action("notebook:share", "project", "admin", Some("member"), None)
        .unwrap();
    g.define_action("billing:view", "org", "admin", None, None)
        .unwrap();
    g.update_member(
        "gone@acme.io",
        "acme",
        MemberPatch {
            name: Some(Some("Gone Person".into())),
            ..MemberPatch::default()
        },
        None,
    )
    .unwrap();
    // Gone leaves: a user without memberships who still owns a resource.
    g.remove_member("gone@acme.io", "acme", None).unwrap();
    // The grant of temp@agency.com expired at day 5, the membership at day 10.
    g.set_time(Some(t(30)));
    g
}

fn doc(g: &Graph) -> Value {
    serde_json::from_str(&to_json(g).unwrap()).unwrap()
}

#[test]
fn round_trip_is_byte_identical() {
    let g = rich();
    let first = to_json(&g).unwrap();
    let back = from_json(&first).unwrap();
    assert_eq!(to_json(&back).unwrap(), first);
    // And the listings the rest of the API reads agree, stamps included.
    assert_eq!(back.orgs(), g.orgs());
    assert_eq!(back.projects(None).unwrap(), g.projects(None).unwrap());
    for org in ["acme", "beta"] {
        assert_eq!(back.members(org).unwrap(), g.members(org).unwrap());
    }
    assert_eq!(back.grants(None, None), g.grants(None, None));
    assert_eq!(back.resources(None).unwrap(), g.resources(None).unwrap());
    assert_eq!(
        back.user("gone@acme.io").unwrap(),
        g.user("gone@acme.io").unwrap()
    );
    // The restored graph is on the wall clock; judge both at the same instant.
    assert_eq!(back.frozen_time(), None);
    for at in [t(4), t(30)] {
        assert_eq!(
            back.access_matrix(None, Some(at)).unwrap(),
            g.access_matrix(None, Some(at)).unwrap()
        );
    }
    assert!(back
        .check("dev@acme.io", "notebook:share", "acme/web", Some(t(4)))
        .unwrap());
}

#[test]
fn stamps_are_restored_as_recorded() {
    let back = from_json(&to_json(&rich()).unwrap()).unwrap();
    let ada = back
        .members("acme")
        .unwrap()
        .into_iter()
        .find(|m| m.user == "ada@acme.io")
        .unwrap();
    assert_eq!(ada.granted_by.as_deref(), Some("root@acme.io"));
    assert_eq!(ada.granted_at, t(1));
    let grant = back
        .grants(Some("dev@acme.io"), Some("acme/production"))
        .unwrap();
    assert_eq!(grant[0].granted_by.as_deref(), Some("ada@acme.io"));
    assert_eq!(grant[0].granted_at, t(3));
    assert_eq!(
        back.grants(Some("dev@acme.io"), Some("acme/web")).unwrap()[0].granted_by,
        None
    );
}

#[test]
fn the_document_has_a_fixed_shape() {
    let text = to_json(&rich()).unwrap();
    assert!(text.starts_with(
        "{\n  \"format\": \"accessgraph\",\n  \"version\": 1,\n  \"orgs\": [\n    {\n"
    ));
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "format",
        "version",
        "orgs",
        "projects",
        "users",
        "memberships",
        "grants",
        "resources",
        "actions",
        "api_keys",
        "templates",
        "access_requests",
        "campaigns",
    ];
    // serde_json's map may sort keys; compare as sets and check the text order apart.
    expected.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected);
    let pos = |k: &str| text.find(&format!("\n  \"{k}\":")).unwrap();
    let order = [
        "format",
        "version",
        "orgs",
        "projects",
        "users",
        "memberships",
        "grants",
        "resources",
        "actions",
        "api_keys",
        "templates",
        "access_requests",
        "campaigns",
    ];
    assert!(order.windows(2).all(|w| pos(w[0]) < pos(w[1])));
    assert_eq!(v["api_keys"], json!([]));
    assert_eq!(
        v["memberships"][0],
        json!({
            "user": "ada@acme.io", "org": "acme", "role": "admin",
            "reason": "on loan, from Initech", "reviewed": "2024-03-01", "external": true,
            "granted_by": "root@acme.io", "granted_at": "2024-05-02T00:00:00Z"
        })
    );
    let dev = v["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"] == "dev@acme.io" && m["org"] == "acme")
        .unwrap();
    assert_eq!(dev["expires"], "2024-11-17T12:00:00.500Z");
    let emails: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort_unstable();
    assert_eq!(emails, sorted);
    assert!(emails.contains(&"gone@acme.io"));
    assert_eq!(
        v["actions"],
        json!([
            {"name": "billing:view", "scope": "org", "min_role": "admin"},
            {"name": "notebook:share", "scope": "project", "min_role": "admin", "owner_role": "member"}
        ])
    );
    assert_eq!(
        v["resources"][0],
        json!({"id": "acme/web/dashboard/42", "owner": "dev@acme.io"})
    );
    assert!(!text.contains("secret"));
    // Values equal to their default are left out: no null, no false, no empty settings.
    assert!(!text.contains("null") && !text.contains("false") && !text.contains("{}"));
}

/// Every default written out, as snapshots were before defaults were left out.
fn with_defaults(v: &mut Value) {
    let defaults: [(&str, &[(&str, Value)]); 6] = [
        ("orgs", &[("settings", json!({}))]),
        (
            "projects",
            &[
                ("environment", Value::Null),
                ("restricted", json!(false)),
                ("pii", json!(false)),
                ("default_role", Value::Null),
                ("settings", json!({})),
            ],
        ),
        ("users", &[("name", Value::Null), ("title", Value::Null)]),
        (
            "memberships",
            &[
                ("expires", Value::Null),
                ("reason", Value::Null),
                ("reviewed", Value::Null),
                ("external", json!(false)),
                ("granted_by", Value::Null),
            ],
        ),
        (
            "grants",
            &[
                ("expires", Value::Null),
                ("reason", Value::Null),
                ("granted_by", Value::Null),
            ],
        ),
        ("actions", &[("owner_role", Value::Null)]),
    ];
    for (list, fields) in defaults {
        for rec in v[list].as_array_mut().unwrap() {
            let rec = rec.as_object_mut().unwrap();
            for (k, d) in fields {
                rec.entry(*k).or_insert_with(|| d.clone());
            }
        }
    }
}

#[test]
fn snapshots_with_every_default_written_still_read() {
    // Version 1 snapshots written before defaults were left out carry explicit nulls and
    // falses: they read to the same graph, which writes today's document.
    let text = to_json(&rich()).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    with_defaults(&mut v);
    let old = serde_json::to_string_pretty(&v).unwrap();
    assert!(old.contains("\"expires\": null") && old.contains("\"external\": false"));
    assert_eq!(to_json(&from_json(&old).unwrap()).unwrap(), text);
}

#[test]
fn the_same_graph_built_in_another_order_writes_the_same_json() {
    let build = |reverse: bool| {
        let g = Graph::new();
        g.set_time(Some(T0));
        let mut orgs = vec![("zeta", "z@x.io"), ("alpha", "a@x.io"), ("mid", "m@x.io")];
        if reverse {
            orgs.reverse();
        }
        for (o, owner) in &orgs {
            g.add_org(o, None, owner, None).unwrap();
        }
        let mut projects = vec!["zeta/b", "zeta/a", "alpha/x", "mid/q"];
        if reverse {
            projects.reverse();
        }
        for p in &projects {
            g.add_project(p, NewProject::default(), None).unwrap();
        }
        let mut people = vec!["u3@x.io", "u1@x.io", "u2@x.io"];
        if reverse {
            people.reverse();
        }
        for u in &people {
            for (o, _) in &orgs {
                g.add_member(u, o, NewMember::default(), None).unwrap();
            }
        }
        let mut grants = vec![
            ("u1@x.io", "zeta/b"),
            ("u1@x.io", "zeta/a"),
            ("u2@x.io", "alpha/*"),
            ("u3@x.io", "mid/q"),
        ];
        if reverse {
            grants.reverse();
        }
        for (u, target) in grants {
            g.grant(u, target, "member", None, None, None).unwrap();
        }
        let mut actions = vec!["x:b", "x:a"];
        if reverse {
            actions.reverse();
        }
        for a in actions {
            g.define_action(a, "project", "viewer", None, None).unwrap();
        }
        to_json(&g).unwrap()
    };
    // Each project draws its own random public API key: two graphs built apart differ
    // in those keys only.
    let without_project_keys = |text: &str| {
        let mut v: Value = serde_json::from_str(text).unwrap();
        for p in v["projects"].as_array_mut().unwrap() {
            assert!(p.as_object_mut().unwrap().remove("api_key").is_some());
        }
        v
    };
    let one = build(false);
    assert_eq!(
        without_project_keys(&one),
        without_project_keys(&build(true))
    );
    assert_eq!(to_json(&from_json(&one).unwrap()).unwrap(), one);
}

#[test]
fn empty_and_minimal_documents() {
    let empty = to_json(&Graph::new()).unwrap();
    assert_eq!(to_json(&from_json(&empty).unwrap()).unwrap(), empty);
    let g = from_json(r#"{"format": "accessgraph", "version": 1}"#).unwrap();
    assert_eq!(to_json(&g).unwrap(), empty);
    // Optional values, booleans and settings may be left out.
    let g = from_json(
        r#"{"format": "accessgraph", "version": 1,
            "orgs": [{"slug": "acme", "name": "Acme"}],
            "projects": [{"id": "acme/web", "name": "Web"}],
            "users": [{"email": "Root@Acme.io"}],
            "memberships": [{"user": "root@acme.io", "org": "acme", "role": "owner",
                             "granted_at": "2024-05-01"}]}"#,
    )
    .unwrap();
    let m = &g.members("acme").unwrap()[0];
    assert_eq!(
        (m.user.as_str(), m.granted_at, m.granted_by.as_deref()),
        ("root@acme.io", T0, None)
    );
}

#[test]
fn users_without_memberships_survive_even_without_orgs() {
    let g = Graph::new();
    g.set_time(Some(T0));
    g.add_org("acme", None, "o@x.io", None).unwrap();
    g.add_member(
        "left@x.io",
        "acme",
        NewMember {
            name: Some("Left".into()),
            ..NewMember::default()
        },
        None,
    )
    .unwrap();
    g.remove_member("left@x.io", "acme", None).unwrap();
    let text = to_json(&g).unwrap();
    assert_eq!(to_json(&from_json(&text).unwrap()).unwrap(), text);
    // With no org at all to host them.
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["orgs"] = json!([]);
    v["memberships"] = json!([]);
    let back = from_json(&v.to_string()).unwrap();
    assert!(back.orgs().unwrap().is_empty());
    assert_eq!(
        back.user("left@x.io").unwrap().name.as_deref(),
        Some("Left")
    );
    assert!(back.user("o@x.io").is_ok());
}

#[test]
fn expired_entries_are_restored_as_they_are() {
    let text = to_json(&rich()).unwrap();
    let back = from_json(&text).unwrap();
    let temp = back.grants(Some("temp@agency.com"), None).unwrap();
    assert_eq!(temp.len(), 1);
    assert_eq!(temp[0].expires, Some(t(5)));
    assert!(!back
        .check("temp@agency.com", "project:view", "acme/web", Some(t(30)))
        .unwrap());
    assert!(back
        .check("temp@agency.com", "project:view", "acme/web", Some(t(4)))
        .unwrap());
}

// ---------------------------------------------------------------------------------------
// Errors

fn base() -> Value {
    doc(&rich())
}

fn err(v: &Value) -> JsonError {
    match from_json(&serde_json::to_string_pretty(v).unwrap()) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e,
    }
}

fn err_text(text: &str) -> JsonError {
    match from_json(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

#[test]
fn a_bad_role_names_its_path() {
    let mut v = base();
    v["grants"][3]["role"] = json!("editor");
    let e = err(&v);
    assert_eq!(e.path, "$.grants[3].role");
    assert_eq!(
        e.to_string(),
        "$.grants[3].role: unknown role `editor` (expected viewer, member or admin)"
    );
    let mut v = base();
    v["memberships"][1]["role"] = json!("viewer");
    let e = err(&v);
    assert_eq!(e.path, "$.memberships[1].role");
    assert_eq!(
        e.message,
        "unknown role `viewer` (expected member, admin or owner)"
    );
    let mut v = base();
    v["projects"][1]["default_role"] = json!("owner");
    assert_eq!(err(&v).path, "$.projects[1].default_role");
}

#[test]
fn unknown_fields_name_their_path() {
    let mut v = base();
    v["grants"][2]["colour"] = json!("red");
    let e = err(&v);
    assert_eq!(e.path, "$.grants[2].colour");
    assert!(e.message.starts_with("unknown field `colour`"), "{e}");
    let mut v = base();
    v["extra"] = json!(1);
    let e = err(&v);
    assert_eq!(e.path, "$.extra");
    let mut v = base();
    v["orgs"][0]["owner"] = json!("x");
    assert_eq!(err(&v).path, "$.orgs[0].owner");
    let e = err_text(
        r#"{"format": "accessgraph", "version": 1, "users": [{"email": "a@x.io", "weird key": 1}]}"#,
    );
    assert_eq!(e.path, r#"$.users[0]["weird key"]"#);
}

#[test]
fn wrong_types_name_their_path() {
    let mut v = base();
    v["projects"][0]["restricted"] = json!("yes");
    let e = err(&v);
    assert_eq!(e.path, "$.projects[0].restricted");
    assert!(
        e.message
            .starts_with("invalid type: string \"yes\", expected a boolean"),
        "{e}"
    );
    assert!(!e.message.contains(" at line "), "{e}");
    let mut v = base();
    v["users"][0]["name"] = json!({"first": "Ada"});
    assert_eq!(err(&v).path, "$.users[0].name");
    let mut v = base();
    v["grants"][1] = json!(7);
    assert_eq!(err(&v).path, "$.grants[1]");
    let mut v = base();
    v["resources"] = json!({"id": "x"});
    assert_eq!(err(&v).path, "$.resources");
    assert_eq!(err_text("[]").path, "$");
}

#[test]
fn missing_fields_name_their_object() {
    let mut v = base();
    v["grants"][3].as_object_mut().unwrap().remove("role");
    let e = err(&v);
    assert_eq!(e.path, "$.grants[3]");
    assert_eq!(e.message, "missing field `role`");
    let mut v = base();
    v.as_object_mut().unwrap().remove("format");
    let e = err(&v);
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("$", "missing field `format`")
    );
    let e = err_text(r#"{"format": "accessgraph", "version": 1, "orgs": [{}]}"#);
    assert_eq!(e.to_string(), "$.orgs[0]: missing field `slug`");
}

#[test]
fn bad_dates_and_instants_name_their_path() {
    let mut v = base();
    v["memberships"][0]["reviewed"] = json!("2024-13-01");
    let e = err(&v);
    assert_eq!(e.path, "$.memberships[0].reviewed");
    assert_eq!(e.message, "invalid date `2024-13-01` (expected YYYY-MM-DD)");
    let mut v = base();
    v["memberships"][0]["reviewed"] = json!("2024-03-01T00:00:00Z");
    assert_eq!(err(&v).path, "$.memberships[0].reviewed");
    let mut v = base();
    v["grants"][0]["expires"] = json!("soon");
    let e = err(&v);
    assert_eq!(e.path, "$.grants[0].expires");
    assert!(e.message.starts_with("invalid instant `soon`"), "{e}");
    // The last key of the last record: the error still names the value, not its object.
    let mut v = base();
    v["memberships"][5]["granted_at"] = json!("yesterday");
    let e = err(&v);
    assert_eq!(e.path, "$.memberships[5].granted_at");
    assert!(e.message.starts_with("invalid instant `yesterday`"), "{e}");
    let e = err_text(
        r#"{"format": "accessgraph", "version": 1, "grants": [{"user": "a@x.io", "target": "a/*", "role": "editor"}]}"#,
    );
    assert_eq!(e.path, "$.grants[0].role");
    let mut v = base();
    v["memberships"][2]["granted_at"] = json!(12);
    assert_eq!(err(&v).path, "$.memberships[2].granted_at");
}

#[test]
fn format_and_version_are_checked_first() {
    let mut v = base();
    v["format"] = json!("posthog");
    let e = err(&v);
    assert_eq!(
        e.to_string(),
        "$.format: unknown format `posthog` (expected `accessgraph`)"
    );
    // A newer version is reported as newer even when it brings fields this build lacks,
    // and wherever `version` sits in the object.
    let e = err_text(
        r#"{"format": "accessgraph", "teams": [], "orgs": [{"slug": "a", "name": "A", "tier": 1}], "version": 2}"#,
    );
    assert_eq!(e.path, "$.version");
    assert!(e.message.starts_with("unsupported version `2`"), "{e}");
    let e = err_text(r#"{"format": "accessgraph", "version": 0}"#);
    assert_eq!(e.path, "$.version");
    let e = err_text(r#"{"format": "accessgraph", "version": "1"}"#);
    assert_eq!(e.path, "$.version");
}

#[test]
fn syntax_errors_give_a_position() {
    let e = err_text("{\"format\": \"accessgraph\",\n \"version\": 1,\n \"orgs\": [}");
    assert!(e.path.starts_with("$.orgs"), "{e}");
    assert!(e.message.contains("line 3"), "{e}");
    assert_eq!(err_text("").path, "$");
}

/// A change to a valid document.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
#[expect(clippy::too_many_lines, reason = "a table of cases spelled out")]
fn records_that_do_not_fit_name_their_path() {
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|v| v["orgs"][1]["slug"] = json!("acme")),
            "$.orgs[1].slug",
            "duplicate organization `acme`",
        ),
        (
            Box::new(|v| v["orgs"][0]["slug"] = json!("Acme Corp")),
            "$.orgs[0].slug",
            "invalid slug `Acme Corp`",
        ),
        (
            Box::new(|v| v["orgs"][0]["settings"]["members_can_invite"] = json!("yes")),
            "$.orgs[0].settings.members_can_invite",
            "invalid value",
        ),
        (
            Box::new(|v| v["projects"][0]["id"] = json!("nowhere/web")),
            "$.projects[0].id",
            "unknown organization `nowhere`",
        ),
        (
            Box::new(|v| v["projects"][0]["default_role"] = json!("viewer")),
            "$.projects[0].default_role",
            "a restricted project cannot have a default role",
        ),
        (
            Box::new(|v| v["users"][0]["email"] = json!("not an email")),
            "$.users[0].email",
            "invalid email `not an email`",
        ),
        (
            Box::new(|v| v["memberships"][0]["user"] = json!("stranger@x.io")),
            "$.memberships[0].user",
            "unknown user `stranger@x.io`",
        ),
        (
            Box::new(|v| v["memberships"][0]["granted_by"] = json!("@@")),
            "$.memberships[0].granted_by",
            "invalid email `@@`",
        ),
        (
            Box::new(|v| {
                let m = v["memberships"][0].clone();
                v["memberships"].as_array_mut().unwrap().push(m);
            }),
            "$.memberships[6]",
            "duplicate membership of `ada@acme.io` in `acme`",
        ),
        (
            Box::new(|v| {
                v["memberships"][3]["role"] = json!("owner");
                v["memberships"][3]["expires"] = json!("2025-01-01");
            }),
            "$.memberships[3].expires",
            "an owner membership cannot expire",
        ),
        (
            Box::new(|v| v["memberships"][4]["role"] = json!("admin")),
            "$.orgs[1]",
            "organization `beta` has no owner",
        ),
        (
            Box::new(|v| v["grants"][0]["target"] = json!("acme/nowhere")),
            "$.grants[0].target",
            "unknown project `acme/nowhere`",
        ),
        (
            Box::new(|v| v["grants"][0]["target"] = json!("acme")),
            "$.grants[0].target",
            "invalid target `acme`",
        ),
        (
            Box::new(|v| v["grants"][0]["target"] = json!("beta/app")),
            "$.grants[0]",
            "`ada@acme.io` holds a grant in `beta` but no membership of it",
        ),
        (
            Box::new(|v| v["grants"][2]["target"] = json!("acme/production")),
            "$.grants[2]",
            "duplicate grant of `dev@acme.io` on `acme/production`",
        ),
        (
            Box::new(|v| v["resources"][0]["id"] = json!("acme/web/chart/42")),
            "$.resources[0].id",
            "invalid kind `chart`",
        ),
        (
            Box::new(|v| v["resources"][0]["id"] = json!("acme/nowhere/dashboard/1")),
            "$.resources[0].id",
            "unknown project `acme/nowhere`",
        ),
        (
            Box::new(|v| v["resources"][0]["owner"] = json!("nobody@x.io")),
            "$.resources[0].owner",
            "unknown user `nobody@x.io`",
        ),
        (
            Box::new(|v| v["actions"][0]["min_role"] = json!("viewer")),
            "$.actions[0].min_role",
            "invalid min_role `viewer`",
        ),
        (
            Box::new(|v| v["actions"][0]["name"] = json!("project:view")),
            "$.actions[0].name",
            "action `project:view` already exists",
        ),
        (
            Box::new(|v| v["api_keys"] = json!([{"id": "k1", "hash": "x"}])),
            "$.api_keys[0]",
            "missing field",
        ),
        (
            Box::new(|v| {
                v["api_keys"] = json!([{
                    "id": "pk_0123456789abcdef", "user": "nobody@x.io", "label": "ci",
                    "created_at": "2024-05-01T00:00:00Z", "mask": "agp_...abcd",
                    "hash": format!("sha256${}", "0".repeat(64)),
                }]);
            }),
            "$.api_keys[0].user",
            "unknown user `nobody@x.io`",
        ),
    ];
    for (edit, path, start) in cases {
        let mut v = base();
        edit(&mut v);
        let e = err(&v);
        assert_eq!(e.path, path, "{e}");
        assert!(e.message.starts_with(start), "{e}");
    }
}

#[test]
fn errors_convert_to_the_crate_error() {
    let e: accessgraph::Error = err_text("{}").into();
    assert!(matches!(e, accessgraph::Error::Json(ref j) if j.path == "$"));
}
