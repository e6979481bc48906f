//! Authority over mutations (SPEC 2.3, SPEC 9 "Model and mutations" and "Further
//! decisions", docs/semantics.md "Mutations"): who may change what, the structural rules
//! that hold even for the system actor, the order of checks, and that a denied or failing
//! call changes nothing.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test stops at the first surprise, loudly"
)]

use std::fmt::{Debug, Write as _};

use accessgraph::audit::{replay, Filter};
use accessgraph::error::{ConflictError, NotFoundError, ValidationError};
use accessgraph::graph::{MemberPatch, NewMember, NewProject, ProjectPatch};
use accessgraph::roles::{OrgRole, ProjectRole, Role};
use accessgraph::{Error, Graph, Instant, Result};

mod common;
use common::{at as t, nm};

const OWNER: &str = "owner@acme.io";
const ADMIN: &str = "admin@acme.io";
const ADMIN2: &str = "admin2@acme.io";
const MEMBER: &str = "member@acme.io";
const MEMBER2: &str = "member2@acme.io";
/// An org member holding an admin grant on `acme/web`.
const PADMIN: &str = "padmin@acme.io";
/// An org admin whose membership expired on 2024-04-01.
const EXPIRED: &str = "expired@acme.io";
/// The owner of another org, not a member of `acme`.
const OUTSIDER: &str = "outsider@other.io";
/// Not known to the graph at all.
const STRANGER: &str = "nobody@nowhere.io";

const USERS: &[&str] = &[
    OWNER,
    ADMIN,
    ADMIN2,
    MEMBER,
    MEMBER2,
    PADMIN,
    EXPIRED,
    OUTSIDER,
    STRANGER,
    // Emails some failing calls would have introduced.
    "x@acme.io",
    "y@acme.io",
    "z@acme.io",
    "a3@acme.io",
    "b@acme.io",
    "o@acme.io",
    "o3@acme.io",
];
const TARGETS: &[&str] = &["acme", "other", "acme/web", "acme/prod", "acme/staging"];

fn nm_expiring(role: &str, expires: &str) -> NewMember {
    NewMember {
        role: Some(role.to_owned()),
        expires: Some(t(expires)),
        ..NewMember::default()
    }
}

struct Fx {
    g: Graph,
    /// Change events in the log when the fixture was built.
    base: usize,
}

/// The audit events that record changes (not `access.denied`).
fn change_events(g: &Graph) -> usize {
    g.audit_events(&Filter::default())
        .unwrap()
        .iter()
        .filter(|e| replay::is_change(&e.action))
        .count()
}

impl Fx {
    fn changes(&self) -> usize {
        change_events(&self.g) - self.base
    }
}

/// acme: owner, two admins, two members, a project admin by grant, an expired admin;
/// projects web (plain), prod (restricted), staging. `other`: the outsider's org.
/// Clock frozen at 2024-05-01T00:00Z.
fn fixture() -> Fx {
    let g = Graph::new();
    g.set_time(Some(t("2024-05-01T00:00:00Z")));
    g.add_org("acme", Some("Acme Corp"), OWNER, None).unwrap();
    g.add_org("other", None, OUTSIDER, None).unwrap();
    g.add_member(ADMIN, "acme", nm("admin"), None).unwrap();
    g.add_member(ADMIN2, "acme", nm("admin"), None).unwrap();
    g.add_member(MEMBER, "acme", nm("member"), None).unwrap();
    g.add_member(MEMBER2, "acme", nm("member"), None).unwrap();
    g.add_member(PADMIN, "acme", nm("member"), None).unwrap();
    g.add_member(EXPIRED, "acme", nm_expiring("admin", "2024-04-01"), None)
        .unwrap();
    for (id, restricted) in [
        ("acme/web", false),
        ("acme/prod", true),
        ("acme/staging", false),
    ] {
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
    g.grant(PADMIN, "acme/web", "admin", None, None, None)
        .unwrap();
    g.grant(MEMBER2, "acme/web", "viewer", None, None, None)
        .unwrap();
    let base = change_events(&g);
    Fx { g, base }
}

/// Everything observable about the graph: listings and every user's permissions.
fn fingerprint(g: &Graph) -> String {
    let mut s = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n",
        g.orgs(),
        g.projects(None),
        g.grants(None, None),
        g.resources(None)
    );
    for o in g.orgs().unwrap() {
        writeln!(s, "{:?}", g.members(&o.slug)).unwrap();
    }
    for u in USERS {
        writeln!(s, "{:?}", g.user(u)).unwrap();
        for target in TARGETS {
            writeln!(
                s,
                "{u} {target} {:?} {:?}",
                g.role(u, target, None),
                g.permissions(u, target, None)
            )
            .unwrap();
        }
    }
    s
}

