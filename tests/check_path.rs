//! The check path's own machinery against the plain answers: `who_can` in email order
//! whichever way it sorts, the user index across erasure, and the built-in action table
//! against custom actions.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first surprise, loudly"
)]

use accessgraph::graph::NewMember;
use accessgraph::Graph;

mod common;

/// Emails in an order unrelated to their sort order.
fn email(i: usize) -> String {
    format!("u{:03}@x.io", (i * 37) % 101)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn who_can_answers_in_email_order_whether_the_ranks_are_fresh_or_stale() {
    let g = Graph::new();
    g.add_org("acme", None, "owner@x.io", None).unwrap();
    g.add_org("beta", None, "owner@x.io", None).unwrap();
    g.add_project("acme/web", accessgraph::graph::NewProject::default(), None)
        .unwrap();
    g.add_project("beta/app", accessgraph::graph::NewProject::default(), None)
        .unwrap();
    // 90 users in beta, 10 in acme: a who_can on acme is a small answer (its own sort),
    // one on beta a large one (the ranks).
    for i in 0..100 {
        let org = if i % 10 == 0 { "acme" } else { "beta" };
        g.add_member(&email(i), org, NewMember::default(), None)
            .unwrap();
    }
    let check = |g: &Graph| {
        for (action, target) in [
            ("org:view", "acme"),
            ("org:view", "beta"),
            ("project:view", "beta/app"),
        ] {
            let got = g.who_can(action, target, None).unwrap();
            assert_eq!(got, sorted(got.clone()), "{action} {target}");
            let expected: Vec<String> = g
                .users()
                .unwrap()
                .into_iter()
                .map(|u| u.email)
                .filter(|e| g.check(e, action, target, None).unwrap())
                .collect();
            assert_eq!(got, sorted(expected), "{action} {target}");
        }
    };
    check(&g);
    // New users invalidate the ranks: both orders again, with the newcomers in place.
    for i in 100..120 {
        g.add_member(
            &format!("m{}@x.io", 200 - i),
            "beta",
            NewMember::default(),
            None,
        )
        .unwrap();
        g.add_member(&format!("a{i}@x.io"), "acme", NewMember::default(), None)
            .unwrap();
        check(&g);
    }
}

#[test]
fn an_erased_user_is_found_under_the_pseudonym_only() {
    let g = Graph::new();
    g.add_org("acme", None, "owner@x.io", None).unwrap();
    g.add_member("jane@x.io", "acme", NewMember::default(), None)
        .unwrap();
    g.add_member("john@x.io", "acme", NewMember::default(), None)
        .unwrap();
    g.remove_member("jane@x.io", "acme", None).unwrap();
    let pseudonym = g.erase_user("jane@x.io", None, None, None).unwrap();
    assert!(g.user("jane@x.io").is_err());
    assert_eq!(g.user(&pseudonym).unwrap().email, pseudonym);
    assert!(g.check("john@x.io", "org:view", "acme", None).unwrap());
    assert!(!g.check("jane@x.io", "org:view", "acme", None).unwrap());
    assert_eq!(
        g.who_can("org:view", "acme", None).unwrap(),
        ["john@x.io", "owner@x.io"]
    );
    // The same email again is a new user, found as such.
    g.add_member("jane@x.io", "acme", NewMember::default(), None)
        .unwrap();
    assert!(g.check("jane@x.io", "org:view", "acme", None).unwrap());
    assert_eq!(
        g.who_can("org:view", "acme", None).unwrap(),
        ["jane@x.io", "john@x.io", "owner@x.io"]
    );
}

#[test]
fn custom_actions_are_looked_up_beside_the_built_in_table() {
    let g = Graph::new();
    g.add_org("acme", None, "owner@x.io", None).unwrap();
    g.add_project("acme/web", accessgraph::graph::NewProject::default(), None)
        .unwrap();
    g.add_member("m@x.io", "acme", NewMember::default(), None)
        .unwrap();
    g.grant("m@x.io", "acme/web", "member", None, None, None)
        .unwrap();
    // A custom name one letter away from a built-in one, and one of the same length.
    g.define_action("project:viewx", "project", "admin", None, None)
        .unwrap();
    g.define_action("insight:vieW", "project", "viewer", None, None)
        .unwrap_err();
    g.define_action("insight:zzzz", "project", "viewer", None, None)
        .unwrap();
    assert!(g.check("m@x.io", "project:view", "acme/web", None).unwrap());
    assert!(!g
        .check("m@x.io", "project:viewx", "acme/web", None)
        .unwrap());
    assert!(g.check("m@x.io", "insight:zzzz", "acme/web", None).unwrap());
    assert!(g.check("m@x.io", "project:vie", "acme/web", None).is_err());
    assert!(g.check("m@x.io", "PROJECT:VIEW", "acme/web", None).is_err());
    assert_eq!(
        g.check_many(
            [
                ("m@x.io", "insight:zzzz", "acme/web"),
                ("m@x.io", "project:viewx", "acme/web")
            ],
            None
        )
        .unwrap(),
        [true, false]
    );
}

// ---------------------------------------------------------------------------------------
// The packed check-path views against the records they are built from.

use accessgraph::graph::{MemberPatch, NewProject};
use accessgraph::model::{HotUserBuf, NEVER};
use accessgraph::roles::{OrgRole, ProjectRole};
use accessgraph::state::who::OrgIndex;
use accessgraph::state::State;
use accessgraph::time::{At, Clock};
use accessgraph::Instant;
use common::{days, nm, T0};

/// Emails of every length class the packed layout treats apart: under 8 bytes (one
/// partial word), exactly 8 and 16 (no partial word), 9, 15, 17, 23, 24, 25 and long.
const EMAILS: &[&str] = &[
    "a@b.co",
    "ab@c.co",
    "abc@d.co",
    "abcd@e.co",
    "a@localhost",
    "abcdefgh@ij.com",
    "abcdefghi@jk.com",
    "abcdefghij@kl.com",
    "abcdefghijklmnop@qr.com",
    "abcdefghijklmnopq@rs.com",
    "abcdefghijklmnopqr@st.com",
    "a.very.long.local.part.indeed@a-rather-long-domain.example.com",
];

/// A small deterministic generator (the test must replay the same way every time).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap() % n
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        from.get(self.below(from.len())).unwrap()
    }
}

