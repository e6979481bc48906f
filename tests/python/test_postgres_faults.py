"""PostgreSQL journal faults found by review: a snapshot racing an erasure, NUL bytes in
stored text, a follower whose connection goes dead, passwords in odd URLs.

Runs against the real server of ``test_postgres`` (never skipped)."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pg_cluster  # tests/ is on pytest's pythonpath
import pytest
from test_postgres import cluster, db, seed, url  # noqa: F401  (the PostgreSQL fixtures)

import accessgraph as ag
from accessgraph import postgres as agpg

OWNER = "jane@example.com"


def test_a_snapshot_racing_an_erasure_never_keeps_the_erased_user(
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
) -> None:
    a = ag.Graph.open(url(cluster, db, follow="off"))
    seed(a)
    a.add_member("bob@example.com", "acme", actor=OWNER, name="Bob Person")
    b = ag.Graph.open(url(cluster, db, follow="off"))
    # The snapshot's insert has read the graph's epoch (before the erasure) and waits
    # here, uncommitted, while the erasure runs.
    cluster.psql(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$; "
        "CREATE TRIGGER slow BEFORE INSERT ON accessgraph_snapshots "
        "FOR EACH ROW EXECUTE FUNCTION slow()",
        db,
    )
    outcome: list[object] = []

    def snapshot() -> None:
        try:
            outcome.append(b.snapshot())
        except ag.AccessGraphError as e:
            outcome.append(e)

    t = threading.Thread(target=snapshot)
    t.start()
    time.sleep(0.5)
    a.erase_user("bob@example.com", actor=OWNER, reason="GDPR request")
    t.join(10)
    assert outcome, "the snapshot did not return"
    held = cluster.psql(
        "SELECT count(*) FROM accessgraph_snapshots WHERE state LIKE '%bob@example.com%'", db
    )
    assert held == "0", outcome


# --- NUL bytes: PostgreSQL's text cannot hold U+0000 ------------------------------------

NUL_EVENTS = [
    ("target", ("res\x00ource",), {}),
    ("details.user", ("acme/web",), {"user": "a\x00b"}),
    ("details.note", ("acme/web",), {"note": "x\x00y"}),
    ("details.rows[1]", ("acme/web",), {"rows": ["ok", "x\x00y"]}),
]


def nul_refused(g: ag.Graph) -> None:
    before = g.revision
    for field, args, details in NUL_EVENTS:
        with pytest.raises(ag.ValidationError, match=re.escape(field)):
            g.record(OWNER, "data.exported", *args, **details)
    assert g.revision == before
    g.record(OWNER, "data.exported", "acme/web", note="fine")
    assert g.revision == before + 1


def test_a_nul_byte_is_refused_up_front_by_a_file_journal(tmp_path: Path) -> None:
    g = ag.Graph.open(tmp_path / "j.journal")
    seed(g)
    nul_refused(g)
    assert g.audit.events(target="res\x00ource") == []


def test_a_nul_byte_is_refused_up_front_in_the_database(
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
) -> None:
    g = ag.Graph.open(url(cluster, db))
    seed(g)
    nul_refused(g)
    g.add_member("bob@example.com", "acme", actor=OWNER)
    # A filter holding NUL matches nothing (no row can hold one).
    assert g.audit.events(target="res\x00ource") == []
    assert g.audit.events(user="bob\x00@example.com") == []
    assert g.audit.events(actor="x\x00", action="member.*", limit=1) == []
    assert len(g.audit.events(user="bob@example.com")) == 1


# --- a follower whose connections go silent -----------------------------------------------


def test_a_follower_whose_connections_go_silent_catches_up_within_its_bound(
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
) -> None:
    b = ag.Graph.open(url(cluster, db))
    seed(b)
    b.add_member("bob@example.com", "acme", actor=OWNER)
    a = ag.Graph.open(url(cluster, db, poll="0.5", application_name="silenced"))
    assert a.role("bob@example.com", "acme") == "member"
    a.refresh()
    pids = [
        int(p)
        for p in cluster.psql(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}' "
            "AND application_name = 'silenced'",
            db,
        ).split()
    ]
    assert pids
    # Stopped server processes keep their sockets open and acknowledged: a network
    # black hole that TCP itself never notices.
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        b.remove_member("bob@example.com", "acme", actor=OWNER)
        t0 = time.monotonic()
        while a.role("bob@example.com", "acme") is not None and time.monotonic() - t0 < 8:
            time.sleep(0.05)
        took = time.monotonic() - t0
        assert a.role("bob@example.com", "acme") is None, "still stale after 8 s"
        # poll (0.5 s) + the silence bound (1 s) + reconnecting.
        assert took < 4, took
        a.refresh()
        a.add_member("carol@example.com", "acme", actor=OWNER)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


# --- passwords in odd URLs (no server needed) -------------------------------------------

SECRET = "Zq9SECRETpw"


@pytest.mark.parametrize(
    "form",
    [
        # An unencoded `@`: the driver ends the user part at the first, the writer
        # meant the last.
        "postgresql://postgres:x@y{p}@127.0.0.1:1/db",
        "postgresql://postgres:a?b{p}@c@127.0.0.1:1/db",
        "postgresql://postgres:a@b{p}?c@127.0.0.1:1/db",
        # A parameter name that decodes to `password=…`.
        "postgresql://postgres@127.0.0.1:1/db?password%3D{p}",
        "postgresql://postgres@127.0.0.1:1/db?graph=g&password%3d{p}&poll=1",
    ],
)
def test_no_part_of_a_password_shows(form: str) -> None:
    u = form.format(p=SECRET)
    assert "SECRET" not in agpg.redact(u)
    with pytest.raises(ag.AccessGraphError) as info:
        ag.Graph.open(u)
    e: BaseException | None = info.value
    while e is not None:
        assert "SECRET" not in f"{e} {e!r}"
        e = e.__cause__ or e.__context__