/// Runs a call that must fail; asserts that it changed nothing and returns the error.
#[track_caller]
fn fails<T: Debug>(fx: &Fx, f: impl FnOnce(&Graph) -> Result<T>) -> Error {
    let before = fingerprint(&fx.g);
    let n = fx.changes();
    let err = match f(&fx.g) {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!(
        fingerprint(&fx.g),
        before,
        "the state changed on a failing call ({err})"
    );
    assert_eq!(
        fx.changes(),
        n,
        "changes were applied on a failing call ({err})"
    );
    err
}

#[track_caller]
fn denied<T: Debug>(fx: &Fx, f: impl FnOnce(&Graph) -> Result<T>) {
    match fails(fx, f) {
        Error::Permission(p) => assert!(!p.decision.allowed),
        e => panic!("expected PermissionDenied, got {e:?}"),
    }
}

#[track_caller]
fn conflict<T: Debug>(fx: &Fx, f: impl FnOnce(&Graph) -> Result<T>) -> ConflictError {
    match fails(fx, f) {
        Error::Conflict(c) => c,
        e => panic!("expected ConflictError, got {e:?}"),
    }
}

#[track_caller]
fn invalid<T: Debug>(fx: &Fx, f: impl FnOnce(&Graph) -> Result<T>) -> ValidationError {
    match fails(fx, f) {
        Error::Validation(v) => v,
        e => panic!("expected ValidationError, got {e:?}"),
    }
}

#[track_caller]
fn not_found<T: Debug>(fx: &Fx, f: impl FnOnce(&Graph) -> Result<T>) -> NotFoundError {
    match fails(fx, f) {
        Error::NotFound(n) => n,
        e => panic!("expected NotFoundError, got {e:?}"),
    }
}

#[track_caller]
fn last_owner(c: &ConflictError, user: &str, org: &str) {
    match c {
        ConflictError::LastOwner { user: u, org: o } => {
            assert_eq!((u.as_str(), o.as_str()), (user, org));
        }
        other => panic!("expected LastOwner, got {other:?}"),
    }
}

#[track_caller]
fn not_member(c: &ConflictError) {
    assert!(
        matches!(c, ConflictError::NotMember { .. }),
        "expected NotMember, got {c:?}"
    );
}

fn org_role(g: &Graph, user: &str, org: &str) -> Option<OrgRole> {
    g.members(org)
        .unwrap()
        .into_iter()
        .find(|m| m.user == user)
        .map(|m| m.role)
}

fn project_role(g: &Graph, user: &str, project: &str) -> Option<ProjectRole> {
    match g.role(user, project, None).unwrap() {
        Some(Role::Project(r)) => Some(r),
        None => None,
        Some(other) => panic!("org role {other:?} for a project"),
    }
}

fn grant_of(
    g: &Graph,
    user: &str,
    target: &str,
) -> Option<(ProjectRole, Option<Instant>, Option<String>)> {
    let gs = g.grants(Some(user), Some(target)).unwrap();
    assert!(
        gs.len() <= 1,
        "at most one grant per user and target: {gs:?}"
    );
    gs.into_iter().next().map(|g| (g.role, g.expires, g.reason))
}

fn reason(r: &str) -> MemberPatch {
    MemberPatch {
        reason: Some(Some(r.to_owned())),
        ..MemberPatch::default()
    }
}

// ----------------------------------------------------------------------------------
// Adding members
// ----------------------------------------------------------------------------------

#[test]
fn add_member_role_is_at_most_the_actors_own() {
    let fx = fixture();
    let g = &fx.g;
    g.add_member("a1@acme.io", "acme", nm("member"), Some(ADMIN))
        .unwrap();
    g.add_member("a2@acme.io", "acme", nm("admin"), Some(ADMIN))
        .unwrap();
    assert_eq!(org_role(g, "a1@acme.io", "acme"), Some(OrgRole::Member));
    assert_eq!(org_role(g, "a2@acme.io", "acme"), Some(OrgRole::Admin));
    // Only an owner adds an owner.
    denied(&fx, |g| {
        g.add_member("a3@acme.io", "acme", nm("owner"), Some(ADMIN))
    });
    g.add_member("o2@acme.io", "acme", nm("owner"), Some(OWNER))
        .unwrap();
    assert_eq!(org_role(g, "o2@acme.io", "acme"), Some(OrgRole::Owner));
    // The new member is recorded with who added them.
    let m = g
        .members("acme")
        .unwrap()
        .into_iter()
        .find(|m| m.user == "a1@acme.io")
        .unwrap();
    assert_eq!(m.granted_by.as_deref(), Some(ADMIN));
}

#[test]
fn add_member_needs_invite_authority() {
    let fx = fixture();
    // A plain member cannot invite while members_can_invite is off (the default).
    denied(&fx, |g| {
        g.add_member("x@acme.io", "acme", nm("member"), Some(MEMBER))
    });
    // A project admin by grant has no org authority.
    denied(&fx, |g| {
        g.add_member("x@acme.io", "acme", nm("member"), Some(PADMIN))
    });
    // Non-members and unknown users have none either.
    denied(&fx, |g| {
        g.add_member("x@acme.io", "acme", nm("member"), Some(OUTSIDER))
    });
    denied(&fx, |g| {
        g.add_member("x@acme.io", "acme", nm("member"), Some(STRANGER))
    });
    // An expired admin has no authority.
    denied(&fx, |g| {
        g.add_member("x@acme.io", "acme", nm("member"), Some(EXPIRED))
    });
}

#[test]
fn members_can_invite_lets_members_invite_members_only() {
    let fx = fixture();
    let g = &fx.g;
    g.update_org(
        "acme",
        None,
        vec![(
            "members_can_invite".to_owned(),
            Some(serde_json::json!(true)),
        )],
        Some(OWNER),
    )
    .unwrap();
    g.add_member("x@acme.io", "acme", nm("member"), Some(MEMBER))
        .unwrap();
    assert_eq!(org_role(g, "x@acme.io", "acme"), Some(OrgRole::Member));
    // Still at most the actor's own role.
    denied(&fx, |g| {
        g.add_member("y@acme.io", "acme", nm("admin"), Some(MEMBER))
    });
    denied(&fx, |g| {
        g.add_member("y@acme.io", "acme", nm("owner"), Some(MEMBER))
    });
    // The setting gives no other authority.
    denied(&fx, |g| {
        g.set_org_role(MEMBER2, "acme", "member", Some(MEMBER))
    });
    denied(&fx, |g| g.remove_member(MEMBER2, "acme", Some(MEMBER)));
    // Turning it off again takes the authority away.
    g.update_org(
        "acme",
        None,
        vec![(
            "members_can_invite".to_owned(),
            Some(serde_json::json!(false)),
        )],
        Some(ADMIN),
    )
    .unwrap();
    denied(&fx, |g| {
        g.add_member("z@acme.io", "acme", nm("member"), Some(MEMBER))
    });
}

#[test]
fn add_member_over_an_existing_membership_is_a_conflict() {
    let fx = fixture();
    let c = conflict(&fx, |g| g.add_member(MEMBER, "acme", nm("member"), None));
    assert!(matches!(c, ConflictError::Exists(_)), "{c:?}");
    let c = conflict(&fx, |g| {
        g.add_member(MEMBER, "acme", nm("admin"), Some(OWNER))
    });
    assert!(matches!(c, ConflictError::Exists(_)), "{c:?}");
    // Also over an expired membership: renew it with update_member instead.
    let c = conflict(&fx, |g| {
        g.add_member(EXPIRED, "acme", nm("member"), Some(OWNER))
    });
    assert!(matches!(c, ConflictError::Exists(_)), "{c:?}");
    // The same email in another case is the same user.
    conflict(&fx, |g| {
        g.add_member("MEMBER@Acme.IO", "acme", nm("member"), None)
    });
}

#[test]
fn owner_memberships_cannot_expire() {
    let fx = fixture();
    invalid(&fx, |g| {
        g.add_member(
            "o@acme.io",
            "acme",
            nm_expiring("owner", "2025-01-01"),
            None,
        )
    });
    invalid(&fx, |g| {
        g.add_member(
            "o@acme.io",
            "acme",
            nm_expiring("owner", "2025-01-01"),
            Some(OWNER),
        )
    });
    // Promoting an expiring member to owner.
    fx.g.add_member(
        "temp@acme.io",
        "acme",
        nm_expiring("member", "2025-01-01"),
        None,
    )
    .unwrap();
    invalid(&fx, |g| {
        g.set_org_role("temp@acme.io", "acme", "owner", Some(OWNER))
    });
    invalid(&fx, |g| {
        g.set_org_role("temp@acme.io", "acme", "owner", None)
    });
    // Validation comes first: also for an actor without authority.
    invalid(&fx, |g| {
        g.set_org_role("temp@acme.io", "acme", "owner", Some(MEMBER))
    });
    // Giving an owner an expiry.
    invalid(&fx, |g| {
        g.update_member(
            OWNER,
            "acme",
            MemberPatch {
                expires: Some(Some(t("2025-01-01"))),
                ..MemberPatch::default()
            },
            None,
        )
    });
    // A non-owner role with an expiry is fine, and so is admin for the expiring member.
    fx.g.set_org_role("temp@acme.io", "acme", "admin", Some(OWNER))
        .unwrap();
    // Once the expiry is cleared, promotion to owner works.
    fx.g.update_member(
        "temp@acme.io",
        "acme",
        MemberPatch {
            expires: Some(None),
            ..MemberPatch::default()
        },
        Some(OWNER),
    )
    .unwrap();
    fx.g.set_org_role("temp@acme.io", "acme", "owner", Some(OWNER))
        .unwrap();
    assert_eq!(
        org_role(&fx.g, "temp@acme.io", "acme"),
        Some(OrgRole::Owner)
    );
}

// ----------------------------------------------------------------------------------
// Changing org roles
// ----------------------------------------------------------------------------------

#[test]
fn nobody_changes_their_own_org_role() {
    let fx = fixture();
    for (who, role) in [
        (OWNER, "admin"),
        (OWNER, "member"),
        (OWNER, "owner"), // same role: still refused (authority before the no-op)
        (ADMIN, "owner"),
        (ADMIN, "member"),
        (ADMIN, "admin"),
        (MEMBER, "admin"),
        (MEMBER, "member"),
    ] {
        denied(&fx, |g| g.set_org_role(who, "acme", role, Some(who)));
        // In another case too.
        denied(&fx, |g| {
            g.set_org_role(&who.to_uppercase(), "acme", role, Some(who))
        });
    }
}

#[test]
fn role_changes_are_bounded_by_the_actors_rank() {
    let fx = fixture();
    let g = &fx.g;
    g.add_member("owner2@acme.io", "acme", nm("owner"), None)
        .unwrap();
    // Admin: members and admins, up to admin.
    g.set_org_role(MEMBER, "acme", "admin", Some(ADMIN))
        .unwrap();
    assert_eq!(org_role(g, MEMBER, "acme"), Some(OrgRole::Admin));
    g.set_org_role(ADMIN2, "acme", "member", Some(ADMIN))
        .unwrap();
    assert_eq!(org_role(g, ADMIN2, "acme"), Some(OrgRole::Member));
    // New role above the actor's: only owners make owners.
    denied(&fx, |g| {
        g.set_org_role(MEMBER2, "acme", "owner", Some(ADMIN))
    });
    denied(&fx, |g| {
        g.set_org_role(MEMBER, "acme", "owner", Some(ADMIN))
    });
    // Target's current role above the actor's.
    denied(&fx, |g| {
        g.set_org_role("owner2@acme.io", "acme", "admin", Some(ADMIN))
    });
    denied(&fx, |g| {
        g.set_org_role("owner2@acme.io", "acme", "member", Some(ADMIN))
    });
    denied(&fx, |g| g.set_org_role(OWNER, "acme", "owner", Some(ADMIN)));
    // Members have no org:manage_roles.
    denied(&fx, |g| {
        g.set_org_role(MEMBER2, "acme", "admin", Some(PADMIN))
    });
    denied(&fx, |g| {
        g.set_org_role(ADMIN2, "acme", "member", Some(MEMBER2))
    });
    denied(&fx, |g| {
        g.set_org_role(MEMBER2, "acme", "admin", Some(OUTSIDER))
    });
    denied(&fx, |g| {
        g.set_org_role(MEMBER2, "acme", "admin", Some(STRANGER))
    });
    // Owners change anyone's role, including making owners and demoting other owners.
    g.set_org_role(MEMBER2, "acme", "owner", Some(OWNER))
        .unwrap();
    assert_eq!(org_role(g, MEMBER2, "acme"), Some(OrgRole::Owner));
    g.set_org_role("owner2@acme.io", "acme", "member", Some(OWNER))
        .unwrap();
    assert_eq!(org_role(g, "owner2@acme.io", "acme"), Some(OrgRole::Member));
    g.set_org_role(MEMBER, "acme", "member", Some(OWNER))
        .unwrap();
    assert_eq!(org_role(g, MEMBER, "acme"), Some(OrgRole::Member));
}

#[test]
fn same_role_is_a_no_op() {
    let fx = fixture();
    let before = fingerprint(&fx.g);
    fx.g.set_org_role(MEMBER, "acme", "member", Some(OWNER))
        .unwrap();
    fx.g.set_org_role(ADMIN2, "acme", "admin", Some(ADMIN))
        .unwrap();
    fx.g.set_org_role(OWNER, "acme", "owner", None).unwrap(); // even the last owner
    assert_eq!(fingerprint(&fx.g), before);
    assert_eq!(fx.changes(), 0, "a same-role change appends nothing");
    // Someone without authority is still refused on a no-op.
    denied(&fx, |g| {
        g.set_org_role(MEMBER2, "acme", "member", Some(MEMBER))
    });
    denied(&fx, |g| g.set_org_role(OWNER, "acme", "owner", Some(ADMIN)));
}

#[test]
fn last_owner_cannot_be_demoted() {
    let fx = fixture();
    let c = conflict(&fx, |g| g.set_org_role(OWNER, "acme", "admin", None));
    last_owner(&c, OWNER, "acme");
    let c = conflict(&fx, |g| g.set_org_role(OWNER, "acme", "member", None));
    last_owner(&c, OWNER, "acme");
    // With a second owner, one may be demoted; then the other is the last.
    fx.g.add_member("owner2@acme.io", "acme", nm("owner"), None)
        .unwrap();
    fx.g.set_org_role(OWNER, "acme", "admin", Some("owner2@acme.io"))
        .unwrap();
    assert_eq!(org_role(&fx.g, OWNER, "acme"), Some(OrgRole::Admin));
    let c = conflict(&fx, |g| {
        g.set_org_role("owner2@acme.io", "acme", "admin", None)
    });
    last_owner(&c, "owner2@acme.io", "acme");
}

#[test]
fn set_org_role_structural_rules() {
    let fx = fixture();
    // Not a member (expired memberships are not memberships).
    not_member(&conflict(&fx, |g| {
        g.set_org_role(OUTSIDER, "acme", "admin", None)
    }));
    not_member(&conflict(&fx, |g| {
        g.set_org_role(STRANGER, "acme", "admin", None)
    }));
    not_member(&conflict(&fx, |g| {
        g.set_org_role(OUTSIDER, "acme", "member", Some(OWNER))
    }));
    not_member(&conflict(&fx, |g| {
        g.set_org_role(EXPIRED, "acme", "member", None)
    }));
    not_member(&conflict(&fx, |g| {
        g.set_org_role(EXPIRED, "acme", "member", Some(OWNER))
    }));
    // Bad arguments and unknown orgs.
    invalid(&fx, |g| {
        g.set_org_role(MEMBER, "acme", "superuser", Some(OWNER))
    });
    invalid(&fx, |g| {
        g.set_org_role(MEMBER, "acme", "viewer", Some(OWNER))
    });
    invalid(&fx, |g| {
        g.set_org_role("not an email", "acme", "admin", Some(OWNER))
    });
    not_found(&fx, |g| g.set_org_role(MEMBER, "nope", "admin", None));
}

// ----------------------------------------------------------------------------------
// Removing members and leaving
// ----------------------------------------------------------------------------------

#[test]
fn remove_member_target_at_most_the_actors_rank() {
    let fx = fixture();
    let g = &fx.g;
    g.add_member("owner2@acme.io", "acme", nm("owner"), None)
        .unwrap();
    // Admins remove members and admins.
    g.remove_member(MEMBER, "acme", Some(ADMIN)).unwrap();
    assert_eq!(org_role(g, MEMBER, "acme"), None);
    g.remove_member(ADMIN2, "acme", Some(ADMIN)).unwrap();
    assert_eq!(org_role(g, ADMIN2, "acme"), None);
    // ... not owners.
    denied(&fx, |g| {
        g.remove_member("owner2@acme.io", "acme", Some(ADMIN))
    });
    denied(&fx, |g| g.remove_member(OWNER, "acme", Some(ADMIN)));
    // Members remove nobody else (not even with a project admin grant).
    denied(&fx, |g| g.remove_member(MEMBER2, "acme", Some(PADMIN)));
    denied(&fx, |g| g.remove_member(PADMIN, "acme", Some(MEMBER2)));
    denied(&fx, |g| g.remove_member(MEMBER2, "acme", Some(OUTSIDER)));
    denied(&fx, |g| g.remove_member(MEMBER2, "acme", Some(STRANGER)));
    // Owners remove anyone, owners included.
    g.remove_member(ADMIN, "acme", Some(OWNER)).unwrap();
    g.remove_member("owner2@acme.io", "acme", Some(OWNER))
        .unwrap();
    assert_eq!(org_role(g, "owner2@acme.io", "acme"), None);
    g.remove_member(MEMBER2, "acme", Some(OWNER)).unwrap();
    assert_eq!(
        g.members("acme")
            .unwrap()
            .iter()
            .map(|m| m.user.as_str())
            .collect::<Vec<_>>(),
        vec![EXPIRED, OWNER, PADMIN]
    );
}

#[test]
fn anyone_may_leave() {
    let fx = fixture();
    let g = &fx.g;
    g.remove_member(MEMBER, "acme", Some(MEMBER)).unwrap();
    g.remove_member(ADMIN, "acme", Some(ADMIN)).unwrap();
    g.remove_member(PADMIN, "acme", Some("PAdmin@ACME.io"))
        .unwrap();
    // An expired member may still leave.
    g.remove_member(EXPIRED, "acme", Some(EXPIRED)).unwrap();
    // An owner may leave while another owner remains.
    g.add_member("owner2@acme.io", "acme", nm("owner"), None)
        .unwrap();
    g.remove_member(OWNER, "acme", Some(OWNER)).unwrap();
    let left: Vec<String> = g
        .members("acme")
        .unwrap()
        .into_iter()
        .map(|m| m.user)
        .collect();
    assert_eq!(left, vec![ADMIN2, MEMBER2, "owner2@acme.io"]);
    assert!(g.grants(Some(PADMIN), None).unwrap().is_empty());
}

#[test]
fn last_owner_cannot_leave_or_be_removed() {
    let fx = fixture();
    last_owner(
        &conflict(&fx, |g| g.remove_member(OWNER, "acme", Some(OWNER))),
        OWNER,
        "acme",
    );
    last_owner(
        &conflict(&fx, |g| g.remove_member(OWNER, "acme", None)),
        OWNER,
        "acme",
    );
    last_owner(
        &conflict(&fx, |g| g.remove_member(OUTSIDER, "other", None)),
        OUTSIDER,
        "other",
    );
    // Someone without authority gets PermissionDenied, not the conflict.
    denied(&fx, |g| g.remove_member(OWNER, "acme", Some(ADMIN)));
    denied(&fx, |g| g.remove_member(OWNER, "acme", Some(MEMBER)));
}

#[test]
fn remove_member_removes_their_grants_for_good() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(PADMIN, "acme/*", "viewer", None, None, None)
        .unwrap();
    let rid = g
        .add_resource("acme/web", "dashboard", "7", Some(PADMIN), None)
        .unwrap();
    g.add_member(PADMIN, "other", nm("member"), None).unwrap();
    g.grant(PADMIN, "other/*", "member", None, None, None)
        .unwrap();
    assert_eq!(g.grants(Some(PADMIN), None).unwrap().len(), 3);
    g.remove_member(PADMIN, "acme", Some(OWNER)).unwrap();
    // Their grants in acme are gone, the grant in `other` stays.
    let left: Vec<String> = g
        .grants(Some(PADMIN), None)
        .unwrap()
        .into_iter()
        .map(|g| g.target)
        .collect();
    assert_eq!(left, vec!["other/*"]);
    assert_eq!(project_role(g, PADMIN, "acme/web"), None);
    // The resource keeps its owner.
    let res = g.resources(Some("acme/web")).unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(
        (res[0].id.as_str(), res[0].owner.as_str()),
        (rid.as_str(), PADMIN)
    );
    // Re-adding does not bring the grants back.
    g.add_member(PADMIN, "acme", nm("member"), Some(ADMIN))
        .unwrap();
    assert!(g.grants(Some(PADMIN), Some("acme/web")).unwrap().is_empty());
    assert!(g.grants(Some(PADMIN), Some("acme/*")).unwrap().is_empty());
    assert_eq!(project_role(g, PADMIN, "acme/web"), None);
    assert!(!g.check(PADMIN, "dashboard:edit", &rid, None).unwrap());
}

