"""The audit log as a storage engine (issue 14): memory, mutation cost, verify, reopen,
journal size and table export, each as a ratio against a baseline run in the same
process on the same data.

    python benchmarks/bench_audit.py [--users 50000] [--grants 4] [--rounds 5]
                                     [--aged 1000000] [--json out.json]
                                     [--only reopen,snapshot ...]

The workload: 10 orgs x 20 projects, `--users` users each added to one org with
`--grants` project grants, every change through the Python API (an org owner as actor),
on a journal opened with durability="os" (the disk's fsync latency is measured by
bench_journal.py, not here). Each timed figure is measured `--rounds` times, the
baseline and the contestant one after the other in each round, and reported as the
median ratio with its spread (min, max) over the rounds. Figures:

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
- to_pandas: `audit.to_pandas()` against `pandas.read_csv` of the exported CSV (both with
  pyarrow installed when it is: pandas then reads the CSV's text into Arrow strings too);
  to_arrow: `audit.to_arrow()` against the same `read_csv`;
- aged worker: resident memory per event of a process that made `--aged` mutations
  (grants and revocations over a fixed population, so the state does not grow) against
  a fresh process that opens the journal those mutations wrote, each less the RSS of the
  same work with `audit=False`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
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


def timed(f) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def rounds(baseline, contestant, n: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """`n` rounds of the baseline then the contestant (one warm-up call each first): the
    median ratio, its spread, and the median seconds of each."""
    baseline()
    contestant()
    base, cont = [], []
    for _ in range(n):
        base.append(timed(baseline))
        cont.append(timed(contestant))
    return summary(base, cont, 4)


def summary(base: list[float], cont: list[float], digits: int) -> dict[str, float]:
    """The median ratio of each round's contestant to its baseline, its spread, and the
    median seconds of each (rounded to `digits`)."""
    ratios = sorted(c / b for b, c in zip(base, cont, strict=True))
    return {
        "median": round(statistics.median(ratios), 3),
        "min": round(ratios[0], 3),
        "max": round(ratios[-1], 3),
        "baseline_s": round(statistics.median(base), digits),
        "contestant_s": round(statistics.median(cont), digits),
    }


AGED = """
import json, sys
import accessgraph as ag
sys.path.insert(0, {here!r})
from bench_audit import rss
n, audited, path = {n}, {audited}, {path!r}
before = rss()
g = ag.Graph.open(path, durability="os") if audited else ag.Graph(audit=False)
if {fresh}:
    print(json.dumps({{"rss": rss() - before, "events": g.revision}}))
    raise SystemExit
g.set_time("2024-05-01")
owner = "owner@example.com"
g.add_org("acme", owner=owner)
projects = [f"acme/p{{p}}" for p in range(20)]
for p in projects:
    g.add_project(p)
users = [f"u{{u}}@example.com" for u in range(1000)]
for u in users:
    g.add_member(u, "acme", actor=owner)
