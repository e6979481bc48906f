"""Access review campaigns (SOC 2 CC6.2): start, decide, close, evidence; in the journal
and snapshots; overdue campaigns in ``review()``."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from conftest import SCHEMA_PATH
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

import accessgraph as ag
from accessgraph._campaign import EVIDENCE_COLUMNS

JANE, ALICE, BOB, CAROL, DAVE = (
    f"{n}@example.com" for n in ("jane", "alice", "bob", "carol", "dave")
)


def _org(g: ag.Graph) -> ag.Graph:
    """acme: jane owner; alice admin; bob member with web viewer and prod member; carol
    member, project admin of web; dave's membership expired, his web grant an orphan."""
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=JANE)
    g.add_project("acme/web", name="Web")
    g.add_project("acme/prod", name="Prod", restricted=True)
    g.add_member(ALICE, "acme", "admin", actor=JANE)
    g.add_member(BOB, "acme", actor=ALICE)
    g.add_member(CAROL, "acme", actor=ALICE)
    g.add_member(DAVE, "acme", actor=ALICE, expires="2024-05-10")
    g.grant(BOB, "acme/web", "viewer", actor=ALICE)
    g.grant(BOB, "acme/prod", "member", actor=ALICE)
    g.grant(CAROL, "acme/web", "admin", actor=ALICE)
    g.grant(DAVE, "acme/web", "viewer", actor=ALICE)
    g.set_time("2024-05-15")
    return g


def _items(c: ag.Campaign) -> list[tuple[object, ...]]:
    return [(i.id, i.kind, i.user, i.target, i.role, i.orphan) for i in c.items]


def test_a_campaign_from_start_to_close_reopened_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = _org(ag.Graph.open(path))
    c = g.start_campaign("acme", reviewers=[CAROL, ALICE], due="2024-06-01", actor=JANE)
    assert (c.id, c.org, c.reviewers, c.status, c.started_by) == (
        "camp_1",
        "acme",
        (ALICE, CAROL),
        "open",
        JANE,
    )
    # the population, frozen: memberships by user, then grants; dave's grant is an orphan
    assert _items(c) == [
        (1, "membership", ALICE, "acme", "admin", False),
        (2, "membership", BOB, "acme", "member", False),
        (3, "membership", CAROL, "acme", "member", False),
        (4, "membership", DAVE, "acme", "member", False),
        (5, "membership", JANE, "acme", "owner", False),
        (6, "grant", BOB, "acme/prod", "member", False),
        (7, "grant", BOB, "acme/web", "viewer", False),
        (8, "grant", CAROL, "acme/web", "admin", False),
        (9, "grant", DAVE, "acme/web", "viewer", True),
    ]
    # every email in the event sits under a `user` key, free text under `reason`: the keys
    # the audit log commits as personal (erasable) data
    started = g.audit.events(action="campaign.started")[0]
    assert (started.target, started.actor) == ("acme", JANE)
    assert started.details["reviewers"] == [{"user": ALICE}, {"user": CAROL}]
    assert started.details["items"][8] == {
        "kind": "grant",
        "user": DAVE,
        "target": "acme/web",
        "role": "viewer",
        "orphan": True,
    }
    # later changes do not change the population
    g.grant(BOB, "acme/web", "member", actor=ALICE)
    assert len(c.items) == 9 and c.item(7).role == "viewer"

    c.decide(7, keep=True, reason="works on the web app", actor=CAROL)
    c.decide(c.item(6), keep=False, reason="left the prod on-call rotation", actor=ALICE)
    c.decide(4, keep=False, reason="contract ended", actor=ALICE)
    c.decide(9, keep=False, reason="orphan", actor=CAROL)
    c.decide(2, keep=True, actor=ALICE)
    c.decide(2, keep=True, reason="still on the team", actor=ALICE)  # changed until closed
    # a reviewer who lacks the authority is refused, and the refusal is audited
    with pytest.raises(ag.PermissionDenied, match=r"carol@example\.com") as info:
        c.decide(1, keep=False, actor=CAROL)  # carol may not remove an admin
    assert info.value.decision is not None
    with pytest.raises(ag.PermissionDenied, match="not a reviewer"):
        c.decide(3, keep=True, actor=JANE)
    with pytest.raises(ag.PermissionDenied, match="their own access"):
        c.decide(3, keep=True, actor=CAROL)
    denied = g.audit.events(action="access.denied")
    assert len(denied) == 3
    assert c.undecided == tuple(c.item(n) for n in (1, 3, 5, 8))

    evidence = c.close(actor=JANE)
    assert c.status == "closed" and c.closed_by == JANE
    # rejected access went as ordinary events; the rest stayed
    closing = [(e.action, e.target) for e in g.audit.events()][-5:]
    assert closing == [
        ("grant.removed", "acme/web"),  # dave's, removed with his membership
        ("member.removed", "acme"),
        ("grant.removed", "acme/prod"),  # bob's
        ("member.updated", "acme"),  # bob's membership, kept: reviewed today
        ("campaign.closed", "acme"),
    ]
    stamped = g.audit.events(action="member.updated")[-1]
    assert stamped.details["user"] == BOB
    assert stamped.details["after"]["reviewed"] == "2024-05-15"
    reviewed = {m.user: m.reviewed for m in g.members("acme")}
    assert reviewed == {ALICE: None, BOB: date(2024, 5, 15), CAROL: None, JANE: None}
    overdue = {f.user for f in g.review(org="acme") if f.rule == "review-overdue"}
    assert BOB not in overdue and {ALICE, CAROL} <= overdue
    assert not g.check(BOB, "project:view", "acme/prod")
    assert g.check(BOB, "project:view", "acme/web")
    assert DAVE not in [m.user for m in g.members("acme")]
    closed = g.audit.events(action="campaign.closed")[0]
    assert (closed.target, closed.actor) == ("acme", JANE)
    assert closed.details["revoked"] == [4, 6, 9]
    assert (closed.details["kept"], closed.details["undecided"]) == (2, 4)

    rows = list(evidence)
    assert [(r["item"], r["decision"], r["outcome"]) for r in rows] == [
        (1, "undecided", "undecided"),
        (2, "keep", "kept"),
        (3, "undecided", "undecided"),
        (4, "revoke", "revoked"),
        (5, "undecided", "undecided"),
        (6, "revoke", "revoked"),
        (7, "keep", "kept"),
        (8, "undecided", "undecided"),
        (9, "revoke", "revoked"),
    ]
    assert rows[1]["reviewer"] == ALICE and rows[1]["reason"] == "still on the team"
    with pytest.raises(ag.ConflictError, match="closed"):
        c.decide(3, keep=True, actor=ALICE)
    with pytest.raises(ag.ConflictError, match="closed"):
        c.close(actor=JANE)

    # reopened from the journal: the same campaign, decisions and evidence
    g.snapshot()  # and once more from a snapshot plus the journal after it
    again = ag.Graph.open(path)
    c2 = again.campaign("camp_1")
    assert c2.items == c.items and c2.status == "closed"
    assert list(c2.evidence()) == rows
    assert again.to_json() == g.to_json()
    path.with_name("access.journal.snapshot").unlink()
    assert list(ag.Graph.open(path).campaign("camp_1").evidence()) == rows


