"""Two builds of ``accessgraph._core`` side by side in one process, against the dict.

Usage::

    python benchmarks/compare_builds.py --before PATH/_core.so [--after PATH/_core.so]
        [--large] [--rounds N] [--figures NAME ...] [--json PATH]

An optimisation is judged here: the wall clock of a shared machine moves by 2x between
runs, but two contestants timed in alternation within one process see the same
conditions. Each build is loaded under its own module name (``--after`` defaults to the
``accessgraph._core`` on the path), the same workload is built into each through the
``_core.Graph`` API, every query is verified against the dict baseline, and then, for
``--rounds`` rounds, each figure is timed once for every contestant in turn:

- ``check`` mean (ns) over the queries, and the dict baseline's, in the same loop;
- ``check_many`` over the whole list;
- ``two_threads`` (not by default): ``check_many`` on two threads, each on its own half
  of the list, against one thread doing both halves, by the wall clock (a speedup, so
  higher is better; meaningful only on a machine with two idle cores);
- ``who_can`` on a project with 10,000 members;
- ``accessible(user)`` and ``permissions(user, project)`` over 2,000 users;
- ``load_json``: ``Graph.from_json`` of the workload's snapshot (the same document for
  both builds; seconds);
- ``memory``: resident memory per grant after building the workload through the API
  (``Graph(audit=False)``), each build in a fresh interpreter of its own, the two
  started in alternation (bytes per grant).

It reports, per figure, the median and the range over the rounds of each build's time
and of the per-round ratios (after / before, and check / dict): a ratio taken within a
round cancels most of the machine's drift.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import workload
from workload import Query, Workload

import accessgraph


def load_core(path: Path, name: str) -> ModuleType:
    """The extension at ``path`` as module ``name`` (its init function is ``PyInit__core``)."""
    spec = importlib.util.spec_from_file_location(f"{name}._core", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(core: ModuleType, w: Workload) -> Any:
    """``workload.build_graph`` on a bare ``_core.Graph`` (no audit log)."""
    g = core.Graph(audit=False)
    g.set_time(workload.BUILD_TIME_ISO)
    creators = {(org.owner, org.slug) for org in w.orgs}
    for org in w.orgs:
        g.add_org(org.slug, name=org.name, owner=org.owner)
    for p in w.projects:
        g.add_project(
            p.id,
            name=p.name,
            environment=p.environment,
            restricted=p.restricted,
            pii=p.pii,
            default_role=p.default_role,
        )
    for m in w.memberships:
        if (m.user, m.org) not in creators:
            g.add_member(m.user, m.org, m.role, expires=m.expires)
    for grant in w.grants:
        g.grant(grant.user, grant.target, grant.role, expires=grant.expires)
    g.set_time(workload.NOW_ISO)
    return g


def big_project(core: ModuleType) -> Any:
    """A graph whose project ``big/app`` has 10,000 members with a grant each."""
    g = core.Graph(audit=False)
    g.set_time(workload.NOW_ISO)
    g.add_org("big", owner="owner@big.example")
    g.add_project("big/app")
    g.add_project("big/other")
    for i in range(10_000):
        g.add_member(f"user{i:05d}@big.example", "big")
        g.grant(f"user{i:05d}@big.example", "big/app", ("viewer", "member", "admin")[i % 3])
    return g


#: The clock: this thread's CPU time, so that the time other processes hold the CPU
#: is not counted (their effect on the caches still is). ``--wall`` switches to the wall
#: clock, for figures that wait on other threads.
CLOCK = time.thread_time_ns


def timed(fn: Callable[[], object]) -> int:
    gc.collect()
    gc.disable()
    try:
        start = CLOCK()
        fn()
        return CLOCK() - start
    finally:
        gc.enable()


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_grant(path: Path, large: bool, seed: int) -> float:
    """Resident bytes per grant that building the workload with the build at ``path`` adds."""
    core = load_core(path, "ag_measured")
    w = workload.generate(seed, size="large" if large else "standard", queries=10)
    gc.collect()
    before = rss_bytes()
    g = build(core, w)
    gc.collect()
    per_grant = (rss_bytes() - before) / len(w.grants)
    del g
    return per_grant


def memory_in_fresh_process(path: Path, large: bool, seed: int) -> float:
    cmd = [sys.executable, __file__, "--before", str(path), "--memory-of", str(path)]
    cmd += ["--seed", str(seed)] + (["--large"] if large else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def readable(core: ModuleType, doc: str, queries: Sequence[Query], want: list[bool]) -> bool:
    """True when ``core`` reads ``doc`` into a graph that answers ``queries`` with ``want``."""
    try:
        g = core.Graph.from_json(doc)
    except Exception:
        return False
    g.set_time(workload.NOW_ISO)
    return bool(g.check_many(queries) == want)


def check_loop(check: Callable[[str, str, str], object], queries: Sequence[Query]) -> None:
    for user, action, project in queries:
        check(user, action, project)


def two_thread_speedup(g: Any, queries: Sequence[Query]) -> float:
    """Wall time of one thread running ``check_many`` on both halves of ``queries``, over
    that of two threads running it on one half each."""
    halves = [list(queries[: len(queries) // 2]), list(queries[len(queries) // 2 :])]
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for half in halves:
            g.check_many(half)
        one = time.perf_counter_ns() - start
        threads = [threading.Thread(target=g.check_many, args=(h,)) for h in halves]
        start = time.perf_counter_ns()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return one / (time.perf_counter_ns() - start)
    finally:
        gc.enable()


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--before", type=Path, required=True, help="the baseline build's _core*.so")
    p.add_argument("--after", type=Path, default=None, help="default: accessgraph._core")
    p.add_argument("--large", action="store_true", help="the large workload")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--queries", type=int, default=None)
    p.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    p.add_argument(
        "--figures",
        nargs="+",
        default=["check", "check_many", "who_can", "accessible", "permissions"],
        choices=[
            "check",
            "check_many",
            "two_threads",
            "who_can",
            "accessible",
            "permissions",
            "load_json",
            "memory",
        ],
    )
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--wall", action="store_true", help="time with the wall clock")
    # For experiments: a stripped-down build (a bare call, no engine) answers wrongly.
    p.add_argument("--unverified", action="store_true", help=argparse.SUPPRESS)
    # Internal: the memory figure of one build, measured in a fresh interpreter.
    p.add_argument("--memory-of", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_of:
        print(memory_per_grant(args.memory_of, args.large, args.seed))
        return 0
    want_figures = set(args.figures)
    if args.wall:
        global CLOCK
        CLOCK = time.perf_counter_ns

    before = load_core(args.before, "ag_before")
    after = load_core(args.after, "ag_after") if args.after else accessgraph._core
    cores = {"before": before, "after": after}
    size = "large" if args.large else "standard"
    w = workload.generate(args.seed, size=size, queries=args.queries)
    queries = w.queries
    n = len(queries)
    base = workload.build_dict_baseline(w)
    graphs = {}
    for name, core in cores.items():
        t0 = time.perf_counter()
        graphs[name] = build(core, w)
        print(f"{name}: built in {time.perf_counter() - t0:.2f} s")
    want = [base.check(*q) for q in queries]
    for name, g in graphs.items():
        if args.unverified:
            break
        if [g.check(*q) for q in queries] != want or g.check_many(queries) != want:
            print(f"MISMATCH: build {name} disagrees with the dict", file=sys.stderr)
            return 1
    big = {name: big_project(core) for name, core in cores.items()}
    paths = {"before": args.before, "after": args.after or Path(accessgraph._core.__file__)}
    snapshot = ""
    if "load_json" in want_figures:
        # A document both builds read into the same graph (a newer build may write
        # fields that an older one does not know).
        for doc in (g.to_json() for g in graphs.values()):
            if all(readable(core, doc, queries, want) for core in cores.values()):
                snapshot = doc
                break
        else:
            print("MISMATCH: no snapshot that both builds read back", file=sys.stderr)
            return 1
    users = w.users[:: max(1, len(w.users) // 2000)]
    user_projects = [(u, p) for u, (_, _, p) in zip(users, queries, strict=False)]

    figures: dict[str, dict[str, list[float]]] = {}

    def record(figure: str, who: str, value: float) -> None:
        figures.setdefault(figure, {}).setdefault(who, []).append(value)

    def order_cores(r: int) -> list[tuple[str, ModuleType]]:
        return list(cores.items()) if r % 2 == 0 else list(reversed(cores.items()))

    for r in range(args.rounds):
        # Alternate which build goes first, so that neither always follows the dict.
        order = list(graphs.items()) if r % 2 == 0 else list(reversed(graphs.items()))
        if "check" in want_figures:
            record("check_ns", "dict", timed(lambda: check_loop(base.check, queries)) / n)
            for name, g in order:
                record("check_ns", name, timed(lambda g=g: check_loop(g.check, queries)) / n)
        if "check_many" in want_figures:
            for name, g in order:
                record("check_many_ns", name, timed(lambda g=g: g.check_many(queries)) / n)
        if "two_threads" in want_figures:
            for name, g in order:
                record("two_threads_x", name, two_thread_speedup(g, queries))
        if "who_can" in want_figures:
            for name, g in big.items():
                record(
                    "who_can_us",
                    name,
                    timed(lambda g=g: [g.who_can("insight:create", "big/app") for _ in range(20)])
                    / 20e3,
                )
        if "accessible" in want_figures:
            for name, g in order:
                record(
                    "accessible_us",
                    name,
                    timed(lambda g=g: [g.accessible(u) for u in users]) / len(users) / 1e3,
                )
        if "permissions" in want_figures:
            for name, g in order:
                record(
                    "permissions_us",
                    name,
                    timed(lambda g=g: [g.permissions(u, p) for u, p in user_projects])
                    / len(user_projects)
                    / 1e3,
                )
        if "load_json" in want_figures:
            for name, core in order_cores(r):
                record("load_json_s", name, timed(lambda c=core: c.Graph.from_json(snapshot)) / 1e9)
        if "memory" in want_figures:
            for name, _ in order_cores(r):
                record(
                    "memory_B", name, memory_in_fresh_process(paths[name], args.large, args.seed)
                )
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr)

    report: dict[str, Any] = {"workload": size, "queries": n, "rounds": args.rounds}
    rows = []
    for figure, by in figures.items():
        entry: dict[str, Any] = {who: spread(v) for who, v in by.items()}
        ratio = [a / b for a, b in zip(by["after"], by["before"], strict=True)]
        entry["after/before"] = spread(ratio)
        rows.append((figure, "after/before", spread(ratio)))
        if "dict" in by:
            for name in cores:
                r_ = [a / b for a, b in zip(by[name], by["dict"], strict=True)]
                entry[f"{name}/dict"] = spread(r_)
                rows.append((figure, f"{name}/dict", spread(r_)))
        for who, v in by.items():
            rows.append((figure, who, spread(v)))
        report[figure] = entry
    print(f"\n{size} workload, {n:,} queries, {args.rounds} rounds: median [min - max]")
    for figure, who, s in rows:
        print(f"{figure:<16} {who:<14} {s['median']:>9.3f}  [{s['min']:.3f} - {s['max']:.3f}]")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