/// SPEC 1.5 read straight from the records: the effective project role of the user with
/// this (lower-case) email on project `pid` at `at`.
fn role_from_records(st: &State, email: &str, pid: u32, at: Instant) -> Option<ProjectRole> {
    let u = st.users.iter().find(|u| &*u.email == email)?;
    let p = st.projects.get(pid as usize)?.as_ref()?;
    let m = u.memberships.iter().find(|m| m.org == p.org)?;
    let alive = |e: Option<Instant>| e.is_none_or(|e| at < e);
    if !alive(m.expires()) {
        return None;
    }
    if m.role != OrgRole::Member {
        return Some(ProjectRole::Admin);
    }
    let explicit = m.grant(pid).filter(|g| alive(g.expires())).map(|g| g.role);
    let wide = m
        .org_wide
        .as_ref()
        .filter(|g| !p.attrs.restricted && alive(g.expires()))
        .map(|g| g.role);
    [explicit, wide, p.attrs.default_role]
        .into_iter()
        .flatten()
        .max()
}

/// Every user's packed view decodes to their records, field by field, and equals a view
/// built afresh; found by email (any case) and by id.
fn views_match_records(st: &State) {
    for (i, u) in st.users.iter().enumerate() {
        let uid = u32::try_from(i).unwrap();
        let hot = st.hot_user(&u.email).unwrap();
        assert_eq!(hot.id(), uid);
        assert!(hot.email_is(&u.email), "{}", u.email);
        assert_eq!(st.hot_by_id(uid), Some(hot));
        // Any case — unless the spelling is one the mutations refuse (`A@LOCALHOST`:
        // Django allows `localhost` in lower case only), which names no one.
        let upper = u.email.to_ascii_uppercase();
        let valid = accessgraph::ids::email("user", &upper).is_ok();
        assert_eq!(st.hot_user(&upper), valid.then_some(hot), "{upper}");
        assert_eq!(hot, HotUserBuf::new(uid, &u.email, &u.memberships).view());
        // What a what-if edits: the records a view gives back make the same view.
        assert_eq!(
            hot,
            HotUserBuf::new(uid, &u.email, &hot.to_memberships()).view()
        );
        assert_eq!(hot.memberships().count(), u.memberships.len());
        for (m, h) in u.memberships.iter().zip(hot.memberships()) {
            assert_eq!((h.org(), h.role()), (m.org, m.role));
            assert_eq!(h.expires, m.expires().map_or(NEVER, |e| e.0));
            assert_eq!(
                h.org_wide().map(|g| (g.role, g.expires)),
                m.org_wide
                    .as_ref()
                    .map(|g| (g.role, g.expires().map_or(NEVER, |e| e.0)))
            );
            assert_eq!(h.grant_count(), m.grants.len());
            let projects = st.orgs.get(m.org as usize).unwrap().as_ref().unwrap();
            for &pid in projects.projects.iter().chain(&[u32::MAX - 1]) {
                let want = m
                    .grant(pid)
                    .map(|g| (g.role, g.expires().map_or(NEVER, |e| e.0)));
                assert_eq!(h.grant(pid).map(|g| (g.role, g.expires)), want);
            }
        }
    }
}

