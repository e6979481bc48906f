"""Benchmark ``Graph.check`` / ``check_many`` against the SPEC 8 dict baseline.

Usage::

    python benchmarks/bench_check.py [--users N] [--queries N] [--repeat N]
                                     [--large] [--seed N] [--json PATH]

In one run: generate the workload (``workload.py``), build the graph and the dict
baseline (``baseline.py``), verify that both answer every query the same way (exit 1
with the number of mismatches otherwise), then measure, best of ``--repeat``:

- mean ns per ``g.check(u, a, p)`` and per baseline check, over the query list, with the
  same loop (tuple unpacking, bound-method call) around both, and their ratio
  (accessgraph / baseline; target <= 0.6);
- ``g.check_many(queries)`` throughput (target >= 10,000,000 checks/s);
- ``check_many`` on two threads, each on its own half of the queries, against one
  thread doing both halves (target >= 1.8x).

Targets are reported, not enforced: the exit status only reflects disagreements.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import workload
from baseline import DictBaseline
from workload import Query

if TYPE_CHECKING:
    import accessgraph

CheckFn = Callable[[str, str, str], object]

TARGET_RATIO = 0.6
TARGET_CHECK_MANY_PER_S = 10_000_000
TARGET_THREAD_SPEEDUP = 1.8
# Each thread measurement runs at least this many checks (capped rounds over the list).
THREAD_MIN_CHECKS = 1_000_000
THREAD_MAX_ROUNDS = 50
MAX_EXAMPLES = 10  # mismatches shown
MIN_QUERIES = 2  # two halves for the thread figures


def time_loop(fn: CheckFn, queries: Sequence[Query]) -> int:
    """Time (ns) to call ``fn`` once per query; the same loop for every contestant."""
    start = time.perf_counter_ns()
    for user, action, project in queries:
        fn(user, action, project)
    return time.perf_counter_ns() - start


def time_empty_loop(queries: Sequence[Query]) -> int:
    """Time (ns) of the loop and tuple unpacking alone (reported for information)."""
    start = time.perf_counter_ns()
    for _user, _action, _project in queries:
        pass
    return time.perf_counter_ns() - start


def measure_once(measure: Callable[[], int]) -> int:
    """One measurement (ns) with the garbage collector paused."""
    gc.collect()
    gc.disable()
    try:
        return measure()
    finally:
        gc.enable()


def best(measure: Callable[[], int], repeat: int) -> int:
    """The fastest of ``repeat`` measurements."""
    return min(measure_once(measure) for _ in range(repeat))


def time_threads(
    graph: accessgraph.Graph, parts: Sequence[Sequence[Sequence[Query]]], rounds: int
) -> int:
    """Wall time (ns) of ``len(parts)`` threads started together.

    Thread ``i`` runs ``check_many`` on each chunk of ``parts[i]``, ``rounds`` times.
    """
    barrier = threading.Barrier(len(parts))
    starts = [0] * len(parts)
    ends = [0] * len(parts)

    def work(i: int) -> None:
        barrier.wait()
        starts[i] = time.perf_counter_ns()
        for _ in range(rounds):
            for chunk in parts[i]:
                graph.check_many(chunk)
        ends[i] = time.perf_counter_ns()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not all(ends):
        # threading.excepthook has printed the worker's traceback.
        raise RuntimeError("a check_many worker thread failed")
    return max(ends) - min(starts)


def verify(
    graph: accessgraph.Graph, base: DictBaseline, queries: Sequence[Query]
) -> tuple[int, int, list[str]]:
    """Compare ``g.check`` and ``g.check_many`` with the baseline on every query.

    Returns ``(allowed, mismatches, examples)``.
    """
    expected = [base.check(u, a, p) for u, a, p in queries]
    single = [graph.check(u, a, p) for u, a, p in queries]
    many = graph.check_many(list(queries))
    examples: list[str] = []
    mismatches = 0
    if len(many) != len(queries):
        mismatches += abs(len(many) - len(queries))
        examples.append(f"check_many returned {len(many)} answers for {len(queries)} queries")
    for i, (u, a, p) in enumerate(queries):
        want = expected[i]
        got_one = single[i]
        got_many = many[i] if i < len(many) else None
        if got_one is want and got_many is want:
            continue
        mismatches += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                f"check({u!r}, {a!r}, {p!r}): baseline {want} (rank {base.role_rank(u, p)}), "
                f"check {got_one}, check_many {got_many}"
            )
    return sum(expected), mismatches, examples


def machine_info() -> dict[str, Any]:
    """Facts about the machine and interpreter, for the JSON report."""
    cpu_model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    gil_check = getattr(sys, "_is_gil_enabled", None)
    try:
        import accessgraph

        version = getattr(accessgraph, "__version__", None)
    except ImportError:
        version = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model,
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(affinity(0)) if affinity is not None else None,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "gil_enabled": gil_check() if gil_check is not None else True,
        "accessgraph": version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=None, help="users (default: per size)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default 200,000)")
    parser.add_argument("--repeat", type=int, default=5, help="repeats; the best counts")
    parser.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    parser.add_argument(
        "--large", action="store_true", help="the large workload (100,000 users, ~1M grants)"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write results")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.queries is not None and args.queries < MIN_QUERIES:
        parser.error(f"--queries must be at least {MIN_QUERIES}")
    if args.users is not None and args.users < 1:
        parser.error("--users must be at least 1")
    return args


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned; the second (values) right-aligned, the others left-aligned."""
    widths = [max(len(row[col]) for row in [header, *rows]) for col in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[col]) if col == 1 else cell.ljust(widths[col])
            for col, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = "large" if args.large else "standard"

    t0 = time.perf_counter()
    w = workload.generate(args.seed, size=size, users=args.users, queries=args.queries)
    t1 = time.perf_counter()
    graph = workload.build_graph(w)
    t2 = time.perf_counter()
    base = workload.build_dict_baseline(w)
    t3 = time.perf_counter()
    queries = w.queries
    n = len(queries)
    summary = w.summary()
    print(
        f"workload {size} (seed {w.seed}): {summary['orgs']} orgs, {summary['projects']} projects, "
        f"{summary['users']:,} users, {summary['memberships']:,} memberships, "
        f"{summary['grants']:,} grants, {n:,} queries"
    )
    print(f"generate {t1 - t0:.2f} s, build graph {t2 - t1:.2f} s, build baseline {t3 - t2:.2f} s")

    allowed, mismatches, examples = verify(graph, base, queries)
    if mismatches:
        print(
            f"MISMATCH: accessgraph and the baseline disagree on {mismatches:,} of {n:,} queries",
            file=sys.stderr,
        )
        for line in examples:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"verified: {n:,} queries agree ({allowed / n:.1%} allowed)")

    # Alternate the two contestants so that both see the same machine conditions.
    check_ns: list[int] = []
    base_ns: list[int] = []
    for _ in range(args.repeat):
        check_ns.append(measure_once(lambda: time_loop(graph.check, queries)))
        base_ns.append(measure_once(lambda: time_loop(base.check, queries)))
    loop_ns = best(lambda: time_empty_loop(queries), args.repeat)

    def time_check_many() -> int:
        start = time.perf_counter_ns()
        graph.check_many(queries)
        return time.perf_counter_ns() - start

    many_best = best(time_check_many, args.repeat)

    half = n // 2
    halves = (queries[:half], queries[half : 2 * half])
    rounds = max(1, min(THREAD_MAX_ROUNDS, math.ceil(THREAD_MIN_CHECKS / (2 * half))))
    one_ns = best(lambda: time_threads(graph, [halves], rounds), args.repeat)
    two_ns = best(lambda: time_threads(graph, [[halves[0]], [halves[1]]], rounds), args.repeat)
    thread_checks = 2 * half * rounds

    check_mean = min(check_ns) / n
    base_mean = min(base_ns) / n
    ratio = check_mean / base_mean
    many_per_s = n * 1e9 / many_best
    one_per_s = thread_checks * 1e9 / one_ns
    two_per_s = thread_checks * 1e9 / two_ns
    speedup = one_ns / two_ns

    table = [
        ("g.check() mean", f"{check_mean:,.0f} ns", "", None),
        ("baseline check mean", f"{base_mean:,.0f} ns", "", None),
        ("  loop + unpacking alone", f"{loop_ns / n:,.0f} ns", "", None),
        (
            "ratio accessgraph / baseline",
            f"{ratio:.2f}",
            f"<= {TARGET_RATIO:.2f}",
            ratio <= TARGET_RATIO,
        ),
        (
            "check_many",
            f"{many_per_s:,.0f} /s",
            f">= {TARGET_CHECK_MANY_PER_S:,} /s",
            many_per_s >= TARGET_CHECK_MANY_PER_S,
        ),
        ("check_many, 1 thread", f"{one_per_s:,.0f} /s", "", None),
        ("check_many, 2 threads", f"{two_per_s:,.0f} /s", "", None),
        (
            "2 threads vs 1",
            f"{speedup:.2f} x",
            f">= {TARGET_THREAD_SPEEDUP:.2f} x",
            speedup >= TARGET_THREAD_SPEEDUP,
        ),
    ]
    print()
    print(
        format_table(
            ["figure", "value", "target", ""],
            [
                [name, value, target, "" if ok is None else ("ok" if ok else "MISS")]
                for name, value, target, ok in table
            ],
        )
    )
    print(f"(best of {args.repeat}; thread figures over {thread_checks:,} checks each)")

    if args.json is not None:
        report = {
            "benchmark": "check",
            "machine": machine_info(),
            "workload": {**summary, "allowed_fraction": allowed / n},
            "settings": {"repeat": args.repeat, "thread_rounds": rounds},
            "build_seconds": {
                "generate": t1 - t0,
                "graph": t2 - t1,
                "baseline": t3 - t2,
            },
            "mismatches": mismatches,
            "results": {
                "check_ns": check_mean,
                "baseline_ns": base_mean,
                "loop_overhead_ns": loop_ns / n,
                "ratio": ratio,
                "check_many_per_s": many_per_s,
                "check_many_ns": many_best / n,
                "one_thread_per_s": one_per_s,
                "two_threads_per_s": two_per_s,
                "thread_speedup": speedup,
            },
            "targets": {
                "ratio": TARGET_RATIO,
                "check_many_per_s": TARGET_CHECK_MANY_PER_S,
                "thread_speedup": TARGET_THREAD_SPEEDUP,
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
