"""Long work on PostgreSQL shows progress (issue 19): opening a graph kept in the database
and time travel (``as_of``) report the events they replay, and ``import_journal`` the
journal's bytes as it reads them and again as it copies them. A callback that raises
stops the work with nothing written: no trust-on-first-use checkpoint, no half-imported
graph.

Runs against the real server of ``test_postgres`` (never skipped)."""

from __future__ import annotations

from pathlib import Path

import pg_cluster  # tests/ is on pytest's pythonpath
import pytest
from test_postgres import cluster, db, url  # noqa: F401  (the PostgreSQL fixtures)
from test_progress import Calls, Halt

import accessgraph as ag
from accessgraph import postgres as agpg

OWNER = "owner@acme.io"
# Over 16,384 lines: the journal is read in two stretches, so the read reports mid-way.
EVENTS = 20_000


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pgprogress") / "big.journal"
    g = ag.Graph.open(path, durability="os", follow=False)
    g.add_org("acme", owner=OWNER, actor=None)
    for i in range(EVENTS):
        g.add_member(f"user{i}@acme.io", "acme", role="member", actor=None)
    return path


def _inner(calls: Calls) -> list[int]:
    total = calls[0][1]
    return [d for d, _ in calls if 0 < d < total]


def _halting(when: int) -> tuple[Calls, object]:
    """A callback that raises ``Halt(done)`` at the first report past ``when``."""
    calls = Calls()

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done > when and done < total:
            raise Halt(done)

    return calls, progress


def _revision(journal: Path) -> int:
    return ag.Graph.open(journal, follow=False).revision


def _rows(server: pg_cluster.Cluster, database: str, table: str) -> int:
    return int(server.psql(f"SELECT count(*) FROM {table}", database).strip())


def test_an_import_and_an_open_report_as_they_go(
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
    journal: Path,
) -> None:
    size = journal.stat().st_size
    u = url(cluster, db, graph="big", follow="off")
    calls = Calls()
    copied = agpg.import_journal(journal, u, progress=calls)
    calls.check(2 * size)
    inner = _inner(calls)
    assert inner == sorted(set(inner)), calls
    # reported while reading (before the whole file was read) and while copying
    assert any(d < size for d in inner), calls
    # about every 1 % of the total: the copy is half of it
    assert sum(1 for d in inner if d > size) >= 40, calls
    f = ag.Graph.open(journal, follow=False)
    assert copied == f.revision

    calls = Calls()
    g = ag.Graph.open(u, progress=calls)
    # the events replayed, all of them (no snapshot yet)
    calls.check(f.revision)
    assert len(_inner(calls)) >= 50, calls
    assert g.revision == f.revision and g.to_json() == f.to_json()
    # time travel reads the events from the database, and reports them too
    calls = Calls()
    assert g.as_of(g.now(), progress=calls).to_json() == f.to_json()
    calls.check(f.revision)
    assert len(_inner(calls)) >= 50, calls

    # after a snapshot, only the events that follow it are replayed
    g.snapshot()
    for i in range(300):
        g.add_member(f"late{i}@acme.io", "acme", role="member", actor=None)
    calls = Calls()
    again = ag.Graph.open(u, progress=calls)
    calls.check(300)
    assert _inner(calls), calls
    assert again.revision == g.revision and again.to_json() == g.to_json()


def test_a_callback_that_stops_an_open_writes_nothing(
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
    journal: Path,
) -> None:
    u = url(cluster, db, graph="big", follow="off")
    agpg.import_journal(journal, u)
    # An unkeyed graph opened with a key is trusted on first use: not when stopped.
    calls, progress = _halting(when=EVENTS // 2)
    with pytest.raises(Halt) as raised:
        ag.Graph.open(u, hmac_key=b"k" * 32, progress=progress)
    assert EVENTS // 2 < raised.value.args[0] < calls[0][1]
    total = calls[0][1]
    assert (total, total) not in calls  # no end after it stopped
    assert _rows(cluster, db, "accessgraph_checkpoints") == 0
    # opened without a callback, the key is trusted on first use as usual
    g = ag.Graph.open(u, hmac_key=b"k" * 32)
    assert _rows(cluster, db, "accessgraph_checkpoints") == 1
    assert g.revision == _revision(journal)
    # and the same exception object comes back from a stop at the very start
    boom = Halt("at the start")

    def at_start(done: int, total: int) -> None:
        raise boom

    with pytest.raises(Halt) as raised:
        ag.Graph.open(u, hmac_key=b"k" * 32, progress=at_start)
    assert raised.value is boom


@pytest.mark.parametrize("phase", ["reading", "copying"])
def test_a_callback_that_stops_an_import_leaves_no_graph(
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
    journal: Path,
    phase: str,
) -> None:
    size = journal.stat().st_size
    u = url(cluster, db, graph="big", follow="off")
    agpg.migrate(u)
    before = journal.read_bytes()
    when = size // 4 if phase == "reading" else size + size // 2
    calls, progress = _halting(when=when)
    with pytest.raises(Halt) as raised:
        agpg.import_journal(journal, u, progress=progress)
    assert raised.value.args[0] > when
    assert (2 * size, 2 * size) not in calls
    assert journal.read_bytes() == before
    # nothing of the copy is in the database: the name is free and no event row is left
    assert _rows(cluster, db, "accessgraph_events") == 0
    assert _rows(cluster, db, "accessgraph_graphs") == 0
    assert agpg.import_journal(journal, u) == _revision(journal)
