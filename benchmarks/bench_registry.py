"""Load and save the large workload as JSON and Markdown (SPEC 8: <= 1 s JSON, <= 2 s Markdown).

Usage::

    python benchmarks/bench_registry.py [--users N] [--json PATH]

Builds the large workload (100,000 users, ~1,000,000 grants; ``workload.py``), then
times, best of ``--repeat``: ``to_json()`` and ``Graph.from_json()`` of the whole graph,
and ``to_markdown(org)`` / ``Graph.from_markdown()`` of every org (the registry is one
document per org; the figure is the sum over the orgs). Checks that each round trip gives
the same document back, and reports the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import workload

import accessgraph as ag


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times = []
    out: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--users", type=int, default=None, help="users (default: large, 100,000)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    w = workload.generate(size="large", users=args.users, queries=10)
    g = workload.build_graph(w, audit=False)  # the formats, not the audit log
    orgs = [o.slug for o in g.orgs()]

    save_json_s, text = best(g.to_json, args.repeat)
    assert isinstance(text, str)
    load_json_s, back = best(lambda: ag.Graph.from_json(text), args.repeat)
    assert isinstance(back, ag.Graph) and back.to_json() == text

    def save_md() -> dict[str, str]:
        return {org: g.to_markdown(org) for org in orgs}

    save_md_s, docs = best(save_md, args.repeat)
    assert isinstance(docs, dict)

    def load_md() -> list[ag.Graph]:
        return [ag.Graph.from_markdown(doc, org=org) for org, doc in docs.items()]

    load_md_s, graphs = best(load_md, args.repeat)
    assert isinstance(graphs, list)
    for (org, doc), h in zip(docs.items(), graphs, strict=True):
        assert h.to_markdown(org) == doc, f"markdown round trip of {org} differs"

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report: dict[str, Any] = {
        "users": len(w.users),
        "grants": len(w.grants),
        "json_bytes": len(text.encode()),
        "markdown_bytes": sum(len(d.encode()) for d in docs.values()),
        "save_json_s": save_json_s,
        "load_json_s": load_json_s,
        "save_markdown_s": save_md_s,
        "load_markdown_s": load_md_s,
        "peak_rss_mib": peak_mib,
    }
    for k, v in report.items():
        print(f"{k:<18} {v:,.3f}" if isinstance(v, float) else f"{k:<18} {v:,}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