#[test]
fn removing_a_non_member_is_a_conflict() {
    let fx = fixture();
    not_member(&conflict(&fx, |g| g.remove_member(OUTSIDER, "acme", None)));
    not_member(&conflict(&fx, |g| {
        g.remove_member(OUTSIDER, "acme", Some(OWNER))
    }));
    not_member(&conflict(&fx, |g| {
        g.remove_member(STRANGER, "acme", Some(STRANGER))
    }));
    not_found(&fx, |g| g.remove_member(MEMBER, "nope", None));
    invalid(&fx, |g| g.remove_member("bad email", "acme", None));
}

// ----------------------------------------------------------------------------------
// Grants and revokes
// ----------------------------------------------------------------------------------

#[test]
fn project_admin_by_grant_may_grant_on_that_project_only() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(MEMBER, "acme/web", "member", None, None, Some(PADMIN))
        .unwrap();
    assert_eq!(
        project_role(g, MEMBER, "acme/web"),
        Some(ProjectRole::Member)
    );
    g.grant(MEMBER, "acme/web", "admin", None, None, Some(PADMIN))
        .unwrap();
    assert_eq!(
        project_role(g, MEMBER, "acme/web"),
        Some(ProjectRole::Admin)
    );
    denied(&fx, |g| {
        g.grant(MEMBER, "acme/staging", "viewer", None, None, Some(PADMIN))
    });
    denied(&fx, |g| {
        g.grant(MEMBER, "acme/prod", "viewer", None, None, Some(PADMIN))
    });
    denied(&fx, |g| {
        g.grant(MEMBER, "acme/*", "viewer", None, None, Some(PADMIN))
    });
    // Revoking on the same project is covered by the same authority.
    g.revoke(MEMBER2, "acme/web", Some(PADMIN)).unwrap();
    assert_eq!(project_role(g, MEMBER2, "acme/web"), None);
    // Viewers and project members may not grant.
    g.grant(MEMBER2, "acme/web", "member", None, None, None)
        .unwrap();
    denied(&fx, |g| {
        g.grant(ADMIN2, "acme/web", "viewer", None, None, Some(MEMBER2))
    });
    g.grant(MEMBER2, "acme/web", "viewer", None, None, None)
        .unwrap();
    denied(&fx, |g| {
        g.grant(ADMIN2, "acme/web", "viewer", None, None, Some(MEMBER2))
    });
    denied(&fx, |g| {
        g.grant(MEMBER2, "acme/web", "viewer", None, None, Some(OUTSIDER))
    });
    denied(&fx, |g| {
        g.grant(MEMBER2, "acme/web", "viewer", None, None, Some(STRANGER))
    });
}

