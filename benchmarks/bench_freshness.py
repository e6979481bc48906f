"""What following the journal costs (issue 15; docs/django.md "What a request sees").

A graph on a file journal compares the shared revision beacon before every query. This
measures, in one process and interleaved round by round:

- ``check_overhead``: ``check`` from Python on a graph opened on a journal (following it)
  over the same call on a graph opened on the same journal with ``follow=False`` (built
  the same way, so only the comparison differs): the per-check cost of following.
  Target: under 1.05.
- ``first_check_after_a_change``: the first ``check`` after another graph on the journal
  (its own beacon mapping, as in another process) made a change: the catch-up (reading
  one batch) included, in microseconds, beside a plain check.

    python benchmarks/bench_freshness.py [--users 2000] [--rounds 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import accessgraph as ag

OWNER = "jane@example.com"


def seed(g: ag.Graph, users: int) -> list[tuple[str, str, str]]:
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    for p in range(20):
        g.add_project(f"acme/p{p}", restricted=p % 2 == 0)
    changes = []
    for u in range(users):
        changes.append(f"u{u}@example.com")
    for u, email in enumerate(changes):
        g.add_member(email, "acme", actor=OWNER)
        g.grant(email, f"acme/p{u % 20}", ("viewer", "member", "admin")[u % 3], actor=OWNER)
    queries = []
    for i in range(4096):
        queries.append((f"u{(i * 7919) % users}@example.com", "insight:create", f"acme/p{i % 20}"))
    return queries


def per_check_ns(g: ag.Graph, queries: list[tuple[str, str, str]], repeat: int) -> float:
    check = g.check
    start = time.perf_counter_ns()
    for _ in range(repeat):
        for u, a, t in queries:
            check(u, a, t)
    return (time.perf_counter_ns() - start) / (repeat * len(queries))


def spread(xs: list[float]) -> dict[str, float]:
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
    return {
        "median": statistics.median(xs),
        "q1": q[0],
        "q3": q[2],
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "access.journal"
        queries = seed(ag.Graph.open(path, durability="os", follow=False), args.users)
        following = ag.Graph.open(path, durability="os")
        memory = ag.Graph.open(path, durability="os", follow=False)
        for g in (following, memory):
            g.set_time("2024-05-01")
        assert following.follows_journal and not memory.follows_journal
        ratios: list[float] = []
        plain: list[float] = []
        for r in range(args.rounds):
            # Alternate which goes first, so drift in the machine's speed is shared.
            if r % 2:
                f = per_check_ns(following, queries, args.repeat)
                m = per_check_ns(memory, queries, args.repeat)
            else:
                m = per_check_ns(memory, queries, args.repeat)
                f = per_check_ns(following, queries, args.repeat)
            ratios.append(f / m)
            plain.append(m)
        # The first check after another graph on the journal changed it.
        other = ag.Graph.open(path, durability="os")
        first: list[float] = []
        steady: list[float] = []
        u, a, t = queries[0]
        for i in range(400):
            other.grant("u1@example.com", "acme/p0", ("viewer", "admin")[i % 2], actor=OWNER)
            start = time.perf_counter_ns()
            following.check(u, a, t)
            first.append((time.perf_counter_ns() - start) / 1000)
            start = time.perf_counter_ns()
            following.check(u, a, t)
            steady.append((time.perf_counter_ns() - start) / 1000)
        assert following.revision == other.revision
    out: dict[str, Any] = {
        "workload": f"{args.users} users, 20 projects, {len(queries)} distinct checks",
        "check_overhead": {
            "following_over_not_following": spread(ratios),
            "not_following_ns_per_check": spread(plain),
            "target": "< 1.05",
        },
        "first_check_after_a_change_us": spread(first),
        "next_check_us": spread(steady),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
