"""The journal in PostgreSQL (issue 8): many processes share one access state.

Every test runs against a real server: the one .ci/run started (named by
ACCESSGRAPH_PG_URL / ACCESSGRAPH_PG_DATA), else a throwaway cluster this module starts on
loopback. Without PostgreSQL these tests ERROR; they never skip. Each test has its own
database.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pg_cluster  # tests/ is on pytest's pythonpath
import pytest

import accessgraph as ag
from accessgraph import postgres as agpg

OWNER = "jane@example.com"
WORKER = str(Path(__file__).resolve().parents[1] / "pg_worker.py")
LONG = os.environ.get("ACCESSGRAPH_LONG_FUZZ") == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def cluster() -> Iterator[pg_cluster.Cluster]:
    """The server: .ci/run's, or one started here (stopped at the end)."""
    attached = pg_cluster.from_env()
    if attached is not None:
        attached.ready()
        yield attached
        return
    # Raises PostgresMissing (the tests ERROR) when PostgreSQL is not installed.
    pg_cluster.bindir()
    base = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    c = pg_cluster.Cluster(base / "data", free_port())
    c.init()
    c.start()
    try:
        c.ready()
        yield c
    finally:
        c.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def db(cluster: pg_cluster.Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database for one test; its name."""
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    name += "_" + os.urandom(3).hex()
    cluster.psql(f'CREATE DATABASE "{name}"')
    yield name
    cluster.ready()
    cluster.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url(cluster: pg_cluster.Cluster, db: str, **params: str) -> str:
    return cluster.url(db, **params)


def seed(g: ag.Graph) -> None:
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_project("acme/web", name="Web")


def wait_for(pred: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return bool(pred())


def digest(g: ag.Graph) -> str:
    return hashlib.sha256(g.to_json().encode()).hexdigest()


# --- the schema -----------------------------------------------------------------------


def schema_dump(cluster: pg_cluster.Cluster, db: str) -> str:
    return (
        cluster.psql(
            "SELECT table_name, column_name, data_type, is_nullable FROM "
            "information_schema.columns WHERE table_name LIKE 'accessgraph_%' "
            "ORDER BY table_name, ordinal_position",
            db,
        )
        + "\n"
        + cluster.psql(
            "SELECT indexname || ': ' || indexdef FROM pg_indexes "
            "WHERE tablename LIKE 'accessgraph_%' ORDER BY indexname",
            db,
        )
    )


def test_migration_creates_the_schema_and_is_a_noop_the_second_time(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    assert cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", db) == "0"
    assert agpg.migrate(url(cluster, db)) == [1, 2, 3]
    dump = schema_dump(cluster, db)
    assert "accessgraph_events|seq|bigint|NO" in dump
    assert "accessgraph_events|record|text|NO" in dump
    assert "accessgraph_graphs|epoch|bigint|NO" in dump
    assert "accessgraph_events_pkey: CREATE UNIQUE INDEX accessgraph_events_pkey ON " in dump
    assert "(graph_id, seq)" in dump
    assert "accessgraph_checkpoints|record|text|NO" in dump
    # Version 3: the columns audit.events(...) filters on, each with its index.
    for column, kind in [
        ("actor", "text"),
        ("action", "text"),
        ("target", "text"),
        ("details_user", "text"),
        ("at", "timestamp with time zone"),
        ("mac", "text"),
    ]:
        assert f"accessgraph_events|{column}|{kind}|YES" in dump
    for index, columns in [
        ("actor", "(graph_id, actor, seq)"),
        ("action", "(graph_id, action, seq)"),
        ("target", "(graph_id, target, seq)"),
        ("user", "(graph_id, details_user, seq)"),
        ("at", "(graph_id, at)"),
    ]:
        assert re.search(rf"accessgraph_events_{index}: .*btree {re.escape(columns)}", dump), index
    assert "accessgraph_snapshots|mac|text|YES" in dump
    versions = cluster.psql("SELECT version, applied_at FROM accessgraph_schema", db)
    assert [v.split("|")[0] for v in versions.splitlines()] == ["1", "2", "3"]

    assert agpg.migrate(url(cluster, db)) == []
    assert schema_dump(cluster, db) == dump
    assert cluster.psql("SELECT version, applied_at FROM accessgraph_schema", db) == versions
    # Opening a graph migrates nothing more, and creates its row.
    g = ag.Graph.open(url(cluster, db, graph="g1", follow="off"))
    assert g.revision == 0
    assert schema_dump(cluster, db) == dump
    assert cluster.psql("SELECT name FROM accessgraph_graphs", db) == "g1"


def test_processes_starting_together_migrate_once(cluster: pg_cluster.Cluster, db: str) -> None:
    code = "import sys, accessgraph.postgres as p; print(p.migrate(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url(cluster, db)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outs) == ["[1, 2, 3]", "[]", "[]", "[]"]


# --- one process, two graphs ----------------------------------------------------------


def test_changes_reach_another_graph_and_the_chain_is_the_file_journals(
    cluster: pg_cluster.Cluster, db: str, tmp_path: Path
) -> None:
    u = url(cluster, db, graph="main")
    a = ag.Graph.open(u)
    b = ag.Graph.open(url(cluster, db, graph="main", follow="off"))
    assert a.graph_id == b.graph_id
    assert a.journal_url == u
    assert a.journal_path is None
    seed(a)
    a.add_member("alice@example.com", "acme", role="admin", actor=OWNER)
    # Read-your-writes in the writer; the other graph catches up on refresh().
    assert a.role("alice@example.com", "acme") == "admin"
    assert b.role("alice@example.com", "acme") is None
    assert b.refresh() == a.revision == 4
    assert b.role("alice@example.com", "acme") == "admin"
    # The follower thread of a graph opened with follow on brings changes by itself.
    b.add_member("bob@example.com", "acme", actor="alice@example.com")
    b.grant("bob@example.com", "acme/web", "viewer", actor="alice@example.com")
    assert wait_for(lambda: a.revision == b.revision)
    assert a.check("bob@example.com", "project:view", "acme/web")
    assert digest(a) == digest(b)
    a.audit.verify()
    # Each row is one event's export form with its checksum: the rows read as an
    # export, which verifies on its own, and as a file journal (the header row, then one
    # batch per event), which opens to the same graph with the same hashes.
    assert [e.hash for e in a.audit] == [e.hash for e in b.audit]
    rows = cluster.psql("SELECT record FROM accessgraph_events ORDER BY seq", db).splitlines()
    assert len(rows) == 6
    events = [strip_crc(r) for r in rows]
    assert events == [e.to_json() for e in a.audit]
    assert [json.loads(e)["seq"] for e in events] == list(range(1, 7))
    export = tmp_path / "rows.jsonl"
    export.write_text("\n".join([*events, trailer(a.graph_id, events)]) + "\n")
    exported = ag.AuditLog.load(export)
    exported.verify()
    assert [e.hash for e in exported] == [e.hash for e in a.audit]
    header = cluster.psql("SELECT header FROM accessgraph_graphs", db)
    journal = tmp_path / "copy.journal"
    journal.write_text("\n".join([header, *(batch_line(e) for e in events)]) + "\n")
    f = ag.Graph.open(journal)
    assert f.graph_id == a.graph_id and digest(f) == digest(a)
    f.audit.verify()
    assert [e.hash for e in f.audit] == [e.hash for e in a.audit]


def with_crc(text: str) -> str:
    """A JSON object's text with its checksum (docs/journal-format.md)."""
    return text[:-1] + f',"crc":"{zlib.crc32(text.encode()):08x}"}}'


def strip_crc(record: str) -> str:
    """The JSON text a record's checksum covers, checked."""
    body, _, crc = record.rpartition(',"crc":"')
    text = body + "}"
    assert crc == f'{zlib.crc32(text.encode()):08x}"}}', record
    return text


def trailer(graph_id: str, events: list[str]) -> str:
    """The trailer of an export holding ``events`` (a chain from the graph's start)."""
    anchor = hashlib.sha256(b"accessgraph/genesis/v2\0" + graph_id.encode()).hexdigest()
    return json.dumps(
        {
            "accessgraph_export": 2,
            "graph_id": graph_id,
            "anchor": anchor,
            "base_seq": 0,
            "count": len(events),
            "last_hash": json.loads(events[-1])["hash"] if events else anchor,
        }
    )


def batch_line(event: str) -> str:
    """A file journal's batch line holding one event (its export form without the hashes
    the chain gives)."""
    doc = json.loads(event)
    last = doc.pop("hash")
    doc.pop("prev_hash")
    return with_crc(json.dumps({"batch": [doc], "hash": last}, separators=(",", ":")))


def test_authority_is_checked_against_the_latest_state(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    a = ag.Graph.open(url(cluster, db, follow="off"))
    b = ag.Graph.open(url(cluster, db, follow="off"))
    seed(a)
    a.add_member("alice@example.com", "acme", role="admin", actor=OWNER)
    b.refresh()
    # Alice loses her admin role in process A; process B has not refreshed, but its next
    # mutation catches up under the writers' lock before checking her authority.
    a.set_org_role("alice@example.com", "acme", "member", actor=OWNER)
    with pytest.raises(ag.PermissionDenied):
        b.add_member("mallory@example.com", "acme", actor="alice@example.com")
    assert b.role("alice@example.com", "acme") == "member"
    assert b.revision == a.revision + 1  # the access.denied event
    assert a.refresh() == 1
    assert [e.action for e in a.audit][-1] == "access.denied"


def two_graphs(cluster: pg_cluster.Cluster, db: str, name: str) -> tuple[ag.Graph, ag.Graph]:
    a = ag.Graph.open(url(cluster, db, graph=name, follow="off"))
    b = ag.Graph.open(url(cluster, db, graph=name, follow="off"))
    a.set_time("2024-05-01")
    seed(a)
    a.add_member("bob@example.com", "acme", actor=OWNER, reason="bob joins")
    a.set_time("2024-06-01")
    a.add_member("carol@example.com", "acme", actor=OWNER)
    b.refresh()
    return a, b


def test_as_of_and_erasure_reach_the_other_processes(cluster: pg_cluster.Cluster, db: str) -> None:
    a, b = two_graphs(cluster, db, "erase")
    past = b.as_of("2024-05-15")
    assert past.role("bob@example.com", "acme") == "member"
    assert past.role("carol@example.com", "acme") is None
    pseudonym = a.erase_user("bob@example.com", actor=OWNER, reason="GDPR request")
    assert pseudonym.startswith("erased:")
    # B notices the rewrite (the epoch moved) and reads the journal again.
    assert b.refresh() == 3  # member.removed, user.offboarded, user.erased
    assert digest(a) == digest(b)
    assert all("bob@example.com" not in json.dumps([e.actor, e.target, e.details]) for e in b.audit)
    b.audit.verify()
    assert (
        cluster.psql(
            "SELECT count(*) FROM accessgraph_events WHERE record LIKE '%bob@example.com%'", db
        )
        == "0"
    )
    assert cluster.psql("SELECT epoch FROM accessgraph_graphs", db) == "1"
    c = ag.Graph.open(url(cluster, db, graph="erase", follow="off"))
    assert digest(c) == digest(a) and c.revision == a.revision


def test_pruning_reaches_the_other_processes(cluster: pg_cluster.Cluster, db: str) -> None:
    a, b = two_graphs(cluster, db, "prune")
    # Retention pruning through B: A reloads, and both still verify.
    assert b.audit.prune(before="2024-05-20") == 4
    a.refresh()
    assert len(a.audit) == len(b.audit) == 1
    a.audit.verify()
    assert digest(a) == digest(b)
    a.add_member("dave@example.com", "acme", actor=OWNER)
    assert b.refresh() == 1
    c = ag.Graph.open(url(cluster, db, graph="prune", follow="off"))
    assert digest(c) == digest(a) and c.revision == a.revision == 6
    c.audit.verify()


def test_a_snapshot_in_the_database_starts_a_joining_process(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    a = ag.Graph.open(url(cluster, db, follow="off"))
    a.set_time("2024-05-01")
    seed(a)
    for i in range(20):
        a.add_member(f"u{i}@example.com", "acme", actor=OWNER)
    assert a.snapshot() == a.revision == 23
    with pytest.raises(ag.ValidationError, match="without a path"):
        a.snapshot("/tmp/elsewhere.snapshot")
    a.set_time("2024-06-01")
    a.add_member("late@example.com", "acme", actor=OWNER)
    assert cluster.psql("SELECT seq FROM accessgraph_snapshots", db) == "23"
    b = ag.Graph.open(url(cluster, db, follow="off"))
    assert b.revision == 24 and digest(b) == digest(a)
    # The events before the snapshot load, verified, when the audit log is first used.
    assert len(b.audit) == 24
    b.audit.verify()
    assert b.as_of("2024-05-15").role("late@example.com", "acme") is None
    # A snapshot whose event no longer matches the journal is ignored.
    cluster.psql("UPDATE accessgraph_snapshots SET hash = repeat('0', 64)", db)
    c = ag.Graph.open(url(cluster, db, follow="off"))
    assert digest(c) == digest(a)


def test_a_file_journal_moves_into_the_database(
    cluster: pg_cluster.Cluster, db: str, tmp_path: Path
) -> None:
    path = tmp_path / "access.journal"
    f = ag.Graph.open(path)
    seed(f)
    f.add_member("bob@example.com", "acme", actor=OWNER)
    f.erase_user("bob@example.com", actor=OWNER, reason="left")
    f.record(OWNER, "data.exported", "acme/web", rows=3)
    u = url(cluster, db, graph="moved", follow="off")
    assert agpg.import_journal(path, u) == f.revision
    g = ag.Graph.open(u)
    assert g.graph_id == f.graph_id and g.revision == f.revision
    assert digest(g) == digest(f)
    g.audit.verify()
    with pytest.raises(ag.ConflictError, match="moved"):
        agpg.import_journal(path, u)
    g.add_member("new@example.com", "acme", actor=OWNER)
    assert g.revision == f.revision + 1


def test_a_signed_file_journal_moves_in_with_its_checkpoint(
    cluster: pg_cluster.Cluster, db: str, tmp_path: Path
) -> None:
    path = tmp_path / "signed.journal"
    f = ag.Graph.open(path, hmac_key=b"key")
    seed(f)
    u = url(cluster, db, graph="signed", follow="off")
    with pytest.raises(ag.JournalError, match="wrong key"):
        agpg.import_journal(path, u, hmac_key=b"other")
    assert agpg.import_journal(path, u, hmac_key=b"key") == f.revision
    g = ag.Graph.open(u, hmac_key=b"key")
    assert g.revision == f.revision
    g.add_member("new@example.com", "acme", actor=OWNER)
    with pytest.raises(ag.JournalError, match="wrong key"):
        ag.Graph.open(u, hmac_key=b"other")
    # Imported without the key, the database has no checkpoint: the first keyed open
    # trusts the graph as found (trust on first use, as for a file) and holds it to the
    # key from there: rows written without it are refused.
    unsigned = url(cluster, db, graph="unsigned", follow="off")
    cluster.psql("DELETE FROM accessgraph_graphs WHERE name = 'signed'", db)
    agpg.import_journal(path, unsigned)
    assert cluster.psql("SELECT count(*) FROM accessgraph_checkpoints", db) == "0"
    assert ag.Graph.open(unsigned, hmac_key=b"key").revision == f.revision
    record = json.loads(cluster.psql("SELECT record FROM accessgraph_checkpoints", db))
    assert record["seq"] == record["trusted_from"] == f.revision
    ag.Graph.open(unsigned).add_member("late@example.com", "acme", actor=OWNER)
    with pytest.raises(ag.JournalError, match=f"event {f.revision + 1} carries no valid MAC"):
        ag.Graph.open(unsigned, hmac_key=b"key")


def test_bad_arguments_are_validation_errors(cluster: pg_cluster.Cluster, db: str) -> None:
    u = url(cluster, db)
    with pytest.raises(ag.ValidationError, match="durability"):
        ag.Graph.open(u, durability="sometimes")
    with pytest.raises(ag.ValidationError, match="hmac_key"):
        ag.Graph.open(u, hmac_key=b"")
    with pytest.raises(ag.ValidationError, match="snapshot"):
        ag.Graph.open(u, snapshot="x.snapshot")
    with pytest.raises(ag.ValidationError, match="invalid graph `a b`"):
        ag.Graph.open(u + "?graph=a b")
    with pytest.raises(ag.ValidationError, match="invalid poll"):
        ag.Graph.open(u + "?poll=-1")
    with pytest.raises(ag.ValidationError, match="invalid url"):
        ag.Graph.open(u + "?bogus=1")
    hidden = f"postgresql://app:s3cret@127.0.0.1:{free_port()}/x"
    with pytest.raises(ag.JournalUnavailableError) as err:
        ag.Graph.open(hidden)
    assert "s3cret" not in str(err.value) and "app:***@" in str(err.value)
    assert isinstance(err.value, ag.JournalError)


def test_an_upper_case_scheme_is_a_url_not_a_path_and_hides_its_password() -> None:
    # No server needed: a URL scheme is case-insensitive (RFC 3986), so this is a URL the
    # driver refuses, not a file path whose "no such file" error would show it whole.
    for bad in (
        "POSTGRESQL://app:s3cret@127.0.0.1:1/x?connect_timeout=1",
        "Postgres://app@127.0.0.1:1/x?connect_timeout=1&password=s3cret",
    ):
        with pytest.raises(ag.ValidationError, match="invalid url") as err:
            ag.Graph.open(bad)
        assert "s3cret" not in str(err.value) and "***" in str(err.value), err.value
        assert agpg.is_url(bad)


def test_losing_the_server_fails_mutations_loudly_and_checks_go_on(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    a = ag.Graph.open(url(cluster, db, poll="0.2"))
    seed(a)
    a.add_member("alice@example.com", "acme", role="admin", actor=OWNER)
    rev = a.revision
    cluster.stop("immediate")
    try:
        with pytest.raises(ag.JournalUnavailableError, match="unavailable"):
            a.add_member("bob@example.com", "acme", actor=OWNER)
        with pytest.raises(ag.JournalUnavailableError):
            a.refresh()
        # Nothing was applied; checks answer from memory.
        assert a.revision == rev
        assert a.role("bob@example.com", "acme") is None
        assert a.check("alice@example.com", "project:view", "acme/web")
        with pytest.raises(ag.JournalUnavailableError):
            a.add_member("bob@example.com", "acme", actor=OWNER)
    finally:
        cluster.start()
    cluster.ready()
    # The graph reconnects by itself: the same call now goes through.
    a.add_member("bob@example.com", "acme", actor=OWNER)
    assert a.revision == rev + 1
    b = ag.Graph.open(url(cluster, db, follow="off"))
    assert digest(b) == digest(a)
    b.audit.verify()


FORK = """
import os, sys, warnings
import accessgraph as ag
g = ag.Graph.open(sys.argv[1])
g.add_member("parent@example.com", "acme", actor="jane@example.com")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    pid = os.fork()
# Parent and child mutate at once: the child must connect anew rather than talk over its
# parent's connection, and must not close that connection when it exits.
who = "child" if pid == 0 else "parent"
for i in range(15):
    g.add_member(f"{who}-{i}@example.com", "acme", actor="jane@example.com")
if pid == 0:
    del g
    sys.exit(0)
_, status = os.waitpid(pid, 0)
assert status == 0, status
g.add_member("after@example.com", "acme", actor="jane@example.com")
assert g.role("child-14@example.com", "acme") == "member"
g.audit.verify()
print(g.revision)
"""


def test_a_forked_child_does_not_use_its_parents_connection(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    u = url(cluster, db, follow="off")
    seed(ag.Graph.open(u))
    out = subprocess.run(
        [sys.executable, "-c", FORK, u], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    g = ag.Graph.open(u)
    assert int(out.stdout) == g.revision
    users = [e.user for e in g.audit if e.action == "member.added"]
    assert sorted(users) == sorted(
        [OWNER, "parent@example.com", "after@example.com"]
        + [f"{who}-{i}@example.com" for who in ("parent", "child") for i in range(15)]
    )


# --- the audit log read from the database (issue 14) ----------------------------------


def audited(cluster: pg_cluster.Cluster, db: str, name: str = "audit") -> ag.Graph:
    """A graph whose history has a little of everything the filters look at."""
    g = ag.Graph.open(url(cluster, db, graph=name, follow="off"))
    g.set_time("2024-05-01")
    seed(g)
    for i in range(6):
        g.add_member(f"u{i}@example.com", "acme", actor=OWNER)
    g.set_time("2024-06-01T12:00:00.250000Z")
    g.grant("u1@example.com", "acme/web", "viewer", actor=OWNER)
    g.set_org_role("u2@example.com", "acme", "admin", actor=OWNER)
    # A value holding LIKE's wildcards, which a prefix filter must take literally.
    g.add_member("x_y%z@example.com", "acme", actor="u2@example.com")
    g.set_time("2024-07-01")
    g.record(OWNER, "data.exported", "acme/web", rows=3)
    g.record("u1@example.com", "data.exported", "acme/web", rows=4)
    with pytest.raises(ag.PermissionDenied):
        g.add_member("no@example.com", "acme", actor="u3@example.com")
    return g


FILTERS: list[dict[str, Any]] = [
    {},
    {"user": "u1@example.com"},
    {"user": "U1@Example.COM"},
    {"actor": OWNER},
    {"actor": "u2@example.com"},
    {"action": "member.*"},
    {"action": "member.added"},
    {"action": "member_*"},
    {"action": "%*"},
    {"action": "*"},
    {"action": "data.*", "user": "u1@example.com"},
    {"target": "acme/web"},
    {"target": "acme"},
    {"since": "2024-06-01T12:00:00.250000Z"},
    {"until": "2024-06-01T12:00:00.250000Z"},
    {"since": "2024-06-01", "until": "2024-07-01", "action": "member.*"},
    {"action": "member.*", "limit": 2},
    {"user": "x_y%z@example.com"},
    {"user": "nobody@example.com"},
]


def _name(criteria: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in criteria.items()) or "all"


@pytest.mark.parametrize("criteria", FILTERS, ids=_name)
def test_audit_filters_answered_in_sql_agree_with_the_log_in_memory(
    cluster: pg_cluster.Cluster, db: str, tmp_path: Path, criteria: dict[str, Any]
) -> None:
    g = audited(cluster, db)
    # The reference: the same events read back from an export, filtered in memory.
    export = tmp_path / "audit.jsonl"
    g.audit.to_jsonl(export)
    memory = ag.AuditLog.load(export)
    assert len(memory) == len(g.audit) == g.revision
    expected = [e.hash for e in memory.events(**criteria)]
    got = g.audit.events(**criteria)
    assert [e.hash for e in got] == expected
    assert got == list(memory.events(**criteria))
    frame = g.audit.to_pandas(**criteria)
    assert list(frame["hash"]) == expected


def test_a_graph_on_postgresql_reads_its_history_from_the_database(
    cluster: pg_cluster.Cluster, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = audited(cluster, db)
    # Iteration goes page by page.
    from accessgraph import _audit

    monkeypatch.setattr(_audit, "_PAGE", 4)
    assert [e.seq for e in g.audit] == list(range(1, g.revision + 1))
    g.audit.verify()
    # What verify(), events() and exports read is the database as it is now, not a copy
    # held since the graph was opened: a record altered under the graph is seen.
    seq = g.audit.events(user="u1@example.com")[0].seq
    cluster.psql(
        "UPDATE accessgraph_events SET record = replace(record, 'u1@example.com', "
        f"'u9@example.com') WHERE seq = {seq}",
        db,
    )
    altered = f"event {seq}: the record's checksum"
    with pytest.raises(ag.JournalError, match=altered):
        g.audit.verify()
    with pytest.raises(ag.JournalError, match=altered):
        g.audit.events(user="u1@example.com")
    with pytest.raises(ag.JournalError, match=altered):
        g.audit.to_csv(os.devnull)
    with pytest.raises(ag.JournalError, match=altered):
        list(g.audit)
    with pytest.raises(ag.JournalError, match=altered):
        g.as_of("2024-06-15")


def index_scans(cluster: pg_cluster.Cluster, db: str, index: str) -> int:
    return int(
        cluster.psql(
            f"SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = '{index}'", db
        )
    )


def file_graph(path: Path, members: int) -> ag.Graph:
    """A file journal of `members` members added to acme (and the seed)."""
    f = ag.Graph.open(path, durability="os")
    seed(f)
    for i in range(members):
        f.add_member(f"u{i}@example.com", "acme", actor=OWNER)
    return f


def test_a_big_graph_imported_after_the_last_analyze_is_filtered_through_its_index(
    cluster: pg_cluster.Cluster, db: str, tmp_path: Path
) -> None:
    # The planner's statistics date from before the graph arrived (autovacuum off): it
    # would believe the graph empty and walk every row of it by the primary key (measured
    # at 300,000 events: 140-215 ms a query instead of 0.4). The import brings the
    # statistics up to date itself, so the user index answers.
    file_graph(tmp_path / "a.journal", 3_000)
    agpg.import_journal(tmp_path / "a.journal", url(cluster, db, graph="a"))
    cluster.psql("ANALYZE accessgraph_events", db)
    cluster.psql("ALTER TABLE accessgraph_events SET (autovacuum_enabled = false)", db)

    def analyzed() -> str:
        return cluster.psql(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'accessgraph_events'",
            db,
        )

    before_import = analyzed()
    file_graph(tmp_path / "b.journal", 10_500)
    u = url(cluster, db, graph="b", follow="off")
    agpg.import_journal(tmp_path / "b.journal", u)
    assert analyzed() != before_import
    g = ag.Graph.open(u)
    before = index_scans(cluster, db, "accessgraph_events_user")
    assert [e.user for e in g.audit.events(user="u7@example.com")] == ["u7@example.com"]
    del g  # its reading connection closes, and reports what it scanned
    gc.collect()
    assert wait_for(lambda: index_scans(cluster, db, "accessgraph_events_user") > before, 15)


def test_the_filter_columns_are_checked_against_the_records(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    g = audited(cluster, db)
    seq = g.audit.events(user="u1@example.com", action="member.added")[0].seq
    # A column altered to hide an event from a filter: verify() reads every row, and
    # refuses a row whose columns disagree with its record.
    cluster.psql(
        f"UPDATE accessgraph_events SET details_user = 'u9@example.com' WHERE seq = {seq}", db
    )
    with pytest.raises(ag.JournalError, match=f"the columns of event {seq} .* disagree"):
        g.audit.verify()
    # ... and a filter that finds it under another name refuses it too.
    with pytest.raises(ag.JournalError, match="disagree"):
        g.audit.events(user="u9@example.com")


def test_a_database_of_the_previous_schema_migrates_and_filters(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    g = audited(cluster, db)
    before = {json.dumps(c): [e.hash for e in g.audit.events(**c)] for c in FILTERS}
    # The database as version 2 left it: records only.
    cluster.psql(
        "ALTER TABLE accessgraph_events DROP COLUMN actor, DROP COLUMN action, "
        "DROP COLUMN target, DROP COLUMN details_user, DROP COLUMN at, DROP COLUMN mac; "
        "ALTER TABLE accessgraph_snapshots DROP COLUMN mac; "
        "DELETE FROM accessgraph_schema WHERE version = 3",
        db,
    )
    h = ag.Graph.open(url(cluster, db, graph="audit", follow="off"))
    assert cluster.psql("SELECT max(version) FROM accessgraph_schema", db) == "3"
    assert cluster.psql("SELECT count(*) FROM accessgraph_events WHERE actor IS NULL", db) == "0"
    h.audit.verify()
    assert {json.dumps(c): [e.hash for e in h.audit.events(**c)] for c in FILTERS} == before


def test_retention_and_length_come_from_the_database(cluster: pg_cluster.Cluster, db: str) -> None:
    g = audited(cluster, db)
    other = ag.Graph.open(url(cluster, db, graph="audit", follow="off"))
    n = g.revision
    assert g.audit.prune(before="2024-06-01") == 9
    assert len(g.audit) == n - 9
    assert next(e.seq for e in g.audit) == 10
    gone = r"pruned: history before 2024-06-01T12:00:00\.250Z"
    with pytest.raises(ag.ValidationError, match=gone):
        g.as_of("2024-05-15")
    assert g.as_of("2024-06-15").role("u2@example.com", "acme") == "admin"
    other.refresh()
    assert len(other.audit) == n - 9
    other.audit.verify()


# --- hmac_key: what the key signs in the database -------------------------------------


def test_with_hmac_key_every_row_is_signed_and_unsigned_rows_are_refused(
    cluster: pg_cluster.Cluster, db: str
) -> None:
    u = url(cluster, db, graph="signed", follow="off")
    g = ag.Graph.open(u, hmac_key=b"k")
    seed(g)
    assert cluster.psql("SELECT count(*) FROM accessgraph_events WHERE mac IS NULL", db) == "0"
    record = json.loads(cluster.psql("SELECT record FROM accessgraph_checkpoints", db))
    header = cluster.psql("SELECT header FROM accessgraph_graphs", db)
    assert record["header"] == hashlib.sha256(header.encode()).hexdigest()
    assert (record["seq"], record["trusted_from"]) == (g.revision, 0)
    # A keyed process following along refuses a row written without the key.
    follower = ag.Graph.open(u, hmac_key=b"k")
    ag.Graph.open(u).add_member("mallory@example.com", "acme", role="admin", actor=OWNER)
    with pytest.raises(ag.JournalError, match="event 4 carries no valid MAC"):
        follower.refresh()
    assert follower.role("mallory@example.com", "acme") is None
    with pytest.raises(ag.JournalError, match="event 4 carries no valid MAC"):
        ag.Graph.open(u, hmac_key=b"k")
    # A MAC copied from another row does not fit this one either.
    cluster.psql(
        "UPDATE accessgraph_events SET mac = (SELECT mac FROM accessgraph_events WHERE seq = 1) "
        "WHERE seq = 4",
        db,
    )
    with pytest.raises(ag.JournalError, match="event 4 carries no valid MAC"):
        ag.Graph.open(u, hmac_key=b"k")
    # Reads check MACs too: a row signed at open, its MAC removed since.
    cluster.psql("DELETE FROM accessgraph_events WHERE seq = 4", db)
    g.audit.verify()
    cluster.psql("UPDATE accessgraph_events SET mac = NULL WHERE seq = 2", db)
    with pytest.raises(ag.JournalError, match="event 2 carries no valid MAC"):
        g.audit.verify()


def test_with_hmac_key_an_edited_header_is_refused(cluster: pg_cluster.Cluster, db: str) -> None:
    u = url(cluster, db, graph="header", follow="off")
    g = ag.Graph.open(u, hmac_key=b"k")
    g.set_time("2024-05-01")
    seed(g)
    g.add_member("bob@example.com", "acme", actor=OWNER)
    g.set_time("2024-06-01")
    g.add_member("carol@example.com", "acme", actor=OWNER)
    assert g.audit.prune(before="2024-05-15") == 4
    # Retention put bob's membership into the header's base state: make him an owner,
    # with a checksum that fits.
    header = json.loads(cluster.psql("SELECT header FROM accessgraph_graphs", db))
    header.pop("crc")
    text = json.dumps(header, separators=(",", ":"))
    assert '"role":"member"' in text
    forged = with_crc(text.replace('"role":"member"', '"role":"owner"', 1))
    cluster.psql(f"UPDATE accessgraph_graphs SET header = $h${forged}$h$", db)
    # Without the key, nothing tells (docs/journal-format.md says so); with it, refused.
    assert ag.Graph.open(u).role("bob@example.com", "acme") == "owner"
    with pytest.raises(ag.JournalError, match=r"header .* not the one the signed checkpoint"):
        ag.Graph.open(u, hmac_key=b"k")
    with pytest.raises(ag.JournalError, match="header"):
        g.audit.verify()


def test_with_hmac_key_only_a_signed_snapshot_is_used(cluster: pg_cluster.Cluster, db: str) -> None:
    u = url(cluster, db, graph="snap", follow="off")
    g = ag.Graph.open(u, hmac_key=b"k")
    seed(g)
    g.add_member("bob@example.com", "acme", actor=OWNER)
    g.snapshot()
    assert cluster.psql("SELECT mac IS NOT NULL FROM accessgraph_snapshots", db) == "t"
    assert digest(ag.Graph.open(u, hmac_key=b"k")) == digest(g)
    # bob made an owner in the snapshot's state: the key's holders replay the events
    # instead (a snapshot is a cache); a graph without the key cannot tell.
    cluster.psql(
        "UPDATE accessgraph_snapshots SET state = replace(state, '\"member\"', '\"owner\"')",
        db,
    )
    assert ag.Graph.open(u, hmac_key=b"k").role("bob@example.com", "acme") == "member"
    assert ag.Graph.open(u).role("bob@example.com", "acme") == "owner"


# --- many processes -------------------------------------------------------------------


class Worker:
    """A tests/pg_worker.py process and what it reported."""

    def __init__(self, u: str, name: str, count: int, pause: float = 0.0) -> None:
        args = [sys.executable, WORKER, u, name, str(count)]
        if pause:
            args += ["--pause", str(pause)]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.acks: list[str] = []
        self.fails: list[tuple[str, str]] = []
        self.other: list[str] = []
        self.state: dict[str, Any] | None = None
        self.wrote = threading.Event()
        self.opened = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.endswith("\n"):
                # A killed process's last line, cut off: nothing was reported by it.
                break
            kind, _, rest = line.strip().partition(" ")
            if kind == "open":
                self.opened.set()
            elif kind == "ack":
                self.acks.append(rest)
            elif kind == "fail":
                email, _, how = rest.partition(" ")
                self.fails.append((email, how))
            elif kind == "wrote":
                self.wrote.set()
            elif kind == "state":
                self.state = json.loads(rest)
            else:
                self.other.append(line)

    def converge(self, revision: int) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{revision}\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)
        self.close()
        assert self.proc.returncode == 0, self.other
        assert self.state is not None
        return self.state

    def close(self) -> None:
        """Ends the process if it still runs and closes its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def spawn() -> Iterator[Any]:
    """Starts workers; any still running at the end of the test is killed."""
    started: list[Worker] = []

    def start(u: str, name: str, count: int, pause: float = 0.0) -> Worker:
        w = Worker(u, name, count, pause)
        started.append(w)
        return w

    yield start
    for w in started:
        w.close()


def member_events(g: ag.Graph) -> list[str]:
    return [e.user or "" for e in g.audit if e.action == "member.added"]


def run_writers(cluster: pg_cluster.Cluster, db: str, spawn: Any, n: int, count: int) -> None:
    u = url(cluster, db, graph="shared")
    setup = ag.Graph.open(url(cluster, db, graph="shared", follow="off"))
    seed(setup)
    seeded = setup.revision
    workers = [spawn(u, f"w{i}", count) for i in range(n)]
    for w in workers:
        assert w.wrote.wait(60), w.other
    setup.refresh()
    states = [w.converge(setup.revision) for w in workers]
    acked = [a for w in workers for a in w.acks]
    assert len(acked) == n * count
    assert not any(w.fails for w in workers)
    assert not any(w.other for w in workers), [w.other for w in workers]
    # Every event exactly once, in one verified chain, and every process holds the same
    # graph at the same revision.
    setup.audit.verify()
    added = [t for t in member_events(setup) if t.startswith("w")]
    assert sorted(added) == sorted(acked)
    assert setup.revision == seeded + n * count
    assert [e.seq for e in setup.audit] == list(range(1, setup.revision + 1))
    for s in states:
        assert s == {
            "revision": setup.revision,
            "digest": digest(setup),
            "audit_len": setup.revision,
            "verified": True,
        }


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_mutating_one_state_converge(
    cluster: pg_cluster.Cluster, db: str, spawn: Any, processes: int
) -> None:
    run_writers(cluster, db, spawn, processes, 200 if LONG else 25)


def test_a_writer_killed_mid_stream_loses_no_acknowledged_event(
    cluster: pg_cluster.Cluster, db: str, spawn: Any
) -> None:
    u = url(cluster, db, graph="shared")
    setup = ag.Graph.open(url(cluster, db, graph="shared", follow="off"))
    seed(setup)
    rounds = 8 if LONG else 1
    survivor = spawn(u, "survivor", 60 * rounds, 0.01)
    acked: dict[str, list[str]] = {}
    for r in range(rounds):
        victim = spawn(u, f"victim{r}", 100_000)
        kill_after = 20 + int.from_bytes(os.urandom(1), "big") % 20
        assert wait_for(lambda v=victim, k=kill_after: len(v.acks) >= k, 30)  # type: ignore[misc]
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=10)
        victim.close()  # every line it printed is read
        acked[f"victim{r}-"] = list(victim.acks)
    # The survivor goes on: the killed writers' lock went with their connections.
    assert survivor.wrote.wait(60), survivor.other
    setup.refresh()
    state = survivor.converge(setup.revision)
    setup.audit.verify()
    added = member_events(setup)
    # Every acknowledged event is there exactly once; the one in flight when the
    # process died is there whole (it committed before the answer came back) or not at
    # all — never half-written (the chain verifies, every record parses).
    for prefix, acks in acked.items():
        victims = [t for t in added if t.startswith(prefix)]
        assert len(victims) == len(set(victims))
        assert set(acks) <= set(victims)
        assert len(victims) - len(acks) in (0, 1)
    assert sorted(t for t in added if t.startswith("survivor")) == sorted(survivor.acks)
    assert len(survivor.acks) == 60 * rounds
    assert state["digest"] == digest(setup) and state["verified"]
    fresh = ag.Graph.open(url(cluster, db, graph="shared", follow="off"))
    assert digest(fresh) == digest(setup)


def test_processes_survive_a_server_restart_and_converge(
    cluster: pg_cluster.Cluster, db: str, spawn: Any
) -> None:
    u = url(cluster, db, graph="shared", poll="0.2")
    setup = ag.Graph.open(url(cluster, db, graph="shared", follow="off"))
    seed(setup)
    workers = [spawn(u, f"r{i}", 150, 0.01) for i in range(2)]
    assert wait_for(lambda: all(len(w.acks) >= 10 for w in workers), 30)
    cluster.stop("immediate")
    try:
        # Mutations during the outage fail loudly, in every process.
        assert wait_for(lambda: all(w.fails for w in workers), 30)
        with pytest.raises(ag.JournalUnavailableError):
            setup.add_member("outage@example.com", "acme", actor=OWNER)
    finally:
        cluster.start()
    cluster.ready()
    for w in workers:
        assert w.wrote.wait(120), w.other
    setup.refresh()
    states = [w.converge(setup.revision) for w in workers]
    setup.audit.verify()
    added = member_events(setup)
    acked = [a for w in workers for a in w.acks]
    assert len(acked) > 20
    # Acknowledged: there exactly once. Failed cleanly: absent. Failed while committing
    # (the answer lost): there at most once.
    for email in acked:
        assert added.count(email) == 1, email
    for w in workers:
        for email, how in w.fails:
            assert added.count(email) == 0 if how == "clean" else added.count(email) <= 1
    assert "outage@example.com" not in added
    for s in states:
        assert s["revision"] == setup.revision and s["digest"] == digest(setup)
        assert s["verified"]


def test_django_setting_takes_a_postgresql_url(cluster: pg_cluster.Cluster, db: str) -> None:
    from accessgraph.django import conf

    u = url(cluster, db, graph="django", follow="off")
    cfg = conf._parse({"JOURNAL": u})
    assert cfg.journal == u
    g = conf._load(cfg)
    assert g.journal_url == u
    seed(g)
    assert ag.Graph.open(u).revision == 3
