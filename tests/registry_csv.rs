//! The CSV access matrix (SPEC 5.3, SPEC 9 "Registry" and "Further decisions"): exact
//! export of a crafted graph, round trips, and every error with its line and column.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

use accessgraph::graph::{NewMember, NewProject};
use accessgraph::registry::csv::{from_csv, to_csv, CsvError, COLUMNS};
use accessgraph::roles::{OrgRole, ProjectRole};
use accessgraph::{Error, Graph, Instant};

mod common;
use common::at;

/// A grant as (user, target, role, expires, reason).
type GrantRow = (String, String, ProjectRole, Option<Instant>, Option<String>);

fn now() -> Instant {
    at("2024-05-01")
}

fn member(role: &str, expires: Option<&str>, reason: Option<&str>) -> NewMember {
    NewMember {
        role: Some(role.to_owned()),
        expires: expires.map(at),
        reason: reason.map(str::to_owned),
        ..NewMember::default()
    }
}

/// Org `acme`: an owner, an admin with expiry and reason, projects `dev` (default
/// viewer), `prod` (restricted) and `web`; `bob` with an org-wide viewer grant and an
/// explicit grant on `prod`; `carol` reached only by the default; `dan` with an expiring
/// org-wide member grant. Org `beta`: one project, a member who can access nothing.
fn crafted() -> Graph {
    let g = Graph::new();
    g.set_time(Some(now()));
    g.add_org("acme", Some("Acme Corp"), "jane@acme.io", None)
        .unwrap();
    let project = |id: &str, restricted: bool, default_role: Option<&str>| {
        g.add_project(
            id,
            NewProject {
                restricted,
                default_role: default_role.map(str::to_owned),
                ..NewProject::default()
            },
            None,
        )
        .unwrap();
    };
    project("acme/dev", false, Some("viewer"));
    project("acme/prod", true, None);
    project("acme/web", false, None);
    g.add_member(
        "Alice@acme.io",
        "acme",
        member("admin", Some("2025-01-01"), Some("eng lead")),
        None,
    )
    .unwrap();
    g.add_member("bob@acme.io", "acme", member("member", None, None), None)
        .unwrap();
    g.grant(
        "bob@acme.io",
        "acme/*",
        "viewer",
        None,
        Some("all projects".into()),
        None,
    )
    .unwrap();
    g.grant(
        "bob@acme.io",
        "acme/prod",
        "member",
        Some(at("2024-09-01T12:00Z")),
        Some("on-call, \"Q3\"".into()),
        None,
    )
    .unwrap();
    g.add_member(
        "carol@acme.io",
        "acme",
        member("member", Some("2024-12-31"), Some("contractor")),
        None,
    )
    .unwrap();
    g.add_member("dan@acme.io", "acme", member("member", None, None), None)
        .unwrap();
    g.grant(
        "dan@acme.io",
        "acme/*",
        "member",
        Some(at("2024-07-01")),
        None,
        None,
    )
    .unwrap();
    g.add_org("beta", None, "jane@acme.io", None).unwrap();
    project("beta/app", false, None);
    g.add_member(
        "erin@beta.io",
        "beta",
        member("member", None, Some("waiting for access")),
        None,
    )
    .unwrap();
    g
}

const EXPECTED: &str = "\
user,org,org_role,project,project_role,source,expires,reason
alice@acme.io,acme,admin,acme/dev,admin,organization_admin,2025-01-01,eng lead
alice@acme.io,acme,admin,acme/prod,admin,organization_admin,2025-01-01,eng lead
alice@acme.io,acme,admin,acme/web,admin,organization_admin,2025-01-01,eng lead
bob@acme.io,acme,member,acme/dev,viewer,org_wide_grant,,all projects
bob@acme.io,acme,member,acme/prod,member,explicit_member,2024-09-01T12:00:00Z,\"on-call, \"\"Q3\"\"\"
bob@acme.io,acme,member,acme/web,viewer,org_wide_grant,,all projects
carol@acme.io,acme,member,acme/dev,viewer,default,2024-12-31,contractor
dan@acme.io,acme,member,acme/dev,member,org_wide_grant,2024-07-01,
dan@acme.io,acme,member,acme/web,member,org_wide_grant,2024-07-01,
jane@acme.io,acme,owner,acme/dev,admin,organization_admin,,
jane@acme.io,acme,owner,acme/prod,admin,organization_admin,,
jane@acme.io,acme,owner,acme/web,admin,organization_admin,,
erin@beta.io,beta,member,,,,,waiting for access
jane@acme.io,beta,owner,beta/app,admin,organization_admin,,
";