#[test]
fn org_admins_grant_on_every_project_including_restricted() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(MEMBER, "acme/prod", "viewer", None, None, Some(ADMIN))
        .unwrap();
    g.grant(MEMBER, "acme/staging", "member", None, None, Some(OWNER))
        .unwrap();
    assert_eq!(
        project_role(g, MEMBER, "acme/prod"),
        Some(ProjectRole::Viewer)
    );
    assert_eq!(
        project_role(g, MEMBER, "acme/staging"),
        Some(ProjectRole::Member)
    );
}

#[test]
fn org_wide_grants_need_org_admin_or_owner() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(MEMBER, "acme/*", "viewer", None, None, Some(ADMIN))
        .unwrap();
    g.grant(MEMBER2, "acme/*", "member", None, None, Some(OWNER))
        .unwrap();
    assert_eq!(
        project_role(g, MEMBER, "acme/staging"),
        Some(ProjectRole::Viewer)
    );
    denied(&fx, |g| {
        g.grant(ADMIN2, "acme/*", "viewer", None, None, Some(PADMIN))
    });
    // An owner of another org has no authority in this one.
    denied(&fx, |g| {
        g.grant(ADMIN2, "acme/*", "viewer", None, None, Some(OUTSIDER))
    });
    denied(&fx, |g| g.revoke(MEMBER, "acme/*", Some(PADMIN)));
    // Project admin on every unrestricted project through `acme/*` is not org admin.
    g.grant(MEMBER2, "acme/*", "admin", None, None, None)
        .unwrap();
    g.grant(MEMBER, "acme/web", "member", None, None, Some(MEMBER2))
        .unwrap();
    denied(&fx, |g| {
        g.grant(PADMIN, "acme/*", "viewer", None, None, Some(MEMBER2))
    });
    denied(&fx, |g| g.revoke(MEMBER, "acme/*", Some(MEMBER2)));
    // ... and it does not reach restricted projects.
    denied(&fx, |g| {
        g.grant(MEMBER, "acme/prod", "viewer", None, None, Some(MEMBER2))
    });
    g.revoke(MEMBER, "acme/*", Some(ADMIN)).unwrap();
    assert!(g.grants(Some(MEMBER), Some("acme/*")).unwrap().is_empty());
}

#[test]
fn nobody_grants_themselves() {
    let fx = fixture();
    denied(&fx, |g| {
        g.grant(ADMIN, "acme/web", "admin", None, None, Some(ADMIN))
    });
    denied(&fx, |g| {
        g.grant(OWNER, "acme/prod", "viewer", None, None, Some(OWNER))
    });
    denied(&fx, |g| {
        g.grant(OWNER, "acme/*", "viewer", None, None, Some(OWNER))
    });
    denied(&fx, |g| {
        g.grant(PADMIN, "acme/web", "member", None, None, Some(PADMIN))
    });
    denied(&fx, |g| {
        g.grant(
            PADMIN,
            "acme/web",
            "admin",
            None,
            None,
            Some("PADMIN@acme.io"),
        )
    });
    denied(&fx, |g| {
        g.grant(MEMBER2, "acme/web", "admin", None, None, Some(MEMBER2))
    });
}

