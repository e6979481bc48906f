//! The Markdown registry (SPEC 5.1, SPEC 9 "Registry" and "Further decisions"): the seed
//! document verbatim, a richer document, byte-identical round trips, every error with its
//! line and column, and atomicity.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test stops at the first surprise, loudly"
)]

use accessgraph::error::RegistryError;
use accessgraph::graph::{MemberPatch, NewMember, NewProject};
use accessgraph::registry::json;
use accessgraph::registry::markdown::{
    self, parse, GrantScope, Registry, RegistryGrant, RegistryPerson, RegistryProject, Section,
};
use accessgraph::roles::{OrgRole, ProjectRole};
use accessgraph::{Graph, Instant};

mod common;
use common::at;

const SEED: &str = "# PostHog Access Registry
## Owners
- jane@example.com (CTO)
- john@example.com (VP Engineering)
## Admins
- alice@example.com (Engineering Manager)
- bob@example.com (Product Lead)
## Members
- charlie@example.com (Senior Engineer)
- diana@example.com (Product Manager)
- evan@example.com (Data Analyst)
## Viewers
- ceo@example.com (CEO)
- cmo@example.com (CMO)
## External Access
- consultant@agency.com (Marketing Consultant, expires 2024-06-01)
";

const RICH: &str = "# Acme Corp Access Registry

Maintained by the platform team. Edit through a pull request.

## Projects
- Production (env production, restricted, pii)
- Staging (slug stage, env staging, default viewer)
- Web App (default member)
- Ops: EU (slug ops-eu)

## owners
- root@acme.io (Founder, CEO, reviewed 2024-03-01, reason founded the company, obviously)

## Admins
- ada@acme.io (Head of Platform, external, reason on loan, from Initech)
  - Production: admin

## Members
Engineers get staging by default.

- dev@acme.io (Engineer)
  - production: member (expires 2024-09-01T12:00Z, reason on-call, Q3 (rotation))
  - Web App: admin
  - All projects: viewer (reason baseline)
- intern@acme.io (expires 2024-08-31T17:30:00+02:00, reviewed 2024-05-02T09:00:00Z)
  - Ops: EU: viewer

## Viewers
- board@acme.io
- auditor@acme.io (Auditor)
  - stage: viewer (expires 2024-07-01)

## External Access
- contractor@agency.io (Designer, expires 2024-04-30, reason redesign)
  - *: viewer
  - Production: member (expires 2024-04-15)
- guest@agency.io
";

fn person<'r>(reg: &'r Registry, email: &str) -> &'r RegistryPerson {
    reg.people.iter().find(|p| p.email == email).unwrap()
}

fn err(text: &str) -> RegistryError {
    match parse(text, None) {
        Ok(r) => panic!("expected an error, parsed {r:?}"),
        Err(e) => e,
    }
}

fn loaded(text: &str, org: &str) -> Graph {
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    markdown::import(&g, &parse(text, Some(org)).unwrap()).unwrap();
    g
}

// ---------------------------------------------------------------------------------------
// The seed document

#[test]
fn seed_parses_verbatim() {
    use OrgRole::{Admin, Member, Owner};
    let reg = parse(SEED, None).unwrap();
    assert_eq!(reg.org, "posthog");
    assert_eq!(reg.name, "PostHog");
    assert!(reg.projects.is_empty());
    let got: Vec<(&str, OrgRole, Section, Option<&str>)> = reg
        .people
        .iter()
        .map(|p| (p.email.as_str(), p.role, p.section, p.title.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("jane@example.com", Owner, Section::Owners, Some("CTO")),
            (
                "john@example.com",
                Owner,
                Section::Owners,
                Some("VP Engineering")
            ),
            (
                "alice@example.com",
                Admin,
                Section::Admins,
                Some("Engineering Manager")
            ),
            (
                "bob@example.com",
                Admin,
                Section::Admins,
                Some("Product Lead")
            ),
            (
                "charlie@example.com",
                Member,
                Section::Members,
                Some("Senior Engineer")
            ),
            (
                "diana@example.com",
                Member,
                Section::Members,
                Some("Product Manager")
            ),
            (
                "evan@example.com",
                Member,
                Section::Members,
                Some("Data Analyst")
            ),
            ("ceo@example.com", Member, Section::Viewers, Some("CEO")),
            ("cmo@example.com", Member, Section::Viewers, Some("CMO")),
            (
                "consultant@agency.com",
                Member,
                Section::External,
                Some("Marketing Consultant")
            ),
        ]
    );
    let c = person(&reg, "consultant@agency.com");
    assert_eq!(c.expires, Some(at("2024-06-01T00:00:00Z")));
    assert!(c.external);
    assert!(
        c.grants.is_empty(),
        "external access with none: no project access"
    );
    assert_eq!(
        person(&reg, "ceo@example.com").grants,
        vec![RegistryGrant {
            target: GrantScope::AllProjects,
            role: ProjectRole::Viewer,
            expires: None,
            reason: None,
            line: 13,
        }]
    );
    assert!(person(&reg, "charlie@example.com").grants.is_empty());
    assert!(reg
        .people
        .iter()
        .filter(|p| p.email != "consultant@agency.com")
        .all(|p| !p.external && p.expires.is_none()));
}

#[test]
fn seed_imports_and_consultant_expires_on_june_first() {
    let g = loaded(SEED, "acme");
    let orgs = g.orgs().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        (orgs[0].slug.as_str(), orgs[0].name.as_str()),
        ("acme", "PostHog")
    );
    let members = g.members("acme").unwrap();
    assert_eq!(members.len(), 10);
    let role = |u: &str| members.iter().find(|m| m.user == u).unwrap().role;
    assert_eq!(role("jane@example.com"), OrgRole::Owner);
    assert_eq!(role("john@example.com"), OrgRole::Owner);
    assert_eq!(role("bob@example.com"), OrgRole::Admin);
    assert_eq!(role("ceo@example.com"), OrgRole::Member);
    let jane = members
        .iter()
        .find(|m| m.user == "jane@example.com")
        .unwrap();
    assert_eq!(jane.title.as_deref(), Some("CTO"));
    let c = members
        .iter()
        .find(|m| m.user == "consultant@agency.com")
        .unwrap();
    assert!(c.external);
    assert_eq!(c.title.as_deref(), Some("Marketing Consultant"));
    assert_eq!(c.expires, Some(at("2024-06-01")));

    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    let before = Some(at("2024-05-31T23:59:59Z"));
    let after = Some(at("2024-06-01T00:00:00Z"));
    let consultant = "consultant@agency.com";
    assert!(g.check(consultant, "org:view", "acme", before).unwrap());
    assert!(!g.check(consultant, "org:view", "acme", after).unwrap());
    assert!(!g
        .check(consultant, "project:view", "acme/web", before)
        .unwrap());
    assert!(g
        .check("ceo@example.com", "dashboard:view", "acme/web", None)
        .unwrap());
    assert!(!g
        .check("ceo@example.com", "insight:create", "acme/web", None)
        .unwrap());
    assert!(!g
        .check("charlie@example.com", "project:view", "acme/web", None)
        .unwrap());
    assert!(g
        .check(
            "alice@example.com",
            "project:manage_members",
            "acme/web",
            None
        )
        .unwrap());
}

#[test]
fn seed_exports_verbatim() {
    let g = loaded(SEED, "acme");
    assert_eq!(markdown::export(&g, "acme").unwrap(), SEED);
}

// ---------------------------------------------------------------------------------------
// A richer document