made = 1 + len(projects) + len(users)
i = 0
while made < n:
    u, p = users[i % 1000], projects[(i // 1000) % 20]
    if (i // 20000) % 2 == 0:
        g.grant(u, p, "viewer", actor=owner)
    else:
        g.revoke(u, p, actor=owner)
    made += 1
    i += 1
print(json.dumps({{"rss": rss() - before, "events": made}}))
"""


def aged_memory(n: int, tmp: str) -> dict[str, float]:
    """Resident memory per event of a worker that made `n` mutations, and of a fresh
    process that opens the journal they wrote, each less the same work unaudited."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(tmp, "aged.journal")

    def run(audited: bool, fresh: bool) -> dict[str, int]:
        code = AGED.format(here=here, n=n, audited=audited, path=path, fresh=fresh)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    aged = run(True, False)
    bare = run(False, False)
    fresh = run(True, True)
    events = aged["events"]
    per_aged = (aged["rss"] - bare["rss"]) / events
    per_fresh = (fresh["rss"] - bare["rss"]) / events
    return {
        "mutations": events,
        "aged_bytes_per_event": round(per_aged, 1),
        "fresh_bytes_per_event": round(per_fresh, 1),
        "aged_vs_fresh": round(per_aged / per_fresh, 3),
    }


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


def api_mutation(n: int, tmp: str, audit: bool = True) -> float:
    """Seconds per `grant` through the API on an in-memory graph with its audit log
    (`audit=False`: the same graph keeping none, the floor the log's cost sits on)."""
    g = ag.Graph(audit=audit)
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


def pandas_figures(journal: Path, tmp: Path, n: int, out: dict[str, object]) -> None:
    """to_pandas and to_arrow against `pandas.read_csv` of the CSV export."""
    try:
        import pandas as pd
    except ImportError:
        out["to_pandas_vs_read_csv"] = None
        return
    g = ag.Graph.open(journal, durability="os")
    csv = tmp / "export.csv"
    g.audit.to_csv(csv)
    out["to_pandas_vs_read_csv"] = rounds(lambda: pd.read_csv(csv), g.audit.to_pandas, n)
    try:
        import pyarrow

        out["pyarrow"] = pyarrow.__version__
        out["to_arrow_vs_read_csv"] = rounds(lambda: pd.read_csv(csv), g.audit.to_arrow, n)
    except ImportError:
        out["pyarrow"] = None


FIGURES = ("memory", "verify", "reopen", "snapshot", "pandas", "mutation", "aged")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--grants", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--aged", type=int, default=1_000_000, help="0: skip the aged worker")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--only",
        type=lambda s: set(s.split(",")),
        default=set(FIGURES),
        help=f"comma-separated figures to measure (default all): {','.join(FIGURES)}",
    )
    args = ap.parse_args()
    if args.only - set(FIGURES):
        ap.error(f"unknown figures: {', '.join(sorted(args.only - set(FIGURES)))}")
    want = args.only.__contains__
    n = args.rounds
    out: dict[str, object] = {"users": args.users, "grants": args.grants, "rounds": n}
    with tempfile.TemporaryDirectory() as tmp:
        if want("memory"):
            audited = child_memory(True, args.users, args.grants, tmp)
            bare = child_memory(False, args.users, args.grants, tmp)
            out["memory_per_event_bytes"] = round(
                (audited["rss"] - bare["rss"]) / audited["events"], 1
            )

        journal = Path(tmp) / "bench.journal"
        g = ag.Graph.open(journal, durability="os")
        build(g, args.users, args.grants)
        events = g.revision
        out["events"] = events
        out["journal_bytes_per_event"] = round(journal.stat().st_size / events, 1)

        export = Path(tmp) / "export.jsonl"
        g.audit.to_jsonl(export)
        data = export.read_bytes()
        if want("verify"):
            out["verify_vs_sha256"] = rounds(
                lambda: hashlib.sha256(data).hexdigest(), g.audit.verify, n
            )

        lines = data.decode().splitlines()
        del g
        if want("reopen"):
            out["reopen_vs_json_loads"] = rounds(
                lambda: [json.loads(x) for x in lines],
                lambda: ag.Graph.open(journal, durability="os"),
                n,
            )

        if want("snapshot"):
            g = ag.Graph.open(journal, durability="os")
            snap = Path(tmp) / "bench.journal.snapshot"
            g.snapshot(snap)
            state_text = json.dumps(json.loads(snap.read_text())["state"])
            del g

            def open_and_query() -> None:
                h = ag.Graph.open(journal, durability="os", snapshot=snap)
                h.audit.events(user="user1@example.com", limit=5)

            out["snapshot_open_and_first_query_vs_state_load"] = rounds(
                lambda: ag.Graph.from_json(state_text), open_and_query, n
            )

        if want("pandas"):
            pandas_figures(journal, Path(tmp), n, out)

        if want("mutation"):
            m = 20_000
            py, api, bare = [], [], []
            for _ in range(n):
                py.append(python_log_mutation(m))
                api.append(api_mutation(m, tmp))
                bare.append(api_mutation(m, tmp, audit=False))
            out["mutation_vs_python_log"] = summary(py, api, 8)
            # The same grants on a graph that keeps no log: what a mutation costs before
            # any of the log's work (validation, authority, the state change, the call).
            out["mutation_without_log_vs_python_log"] = summary(py, bare, 8)
        if args.aged and want("aged"):
            out["aged_worker"] = aged_memory(args.aged, tmp)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
