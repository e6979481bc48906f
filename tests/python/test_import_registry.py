"""g.import_registry(path, org=): the org's access becomes what the document says."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES

import accessgraph as ag


def state(g: ag.Graph) -> tuple[object, ...]:
    members = [
        (m.user, m.role, m.expires, m.reason, m.reviewed, m.external, m.title)
        for m in g.members("acme")
    ]
    grants = [(x.user, x.target, x.role, x.expires, x.reason) for x in g.grants()]
    projects = [
        (p.id, p.name, p.environment, p.restricted, p.pii, p.default_role)
        for p in g.projects("acme")
    ]
    return (members, grants, projects)


def test_drifted_graph_is_brought_back_to_the_document(tmp_path: Path) -> None:
    path = EXAMPLES / "acme_registry.md"
    documented = ag.Graph.load(path, org="acme")
    live = ag.Graph.load(path, org="acme")
    for g in (documented, live):
        g.set_time("2024-05-01")  # diff judges each graph at its own clock
    live.add_member("mallory@example.com", "acme", actor="alice@example.com")
    live.grant("mallory@example.com", "acme/production", "admin", actor="alice@example.com")
    live.revoke("charlie@example.com", "acme/staging", actor="alice@example.com")
    live.grant("diana@example.com", "acme/*", "admin", actor="alice@example.com")
    live.set_org_role("evan@example.com", "acme", "admin", actor="jane@example.com")
    live.update_project("acme/development", actor="alice@example.com", default_role=None)
    live.add_resource("acme/production", "dashboard", 1, owner="alice@example.com")
    assert documented.diff(live)

    applied = live.import_registry(path, org="acme")
    # mallory's grant and membership go (2), charlie's staging grant comes back (1), diana's
    # org-wide grant and evan's role are restored (2), development's default role (1)
    assert applied == 6
    assert state(live) == state(documented)
    assert not documented.diff(live)
    assert live.resources() != []  # projects (and their resources) are kept
    assert live.import_registry(path, org="acme") == 0  # in sync: nothing to do


def test_a_failing_document_changes_nothing(tmp_path: Path) -> None:
    g = ag.Graph.load(EXAMPLES / "acme_registry.md", org="acme")
    before = state(g)
    bad = tmp_path / "bad.md"
    bad.write_text("# Acme Corp Access Registry\n## Owners\n- jane@example\n", encoding="utf-8")
    with pytest.raises(ag.RegistryFormatError):
        g.import_registry(bad, org="acme")
    assert state(g) == before


def test_an_org_the_graph_lacks_is_created() -> None:
    g = ag.Graph()
    g.add_org("other", owner="o@x.io")
    assert g.import_registry(EXAMPLES / "seed_registry.md", org="acme") > 0
    assert [o.slug for o in g.orgs()] == ["acme", "other"]
