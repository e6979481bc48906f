"""Directory sync (SPEC 4.5, 9): a plan of ``{op, user, target, before, after}``, applied
atomically, idempotent; inactive, absent and unmapped members removed, owners never;
SCIM 2.0 users; a plan that went stale applies nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN, MEMBER, OWNER, grants

import accessgraph as ag

# The fixture `g` (conftest): acme with an owner, an admin, a member and Production,
# Staging and Development.

GROUPS: dict[str, Any] = {
    "Engineering": {
        "role": "member",
        "grants": {"acme/development": "member", "acme/production": "viewer"},
    },
    "Product": {"grants": {"staging": "member", "*": "viewer"}},
    "Admins": "admin",
}


def change(
    op: str, user: str, target: str, before: str | None, after: str | None
) -> dict[str, Any]:
    return {"op": op, "user": user, "target": target, "before": before, "after": after}


PEOPLE = [
    {"email": "Eve@acme.io", "name": "Eve", "active": True, "groups": ["Engineering"]},
    {"email": MEMBER, "groups": ["Engineering", "Product"]},
    {"email": ADMIN, "groups": ["Admins"]},
    {"email": OWNER, "groups": ["Engineering"]},
]


def test_the_plan_lists_each_change_and_a_dry_run_changes_nothing(g: ag.Graph) -> None:
    g.grant(MEMBER, "acme/development", "viewer")
    before = g.to_json()
    plan = g.sync_directory("acme", PEOPLE, groups=GROUPS, actor=OWNER)
    assert plan.changes == [
        change("add_member", "eve@acme.io", "acme", None, "member"),
        change("grant", "eve@acme.io", "acme/development", None, "member"),
        change("grant", "eve@acme.io", "acme/production", None, "viewer"),
        change("grant", MEMBER, "acme/*", None, "viewer"),
        change("grant", MEMBER, "acme/development", "viewer", "member"),
        change("grant", MEMBER, "acme/production", None, "viewer"),
        change("grant", MEMBER, "acme/staging", None, "member"),
    ]
    assert plan.skipped == [
        {
            "user": OWNER,
            "reason": f"{OWNER} is an owner of acme and the directory gives member: "
            "sync never demotes an owner",
        }
    ]
    assert (plan.org, plan.applied, len(plan), bool(plan)) == ("acme", False, 7, True)
    assert g.to_json() == before
    md = plan.to_markdown()
    assert "| add_member | eve@acme.io | acme | - | member |" in md
    assert "skipped owner@acme.io" in md
    assert repr(plan) == "<SyncPlan org='acme' changes=7 skipped=1 applied=False>"


def test_apply_a_reviewed_plan_then_a_second_sync_plans_nothing(g: ag.Graph) -> None:
    plan = g.sync_directory("acme", PEOPLE, groups=GROUPS, actor=None)
    n = len(g.audit)
    applied = g.apply(plan, actor=OWNER)
    assert applied.applied and applied.changes == plan.changes
    # one event per change, all by the actor
    events = list(g.audit)[n:]
    assert [e.action for e in events] == ["member.added"] + ["grant.added"] * 6
    assert {e.actor for e in events} == {OWNER}
    assert grants(g, "eve@acme.io") == {"acme/development": "member", "acme/production": "viewer"}
    assert grants(g, MEMBER) == {
        "acme/*": "viewer",
        "acme/development": "member",
        "acme/production": "viewer",
        "acme/staging": "member",
    }
    assert g.user("eve@acme.io").name == "Eve"
    assert next(x for x in g.grants(user=MEMBER)).reason == "directory sync"
    again = g.sync_directory("acme", PEOPLE, groups=GROUPS, actor=OWNER)
    assert again.changes == [] and not again
    n = len(g.audit)
    done = g.sync_directory("acme", PEOPLE, groups=GROUPS, actor=OWNER, dry_run=False)
    assert done.changes == [] and done.applied
    assert len(g.audit) == n, "a sync with nothing to do appends nothing"


def test_the_highest_role_of_all_groups_wins_and_roles_change(g: ag.Graph) -> None:
    people = [{"email": MEMBER, "groups": ["Engineering", "Admins"]}]
    plan = g.sync_directory(
        "acme", people, groups=GROUPS, actor=OWNER, dry_run=False, deprovision=False
    )
    assert plan.changes[0] == change("set_role", MEMBER, "acme", "member", "admin")
    assert g.role(MEMBER, "acme") == "admin"
    # down again when the directory says so
    people = [{"email": MEMBER, "groups": ["Engineering"]}]
    plan = g.sync_directory(
        "acme", people, groups=GROUPS, actor=OWNER, dry_run=False, deprovision=False
    )
    assert plan.changes == [change("set_role", MEMBER, "acme", "admin", "member")]


def test_inactive_absent_and_unmapped_members_are_removed_owners_never(g: ag.Graph) -> None:
    g.add_member("o2@acme.io", "acme", role="owner")
    g.add_member("old@acme.io", "acme")
    g.grant("old@acme.io", "acme/staging", "viewer")
    g.add_member("eve@acme.io", "acme")
    people = [
        {"email": MEMBER, "active": False, "groups": ["Engineering"]},
        {"email": ADMIN, "groups": ["Marketing"]},
        {"email": OWNER, "active": False, "groups": ["Admins"]},
        {"email": "eve@acme.io", "groups": ["Engineering"]},
    ]
    plan = g.sync_directory("acme", people, groups=GROUPS, actor=OWNER, dry_run=False)
    removed = [
        (c["op"], c["user"], c["before"]) for c in plan.changes if c["op"] == "remove_member"
    ]
    assert removed == [
        ("remove_member", ADMIN, "admin"),
        ("remove_member", MEMBER, "member"),
        ("remove_member", "old@acme.io", "member"),
    ]
    assert {s["user"] for s in plan.skipped} == {OWNER, "o2@acme.io"}
    assert all("never removes an owner" in s["reason"] for s in plan.skipped)
    assert sorted(m.user for m in g.members("acme")) == ["eve@acme.io", "o2@acme.io", OWNER]
    assert g.grants(user="old@acme.io") == []
    # deprovision=False leaves everyone in place
    g2 = ag.Graph()
    g2.add_org("acme", owner=OWNER)
    g2.add_member(MEMBER, "acme")
    plan = g2.sync_directory("acme", [], groups={"Admins": "admin"}, actor=OWNER, deprovision=False)
    assert plan.changes == []


def test_deprovision_revokes_grants_no_group_gives(g: ag.Graph) -> None:
    g.grant(MEMBER, "acme/staging", "admin")
    people = [{"email": MEMBER, "groups": ["Engineering"]}]
    plan = g.sync_directory("acme", people, groups=GROUPS, actor=OWNER)
    assert change("revoke", MEMBER, "acme/staging", "admin", None) in plan.changes
    keep = g.sync_directory("acme", people, groups=GROUPS, actor=OWNER, deprovision=False)
    assert all(c["op"] != "revoke" for c in keep.changes)


def test_scim_users(g: ag.Graph) -> None:
    scim = [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "home"},
                {"value": "BJensen@Acme.io", "type": "work", "primary": True},
            ],
            "active": True,
            "groups": [{"value": "e9e30dba", "display": "Engineering", "$ref": "../Groups/e9"}],
            "meta": {"resourceType": "User"},
        },
        {
            "userName": "kim@acme.io",
            "name": {"givenName": "Kim", "familyName": "Lee"},
            "groups": [{"display": "Admins"}],
        },
        {
            "userName": MEMBER,
            "emails": [{"value": MEMBER}],
            "active": False,
            "groups": [{"display": "Engineering"}],
        },
    ]
    plan = g.sync_directory("acme", scim, groups=GROUPS, actor=OWNER, dry_run=False)
    assert change("add_member", "bjensen@acme.io", "acme", None, "member") in plan.changes
    assert change("add_member", "kim@acme.io", "acme", None, "admin") in plan.changes
    assert change("remove_member", MEMBER, "acme", "member", None) in plan.changes
    assert g.user("bjensen@acme.io").name == "Ms. Barbara J Jensen III"
    assert g.user("kim@acme.io").name == "Kim Lee"
    assert grants(g, "bjensen@acme.io") == {
        "acme/development": "member",
        "acme/production": "viewer",
    }


def test_bad_directory_input_names_the_place(g: ag.Graph) -> None:
    cases: list[tuple[list[Any], dict[str, Any], str]] = [
        ([{"name": "no email"}], GROUPS, r"people\[0\]"),
        ([{"email": "bad email"}], GROUPS, r"people\[0\]\.email"),
        ([{"email": "a@acme.io"}, {"email": "A@acme.io"}], GROUPS, r"people\[1\].*twice"),
        ([{"email": "a@acme.io", "active": "yes"}], GROUPS, r"people\[0\]\.active"),
        ([{"email": "a@acme.io", "groups": "Admins"}], GROUPS, r"people\[0\]\.groups"),
        ([], {"Ops": "superuser"}, r'groups\["Ops"\]'),
        ([], {"Ops": {"role": "admin", "grant": {}}}, r"`grant`"),
        ([], {"Ops": {"grants": {"staging": "boss"}}}, r"boss"),
        ([], {"Ops": {"grants": {"beta/web": "viewer"}}}, r"beta/web"),
    ]
    for people, groups, message in cases:
        with pytest.raises(ag.ValidationError, match=message):
            g.sync_directory("acme", people, groups=groups, actor=OWNER)
    with pytest.raises(ag.NotFoundError):
        g.sync_directory("acme", [], groups={"Ops": {"grants": {"nope": "viewer"}}}, actor=OWNER)
    with pytest.raises(ag.NotFoundError):
        g.sync_directory("beta", [], groups=GROUPS, actor=OWNER)
    with pytest.raises(ag.ValidationError, match="groups"):
        g.sync_directory("acme", [], groups=["Admins"], actor=OWNER)  # type: ignore[arg-type]


def test_a_plan_that_became_invalid_applies_nothing(g: ag.Graph) -> None:
    people = [
        {"email": "new@acme.io", "groups": ["Engineering"]},
        {"email": MEMBER, "groups": ["Admins"]},
    ]
    plan = g.sync_directory("acme", people, groups=GROUPS, actor=OWNER)
    assert len(plan) == 5  # add new, two grants, promote member, remove admin (absent)
    assert change("remove_member", ADMIN, "acme", "admin", None) in plan.changes
    # meanwhile someone changes the member's role by hand
    g.set_org_role(MEMBER, "acme", "admin", actor=OWNER)
    before, events = g.to_json(), len(g.audit)
    with pytest.raises(ag.ConflictError, match="stale"):
        g.apply(plan, actor=OWNER)
    assert g.to_json() == before
    assert len(g.audit) == events
    assert all(m.user != "new@acme.io" for m in g.members("acme"))
    # or adds the new person first
    g2_plan = g.sync_directory("acme", people, groups=GROUPS, actor=OWNER)
    g.add_member("new@acme.io", "acme")
    before = g.to_json()
    with pytest.raises(ag.ConflictError, match="already a member"):
        g.apply(g2_plan, actor=OWNER)
    assert g.to_json() == before


def test_applying_needs_the_authority_of_every_change(g: ag.Graph) -> None:
    people = [
        {"email": "new@acme.io", "groups": ["Engineering"]},
        {"email": MEMBER, "groups": ["Admins"]},
        {"email": ADMIN, "groups": ["Admins"]},
        {"email": OWNER, "groups": ["Admins"]},
    ]
    plan = g.sync_directory("acme", people, groups=GROUPS, actor=None)
    before = g.to_json()
    # an admin may add the member and grant, and make the member admin too
    # but a plain member may do none of it
    with pytest.raises(ag.PermissionDenied):
        g.apply(plan, actor=MEMBER)
    with pytest.raises(ag.PermissionDenied):
        g.sync_directory("acme", people, groups=GROUPS, actor=MEMBER, dry_run=False)
    assert g.to_json() == before
    g.apply(plan, actor=ADMIN)
    assert g.role(MEMBER, "acme") == "admin"
    # promoting to owner needs an owner
    plan = g.sync_directory(
        "acme",
        [{"email": MEMBER, "groups": ["Founders"]}],
        groups={"Founders": "owner"},
        actor=None,
    )
    with pytest.raises(ag.PermissionDenied):
        g.apply(plan, actor=ADMIN)


def test_expired_memberships_are_not_renewed(g: ag.Graph) -> None:
    g.set_time("2024-04-01")
    g.add_member("temp@acme.io", "acme", expires="2024-04-15")
    g.set_time("2024-05-01")
    plan = g.sync_directory(
        "acme", [{"email": "temp@acme.io", "groups": ["Engineering"]}], groups=GROUPS, actor=OWNER
    )
    assert [c["user"] for c in plan.changes] == [ADMIN, MEMBER]  # not in the directory
    assert plan.skipped[-1]["user"] == "temp@acme.io"
    assert "expired" in plan.skipped[-1]["reason"]


def test_sync_round_trips_through_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/development")
    g.add_project("acme/production", restricted=True)
    g.add_project("acme/staging")
    g.add_member(MEMBER, "acme")
    g.sync_directory("acme", PEOPLE, groups=GROUPS, actor=OWNER, dry_run=False)
    snapshot = g.to_json()
    assert ag.Graph.open(path).to_json() == snapshot
