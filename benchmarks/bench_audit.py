"""The audit log as a storage engine (issue 14): memory, mutation cost, verify, reopen,
journal size and table export, each as a ratio against a baseline run in the same
process on the same data.

    python benchmarks/bench_audit.py [--users 50000] [--grants 4] [--json out.json]

The workload: 10 orgs x 20 projects, `--users` users each added to one org with
`--grants` project grants, every change through the Python API (an org owner as actor),
on a journal opened with durability="os" (the disk's fsync latency is measured by
bench_journal.py, not here). Figures:

- memory: resident memory per audit event, state apart: the RSS growth of building the
  workload with the audit log (on a journal) minus that of the same build with
  `audit=False`, each in a fresh process, divided by the events;
- mutation: one `grant` through the API against a hand-written Python log (a dict of
  grants, `json.dumps` of the event and a `hashlib.sha256` chain), per mutation;
- verify: `audit.verify()` against one `hashlib.sha256` pass over the exported JSONL;
- reopen: `Graph.open` of the journal without a snapshot against `json.loads` of every
  exported line; with a snapshot, open plus the first audit query against loading the
  snapshot's JSON state (`Graph.from_json`);
- journal: bytes per event;
- to_pandas: `audit.to_pandas()` against `pandas.read_csv` of the exported CSV.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import accessgraph as ag

OWNER = "owner{o}@example.com"


def rss() -> int:
    """Resident memory of this process, bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def build(g: ag.Graph, users: int, grants: int) -> int:
    """The workload through the API; returns the number of mutations made."""
    g.set_time("2024-05-01")
    n = 0
    for o in range(10):
        g.add_org(f"org{o}", owner=OWNER.format(o=o))
        n += 1
        for p in range(20):
            g.add_project(f"org{o}/p{p}", name=f"Project {p}")
            n += 1
    for u in range(users):
        o = u % 10
        owner = OWNER.format(o=o)
        email = f"user{u}@example.com"
        g.add_member(email, f"org{o}", actor=owner, reason="joined the team")
        n += 1
        for k in range(grants):
            g.grant(email, f"org{o}/p{(u + k) % 20}", "viewer", actor=owner)
            n += 1
    return n


def child_memory(audited: bool, users: int, grants: int, tmp: str) -> dict[str, int]:
    """Runs one build in a fresh process and reports its RSS growth and event count."""
    code = f"""
import json, sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import accessgraph as ag
from bench_audit import build, rss
before = rss()
g = ag.Graph.open({tmp!r} + "/mem.journal", durability="os") if {audited} else ag.Graph(audit=False)
build(g, {users}, {grants})
print(json.dumps({{"rss": rss() - before, "events": g.revision}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def best(f, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def python_log_mutation(n: int) -> float:
    """Seconds per mutation of a hand-written Python log: a dict of grants, the event
    as JSON and a SHA-256 chain."""
    grants: dict[tuple[str, str], str] = {}
    log: list[str] = []
    prev = "0" * 64
    start = time.perf_counter()
    for i in range(n):
        user, target = f"user{i}@example.com", f"org{i % 10}/p{i % 20}"
        grants[(user, target)] = "viewer"
        line = json.dumps(
            {
                "seq": i + 1,
                "at": "2024-05-01T00:00:00Z",
                "actor": "owner@example.com",
                "action": "grant.added",
                "target": target,
                "details": {"user": user, "role": "viewer"},
                "prev_hash": prev,
            },
            sort_keys=True,
        )
        prev = hashlib.sha256(line.encode()).hexdigest()
        log.append(line)
    return (time.perf_counter() - start) / n


def api_mutation(n: int, tmp: str) -> float:
    """Seconds per `grant` through the API on an in-memory graph with its audit log."""
    g = ag.Graph()
    g.set_time("2024-05-01")
    for o in range(10):
        g.add_org(f"org{o}", owner=OWNER.format(o=o))
        for p in range(20):
            g.add_project(f"org{o}/p{p}")
    users = [f"m{i}@example.com" for i in range(n)]
    for i, u in enumerate(users):
        g.add_member(u, f"org{i % 10}", actor=OWNER.format(o=i % 10))
    start = time.perf_counter()
    for i, u in enumerate(users):
        g.grant(u, f"org{i % 10}/p{i % 20}", "viewer", actor=OWNER.format(o=i % 10))
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--grants", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict[str, object] = {"users": args.users, "grants": args.grants}
    with tempfile.TemporaryDirectory() as tmp:
        audited = child_memory(True, args.users, args.grants, tmp)
        bare = child_memory(False, args.users, args.grants, tmp)
        events = audited["events"]
        out["events"] = events
        out["memory_per_event_bytes"] = round((audited["rss"] - bare["rss"]) / events, 1)

        journal = Path(tmp) / "bench.journal"
        g = ag.Graph.open(journal, durability="os")
        build(g, args.users, args.grants)
        out["journal_bytes_per_event"] = round(journal.stat().st_size / events, 1)

        export = Path(tmp) / "export.jsonl"
        g.audit.to_jsonl(export)
        data = export.read_bytes()
        t_sha = best(lambda: hashlib.sha256(data).hexdigest())
        t_verify = best(g.audit.verify)
        out["verify_vs_sha256"] = round(t_verify / t_sha, 2)

        lines = data.decode().splitlines()
        t_loads = best(lambda: [json.loads(x) for x in lines])
        del g
        t_open = best(lambda: ag.Graph.open(journal, durability="os"), repeat=2)
        out["reopen_vs_json_loads"] = round(t_open / t_loads, 2)
        out["reopen_seconds"] = round(t_open, 3)

        g = ag.Graph.open(journal, durability="os")
        snap = Path(tmp) / "bench.journal.snapshot"
        g.snapshot(snap)
        state_text = json.dumps(json.loads(snap.read_text())["state"])
        del g
        t_state = best(lambda: ag.Graph.from_json(state_text), repeat=2)

        def open_and_query() -> None:
            h = ag.Graph.open(journal, durability="os", snapshot=snap)
            h.audit.events(user="user1@example.com", limit=5)

        t_snap = best(open_and_query, repeat=2)
        out["snapshot_open_and_first_query_vs_state_load"] = round(t_snap / t_state, 2)

        try:
            import pandas as pd

            g = ag.Graph.open(journal, durability="os")
            csv = Path(tmp) / "export.csv"
            g.audit.to_csv(csv)
            t_csv = best(lambda: pd.read_csv(csv), repeat=2)
            t_df = best(g.audit.to_pandas, repeat=2)
            out["to_pandas_vs_read_csv"] = round(t_df / t_csv, 2)
        except ImportError:
            out["to_pandas_vs_read_csv"] = None

        n = 20_000
        t_py = python_log_mutation(n)
        t_api = api_mutation(n, tmp)
        out["mutation_vs_python_log"] = round(t_api / t_py, 2)
        out["mutation_us"] = round(t_api * 1e6, 2)
        out["python_log_us"] = round(t_py * 1e6, 2)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
