"""Shared fixtures for the Python test suite."""

from __future__ import annotations

import pytest

import accessgraph as ag

T0 = "2024-05-01T00:00:00Z"


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