/// Every org's `who_can` index equals one built afresh from the views.
fn indexes_match_views(st: &State) {
    for (oid, org) in st.orgs.iter().enumerate() {
        let Some(org) = org else { continue };
        let oid = u32::try_from(oid).unwrap();
        let fresh = OrgIndex::build(oid, org.members.iter().filter_map(|&u| st.hot_by_id(u)));
        assert_eq!(fresh.members.len(), org.members.len());
        assert_eq!(st.org_index(oid), Some(&fresh), "org {}", org.slug);
    }
}

/// `check`, and `check_batch` over the same queries, against [`role_from_records`] for an
/// action of each minimum role, at each instant.
fn checks_match_records(g: &Graph, instants: &[Instant]) {
    let actions = [
        ("project:view", ProjectRole::Viewer),
        ("insight:create", ProjectRole::Member),
        ("feature_flag:manage", ProjectRole::Admin),
    ];
    let st = g.snapshot_state().unwrap();
    let emails: Vec<String> = EMAILS
        .iter()
        .map(|e| (*e).to_owned())
        .chain(st.users.iter().map(|u| u.email.to_string()))
        .collect();
    let projects: Vec<(u32, String)> = st
        .projects
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((u32::try_from(i).ok()?, p.as_ref()?.id.to_string())))
        .collect();
    // Each email spelled as stored, in upper case (found), and with a non-ASCII letter
    // in place of one byte (never found).
    let spellings: Vec<[String; 3]> = emails
        .iter()
        .map(|e| [e.clone(), e.to_ascii_uppercase(), e.replacen('a', "á", 1)])
        .collect();
    for &at in instants {
        let mut queries = Vec::new();
        let mut want = Vec::new();
        for (email, [_, upper, accented]) in emails.iter().zip(&spellings) {
            for (pid, project) in &projects {
                for (action, min) in actions {
                    let role = role_from_records(&st, email, *pid, at);
                    let allowed = role.is_some_and(|r| r >= min);
                    assert_eq!(
                        g.check(email, action, project, Some(at)).unwrap(),
                        allowed,
                        "{email} {action} {project} at {at:?}"
                    );
                    let spelled = match (*pid as usize + queries.len()) % 3 {
                        0 => email.as_str(),
                        1 => upper.as_str(),
                        _ => accented.as_str(),
                    };
                    // The accented spelling names no one, nor an upper-case one the
                    // mutations refuse (`A@LOCALHOST`).
                    let found = (spelled != accented.as_str() || accented == email)
                        && accessgraph::ids::email("user", spelled).is_ok();
                    queries.push((spelled, action, project.as_str()));
                    want.push(allowed && found);
                }
            }
        }
        // who_can, from the per-org index (built on the first call after a change),
        // against the same records.
        for (pid, project) in &projects {
            for (action, min) in actions {
                let mut want: Vec<String> = st
                    .users
                    .iter()
                    .filter(|u| {
                        role_from_records(&st, &u.email, *pid, at).is_some_and(|r| r >= min)
                    })
                    .map(|u| u.email.to_string())
                    .collect();
                want.sort();
                assert_eq!(
                    g.who_can(action, project, Some(at)).unwrap(),
                    want,
                    "who_can {action} {project} at {at:?}"
                );
            }
        }
        for (oid, org) in st.orgs.iter().enumerate() {
            let Some(org) = org else { continue };
            let oid = u32::try_from(oid).unwrap();
            let alive = |e: Option<Instant>| e.is_none_or(|e| at < e);
            let mut want: Vec<String> = st
                .users
                .iter()
                .filter(|u| u.membership(oid).is_some_and(|m| alive(m.expires())))
                .map(|u| u.email.to_string())
                .collect();
            want.sort();
            assert_eq!(g.who_can("org:view", &org.slug, Some(at)).unwrap(), want);
        }
        let clock = Clock::default();
        let mut got = Vec::new();
        g.peek(|st| {
            accessgraph::eval::evaluate::check_batch(
                st,
                &queries,
                &mut At::new(Some(at), &clock),
                &mut got,
            )
        })
        .unwrap();
        assert_eq!(got, want, "check_batch at {at:?}");
    }
}