#[test]
fn a_grant_needs_an_unexpired_membership() {
    let fx = fixture();
    // Even the system actor cannot grant to a non-member.
    not_member(&conflict(&fx, |g| {
        g.grant(OUTSIDER, "acme/web", "viewer", None, None, None)
    }));
    not_member(&conflict(&fx, |g| {
        g.grant(STRANGER, "acme/web", "viewer", None, None, None)
    }));
    not_member(&conflict(&fx, |g| {
        g.grant(OUTSIDER, "acme/*", "viewer", None, None, Some(OWNER))
    }));
    not_member(&conflict(&fx, |g| {
        g.grant(EXPIRED, "acme/web", "viewer", None, None, None)
    }));
    not_member(&conflict(&fx, |g| {
        g.grant(EXPIRED, "acme/web", "viewer", None, None, Some(OWNER))
    }));
    // Without authority the answer is PermissionDenied, not the conflict.
    denied(&fx, |g| {
        g.grant(OUTSIDER, "acme/web", "viewer", None, None, Some(MEMBER))
    });
    // The user object is not created by a failed grant.
    assert!(fx.g.user(STRANGER).is_err());
}

#[test]
fn granting_again_replaces_the_grant() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(
        MEMBER,
        "acme/web",
        "viewer",
        Some(t("2024-06-01")),
        Some("on-call".to_owned()),
        Some(ADMIN),
    )
    .unwrap();
    assert_eq!(
        grant_of(g, MEMBER, "acme/web"),
        Some((
            ProjectRole::Viewer,
            Some(t("2024-06-01")),
            Some("on-call".to_owned())
        ))
    );
    g.grant(
        MEMBER,
        "acme/web",
        "admin",
        None,
        Some("lead".to_owned()),
        Some(PADMIN),
    )
    .unwrap();
    assert_eq!(
        grant_of(g, MEMBER, "acme/web"),
        Some((ProjectRole::Admin, None, Some("lead".to_owned())))
    );
    // Downgrade and no reason.
    g.grant(MEMBER, "acme/web", "viewer", None, None, Some(OWNER))
        .unwrap();
    assert_eq!(
        grant_of(g, MEMBER, "acme/web"),
        Some((ProjectRole::Viewer, None, None))
    );
    assert_eq!(g.grants(Some(MEMBER), None).unwrap().len(), 1);
    // Same for org-wide grants.
    g.grant(
        MEMBER,
        "acme/*",
        "member",
        Some(t("2025-01-01")),
        None,
        None,
    )
    .unwrap();
    g.grant(MEMBER, "acme/*", "viewer", None, None, Some(ADMIN))
        .unwrap();
    assert_eq!(
        grant_of(g, MEMBER, "acme/*"),
        Some((ProjectRole::Viewer, None, None))
    );
    assert_eq!(g.grants(Some(MEMBER), None).unwrap().len(), 2);
}

#[test]
fn grant_arguments_are_validated_and_targets_found() {
    let fx = fixture();
    invalid(&fx, |g| {
        g.grant(MEMBER, "acme/web", "owner", None, None, None)
    });
    invalid(&fx, |g| g.grant(MEMBER, "acme", "viewer", None, None, None));
    invalid(&fx, |g| {
        g.grant(MEMBER, "Acme/Web", "viewer", None, None, None)
    });
    invalid(&fx, |g| {
        g.grant("no-at-sign", "acme/web", "viewer", None, None, None)
    });
    not_found(&fx, |g| {
        g.grant(MEMBER, "acme/nope", "viewer", None, None, None)
    });
    not_found(&fx, |g| {
        g.grant(MEMBER, "nope/*", "viewer", None, None, Some(OWNER))
    });
    not_found(&fx, |g| {
        g.grant(MEMBER, "nope/web", "viewer", None, None, Some(STRANGER))
    });
}

#[test]
fn anyone_may_revoke_their_own_grants() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(MEMBER, "acme/*", "member", None, None, None)
        .unwrap();
    g.revoke(MEMBER2, "acme/web", Some(MEMBER2)).unwrap();
    g.revoke(MEMBER, "acme/*", Some("Member@Acme.io")).unwrap();
    g.revoke(PADMIN, "acme/web", Some(PADMIN)).unwrap();
    assert!(g.grants(None, None).unwrap().is_empty());
}

#[test]
fn revoking_others_needs_grant_authority() {
    let fx = fixture();
    let g = &fx.g;
    g.grant(MEMBER, "acme/web", "member", None, None, None)
        .unwrap();
    denied(&fx, |g| g.revoke(MEMBER2, "acme/web", Some(MEMBER)));
    denied(&fx, |g| g.revoke(PADMIN, "acme/web", Some(MEMBER2)));
    denied(&fx, |g| g.revoke(MEMBER2, "acme/web", Some(OUTSIDER)));
    denied(&fx, |g| g.revoke(MEMBER2, "acme/web", Some(EXPIRED)));
    // No such grant: NotFound (after authority).
    let n = not_found(&fx, |g| g.revoke(MEMBER, "acme/staging", Some(ADMIN)));
    assert!(matches!(n, NotFoundError::Grant { .. }), "{n:?}");
    not_found(&fx, |g| g.revoke(MEMBER, "acme/*", None));
    not_found(&fx, |g| g.revoke(OUTSIDER, "acme/web", None));
    denied(&fx, |g| g.revoke(MEMBER, "acme/staging", Some(MEMBER2)));
    g.revoke(MEMBER2, "acme/web", Some(ADMIN)).unwrap();
    g.revoke(MEMBER, "acme/web", Some(OWNER)).unwrap();
    g.revoke(PADMIN, "acme/web", None).unwrap();
    assert!(g.grants(None, None).unwrap().is_empty());
}

// ----------------------------------------------------------------------------------
// Projects
// ----------------------------------------------------------------------------------

#[test]
fn project_create_needs_org_admin() {
    let fx = fixture();
    let g = &fx.g;
    g.add_project("acme/a", NewProject::default(), Some(ADMIN))
        .unwrap();
    g.add_project("acme/b", NewProject::default(), Some(OWNER))
        .unwrap();
    for who in [MEMBER, PADMIN, EXPIRED, OUTSIDER, STRANGER] {
        denied(&fx, |g| {
            g.add_project("acme/c", NewProject::default(), Some(who))
        });
    }
    let ids: Vec<String> = g
        .projects(Some("acme"))
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(
        ids,
        vec!["acme/a", "acme/b", "acme/prod", "acme/staging", "acme/web"]
    );
    // Structural and argument rules.
    let c = conflict(&fx, |g| {
        g.add_project("acme/web", NewProject::default(), Some(ADMIN))
    });
    assert!(matches!(c, ConflictError::Exists(_)), "{c:?}");
    conflict(&fx, |g| {
        g.add_project("acme/web", NewProject::default(), None)
    });
    denied(&fx, |g| {
        g.add_project("acme/web", NewProject::default(), Some(MEMBER))
    });
    invalid(&fx, |g| {
        g.add_project(
            "acme/r",
            NewProject {
                restricted: true,
                default_role: Some("viewer".to_owned()),
                ..NewProject::default()
            },
            None,
        )
    });
    invalid(&fx, |g| {
        g.add_project(
            "acme/d",
            NewProject {
                default_role: Some("owner".to_owned()),
                ..NewProject::default()
            },
            None,
        )
    });
    invalid(&fx, |g| g.add_project("acme", NewProject::default(), None));
    invalid(&fx, |g| {
        g.add_project("acme/Bad Slug", NewProject::default(), None)
    });
    not_found(&fx, |g| {
        g.add_project("nope/x", NewProject::default(), Some(STRANGER))
    });
}

#[test]
fn project_delete_needs_org_owner() {
    let fx = fixture();
    let g = &fx.g;
    let rid = g
        .add_resource("acme/web", "insight", "1", Some(MEMBER2), None)
        .unwrap();
    denied(&fx, |g| g.remove_project("acme/web", Some(ADMIN)));
    denied(&fx, |g| g.remove_project("acme/web", Some(PADMIN)));
    denied(&fx, |g| g.remove_project("acme/web", Some(MEMBER)));
    denied(&fx, |g| g.remove_project("acme/web", Some(OUTSIDER)));
    g.remove_project("acme/web", Some(OWNER)).unwrap();
    assert!(g
        .projects(Some("acme"))
        .unwrap()
        .iter()
        .all(|p| p.id != "acme/web"));
    assert!(g.grants(None, Some("acme/web")).unwrap().is_empty());
    assert!(g.grants(Some(PADMIN), None).unwrap().is_empty());
    assert!(!g.check(MEMBER2, "insight:view", &rid, None).unwrap());
    assert!(g.resources(None).unwrap().is_empty());
    not_found(&fx, |g| g.remove_project("acme/web", Some(OWNER)));
    g.remove_project("acme/staging", None).unwrap();
}

