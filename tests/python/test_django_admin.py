"""The read-only admin pages, as staff with and without the permission and as non-staff;
the audit log's pages read a bounded number of events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from django_app import setup

import accessgraph as ag

setup()

from django.contrib.auth.models import Permission  # noqa: E402
from django.test import Client  # noqa: E402
from django_app.models import Account  # noqa: E402

from accessgraph.django import override_graph  # noqa: E402
from accessgraph.django._audit_pages import Cursor, page  # noqa: E402

MATRIX = "/admin/accessgraph/accessmatrix/"
AUDIT = "/admin/accessgraph/auditlogentry/"
REVIEW = "/admin/accessgraph/accessreview/"


@pytest.fixture
def graph(acme: ag.Graph) -> Iterator[ag.Graph]:
    with override_graph(acme):
        yield acme


@pytest.fixture
def people() -> Iterator[dict[str, Account]]:
    permission = Permission.objects.get(
        content_type__app_label="accessgraph", codename="view_access"
    )
    auditor = Account.objects.create(username="auditor", email="auditor@example.com", is_staff=True)
    auditor.user_permissions.add(permission)
    made = {
        "auditor": auditor,
        "staff": Account.objects.create(username="staff", email="staff@example.com", is_staff=True),
        "member": Account.objects.create(username="member", email="member@example.com"),
        "root": Account.objects.create(
            username="root", email="root@example.com", is_staff=True, is_superuser=True
        ),
    }
    yield made
    Account.objects.all().delete()


def as_user(user: Account) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def text(response: Any) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_permission_needs_no_table() -> None:
    from django.db import connection

    assert Permission.objects.filter(codename="view_access").count() == 1
    tables = connection.introspection.table_names()
    assert not [t for t in tables if t.startswith("accessgraph")]


@pytest.mark.parametrize("url", [MATRIX, AUDIT, REVIEW])
def test_who_may_see_the_pages(graph: ag.Graph, people: dict[str, Account], url: str) -> None:
    assert as_user(people["auditor"]).get(url).status_code == 200
    assert as_user(people["root"]).get(url).status_code == 200
    assert as_user(people["staff"]).get(url).status_code == 403  # staff, no permission
    response = as_user(people["member"]).get(url)  # not staff: the admin's login page
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Client().get(url).status_code == 302


def test_the_admin_index_lists_the_pages(graph: ag.Graph, people: dict[str, Account]) -> None:
    page_text = text(as_user(people["auditor"]).get("/admin/"))
    for entry in ("Access matrix", "Audit log", "Access review"):
        assert entry in page_text
    assert "Access matrix" not in text(as_user(people["staff"]).get("/admin/"))


def test_the_pages_are_read_only(graph: ag.Graph, people: dict[str, Account]) -> None:
    client = as_user(people["root"])
    assert client.get(MATRIX + "add/").status_code == 404
    assert client.post(MATRIX, {"org": "acme"}).status_code in (200, 405)
    before = graph.revision
    client.post(AUDIT, {"action": "member.removed"})
    assert graph.revision == before


def test_the_access_matrix(graph: ag.Graph, people: dict[str, Account]) -> None:
    body = text(as_user(people["auditor"]).get(MATRIX, {"org": "acme"}))
    assert "acme/production" in body and "acme/staging" in body
    row = re.search(r"charlie@example\.com (.*?) diana@", body, re.S)
    assert row is not None
    assert "viewer  (explicit_member)" in row.group(1)  # production
    assert "member  (explicit_member)" in row.group(1)  # development
    body = text(as_user(people["auditor"]).get(MATRIX, {"org": "acme", "q": "consultant"}))
    assert "consultant@agency.com" in body and "charlie@" not in body
    assert "until 2024-06-01" in body and "(external)" in body  # the consultant


def test_the_audit_log_filters(graph: ag.Graph, people: dict[str, Account]) -> None:
    client = as_user(people["auditor"])
    body = text(client.get(AUDIT, {"actor": "alice@example.com", "action": "grant.*"}))
    grants = graph.audit.events(actor="alice@example.com", action="grant.*")
    assert len(grants) == 5
    assert body.count("grant.added") == len(grants)
    assert "member.added" not in body
    body = text(client.get(AUDIT, {"user": "charlie@example.com"}))
    assert body.count("charlie@example.com") >= 3
    assert "diana@" not in body
    body = text(client.get(AUDIT, {"target": "acme/production"}))
    assert "project.created" in body and "acme/staging" not in body
    assert "No events match." in text(client.get(AUDIT, {"since": "2024-05-02"}))
    assert "No events match." in text(client.get(AUDIT, {"until": "2024-05-01"}))
    assert "is not a date" in text(client.get(AUDIT, {"since": "yesterday"}))


def test_the_audit_log_pages_newest_first(people: dict[str, Account]) -> None:
    g = busy_graph(130)
    client = as_user(people["auditor"])
    seen: list[int] = []
    query: dict[str, str] = {"action": "member.added"}
    with override_graph(g):
        for _ in range(10):
            response = client.get(AUDIT, query)
            seen += [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", response.content.decode())]
            older = re.search(r'<a href="\?([^"]+)" class="older">', response.content.decode())
            if older is None:
                break
            query = dict(pair.split("=", 1) for pair in unescape(older.group(1)).split("&"))
            query = {
                k: v.replace("%3A", ":").replace("%2B", "+").replace("%7E", "~")
                for k, v in query.items()
            }
    expected = [
        e.seq
        for e in sorted(
            g.audit.events(action="member.added"), key=lambda e: (e.at, e.seq), reverse=True
        )
    ]
    assert seen == expected and len(seen) == 131  # and the owner's


def test_the_review_with_remediation(graph: ag.Graph, people: dict[str, Account]) -> None:
    body = text(as_user(people["auditor"]).get(REVIEW, {"org": "acme"}))
    review = graph.review("acme")
    assert len(review) > 0
    for finding in review:
        assert finding.remediation in body
    high = text(as_user(people["auditor"]).get(REVIEW, {"severity": "high"}))
    assert f"{len(review.filter(severity='high'))} finding" in high


# --- the pager ------------------------------------------------------------------------------


def busy_graph(members: int, *, burst: int = 0) -> ag.Graph:
    """An org whose members joined a minute apart (one batch an hour earlier, out of
    order), plus ``burst`` members added within one microsecond."""
    g = ag.Graph()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    g.set_time(start)
    g.add_org("acme", owner="jane@example.com")
    for i in range(members):
        at = start + timedelta(minutes=i + 1)
        if i % 17 == 5:
            at -= timedelta(hours=1)  # a clock that went back
        g.set_time(at)
        g.add_member(f"user{i}@example.com", "acme", actor="jane@example.com")
    g.set_time(start + timedelta(days=3))
    for i in range(burst):
        g.add_member(f"burst{i}@example.com", "acme", actor="jane@example.com")
    return g


class Counting:
    """An audit log that records how many events each call returned."""

    def __init__(self, log: ag.AuditLog) -> None:
        self.log = log
        self.calls: list[tuple[int | None, int]] = []

    def events(self, **criteria: Any) -> list[ag.Event]:
        found = self.log.events(**criteria)
        self.calls.append((criteria.get("limit"), len(found)))
        return found


def walk(g: ag.Graph, size: int, **criteria: Any) -> tuple[list[int], Counting]:
    log = Counting(g.audit)
    seqs: list[int] = []
    cursor: Cursor | None = None
    while True:
        p = page(log, size=size, now=g.now(), before=cursor, **criteria)
        assert len(p.events) <= size
        seqs += [e.seq for e in p.events]
        if p.older is None:
            return seqs, log
        assert Cursor.decode(p.older.encode()) == p.older
        cursor = p.older


def newest_first(events: list[ag.Event]) -> list[int]:
    return [e.seq for e in sorted(events, key=lambda e: (e.at, e.seq), reverse=True)]


@pytest.mark.parametrize("size", [1, 7, 50])
def test_pages_cover_the_log_once_in_order(size: int) -> None:
    g = busy_graph(400)
    seqs, log = walk(g, size)
    assert seqs == newest_first(g.audit.events())
    # never more than a window's worth read at once: no call without a limit, none over it
    assert all(limit is not None and n <= 4 * size + 1 for limit, n in log.calls)


def test_pages_with_filters() -> None:
    g = busy_graph(200)
    since, until = datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 2, tzinfo=UTC)
    seqs, _ = walk(g, 10, action="member.*", since=since, until=until)
    assert seqs == newest_first(g.audit.events(action="member.*", since=since, until=until))
    assert 50 < len(seqs) < 70


def test_a_burst_in_one_microsecond_is_read_whole() -> None:
    g = busy_graph(30, burst=120)
    seqs, log = walk(g, 10)
    assert seqs == newest_first(g.audit.events())
    assert max(n for _, n in log.calls) <= 120 + 1


def test_a_cursor_that_is_not_one() -> None:
    assert Cursor.decode("") is None
    assert Cursor.decode("yesterday~3") is None
    assert Cursor.decode("2024-01-01T00:00:00~x") is None
    assert Cursor.decode("2024-01-01T00:00:00+00:00~3") == Cursor(
        datetime(2024, 1, 1, tzinfo=UTC), 3
    )