#[test]
fn packed_views_follow_the_records_through_random_changes() {
    let g = Graph::new();
    g.set_time(Some(T0));
    // 30 orgs so that one user can be a member of all of them; the first has 40
    // projects, so a membership there can hold more grants than are scanned (16) and is
    // binary-searched.
    let orgs: Vec<String> = (0..30).map(|o| format!("org{o}")).collect();
    let mut projects = Vec::new();
    for (o, org) in orgs.iter().enumerate() {
        g.add_org(org, None, "owner@x.io", None).unwrap();
        for p in 0..(if o == 0 { 40 } else { 3 }) {
            let id = format!("{org}/p{p}");
            let new = NewProject {
                restricted: p % 7 == 3,
                default_role: (p % 11 == 5 && p % 7 != 3).then(|| "viewer".to_owned()),
                ..NewProject::default()
            };
            g.add_project(&id, new, None).unwrap();
            projects.push((o, id));
        }
    }
    let ends = [None, Some(days(1)), Some(days(2)), Some(days(3))];
    // Each expiry, the instant before it and after it, and the start.
    let instants: Vec<Instant> = std::iter::once(T0)
        .chain(
            ends.iter()
                .flatten()
                .flat_map(|e| [Instant(e.0 - 1), *e, Instant(e.0 + 1)]),
        )
        .collect();
    let roles = ["viewer", "member", "admin"];
    let mut rng = Lcg(16);
    let mut reached = [false; 4];
    // One user in every org, with a grant on every project of the first.
    for org in &orgs {
        g.add_member("abc@d.co", org, nm("member"), None).unwrap();
    }
    for (i, (_, project)) in projects.iter().enumerate().filter(|(_, (o, _))| *o == 0) {
        let expires = *ends.get(i % ends.len()).unwrap();
        let role = roles.get(i % 3).unwrap();
        g.grant("abc@d.co", project, role, expires, None, None)
            .unwrap();
    }
    checks_match_records(&g, &instants);
    g.peek(views_match_records);
    for step in 0..400 {
        let email = *rng.pick(EMAILS);
        let (o, project) = rng.pick(&projects);
        let org = orgs.get(if rng.below(2) == 0 { 0 } else { *o }).unwrap();
        let expires = *rng.pick(&ends);
        let role = *rng.pick(&roles);
        // Errors (no membership, last owner, ...) are part of the sequence: a refused
        // change must leave the views as they were.
        let _ = match rng.below(10) {
            0..=2 => g.grant(email, project, role, expires, None, None),
            3 => g.grant(email, &format!("{org}/*"), role, expires, None, None),
            4 => g.revoke(email, project, None),
            5 | 6 => {
                let new = accessgraph::graph::NewMember {
                    expires,
                    ..nm(if rng.below(8) == 0 { "admin" } else { "member" })
                };
                g.add_member(email, org, new, None)
            }
            7 => g.remove_member(email, org, None),
            8 => {
                let patch = MemberPatch {
                    expires: Some(expires),
                    ..MemberPatch::default()
                };
                g.update_member(email, org, patch, None)
            }
            _ => {
                // Erasure needs the user out of every org first.
                for org in &orgs {
                    let _ = g.remove_member(email, org, None);
                }
                g.erase_user(email, None, None, None).map(|_| ())
            }
        };
        g.peek(|st| {
            views_match_records(st);
            if step % 5 == 0 {
                indexes_match_views(st);
            }
            let ms = || st.users.iter().flat_map(|u| &u.memberships);
            let now = [
                st.users.iter().any(|u| u.email.starts_with("erased:")),
                ms().any(|m| m.grants.len() > 16),
                ms().any(|m| m.grants.iter().any(|g| g.expires().is_some())),
                st.users.iter().any(|u| u.memberships.len() >= 10),
            ];
            for (r, n) in reached.iter_mut().zip(now) {
                *r |= n;
            }
        });
        if step % 25 == 0 {
            checks_match_records(&g, &instants);
        }
    }
    checks_match_records(&g, &instants);
    // The sequence reached what it is meant to exercise.
    assert_eq!(
        reached, [true; 4],
        "erased, > 16 grants, expiring grants, 10 orgs"
    );
}