def test_evidence_as_csv_markdown_and_html(tmp_path: Path) -> None:
    g = _org(ag.Graph())
    c = g.start_campaign("acme", reviewers=[ALICE], due="2024-06-01", actor=JANE)
    c.decide(6, keep=False, reason="no longer needed, per | ticket", actor=ALICE)
    ev = c.evidence()
    assert ev[5]["outcome"] == "pending close"
    text = ev.to_csv(tmp_path / "evidence.csv")
    assert (tmp_path / "evidence.csv").read_text() == text
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(EVIDENCE_COLUMNS)
    assert table[5]["reason"] == "no longer needed, per | ticket"
    assert table[0]["decision"] == "undecided" and table[0]["reviewer"] == ""
    md = ev.to_markdown()
    assert md.startswith("Access review camp_1 of acme: started 2024-05-15T00:00:00+00:00 by jane")
    assert "per \\| ticket" in md and "1 rejected, 8 undecided" in md
    html = ev.to_html()
    assert html.startswith("<table><caption>Access review camp_1") and "<td>revoke</td>" in html
    assert c._repr_html_() == html


def test_an_undecided_campaign_past_due_is_review_overdue() -> None:
    g = _org(ag.Graph())
    c = g.start_campaign("acme", reviewers=[ALICE], due="2024-06-01", actor=JANE)
    overdue = g.review("acme", at="2024-06-02").filter(rule="review-overdue")
    [finding] = [f for f in overdue if f.user is None]
    assert finding.target == "acme" and finding.severity == "medium"
    assert (
        "campaign `camp_1` of acme was due on 2024-06-01 and is still open (9 of 9 items undecided)"
        in finding.message
    )
    assert "close" in finding.remediation
    # not before it is due, and not once closed
    assert all(
        f.user is not None for f in g.review("acme", at="2024-05-31").filter(rule="review-overdue")
    )
    c.close(actor=JANE)
    assert all(
        f.user is not None for f in g.review("acme", at="2024-06-02").filter(rule="review-overdue")
    )


def test_starting_a_campaign_checks_its_arguments_and_authority() -> None:
    g = _org(ag.Graph())
    with pytest.raises(ag.PermissionDenied):
        g.start_campaign("acme", reviewers=[ALICE], due="2024-06-01", actor=BOB)
    with pytest.raises(ag.ConflictError, match="reviewer"):
        g.start_campaign("acme", reviewers=[DAVE], due="2024-06-01", actor=JANE)  # expired
    with pytest.raises(ag.ValidationError, match="due"):
        g.start_campaign("acme", reviewers=[ALICE], due="2024-05-01", actor=JANE)
    with pytest.raises(ag.ValidationError, match="reviewers"):
        g.start_campaign("acme", reviewers=[], due="2024-06-01", actor=JANE)
    with pytest.raises(ag.ValidationError, match="reviewers"):
        g.start_campaign("acme", reviewers=["not an email"], due="2024-06-01", actor=JANE)
    with pytest.raises(ag.NotFoundError):
        g.start_campaign("nope", reviewers=[ALICE], due="2024-06-01", actor=None)
    with pytest.raises(ag.NotFoundError, match="camp_9"):
        g.campaign("camp_9")
    assert g.campaigns() == []
    c = g.start_campaign("acme", reviewers=ALICE, due="2024-06-01", actor=None)
    assert c.started_by is None and [x.id for x in g.campaigns("acme")] == ["camp_1"]
    with pytest.raises(ag.ValidationError, match="item"):
        c.decide(10, keep=True, actor=ALICE)
    with pytest.raises(ag.ValidationError, match="item"):
        c.decide(0, keep=True, actor=ALICE)


