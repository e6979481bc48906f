"""Long calls let other Python threads run (SPEC 6.2): loads, exports and a mutation
that waits on another process's journal lock release the GIL.

A ticker thread notes the time every millisecond. While another thread holds the GIL it
cannot run, so the longest pause between its notes during a call is how long that call
froze every other thread. Holding the GIL for the whole call makes that pause the call's
whole duration; releasing it leaves only the moments that need Python (building the
result string), a small part of it.
"""

from __future__ import annotations

import functools
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import accessgraph as ag
from accessgraph._core import AuditFile

MEMBERS = 40_000
PROJECTS = 20


def registry(members: int) -> str:
    """An org with PROJECTS projects and `members` members holding two grants each."""
    lines = ["# Acme Access Registry", "## Projects"]
    lines += [f"- P{i} (slug p{i})" for i in range(PROJECTS)]
    lines += ["## Owners", "- owner@acme.io", "## Members"]
    for i in range(members):
        lines.append(f"- user{i}@acme.io (Engineer, reason onboarding)")
        lines.append(f"  - p{i % PROJECTS}: member (reason project work)")
        lines.append(f"  - p{(i + 7) % PROJECTS}: viewer")
    return "\n".join(lines) + "\n"


class Ticker:
    """A thread that notes the time every millisecond until stopped."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.stamps.append(time.perf_counter())
            time.sleep(0.001)

    def __enter__(self) -> Ticker:
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def longest_pause(self, start: float, end: float) -> float:
        """The longest time between two notes (or the window's ends) in [start, end]."""
        inside = [start, *(s for s in self.stamps if start < s < end), end]
        return max(b - a for a, b in itertools.pairwise(inside))


def froze(call: Callable[[], object]) -> tuple[float, float]:
    """Runs `call` beside a ticker; returns (its duration, the ticker's longest pause)."""
    with Ticker() as ticker:
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    return end - start, ticker.longest_pause(start, end)


# A call must last this long for holding the GIL to be told apart from releasing it.
LONG_ENOUGH = 0.1
# How many times larger the workload may grow before a machine is declared too fast.
GROWTH = (1, 3, 9, 27)


# Other work on the machine can only lengthen a pause, never shorten one: the least of a
# few tries is the call's own.
TRIES = 3


def assert_lets_threads_run(call_at: Callable[[int], Callable[[], object]]) -> None:
    """Runs `call_at(factor)()` on a workload grown by `factor` until the call lasts
    LONG_ENOUGH, so that a fast machine measures a long call rather than a short one, and
    asserts that other threads ran during most of it in the best of TRIES runs."""
    for factor in GROWTH:
        call = call_at(factor)
        took, pause = froze(call)
        if took > LONG_ENOUGH:
            break
    assert took > LONG_ENOUGH, f"the workload is too small to measure ({took:.3f}s)"
    for _ in range(TRIES - 1):
        if pause < took / 2:
            break
        took, pause = froze(call)
    assert pause < took / 2, f"other threads froze {pause:.3f}s of a {took:.3f}s call"


@pytest.fixture(scope="module", autouse=True)
def _forget_workloads() -> Iterator[None]:
    """The grown workloads are cached across this module's tests, then let go."""
    yield
    for cached in (big, imported, parsed):
        cached.cache_clear()


@functools.cache
def big(factor: int) -> tuple[str, ag.Graph, str, str]:
    text = registry(MEMBERS * factor)
    g = ag.Graph.from_markdown(text)
    return text, g, g.to_json(), g._csv_text()


LOADS_AND_EXPORTS: dict[str, Callable[[tuple[str, ag.Graph, str, str]], object]] = {
    "from_markdown": lambda b: ag.Graph.from_markdown(b[0]),
    "to_markdown": lambda b: b[1].to_markdown("acme"),
    "from_json": lambda b: ag.Graph.from_json(b[2]),
    "to_json": lambda b: b[1].to_json(),
    "from_csv": lambda b: ag.Graph.from_csv(b[3]),
    "to_csv": lambda b: b[1]._csv_text(),
}


@pytest.mark.parametrize("name", sorted(LOADS_AND_EXPORTS))
def test_loads_and_exports_let_other_threads_run(name: str) -> None:
    load_or_export = LOADS_AND_EXPORTS[name]

    def call_at(factor: int) -> Callable[[], object]:
        workload = big(factor)  # made before the call is timed: building it holds the GIL
        return lambda: load_or_export(workload)

    assert_lets_threads_run(call_at)


@functools.cache
def imported(factor: int) -> ag.Graph:
    """A graph whose audit log holds an event per member and grant (60,000 times factor)."""
    g = ag.Graph()
    g._import_registry_text(registry(MEMBERS // 2 * factor))
    return g


@functools.cache
def parsed(factor: int) -> AuditFile:
    return AuditFile.parse(imported(factor)._audit_jsonl())


def test_import_registry_lets_other_threads_run() -> None:
    def call_at(factor: int) -> Callable[[], object]:
        text = registry(MEMBERS // 4 * factor)
        return lambda: ag.Graph()._import_registry_text(text)

    assert_lets_threads_run(call_at)


@pytest.mark.parametrize("export", ["_audit_csv", "_audit_jsonl"])
def test_audit_exports_let_other_threads_run(export: str) -> None:
    assert_lets_threads_run(lambda factor: getattr(imported(factor), export))


def test_the_audit_table_lets_other_threads_run() -> None:
    """to_arrow()'s columns are written, and made Arrow arrays, without the GIL."""
    every = dict.fromkeys(("actor", "user", "action", "target", "since", "until", "limit"))
    assert_lets_threads_run(lambda factor: lambda: imported(factor)._audit_arrow(every))


@pytest.mark.parametrize("export", ["_csv", "_jsonl"])
def test_an_audit_file_export_lets_other_threads_run(export: str) -> None:
    assert_lets_threads_run(lambda factor: getattr(parsed(factor), export))


HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "rb") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.mark.parametrize(
    "mutate",
    [
        lambda g: g.add_member("bob@acme.io", "acme", actor="owner@acme.io"),
        lambda g: g.record("system", "data.exported", "acme", rows=3),
        lambda g: g.create_personal_key("owner@acme.io", "ci", actor="owner@acme.io"),
        lambda g: g.onboard("carol@acme.io", "acme", "engineer", actor="owner@acme.io"),
    ],
    ids=["add_member", "record", "create_personal_key", "onboard"],
)
def test_a_mutation_waiting_on_another_process_lets_threads_run(
    tmp_path: Path, mutate: Callable[[ag.Graph], object]
) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    g.add_org("acme", owner="owner@acme.io")
    before = g.revision
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), "0.5"], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        took, pause = froze(lambda: mutate(g))
    assert took > 0.25, f"the mutation did not wait for the other process ({took:.3f}s)"
    assert pause < took / 2, f"other threads froze {pause:.3f}s of a {took:.3f}s wait"
    assert g.revision > before