#[test]
fn rich_document_parses() {
    let reg = parse(RICH, None).unwrap();
    assert_eq!(
        (reg.org.as_str(), reg.name.as_str()),
        ("acme-corp", "Acme Corp")
    );
    assert_eq!(
        reg.projects,
        vec![
            RegistryProject {
                slug: "production".into(),
                name: "Production".into(),
                environment: Some("production".into()),
                restricted: true,
                pii: true,
                default_role: None,
                line: 6,
            },
            RegistryProject {
                slug: "stage".into(),
                name: "Staging".into(),
                environment: Some("staging".into()),
                restricted: false,
                pii: false,
                default_role: Some(ProjectRole::Viewer),
                line: 7,
            },
            RegistryProject {
                slug: "web-app".into(),
                name: "Web App".into(),
                environment: None,
                restricted: false,
                pii: false,
                default_role: Some(ProjectRole::Member),
                line: 8,
            },
            RegistryProject {
                slug: "ops-eu".into(),
                name: "Ops: EU".into(),
                environment: None,
                restricted: false,
                pii: false,
                default_role: None,
                line: 9,
            },
        ]
    );
    let root = person(&reg, "root@acme.io");
    assert_eq!(root.title.as_deref(), Some("Founder, CEO"));
    assert_eq!(root.reviewed, Some("2024-03-01".parse().unwrap()));
    assert_eq!(
        root.reason.as_deref(),
        Some("founded the company, obviously")
    );

    let ada = person(&reg, "ada@acme.io");
    assert_eq!(ada.role, OrgRole::Admin);
    assert!(ada.external);
    assert_eq!(ada.reason.as_deref(), Some("on loan, from Initech"));
    assert_eq!(ada.grants.len(), 1);

    let dev = person(&reg, "dev@acme.io");
    let targets: Vec<_> = dev
        .grants
        .iter()
        .map(|g| (g.target.clone(), g.role))
        .collect();
    assert_eq!(
        targets,
        vec![
            (
                GrantScope::Project("production".into()),
                ProjectRole::Member
            ),
            (GrantScope::Project("web-app".into()), ProjectRole::Admin),
            (GrantScope::AllProjects, ProjectRole::Viewer),
        ]
    );
    assert_eq!(dev.grants[0].expires, Some(at("2024-09-01T12:00:00Z")));
    assert_eq!(
        dev.grants[0].reason.as_deref(),
        Some("on-call, Q3 (rotation)")
    );
    assert_eq!(dev.grants[2].reason.as_deref(), Some("baseline"));
    assert_eq!(dev.grants[0].line, 22);

    let intern = person(&reg, "intern@acme.io");
    assert_eq!(intern.title, None);
    assert_eq!(intern.expires, Some(at("2024-08-31T15:30:00Z")));
    assert_eq!(intern.reviewed, Some("2024-05-02".parse().unwrap()));
    assert_eq!(
        intern.grants[0].target,
        GrantScope::Project("ops-eu".into())
    );

    assert_eq!(
        person(&reg, "board@acme.io").grants[0].target,
        GrantScope::AllProjects
    );
    let auditor = person(&reg, "auditor@acme.io");
    assert_eq!(
        auditor.grants.len(),
        1,
        "nested grants replace the implied org/* viewer"
    );
    assert_eq!(
        auditor.grants[0].target,
        GrantScope::Project("stage".into())
    );

    let c = person(&reg, "contractor@agency.io");
    assert!(c.external);
    assert_eq!(c.grants[0].target, GrantScope::AllProjects);
    assert!(person(&reg, "guest@agency.io").grants.is_empty());
}

#[test]
fn rich_document_imports_with_expired_entries() {
    let g = Graph::new();
    let clock = at("2024-05-01");
    g.set_time(Some(clock));
    markdown::import(&g, &parse(RICH, Some("acme")).unwrap()).unwrap();
    assert_eq!(
        g.frozen_time(),
        Some(clock),
        "the caller's clock is restored"
    );

    let projects = g.projects(Some("acme")).unwrap();
    let ids: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "acme/ops-eu",
            "acme/production",
            "acme/stage",
            "acme/web-app"
        ]
    );
    let prod = &projects[1].attrs;
    assert!(prod.restricted && prod.pii);
    assert_eq!(prod.environment.as_deref(), Some("production"));

    // The contractor's membership expired on 2024-04-30: the grants are restored anyway.
    let grants = g.grants(Some("contractor@agency.io"), None).unwrap();
    let got: Vec<(&str, ProjectRole, Option<Instant>)> = grants
        .iter()
        .map(|g| (g.target.as_str(), g.role, g.expires))
        .collect();
    assert_eq!(
        got,
        vec![
            ("acme/*", ProjectRole::Viewer, None),
            (
                "acme/production",
                ProjectRole::Member,
                Some(at("2024-04-15"))
            ),
        ]
    );
    assert!(g
        .check(
            "contractor@agency.io",
            "project:view",
            "acme/stage",
            Some(at("2024-04-01"))
        )
        .unwrap());
    assert!(!g
        .check("contractor@agency.io", "project:view", "acme/stage", None)
        .unwrap());

    let root = g
        .members("acme")
        .unwrap()
        .into_iter()
        .find(|m| m.user == "root@acme.io")
        .unwrap();
    assert_eq!(root.role, OrgRole::Owner);
    assert_eq!(root.title.as_deref(), Some("Founder, CEO"));
    assert_eq!(
        root.reason.as_deref(),
        Some("founded the company, obviously")
    );

    // Restricted production: the org/* viewer grant does not reach it, the explicit one does.
    assert!(g
        .check("dev@acme.io", "insight:create", "acme/production", None)
        .unwrap());
    assert!(!g
        .check(
            "dev@acme.io",
            "insight:create",
            "acme/production",
            Some(at("2024-09-02"))
        )
        .unwrap());
    assert!(g
        .check(
            "dev@acme.io",
            "project:manage_settings",
            "acme/web-app",
            None
        )
        .unwrap());
    // Default roles.
    assert!(g
        .check("guest@agency.io", "project:view", "acme/stage", None)
        .unwrap());
    assert!(g
        .check("board@acme.io", "insight:create", "acme/web-app", None)
        .unwrap());
}

#[test]
fn import_restores_a_wall_clock() {
    let g = Graph::new();
    markdown::import(&g, &parse(RICH, Some("acme")).unwrap()).unwrap();
    assert_eq!(g.frozen_time(), None);
    assert_eq!(
        g.grants(Some("contractor@agency.io"), None).unwrap().len(),
        2
    );
}

#[test]
fn grants_create_projects_without_a_projects_section() {
    let doc = "# Beta Access Registry
## Owners
- o@beta.io
## Members
- m@beta.io
  - Mobile App: member
  - mobile-app: viewer (reason again, by slug)
";
    let e = parse(doc, None).unwrap_err();
    assert_eq!((e.line, e.column), (7, 5));
    assert!(e.message.contains("twice (first at line 6)"), "{e}");

    let doc = "# Beta Access Registry
## Owners
- o@beta.io
## Members
- m@beta.io
  - Mobile App: member
- n@beta.io
  - mobile-app: viewer
  - Data Warehouse!: admin
";
    let reg = parse(doc, None).unwrap();
    assert_eq!(reg.org, "beta");
    let names: Vec<(&str, &str)> = reg
        .projects
        .iter()
        .map(|p| (p.slug.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("mobile-app", "Mobile App"),
            ("data-warehouse", "Data Warehouse!")
        ]
    );
    let g = Graph::new();
    markdown::import(&g, &reg).unwrap();
    assert_eq!(g.projects(Some("beta")).unwrap().len(), 2);
    assert_eq!(g.grants(Some("n@beta.io"), None).unwrap().len(), 2);
}

#[test]
fn parse_accepts_markdown_variations() {
    let doc = "\u{feff}#   Zeta   Access Registry  #
Some prose.

```
## Not A Section
```
## OWNERS
* Jane@Zeta.io (CEO)
## external   ACCESS
+ x@y.io (EXTERNAL Consultant, Expires: 2024-06-01, REASON audit)
### notes
- not a person of External Access: `### notes` ended the section
";
    // A `###` heading ends the section, so the bullet after it is refused (it is not read
    // as a person of External Access); the error is at the heading.
    let e = err(doc);
    assert_eq!((e.line, e.column), (11, 1));
    assert!(
        e.message.contains("`### notes` is not a section heading"),
        "{e}"
    );
    let doc = doc.replace(
        "- not a person of External Access: `### notes` ended the section\n",
        "",
    );
    let reg = parse(&doc, None).unwrap();
    assert_eq!(reg.name, "Zeta");
    assert_eq!(reg.people[0].email, "jane@zeta.io");
    let x = &reg.people[1];
    assert_eq!(x.title.as_deref(), Some("EXTERNAL Consultant"));
    assert_eq!(x.reason.as_deref(), Some("audit"));
    assert_eq!(x.expires, Some(at("2024-06-01")));
}

// ---------------------------------------------------------------------------------------
// Round trips

fn round_trip(g: &Graph, org: &str) -> String {
    let first = markdown::export(g, org).unwrap();
    let g2 = Graph::new();
    g2.set_time(Some(at("2024-05-01")));
    markdown::import(&g2, &parse(&first, Some(org)).unwrap()).unwrap();
    let second = markdown::export(&g2, org).unwrap();
    assert_eq!(first, second);
    first
}

#[test]
fn rich_round_trip_is_byte_identical() {
    let g = loaded(RICH, "acme");
    let text = round_trip(&g, "acme");
    // Sections in SPEC order, people sorted by email inside each, grants by target; the
    // redundant `(slug ops-eu)` of the source is dropped (it is the slug of the name).
    let expected = "# Acme Corp Access Registry
## Projects
- Ops: EU
- Production (env production, restricted, pii)
- Staging (slug stage, env staging, default viewer)
- Web App (default member)
## Owners
- root@acme.io (Founder, CEO, reviewed 2024-03-01, reason founded the company, obviously)
## Admins
- ada@acme.io (Head of Platform, external, reason on loan, from Initech)
  - Production: admin
## Members
- auditor@acme.io (Auditor)
  - Staging: viewer (expires 2024-07-01)
- dev@acme.io (Engineer)
  - All projects: viewer (reason baseline)
  - Production: member (expires 2024-09-01T12:00:00Z, reason on-call, Q3 (rotation))
  - Web App: admin
- intern@acme.io (expires 2024-08-31T15:30:00Z, reviewed 2024-05-02)
  - Ops: EU: viewer
## Viewers
- board@acme.io
## External Access
- contractor@agency.io (Designer, expires 2024-04-30, reason redesign)
  - All projects: viewer
  - Production: member (expires 2024-04-15)
- guest@agency.io
";
    assert_eq!(text, expected);
}