#[test]
fn export_is_exact() {
    let g = crafted();
    assert_eq!(to_csv(&g, Some(now())).unwrap(), EXPECTED);
    // The graph's clock is the default instant; the output is deterministic.
    assert_eq!(to_csv(&g, None).unwrap(), EXPECTED);
}

#[test]
fn export_leaves_out_what_has_expired() {
    let g = crafted();
    let later = to_csv(&g, Some(at("2024-08-01"))).unwrap();
    assert!(!later.contains("dan@acme.io,acme,member,acme/dev,member"));
    assert!(later.contains("dan@acme.io,acme,member,acme/dev,viewer,default,,\n"));
}

#[test]
fn round_trip_is_stable_and_keeps_every_decision() {
    let g = crafted();
    let text = to_csv(&g, Some(now())).unwrap();
    let back = from_csv(&text).unwrap();
    back.set_time(Some(now()));
    assert_eq!(to_csv(&back, Some(now())).unwrap(), text);

    let users: Vec<String> = g.users().unwrap().into_iter().map(|u| u.email).collect();
    let projects: Vec<String> = g
        .projects(None)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(users.len(), 6);
    assert_eq!(projects.len(), 4);
    for u in &users {
        for p in &projects {
            assert_eq!(
                g.permissions(u, p, Some(now())),
                back.permissions(u, p, Some(now())),
                "{u} on {p}"
            );
            assert_eq!(g.role(u, p, Some(now())), back.role(u, p, Some(now())));
        }
    }
}

#[test]
fn import_rebuilds_what_the_matrix_shows() {
    let back = from_csv(EXPECTED).unwrap();
    let prod = back.project("acme/prod").unwrap();
    assert!(
        prod.attrs.restricted,
        "dan's org-wide grant does not reach prod"
    );
    let dev = back.project("acme/dev").unwrap();
    assert!(!dev.attrs.restricted);
    assert_eq!(dev.attrs.default_role, Some(ProjectRole::Viewer));
    assert!(!back.project("acme/web").unwrap().attrs.restricted);
    assert!(!back.project("beta/app").unwrap().attrs.restricted);

    let members = back.members("acme").unwrap();
    let alice = members.iter().find(|m| m.user == "alice@acme.io").unwrap();
    assert_eq!(alice.role, OrgRole::Admin);
    assert_eq!(alice.expires, Some(at("2025-01-01")));
    assert_eq!(alice.reason.as_deref(), Some("eng lead"));
    let carol = members.iter().find(|m| m.user == "carol@acme.io").unwrap();
    assert_eq!(carol.expires, Some(at("2024-12-31")));
    assert_eq!(carol.reason.as_deref(), Some("contractor"));
    let erin = &back.members("beta").unwrap()[0];
    assert_eq!(
        (erin.user.as_str(), erin.reason.as_deref()),
        ("erin@beta.io", Some("waiting for access"))
    );

    let grants: Vec<GrantRow> = back
        .grants(None, None)
        .unwrap()
        .into_iter()
        .map(|g| (g.user, g.target, g.role, g.expires, g.reason))
        .collect();
    assert_eq!(
        grants,
        vec![
            (
                "bob@acme.io".into(),
                "acme/*".into(),
                ProjectRole::Viewer,
                None,
                Some("all projects".into())
            ),
            (
                "bob@acme.io".into(),
                "acme/prod".into(),
                ProjectRole::Member,
                Some(at("2024-09-01T12:00Z")),
                Some("on-call, \"Q3\"".into())
            ),
            (
                "dan@acme.io".into(),
                "acme/*".into(),
                ProjectRole::Member,
                Some(at("2024-07-01")),
                None
            ),
        ]
    );
}

