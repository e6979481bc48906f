//! Evaluation (SPEC 1.5, 2.1, 2.2, 9 "Evaluation", docs/semantics.md): effective project
//! roles, the default action catalogue, ownership, scopes, unknowns, custom actions and
//! the reverse lookups (`who_can`, `permissions`, `accessible`, `explain`).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test stops at the first surprise, loudly"
)]

use std::collections::BTreeSet;

use accessgraph::error::{ConflictError, ValidationError};
use accessgraph::graph::{NewMember, NewProject, ProjectPatch};
use accessgraph::roles::{OrgRole, ProjectRole, Role};
use accessgraph::{Error, Graph, Instant, Source};

mod common;
use common::{at as t, nm};

const OWNER: &str = "owner@acme.io";
const ADMIN: &str = "admin@acme.io";
/// Org member with no grant.
const MEMBER: &str = "member@acme.io";
/// Org member with a viewer grant on `acme/web`.
const VIEWER: &str = "viewer@acme.io";
/// Org member with a member grant on `acme/web`.
const PMEMBER: &str = "pmember@acme.io";
/// Another org member with a member grant on `acme/web`.
const PMEMBER2: &str = "pmember2@acme.io";
/// Org member with an admin grant on `acme/web`.
const PADMIN: &str = "padmin@acme.io";
/// Org member with a member grant on `acme/*`.
const WIDE: &str = "wide@acme.io";
/// Owner of another org.
const OUTSIDER: &str = "outsider@other.io";
/// Unknown to the graph.
const STRANGER: &str = "stranger@nowhere.io";

const EVERYONE: &[&str] = &[
    OWNER, ADMIN, MEMBER, VIEWER, PMEMBER2, PMEMBER, PADMIN, WIDE, OUTSIDER, STRANGER,
];

/// SPEC 2.1: org-scoped actions and their minimum org role.
const ORG_ACTIONS: &[(&str, OrgRole)] = &[
    ("org:view", OrgRole::Member),
    ("org:manage_settings", OrgRole::Admin),
    ("org:invite_member", OrgRole::Admin),
    ("org:remove_member", OrgRole::Admin),
    ("org:manage_roles", OrgRole::Admin),
    ("project:create", OrgRole::Admin),
    ("project:delete", OrgRole::Owner),
    ("billing:manage", OrgRole::Owner),
    ("org:delete", OrgRole::Owner),
    ("audit:view", OrgRole::Admin),
];

/// SPEC 2.1: project-scoped actions and their minimum project role on a project target
/// (owner-dependent actions need admin there).
const PROJECT_ACTIONS: &[(&str, ProjectRole)] = &[
    ("project:view", ProjectRole::Viewer),
    ("dashboard:view", ProjectRole::Viewer),
    ("insight:view", ProjectRole::Viewer),
    ("recording:view", ProjectRole::Viewer),
    ("annotation:view", ProjectRole::Viewer),
    ("insight:create", ProjectRole::Member),
    ("dashboard:create", ProjectRole::Member),
    ("cohort:create", ProjectRole::Member),
    ("cohort:view", ProjectRole::Member),
    ("annotation:create", ProjectRole::Member),
    ("notebook:create", ProjectRole::Member),
    ("feature_flag:view", ProjectRole::Member),
    ("feature_flag:use", ProjectRole::Member),
    ("experiment:view", ProjectRole::Member),
    ("event:track", ProjectRole::Member),
    ("data:export", ProjectRole::Member),
    ("insight:edit", ProjectRole::Admin),
    ("insight:delete", ProjectRole::Admin),
    ("dashboard:edit", ProjectRole::Admin),
    ("notebook:edit", ProjectRole::Admin),
    ("dashboard:delete", ProjectRole::Admin),
    ("project:manage_settings", ProjectRole::Admin),
    ("project:invite_member", ProjectRole::Admin),
    ("project:manage_members", ProjectRole::Admin),
    ("feature_flag:manage", ProjectRole::Admin),
    ("experiment:manage", ProjectRole::Admin),
    ("cohort:manage", ProjectRole::Admin),
    ("data:manage_retention", ProjectRole::Admin),
    ("data:delete", ProjectRole::Admin),
    ("project_key:rotate", ProjectRole::Admin),
];

/// The owner-dependent actions: member suffices on a resource of that kind one owns.
const OWNER_ACTIONS: &[&str] = &[
    "insight:edit",
    "insight:delete",
    "dashboard:edit",
    "notebook:edit",
    "dashboard:delete",
];

fn project(restricted: bool, default_role: Option<&str>) -> NewProject {
    NewProject {
        restricted,
        default_role: default_role.map(str::to_owned),
        ..NewProject::default()
    }
}

/// acme: projects web (plain), prod (restricted), sandbox (default viewer). Members are
/// added out of email order on purpose. Clock frozen at 2024-05-01T00:00Z.
fn fixture() -> Graph {
    let g = Graph::new();
    g.set_time(Some(t("2024-05-01T00:00:00Z")));
    g.add_org("acme", Some("Acme Corp"), OWNER, None).unwrap();
    g.add_org("other", None, OUTSIDER, None).unwrap();
    g.add_project("acme/web", project(false, None), None)
        .unwrap();
    g.add_project("acme/prod", project(true, None), None)
        .unwrap();
    g.add_project("acme/sandbox", project(false, Some("viewer")), None)
        .unwrap();
    g.add_project("other/web", project(false, None), None)
        .unwrap();
    for (user, role) in [
        (WIDE, "member"),
        (PMEMBER2, "member"),
        (VIEWER, "member"),
        (ADMIN, "admin"),
        (PADMIN, "member"),
        (MEMBER, "member"),
        (PMEMBER, "member"),
    ] {
        g.add_member(user, "acme", nm(role), None).unwrap();
    }
    g.grant(VIEWER, "acme/web", "viewer", None, None, None)
        .unwrap();
    g.grant(PMEMBER, "acme/web", "member", None, None, None)
        .unwrap();
    g.grant(PMEMBER2, "acme/web", "member", None, None, None)
        .unwrap();
    g.grant(PADMIN, "acme/web", "admin", None, None, None)
        .unwrap();
    g.grant(WIDE, "acme/*", "member", None, None, None).unwrap();
    g
}

fn prole(g: &Graph, user: &str, target: &str, at: Option<Instant>) -> Option<ProjectRole> {
    match g.role(user, target, at).unwrap() {
        None => None,
        Some(Role::Project(r)) => Some(r),
        Some(other) => panic!("{user} on {target}: expected a project role, got {other:?}"),
    }
}

fn source(g: &Graph, user: &str, action: &str, target: &str) -> Option<Source> {
    g.explain(user, action, target, None).unwrap().source
}

fn check(g: &Graph, user: &str, action: &str, target: &str) -> bool {
    g.check(user, action, target, None).unwrap()
}

