"""Fuzz the registry parsers for a while: typed errors only, never anything else.

    python benchmarks/fuzz_registry.py --minutes 10 [--seed N]

Runs the robustness properties of ``tests/python/test_registry_properties.py`` —
``Graph.from_markdown`` and ``Graph.from_json`` on arbitrary text and on mangled real
exports either return a graph (whose export reads back to itself) or raise an
``accessgraph.AccessGraphError`` subclass — alternating two drivers until the time is up:
Hypothesis (``max_examples`` effectively unbounded, in seeded chunks so it stops on time)
and a plain loop of random mutations of the seed documents (many more executions per
second). Prints the executions, the outcomes by type, and every unexpected exception;
exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

TESTS = Path(__file__).resolve().parents[1] / "tests" / "python"
CHUNK_EXAMPLES = 300  # Hypothesis examples per property per chunk
LOOP_EXECUTIONS = 3000  # plain mutations per chunk


class _TimeUp(Exception):
    """Raised inside a Hypothesis run when the time budget is spent."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    deadline = time.monotonic() + 60 * args.minutes

    sys.path.insert(0, str(TESTS))
    props: Any = importlib.import_module("test_registry_properties")
    rng = random.Random(seed)
    executions: Counter[str] = Counter()
    failures: list[str] = []

    def record(name: str, text: str, org: str | None, exc: BaseException) -> None:
        failures.append(
            f"[{name}] {type(exc).__name__}: {exc}\n  input (org={org!r}): {text!r}\n"
            + "".join(traceback.format_exception(exc)[-6:])
        )

    def hypothesis_run(name: str, strategy: Any, check: Any) -> None:
        key = f"hypothesis:{name}"
        quota = executions[key] + CHUNK_EXAMPLES

        @settings(
            max_examples=10**9,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def run(case: tuple[str, str | None]) -> None:
            if time.monotonic() > deadline or executions[key] >= quota:
                raise _TimeUp
            executions[key] += 1
            try:
                check(*case)
            except Exception as exc:  # report it and keep going
                record(key, case[0], case[1], exc)

        with contextlib.suppress(_TimeUp):
            run()

    def hypothesis_chunk() -> None:
        for name, strategy, check in props.PROPERTIES:
            hypothesis_run(name, strategy, check)

    def loop_chunk() -> None:
        for _ in range(LOOP_EXECUTIONS):
            if time.monotonic() > deadline:
                return
            kind = rng.choice(("markdown", "json"))
            text = props.mutate(rng.choice(props.SEED_DOCUMENTS[kind]), rng, rng.randint(1, 8))
            org = rng.choice((None, "acme")) if kind == "markdown" else None
            name = f"loop:{kind}"
            executions[name] += 1
            try:
                if kind == "markdown":
                    props.check_markdown(text, org)
                else:
                    props.check_json(text)
            except Exception as exc:
                record(name, text, org, exc)

    started = time.monotonic()
    while time.monotonic() < deadline:
        hypothesis_chunk()
        loop_chunk()
    elapsed = time.monotonic() - started

    outcomes: Counter[str] = props.OUTCOMES
    typed = sum(n for k, n in outcomes.items() if k != "ok" and not k.startswith("export:"))
    print(f"seed {seed}, {elapsed / 60:.1f} min")
    print(f"executions: {sum(executions.values())}")
    for key in sorted(executions):
        print(f"  {key}: {executions[key]}")
    print(f"parsed: {outcomes['ok']}")
    print(f"typed errors: {typed}")
    for key in sorted(outcomes):
        if key != "ok":
            print(f"  {key}: {outcomes[key]}")
    print(f"unexpected exceptions (or property violations): {len(failures)}")
    for f in failures[:20]:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