#[test]
fn project_settings_need_project_admin() {
    let fx = fixture();
    let g = &fx.g;
    let rename = |n: &str| ProjectPatch {
        name: Some(n.to_owned()),
        ..ProjectPatch::default()
    };
    g.update_project("acme/web", rename("Web"), Some(PADMIN))
        .unwrap();
    g.update_project("acme/prod", rename("Production"), Some(ADMIN))
        .unwrap();
    g.update_project("acme/staging", rename("Staging"), Some(OWNER))
        .unwrap();
    denied(&fx, |g| {
        g.update_project("acme/staging", rename("x"), Some(PADMIN))
    });
    denied(&fx, |g| {
        g.update_project("acme/web", rename("x"), Some(MEMBER2))
    });
    denied(&fx, |g| {
        g.update_project("acme/web", rename("x"), Some(MEMBER))
    });
    denied(&fx, |g| {
        g.update_project("acme/web", rename("x"), Some(EXPIRED))
    });
    denied(&fx, |g| {
        g.update_project("acme/web", rename("x"), Some(OUTSIDER))
    });
    // A project member cannot open the project to everyone.
    g.grant(MEMBER, "acme/web", "member", None, None, None)
        .unwrap();
    denied(&fx, |g| {
        g.update_project(
            "acme/web",
            ProjectPatch {
                default_role: Some(Some("admin".to_owned())),
                ..ProjectPatch::default()
            },
            Some(MEMBER),
        )
    });
    let names: Vec<String> = g
        .projects(Some("acme"))
        .unwrap()
        .into_iter()
        .map(|p| p.attrs.name)
        .collect();
    assert_eq!(names, vec!["Production", "Staging", "Web"]);
    // Settings merge; None deletes a key.
    g.update_project(
        "acme/web",
        ProjectPatch {
            settings: vec![("retention".to_owned(), Some(serde_json::json!(30)))],
            ..ProjectPatch::default()
        },
        Some(PADMIN),
    )
    .unwrap();
    let web = |g: &Graph| {
        g.projects(Some("acme"))
            .unwrap()
            .into_iter()
            .find(|p| p.id == "acme/web")
            .unwrap()
    };
    assert_eq!(
        web(g).attrs.settings.get("retention"),
        Some(&serde_json::json!(30))
    );
    g.update_project(
        "acme/web",
        ProjectPatch {
            settings: vec![("retention".to_owned(), None)],
            ..ProjectPatch::default()
        },
        Some(ADMIN),
    )
    .unwrap();
    assert!(web(g).attrs.settings.is_empty());
    not_found(&fx, |g| {
        g.update_project("acme/nope", rename("x"), Some(STRANGER))
    });
}

#[test]
fn restricted_projects_cannot_have_a_default_role() {
    let fx = fixture();
    let g = &fx.g;
    let default = |r: Option<&str>| ProjectPatch {
        default_role: Some(r.map(str::to_owned)),
        ..ProjectPatch::default()
    };
    invalid(&fx, |g| {
        g.update_project("acme/prod", default(Some("viewer")), None)
    });
    invalid(&fx, |g| {
        g.update_project("acme/prod", default(Some("viewer")), Some(OWNER))
    });
    g.update_project("acme/web", default(Some("viewer")), Some(PADMIN))
        .unwrap();
    assert_eq!(
        project_role(g, MEMBER, "acme/web"),
        Some(ProjectRole::Viewer)
    );
    let restrict = ProjectPatch {
        restricted: Some(true),
        ..ProjectPatch::default()
    };
    invalid(&fx, |g| {
        g.update_project("acme/web", restrict.clone(), Some(ADMIN))
    });
    invalid(&fx, |g| {
        g.update_project("acme/web", restrict.clone(), None)
    });
    // Restricting and clearing the default in one call is allowed.
    g.update_project(
        "acme/web",
        ProjectPatch {
            restricted: Some(true),
            default_role: Some(None),
            ..ProjectPatch::default()
        },
        Some(ADMIN),
    )
    .unwrap();
    assert_eq!(project_role(g, MEMBER, "acme/web"), None);
    invalid(&fx, |g| {
        g.update_project("acme/web", default(Some("nobody")), None)
    });
}

// ----------------------------------------------------------------------------------
// Orgs
// ----------------------------------------------------------------------------------

#[test]
fn org_settings_need_org_admin() {
    let fx = fixture();
    let g = &fx.g;
    g.update_org("acme", Some("Acme Inc".to_owned()), vec![], Some(ADMIN))
        .unwrap();
    assert_eq!(g.orgs().unwrap()[0].name, "Acme Inc");
    g.update_org(
        "acme",
        None,
        vec![("plan".to_owned(), Some(serde_json::json!("scale")))],
        Some(OWNER),
    )
    .unwrap();
    assert_eq!(
        g.orgs().unwrap()[0].settings.get("plan"),
        Some(&serde_json::json!("scale"))
    );
    for who in [MEMBER, PADMIN, EXPIRED, OUTSIDER, STRANGER] {
        denied(&fx, |g| {
            g.update_org("acme", Some("x".to_owned()), vec![], Some(who))
        });
    }
    invalid(&fx, |g| {
        g.update_org(
            "acme",
            None,
            vec![(
                "members_can_invite".to_owned(),
                Some(serde_json::json!("yes")),
            )],
            Some(OWNER),
        )
    });
    not_found(&fx, |g| g.update_org("nope", None, vec![], Some(OWNER)));
}

#[test]
fn org_delete_needs_org_owner() {
    let fx = fixture();
    let g = &fx.g;
    for who in [ADMIN, MEMBER, PADMIN, OUTSIDER, STRANGER, EXPIRED] {
        denied(&fx, |g| g.remove_org("acme", Some(who)));
    }
    g.remove_org("acme", Some(OWNER)).unwrap();
    let orgs: Vec<String> = g.orgs().unwrap().into_iter().map(|o| o.slug).collect();
    assert_eq!(orgs, vec!["other"]);
    assert!(matches!(g.members("acme"), Err(Error::NotFound(_))));
    assert!(g.grants(None, None).unwrap().is_empty());
    assert!(g.projects(None).unwrap().is_empty());
    assert!(!g.check(OWNER, "org:view", "acme", None).unwrap());
    not_found(&fx, |g| g.remove_org("acme", None));
}

#[test]
fn an_org_is_created_by_its_owner() {
    let fx = fixture();
    let g = &fx.g;
    denied(&fx, |g| g.add_org("new", None, OWNER, Some(MEMBER)));
    g.add_org("new", None, MEMBER, Some("Member@acme.io"))
        .unwrap();
    assert_eq!(org_role(g, MEMBER, "new"), Some(OrgRole::Owner));
    g.add_org("sys", None, STRANGER, None).unwrap();
    assert_eq!(org_role(g, STRANGER, "sys"), Some(OrgRole::Owner));
    let c = conflict(&fx, |g| g.add_org("acme", None, MEMBER, Some(MEMBER)));
    assert!(matches!(c, ConflictError::Exists(_)), "{c:?}");
    invalid(&fx, |g| g.add_org("Bad Slug", None, MEMBER, None));
    invalid(&fx, |g| g.add_org("-x", None, MEMBER, None));
    invalid(&fx, |g| g.add_org("fine", None, "not an email", None));
}

// ----------------------------------------------------------------------------------
// Resources
// ----------------------------------------------------------------------------------