def test_closing_is_atomic_and_keeps_an_owner() -> None:
    g = _org(ag.Graph())
    c = g.start_campaign("acme", reviewers=[ALICE, CAROL], due="2024-06-01", actor=JANE)
    # the last owner cannot be rejected
    with pytest.raises(ag.ConflictError, match="last owner"):
        c.decide(5, keep=False, actor=None)
    c.decide(2, keep=False, reason="left", actor=ALICE)  # bob's membership
    with pytest.raises(ag.PermissionDenied, match="their own access"):
        c.decide(8, keep=False, reason="rotated off", actor=CAROL)
    c.decide(7, keep=False, reason="rotated off", actor=CAROL)  # bob's web grant
    before = g.to_json()
    # carol (a reviewer and web admin) may not remove bob from the org: nothing changes
    with pytest.raises(ag.PermissionDenied):
        c.close(actor=CAROL)
    assert g.to_json() == before and c.status == "open"
    c.close(actor=ALICE)
    assert BOB not in [m.user for m in g.members("acme")]
    assert g.grants(user=BOB) == []


def test_campaigns_are_in_snapshots() -> None:
    g = _org(ag.Graph())
    c = g.start_campaign("acme", reviewers=[ALICE], due="2024-06-01", actor=JANE)
    c.decide(6, keep=False, reason="done", actor=ALICE)
    doc = json.loads(g.to_json())
    [camp] = doc["campaigns"]
    assert (camp["id"], camp["org"], camp["reviewers"], camp["due"]) == (
        "camp_1",
        "acme",
        [ALICE],
        "2024-06-01T00:00:00Z",
    )
    assert camp["items"][5] == {
        "id": 6,
        "kind": "grant",
        "user": BOB,
        "target": "acme/prod",
        "role": "member",
        "decision": "revoke",
        "reason": "done",
        "decided_by": ALICE,
        "decided_at": "2024-05-15T00:00:00Z",
    }
    again = ag.Graph.from_json(g.to_json())
    assert again.to_json() == g.to_json()
    assert list(again.campaign("camp_1").evidence()) == list(c.evidence())
    camp["items"][0]["decision"] = "maybe"
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.from_json(json.dumps(doc))
    assert info.value.path == "$.campaigns[0].items[0].decision"


def test_a_snapshot_with_campaigns_validates_against_the_schema() -> None:
    g = _org(ag.Graph())
    open_ = g.start_campaign("acme", reviewers=[ALICE], due="2024-06-01", actor=None)
    open_.decide(7, keep=True, reason="still needed", actor=ALICE)
    closed = g.start_campaign("acme", reviewers=[ALICE, CAROL], due="2024-06-01", actor=JANE)
    closed.decide(6, keep=False, actor=ALICE)
    closed.close(actor=JANE)
    doc = json.loads(g.to_json())
    assert [c["id"] for c in doc["campaigns"]] == ["camp_1", "camp_2"]
    assert doc["campaigns"][1]["revoked"] == [6] and "closed_at" not in doc["campaigns"][0]
    schema = json.loads(SCHEMA_PATH.read_text())
    errors = [f"{e.json_path}: {e.message}" for e in Draft202012Validator(schema).iter_errors(doc)]
    assert errors == []
    doc["campaigns"][0]["items"][0]["kind"] = "role"
    assert list(Draft202012Validator(schema).iter_errors(doc))


def test_erasing_a_user_redacts_them_from_campaigns(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = _org(ag.Graph.open(path))
    c = g.start_campaign("acme", reviewers=[ALICE], due="2024-06-01", actor=JANE)
    c.decide(2, keep=False, reason=f"{BOB} left the team", actor=ALICE)
    g.set_time("2024-05-16")
    as_of = g.as_of("2024-05-15T12:00:00Z")
    assert as_of.campaign("camp_1").item(2).decision == "revoke"
    pseudonym = g.erase_user(BOB, actor=JANE, reason="GDPR request")
    item = g.campaign("camp_1").item(2)
    # Free text that names the user is sealed whole, as in the audit log: a part of it
    # could still say who they were ("bob left the team" after a one-person team).
    assert (item.user, item.reason) == (pseudonym, pseudonym)
    assert BOB not in g.to_json() and BOB not in path.read_text()
    assert list(ag.Graph.open(path).campaign("camp_1").evidence()) == list(
        g.campaign("camp_1").evidence()
    )
    g.audit.verify()