#[test]
fn import_restores_expired_entries_as_recorded() {
    let text = "user,org,org_role,project,project_role,source,expires,reason
jane@acme.io,acme,owner,acme/dev,admin,organization_admin,,
old@acme.io,acme,member,acme/dev,viewer,explicit_member,2020-01-01,gone
";
    let g = from_csv(text).unwrap();
    let grants = g.grants(Some("old@acme.io"), None).unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].expires, Some(at("2020-01-01")));
}

#[test]
fn header_order_bom_crlf_case_and_blank_rows_are_accepted() {
    let text = "\u{feff}org,user,project,org_role,source,project_role,reason,expires\r\n\
                acme,Jane@Acme.io,acme/dev,owner,organization_admin,admin,,\r\n\
                ,,,,,,,\r\n\
                acme,bob@acme.io,acme/dev,member,explicit_member,viewer, kept as is ,2024-06-01T12:00:00+02:00\r\n";
    let g = from_csv(text).unwrap();
    assert_eq!(
        to_csv(&g, Some(now())).unwrap(),
        "user,org,org_role,project,project_role,source,expires,reason
bob@acme.io,acme,member,acme/dev,viewer,explicit_member,2024-06-01T10:00:00Z, kept as is 
jane@acme.io,acme,owner,acme/dev,admin,organization_admin,,
"
    );
}

#[test]
fn header_only_gives_an_empty_graph() {
    let g = from_csv(&format!("{}\n", COLUMNS.join(","))).unwrap();
    assert!(g.orgs().unwrap().is_empty());
    assert_eq!(
        to_csv(&g, None).unwrap(),
        format!("{}\n", COLUMNS.join(","))
    );
}

#[test]
fn csv_errors_become_registry_format_errors() {
    let e: Error = CsvError::new(3, 7, "bad").into();
    match e {
        Error::Registry(r) => assert_eq!((r.line, r.column, r.message.as_str()), (3, 7, "bad")),
        other => panic!("{other:?}"),
    }
}

const HEAD: &str = "user,org,org_role,project,project_role,source,expires,reason\n";
const OWNER: &str = "jane@acme.io,acme,owner,acme/dev,admin,organization_admin,,\n";

/// Imports `HEAD + OWNER + rows` and returns the error.
fn fails(rows: &str) -> CsvError {
    from_csv(&format!("{HEAD}{OWNER}{rows}"))
        .map(|_| ())
        .unwrap_err()
}

fn assert_err(e: &CsvError, line: usize, column: usize, needle: &str) {
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.message.contains(needle), "{e} should mention {needle}");
}

#[test]
fn header_errors_are_on_line_one() {
    assert_err(
        &from_csv("").map(|_| ()).unwrap_err(),
        1,
        1,
        "missing header",
    );
    let e = from_csv("user,org,org_role,project,project_role,source,expires,reason,team\n")
        .map(|_| ())
        .unwrap_err();
    assert_err(&e, 1, 9, "unknown column `team`");
    let e = from_csv("user,org,org_role,project,project_role,source,reason\n")
        .map(|_| ())
        .unwrap_err();
    assert_err(&e, 1, 1, "missing column `expires`");
    let e = from_csv("user,org,org_role,project,project_role,source,expires,user\n")
        .map(|_| ())
        .unwrap_err();
    assert_err(&e, 1, 8, "duplicate column `user`");
    let e = from_csv("User,org,org_role,project,project_role,source,expires,reason\n")
        .map(|_| ())
        .unwrap_err();
    assert_err(&e, 1, 1, "unknown column `User`");
}