#[test]
fn a_grant_or_membership_ends_exactly_at_its_expiry() {
    let g = Graph::new();
    g.set_time(Some(T0));
    g.add_org("acme", None, "owner@x.io", None).unwrap();
    for p in ["acme/a", "acme/b", "acme/c"] {
        g.add_project(p, NewProject::default(), None).unwrap();
    }
    let e = days(2);
    g.add_member("m@x.io", "acme", nm("member"), None).unwrap();
    g.grant("m@x.io", "acme/a", "admin", Some(e), None, None)
        .unwrap();
    g.grant(
        "m@x.io",
        "acme/*",
        "viewer",
        Some(Instant(e.0 + 10)),
        None,
        None,
    )
    .unwrap();
    let allowed = |action: &str, project: &str, at: i64| {
        g.check("m@x.io", action, project, Some(Instant(at)))
            .unwrap()
    };
    assert!(allowed("feature_flag:manage", "acme/a", e.0 - 1));
    assert!(!allowed("feature_flag:manage", "acme/a", e.0));
    // The explicit grant is gone; the org-wide one still holds for ten microseconds.
    assert!(allowed("project:view", "acme/a", e.0));
    assert!(allowed("project:view", "acme/c", e.0 + 9));
    assert!(!allowed("project:view", "acme/c", e.0 + 10));
    // The membership's own expiry ends every grant with it.
    g.update_member(
        "m@x.io",
        "acme",
        MemberPatch {
            expires: Some(Some(Instant(e.0 - 5))),
            ..MemberPatch::default()
        },
        None,
    )
    .unwrap();
    assert!(allowed("org:view", "acme", e.0 - 6));
    assert!(!allowed("org:view", "acme", e.0 - 5));
    assert!(!allowed("project:view", "acme/a", e.0 - 5));
    // Far instants at both ends of the range.
    assert!(allowed("project:view", "acme/b", Instant::MIN.0));
    assert!(!allowed("project:view", "acme/b", Instant::MAX.0));
}

#[test]
fn check_batch_stops_at_the_first_error_with_the_answers_before_it() {
    let g = Graph::new();
    g.add_org("acme", None, "owner@x.io", None).unwrap();
    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    let ok = ("owner@x.io", "project:view", "acme/web");
    for (bad, kind) in [
        (("owner@x.io", "nope:nope", "acme/web"), "unknown action"),
        (("owner@x.io", "project:view", "acme"), "org target"),
    ] {
        let queries: Vec<_> = (0..40).map(|i| if i == 33 { bad } else { ok }).collect();
        let clock = Clock::default();
        let mut out = Vec::new();
        let r = g.peek(|st| {
            accessgraph::eval::evaluate::check_batch(
                st,
                &queries,
                &mut At::new(None, &clock),
                &mut out,
            )
        });
        assert!(r.is_err(), "{kind}");
        assert_eq!(out, vec![true; 33], "{kind}");
    }
}

#[test]
fn the_email_epoch_changes_exactly_when_an_id_may_name_another_email() {
    // The binding's cache of Python strings trusts (epoch, user id) → email: a copy, a
    // rebuilt state and an erasure must each show a new epoch; a user added keeps it.
    let g = Graph::new();
    g.add_org("acme", None, "owner@x.io", None).unwrap();
    let epoch = || g.peek(|st| st.emails_epoch.get());
    let first = epoch();
    g.add_member("jane@x.io", "acme", NewMember::default(), None)
        .unwrap();
    g.add_member("john@x.io", "acme", NewMember::default(), None)
        .unwrap();
    assert_eq!(epoch(), first, "a user added changes no id's email");
    let copy = g.snapshot_state().unwrap();
    assert_ne!(copy.emails_epoch.get(), first, "a copy may diverge");
    assert_ne!(
        copy.clone().emails_epoch.get(),
        copy.emails_epoch.get(),
        "every copy has its own"
    );
    let mut rebuilt = copy.clone();
    let before = rebuilt.emails_epoch.get();
    rebuilt.rebuild_hot();
    assert_ne!(rebuilt.emails_epoch.get(), before);
    g.remove_member("jane@x.io", "acme", None).unwrap();
    assert_eq!(epoch(), first);
    g.erase_user("jane@x.io", None, None, None).unwrap();
    assert_ne!(epoch(), first, "an erasure renames an id");
}