#[test]
fn add_resource_needs_the_kinds_create_or_manage_action() {
    // (kind, minimum project role): `<kind>:create` where the catalogue has it, else
    // `<kind>:manage`; recordings need `event:track`.
    let table: &[(&str, ProjectRole)] = &[
        ("dashboard", ProjectRole::Member),
        ("insight", ProjectRole::Member),
        ("cohort", ProjectRole::Member),
        ("annotation", ProjectRole::Member),
        ("notebook", ProjectRole::Member),
        ("recording", ProjectRole::Member),
        ("feature_flag", ProjectRole::Admin),
        ("experiment", ProjectRole::Admin),
    ];
    let fx = fixture();
    let pmember = "pmember@acme.io";
    fx.g.add_member(pmember, "acme", nm("member"), None)
        .unwrap();
    fx.g.grant(pmember, "acme/web", "member", None, None, None)
        .unwrap();
    let users = [
        (MEMBER, None),
        (MEMBER2, Some(ProjectRole::Viewer)),
        (pmember, Some(ProjectRole::Member)),
        (PADMIN, Some(ProjectRole::Admin)),
        (ADMIN, Some(ProjectRole::Admin)),
    ];
    for (kind, min) in table {
        for (i, (user, role)) in users.into_iter().enumerate() {
            let id = format!("r{i}");
            if role >= Some(*min) {
                let rid =
                    fx.g.add_resource("acme/web", kind, &id, None, Some(user))
                        .unwrap();
                assert_eq!(rid, format!("acme/web/{kind}/{id}"));
            } else {
                denied(&fx, |g| {
                    g.add_resource("acme/web", kind, &id, None, Some(user))
                });
            }
        }
        for user in [EXPIRED, OUTSIDER, STRANGER] {
            denied(&fx, |g| {
                g.add_resource("acme/web", kind, "x", None, Some(user))
            });
        }
    }
}

#[test]
fn add_resource_owner_defaults_to_the_actor() {
    let fx = fixture();
    let g = &fx.g;
    let first = g
        .add_resource("acme/web", "dashboard", "1", None, Some(PADMIN))
        .unwrap();
    let second = g
        .add_resource("acme/web", "dashboard", "2", Some(MEMBER2), Some(ADMIN))
        .unwrap();
    let third = g
        .add_resource("acme/prod", "insight", "3", Some(MEMBER), None)
        .unwrap();
    let owners: Vec<(String, String)> = g
        .resources(None)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.owner))
        .collect();
    let mut expected = vec![
        (first, PADMIN.to_owned()),
        (second, MEMBER2.to_owned()),
        (third, MEMBER.to_owned()),
    ];
    expected.sort();
    assert_eq!(owners, expected);
    invalid(&fx, |g| {
        g.add_resource("acme/web", "dashboard", "9", None, None)
    });
    let e = conflict(&fx, |g| {
        g.add_resource("acme/web", "dashboard", "1", None, Some(ADMIN))
    });
    assert!(matches!(e, ConflictError::Exists(_)), "{e:?}");
    // Authority before the conflict.
    denied(&fx, |g| {
        g.add_resource("acme/web", "dashboard", "1", None, Some(MEMBER2))
    });
    invalid(&fx, |g| {
        g.add_resource("acme/web", "spreadsheet", "9", None, Some(ADMIN))
    });
    invalid(&fx, |g| {
        g.add_resource("acme/web", "dashboard", "a b", None, Some(ADMIN))
    });
    invalid(&fx, |g| {
        g.add_resource("acme/web", "dashboard", "9", Some("bad"), Some(ADMIN))
    });
    not_found(&fx, |g| {
        g.add_resource("acme/nope", "dashboard", "9", None, Some(STRANGER))
    });
}

// ----------------------------------------------------------------------------------
// Membership records
// ----------------------------------------------------------------------------------

#[test]
fn update_member_authority_as_for_role_changes() {
    let fx = fixture();
    let g = &fx.g;
    g.update_member(MEMBER, "acme", reason("eng"), Some(ADMIN))
        .unwrap();
    g.update_member(ADMIN2, "acme", reason("ops"), Some(ADMIN))
        .unwrap();
    g.update_member(ADMIN, "acme", reason("lead"), Some(OWNER))
        .unwrap();
    let reasons: Vec<(String, Option<String>)> = g
        .members("acme")
        .unwrap()
        .into_iter()
        .map(|m| (m.user, m.reason))
        .filter(|(_, r)| r.is_some())
        .collect();
    assert_eq!(
        reasons,
        vec![
            // sorted by email: `admin2@` sorts before `admin@`
            (ADMIN2.to_owned(), Some("ops".to_owned())),
            (ADMIN.to_owned(), Some("lead".to_owned())),
            (MEMBER.to_owned(), Some("eng".to_owned())),
        ]
    );
    // Not above one's rank, not without org:manage_roles.
    denied(&fx, |g| {
        g.update_member(OWNER, "acme", reason("x"), Some(ADMIN))
    });
    denied(&fx, |g| {
        g.update_member(MEMBER2, "acme", reason("x"), Some(MEMBER))
    });
    denied(&fx, |g| {
        g.update_member(MEMBER2, "acme", reason("x"), Some(PADMIN))
    });
    denied(&fx, |g| {
        g.update_member(MEMBER2, "acme", reason("x"), Some(OUTSIDER))
    });
    denied(&fx, |g| {
        g.update_member(MEMBER2, "acme", reason("x"), Some(EXPIRED))
    });
    // Nobody updates their own record, not even an owner.
    denied(&fx, |g| {
        g.update_member(OWNER, "acme", reason("x"), Some(OWNER))
    });
    denied(&fx, |g| {
        g.update_member(ADMIN, "acme", reason("x"), Some(ADMIN))
    });
    denied(&fx, |g| {
        g.update_member(MEMBER, "acme", reason("x"), Some("MEMBER@acme.io"))
    });
    denied(&fx, |g| {
        g.update_member(
            EXPIRED,
            "acme",
            MemberPatch {
                expires: Some(None),
                ..MemberPatch::default()
            },
            Some(EXPIRED),
        )
    });
    not_member(&conflict(&fx, |g| {
        g.update_member(OUTSIDER, "acme", reason("x"), None)
    }));
    not_member(&conflict(&fx, |g| {
        g.update_member(OUTSIDER, "acme", reason("x"), Some(OWNER))
    }));
    // An owner's expiry is a ValidationError even for someone without authority.
    invalid(&fx, |g| {
        g.update_member(
            OWNER,
            "acme",
            MemberPatch {
                expires: Some(Some(t("2025-01-01"))),
                ..MemberPatch::default()
            },
            Some(MEMBER),
        )
    });
}

#[test]
fn update_member_renews_an_expired_membership() {
    let fx = fixture();
    let g = &fx.g;
    assert!(!g.check(EXPIRED, "org:view", "acme", None).unwrap());
    g.update_member(
        EXPIRED,
        "acme",
        MemberPatch {
            expires: Some(Some(t("2025-01-01"))),
            ..MemberPatch::default()
        },
        Some(OWNER),
    )
    .unwrap();
    assert!(g.check(EXPIRED, "org:view", "acme", None).unwrap());
    // With authority back, the renewed admin may act.
    g.add_member("new@acme.io", "acme", nm("member"), Some(EXPIRED))
        .unwrap();
}

// ----------------------------------------------------------------------------------
// Expired actors, the system actor
// ----------------------------------------------------------------------------------

#[test]
fn an_expired_actor_has_no_authority() {
    let fx = fixture();
    let a = Some(EXPIRED);
    denied(&fx, |g| g.add_member("x@acme.io", "acme", nm("member"), a));
    denied(&fx, |g| g.set_org_role(MEMBER, "acme", "admin", a));
    denied(&fx, |g| g.remove_member(MEMBER, "acme", a));
    denied(&fx, |g| g.update_member(MEMBER, "acme", reason("x"), a));
    denied(&fx, |g| {
        g.grant(MEMBER, "acme/web", "viewer", None, None, a)
    });
    denied(&fx, |g| g.grant(MEMBER, "acme/*", "viewer", None, None, a));
    denied(&fx, |g| g.revoke(MEMBER2, "acme/web", a));
    denied(&fx, |g| g.add_project("acme/x", NewProject::default(), a));
    denied(&fx, |g| {
        g.update_project(
            "acme/web",
            ProjectPatch {
                pii: Some(true),
                ..ProjectPatch::default()
            },
            a,
        )
    });
    denied(&fx, |g| {
        g.update_org("acme", Some("x".to_owned()), vec![], a)
    });
    denied(&fx, |g| {
        g.add_resource("acme/web", "dashboard", "1", None, a)
    });
    // ... but may still leave.
    fx.g.remove_member(EXPIRED, "acme", a).unwrap();
}