#[test]
fn bad_values_are_reported_at_their_cell() {
    assert_err(
        &fails("not an email,acme,member,,,,,\n"),
        3,
        1,
        "`not an email`",
    );
    assert_err(&fails("bob@acme.io,Acme!,member,,,,,\n"), 3, 2, "`Acme!`");
    assert_err(&fails("bob@acme.io,acme,boss,,,,,\n"), 3, 3, "`boss`");
    assert_err(
        &fails("bob@acme.io,acme,member,acme/dev,editor,explicit_member,,\n"),
        3,
        5,
        "`editor`",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,acme/dev,viewer,creator,,\n"),
        3,
        6,
        "`creator`",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,acme/dev,viewer,explicit_member,2024-13-01,\n"),
        3,
        7,
        "`2024-13-01`",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,acme/dev,,explicit_member,,\n"),
        3,
        5,
        "project_role",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,,viewer,,,\n"),
        3,
        5,
        "without a project",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,,,default,,\n"),
        3,
        6,
        "without a project",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,beta/dev,viewer,explicit_member,,\n"),
        3,
        4,
        "not in org `acme`",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,acme,viewer,explicit_member,,\n"),
        3,
        4,
        "`acme`",
    );
}

#[test]
fn rows_that_contradict_the_model_are_refused() {
    assert_err(
        &fails("bob@acme.io,acme,member,acme/dev,admin,organization_admin,,\n"),
        3,
        6,
        "only owners and admins",
    );
    assert_err(
        &fails("bob@acme.io,acme,admin,acme/dev,admin,explicit_member,,\n"),
        3,
        6,
        "owners and admins have organization_admin",
    );
    assert_err(
        &fails("bob@acme.io,acme,admin,acme/dev,viewer,organization_admin,,\n"),
        3,
        5,
        "gives admin",
    );
    let e = from_csv(&format!(
        "{HEAD}jane@acme.io,acme,owner,acme/dev,admin,organization_admin,2025-01-01,\n"
    ))
    .map(|_| ())
    .unwrap_err();
    assert_err(&e, 2, 7, "owner membership cannot expire");
}

#[test]
fn inconsistent_rows_name_the_first_line() {
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,explicit_member,,\n\
             bob@acme.io,acme,admin,acme/web,admin,organization_admin,,\n",
        ),
        4,
        3,
        "differs from `member` at line 3",
    );
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,default,,\n\
             carol@acme.io,acme,member,acme/dev,member,default,,\n",
        ),
        4,
        5,
        "conflicting default roles for `acme/dev`: `member` here, `viewer` at line 3",
    );
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,org_wide_grant,,\n\
             bob@acme.io,acme,member,acme/web,member,org_wide_grant,,\n",
        ),
        4,
        5,
        "conflicting org-wide grants",
    );
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,org_wide_grant,2024-07-01,\n\
             bob@acme.io,acme,member,acme/web,viewer,org_wide_grant,,\n",
        ),
        4,
        7,
        "line 3",
    );
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,default,,x\n\
             bob@acme.io,acme,member,acme/web,viewer,default,,y\n",
        ),
        4,
        8,
        "reason of the membership of `bob@acme.io`",
    );
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,explicit_member,,\n\
             BOB@acme.io,acme,member,acme/dev,member,explicit_member,,\n",
        ),
        4,
        4,
        "duplicate row for `bob@acme.io` on `acme/dev` (first at line 3)",
    );
    assert_err(
        &fails("bob@acme.io,acme,member,,,,,\nbob@acme.io,acme,member,,,,,\n"),
        4,
        4,
        "first at line 3",
    );
}

#[test]
fn an_org_without_an_owner_is_refused_at_its_first_row() {
    let e = fails(
        "erin@beta.io,beta,admin,beta/app,admin,organization_admin,,\n\
         fred@beta.io,beta,member,,,,,\n",
    );
    assert_err(&e, 3, 2, "org `beta` has no owner");
}

#[test]
fn record_shape_errors_name_the_field() {
    assert_err(
        &fails("bob@acme.io,acme,member,,,\n"),
        3,
        7,
        "expected 8 fields, found 6",
    );
    assert_err(&fails("bob@acme.io,acme,member,,,,,,x\n"), 3, 9, "found 9");
    // A quoted reason spanning lines: the next record's line is counted correctly.
    assert_err(
        &fails(
            "bob@acme.io,acme,member,acme/dev,viewer,explicit_member,,\"two\nlines\"\n\
             carol@acme.io,acme,boss,,,,,\n",
        ),
        5,
        3,
        "`boss`",
    );
}

