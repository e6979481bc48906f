"""Benchmark what-if overlays: ``check`` on an overlay after 100 changes against ``check``
on the graph it came from (issue 17: target <= 1.2x), in the same process.

Usage::

    python benchmarks/bench_whatif.py [--users N] [--queries N] [--rounds N]
                                      [--changes N] [--seed N] [--json PATH]

In one run: generate the standard workload (``workload.py``) and build the graph; make an
overlay (``g.what_if()``, timed) and apply ``--changes`` ordinary changes to it (grants,
role changes, removals, by the system); verify that the overlay answers every query as a
second graph built with the same changes does, and the original as before; then time
``check`` over the query list on the graph, on the overlay and on a fresh overlay without
changes, in rotating order, ``--rounds`` times. Each round gives a ratio (overlay /
graph, and overlay / fresh overlay: what the changes themselves cost); the median, the
spread (min, max) and the mean ns per check of each side are reported, with
``check_many`` likewise. An overlay's state is laid out anew when it is copied, away from
the original's audit log, which can make it the faster of the two.

Targets are reported, not enforced: the exit status only reflects disagreements.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import workload
from bench_check import machine_info, time_loop

TARGET_RATIO = 1.2


def candidate_changes(w: workload.Workload, seed: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """An endless stream of changes drawn from the workload: grants to live members, org
    role changes of non-owners, revocations of grants."""
    rng = random.Random(seed)
    live = [m for m in w.memberships if m.expires is None and m.role != "owner"]
    projects: dict[str, list[str]] = {}
    for p in w.projects:
        projects.setdefault(p.org, []).append(p.id)
    grants = [g for g in w.grants if not g.target.endswith("/*")]
    while True:
        kind = rng.choice(("grant", "grant", "role", "revoke"))
        m = rng.choice(live)
        if kind == "grant":
            role = rng.choice(("viewer", "member", "admin"))
            yield "grant", (m.user, rng.choice(projects[m.org]), role)
        elif kind == "role":
            yield "set_org_role", (m.user, m.org, "admin" if m.role == "member" else "member")
        else:
            g = rng.choice(grants)
            yield "revoke", (g.user, g.target)


def apply_changes(
    graph: Any, changes: Iterable[tuple[str, tuple[Any, ...]]], count: int
) -> list[tuple[str, tuple[Any, ...]]]:
    """Apply changes by the system until ``count`` succeeded (one a structural rule
    refuses — a grant revoked twice — is skipped, as it would be on the graph itself);
    returns those that did."""
    import accessgraph

    done = []
    for name, args in changes:
        if len(done) == count:
            break
        try:
            getattr(graph, name)(*args, actor=None)
        except accessgraph.AccessGraphError:
            continue
        done.append((name, args))
    return done


def timed(measure: Callable[[], int]) -> int:
    gc.collect()
    gc.disable()
    try:
        return measure()
    finally:
        gc.enable()


def spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=None, help="users (default 10,000)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default 200,000)")
    parser.add_argument("--rounds", type=int, default=9, help="alternating timing rounds")
    parser.add_argument("--changes", type=int, default=100, help="changes made in the overlay")
    parser.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write results")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import accessgraph

    w = workload.generate(args.seed, users=args.users, queries=args.queries)
    g = workload.build_graph(w)
    queries = w.queries
    print(f"workload: {w.summary()}")

    start = time.perf_counter()
    overlay = g.what_if()
    make_s = time.perf_counter() - start
    changes = apply_changes(overlay, candidate_changes(w, args.seed), args.changes)
    print(f"overlay made in {make_s * 1000:.1f} ms; {len(changes)} changes applied to it")

    # The overlay must answer as a graph that really made those changes, the original as
    # before: a wrong fast answer is no answer.
    before = g.check_many(queries)
    real = accessgraph.Graph.from_json(g.to_json())
    real.set_time(g.now())
    if len(apply_changes(real, changes, len(changes))) != len(changes):
        print("DISAGREEMENT: a change the overlay made was refused on a copy", file=sys.stderr)
        return 1
    mismatches = sum(
        a != b for a, b in zip(overlay.check_many(queries), real.check_many(queries), strict=True)
    )
    mismatches += sum(a != b for a, b in zip(g.check_many(queries), before, strict=True))
    differing = sum(a != b for a, b in zip(overlay.check_many(queries), before, strict=True))
    if mismatches:
        print(f"DISAGREEMENT: {mismatches} answers differ", file=sys.stderr)
        return 1
    print(f"verified: {len(queries):,} queries; {differing:,} answers differ from the original")

    # A fresh overlay without changes: it separates what the copy itself does (its state
    # is laid out anew, away from the original's audit log) from what the changes do.
    fresh = g.what_if()
    ratios, fresh_ratios, base_ns, over_ns, fresh_ns, many_ratios = [], [], [], [], [], []
    for i in range(args.rounds):
        # rotate which side goes first, so drift in the machine favours none
        sides = [(g, base_ns), (overlay, over_ns), (fresh, fresh_ns)]
        sides = sides[i % 3 :] + sides[: i % 3]
        for graph, out in sides:
            out.append(timed(lambda graph=graph: time_loop(graph.check, queries)) / len(queries))
        ratios.append(over_ns[-1] / base_ns[-1])
        fresh_ratios.append(over_ns[-1] / fresh_ns[-1])
        a = timed(lambda: _ns(lambda: g.check_many(queries)))
        b = timed(lambda: _ns(lambda: overlay.check_many(queries)))
        many_ratios.append(b / a)
    results = {
        "overlay_make_ms": make_s * 1000,
        "changes_applied": len(changes),
        "check_ns_graph": spread(base_ns),
        "check_ns_overlay": spread(over_ns),
        "check_ns_fresh_overlay": spread(fresh_ns),
        "check_ratio": spread(ratios),
        "check_ratio_vs_fresh_overlay": spread(fresh_ratios),
        # best of the rounds on each side: what is left when the machine's noise is not
        "check_ratio_of_best": min(over_ns) / min(base_ns),
        "check_ratio_of_best_vs_fresh_overlay": min(over_ns) / min(fresh_ns),
        "check_many_ratio": spread(many_ratios),
    }
    r = results["check_ratio"]
    print(
        f"check(): graph {results['check_ns_graph']['median']:.0f} ns, overlay "
        f"{results['check_ns_overlay']['median']:.0f} ns; ratio overlay / graph "
        f"{r['median']:.3f} (min {r['min']:.3f}, max {r['max']:.3f}; {args.rounds} rounds; "
        f"target <= {TARGET_RATIO})"
    )
    print(
        f"check(): best of {args.rounds}: graph {min(base_ns):.0f} ns, overlay "
        f"{min(over_ns):.0f} ns, fresh overlay {min(fresh_ns):.0f} ns"
    )
    f = results["check_ratio_vs_fresh_overlay"]
    print(
        f"check(): overlay after the changes / a fresh overlay without them {f['median']:.3f} "
        f"(min {f['min']:.3f}, max {f['max']:.3f})"
    )
    m = results["check_many_ratio"]
    print(f"check_many(): ratio {m['median']:.3f} (min {m['min']:.3f}, max {m['max']:.3f})")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "machine": machine_info(),
            "workload": w.summary(),
            "settings": {"rounds": args.rounds, "changes": args.changes, "seed": args.seed},
            "results": results,
            "targets": {"check_ratio": TARGET_RATIO},
            "mismatches": mismatches,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def _ns(run: Callable[[], object]) -> int:
    start = time.perf_counter_ns()
    run()
    return time.perf_counter_ns() - start


if __name__ == "__main__":
    sys.exit(main())
