"""Journal benchmark (SPEC 8, issue 3): durable mutations/s with an fsync per mutation
and with group commit; time to open a journal of N events with and without a snapshot;
events -> pandas DataFrame.

    python benchmarks/bench_journal.py [--events 1000000] [--json out.json]

Figures depend on the disk: fsync latency dominates the durable rates. The journal lives
in a temporary directory on the same filesystem as the repository unless --dir is given.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import accessgraph as ag

OWNER = "jane@example.com"


def seed(g: ag.Graph) -> None:
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    for p in range(20):
        g.add_project(f"acme/p{p}")


def durable_rate(path: Path, durability: str, threads: int, seconds: float) -> float:
    g = ag.Graph.open(path, durability=durability)
    seed(g)
    for t in range(threads):
        g.add_member(f"w{t}@example.com", "acme", actor=OWNER)
    done = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def work(t: int) -> None:
        nonlocal done
        user = f"w{t}@example.com"
        n = 0
        while time.perf_counter() < stop:
            # Each visit to a project flips the role, so every call is a real change.
            role = "viewer" if (n // 20) % 2 else "member"
            g.grant(user, f"acme/p{n % 20}", role, actor=OWNER)
            n += 1
        with lock:
            done += n

    before = g.revision
    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    assert g.revision - before == done, "every call appended exactly one event"
    return done / elapsed


def build_big(path: Path, events: int) -> ag.Graph:
    g = ag.Graph.open(path, durability="os")
    seed(g)
    users = max(1, events // 10)
    n = g.revision
    i = 0
    while n < events:
        u = f"u{i % users}@example.com"
        if i < users:
            g.add_member(u, "acme", actor=OWNER, reason=f"hire {i}")
        else:
            g.grant(u, f"acme/p{i % 20}", ("viewer", "member", "admin")[i % 3], actor=OWNER)
        n = g.revision
        i += 1
    return g


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="ag-journal-", dir="."))
    base.mkdir(parents=True, exist_ok=True)
    out: dict[str, float | int] = {}
    out["fsync_per_mutation_per_s"] = durable_rate(base / "fsync.j", "fsync", 1, args.seconds)
    out["group_commit_1_thread_per_s"] = durable_rate(base / "g1.j", "group", 1, args.seconds)
    out["group_commit_8_threads_per_s"] = durable_rate(base / "g8.j", "group", 8, args.seconds)
    out["fsync_8_threads_per_s"] = durable_rate(base / "f8.j", "fsync", 8, args.seconds)
    print(json.dumps(out, indent=2), flush=True)

    big = base / "big.j"
    t, g = timed(lambda: build_big(big, args.events))
    out["events"] = g.revision
    out["build_s"] = t
    out["journal_bytes"] = big.stat().st_size
    del g
    t, g = timed(lambda: ag.Graph.open(big))
    out["open_without_snapshot_s"] = t
    t, _ = timed(lambda: g.snapshot())
    out["snapshot_write_s"] = t
    del g
    t, g = timed(lambda: ag.Graph.open(big))
    out["open_with_snapshot_s"] = t
    t, _ = timed(lambda: len(g.audit.events(limit=1)))
    out["first_audit_use_after_snapshot_open_s"] = t
    t, df = timed(lambda: g.audit.to_pandas())
    out["to_pandas_s"] = t
    out["to_pandas_rows"] = len(df)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    for f in base.iterdir():
        f.unlink()
    if not args.dir:
        os.rmdir(base)


if __name__ == "__main__":
    main()