#[test]
fn restricted_is_inferred_from_an_org_wide_grant_that_does_not_reach() {
    // On the restricted project, bob's explicit viewer grant shows instead of his
    // org-wide admin grant: the project must come back restricted for the round trip.
    let g = Graph::new();
    g.set_time(Some(now()));
    g.add_org("acme", None, "jane@acme.io", None).unwrap();
    for (id, restricted) in [("acme/open", false), ("acme/vault", true)] {
        g.add_project(
            id,
            NewProject {
                restricted,
                ..NewProject::default()
            },
            None,
        )
        .unwrap();
    }
    g.add_member("bob@acme.io", "acme", member("member", None, None), None)
        .unwrap();
    g.grant("bob@acme.io", "acme/*", "admin", None, None, None)
        .unwrap();
    g.grant("bob@acme.io", "acme/vault", "viewer", None, None, None)
        .unwrap();
    let text = to_csv(&g, Some(now())).unwrap();
    assert!(text.contains("bob@acme.io,acme,member,acme/vault,viewer,explicit_member,,\n"));
    let back = from_csv(&text).unwrap();
    assert!(back.project("acme/vault").unwrap().attrs.restricted);
    assert!(!back.project("acme/open").unwrap().attrs.restricted);
    assert_eq!(to_csv(&back, Some(now())).unwrap(), text);
}

#[test]
fn no_cell_starts_a_spreadsheet_formula_and_every_value_reads_back() {
    // CWE-1236: a cell that starts with = + - @ TAB or CR is run by spreadsheets.
    let reasons = [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tindented",
        "\rreturn",
        "'=already quoted",
        "'plain quote",
        "fine = fine",
    ];
    let g = Graph::new();
    g.set_time(Some(now()));
    g.add_org("acme", None, "jane@acme.io", None).unwrap();
    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    // Each reason on a grant (its row carries it) and on a membership without grants
    // (its row without a project carries it).
    for (i, reason) in reasons.iter().enumerate() {
        let (granted, alone) = (format!("g{i}@acme.io"), format!("m{i}@acme.io"));
        g.add_member(&granted, "acme", member("member", None, None), None)
            .unwrap();
        g.grant(
            &granted,
            "acme/web",
            "viewer",
            None,
            Some((*reason).to_owned()),
            None,
        )
        .unwrap();
        g.add_member(&alone, "acme", member("member", None, Some(reason)), None)
            .unwrap();
    }
    g.add_member("=1+1@acme.io", "acme", member("member", None, None), None)
        .unwrap();
    let text = to_csv(&g, Some(now())).unwrap();
    let mut rdr = ::csv::Reader::from_reader(text.as_bytes());
    for rec in rdr.records() {
        for cell in &rec.unwrap() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }
    assert!(text.contains("'=HYPERLINK("), "{text}");
    assert!(text.contains("'=1+1@acme.io,"), "{text}");
    let back = from_csv(&text).unwrap();
    back.set_time(Some(now()));
    assert_eq!(to_csv(&back, Some(now())).unwrap(), text);
    let grants = |g: &Graph| -> Vec<(String, Option<String>)> {
        g.grants(None, None)
            .unwrap()
            .into_iter()
            .map(|x| (x.user, x.reason))
            .collect()
    };
    assert_eq!(grants(&back), grants(&g));
    let reasons_back: Vec<Option<String>> = back
        .members("acme")
        .unwrap()
        .into_iter()
        .map(|m| m.reason)
        .collect();
    let reasons_there: Vec<Option<String>> = g
        .members("acme")
        .unwrap()
        .into_iter()
        .map(|m| m.reason)
        .collect();
    assert_eq!(reasons_back, reasons_there);
    assert!(back.user("=1+1@acme.io").is_ok());
}
