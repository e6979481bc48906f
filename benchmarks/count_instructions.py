"""Instructions per operation under callgrind: a figure that a busy machine cannot move.

Usage::

    python benchmarks/count_instructions.py [--core PATH/_core.so ...] [--large]
        [--queries N] [--cache] [--json PATH]

Wall-clock figures on a shared 2-core VM swing by 2x from one run to the next; the
number of instructions executed does not. For each contestant this runs the same
Python script twice under ``valgrind --tool=callgrind``, once doing the setup alone and
once doing the setup and then two passes of the operation, and divides the difference
by the number of operations. ``--cache`` adds callgrind's cache simulation (D1 and
last-level read misses per operation; the last level is set to the 1 MiB L2 (per core) of the
machine the README figures come from), which is what separates the large workload
from the standard one.

Contestants: the dict baseline's ``check``; for each ``--core`` (default: the
``accessgraph._core`` on the path) ``check``, ``check_many`` (per check),
``who_can`` on a 10,000-member project, ``accessible(user)`` and
``permissions(user, project)``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import workload

HERE = Path(__file__).resolve().parent
OPS = ("check", "check_many", "who_can", "accessible", "permissions")


def inner(args: argparse.Namespace) -> int:
    """Runs under valgrind: setup, then ``passes`` passes of one operation."""
    import compare_builds

    with open(args.workload, "rb") as f:
        w = pickle.load(f)
    queries = w.queries
    if args.op == "dict":
        base = workload.build_dict_baseline(w)
        check = base.check
        for _ in range(args.passes):
            compare_builds.check_loop(check, queries)
        return 0
    if args.core:
        core = compare_builds.load_core(Path(args.core[0]), "ag_counted")
    else:
        import accessgraph

        core = accessgraph._core
    if args.op == "who_can":
        g = compare_builds.big_project(core)
        g.who_can("insight:create", "big/app")
        for _ in range(args.passes):
            g.who_can("insight:create", "big/app")
        return 0
    g = compare_builds.build(core, w)
    users = w.users[: len(queries)]
    pairs = [(u, p) for u, (_, _, p) in zip(users, queries, strict=False)]
    # Warm anything lazily built, outside the counted passes.
    g.check(*queries[0])
    g.check_many(queries[:10])
    for _ in range(args.passes):
        if args.op == "check":
            compare_builds.check_loop(g.check, queries)
        elif args.op == "check_many":
            g.check_many(queries)
        elif args.op == "accessible":
            for u in users:
                g.accessible(u)
        elif args.op == "permissions":
            for u, p in pairs:
                g.permissions(u, p)
    return 0


def count(
    op: str, core: str | None, wl: Path, passes: int, cache: bool
) -> tuple[int, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-instr=no",
            "--compress-strings=no",
        ]
        if cache:
            cmd += ["--cache-sim=yes", "--LL=1048576,16,64"]
        cmd += [sys.executable, __file__, "--inner", "--op", op, "--workload", str(wl)]
        cmd += ["--passes", str(passes)]
        if core:
            cmd += ["--core", core]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        text = out.read_text(encoding="utf-8", errors="replace")
    events = re.search(r"^events: (.*)$", text, re.M)
    totals = re.search(r"^(?:summary|totals): (.*)$", text, re.M)
    if events is None or totals is None:
        raise SystemExit("no totals in callgrind's output")
    values = dict(zip(events.group(1).split(), map(int, totals.group(1).split()), strict=False))
    return values["Ir"], values


def outer(args: argparse.Namespace) -> int:
    size = "large" if args.large else "standard"
    w = workload.generate(args.seed, size=size, queries=args.queries)
    n_ops = {
        "dict": len(w.queries),
        "check": len(w.queries),
        "check_many": len(w.queries),
        "who_can": 1,
        "accessible": min(len(w.users), len(w.queries)),
        "permissions": min(len(w.users), len(w.queries)),
    }
    cores: list[str | None] = list(args.core) if args.core else [None]
    report: dict[str, Any] = {"workload": size, "queries": len(w.queries), "figures": {}}
    with tempfile.TemporaryDirectory() as tmp:
        wl = Path(tmp) / "workload.pickle"
        with open(wl, "wb") as f:
            pickle.dump(w, f)
        plan: list[tuple[str, str | None]] = [("dict", None)]
        plan += [(op, core) for core in cores for op in args.ops]
        for op, core in plan:
            _, zero = count(op, core, wl, 0, args.cache)
            _, two = count(op, core, wl, 2, args.cache)
            per = {k: (two[k] - zero[k]) / (2 * n_ops[op]) for k in two}
            label = op if core is None else f"{op} [{Path(core).name}]"
            report["figures"][label] = per
            extra = ""
            if args.cache:
                d1 = per.get("D1mr", 0) + per.get("D1mw", 0)
                ll = per.get("DLmr", 0) + per.get("DLmw", 0)
                extra = f"  D1 misses {d1:8.2f}  LL misses {ll:8.2f}"
            print(f"{label:<48} {per['Ir']:>12,.1f} instructions{extra}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--core", action="append", help="a _core*.so to count (repeatable)")
    p.add_argument("--large", action="store_true")
    p.add_argument("--queries", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    p.add_argument("--cache", action="store_true", help="simulate the caches too")
    p.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--op", help=argparse.SUPPRESS)
    p.add_argument("--workload", help=argparse.SUPPRESS)
    p.add_argument("--passes", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inner:
        sys.path.insert(0, str(HERE))
        return inner(args)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
