"""Erasure (SPEC 3.4): personal data leaves the log, the journal and every export behind
a stable pseudonym; the chain still verifies and the journal still replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import accessgraph as ag

OWNER = "jane@example.com"
ALICE = "alice@example.com"
SECRETS = [b"alice@example.com", b"Alice Smith", b"ALICE@EXAMPLE.COM", b"Data Lead"]


def build(path: Path, **kw: object) -> ag.Graph:
    g = ag.Graph.open(path, **kw)  # type: ignore[arg-type]
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_org("beta", owner=OWNER)
    g.add_project("acme/web", name="Web")
    g.add_member(
        ALICE,
        "acme",
        role="admin",
        actor=OWNER,
        name="Alice Smith",
        title="Data Lead",
        reason="hired by Jane",
    )
    g.add_member(ALICE, "beta", actor=OWNER)
    g.grant(ALICE, "acme/web", "admin", actor=OWNER, reason="Alice Smith runs the web team")
    g.add_member("bob@example.com", "acme", actor=ALICE, reason="Alice Smith's report")
    g.grant("bob@example.com", "acme/web", "viewer", actor=ALICE)
    g.add_resource("acme/web", "dashboard", "7", owner=ALICE)
    g.record(ALICE, "data.exported", "acme/web", note="exported by alice@example.com")
    return g


def test_erasure_leaves_no_trace_and_the_chain_verifies(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = build(path, hmac_key=b"k")
    hashes = [e.hash for e in g.audit]
    with pytest.raises(ag.ConflictError, match="transfer_to"):
        g.erase_user(ALICE, actor=OWNER, reason="GDPR request #12")  # she owns a dashboard
    pseudonym = g.erase_user(ALICE, actor=OWNER, reason="GDPR request #12", transfer_to=OWNER)
    assert pseudonym.startswith("erased:") and len(pseudonym) == len("erased:") + 16
    g.audit.verify()
    assert [e.hash for e in g.audit][: len(hashes)] == hashes, "old hashes unchanged"
    (ev,) = g.audit.events(action="user.erased")
    assert ev.target == pseudonym and ev.details["reason"] == "GDPR request #12"
    # The offboarding events, then user.erased (SPEC 9).
    assert [e.action for e in g.audit.events(user=pseudonym)][-6:] == [
        "grant.removed",
        "member.removed",
        "member.removed",
        "resource.transferred",
        "user.offboarded",
        "user.erased",
    ]
    g.audit.to_jsonl(tmp_path / "a.jsonl")
    g.audit.to_csv(tmp_path / "a.csv")
    g.save(tmp_path / "g.json")
    g.save(tmp_path / "acme.md", org="acme")
    texts = [
        path.read_bytes(),
        (tmp_path / "a.jsonl").read_bytes(),
        (tmp_path / "a.csv").read_bytes(),
        (tmp_path / "g.json").read_bytes(),
        (tmp_path / "acme.md").read_bytes(),
        repr(list(g.audit)).encode(),
        repr([e.details for e in g.audit]).encode(),
        repr(g.users()).encode(),
        g.audit.to_pandas().to_csv().encode(),
    ]
    for text in texts:
        for secret in SECRETS:
            assert secret.lower() not in text.lower()
    assert pseudonym.encode() in path.read_bytes()
    # Not a member anywhere; bob's grant (made by alice) survives, stamped with the pseudonym.
    assert not g.check(pseudonym, "project:view", "acme/web")
    assert {gr.granted_by for gr in g.grants(user="bob@example.com")} == {pseudonym}
    assert g.resources("acme/web")[0].owner == OWNER
    h = ag.Graph.open(path, hmac_key=b"k")
    assert h.to_json() == g.to_json()
    h.audit.verify()
    ag.AuditLog.load(tmp_path / "a.jsonl").verify()


def test_erasure_needs_authority_in_every_org_and_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = build(path)
    g.add_member("carol@example.com", "acme", role="admin", actor=OWNER)
    before = g.to_json()
    with pytest.raises(ag.PermissionDenied):
        g.erase_user(ALICE, actor="carol@example.com", reason="x")  # not in beta
    # An admin of every org is not enough: erasure needs an owner of each (SPEC 9).
    g.add_member("carol@example.com", "beta", role="admin", actor=OWNER)
    before = g.to_json()
    with pytest.raises(ag.PermissionDenied, match="owner"):
        g.erase_user(ALICE, actor="carol@example.com", reason="x", transfer_to=OWNER)
    with pytest.raises(ag.PermissionDenied):
        g.erase_user(ALICE, actor=ALICE, reason="x", transfer_to=OWNER)
    assert g.to_json() == before
    assert b"alice@example.com" in path.read_bytes()
    with pytest.raises(ag.NotFoundError):
        g.erase_user("nobody@example.com", actor=OWNER, reason="x")
    with pytest.raises(ag.ConflictError):
        g.erase_user(OWNER, actor=None, reason="last owner")


def test_erasure_in_memory_and_time_travel_after_it(tmp_path: Path) -> None:
    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    g.add_member(ALICE, "acme", actor=OWNER, name="Alice Smith")
    p = g.erase_user(ALICE, actor=OWNER, reason="asked")
    g.audit.verify()
    past = g.as_of(g.now())
    assert [m.user for m in past.members("acme")] == [OWNER]
    assert "alice" not in repr(list(g.audit)).lower()
    assert p in {u.email for u in g.users()}


def test_a_graph_after_erasure_round_trips_through_json_and_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = build(path)
    # Alice granted Bob's access: her pseudonym is named there too.
    pseudonym = g.erase_user(ALICE, actor=OWNER, reason="GDPR", transfer_to=OWNER)
    text = g.to_json()
    assert ALICE not in text and text.count(pseudonym) >= 2
    assert pseudonym in text
    # The pseudonym stays where the user was named, and reads back.
    assert ag.Graph.from_json(text).to_json() == text
    g.snapshot()
    reopened = ag.Graph.open(path)
    assert reopened.to_json() == text
    reopened.audit.verify()
    # Anything else that is not an email is still refused.
    with pytest.raises(ag.RegistryFormatError, match="invalid email"):
        ag.Graph.from_json(text.replace(pseudonym, "erased:not-a-pseudonym"))


def test_a_graph_behind_an_erasure_snapshots_the_journal_as_it_is_now(tmp_path: Path) -> None:
    # A worker opened before the erasure and made no query since: its snapshot must be
    # of the erased journal, never of the state it still holds (that holds Alice).
    path = tmp_path / "access.journal"
    eraser = build(path)
    worker = ag.Graph.open(path)
    eraser.erase_user(ALICE, actor=OWNER, reason="GDPR", transfer_to=OWNER)
    assert worker.snapshot() == eraser.revision
    snap = (tmp_path / "access.journal.snapshot").read_bytes()
    assert not [s for s in SECRETS if s in snap]
    assert json.loads(snap)["erasures"] == 1
    assert worker.to_json() == eraser.to_json()
    # The same after a prune: the snapshot is of the rewritten journal, and opening uses it.
    eraser.set_time("2024-06-01")
    eraser.record(OWNER, "data.exported", "acme/web")
    assert eraser.audit.prune(before="2024-05-15") > 0
    assert worker.snapshot() == eraser.revision
    assert json.loads((tmp_path / "access.journal.snapshot").read_bytes())["seq"] == eraser.revision
    reopened = ag.Graph.open(path)
    assert reopened.to_json() == eraser.to_json()
    reopened.audit.verify()


def test_opening_removes_a_snapshot_from_before_an_erasure(tmp_path: Path) -> None:
    # One another process wrote where this one does not look, or an older version left.
    path, aside = tmp_path / "access.journal", tmp_path / "aside.snapshot"
    g = build(path)
    g.snapshot()
    g.snapshot(str(aside))
    old = (tmp_path / "access.journal.snapshot").read_bytes()
    assert ALICE.encode() in old
    ag.Graph.open(path).erase_user(ALICE, actor=OWNER, reason="GDPR", transfer_to=OWNER)
    (tmp_path / "access.journal.snapshot").write_bytes(old)
    assert aside.exists()
    for snapshot in (None, str(aside)):
        reopened = ag.Graph.open(path, snapshot=snapshot)
        reopened.audit.verify()
        assert ALICE not in reopened.to_json()
    assert not (tmp_path / "access.journal.snapshot").exists()
    assert not aside.exists()


def test_pruning_after_an_erasure_keeps_the_journal_openable(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = build(path)
    g.erase_user("bob@example.com", actor=OWNER, reason="GDPR")
    g.set_time("2024-06-01")
    g.record(OWNER, "data.exported", "acme/web")
    assert g.audit.prune(before="2024-05-15") > 0
    reopened = ag.Graph.open(path)
    assert reopened.to_json() == g.to_json()
    reopened.audit.verify()


@pytest.mark.parametrize(
    "details",
    [
        {"per_user": {"bob@example.com": 3}},
        {"rows": [{"Bob@Example.com": 1}]},
        {"bob@example.com": "sent"},
    ],
)
def test_an_email_as_a_details_key_is_refused_since_keys_cannot_be_erased(
    details: dict[str, object],
) -> None:
    """Attack (a red-team review): erase_user seals string values, never keys (an event's
    keys are hashed as written), so `record(..., per_user={bob: 3})` left bob's address
    in the journal and every export after his erasure. An email as a key is refused,
    naming it; the same person as a value is recorded, and sealed by the erasure."""
    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    g.add_member("bob@example.com", "acme", actor=OWNER)
    before = len(g.audit)
    with pytest.raises(ag.ValidationError, match=r"details key `[Bb]ob@[Ee]xample\.com`"):
        g.record(OWNER, "report.sent", "acme", **details)
    assert len(g.audit) == before  # nothing recorded
    g.record(OWNER, "report.sent", "acme", per_user=[{"user": "bob@example.com", "n": 3}])
    g.erase_user("bob@example.com", actor=OWNER, reason="GDPR request")
    assert "bob@example.com" not in repr([(e.actor, e.target, e.details) for e in g.audit])
