"""What-if overlays (``Graph.what_if``): the same API on a private copy whose mutations
touch neither the graph, nor its journal, nor its audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

import accessgraph as ag

JANE, ALICE, BOB = "jane@example.com", "alice@example.com", "bob@example.com"


def _journaled(path: Path) -> ag.Graph:
    g = ag.Graph.open(path)
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=JANE)
    g.add_project("acme/web", name="Web")
    g.add_project("acme/prod", name="Prod", restricted=True)
    g.add_member(ALICE, "acme", "admin", actor=JANE)
    g.add_member(BOB, "acme", actor=JANE)
    g.grant(BOB, "acme/web", "viewer", actor=ALICE)
    return g


def _fingerprint(g: ag.Graph, path: Path) -> tuple[bytes, int, int, str, list[ag.Event]]:
    return (path.read_bytes(), len(g.audit), g.revision, g.to_json(), g.audit.events())


def test_overlay_work_touches_neither_the_graph_nor_its_journal_nor_its_log(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = _journaled(path)
    before = _fingerprint(g, path)
    with g.what_if() as w:
        assert isinstance(w, ag.WhatIf) and isinstance(w, ag.Graph)
        w.grant(BOB, "acme/prod", "member", actor=ALICE)
        w.set_org_role(BOB, "acme", "admin", actor=JANE)
        w.add_member("carol@example.com", "acme", actor=ALICE)
        w.remove_project("acme/web", actor=JANE)
        w.record(ALICE, "data.exported", "acme/prod", rows=3)
        # a failed mutation inside the block: refused by authority, then by a rule
        with pytest.raises(ag.PermissionDenied):
            w.grant(BOB, "acme/prod", "admin", actor=BOB)
        with pytest.raises(ag.ConflictError):
            w.remove_member(JANE, "acme", actor=JANE)  # the last owner
        assert w.check(BOB, "org:manage_roles", "acme")
        assert not g.check(BOB, "org:manage_roles", "acme")
        assert _fingerprint(g, path) == before
    assert _fingerprint(g, path) == before
    # the journal still replays to the same graph
    g2 = ag.Graph.open(path)
    assert g2.to_json() == g.to_json()


def test_authority_applies_inside_and_actor_none_is_the_system() -> None:
    g = ag.Graph()
    g.add_org("acme", owner=JANE)
    g.add_project("acme/web")
    g.add_member(BOB, "acme")
    with g.what_if() as w:
        with pytest.raises(ag.PermissionDenied) as info:
            w.grant(BOB, "acme/web", "admin", actor=BOB)
        assert info.value.decision is not None
        # the refusal is in the overlay's own log, not in the graph's
        assert [e.action for e in w.audit] == ["access.denied"]
        w.grant(BOB, "acme/web", "admin", actor=None)
        assert w.check(BOB, "project:manage_members", "acme/web")
        assert [(e.action, e.actor) for e in w.changes()] == [("grant.added", "system")]
    assert len(g.audit) == 4 and not g.grants(user=BOB)


def test_changes_and_diff_say_what_the_overlay_would_do() -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner=JANE)
    g.add_project("acme/web")
    g.add_member(ALICE, "acme", "admin")
    g.add_member(BOB, "acme")
    g.grant(BOB, "acme/web", "viewer")
    with g.what_if() as w:
        assert w.now() == g.now()  # the same (frozen) clock
        w.grant(BOB, "acme/web", "member", actor=ALICE)
        w.remove_member(ALICE, "acme", actor=JANE)
        changes = w.changes()
        assert [(e.seq, e.action, e.actor, e.target) for e in changes] == [
            (1, "grant.changed", ALICE, "acme/web"),
            (2, "member.removed", JANE, "acme"),
        ]
        d = w.diff(g)
        assert [(c.user, c.project, c.before, c.after, c.kind) for c in d] == [
            (ALICE, "acme", "admin", None, "lost"),
            (ALICE, "acme/web", "admin", None, "lost"),
            (BOB, "acme/web", "viewer", "member", "changed"),
        ]
        assert list(g.diff(w)) == list(d)


def test_a_registry_document_overlays_a_whole_proposed_change(tmp_path: Path) -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=JANE)
    g.add_project("acme/web", name="Web")
    g.add_member(BOB, "acme")
    g.grant(BOB, "acme/web", "viewer")
    proposal = g.to_markdown("acme").replace("  - Web: viewer", "  - Web: admin")
    assert proposal != g.to_markdown("acme")
    with g.what_if(proposal, org="acme") as w:
        assert [e.action for e in w.changes()] == ["grant.changed"]
        assert [(c.user, c.before, c.after) for c in w.diff(g)] == [(BOB, "viewer", "admin")]
    file = tmp_path / "proposed.md"
    file.write_text(proposal)
    with g.what_if(file, org="acme") as w:
        assert w.role(BOB, "acme/web") == "admin"
    assert g.role(BOB, "acme/web") == "viewer"
    with pytest.raises(ag.RegistryFormatError):
        g.what_if("# Acme Access Registry\n## Nope\n", org="acme")


def test_leaving_the_block_discards_the_overlay() -> None:
    g = ag.Graph()
    g.add_org("acme", owner=JANE)
    with g.what_if() as w:
        w.add_project("acme/web", actor=JANE)
    with pytest.raises(ag.ConflictError, match="discarded"):
        w.check(JANE, "project:view", "acme/web")
    with pytest.raises(ag.ConflictError, match="discarded"):
        w.add_project("acme/other", actor=JANE)
    assert repr(w) == "<WhatIf (discarded)>"
    # without a block it lives until discarded
    w2 = g.what_if()
    w2.add_project("acme/web", actor=JANE)
    assert w2.check(JANE, "project:view", "acme/web")
    w2.discard()
    with pytest.raises(ag.ConflictError):
        w2.projects()
    assert [p.id for p in g.projects()] == []


def test_an_overlay_of_an_overlay_and_of_a_past_view() -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner=JANE)
    g.set_time("2024-05-02")
    g.add_project("acme/web")
    with g.what_if() as w, w.what_if() as w2:
        w2.add_member(BOB, "acme", actor=JANE)
        assert w2.changes()[0].action == "member.added"
        assert w.changes() == [] and not g.members("acme")[1:]
    past = g.as_of("2024-05-01T12:00:00Z")
    with past.what_if() as w:
        # a view of the past is read-only; an overlay of it is a scratch copy
        w.add_project("acme/web", actor=JANE)
        assert w.now() == past.now()
