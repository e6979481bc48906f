"""Access requests (SPEC 4.4, 9): request, approve with a review date, deny; the approver
needs the authority to grant; requests are audited state that survives the journal and
the JSON snapshot."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN, MEMBER, OWNER, SCHEMA_PATH
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

import accessgraph as ag

PEER = "peer@acme.io"


def build(g: ag.Graph) -> ag.Graph:
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_member(ADMIN, "acme", role="admin")
    g.add_member(MEMBER, "acme")
    g.add_member(PEER, "acme")
    g.add_project("acme/production", environment="production", restricted=True)
    g.add_project("acme/staging", environment="staging")
    return g


@pytest.fixture
def g() -> ag.Graph:
    return build(ag.Graph())


def test_a_request_is_pending_until_approved(g: ag.Graph) -> None:
    req = g.request_access(MEMBER, "acme/production", "viewer", reason="on-call this week")
    assert (req.id, req.status, req.user, req.target, req.role) == (
        "req_1",
        "pending",
        MEMBER,
        "acme/production",
        "viewer",
    )
    assert req.reason == "on-call this week"
    assert req.requested_at.isoformat() == "2024-05-01T00:00:00+00:00"
    assert req.decided_by is None and req.decided_at is None
    assert not g.check(MEMBER, "insight:view", "acme/production")
    assert g.access_requests() == [req]
    assert g.access_requests(status="pending") == [req]
    assert g.access_requests(status="approved") == []

    done = g.approve(req.id, actor=ADMIN, expires="2024-06-01")
    assert done.status == "approved"
    assert done.decided_by == ADMIN
    assert done.review_by == date(2024, 7, 30)
    assert g.check(MEMBER, "insight:view", "acme/production")
    assert not g.check(MEMBER, "insight:view", "acme/production", at="2024-06-01")
    (grant,) = g.grants(user=MEMBER)
    assert (grant.target, grant.role, grant.reason) == (
        "acme/production",
        "viewer",
        "on-call this week",
    )
    assert grant.review_by == date(2024, 7, 30)
    assert grant.granted_by == ADMIN
    assert grant.expires is not None and grant.expires.date() == date(2024, 6, 1)


def test_an_approver_without_authority_is_refused_and_the_request_stays_pending(
    g: ag.Graph,
) -> None:
    req = g.request_access(MEMBER, "acme/staging", "member", reason="release testing")
    before = g.to_json()
    for who in (PEER, MEMBER, "stranger@else.io"):
        with pytest.raises(ag.PermissionDenied) as raised:
            g.approve(req.id, actor=who)
        assert raised.value.decision is not None
    assert g.to_json() == before
    assert g.access_requests(status="pending") == [req]
    denied = [e for e in g.audit if e.action == "access.denied"]
    assert len(denied) == 3
    # a project admin (by grant) may approve on that project only
    g.grant(PEER, "acme/staging", "admin")
    g.approve(req.id, actor=PEER)
    assert g.access_requests(status="approved")[0].decided_by == PEER
    other = g.request_access(MEMBER, "acme/production", "viewer", reason="incident")
    with pytest.raises(ag.PermissionDenied):
        g.approve(other.id, actor=PEER)
    # org-wide requests need an org admin
    wide = g.request_access(MEMBER, "acme/*", "viewer", reason="dashboards")
    with pytest.raises(ag.PermissionDenied):
        g.approve(wide.id, actor=PEER)
    g.approve(wide.id, actor=ADMIN)


def test_deny(g: ag.Graph) -> None:
    req = g.request_access(MEMBER, "acme/production", "admin", reason="curious")
    with pytest.raises(ag.PermissionDenied):
        g.deny(req.id, actor=PEER, reason="no")
    with pytest.raises(ag.PermissionDenied):
        g.deny(req.id, actor=MEMBER, reason="withdrawn")
    out = g.deny(req.id, actor=ADMIN, reason="use the shared dashboards")
    assert (out.status, out.decided_by, out.decision_reason) == (
        "denied",
        ADMIN,
        "use the shared dashboards",
    )
    assert g.grants(user=MEMBER) == []
    with pytest.raises(ag.ConflictError, match="already denied"):
        g.approve(req.id, actor=ADMIN)
    with pytest.raises(ag.ConflictError):
        g.deny(req.id, actor=ADMIN, reason="again")


def test_request_argument_and_state_errors(g: ag.Graph) -> None:
    with pytest.raises(ag.NotFoundError, match="req_7"):
        g.approve("req_7", actor=ADMIN)
    with pytest.raises(ag.NotFoundError):
        g.deny("nope", actor=ADMIN, reason="x")
    with pytest.raises(ag.ValidationError, match="reason"):
        g.request_access(MEMBER, "acme/staging", "viewer", reason="")
    with pytest.raises(ag.ValidationError, match="reason"):
        g.request_access(MEMBER, "acme/staging", "viewer", reason=None)
    with pytest.raises(ag.ValidationError, match="role"):
        g.request_access(MEMBER, "acme/staging", "owner", reason="x")
    with pytest.raises(ag.NotFoundError):
        g.request_access(MEMBER, "acme/nope", "viewer", reason="x")
    with pytest.raises(ag.ConflictError, match="not a member"):
        g.request_access("outsider@else.io", "acme/staging", "viewer", reason="x")
    first = g.request_access(MEMBER, "acme/staging", "viewer", reason="x")
    with pytest.raises(ag.ConflictError, match=first.id):
        g.request_access(MEMBER, "acme/staging", "member", reason="more")
    with pytest.raises(ag.ValidationError, match="review_days"):
        g.approve(first.id, actor=ADMIN, review_days=-1)
    with pytest.raises(ag.ValidationError, match="expires"):
        g.approve(first.id, actor=ADMIN, expires="2024-01-01")
    with pytest.raises(ag.ValidationError, match="status"):
        g.access_requests(status="open")
    # the member left before the decision: approving is a conflict, denying is fine
    g.remove_member(MEMBER, "acme", actor=MEMBER)
    with pytest.raises(ag.ConflictError, match="not a member"):
        g.approve(first.id, actor=ADMIN)
    assert g.deny(first.id, actor=ADMIN, reason="left").status == "denied"


def test_review_by_is_honoured_by_the_review(g: ag.Graph) -> None:
    req = g.request_access(MEMBER, "acme/staging", "member", reason="release")
    g.approve(req.id, actor=ADMIN, review_days=14)

    def overdue(at: str) -> list[tuple[str | None, str | None]]:
        return [
            (f.user, f.target) for f in g.review(at=at).filter(rule="review-overdue") if f.target
        ]

    assert (MEMBER, "acme/staging") not in overdue("2024-05-15T23:00:00Z")
    assert (MEMBER, "acme/staging") in overdue("2024-05-16")
    # granting again (a new decision) replaces the grant and its review date
    g.grant(MEMBER, "acme/staging", "member", actor=ADMIN, reason="renewed")
    assert g.grants(user=MEMBER)[0].review_by is None
    assert (MEMBER, "acme/staging") not in overdue("2024-05-16")


def test_each_step_is_one_audited_event(g: ag.Graph) -> None:
    n = len(g.audit)
    req = g.request_access(MEMBER, "acme/staging", "member", reason="release")
    g.approve(req.id, actor=ADMIN)
    g.request_access(MEMBER, "acme/production", "viewer", reason="incident")
    g.deny("req_2", actor=OWNER, reason="not on call")
    events = list(g.audit)[n:]
    assert [(e.action, e.actor, e.target) for e in events] == [
        ("access_request.created", MEMBER, "acme/staging"),
        ("access_request.approved", ADMIN, "acme/staging"),
        ("grant.added", ADMIN, "acme/staging"),
        ("access_request.created", MEMBER, "acme/production"),
        ("access_request.denied", OWNER, "acme/production"),
    ]
    assert all(e.details["user"] == MEMBER for e in events)
    assert events[2].details["review_by"] == "2024-07-30"
    assert len(g.audit.events(action="access_request.*")) == 4
    g.audit.verify()


def requests_of(g: ag.Graph) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.user, r.target, r.role, r.reason, r.status, r.decided_by, r.review_by)
        for r in g.access_requests()
    ]


def exercise(g: ag.Graph) -> None:
    g.request_access(MEMBER, "acme/staging", "member", reason="release")
    g.request_access(MEMBER, "acme/production", "viewer", reason="incident")
    g.request_access(PEER, "acme/*", "viewer", reason="dashboards")
    g.approve("req_1", actor=ADMIN, expires="2024-09-01", review_days=30)
    g.deny("req_2", actor=OWNER, reason="not on call")


def test_requests_round_trip_through_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = build(ag.Graph.open(path))
    exercise(g)
    expected = requests_of(g)
    snapshot = g.to_json()
    again = ag.Graph.open(path)
    assert requests_of(again) == expected
    assert again.access_requests() == g.access_requests()
    assert again.to_json() == snapshot
    # the next id continues after a reopen, and the past is there too
    assert again.request_access(PEER, "acme/staging", "viewer", reason="x").id == "req_4"
    past = again.as_of("2024-05-01")
    assert len(past.access_requests()) == 3
    # from a journal snapshot as well
    again.snapshot()
    third = ag.Graph.open(path)
    assert [r.id for r in third.access_requests()] == ["req_1", "req_2", "req_3", "req_4"]
    assert third.grants(user=MEMBER)[0].review_by == date(2024, 5, 31)


def test_requests_and_review_dates_round_trip_through_the_json_snapshot(g: ag.Graph) -> None:
    exercise(g)
    g.define_template("analyst", grants={"staging": "viewer"}, external=True, requires_expiry=True)
    text = g.to_json()
    doc = json.loads(text)
    assert [r["status"] for r in doc["access_requests"]] == ["approved", "denied", "pending"]
    assert doc["access_requests"][0]["review_by"] == "2024-05-31"
    assert "decided_by" not in doc["access_requests"][2]
    (granted,) = [x for x in doc["grants"] if x["user"] == MEMBER]
    assert granted["review_by"] == "2024-05-31"
    assert doc["templates"] == [
        {
            "name": "analyst",
            "org_role": "member",
            "grants": {"staging": "viewer"},
            "external": True,
            "requires_expiry": True,
        }
    ]
    schema = json.loads(SCHEMA_PATH.read_text())
    errors = [f"{e.json_path}: {e.message}" for e in Draft202012Validator(schema).iter_errors(doc)]
    assert errors == []
    back = ag.Graph.from_json(text)
    assert requests_of(back) == requests_of(g)
    assert back.to_json() == text
    doc["access_requests"][1]["status"] = "maybe"
    assert not Draft202012Validator(schema).is_valid(doc)
    with pytest.raises(ag.RegistryFormatError) as raised:
        ag.Graph.from_json(json.dumps(doc))
    assert raised.value.path == "$.access_requests[1].status"


def test_access_requests_are_frozen_value_objects(g: ag.Graph) -> None:
    req = g.request_access(MEMBER, "acme/staging", "viewer", reason="x")
    assert req == g.access_requests()[0]
    assert hash(req) == hash(g.access_requests()[0])
    with pytest.raises(AttributeError):
        req.status = "approved"  # type: ignore[misc]
    assert repr(req) == (
        "AccessRequest(id='req_1', user='member@acme.io', target='acme/staging', "
        "role='viewer', status='pending')"
    )


def test_erasure_redacts_the_requests_of_the_erased_user(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = build(ag.Graph.open(path))
    g.update_member(MEMBER, "acme", actor=OWNER, name="Mia Ember")
    req = g.request_access(MEMBER, "acme/staging", "viewer", reason="Mia Ember needs dashboards")
    g.approve(req.id, actor=ADMIN)
    pseudonym = g.erase_user(MEMBER, actor=OWNER, reason="GDPR request 7")
    (kept,) = g.access_requests()
    assert (kept.user, kept.status) == (pseudonym, "approved")
    assert kept.reason is not None and "Mia" not in kept.reason
    again = ag.Graph.open(path)
    assert again.access_requests() == [kept]
    again.audit.verify()
    assert "member@acme.io" not in path.read_text() and "Mia" not in path.read_text()