#[track_caller]
fn invalid(r: accessgraph::Result<impl std::fmt::Debug>) -> ValidationError {
    match r {
        Err(Error::Validation(v)) => v,
        other => panic!("expected ValidationError, got {other:?}"),
    }
}

#[track_caller]
fn unknown_action(r: accessgraph::Result<impl std::fmt::Debug>, name: &str) {
    match invalid(r) {
        ValidationError::UnknownAction(a) => assert_eq!(a, name),
        v => panic!("expected UnknownAction, got {v:?}"),
    }
}

fn all_builtin_actions() -> Vec<&'static str> {
    ORG_ACTIONS
        .iter()
        .map(|a| a.0)
        .chain(PROJECT_ACTIONS.iter().map(|a| a.0))
        .collect()
}

// ----------------------------------------------------------------------------------
// Effective project role (SPEC 1.5)
// ----------------------------------------------------------------------------------

#[test]
fn org_owners_and_admins_are_project_admins_everywhere() {
    let g = fixture();
    for user in [OWNER, ADMIN] {
        for p in ["acme/web", "acme/prod", "acme/sandbox"] {
            assert_eq!(
                prole(&g, user, p, None),
                Some(ProjectRole::Admin),
                "{user} {p}"
            );
            assert_eq!(
                source(&g, user, "project:view", p),
                Some(Source::OrganizationAdmin)
            );
            assert!(check(&g, user, "project_key:rotate", p));
        }
        // Not in another org.
        assert_eq!(prole(&g, user, "other/web", None), None);
        assert!(!check(&g, user, "project:view", "other/web"));
    }
}

#[test]
fn explicit_grants_give_their_role_on_their_project() {
    let g = fixture();
    assert_eq!(
        prole(&g, VIEWER, "acme/web", None),
        Some(ProjectRole::Viewer)
    );
    assert_eq!(
        prole(&g, PMEMBER, "acme/web", None),
        Some(ProjectRole::Member)
    );
    assert_eq!(
        prole(&g, PADMIN, "acme/web", None),
        Some(ProjectRole::Admin)
    );
    assert_eq!(
        source(&g, VIEWER, "project:view", "acme/web"),
        Some(Source::ExplicitMember)
    );
    assert_eq!(prole(&g, PADMIN, "acme/prod", None), None);
    // Plain org members have no role on a project without a default.
    assert_eq!(prole(&g, MEMBER, "acme/web", None), None);
    assert_eq!(prole(&g, MEMBER, "acme/prod", None), None);
    // An explicit grant on a restricted project works.
    g.grant(MEMBER, "acme/prod", "viewer", None, None, None)
        .unwrap();
    assert_eq!(
        prole(&g, MEMBER, "acme/prod", None),
        Some(ProjectRole::Viewer)
    );
    assert_eq!(
        source(&g, MEMBER, "project:view", "acme/prod"),
        Some(Source::ExplicitMember)
    );
}

