"""PostgreSQL journal faults found by review: a snapshot racing an erasure, NUL bytes in
stored text, a follower whose connection goes dead. Passwords in URLs: test_postgres_tls.

Runs against the real server of ``test_postgres`` (never skipped)."""

from __future__ import annotations

import threading
import time

import pg_cluster  # tests/ is on pytest's pythonpath
from test_postgres import cluster, db, seed, url  # noqa: F401  (the PostgreSQL fixtures)

import accessgraph as ag

OWNER = "jane@example.com"


def test_a_snapshot_racing_an_erasure_never_keeps_the_erased_user(
    cluster: pg_cluster.Cluster, db: str
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
