"""What progress reporting costs ``AuditLog.verify``: two builds side by side in one process.

Usage::

    python benchmarks/bench_progress.py --before PATH/_core.so [--after PATH/_core.so]
        [--events N] [--rounds N]

Each build (``--after`` defaults to the ``accessgraph._core`` on the path) gets the same
graph of ``--events`` audit events through the ``_core.Graph`` API; then, for
``--rounds`` rounds, each contestant's ``_audit_verify()`` is timed once in turn:

- ``before``: the build without the progress hook, no callback;
- ``after``: this build, no callback (the path that must cost nothing);
- ``after+hook``: this build with a callback that does nothing (the 1 % throttle, the
  copy of the log out of its lock, the GIL taken per report).

It prints the median and range of each time and of the per-round ratios against
``before`` (a ratio taken within a round cancels most of the machine's drift).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_builds import load_core


def graph(core: Any, events: int) -> Any:
    g = core.Graph()
    g.add_org("acme", owner="owner@acme.io")
    for i in range(events - 1):
        g.add_member(f"user{i}@acme.io", "acme")
    return g


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    before = load_core(args.before, "before")
    if args.after is None:
        from accessgraph import _core as after
    else:
        after = load_core(args.after, "after")
    g_before, g_after = graph(before, args.events), graph(after, args.events)
    calls = []

    def hook(done: int, total: int) -> None:
        calls.append(done)

    contestants: dict[str, Callable[[], object]] = {
        "before": g_before._audit_verify,
        "after": g_after._audit_verify,
        "after+hook": lambda: g_after._audit_verify(hook),
    }
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for fn in contestants.values():
        fn()  # warm up
    for _ in range(args.rounds):
        for name, fn in contestants.items():
            times[name].append(timed(fn))
    print(f"verify of {args.events} events, {args.rounds} rounds (ms: median [min, max])")
    for name, ts in times.items():
        ms = [t * 1e3 for t in ts]
        line = f"  {name:11} {statistics.median(ms):8.2f} [{min(ms):.2f}, {max(ms):.2f}]"
        if name != "before":
            ratios = [t / b for t, b in zip(ts, times["before"], strict=True)]
            line += (
                f"  ratio to before {statistics.median(ratios):.3f}"
                f" [{min(ratios):.3f}, {max(ratios):.3f}]"
            )
        print(line)
    print(f"  the hook heard {len(calls) // (args.rounds + 1)} reports per verify")
    return 0


if __name__ == "__main__":
    sys.exit(main())