#[test]
fn graph_built_through_the_api_round_trips() {
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    g.add_org("acme", Some("Acme, Inc."), "boss@acme.io", None)
        .unwrap();
    g.update_member(
        "boss@acme.io",
        "acme",
        MemberPatch {
            title: Some(Some("Chief (Everything)".into())),
            reviewed: Some(Some("2024-01-02".parse().unwrap())),
            ..MemberPatch::default()
        },
        None,
    )
    .unwrap();
    let project = |id: &str, name: &str, restricted: bool, default: Option<&str>| {
        let new = NewProject {
            name: Some(name.into()),
            environment: Some("prod (eu)".into()),
            restricted,
            pii: !restricted,
            default_role: default.map(Into::into),
            ..NewProject::default()
        };
        g.add_project(id, new, None).unwrap();
    };
    project("acme/prod", "Production", true, None);
    project("acme/all", "All projects", false, None); // cannot be named in a grant
    project("acme/twin-a", "Twin", false, Some("viewer"));
    project("acme/twin-b", "Twin", false, None); // ambiguous name: grants use slugs
    project("acme/legacy", "Web (legacy)", false, None);
    let add = |u: &str, role: &str, external: bool, expires: Option<&str>| {
        let new = NewMember {
            role: Some(role.into()),
            title: Some("Staff, EU".into()),
            expires: expires.map(at),
            reason: Some("hired (2023), team \"core\"".into()),
            external,
            ..NewMember::default()
        };
        g.add_member(u, "acme", new, None).unwrap();
    };
    add("co@acme.io", "owner", true, None);
    add("adm@acme.io", "admin", false, Some("2025-01-01T08:00:00Z"));
    add("mem@acme.io", "member", false, None);
    add("view@acme.io", "member", false, None);
    add("ext@x.io", "member", true, Some("2024-12-31"));
    add("bare@acme.io", "member", false, None);
    g.grant("view@acme.io", "acme/*", "viewer", None, None, None)
        .unwrap();
    g.grant(
        "mem@acme.io",
        "acme/*",
        "viewer",
        Some(at("2024-06-01T00:00:00.5Z")),
        None,
        None,
    )
    .unwrap();
    for t in [
        "acme/prod",
        "acme/all",
        "acme/twin-a",
        "acme/twin-b",
        "acme/legacy",
    ] {
        g.grant(
            "mem@acme.io",
            t,
            "member",
            None,
            Some("why, not".into()),
            None,
        )
        .unwrap();
    }
    g.grant("ext@x.io", "acme/prod", "admin", None, None, None)
        .unwrap();
    // Expire the external member now that they hold a grant.
    g.set_time(Some(at("2025-02-01")));

    let text = round_trip(&g, "acme");
    assert!(text.starts_with("# Acme, Inc. Access Registry\n## Projects\n- All projects (slug all, env prod (eu), pii)\n"), "{text}");
    assert!(
        text.contains("- Web (legacy) (slug legacy, env prod (eu), pii)\n"),
        "{text}"
    );
    assert!(
        text.contains("- Twin (slug twin-b, env prod (eu), pii)\n"),
        "{text}"
    );
    assert!(
        text.contains("- co@acme.io (Staff, EU, external, reason hired (2023), team \"core\")\n"),
        "{text}"
    );
    assert!(
        text.contains("- adm@acme.io (Staff, EU, expires 2025-01-01T08:00:00Z, reason"),
        "{text}"
    );
    assert!(
        text.contains("  - All projects: viewer (expires 2024-06-01T00:00:00.500Z)\n"),
        "{text}"
    );
    assert!(
        text.contains("  - all: member (reason why, not)\n"),
        "{text}"
    );
    assert!(
        text.contains("  - twin-a: member (reason why, not)\n  - twin-b: member"),
        "{text}"
    );
    assert!(text.contains("  - Web (legacy): member"), "{text}");
    assert!(
        text.contains("## Viewers\n- view@acme.io (Staff, EU, reason"),
        "{text}"
    );
    assert!(text.contains("## External Access\n- ext@x.io (Staff, EU, expires 2024-12-31, reason hired (2023), team \"core\")\n  - Production: admin\n"), "{text}");
    assert!(text.contains("## Members\n- bare@acme.io"), "{text}");

    // What the import reproduces, field by field.
    let g2 = Graph::new();
    markdown::import(&g2, &parse(&text, Some("acme")).unwrap()).unwrap();
    assert_eq!(g2.orgs().unwrap()[0].name, "Acme, Inc.");
    assert_eq!(
        g.projects(Some("acme")).unwrap(),
        g2.projects(Some("acme")).unwrap()
    );
    let strip = |g: &Graph| {
        g.members("acme")
            .unwrap()
            .into_iter()
            .map(|m| {
                (
                    m.user, m.role, m.expires, m.reason, m.reviewed, m.external, m.title,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&g), strip(&g2));
    let grants = |g: &Graph| {
        g.grants(None, None)
            .unwrap()
            .into_iter()
            .map(|x| (x.user, x.target, x.role, x.expires, x.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(grants(&g), grants(&g2));
}

#[test]
fn titles_the_grammar_cannot_carry_plainly_are_escaped_and_read_back() {
    let titles = [
        "Reason Lead",
        "Expires: never",
        "reviewed",
        "EXTERNAL",
        "Lead, reason: budget",
        "Ops, , Night",
        "Two\nlines",
        "Tab\there\r",
        "back\\slash\\",
        "  padded  ",
        "a\u{7}bell, (parens)",
        ",",
        "Founder, CEO",
    ];
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    g.add_org("acme", Some("Acme"), "o@acme.io", None).unwrap();
    for (i, title) in titles.iter().enumerate() {
        let new = NewMember {
            title: Some((*title).to_owned()),
            ..NewMember::default()
        };
        g.add_member(&format!("m{i}@acme.io"), "acme", new, None)
            .unwrap();
    }
    let text = round_trip(&g, "acme");
    let again = parse(&text, Some("acme")).unwrap();
    for (i, title) in titles.iter().enumerate() {
        assert_eq!(
            person(&again, &format!("m{i}@acme.io")).title.as_deref(),
            Some(*title),
            "{text}"
        );
    }
    // A title the grammar carries as it is is written as it is.
    assert!(text.contains("- m12@acme.io (Founder, CEO)\n"), "{text}");
    assert!(text.contains("- m0@acme.io (R\\eason Lead)\n"), "{text}");
    assert!(text.contains("- m6@acme.io (Two\\nlines)\n"), "{text}");
}

/// Free text whose every character the Markdown grammar could otherwise misread: spaces
/// at either end, a leading `:` (`reason: x` reads `x`), backslashes, parentheses,
/// commas, control characters, keywords, Markdown.
const AWKWARD: [&str; 24] = [
    ":",
    ": on-call",
    ":)",
    "::x",
    "  on-call  ",
    " ",
    "\\",
    "C:\\new\\",
    "\\u{41}",
    "x)",
    "(y",
    "a, b",
    "eu (west)",
    "`tick` | pipe",
    "reason: nested, expires 2024-01-01",
    "Ops: b (c)",
    ":reviewed(",
    "two\nlines",
    "tab\there\r",
    "bell\u{7}",
    "All projects",
    "*",
    "- ## Members",
    "\u{2028}edge\u{a0}",
];

#[test]
fn every_text_the_graph_accepts_round_trips() {
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    g.add_org("acme", Some("  Acme \\ Co: "), "o@acme.io", None)
        .unwrap();
    for (i, text) in AWKWARD.iter().enumerate() {
        let new = NewProject {
            name: Some((*text).to_owned()),
            environment: Some((*text).to_owned()),
            ..NewProject::default()
        };
        g.add_project(&format!("acme/p{i}"), new, None).unwrap();
        let new = NewMember {
            reason: Some((*text).to_owned()),
            ..NewMember::default()
        };
        let user = format!("m{i}@acme.io");
        g.add_member(&user, "acme", new, None).unwrap();
        let reason = Some((*text).to_owned());
        g.grant(
            &user,
            &format!("acme/p{i}"),
            "member",
            None,
            reason.clone(),
            None,
        )
        .unwrap();
        g.grant(&user, "acme/*", "viewer", None, reason, None)
            .unwrap();
    }
    let text = round_trip(&g, "acme");
    let g2 = Graph::new();
    markdown::import(&g2, &parse(&text, Some("acme")).unwrap()).unwrap();
    assert_eq!(g2.orgs().unwrap()[0].name, "  Acme \\ Co: ", "{text}");
    assert_eq!(
        g.projects(Some("acme")).unwrap(),
        g2.projects(Some("acme")).unwrap(),
        "{text}"
    );
    let members = |g: &Graph| {
        g.members("acme")
            .unwrap()
            .into_iter()
            .map(|m| (m.user, m.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(members(&g), members(&g2), "{text}");
    let grants = |g: &Graph| {
        g.grants(None, None)
            .unwrap()
            .into_iter()
            .map(|x| (x.user, x.target, x.role, x.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(grants(&g), grants(&g2), "{text}");
    // Text the grammar carries as it is is written as it is.
    assert!(
        text.contains("- eu (west) (slug p12, env eu (west))\n"),
        "{text}"
    );
    assert!(
        text.contains("  - `tick` | pipe: member (reason `tick` | pipe)\n"),
        "{text}"
    );
}

#[test]
fn export_refuses_only_text_it_cannot_write() {
    // A line break is escaped like any other character ...
    let g = Graph::new();
    g.add_org("acme", Some("Acme"), "o@acme.io", None).unwrap();
    g.update_member(
        "o@acme.io",
        "acme",
        MemberPatch {
            reason: Some(Some("two\nlines".into())),
            ..MemberPatch::default()
        },
        None,
    )
    .unwrap();
    assert!(round_trip(&g, "acme").contains("- o@acme.io (reason two\\nlines)\n"));
    assert!(markdown::export(&g, "nope").is_err());
    // ... but an empty name has no place in the title: export says so, rather than write a
    // document that does not read back.
    let g = Graph::new();
    g.add_org("acme", Some(""), "o@acme.io", None).unwrap();
    let e = markdown::export(&g, "acme").unwrap_err();
    assert!(e.to_string().contains("org name"), "{e}");
    // An empty title (a snapshot may hold one) likewise: written `()` it would read as no
    // title, and written `\` (as it was) it escaped the comma after it.
    let g = Graph::new();
    g.add_org("acme", Some("Acme"), "o@acme.io", None).unwrap();
    g.update_member(
        "o@acme.io",
        "acme",
        MemberPatch {
            title: Some(Some("T".into())),
            ..MemberPatch::default()
        },
        None,
    )
    .unwrap();
    let snapshot = json::to_json(&g).unwrap();
    let emptied = snapshot.replace("\"title\": \"T\"", "\"title\": \"\"");
    assert_ne!(emptied, snapshot);
    let g = json::from_json(&emptied).unwrap();
    let e = markdown::export(&g, "acme").unwrap_err();
    assert!(e.to_string().contains("title"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Errors, each with its line and column

const HEAD: &str = "# Acme Access Registry\n## Owners\n- o@acme.io\n";

fn err_in(body: &str) -> RegistryError {
    err(&format!("{HEAD}{body}"))
}

#[track_caller]
fn assert_err(e: &RegistryError, line: usize, column: usize, needle: &str) {
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(
        e.message.contains(needle),
        "`{}` lacks `{needle}`",
        e.message
    );
    assert!(e
        .to_string()
        .starts_with(&format!("line {line}, column {column}: ")));
}

#[test]
fn unknown_section() {
    assert_err(
        &err_in("## Contractors\n"),
        4,
        4,
        "unknown section `Contractors` (expected Projects, Owners, Admins, Members, Viewers or External Access)",
    );
}

/// Every line that renders as a heading but is not `## <Section>`: the people after it
/// must not stay in the section above it.
const OTHER_HEADINGS: [(&str, usize, usize, &str); 8] = [
    ("### Members\n", 4, 1, "`### Members`"),
    ("#### Viewers\n", 4, 1, "`#### Viewers`"),
    ("   ###### Admins ###\n", 4, 4, "`###### Admins ###`"),
    ("> ## Members\n", 4, 1, "`> ## Members`"),
    (
        "Members\n-------\n",
        4,
        1,
        "`Members` underlined with `-------`",
    ),
    ("Members\n=\n", 4, 1, "`Members` underlined with `=`"),
    (
        "> Members\n> ---\n",
        4,
        3,
        "`Members` underlined with `---`",
    ),
    ("<h2>Members</h2>\n\n", 4, 1, "`<h2>Members</h2>`"),
];

#[test]
fn a_heading_that_is_not_a_section_heading_ends_the_section() {
    for (heading, line, column, shown) in OTHER_HEADINGS {
        for item in [
            "- intern@acme.io\n",
            "\nSome prose.\n* intern@acme.io (Intern)\n",
        ] {
            let e = err_in(&format!("{heading}{item}"));
            assert_err(&e, line, column, shown);
            assert_err(
                &e,
                line,
                column,
                "is not a section heading (sections are `## Projects`, `## Owners`, `## Admins`, `## Members`, `## Viewers` and `## External Access`): it ends `## Owners`, so the list item at line",
            );
        }
        // A nested grant, and a project, are no more in a section than a person.
        let e = err_in(&format!(
            "## Members\n- m@acme.io\n\n{heading}  - *: admin\n"
        ));
        assert_eq!(e.line, line + 3, "{e}");
        assert!(e.message.contains("it ends `## Members`"), "{e}");
        let e = err_in(&format!("## Projects\n- Web\n\n{heading}- Secret\n"));
        assert_eq!(e.line, line + 3, "{e}");
        assert!(e.message.contains("it ends `## Projects`"), "{e}");
        // Prose under such a heading is prose, and a section heading opens a section again.
        let doc = format!("{HEAD}{heading}Only prose here.\n## Members\n- m@acme.io\n");
        let reg = parse(&doc, None).unwrap();
        assert_eq!(person(&reg, "m@acme.io").role, OrgRole::Member);
        assert_eq!(reg.people.len(), 2);
    }
    // The title is not a section heading either.
    let e = err("## Owners\n- o@acme.io\n# Acme Access Registry\n- x@acme.io\n");
    assert_err(
        &e,
        3,
        1,
        "`# Acme Access Registry` is not a section heading",
    );
    // Before the first section, a list is prose, under any heading.
    let doc = "# Acme Access Registry\n### How to edit\n- open a PR\nIntro\n---\n- then merge\n## Owners\n- o@acme.io\n";
    assert_eq!(parse(doc, None).unwrap().people.len(), 1);
}

#[test]
fn a_line_that_does_not_render_as_a_heading_does_not_end_the_section() {
    // A rule under a list item or after a blank line (a thematic break) and a code block
    // are not headings: the people after them stay in the section. (A quoted list item is
    // not either, but it is refused: see `a_list_item_github_shows_in_a_quote_is_refused`.)
    // (`##Members` and `    ### Members` read as headings: see `PSEUDO_HEADINGS`.)
    for between in [
        "- a@acme.io\n---\n",
        "- a@acme.io\n\n---\n",
        "- a@acme.io\n\n===\n",
        "- a@acme.io\n```\nMembers\n```\n---\n",
        "- a@acme.io\n\nA note.\n***\n---\n",
        "- a@acme.io\n\n> A quoted note.\n\n---\n",
    ] {
        let doc = format!("{HEAD}## Admins\n{between}- b@acme.io\n");
        let reg = parse(&doc, None).unwrap();
        assert_eq!(person(&reg, "b@acme.io").role, OrgRole::Admin, "{doc}");
    }
}

/// Lines of text that a reader takes for a heading, though Markdown does not make them
/// one: (the line, the text the error shows, its column, the section it points to).
const PSEUDO_HEADINGS: [(&str, &str, usize, &str); 28] = [
    // They name a section or a role, in any case, with emphasis, `#`, `:`, tags or
    // punctuation around the name.
    ("**Members**", "**Members**", 1, "Members"),
    ("__Members__", "__Members__", 1, "Members"),
    ("Members:", "Members:", 1, "Members"),
    ("**Members:**", "**Members:**", 1, "Members"),
    ("**Members**:", "**Members**:", 1, "Members"),
    ("*Admins*", "*Admins*", 1, "Admins"),
    ("_viewers_", "_viewers_", 1, "Viewers"),
    ("MEMBERS", "MEMBERS", 1, "Members"),
    ("Members.", "Members.", 1, "Members"),
    ("Member", "Member", 1, "Members"),
    ("admin:", "admin:", 1, "Admins"),
    (
        "**External   Access**",
        "**External   Access**",
        1,
        "External Access",
    ),
    ("External", "External", 1, "External Access"),
    ("##Members", "##Members", 1, "Members"),
    ("> **Members**", "> **Members**", 1, "Members"),
    ("<b>Members</b>", "<b>Members</b>", 1, "Members"),
    ("<!-- Members -->", "<!-- Members -->", 1, "Members"),
    ("\\*\\*Members\\*\\*", "\\*\\*Members\\*\\*", 1, "Members"),
    ("Members \u{1f447}", "Members \u{1f447}", 1, "Members"),
    ("  **Members**", "**Members**", 3, "Members"),
    // A heading in the list item above (Markdown renders `### Members` there).
    ("\n    ### Members", "### Members", 5, "Members"),
    // Any other label: emphasised, a `#` line, a line that ends with `:`, or a paragraph
    // whose last line ends no sentence.
    ("**Contractors**", "**Contractors**", 1, "<Section>"),
    ("_Read-only (2024)_", "_Read-only (2024)_", 1, "<Section>"),
    ("#on-call", "#on-call", 1, "<Section>"),
    (
        "On call this quarter:",
        "On call this quarter:",
        1,
        "<Section>",
    ),
    ("Read-only staff", "Read-only staff", 1, "<Section>"),
    (
        "These joined from Initech\nand hold read-only access",
        "and hold read-only access",
        1,
        "<Section>",
    ),
    (
        "<details><summary>Interns</summary>",
        "<details><summary>Interns</summary>",
        1,
        "<Section>",
    ),
];

#[test]
fn a_line_that_reads_as_a_heading_ends_the_section() {
    for (label, shown, column, suggested) in PSEUDO_HEADINGS {
        let line = 4 + label.matches('\n').count();
        let needles = [
            format!("`{shown}` reads as a heading"),
            format!("list it under a `## {suggested}` heading"),
        ];
        // Directly above the list, or above it after blank lines and a sentence.
        // A label that opens an HTML block (`<details>`) holds the lines up to the next
        // blank one: a list item right under it is raw HTML to a reader, refused as such.
        let html = label.starts_with("<details>");
        let in_html = format!("is in the HTML block opened on line {line}");
        for (after, item_line) in [
            ("- intern@acme.io\n", line + 1),
            ("\n* intern@acme.io (Intern)\n", line + 2),
            ("\n\nThey joined in May.\n\n- intern@acme.io\n", line + 5),
        ] {
            let e = err_in(&format!("{label}\n{after}"));
            if html && !after.starts_with('\n') {
                assert_err(&e, item_line, 1, &in_html);
                continue;
            }
            assert_err(&e, line, column, &needles[0]);
            assert_err(&e, line, column, &needles[1]);
            assert_err(
                &e,
                line,
                column,
                &format!(
                    "it ends `## Owners`, so the list item at line {item_line} is in no section"
                ),
            );
        }
        // A nested grant, and a project, are no more in a section than a person.
        let (at, says) = if html {
            (
                line + 4,
                in_html.replace(&format!("{line}"), &format!("{}", line + 3)),
            )
        } else {
            (line + 3, "it ends `## Members`".to_owned())
        };
        let e = err_in(&format!(
            "## Members\n- m@acme.io\n\n{label}\n  - *: admin\n"
        ));
        assert_eq!(e.line, at, "{e}");
        assert!(e.message.contains(&says), "{e}");
        let e = err_in(&format!("## Projects\n- Web\n\n{label}\n- Secret\n"));
        assert_eq!(e.line, at, "{e}");
        assert!(
            e.message
                .contains(&says.replace("it ends `## Members`", "it ends `## Projects`")),
            "{e}"
        );
        // Without a list item after it, before the next section heading, it is prose; and
        // before the first section, lists are prose anyway.
        let doc = format!("{HEAD}{label}\n\n## Members\n- m@acme.io\n");
        let reg = parse(&doc, None).unwrap();
        assert_eq!(person(&reg, "m@acme.io").role, OrgRole::Member);
        assert_eq!(reg.people.len(), 2);
        let doc = format!("# Acme Access Registry\n{label}\n- open a PR\n## Owners\n- o@acme.io\n");
        if html {
            // (A list item in an HTML block is refused anywhere, as one in a comment is.)
            let e = parse(&doc, None).unwrap_err();
            assert_err(&e, 3, 1, "is in the HTML block opened on line 2");
        } else {
            assert_eq!(parse(&doc, None).unwrap().people.len(), 1, "{doc}");
        }
    }
    // A heading that came first is the one named.
    let e = err_in("### Notes\n**Members**\n- intern@acme.io\n");
    assert_err(&e, 4, 1, "`### Notes` is not a section heading");
}

#[test]
fn prose_in_a_section_stays_prose() {
    // Sentences, wherever they are in a section, and lines inside a paragraph that ends
    // with one: the people after them stay in the section.
    for between in [
        "Engineers get staging by default.\n",
        "Engineers get staging by default.\n\n",
        "- a@acme.io\n\nOwners can delete the organization!\n",
        "- a@acme.io\nIs this list complete? Ask the CTO.\n",
        "- a@acme.io\n\n(Reviewed by the CTO.)\n\n",
        "- a@acme.io\n\n> Production access is reviewed\n> every quarter by the \"CTO.\"\n",
        "- a@acme.io\n\nAccess to members' dashboards, viewers' insights\nand the rest is reviewed.\n",
        "- a@acme.io\n\n**Note**: these are reviewed every quarter.\n",
    ] {
        let doc = format!("{HEAD}## Admins\n{between}- b@acme.io\n");
        let reg = parse(&doc, None).unwrap_or_else(|e| panic!("{doc}\n{e}"));
        assert_eq!(person(&reg, "b@acme.io").role, OrgRole::Admin, "{doc}");
    }
}

#[test]
fn export_writes_only_headings_and_list_items() {
    // Whatever text the graph holds, export writes no line of text that could read as a
    // heading: every line is a heading or a list item, and the document reads back.
    let labels = [
        "**Members**",
        "Members:",
        "Owners",
        "__Admins__",
        "#Members",
        "Contractors",
        "> ## Members",
    ];
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    g.add_org("acme", Some("**Members**"), "o@acme.io", None)
        .unwrap();
    for (i, text) in labels.iter().chain(AWKWARD.iter()).enumerate() {
        let new = NewProject {
            name: Some((*text).to_owned()),
            environment: Some((*text).to_owned()),
            ..NewProject::default()
        };
        g.add_project(&format!("acme/p{i}"), new, None).unwrap();
        let new = NewMember {
            role: Some(["owner", "admin", "member"][i % 3].to_owned()),
            title: Some((*text).to_owned()),
            reason: Some((*text).to_owned()),
            external: i % 4 == 3,
            ..NewMember::default()
        };
        let user = format!("m{i}@acme.io");
        g.add_member(&user, "acme", new, None).unwrap();
        let reason = Some((*text).to_owned());
        g.grant(&user, &format!("acme/p{i}"), "member", None, reason, None)
            .unwrap();
    }
    let text = round_trip(&g, "acme");
    for line in text.lines() {
        assert!(
            line.starts_with("# ")
                || line.starts_with("## ")
                || line.trim_start().starts_with("- "),
            "{line}"
        );
    }
}

#[test]
fn bad_email() {
    assert_err(
        &err_in("## Members\n- not-an-email (X)\n"),
        5,
        3,
        "invalid email `not-an-email`",
    );
    assert_err(
        &err_in("## Members\n-\n"),
        5,
        2,
        "expected an email address",
    );
    assert_err(
        &err_in("## Members\n- a@b.io CTO\n"),
        5,
        10,
        "unexpected `CTO` after the email",
    );
    assert_err(&err_in("## Members\n- a@b.io (CTO\n"), 5, 10, "missing `)`");
}

#[test]
fn bad_dates() {
    assert_err(
        &err_in("## Members\n- a@b.io (Dev, expires 2024-13-01)\n"),
        5,
        24,
        "invalid date `2024-13-01`",
    );
    assert_err(
        &err_in("## Members\n- a@b.io (reviewed soon)\n"),
        5,
        20,
        "invalid date `soon`",
    );
    assert_err(
        &err_in("## Members\n- a@b.io\n  - *: viewer (expires 2024-02-30)\n"),
        6,
        24,
        "invalid date `2024-02-30`",
    );
    assert_err(
        &err_in("## Members\n- a@b.io (expires)\n"),
        5,
        11,
        "`expires` needs a value",
    );
}

#[test]
fn unknown_role() {
    assert_err(
        &err_in("## Members\n- a@b.io\n  - Web: editor\n"),
        6,
        10,
        "unknown role `editor` (expected viewer, member or admin)",
    );
    assert_err(
        &err_in("## Projects\n- Web (default owner)\n"),
        5,
        16,
        "unknown role `owner`",
    );
}

#[test]
fn duplicate_person_names_the_first_line() {
    let e =
        err("# Acme Access Registry\n## Owners\n- o@acme.io\n## Viewers\n- O@Acme.io (again)\n");
    assert_err(&e, 5, 3, "`o@acme.io` is listed twice (first at line 3)");
}

#[test]
fn grant_errors() {
    assert_err(
        &err_in("## Members\n  - Web: viewer\n"),
        5,
        3,
        "a nested grant must follow the person",
    );
    assert_err(
        &err_in("## Members\n- a@b.io\n## Viewers\n  - Web: viewer\n"),
        7,
        3,
        "a nested grant must follow the person",
    );
    assert_err(
        &err_in("## Members\n- a@b.io\n  - Web viewer\n"),
        6,
        5,
        "expected `<project",
    );
    assert_err(
        &err_in("## Members\n- a@b.io\n  - Web: viewer (Lead)\n"),
        6,
        18,
        "unknown grant attribute `Lead` (expected expires or reason)",
    );
    assert_err(
        &err_in("## Projects\n- Web\n## Members\n- a@b.io\n  - Mobile: viewer\n"),
        8,
        5,
        "unknown project `Mobile`: it is not listed under `## Projects`",
    );
    assert_err(
        &err_in("## Projects\n- Twin (slug t1)\n- Twin (slug t2)\n## Members\n- a@b.io\n  - twin: viewer\n"),
        9,
        5,
        "`twin` names several projects: use the project's slug",
    );
    assert_err(
        &err_in("## Members\n- a@b.io\n  - Web: viewer\n  - web: admin\n"),
        7,
        5,
        "`web` is granted to `a@b.io` twice (first at line 6)",
    );
}

#[test]
fn project_errors() {
    assert_err(
        &err_in("## Projects\n- Web (restricted, default viewer)\n"),
        5,
        20,
        "restricted project `Web` cannot have a default role",
    );
    assert_err(
        &err_in("## Projects\n- Web (staging)\n"),
        5,
        8,
        "unknown project attribute `staging`",
    );
    assert_err(
        &err_in("## Projects\n- Web (slug Web)\n"),
        5,
        13,
        "invalid slug `Web`",
    );
    assert_err(
        &err_in("## Projects\n- Web\n- web!\n"),
        6,
        3,
        "project `web` is listed twice (first at line 5)",
    );
    assert_err(
        &err_in("## Projects\n- !!!\n"),
        5,
        3,
        "cannot make a slug of `!!!`",
    );
    assert_err(
        &err_in("## Projects\n- Web (pii yes)\n"),
        5,
        12,
        "`pii` takes no value",
    );
    assert_err(
        &err_in("## Projects\n- Web (pii, PII)\n"),
        5,
        13,
        "`pii` given twice",
    );
    assert_err(
        &err_in("## Projects\n- Web\n  - Web: viewer\n"),
        6,
        3,
        "unexpected nested item",
    );
}

#[test]
fn person_attribute_errors() {
    assert_err(
        &err("# Acme Access Registry\n## Owners\n- o@acme.io (CEO, expires 2030-01-01)\n"),
        3,
        19,
        "an owner membership cannot expire",
    );
    assert_err(
        &err_in("## Members\n- a@b.io (Dev, expires 2024-01-01, Lead)\n"),
        5,
        36,
        "unknown attribute `Lead`",
    );
    assert_err(
        &err_in("## Members\n- a@b.io (expires 2024-01-01, Expires 2024-02-01)\n"),
        5,
        31,
        "`expires` given twice",
    );
    assert_err(
        &err_in("## Members\n- a@b.io (Dev, , reason x)\n"),
        5,
        15,
        "empty item",
    );
    // A title with a bad escape: the error is at the backslash.
    assert_err(
        &err_in("## Members\n- a@b.io (Ops\\u{zz}, expires 2030-01-01)\n"),
        5,
        14,
        "invalid escape in a title",
    );
}

#[test]
fn title_errors() {
    assert_err(&err("## Owners\n- o@acme.io\n"), 1, 1, "missing title");
    assert_err(
        &err("# Acme Access Registry\n## Owners\n- o@acme.io\n# Other Access Registry\n"),
        4,
        3,
        "a second title",
    );
    assert_err(
        &err("# Access Registry\n"),
        1,
        3,
        "the title names no organization",
    );
    assert_err(
        &err("# !!! Access Registry\n## Owners\n- o@x.io\n"),
        1,
        3,
        "cannot make an org slug of `!!!`",
    );
    let e = parse(HEAD, Some("Bad Slug")).unwrap_err();
    assert_err(&e, 1, 3, "invalid org slug `Bad Slug`");
    // With `org=`, a document without a title is named after the slug.
    let reg = parse("## Owners\n- o@acme.io\n", Some("acme")).unwrap();
    assert_eq!(reg.name, "acme");
}

#[test]
fn missing_owner() {
    assert_err(
        &err("# Acme Access Registry\n## Members\n- m@acme.io\n"),
        1,
        1,
        "names no owner",
    );
    assert_err(
        &err("# Acme Access Registry\n\n## Owners\n## Members\n- m@acme.io\n"),
        3,
        1,
        "names no owner",
    );
}

// ---------------------------------------------------------------------------------------
// Atomicity

#[test]
fn a_failing_document_imports_nothing() {
    let g = Graph::new();
    let bad = RICH.replace("  - Ops: EU: viewer", "  - Ops: EU: editor");
    assert!(parse(&bad, Some("acme")).is_err());
    assert!(g.orgs().unwrap().is_empty());
    assert!(g.grants(None, None).unwrap().is_empty());
}

#[test]
fn a_failing_import_leaves_the_graph_as_it_was() {
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    let mut reg = parse(RICH, Some("acme")).unwrap();
    // A hand-made registry whose last grant names a project that does not exist.
    reg.people.last_mut().unwrap().grants.push(RegistryGrant {
        target: GrantScope::Project("ghost".into()),
        role: ProjectRole::Viewer,
        expires: None,
        reason: None,
        line: 0,
    });
    assert!(markdown::import(&g, &reg).is_err());
    assert!(g.orgs().unwrap().is_empty());
    assert!(g.projects(None).unwrap().is_empty());
    assert!(g.grants(None, None).unwrap().is_empty());
    assert_eq!(g.frozen_time(), Some(at("2024-05-01")));

    // An org that exists already: refused before anything changes.
    let g = loaded(SEED, "acme");
    let before = markdown::export(&g, "acme").unwrap();
    assert!(markdown::import(&g, &parse(RICH, Some("acme")).unwrap()).is_err());
    assert_eq!(markdown::export(&g, "acme").unwrap(), before);

    // A registry without an owner.
    let mut reg = parse(SEED, Some("other")).unwrap();
    reg.people.retain(|p| p.role != OrgRole::Owner);
    assert!(markdown::import(&g, &reg).is_err());
    assert_eq!(g.orgs().unwrap().len(), 1);
}

/// Bodies (after `HEAD`, whose `## Owners` lists `o@acme.io` at line 3) that hide a list
/// item from a reader of the rendered document in an HTML comment; with the line of the
/// hidden item, its column, and the line the comment opens on.
const HIDDEN_ITEMS: [(&str, usize, usize, usize); 9] = [
    // A comment of its own lines (an HTML block).
    ("<!--\n- mallory@evil.example\n-->\n", 5, 1, 4),
    ("   <!--\n  * mallory@evil.example (CTO)\n-->\n", 5, 3, 4),
    // On one line, alone or with prose around.
    ("<!-- - mallory@evil.example -->\n", 4, 6, 4),
    (
        "<!-- keep sorted --><!-- - mallory@evil.example -->\n",
        4,
        26,
        4,
    ),
    // Opened at the end of a visible item or of prose, closed later.
    (
        "- jane@example.com <!--\n- mallory@evil.example\n-->\n",
        5,
        1,
        4,
    ),
    (
        "Reviewed monthly. <!-- old:\n- mallory@evil.example -->\n",
        5,
        1,
        4,
    ),
    // A nested grant, and one across sections.
    (
        "<!--\n  - *: admin\n## Members\n- m@acme.io\n-->\n",
        5,
        3,
        4,
    ),
    // Never closed: it runs to the end of the document.
    (
        "\n<!-- TODO\n\n## Admins\n- mallory@evil.example\n",
        8,
        1,
        5,
    ),
    // In a block quote.
    ("> <!--\n> - mallory@evil.example\n> -->\n", 5, 3, 4),
];

#[test]
fn a_list_item_hidden_in_an_html_comment_is_refused() {
    for (body, line, column, opened) in HIDDEN_ITEMS {
        let e = err_in(body);
        assert_err(
            &e,
            line,
            column,
            &format!("is hidden from readers by the HTML comment opened on line {opened}"),
        );
        assert_err(&e, line, column, "delete it or move it out of the comment");
    }
    // In a project section too.
    let e = err("# Acme Access Registry\n## Projects\n- Web\n<!--\n- Secret (pii)\n-->\n## Owners\n- o@acme.io\n");
    assert_err(&e, 5, 1, "HTML comment opened on line 4");
}

#[test]
fn a_comment_that_holds_only_prose_is_allowed() {
    for body in [
        "<!-- keep sorted -->\n- a@acme.io\n",
        "<!--\nkeep sorted, and ask Jane\n-->\n- a@acme.io\n",
        "- a@acme.io <!-- since May -->\n",
        "- a@acme.io <!-- (Dev) -->\n- b@acme.io\n",
        "Reviewed monthly. <!-- by Jane -->\n\n- a@acme.io\n",
        // A comment marker in fenced code is code.
        "```\n<!--\n```\n- a@acme.io\n",
        // A backslash-escaped `<!--` is text.
        "Write \\<!-- to start a comment.\n- a@acme.io\n",
    ] {
        let reg = parse(&format!("{HEAD}{body}"), None).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(person(&reg, "a@acme.io").role, OrgRole::Owner, "{body}");
        assert_eq!(person(&reg, "a@acme.io").title, None, "{body}");
    }
    // A comment alone on its line is not a caption of the list under it, but a caption
    // above it still is one.
    let e = err_in("Read-only staff\n<!-- keep sorted -->\n- a@acme.io\n");
    assert_err(&e, 4, 1, "`Read-only staff` reads as a heading");
}

#[test]
fn export_escapes_a_comment_marker_in_free_text() {
    // Text that would open an HTML comment is written so that it opens none: the document
    // reads back, nothing after it is hidden, and no one is refused.
    let texts = ["<!--", "a <!-- b", "<!-- - x@acme.io -->", "-->", "\\<!--"];
    let g = Graph::new();
    g.set_time(Some(at("2024-05-01")));
    g.add_org("acme", Some("Acme <!--"), "o@acme.io", None)
        .unwrap();
    for (i, text) in texts.iter().enumerate() {
        let new = NewProject {
            name: Some((*text).to_owned()),
            environment: Some((*text).to_owned()),
            ..NewProject::default()
        };
        g.add_project(&format!("acme/p{i}"), new, None).unwrap();
        let new = NewMember {
            role: Some(["owner", "admin", "member"][i % 3].to_owned()),
            title: Some((*text).to_owned()),
            reason: Some((*text).to_owned()),
            ..NewMember::default()
        };
        let user = format!("m{i}@acme.io");
        g.add_member(&user, "acme", new, None).unwrap();
        let reason = Some((*text).to_owned());
        g.grant(&user, &format!("acme/p{i}"), "member", None, reason, None)
            .unwrap();
    }
    let text = round_trip(&g, "acme");
    let escaped = text.matches("\\<!--").count();
    assert_eq!(escaped, text.matches("<!--").count(), "{text}");
}

#[test]
fn fenced_code_closes_only_at_its_own_fence() {
    // A reader sees these lines as code, up to the fence that closes it: none is read.
    for body in [
        "````\n```\n- m@evil.example\n````\n",
        "```\n- m@evil.example\n~~~\n- n@evil.example\n```\n",
        "~~~\n```\n- m@evil.example\n~~~~\n",
        "```\n```yaml\n- m@evil.example\n```\n",
        "```\n- m@evil.example\n",
        "<!-- ``` -->\n```\n<!--\n```\n- a@acme.io\n",
    ] {
        let reg = parse(&format!("{HEAD}{body}"), None).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(
            reg.people.len(),
            1 + body.matches("a@acme.io").count(),
            "{body}"
        );
    }
    // A `<!--` in fenced code is code, and a fence in a comment is hidden text.
    let reg = parse(
        &format!("{HEAD}```\n<!--\n```\n- a@acme.io\n<!--\n```\n-->\n- b@acme.io\n"),
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 3);
}

#[test]
fn a_fence_indented_four_columns_neither_opens_nor_closes_code_silently() {
    // HEAD is three lines: the body starts on line 4.
    // Under a fence at the margin, a closing fence indented four spaces is code, as a
    // reader sees it: what follows up to the real close is not read (it was: a hidden
    // admin, read as one while GitHub showed the lines as code).
    for body in [
        "```\n    ```\n## Admins\n- m@evil.example\n```\n",
        "~~~\n     ~~~\n- m@evil.example\n~~~\n",
        " ```\n    ```\n- m@evil.example\n",
    ] {
        let reg = parse(&format!("{HEAD}{body}"), None).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(reg.people.len(), 1, "{body}");
    }
    // Under a fence indented two or three (perhaps in a list item), it is refused.
    assert_err(
        &err_in("- a@acme.io\n  ```\n      ```\n- m@evil.example\n  ```\n"),
        6,
        7,
        "closes the code fence opened on line 5 here if that fence is in a list item",
    );
    // A fence indented four columns or more (spaces or a tab) is refused where it
    // would open code: GitHub may show the lines after it as entries.
    assert_err(
        &err_in("\n    ```\n- a@acme.io\n"),
        5,
        5,
        "is indented 4 columns",
    );
    assert_err(
        &err_in("\t~~~\n- a@acme.io\n"),
        4,
        2,
        "is indented 4 columns",
    );
    assert_err(
        &err_in("- a@acme.io\n\n      ```\n- b@acme.io\n"),
        6,
        7,
        "is indented 6 columns",
    );
}

#[test]
fn a_line_indented_less_than_a_fence_in_a_list_item_is_refused() {
    // GitHub ends a fence in a list item with the item: the heading and the person after
    // it are shown, and were not read (everything after the fence was code here).
    assert_err(
        &err_in("- a@acme.io\n  ```\n## Admins\n- m@evil.example\n"),
        6,
        1,
        "indented less than the code fence opened on line 5",
    );
    // Code indented as its fence, and blank lines, are code; the fence closes as usual.
    let reg = parse(
        &format!("{HEAD}- a@acme.io\n  ```\n  - x@acme.io\n\n  ```\n- b@acme.io\n"),
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 3);
    // A fence at the margin or one space in is no list item's: its code may start
    // further left, as in CommonMark.
    let reg = parse(
        &format!("{HEAD} ```\n- m@evil.example\n```\n- b@acme.io\n"),
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 2);
}

#[test]
fn a_backtick_fence_whose_info_string_holds_a_backtick_is_text() {
    // CommonMark reads "```a`b" as text with a code span, not as a fence: the people
    // after it are shown, so they are read (a sentence is prose in a section)...
    let reg = parse(
        &format!("{HEAD}- a@acme.io\n\n```a`b is how it starts.\n\n- b@acme.io\n"),
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 3);
    // ...and a line that reads as a caption ends the section, as any text would.
    assert_err(
        &err_in("- a@acme.io\n```a`b\n- b@acme.io\n"),
        5,
        1,
        "reads as a heading",
    );
}

#[test]
fn an_entry_in_an_html_block_is_refused_not_imported() {
    // GitHub shows what follows `<pre>` (up to `</pre>`, blank lines included), `<div>` or
    // `<details>` (up to a blank line), or `<script>` (not at all) as HTML: `## Admins`
    // and `- m@evil.example` there were read as a section and an admin.
    for (body, line, opened) in [
        ("<pre>\n## Admins\n- m@evil.example\n</pre>\n", 5, 4),
        ("<PRE class=x>\n\n- m@evil.example\n</pre>\n", 6, 4),
        ("<script>\n- m@evil.example\n</script>\n", 5, 4),
        ("<div>\n## Admins\n- m@evil.example\n</div>\n", 5, 4),
        (
            "<details>\n<summary>Old</summary>\n- m@evil.example\n</details>\n",
            6,
            4,
        ),
        ("<span>\n- m@evil.example\n", 5, 4),
        ("<?php\n- m@evil.example\n?>\n", 5, 4),
        ("<div>\n<h2>Admins</h2>\n", 5, 4),
        // A closing tag alone on its line opens one too (after a paragraph CommonMark
        // reads it as text, and a numbered list may then start: refused either way).
        ("</pre>\n1. m@evil.example\n", 5, 4),
    ] {
        let e = err_in(body);
        assert_err(
            &e,
            line,
            1,
            &format!("is in the HTML block opened on line {opened}"),
        );
    }
    // The block ends where CommonMark ends it: a blank line after `<div>`, the line
    // holding `</pre>`; what follows is Markdown and is read. A one-line block opens none
    // beyond its line, nor does a tag with text after it on its line (`<b>…</b> text`).
    for (body, role) in [
        (
            "<div>\n</div>\n\n## Members\n- a@acme.io\n",
            OrgRole::Member,
        ),
        (
            "<details>\n<summary>Old</summary>\n\n</details>\n\n## Members\n- a@acme.io\n",
            OrgRole::Member,
        ),
        (
            "<pre>\n\nkeep\n</pre>\n\n## Members\n- a@acme.io\n",
            OrgRole::Member,
        ),
        ("<pre>x</pre>\n\n## Members\n- a@acme.io\n", OrgRole::Member),
        (
            "<!DOCTYPE html>\n\n## Members\n- a@acme.io\n",
            OrgRole::Member,
        ),
        (
            "<b>Note</b> the list is sorted.\n- a@acme.io\n",
            OrgRole::Owner,
        ),
    ] {
        let reg = parse(&format!("{HEAD}{body}"), None).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(reg.people.len(), 2, "{body}");
        assert_eq!(person(&reg, "a@acme.io").role, role, "{body}");
    }
    // A fence in an HTML block is raw text: it neither opens code nor hides what follows.
    let reg = parse(
        &format!("{HEAD}<div>\n```\n\n## Members\n- a@acme.io\n"),
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 2);
}

#[test]
fn a_numbered_item_in_a_section_is_refused_not_left_out() {
    // GitHub shows `1. a@acme.io` in the Owners' list; it was read as prose, and the
    // person left out without a word.
    for (body, line, column) in [
        ("1. a@acme.io\n", 4, 1),
        ("\n2) a@acme.io (CTO)\n", 5, 1),
        ("## Members\n- m@acme.io\n  1. Production: admin\n", 6, 3),
        ("## Projects\n1. Web\n", 5, 1),
    ] {
        let e = err_in(body);
        assert_err(&e, line, column, "is a numbered list item");
    }
    let e = err_in("1. a@acme.io\n");
    assert!(e.message.contains("write it as `- a@acme.io`"), "{e}");
    // Under a heading that is no section, it is an error as a `- ` item is; before the
    // first section, and as part of a sentence, it is prose.
    assert_err(&err_in("### Notes\n1. rotate keys\n"), 4, 1, "`### Notes`");
    let reg = parse(
        "# Acme Access Registry\n1. Open a PR.\n## Owners\n- o@acme.io\nIt ends in 2024. We review it then.\n- p@acme.io\n",
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 2);
}

#[test]
fn a_list_item_github_shows_in_a_quote_is_refused() {
    // GitHub shows `> - a@acme.io` as a list in a quote under `## Owners`; it was left
    // out without a word, so that a sync would have removed that person's access.
    for (body, line, column) in [
        ("> - a@acme.io\n", 4, 1),
        ("\n> > * a@acme.io (CTO)\n", 5, 1),
        (">1. a@acme.io\n", 4, 1),
        ("## Members\n- m@acme.io\n  > - Production: admin\n", 6, 3),
        ("## Projects\n> - Web\n", 5, 1),
    ] {
        let e = err_in(body);
        assert_err(&e, line, column, "is a list item in a block quote");
    }
    // Under a heading that is no section it is an error as any item is; before the first
    // section, and as quoted prose, it is read as nothing.
    assert_err(&err_in("### Notes\n> - rotate keys\n"), 4, 1, "`### Notes`");
    let reg = parse(
        "# Acme Access Registry\n> - open a PR\n## Owners\n- o@acme.io\n> - is not a list item\n> Quoted - prose.\n",
        None,
    );
    assert!(reg.is_err(), "the quoted item under Owners is refused");
    let reg = parse(
        "# Acme Access Registry\n> - open a PR\n## Owners\n- o@acme.io\n\n> Quoted - prose.\n",
        None,
    )
    .unwrap();
    assert_eq!(reg.people.len(), 1);
}

#[test]
fn only_spaces_and_tabs_are_markdown_whitespace() {
    // CommonMark counts a space or a tab as indentation, as a blank line's content and
    // as the separator after `-` or `#`; U+00A0 (and U+3000) are text. Read as spaces,
    // each line below imported someone GitHub shows as text or raw HTML.
    for (nbsp, shown_as) in [("\u{a0}", "NBSP"), ("\u{3000}", "ideographic space")] {
        // Text continuing o@acme.io's item, not an item of its own.
        for line in [
            format!("{nbsp}- mallory@evil.example"),
            format!("-{nbsp}mallory@evil.example"),
        ] {
            let reg = parse(&format!("{HEAD}{line}\n"), None);
            let people = reg.map(|r| r.people.len());
            assert!(
                people.as_ref().is_ok_and(|&n| n == 1) || people.is_err(),
                "{shown_as}: {line:?} read as an entry"
            );
        }
        // A paragraph, not a section heading: the list under it is not the Admins'.
        let doc = format!("{HEAD}\n##{nbsp}Admins\n\n- mallory@evil.example\n");
        if let Ok(reg) = parse(&doc, None) {
            assert_ne!(
                person(&reg, "mallory@evil.example").role,
                OrgRole::Admin,
                "{shown_as}"
            );
        }
        // Not a blank line: the HTML block goes on, and its lines are raw HTML.
        let doc = format!("{HEAD}\n<div>\n{nbsp}\n## Admins\n- mallory@evil.example\n</div>\n");
        let e = err(&doc);
        assert_err(&e, 7, 1, "is in the HTML block opened on line 5");
        // Not a closing fence: what follows it is still code.
        let doc = format!("{HEAD}\n```\n```{nbsp}\n## Admins\n- mallory@evil.example\n```\n");
        let reg = parse(&doc, None).unwrap();
        assert_eq!(reg.people.len(), 1, "{shown_as}: an entry in code was read");
        // Not a rule: text, which continues the paragraph above.
        let doc = format!("{HEAD}\nSee below\n-{nbsp}-{nbsp}-\n\n- p@acme.io\n");
        let reg = parse(&doc, None).unwrap();
        assert_eq!(person(&reg, "p@acme.io").role, OrgRole::Owner, "{shown_as}");
    }
}

#[test]
fn a_carriage_return_alone_is_refused() {
    // CommonMark ends a line at a lone `\r`: GitHub shows `## Admins` and mallory after
    // the closing fence, which the parser took for one line of code and dropped.
    let e = err_in("\n```\ncode\n```\r## Admins\n- mallory@evil.example\n");
    assert_err(&e, 7, 4, "a carriage return not followed by a line feed");
    let e = err_in("\n<pre>\r## Admins\r- mallory@evil.example\n");
    assert_err(&e, 5, 6, "a carriage return");
    // `\r\n` ends lines as `\n` does.
    let reg = parse(&HEAD.replace('\n', "\r\n"), None).unwrap();
    assert_eq!(reg.people.len(), 1);
}

#[test]
fn a_grant_github_shows_as_code_or_text_is_refused_not_imported() {
    // Four columns past the text of the item above it, a line is an indented code block
    // (after a blank line) or more of that item's text: `- *: admin` there made the
    // person an admin of every project while GitHub showed it as code.
    let projects = "## Projects\n- Web\n## Members\n";
    let past = "columns, four or more past the text";
    // Less indented than the person's text, it is an item of the outer list to GitHub.
    let short = "columns, less than the text of the person";
    for (body, line, column, indent, says) in [
        ("- m@acme.io\n\n      - *: admin\n", 9, 7, 6, past),
        ("- m@acme.io\n      - *: admin\n", 8, 7, 6, past),
        (
            "- m@acme.io\n  - Web: viewer\n\n        - *: admin\n",
            10,
            9,
            8,
            past,
        ),
        ("-   m@acme.io\n\n        - *: admin\n", 9, 9, 8, past),
        ("- m@acme.io\n\t\t- *: admin\n", 8, 3, 8, past),
        // Less indented than the grant above's text (7), four past the person's (2).
        (
            "- m@acme.io\n     - Web: viewer\n      - *: admin\n",
            9,
            7,
            6,
            past,
        ),
        (" - m@acme.io\n  - *: admin\n", 8, 3, 2, short),
        ("-   m@acme.io\n   - *: admin\n", 8, 4, 3, short),
    ] {
        let e = err_in(&format!("{projects}{body}"));
        assert_err(&e, line, column, &format!("is indented {indent} {says}"));
    }
    // Nested as CommonMark nests list items (up to three columns past the text above,
    // a grant's own text included), a grant is read.
    for (body, grants) in [
        ("- m@acme.io\n  - Web: viewer\n", 1),
        ("- m@acme.io\n\n     - Web: viewer\n", 1),
        ("- m@acme.io\n  - Web: viewer\n      - *: member\n", 2),
        ("-   m@acme.io\n       - Web: viewer\n", 1),
    ] {
        let reg = parse(&format!("{HEAD}{projects}{body}"), None)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(person(&reg, "m@acme.io").grants.len(), grants, "{body}");
    }
}

#[test]
fn a_grant_after_the_list_ended_belongs_to_no_one() {
    // A fence, or a sentence after a blank line, less indented than the person's text
    // ends the list: the grant after it is an item of a list of its own to a reader (it
    // was read as the person's).
    let projects = "## Projects\n- Web\n## Members\n";
    for (body, line) in [
        ("- m@acme.io\n```\n```\n  - Web: viewer\n", 10),
        ("- m@acme.io\n\nThey joined in May.\n  - Web: viewer\n", 10),
        (
            "- m@acme.io\n  - Web: viewer\n\n> Quoted.\n  - *: admin\n",
            11,
        ),
    ] {
        let e = err_in(&format!("{projects}{body}"));
        assert_err(
            &e,
            line,
            3,
            "a nested grant must follow the person it belongs to",
        );
    }
    // A sentence right under the person (no blank line), or indented as their text after
    // one, continues their item.
    for body in [
        "- m@acme.io\nThey joined in May.\n  - Web: viewer\n",
        "- m@acme.io\n  - Web: viewer\n\n  They joined in May.\n  - *: member\n",
    ] {
        let reg = parse(&format!("{HEAD}{projects}{body}"), None)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(
            person(&reg, "m@acme.io").grants.len(),
            body.matches(": ").count(),
            "{body}"
        );
    }
}