#[test]
fn org_wide_grants_do_not_reach_restricted_projects() {
    let g = fixture();
    assert_eq!(prole(&g, WIDE, "acme/web", None), Some(ProjectRole::Member));
    assert_eq!(
        source(&g, WIDE, "project:view", "acme/web"),
        Some(Source::OrgWideGrant)
    );
    assert_eq!(prole(&g, WIDE, "acme/prod", None), None);
    assert!(!check(&g, WIDE, "project:view", "acme/prod"));
    // Even an admin org-wide grant.
    g.grant(WIDE, "acme/*", "admin", None, None, None).unwrap();
    assert_eq!(prole(&g, WIDE, "acme/web", None), Some(ProjectRole::Admin));
    assert_eq!(prole(&g, WIDE, "acme/prod", None), None);
    // A project created later is covered by the org-wide grant.
    g.add_project("acme/new", NewProject::default(), None)
        .unwrap();
    assert_eq!(prole(&g, WIDE, "acme/new", None), Some(ProjectRole::Admin));
    // Making a project restricted takes the org-wide access away.
    g.update_project(
        "acme/new",
        ProjectPatch {
            restricted: Some(true),
            ..ProjectPatch::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(prole(&g, WIDE, "acme/new", None), None);
    let d = g.explain(WIDE, "project:view", "acme/new", None).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.source, None);
}

#[test]
fn default_role_covers_every_unexpired_org_member() {
    let g = fixture();
    assert_eq!(
        prole(&g, MEMBER, "acme/sandbox", None),
        Some(ProjectRole::Viewer)
    );
    assert_eq!(
        source(&g, MEMBER, "project:view", "acme/sandbox"),
        Some(Source::Default)
    );
    assert!(check(&g, MEMBER, "insight:view", "acme/sandbox"));
    assert!(!check(&g, MEMBER, "insight:create", "acme/sandbox"));
    // Not non-members.
    assert_eq!(prole(&g, OUTSIDER, "acme/sandbox", None), None);
    assert!(!check(&g, OUTSIDER, "project:view", "acme/sandbox"));
    assert!(!check(&g, STRANGER, "project:view", "acme/sandbox"));
    // Not expired members.
    g.add_member(
        "gone@acme.io",
        "acme",
        NewMember {
            expires: Some(t("2024-04-01")),
            ..NewMember::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(prole(&g, "gone@acme.io", "acme/sandbox", None), None);
    assert!(!check(&g, "gone@acme.io", "project:view", "acme/sandbox"));
    // The default is no access; clearing a default takes it away.
    g.update_project(
        "acme/sandbox",
        ProjectPatch {
            default_role: Some(None),
            ..ProjectPatch::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(prole(&g, MEMBER, "acme/sandbox", None), None);
}

#[test]
fn the_highest_source_wins() {
    let g = fixture();
    // org/* member beats the default viewer.
    assert_eq!(
        prole(&g, WIDE, "acme/sandbox", None),
        Some(ProjectRole::Member)
    );
    assert_eq!(
        source(&g, WIDE, "project:view", "acme/sandbox"),
        Some(Source::OrgWideGrant)
    );
    // An explicit admin beats org/* member.
    g.grant(WIDE, "acme/web", "admin", None, None, None)
        .unwrap();
    assert_eq!(prole(&g, WIDE, "acme/web", None), Some(ProjectRole::Admin));
    assert_eq!(
        source(&g, WIDE, "project:view", "acme/web"),
        Some(Source::ExplicitMember)
    );
    // org/* member beats an explicit viewer.
    g.grant(WIDE, "acme/web", "viewer", None, None, None)
        .unwrap();
    assert_eq!(prole(&g, WIDE, "acme/web", None), Some(ProjectRole::Member));
    assert_eq!(
        source(&g, WIDE, "project:view", "acme/web"),
        Some(Source::OrgWideGrant)
    );
    // A default admin beats an explicit viewer.
    g.update_project(
        "acme/sandbox",
        ProjectPatch {
            default_role: Some(Some("admin".to_owned())),
            ..ProjectPatch::default()
        },
        None,
    )
    .unwrap();
    g.grant(VIEWER, "acme/sandbox", "viewer", None, None, None)
        .unwrap();
    assert_eq!(
        prole(&g, VIEWER, "acme/sandbox", None),
        Some(ProjectRole::Admin)
    );
    assert_eq!(
        source(&g, VIEWER, "project:view", "acme/sandbox"),
        Some(Source::Default)
    );
    // The org admin role beats an explicit viewer grant.
    g.grant(ADMIN, "acme/web", "viewer", None, None, None)
        .unwrap();
    assert_eq!(prole(&g, ADMIN, "acme/web", None), Some(ProjectRole::Admin));
}

#[test]
fn ties_go_to_the_first_source_in_order() {
    // organization_admin, explicit_member, org_wide_grant, default.
    let g = fixture();
    g.grant(ADMIN, "acme/web", "admin", None, None, None)
        .unwrap();
    assert_eq!(
        source(&g, ADMIN, "project:view", "acme/web"),
        Some(Source::OrganizationAdmin)
    );
    g.grant(MEMBER, "acme/sandbox", "viewer", None, None, None)
        .unwrap();
    assert_eq!(
        source(&g, MEMBER, "project:view", "acme/sandbox"),
        Some(Source::ExplicitMember)
    );
    g.grant(WIDE, "acme/web", "member", None, None, None)
        .unwrap();
    assert_eq!(
        source(&g, WIDE, "project:view", "acme/web"),
        Some(Source::ExplicitMember)
    );
    g.grant(VIEWER, "acme/*", "viewer", None, None, None)
        .unwrap();
    assert_eq!(
        source(&g, VIEWER, "project:view", "acme/sandbox"),
        Some(Source::OrgWideGrant)
    );
}

// ----------------------------------------------------------------------------------
// Expiry
// ----------------------------------------------------------------------------------

#[test]
fn a_date_means_midnight_utc() {
    assert_eq!(t("2024-06-01"), t("2024-06-01T00:00:00Z"));
    assert_eq!(t("2024-06-01"), t("2024-06-01T02:00:00+02:00"));
    assert_eq!(t("2024-06-01T00:00"), t("2024-06-01"));
    assert_eq!(t("2024-06-01 12:00:00"), t("2024-06-01T12:00:00Z"));
    assert!(t("2024-05-31T23:59:59.999Z") < t("2024-06-01"));
    assert!(matches!(
        Instant::parse("expires", "June 1st"),
        Err(Error::Validation(_))
    ));
}

#[test]
fn membership_expiry_is_exclusive_at_the_boundary() {
    let g = fixture();
    g.add_member(
        "temp@acme.io",
        "acme",
        NewMember {
            role: Some("admin".to_owned()),
            expires: Some(t("2024-06-01")),
            ..NewMember::default()
        },
        None,
    )
    .unwrap();
    let at = |s: &str| Some(t(s));
    for (when, alive) in [
        ("2024-05-31T23:59:59.999Z", true),
        ("2024-05-31T23:59:59.999999Z", true),
        ("2024-06-01T00:00:00Z", false),
        ("2024-06-01T00:00:00.000001Z", false),
        ("2025-01-01", false),
    ] {
        assert_eq!(
            g.check("temp@acme.io", "org:view", "acme", at(when))
                .unwrap(),
            alive,
            "{when}"
        );
        assert_eq!(
            g.check("temp@acme.io", "project:view", "acme/prod", at(when))
                .unwrap(),
            alive,
            "{when}"
        );
        assert_eq!(
            g.role("temp@acme.io", "acme", at(when)).unwrap().is_some(),
            alive,
            "{when}"
        );
        assert_eq!(
            g.who_can("org:view", "acme", at(when))
                .unwrap()
                .contains(&"temp@acme.io".to_owned()),
            alive,
            "{when}"
        );
    }
    // at=None reads the graph's clock.
    g.set_time(Some(t("2024-05-31T23:59:59.999999Z")));
    assert!(check(&g, "temp@acme.io", "org:view", "acme"));
    g.set_time(Some(t("2024-06-01")));
    assert!(!check(&g, "temp@acme.io", "org:view", "acme"));
    assert_eq!(g.role("temp@acme.io", "acme/web", None).unwrap(), None);
    // Expired: no access even with a grant or a default role.
    assert!(!check(&g, "temp@acme.io", "project:view", "acme/sandbox"));
    assert!(g
        .permissions("temp@acme.io", "acme/sandbox", None)
        .unwrap()
        .is_empty());
}

#[test]
fn grant_expiry_is_exclusive_at_the_boundary() {
    let g = fixture();
    g.grant(
        MEMBER,
        "acme/web",
        "admin",
        Some(t("2024-06-01")),
        None,
        None,
    )
    .unwrap();
    g.grant(
        MEMBER,
        "acme/*",
        "viewer",
        Some(t("2024-07-01")),
        None,
        None,
    )
    .unwrap();
    let role_at = |s: &str| prole(&g, MEMBER, "acme/web", Some(t(s)));
    assert_eq!(
        role_at("2024-05-31T23:59:59.999999Z"),
        Some(ProjectRole::Admin)
    );
    // The explicit grant has expired; the org-wide one still gives viewer.
    assert_eq!(role_at("2024-06-01"), Some(ProjectRole::Viewer));
    assert_eq!(
        role_at("2024-06-30T23:59:59.999999Z"),
        Some(ProjectRole::Viewer)
    );
    assert_eq!(role_at("2024-07-01T00:00:00Z"), None);
    let d = g
        .explain(MEMBER, "project:view", "acme/web", Some(t("2024-06-15")))
        .unwrap();
    assert_eq!(d.source, Some(Source::OrgWideGrant));
    // The default role has no expiry of its own.
    g.grant(
        MEMBER,
        "acme/sandbox",
        "member",
        Some(t("2024-06-01")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        prole(&g, MEMBER, "acme/sandbox", Some(t("2024-06-01"))),
        Some(ProjectRole::Viewer)
    );
}

// ----------------------------------------------------------------------------------
// The default action catalogue (SPEC 2.1)
// ----------------------------------------------------------------------------------

#[test]
fn org_actions_need_their_minimum_org_role() {
    let g = fixture();
    let users: [(&str, Option<OrgRole>); 4] = [
        (OUTSIDER, None),
        (MEMBER, Some(OrgRole::Member)),
        (ADMIN, Some(OrgRole::Admin)),
        (OWNER, Some(OrgRole::Owner)),
    ];
    for (action, min) in ORG_ACTIONS {
        for (user, role) in users {
            let expected = role >= Some(*min);
            for target in ["acme", "acme/web", "acme/prod"] {
                assert_eq!(
                    check(&g, user, action, target),
                    expected,
                    "{user} ({role:?}) {action} on {target}"
                );
            }
        }
        // Project roles do not count for org actions.
        assert_eq!(
            check(&g, PADMIN, action, "acme"),
            *min == OrgRole::Member,
            "{action}"
        );
    }
}

#[test]
fn project_actions_need_their_minimum_project_role() {
    let g = fixture();
    let users: [(&str, Option<ProjectRole>); 4] = [
        (MEMBER, None),
        (VIEWER, Some(ProjectRole::Viewer)),
        (PMEMBER, Some(ProjectRole::Member)),
        (PADMIN, Some(ProjectRole::Admin)),
    ];
    for (action, min) in PROJECT_ACTIONS {
        for (user, role) in users {
            assert_eq!(
                check(&g, user, action, "acme/web"),
                role >= Some(*min),
                "{user} ({role:?}) {action} on acme/web (min {min:?})"
            );
        }
        assert!(!check(&g, OUTSIDER, action, "acme/web"), "{action}");
        assert!(!check(&g, STRANGER, action, "acme/web"), "{action}");
    }
}

#[test]
fn the_catalogue_is_exactly_the_spec_table() {
    let g = fixture();
    let org: BTreeSet<String> = g
        .permissions(OWNER, "acme", None)
        .unwrap()
        .into_iter()
        .collect();
    let expected_org: BTreeSet<String> = ORG_ACTIONS.iter().map(|a| a.0.to_owned()).collect();
    assert_eq!(org, expected_org);
    let all: BTreeSet<String> = g
        .permissions(OWNER, "acme/web", None)
        .unwrap()
        .into_iter()
        .collect();
    let expected_all: BTreeSet<String> = all_builtin_actions()
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(all, expected_all);
    for a in all_builtin_actions() {
        g.check(
            MEMBER,
            a,
            if ORG_ACTIONS.iter().any(|o| o.0 == a) {
                "acme"
            } else {
                "acme/web"
            },
            None,
        )
        .unwrap();
    }
}

#[test]
fn members_can_invite_lowers_org_invite_member_to_member() {
    let g = fixture();
    assert!(!check(&g, MEMBER, "org:invite_member", "acme"));
    g.update_org(
        "acme",
        None,
        vec![(
            "members_can_invite".to_owned(),
            Some(serde_json::json!(true)),
        )],
        None,
    )
    .unwrap();
    assert!(check(&g, MEMBER, "org:invite_member", "acme"));
    assert!(check(&g, MEMBER, "org:invite_member", "acme/web"));
    assert!(!check(&g, OUTSIDER, "org:invite_member", "acme"));
    for (action, min) in ORG_ACTIONS {
        if *action != "org:invite_member" {
            assert_eq!(
                check(&g, MEMBER, action, "acme"),
                *min == OrgRole::Member,
                "{action}"
            );
        }
    }
    // Only in that org.
    g.add_member(MEMBER, "other", nm("member"), None).unwrap();
    assert!(!check(&g, MEMBER, "org:invite_member", "other"));
}

// ----------------------------------------------------------------------------------
// Resources and ownership
// ----------------------------------------------------------------------------------

struct Res {
    d1: String,
    i1: String,
    n1: String,
    d2: String,
    i2: String,
    n2: String,
    dv: String,
}

fn with_resources(g: &Graph) -> Res {
    let add = |kind: &str, id: &str, owner: &str| {
        g.add_resource("acme/web", kind, id, Some(owner), None)
            .unwrap()
    };
    Res {
        d1: add("dashboard", "1", PMEMBER),
        i1: add("insight", "1", PMEMBER),
        n1: add("notebook", "1", PMEMBER),
        d2: add("dashboard", "2", PMEMBER2),
        i2: add("insight", "2", PMEMBER2),
        n2: add("notebook", "2", PMEMBER2),
        dv: add("dashboard", "3", VIEWER),
    }
}

#[test]
fn members_edit_their_own_insights_dashboards_and_notebooks() {
    let g = fixture();
    let r = with_resources(&g);
    let own = [
        ("insight:edit", &r.i1, &r.i2),
        ("insight:delete", &r.i1, &r.i2),
        ("dashboard:edit", &r.d1, &r.d2),
        ("dashboard:delete", &r.d1, &r.d2),
        ("notebook:edit", &r.n1, &r.n2),
    ];
    for (action, mine, theirs) in own {
        assert!(check(&g, PMEMBER, action, mine), "{action} on own {mine}");
        assert_eq!(source(&g, PMEMBER, action, mine), Some(Source::Creator));
        assert!(
            !check(&g, PMEMBER, action, theirs),
            "{action} on someone else's {theirs}"
        );
        assert!(check(&g, PMEMBER2, action, theirs));
        // On the project target, admin is needed.
        assert!(
            !check(&g, PMEMBER, action, "acme/web"),
            "{action} on the project"
        );
        // Admins edit anyone's.
        assert!(check(&g, PADMIN, action, mine));
        assert!(check(&g, PADMIN, action, theirs));
        assert_eq!(
            source(&g, PADMIN, action, theirs),
            Some(Source::ExplicitMember)
        );
        assert!(check(&g, OWNER, action, theirs));
        assert_eq!(
            source(&g, OWNER, action, theirs),
            Some(Source::OrganizationAdmin)
        );
        // Others with lower roles do not.
        assert!(!check(&g, VIEWER, action, theirs));
        assert!(!check(&g, MEMBER, action, theirs));
        assert!(!check(&g, OUTSIDER, action, theirs));
    }
    assert_eq!(OWNER_ACTIONS.len(), own.len());
}

#[test]
fn ownership_needs_the_owner_role_and_the_matching_kind() {
    let g = fixture();
    let r = with_resources(&g);
    // A viewer owning a dashboard cannot edit it (member is needed on one's own).
    assert!(!check(&g, VIEWER, "dashboard:edit", &r.dv));
    assert!(!check(&g, VIEWER, "dashboard:delete", &r.dv));
    assert!(check(&g, VIEWER, "dashboard:view", &r.dv));
    // The ownership rule applies only when the action's resource part is the kind.
    assert!(!check(&g, PMEMBER, "insight:edit", &r.d1));
    assert!(!check(&g, PMEMBER, "dashboard:edit", &r.i1));
    assert!(!check(&g, PMEMBER, "notebook:edit", &r.d1));
    // Actions without an owner role are unaffected by ownership.
    assert!(!check(&g, PMEMBER, "feature_flag:manage", &r.d1));
    // Ownership grants nothing without membership.
    g.remove_member(PMEMBER, "acme", None).unwrap();
    assert!(!check(&g, PMEMBER, "dashboard:edit", &r.d1));
    assert!(!check(&g, PMEMBER, "dashboard:view", &r.d1));
    // Or with an org membership but no project role.
    g.add_member(PMEMBER, "acme", nm("member"), None).unwrap();
    assert!(!check(&g, PMEMBER, "dashboard:edit", &r.d1));
    // The default role of the project counts towards the owner role.
    g.update_project(
        "acme/web",
        ProjectPatch {
            default_role: Some(Some("member".to_owned())),
            ..ProjectPatch::default()
        },
        None,
    )
    .unwrap();
    assert!(check(&g, PMEMBER, "dashboard:edit", &r.d1));
    assert!(!check(&g, PMEMBER, "dashboard:edit", &r.d2));
}

#[test]
fn project_actions_on_resources_are_decided_on_their_project() {
    let g = fixture();
    let r = with_resources(&g);
    for (action, min) in PROJECT_ACTIONS {
        if OWNER_ACTIONS.contains(action) {
            continue;
        }
        for (user, role) in [
            (MEMBER, None),
            (VIEWER, Some(ProjectRole::Viewer)),
            (PMEMBER, Some(ProjectRole::Member)),
            (PADMIN, Some(ProjectRole::Admin)),
        ] {
            assert_eq!(
                check(&g, user, action, &r.d2),
                role >= Some(*min),
                "{user} {action} on {}",
                r.d2
            );
        }
    }
    // role() on a resource is the role on its project.
    assert_eq!(prole(&g, VIEWER, &r.d1, None), Some(ProjectRole::Viewer));
    assert_eq!(prole(&g, OWNER, &r.d1, None), Some(ProjectRole::Admin));
    assert_eq!(prole(&g, MEMBER, &r.d1, None), None);
}

#[test]
fn org_actions_on_project_and_resource_targets_are_decided_on_the_org() {
    let g = fixture();
    let r = with_resources(&g);
    for target in ["acme/web", "acme/prod", r.d1.as_str()] {
        assert!(check(&g, ADMIN, "org:manage_settings", target));
        assert!(
            !check(&g, PADMIN, "org:manage_settings", target),
            "project admin is not org admin"
        );
        assert!(check(&g, MEMBER, "org:view", target));
        assert!(!check(&g, OUTSIDER, "org:view", target));
        assert!(check(&g, OWNER, "billing:manage", target));
        assert!(!check(&g, ADMIN, "billing:manage", target));
    }
    assert_eq!(
        source(&g, MEMBER, "org:view", "acme/web"),
        Some(Source::OrganizationMember)
    );
    assert_eq!(
        g.explain(ADMIN, "org:view", &r.d1, None).unwrap().role,
        Some(Role::Org(OrgRole::Admin))
    );
    // Unknown project or resource targets: false.
    assert!(!check(&g, OWNER, "org:view", "acme/nope"));
    assert!(!check(&g, OWNER, "org:view", "acme/web/dashboard/nope"));
    assert!(!check(&g, OWNER, "org:view", "nope"));
}

// ----------------------------------------------------------------------------------
// Scope errors, unknown actions, users and targets
// ----------------------------------------------------------------------------------

#[test]
fn project_actions_on_org_targets_are_validation_errors() {
    let g = fixture();
    for (action, _) in PROJECT_ACTIONS {
        for user in [OWNER, MEMBER, STRANGER] {
            // A known org, or an unknown one shaped like an org.
            for target in ["acme", "nope"] {
                let v = invalid(g.check(user, action, target, None));
                assert!(!matches!(v, ValidationError::UnknownAction(_)), "{v:?}");
                invalid(g.explain(user, action, target, None));
            }
        }
        invalid(g.who_can(action, "acme", None));
        invalid(g.check_many([(OWNER, *action, "acme")], None));
    }
    // permissions() on an org target leaves project actions out.
    let perms = g.permissions(OWNER, "acme", None).unwrap();
    assert!(
        perms
            .iter()
            .all(|a| ORG_ACTIONS.iter().any(|o| o.0 == a.as_str())),
        "{perms:?}"
    );
}

#[test]
fn unknown_actions_are_loud() {
    let g = fixture();
    for name in [
        "insight:frobnicate",
        "Project:View",
        "project:view ",
        "",
        "view",
    ] {
        unknown_action(g.check(OWNER, name, "acme/web", None), name);
        unknown_action(g.check(STRANGER, name, "nope/nope", None), name);
        unknown_action(g.check(OWNER, name, "acme", None), name);
        unknown_action(g.explain(OWNER, name, "acme/web", None), name);
        unknown_action(g.who_can(name, "acme/web", None), name);
        unknown_action(g.accessible(OWNER, name, None, None), name);
        unknown_action(
            g.check_many(
                [
                    (OWNER, "project:view", "acme/web"),
                    (OWNER, name, "acme/web"),
                ],
                None,
            ),
            name,
        );
    }
}

#[test]
fn unknown_users_and_targets_are_simply_denied() {
    let g = fixture();
    let r = with_resources(&g);
    assert!(!check(&g, STRANGER, "project:view", "acme/web"));
    assert!(!check(&g, STRANGER, "org:view", "acme"));
    assert!(!check(&g, "not an email", "project:view", "acme/web"));
    assert!(!check(&g, "", "org:view", "acme"));
    for target in [
        "acme/nope",
        "nope/web",
        "acme/web/dashboard/nope",
        "acme/web/chart/1",
        "acme/*",
        "acme/web/",
        "/",
    ] {
        assert!(!check(&g, OWNER, "project:view", target), "{target}");
        assert!(!check(&g, OWNER, "org:view", target), "{target}");
        assert_eq!(g.role(OWNER, target, None).unwrap(), None, "{target}");
        assert!(
            g.permissions(OWNER, target, None).unwrap().is_empty(),
            "{target}"
        );
        assert!(
            g.who_can("project:view", target, None).unwrap().is_empty(),
            "{target}"
        );
    }
    let d = g
        .explain(STRANGER, "project:view", "acme/web", None)
        .unwrap();
    assert!(!d.allowed);
    assert_eq!((d.role, d.source), (None, None));
    assert!(d.reason.contains(STRANGER), "{}", d.reason);
    assert_eq!(g.role(STRANGER, "acme", None).unwrap(), None);
    assert!(g.permissions(STRANGER, &r.d1, None).unwrap().is_empty());
    assert!(g
        .accessible(STRANGER, "project:view", None, None)
        .unwrap()
        .is_empty());
    assert!(g
        .accessible(OWNER, "project:view", Some("nope"), None)
        .unwrap()
        .is_empty());
}

#[test]
fn emails_are_case_insensitive() {
    let g = fixture();
    g.add_member("Carol.Jones@Example.COM", "acme", nm("member"), None)
        .unwrap();
    g.grant(
        "CAROL.JONES@example.com",
        "acme/web",
        "member",
        None,
        None,
        None,
    )
    .unwrap();
    assert!(g
        .members("acme")
        .unwrap()
        .iter()
        .any(|m| m.user == "carol.jones@example.com"));
    assert!(g
        .members("acme")
        .unwrap()
        .iter()
        .all(|m| m.user == m.user.to_lowercase()));
    for spelling in [
        "carol.jones@example.com",
        "Carol.Jones@Example.COM",
        "CAROL.JONES@EXAMPLE.COM",
    ] {
        assert!(
            check(&g, spelling, "insight:create", "acme/web"),
            "{spelling}"
        );
        assert_eq!(
            prole(&g, spelling, "acme/web", None),
            Some(ProjectRole::Member)
        );
        assert_eq!(
            g.explain(spelling, "project:view", "acme/web", None)
                .unwrap()
                .user,
            "carol.jones@example.com"
        );
        assert!(!g
            .permissions(spelling, "acme/web", None)
            .unwrap()
            .is_empty());
        assert_eq!(
            g.accessible(spelling, "project:view", None, None).unwrap(),
            vec!["acme/sandbox", "acme/web"]
        );
    }
    assert!(check(&g, "Owner@ACME.io", "org:delete", "acme"));
    assert!(g
        .who_can("insight:create", "acme/web", None)
        .unwrap()
        .contains(&"carol.jones@example.com".to_owned()));
    assert!(matches!(
        g.add_member("carol.jones@EXAMPLE.com", "acme", nm("member"), None),
        Err(Error::Conflict(ConflictError::Exists(_)))
    ));
    assert_eq!(
        g.user("CAROL.jones@example.com").unwrap().email,
        "carol.jones@example.com"
    );
}

// ----------------------------------------------------------------------------------
// Custom actions (SPEC 2.2)
// ----------------------------------------------------------------------------------

#[test]
fn custom_project_actions() {
    let g = fixture();
    g.define_action("notebook:share", "project", "member", None, None)
        .unwrap();
    assert!(check(&g, PMEMBER, "notebook:share", "acme/web"));
    assert!(!check(&g, VIEWER, "notebook:share", "acme/web"));
    assert!(check(&g, WIDE, "notebook:share", "acme/web"));
    assert!(!check(&g, WIDE, "notebook:share", "acme/prod"));
    assert!(check(&g, ADMIN, "notebook:share", "acme/prod"));
    assert!(g
        .permissions(PMEMBER, "acme/web", None)
        .unwrap()
        .contains(&"notebook:share".to_owned()));
    assert!(!g
        .permissions(VIEWER, "acme/web", None)
        .unwrap()
        .contains(&"notebook:share".to_owned()));
    assert!(!g
        .permissions(PMEMBER, "acme", None)
        .unwrap()
        .contains(&"notebook:share".to_owned()));
    assert_eq!(
        g.who_can("notebook:share", "acme/web", None).unwrap(),
        vec![ADMIN, OWNER, PADMIN, PMEMBER2, PMEMBER, WIDE]
    );
    invalid(g.check(PMEMBER, "notebook:share", "acme", None));
    // Defaults: scope project, min_role member.
    g.define_action("survey:view", "project", "viewer", None, None)
        .unwrap();
    assert!(check(&g, MEMBER, "survey:view", "acme/sandbox"));
    assert!(!check(&g, MEMBER, "survey:view", "acme/web"));
}

#[test]
fn custom_actions_with_an_owner_role() {
    let g = fixture();
    let r = with_resources(&g);
    g.define_action("dashboard:share", "project", "admin", Some("member"), None)
        .unwrap();
    assert!(check(&g, PMEMBER, "dashboard:share", &r.d1));
    assert_eq!(
        source(&g, PMEMBER, "dashboard:share", &r.d1),
        Some(Source::Creator)
    );
    assert!(!check(&g, PMEMBER, "dashboard:share", &r.d2));
    assert!(!check(&g, PMEMBER, "dashboard:share", "acme/web"));
    assert!(
        !check(&g, PMEMBER, "dashboard:share", &r.i1),
        "kind must match"
    );
    assert!(
        !check(&g, VIEWER, "dashboard:share", &r.dv),
        "viewer is below the owner role"
    );
    assert!(check(&g, PADMIN, "dashboard:share", &r.d2));
    // owner_role viewer: a viewer who owns a dashboard may.
    g.define_action("dashboard:pin", "project", "member", Some("viewer"), None)
        .unwrap();
    assert!(check(&g, VIEWER, "dashboard:pin", &r.dv));
    assert!(!check(&g, VIEWER, "dashboard:pin", &r.d1));
}

#[test]
fn custom_org_actions() {
    let g = fixture();
    g.define_action("billing:view", "org", "admin", None, None)
        .unwrap();
    assert!(check(&g, ADMIN, "billing:view", "acme"));
    assert!(check(&g, OWNER, "billing:view", "acme/web"));
    assert!(!check(&g, MEMBER, "billing:view", "acme"));
    assert!(!check(&g, PADMIN, "billing:view", "acme/web"));
    assert!(g
        .permissions(ADMIN, "acme", None)
        .unwrap()
        .contains(&"billing:view".to_owned()));
    assert_eq!(
        g.who_can("billing:view", "acme", None).unwrap(),
        vec![ADMIN, OWNER]
    );
}

#[test]
fn custom_action_definitions_are_validated() {
    let g = fixture();
    g.define_action("notebook:share", "project", "member", None, None)
        .unwrap();
    assert!(matches!(
        g.define_action("notebook:share", "project", "admin", None, None),
        Err(Error::Conflict(ConflictError::Exists(_)))
    ));
    assert!(matches!(
        g.define_action("insight:view", "project", "viewer", None, None),
        Err(Error::Conflict(_))
    ));
    for (name, scope, min, owner) in [
        ("Notebook:share", "project", "member", None),
        ("notebook", "project", "member", None),
        ("notebook:", "project", "member", None),
        ("a:b:c", "project", "member", None),
        ("x:y", "team", "member", None),
        ("x:y", "org", "viewer", None),
        ("x:y", "project", "owner", None),
        ("x:y", "project", "member", Some("admin")),
        ("x:y", "org", "admin", Some("member")),
    ] {
        invalid(g.define_action(name, scope, min, owner, None));
    }
    unknown_action(g.check(OWNER, "x:y", "acme/web", None), "x:y");
}

// ----------------------------------------------------------------------------------
// Reverse lookups and explanations
// ----------------------------------------------------------------------------------

#[test]
fn who_can_is_sorted_and_agrees_with_check() {
    let g = fixture();
    let r = with_resources(&g);
    assert_eq!(
        g.who_can("project:view", "acme/web", None).unwrap(),
        // `pmember2@` sorts before `pmember@` (`2` < `@`)
        vec![ADMIN, OWNER, PADMIN, PMEMBER2, PMEMBER, VIEWER, WIDE]
    );
    assert_eq!(
        g.who_can("project:view", "acme/prod", None).unwrap(),
        vec![ADMIN, OWNER]
    );
    assert_eq!(
        g.who_can("org:view", "acme", None).unwrap(),
        vec![ADMIN, MEMBER, OWNER, PADMIN, PMEMBER2, PMEMBER, VIEWER, WIDE]
    );
    assert_eq!(
        g.who_can("dashboard:edit", &r.d1, None).unwrap(),
        vec![ADMIN, OWNER, PADMIN, PMEMBER]
    );
    let targets = [
        "acme",
        "acme/web",
        "acme/prod",
        "acme/sandbox",
        r.d1.as_str(),
        r.i2.as_str(),
    ];
    for target in targets {
        for action in all_builtin_actions() {
            let Ok(users) = g.who_can(action, target, None) else {
                assert!(!target.contains('/'), "{action} {target}");
                continue;
            };
            let mut sorted = users.clone();
            sorted.sort();
            assert_eq!(users, sorted, "{action} {target}");
            let expected: Vec<String> = {
                let mut v: Vec<String> = EVERYONE
                    .iter()
                    .filter(|u| check(&g, u, action, target))
                    .map(|u| (*u).to_owned())
                    .collect();
                v.sort();
                v
            };
            assert_eq!(users, expected, "{action} {target}");
        }
    }
}

#[test]
fn permissions_agree_with_check_for_every_action() {
    let g = fixture();
    let r = with_resources(&g);
    g.define_action("notebook:share", "project", "member", None, None)
        .unwrap();
    g.define_action("dashboard:share", "project", "admin", Some("member"), None)
        .unwrap();
    g.define_action("billing:view", "org", "admin", None, None)
        .unwrap();
    let mut actions = all_builtin_actions();
    actions.extend(["notebook:share", "dashboard:share", "billing:view"]);
    let targets = [
        "acme",
        "other",
        "acme/web",
        "acme/prod",
        "acme/sandbox",
        "other/web",
        r.d1.as_str(),
        r.i1.as_str(),
        r.dv.as_str(),
        "acme/nope",
    ];
    for user in EVERYONE {
        for target in targets {
            let perms = g.permissions(user, target, None).unwrap();
            let set: BTreeSet<&str> = perms.iter().map(String::as_str).collect();
            assert_eq!(set.len(), perms.len(), "no duplicates");
            let mut expected = BTreeSet::new();
            let mut queries = Vec::new();
            for action in &actions {
                match g.check(user, action, target, None) {
                    Ok(true) => {
                        expected.insert(*action);
                    }
                    Ok(false) => {}
                    Err(Error::Validation(_)) => {
                        assert!(!target.contains('/'), "{action} on {target}");
                        continue;
                    }
                    Err(e) => panic!("{e:?}"),
                }
                queries.push((*user, *action, target));
            }
            assert_eq!(set, expected, "{user} on {target}");
            // check_many answers the same, in order.
            let many = g.check_many(queries.iter().copied(), None).unwrap();
            let one: Vec<bool> = queries.iter().map(|(u, a, t)| check(&g, u, a, t)).collect();
            assert_eq!(many, one);
            // explain agrees too.
            for (u, a, t) in &queries {
                assert_eq!(
                    g.explain(u, a, t, None).unwrap().allowed,
                    expected.contains(a),
                    "{u} {a} {t}"
                );
            }
        }
    }
}

#[test]
fn accessible_lists_sorted_project_ids() {
    let g = fixture();
    g.add_project("acme/alpha", NewProject::default(), None)
        .unwrap();
    assert_eq!(
        g.accessible(OWNER, "project:view", None, None).unwrap(),
        vec!["acme/alpha", "acme/prod", "acme/sandbox", "acme/web"]
    );
    assert_eq!(
        g.accessible(WIDE, "project:view", Some("acme"), None)
            .unwrap(),
        vec!["acme/alpha", "acme/sandbox", "acme/web"]
    );
    assert_eq!(
        g.accessible(MEMBER, "project:view", None, None).unwrap(),
        vec!["acme/sandbox"]
    );
    assert_eq!(
        g.accessible(PMEMBER, "insight:create", None, None).unwrap(),
        vec!["acme/web"]
    );
    assert_eq!(
        g.accessible(OUTSIDER, "project:view", None, None).unwrap(),
        vec!["other/web"]
    );
    assert!(g
        .accessible(OUTSIDER, "project:view", Some("acme"), None)
        .unwrap()
        .is_empty());
}

#[test]
fn role_reports_org_roles_on_orgs_and_project_roles_elsewhere() {
    let g = fixture();
    assert_eq!(
        g.role(OWNER, "acme", None).unwrap(),
        Some(Role::Org(OrgRole::Owner))
    );
    assert_eq!(
        g.role(ADMIN, "acme", None).unwrap(),
        Some(Role::Org(OrgRole::Admin))
    );
    assert_eq!(
        g.role(PADMIN, "acme", None).unwrap(),
        Some(Role::Org(OrgRole::Member))
    );
    assert_eq!(g.role(OUTSIDER, "acme", None).unwrap(), None);
    assert_eq!(
        g.role(PADMIN, "acme/web", None).unwrap(),
        Some(Role::Project(ProjectRole::Admin))
    );
    assert_eq!(
        g.role("Owner@Acme.io", "acme/prod", None).unwrap(),
        Some(Role::Project(ProjectRole::Admin))
    );
}

/// (user, action, target, allowed, role, source)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a str,
    bool,
    Option<Role>,
    Option<Source>,
);

#[test]
#[expect(clippy::too_many_lines, reason = "a table of cases spelled out")]
fn decision_sources_use_posthog_vocabulary() {
    let g = fixture();
    let r = with_resources(&g);
    let cases: [Case<'_>; 10] = [
        (
            OWNER,
            "project:view",
            "acme/prod",
            true,
            Some(Role::Project(ProjectRole::Admin)),
            Some(Source::OrganizationAdmin),
        ),
        (
            PADMIN,
            "feature_flag:manage",
            "acme/web",
            true,
            Some(Role::Project(ProjectRole::Admin)),
            Some(Source::ExplicitMember),
        ),
        (
            WIDE,
            "insight:create",
            "acme/web",
            true,
            Some(Role::Project(ProjectRole::Member)),
            Some(Source::OrgWideGrant),
        ),
        (
            MEMBER,
            "insight:view",
            "acme/sandbox",
            true,
            Some(Role::Project(ProjectRole::Viewer)),
            Some(Source::Default),
        ),
        (
            PMEMBER,
            "dashboard:delete",
            &r.d1,
            true,
            Some(Role::Project(ProjectRole::Member)),
            Some(Source::Creator),
        ),
        (
            MEMBER,
            "org:view",
            "acme",
            true,
            Some(Role::Org(OrgRole::Member)),
            Some(Source::OrganizationMember),
        ),
        (
            ADMIN,
            "org:delete",
            "acme",
            false,
            Some(Role::Org(OrgRole::Admin)),
            Some(Source::OrganizationAdmin),
        ),
        (
            VIEWER,
            "insight:create",
            "acme/web",
            false,
            Some(Role::Project(ProjectRole::Viewer)),
            Some(Source::ExplicitMember),
        ),
        (MEMBER, "project:view", "acme/web", false, None, None),
        (OUTSIDER, "project:view", "acme/web", false, None, None),
    ];
    for (user, action, target, allowed, role, src) in cases {
        let d = g.explain(user, action, target, None).unwrap();
        assert_eq!(
            (d.allowed, d.role, d.source),
            (allowed, role, src),
            "{user} {action} {target}: {}",
            d.reason
        );
        assert_eq!(d.allowed, check(&g, user, action, target));
        assert_eq!(
            (d.user.as_str(), d.action.as_str(), d.target.as_str()),
            (user, action, target)
        );
    }
    let names: Vec<&str> = [
        Source::OrganizationAdmin,
        Source::OrganizationMember,
        Source::ExplicitMember,
        Source::OrgWideGrant,
        Source::Default,
        Source::Creator,
        Source::ApiKeyScope,
    ]
    .into_iter()
    .map(Source::as_str)
    .collect();
    assert_eq!(
        names,
        vec![
            "organization_admin",
            "organization_member",
            "explicit_member",
            "org_wide_grant",
            "default",
            "creator",
            "api_key_scope"
        ]
    );
}

#[test]
fn explain_reasons_name_the_user_role_and_source() {
    let g = fixture();
    let r = with_resources(&g);
    // (user, action, target, words the sentence must contain)
    let cases: [(&str, &str, &str, &[&str]); 9] = [
        (OWNER, "project:view", "acme/prod", &["admin", "org"]),
        (
            PADMIN,
            "feature_flag:manage",
            "acme/web",
            &["admin", "grant"],
        ),
        (
            WIDE,
            "insight:create",
            "acme/web",
            &["member", "all projects"],
        ),
        (
            MEMBER,
            "insight:view",
            "acme/sandbox",
            &["viewer", "default"],
        ),
        (PMEMBER, "dashboard:edit", &r.d1, &["member", "own"]),
        (
            MEMBER,
            "org:manage_settings",
            "acme",
            &["member", "acme", "admin"],
        ),
        (
            VIEWER,
            "insight:create",
            "acme/web",
            &["viewer", "grant", "member"],
        ),
        (MEMBER, "project:view", "acme/prod", &["acme/prod"]),
        (OUTSIDER, "project:view", "acme/web", &["acme"]),
    ];
    for (user, action, target, words) in cases {
        let d = g.explain(user, action, target, None).unwrap();
        let reason = d.reason.to_lowercase();
        assert!(reason.contains(user), "{reason:?} should name {user}");
        assert!(reason.contains(action), "{reason:?} should name {action}");
        for w in words {
            assert!(reason.contains(w), "{reason:?} should mention {w:?}");
        }
    }
    // The user is named in lower case whatever spelling was asked.
    let d = g
        .explain("PAdmin@ACME.io", "project:view", "acme/web", None)
        .unwrap();
    assert!(d.reason.contains(PADMIN), "{}", d.reason);
    // An expired membership is explained as such.
    g.add_member(
        "gone@acme.io",
        "acme",
        NewMember {
            expires: Some(t("2024-04-01")),
            ..NewMember::default()
        },
        None,
    )
    .unwrap();
    let d = g.explain("gone@acme.io", "org:view", "acme", None).unwrap();
    assert!(!d.allowed);
    assert!(
        d.reason.contains("gone@acme.io") && d.reason.contains("expired"),
        "{}",
        d.reason
    );
}

// Access diffs (eval::diff): gained, lost and changed roles between two graphs.
fn diff_base() -> accessgraph::Result<Graph> {
    let g = Graph::new();
    g.add_org("acme", None, "o@x.io", None)?;
    for p in ["acme/a", "acme/b"] {
        g.add_project(p, NewProject::default(), None)?;
    }
    for u in ["m@x.io", "n@x.io"] {
        g.add_member(u, "acme", NewMember::default(), None)?;
    }
    g.grant("m@x.io", "acme/a", "viewer", None, None, None)?;
    g.grant("n@x.io", "acme/b", "member", None, None, None)?;
    Ok(g)
}

type DiffRow = (
    String,
    String,
    Option<&'static str>,
    Option<&'static str>,
    accessgraph::eval::diff::ChangeKind,
);

#[test]
fn gained_lost_and_changed() -> accessgraph::Result<()> {
    use accessgraph::eval::diff::ChangeKind::{Changed, Gained, Lost};
    let before = diff_base()?;
    let after = diff_base()?;
    after.grant("m@x.io", "acme/a", "admin", None, None, None)?; // changed
    after.grant("m@x.io", "acme/b", "viewer", None, None, None)?; // gained
    after.revoke("n@x.io", "acme/b", None)?; // lost
    after.add_member("p@x.io", "acme", NewMember::default(), None)?; // joins: an org row
    let rows = |a: &Graph, b: &Graph| -> Vec<DiffRow> {
        a.diff(b)
            .into_iter()
            .map(|c| {
                let name = |r: Option<Role>| r.map(Role::as_str);
                (c.user, c.project, name(c.before), name(c.after), c.kind)
            })
            .collect()
    };
    let s = |x: &str| x.to_owned();
    assert_eq!(
        rows(&before, &after),
        vec![
            (
                s("m@x.io"),
                s("acme/a"),
                Some("viewer"),
                Some("admin"),
                Changed
            ),
            (s("m@x.io"), s("acme/b"), None, Some("viewer"), Gained),
            (s("n@x.io"), s("acme/b"), Some("member"), None, Lost),
            (s("p@x.io"), s("acme"), None, Some("member"), Gained),
        ]
    );
    // An org-role change that changes no project role (an admin is admin on every
    // project already) is a row of its own, the org's.
    let promoted = diff_base()?;
    promoted.set_org_role("n@x.io", "acme", "admin", None)?;
    let owner = diff_base()?;
    owner.set_org_role("n@x.io", "acme", "admin", None)?;
    owner.set_org_role("n@x.io", "acme", "owner", None)?;
    assert_eq!(
        rows(&promoted, &owner),
        vec![(
            s("n@x.io"),
            s("acme"),
            Some("admin"),
            Some("owner"),
            Changed
        )]
    );
    assert!(before.diff(&before).is_empty());
    assert!(after.diff(&after).is_empty());
    Ok(())
}
