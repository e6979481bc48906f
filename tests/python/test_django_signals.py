"""``access_changed``: sent once per change, for local changes and other processes' alike."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_app import REPO, setup

import accessgraph as ag

setup()

from django.test import AsyncClient, Client  # noqa: E402

from accessgraph.django import override_graph  # noqa: E402
from accessgraph.django.signals import access_changed, asend_changes, send_changes  # noqa: E402


class Heard:
    """What the receivers heard: one entry per signal."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []

    def __call__(self, sender: ag.Graph, **kwargs: Any) -> None:
        self.batches.append({"sender": sender, **kwargs})

    @property
    def actions(self) -> list[list[str]]:
        return [[e.action for e in b["events"]] for b in self.batches]


@pytest.fixture
def heard() -> Iterator[Heard]:
    listener = Heard()
    access_changed.connect(listener, weak=False)
    try:
        yield listener
    finally:
        access_changed.disconnect(listener)


def status(path: str, email: str) -> int:
    return Client().get(path, headers={"X-User": email}).status_code


def test_a_local_change_is_announced_before_the_next_request(acme: ag.Graph, heard: Heard) -> None:
    with override_graph(acme):
        assert heard.batches == []  # what was there before is not news
        before = acme.revision
        acme.revoke("charlie@example.com", "acme/production", actor="alice@example.com")
        assert status("/production/can-view/", "charlie@example.com") == 200
        assert heard.actions == [["grant.removed"]]
        (batch,) = heard.batches
        assert batch["sender"] is acme and batch["revision"] == before + 1
        assert batch["events"][0].details["user"] == "charlie@example.com"
        status("/production/can-view/", "charlie@example.com")
        assert len(heard.batches) == 1  # each change once


def test_a_change_made_by_a_view_is_announced_as_the_request_ends(
    acme: ag.Graph, heard: Heard
) -> None:
    with override_graph(acme):
        assert status("/revoke/charlie@example.com/production/", "alice@example.com") == 200
        assert heard.actions == [["grant.removed"]]


def test_a_change_is_announced_before_a_check_outside_requests(
    acme: ag.Graph, heard: Heard
) -> None:
    from django_app.models import Account

    with override_graph(acme):
        acme.grant("evan@example.com", "acme/staging", "viewer", actor="alice@example.com")
        acme.grant("evan@example.com", "acme/development", "viewer", actor="alice@example.com")
        evan = Account(username="evan", email="evan@example.com")
        assert evan.has_perm("accessgraph.insight:view", "acme/staging")
        assert heard.actions == [["grant.added", "grant.added"]]
        assert send_changes() == []


def test_send_changes_and_its_async_twin(acme: ag.Graph, heard: Heard) -> None:
    with override_graph(acme):
        acme.add_member("fred@example.com", "acme", actor="alice@example.com")
        events = send_changes()
        assert [e.action for e in events] == ["member.added"]
        acme.remove_member("fred@example.com", "acme", actor="alice@example.com")
        events = asyncio.run(asend_changes())
        assert [e.action for e in events] == ["member.removed"]
        assert heard.actions == [["member.added"], ["member.removed"]]


def test_an_async_request_announces_with_asend(acme: ag.Graph, heard: Heard) -> None:
    async def ask() -> int:
        response = await AsyncClient().get(
            "/production/flags/", headers={"X-User": "alice@example.com"}
        )
        return int(response.status_code)

    with override_graph(acme):
        acme.set_org_role("alice@example.com", "acme", "member", actor="jane@example.com")
        assert asyncio.run(ask()) == 403  # no longer an admin
    assert heard.actions == [["member.role_changed"]]


def test_events_pulled_in_however_old_their_time(heard: Heard) -> None:
    # An event dated before the last one seen (another machine's clock) still comes.
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    with override_graph(g):
        g.set_time("2020-01-01")
        g.add_project("acme/old", actor="jane@example.com")
        assert [e.action for e in send_changes()] == ["project.created"]


def test_a_graph_without_audit_log_announces_without_events(heard: Heard) -> None:
    g = ag.Graph(audit=False)
    g.add_org("acme", owner="jane@example.com")
    with override_graph(g):
        g.add_project("acme/p", actor="jane@example.com")
        send_changes()
    assert heard.batches[0]["events"] == [] and heard.batches[0]["revision"] == g.revision


# --- another process -----------------------------------------------------------------------


def in_another_process(journal: Path, code: str) -> None:
    script = f"import accessgraph as ag\ng = ag.Graph.open({str(journal)!r})\n" + textwrap.dedent(
        code
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_another_process_revocation_is_announced_and_enforced(tmp_path: Path, heard: Heard) -> None:
    journal = tmp_path / "access.journal"
    graph = ag.Graph.open(journal)
    graph.add_org("acme", owner="jane@example.com")
    graph.add_project("acme/production", restricted=True)
    graph.add_member("alice@example.com", "acme", role="admin", actor="jane@example.com")
    graph.add_member("charlie@example.com", "acme", actor="alice@example.com")
    graph.grant("charlie@example.com", "acme/production", "viewer", actor="alice@example.com")
    with override_graph(graph):
        assert status("/production/can-view/", "charlie@example.com") == 200
        assert Client().get(
            "/production/can-view/", headers={"X-User": "charlie@example.com"}
        ).json() == {"allowed": True}
        in_another_process(
            journal,
            """
            g.revoke("charlie@example.com", "acme/production", actor="alice@example.com")
            """,
        )
        # No refresh(): the check in the next request reads what the other process
        # appended before it answers.
        response = Client().get("/production/can-view/", headers={"X-User": "charlie@example.com"})
        assert response.json() == {"allowed": False}
    assert heard.actions == [["grant.removed"]]
    (event,) = heard.batches[0]["events"]
    assert event.actor == "alice@example.com" and event.target == "acme/production"