#[test]
fn actor_authority_ends_exactly_at_expiry() {
    let fx = fixture();
    let g = &fx.g;
    g.add_member(
        "temp@acme.io",
        "acme",
        nm_expiring("admin", "2024-06-01"),
        None,
    )
    .unwrap();
    g.set_time(Some(t("2024-05-31T23:59:59.999999Z")));
    g.add_member("a@acme.io", "acme", nm("member"), Some("temp@acme.io"))
        .unwrap();
    g.set_time(Some(t("2024-06-01T00:00:00Z")));
    denied(&fx, |g| {
        g.add_member("b@acme.io", "acme", nm("member"), Some("temp@acme.io"))
    });
    // An expired member cannot receive grants either, from anyone.
    not_member(&conflict(&fx, |g| {
        g.grant("temp@acme.io", "acme/web", "viewer", None, None, None)
    }));
}

#[test]
fn the_system_actor_skips_authority_only() {
    let fx = fixture();
    let g = &fx.g;
    g.add_member("o2@acme.io", "acme", nm("owner"), None)
        .unwrap();
    g.set_org_role(MEMBER, "acme", "admin", None).unwrap();
    g.grant(MEMBER2, "acme/prod", "admin", None, None, None)
        .unwrap();
    g.update_member(OWNER, "acme", reason("founder"), None)
        .unwrap();
    g.update_org("acme", Some("Acme".to_owned()), vec![], None)
        .unwrap();
    g.add_project("acme/x", NewProject::default(), None)
        .unwrap();
    g.remove_project("acme/x", None).unwrap();
    g.remove_member("o2@acme.io", "acme", None).unwrap();
    assert!(fx.changes() > 0);
    // Structural rules still hold.
    last_owner(
        &conflict(&fx, |g| g.remove_member(OWNER, "acme", None)),
        OWNER,
        "acme",
    );
    last_owner(
        &conflict(&fx, |g| g.set_org_role(OWNER, "acme", "member", None)),
        OWNER,
        "acme",
    );
    not_member(&conflict(&fx, |g| {
        g.grant(OUTSIDER, "acme/web", "admin", None, None, None)
    }));
    conflict(&fx, |g| g.add_member(MEMBER, "acme", nm("member"), None));
    invalid(&fx, |g| {
        g.add_member(
            "o3@acme.io",
            "acme",
            nm_expiring("owner", "2030-01-01"),
            None,
        )
    });
    invalid(&fx, |g| {
        g.add_member("not-an-email", "acme", nm("member"), None)
    });
    g.remove_org("acme", None).unwrap();
}

// ----------------------------------------------------------------------------------
// Order of checks
// ----------------------------------------------------------------------------------

#[test]
fn validation_comes_before_not_found_and_permission() {
    let fx = fixture();
    invalid(&fx, |g| {
        g.add_member("bad email", "nope", nm("member"), Some(STRANGER))
    });
    invalid(&fx, |g| {
        g.add_member("x@acme.io", "nope", nm("wizard"), Some(STRANGER))
    });
    invalid(&fx, |g| {
        g.add_member(
            "x@acme.io",
            "nope",
            nm_expiring("owner", "2025-01-01"),
            Some(STRANGER),
        )
    });
    invalid(&fx, |g| {
        g.add_member(
            "x@acme.io",
            "acme",
            nm_expiring("owner", "2025-01-01"),
            Some(MEMBER),
        )
    });
    invalid(&fx, |g| {
        g.set_org_role(MEMBER, "nope", "boss", Some(STRANGER))
    });
    invalid(&fx, |g| {
        g.grant(MEMBER, "nope/x", "boss", None, None, Some(STRANGER))
    });
    invalid(&fx, |g| {
        g.add_project(
            "nope/x",
            NewProject {
                restricted: true,
                default_role: Some("viewer".to_owned()),
                ..NewProject::default()
            },
            Some(STRANGER),
        )
    });
    invalid(&fx, |g| {
        g.update_project(
            "acme/prod",
            ProjectPatch {
                default_role: Some(Some("viewer".to_owned())),
                ..ProjectPatch::default()
            },
            Some(MEMBER),
        )
    });
    invalid(&fx, |g| {
        g.add_resource("nope/x", "chart", "1", None, Some(STRANGER))
    });
}

#[test]
fn not_found_comes_before_permission() {
    let fx = fixture();
    not_found(&fx, |g| {
        g.add_member("x@acme.io", "nope", nm("member"), Some(STRANGER))
    });
    not_found(&fx, |g| {
        g.set_org_role(MEMBER, "nope", "admin", Some(STRANGER))
    });
    not_found(&fx, |g| g.remove_member(MEMBER, "nope", Some(STRANGER)));
    not_found(&fx, |g| {
        g.update_member(MEMBER, "nope", reason("x"), Some(STRANGER))
    });
    not_found(&fx, |g| {
        g.grant(MEMBER, "acme/nope", "viewer", None, None, Some(MEMBER))
    });
    not_found(&fx, |g| g.revoke(MEMBER2, "acme/nope", Some(MEMBER)));
    not_found(&fx, |g| {
        g.add_project("nope/x", NewProject::default(), Some(STRANGER))
    });
    not_found(&fx, |g| {
        g.update_project("acme/nope", ProjectPatch::default(), Some(MEMBER))
    });
    not_found(&fx, |g| g.remove_project("acme/nope", Some(MEMBER)));
    not_found(&fx, |g| g.update_org("nope", None, vec![], Some(MEMBER)));
    not_found(&fx, |g| g.remove_org("nope", Some(MEMBER)));
    not_found(&fx, |g| {
        g.add_resource("acme/nope", "dashboard", "1", None, Some(MEMBER))
    });
}

#[test]
fn permission_comes_before_conflict() {
    let fx = fixture();
    // Each of these would also break a structural rule.
    denied(&fx, |g| {
        g.add_member(MEMBER2, "acme", nm("member"), Some(MEMBER))
    });
    denied(&fx, |g| {
        g.add_member(OWNER, "acme", nm("owner"), Some(ADMIN))
    });
    denied(&fx, |g| g.set_org_role(OWNER, "acme", "admin", Some(OWNER)));
    denied(&fx, |g| {
        g.set_org_role(OWNER, "acme", "owner", Some(MEMBER))
    });
    denied(&fx, |g| {
        g.set_org_role(OUTSIDER, "acme", "admin", Some(MEMBER))
    });
    denied(&fx, |g| g.remove_member(OWNER, "acme", Some(MEMBER)));
    denied(&fx, |g| g.remove_member(OUTSIDER, "acme", Some(MEMBER)));
    denied(&fx, |g| {
        g.update_member(OUTSIDER, "acme", reason("x"), Some(MEMBER))
    });
    denied(&fx, |g| {
        g.grant(OUTSIDER, "acme/web", "viewer", None, None, Some(MEMBER2))
    });
    denied(&fx, |g| {
        g.grant(EXPIRED, "acme/*", "viewer", None, None, Some(PADMIN))
    });
    denied(&fx, |g| {
        g.add_project("acme/web", NewProject::default(), Some(MEMBER))
    });
    denied(&fx, |g| g.add_org("acme", None, OWNER, Some(MEMBER)));
}

#[test]
fn permission_denied_carries_the_refusing_decision() {
    let fx = fixture();
    let err =
        fx.g.add_project("acme/x", NewProject::default(), Some(MEMBER))
            .unwrap_err();
    let Error::Permission(p) = err else {
        panic!("expected PermissionDenied, got {err:?}");
    };
    assert!(!p.decision.allowed);
    assert_eq!(p.decision.user, MEMBER);
    assert!(p.decision.reason.contains(MEMBER), "{}", p.decision.reason);
}
