"""Smoke test for ``benchmarks/bench_whatif.py``: it runs end to end on a tiny workload
and verifies the overlay's answers. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_bench_whatif_runs_on_a_tiny_workload(tmp_path: Path) -> None:
    out = tmp_path / "whatif.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_whatif.py"),
            *("--users", "300", "--queries", "2000", "--rounds", "2", "--changes", "20"),
            *("--json", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified: 2,000 queries" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["mismatches"] == 0
    results = report["results"]
    assert results["changes_applied"] == 20
    for key in (
        "check_ratio",
        "check_ratio_vs_fresh_overlay",
        "check_many_ratio",
        "check_ns_graph",
        "check_ns_overlay",
        "check_ns_fresh_overlay",
    ):
        assert set(results[key]) == {"median", "min", "max"}
        assert 0 < results[key]["min"] <= results[key]["median"] <= results[key]["max"]
