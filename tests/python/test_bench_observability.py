"""Smoke test of ``benchmarks/bench_observability.py``: it runs end to end on a tiny
workload and reports every state (no timing is asserted: figures come from real runs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_bench_observability_runs_on_a_tiny_workload(tmp_path: Path) -> None:
    out = tmp_path / "observability.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_observability.py"),
            *("--users", "300", "--queries", "300", "--repeat", "3", "--json", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    states = ("absent", "disabled", "instrumented", "uninstrumented")
    assert set(report["check_ns"]) == set(report["check_ratio"]) == set(states)
    assert report["check_ratio"]["absent"] == 1.0
    for state in states:
        assert math.isfinite(report["check_ns"][state]) and report["check_ns"][state] > 0
    assert report["grant_ratio"] > 0
    assert "instrumented" in proc.stdout and "logging wrapper" in proc.stdout
