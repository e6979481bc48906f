"""What observability costs the check path: OpenTelemetry absent, disabled, on, and off
again; and what the logging mutations cost a mutation. Ratios within one process.

Usage::

    python benchmarks/bench_observability.py [--users N] [--queries N] [--repeat N]
                                             [--json PATH]

Builds the standard workload (``workload.py``) and times ``g.check(user, action,
project)`` over its queries (the method looked up on every call, as an application
does), best of ``--repeat`` rounds, the states interleaved round by round (each round
in another order) so that a noisy machine hits them alike:

- **absent**: ``opentelemetry`` cannot be imported (blocked in ``sys.modules``): the
  baseline;
- **disabled**: importable, ``accessgraph.otel`` imported, never instrumented;
- **instrumented**: ``otel.instrument()`` with the SDK's meter (an in-memory reader)
  and tracer: every decision counted;
- **uninstrumented**: after ``otel.uninstrument()``.

Each is reported as ns per check and as a ratio to *absent*. Disabled and
uninstrumented must stay at 1.00 within noise: the lookup finds the Rust method itself.
Also reported: ``g.grant`` (the logging wrapper of :mod:`accessgraph._mutations`)
against the core's ``_core.Graph.grant`` on the same graph (``audit=False``, where a
mutation is cheapest and the wrapper's share largest).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import workload

STATES = ("absent", "disabled", "instrumented", "uninstrumented")


def _timed(run: Callable[[], None]) -> int:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        run()
        return time.perf_counter_ns() - start
    finally:
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--users", type=int, default=None, help="users (default: standard, 10,000)")
    p.add_argument("--queries", type=int, default=2_000)
    p.add_argument("--repeat", type=int, default=401)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")

    sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # absent
    import accessgraph as ag
    from accessgraph import _core, otel

    try:
        otel.instrument()
    except ImportError:
        pass
    else:  # pragma: no cover - the block above failed
        raise SystemExit("could not make OpenTelemetry absent")

    w = workload.generate(users=args.users, queries=args.queries)
    g = workload.build_graph(w)
    queries = [(u, a, p) for u, a, p in w.queries]

    def checks() -> None:
        for user, action, project in queries:
            g.check(user, action, project)

    top = sys.modules.pop("opentelemetry")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    tracers = TracerProvider()
    otel_module = sys.modules["opentelemetry"]

    def timed_in(state: str) -> int:
        sys.modules["opentelemetry"] = top if state == "absent" else otel_module
        if state == "instrumented":
            otel.instrument(meter_provider=meters, tracer_provider=tracers)
        try:
            return _timed(checks)
        finally:
            if state == "instrumented":
                otel.uninstrument()
            sys.modules["opentelemetry"] = otel_module

    # "disabled" has never been instrumented: measured once before anything else, then
    # (as it is the same state as "uninstrumented" from then on) within the rounds.
    best = dict.fromkeys(STATES, float("inf"))
    best["disabled"] = _timed(checks)
    for i in range(args.repeat):
        # each round in another order, so that no state always comes first
        for state in STATES[i % len(STATES) :] + STATES[: i % len(STATES)]:
            best[state] = min(best[state], timed_in(state))
    assert ag.Graph.check is _core.Graph.check
    counted = _decisions(reader)
    expected = len(queries) * args.repeat  # the instrumented rounds
    if counted != expected:
        raise SystemExit(f"the counter saw {counted:,} decisions, expected {expected:,}")

    # the logging wrapper on a mutation
    m = ag.Graph(audit=False)
    m.add_org("bench", owner="owner@bench.example")
    m.add_project("bench/p")
    people = [f"user{i}@bench.example" for i in range(2_000)]
    for person in people:
        m.add_member(person, "bench")
    core_grant = _core.Graph.grant
    wrapped = ag.Graph.grant
    mutation = {"core": float("inf"), "wrapped": float("inf")}
    for _ in range(args.repeat):
        for role in ("viewer", "member"):
            mutation["core"] = min(
                mutation["core"],
                _timed(lambda r=role: [core_grant(m, u, "bench/p", r) for u in people]),
            )
        for role in ("viewer", "member"):
            mutation["wrapped"] = min(
                mutation["wrapped"],
                _timed(lambda r=role: [wrapped(m, u, "bench/p", r) for u in people]),
            )

    per_check = {s: best[s] / len(queries) for s in STATES}
    per_grant = {k: v / len(people) for k, v in mutation.items()}
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "workload": {"users": len(w.users), "queries": len(queries), "repeat": args.repeat},
        "check_ns": per_check,
        "check_ratio": {s: per_check[s] / per_check["absent"] for s in STATES},
        "grant_ns": per_grant,
        "grant_ratio": per_grant["wrapped"] / per_grant["core"],
    }
    print(f"{len(queries):,} checks, best of {args.repeat} (ns per check, ratio to absent):")
    for s in STATES:
        print(f"  {s:<15} {per_check[s]:8.1f} ns  {report['check_ratio'][s]:.3f}")
    print(
        f"grant (audit=False): core {per_grant['core']:.0f} ns, with the logging wrapper "
        f"{per_grant['wrapped']:.0f} ns (ratio {report['grant_ratio']:.2f})"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def _decisions(reader: Any) -> int:
    data = reader.get_metrics_data()
    total = 0
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == "accessgraph.decisions":
                    total += sum(p.value for p in metric.data.data_points)
    return total


if __name__ == "__main__":
    sys.exit(main())
