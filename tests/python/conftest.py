"""What several test files share: the repository's paths, the README's examples, and
the example graphs (as fixtures).

Test files import the plain names (``from conftest import EXAMPLES``); pytest hands them
the fixtures. A module that defines a fixture of the same name (``g``) uses its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import accessgraph as ag

T0 = "2024-05-01T00:00:00Z"

ROOT = Path(__file__).resolve().parents[2]
"""The repository."""
EXAMPLES = ROOT / "examples"
POSTHOG = ROOT / "tests" / "fixtures" / "posthog"
"""PostHog REST API responses: ``org_members.json``, ``production_explicit_members.json``."""
SCHEMA_PATH = ROOT / "docs" / "accessgraph.schema.json"
SEED_MARKDOWN = (EXAMPLES / "seed_registry.md").read_text(encoding="utf-8")
"""The seed access registry (SPEC 5.1) as ``examples/`` ships it."""

OWNER = "owner@acme.io"
ADMIN = "admin@acme.io"
MEMBER = "member@acme.io"


def readme_block(heading: str, doc: str = "README.md") -> str:
    """The first Python block under the ``heading`` line of ``doc`` (a path from the
    repository root: the README, or a page under docs/)."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    after = text.split(f"\n{heading}\n", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def small_journal(path: Path, hmac_key: bytes | None = None) -> ag.Graph:
    """A journal at ``path`` holding five events: org acme of jane@example.com, project
    acme/prod, bob@example.com a member with viewer on it. Returns the graph, still open."""
    g = ag.Graph.open(path, hmac_key=hmac_key)
    g.add_org("acme", name="Acme", owner="jane@example.com")
    g.add_project("acme/prod", name="Prod")
    g.add_member("bob@example.com", "acme", actor="jane@example.com")
    g.grant("bob@example.com", "acme/prod", "viewer", actor="jane@example.com")
    return g


def grants(g: ag.Graph, user: str) -> dict[str, str]:
    """``user``'s grants as ``{target: role}``."""
    return {x.target: x.role for x in g.grants(user=user)}


@pytest.fixture
def g() -> ag.Graph:
    """Org ``acme`` ("Acme") of :data:`OWNER`, :data:`ADMIN` and :data:`MEMBER`, with
    Production (restricted, pii), Staging and Development, each with its environment;
    no grants; the clock at 2024-05-01."""
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_member(ADMIN, "acme", role="admin")
    g.add_member(MEMBER, "acme")
    g.add_project(
        "acme/production", name="Production", environment="production", restricted=True, pii=True
    )
    g.add_project("acme/staging", name="Staging", environment="staging")
    g.add_project("acme/development", name="Development", environment="development")
    return g


@pytest.fixture
def acme() -> ag.Graph:
    """The example org: owners, admins, members, viewers, a contractor, three projects."""
    g = ag.Graph()
    g.set_time(T0)
    g.add_org("acme", name="Acme Corp", owner="jane@example.com")
    g.add_member("john@example.com", "acme", role="owner", title="VP Engineering")
    g.add_project(
        "acme/production",
        name="Production",
        environment="production",
        restricted=True,
        pii=True,
    )
    g.add_project("acme/staging", name="Staging", environment="staging")
    g.add_project("acme/development", name="Development", environment="development")
    g.add_member("alice@example.com", "acme", role="admin", actor="jane@example.com")
    g.add_member("bob@example.com", "acme", role="admin", actor="jane@example.com")
    for who in ("charlie", "diana", "evan"):
        g.add_member(f"{who}@example.com", "acme", actor="alice@example.com")
    g.grant("charlie@example.com", "acme/development", "member", actor="alice@example.com")
    g.grant("charlie@example.com", "acme/production", "viewer", actor="alice@example.com")
    g.grant("diana@example.com", "acme/*", "member", actor="alice@example.com")
    g.add_member("ceo@example.com", "acme", actor="alice@example.com", title="CEO")
    g.grant("ceo@example.com", "acme/*", "viewer", actor="alice@example.com")
    g.add_member(
        "consultant@agency.com",
        "acme",
        actor="alice@example.com",
        external=True,
        expires="2024-06-01",
        title="Marketing Consultant",
    )
    g.grant("consultant@agency.com", "acme/staging", "member", actor="alice@example.com")
    return g
