"""Smoke tests for the benchmark code: it runs end to end on a tiny workload.

No timing is asserted here; the figures are for ``benchmarks/bench_check.py`` runs.
"""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT

BENCHMARKS = ROOT / "benchmarks"
USERS = 300
QUERIES = 2000
TINY = ("--users", str(USERS), "--queries", str(QUERIES), "--repeat", "1")


@pytest.fixture
def workload(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark's workload module (``benchmarks/`` is a folder of scripts)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("workload")


def test_bench_check_runs_on_a_tiny_workload(tmp_path: Path) -> None:
    out = tmp_path / "results" / "check.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_check.py"), *TINY, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"verified: {QUERIES:,} queries agree" in proc.stdout
    assert "ratio accessgraph / baseline" in proc.stdout

    report = json.loads(out.read_text(encoding="utf-8"))
    assert {"machine", "workload", "settings", "build_seconds", "results", "targets"} <= set(report)
    assert report["mismatches"] == 0
    machine = report["machine"]
    assert {"platform", "python", "cpu_count", "date"} <= set(machine)
    assert machine["cpu_count"] >= 1
    assert report["workload"]["users"] == USERS
    assert report["workload"]["queries"] == QUERIES
    assert 0.0 < report["workload"]["allowed_fraction"] < 1.0

    results = report["results"]
    expected = {
        "check_ns",
        "baseline_ns",
        "ratio",
        "check_many_per_s",
        "one_thread_per_s",
        "two_threads_per_s",
        "thread_speedup",
    }
    assert expected <= set(results)
    for key in expected:
        value = results[key]
        assert isinstance(value, float), key
        assert math.isfinite(value), key
        assert value > 0, key
    assert results["ratio"] == pytest.approx(results["check_ns"] / results["baseline_ns"])


def test_bench_check_rejects_bad_arguments() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_check.py"), "--repeat", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "--repeat" in proc.stderr


def test_workload_is_deterministic_for_a_seed(workload: ModuleType) -> None:
    first = workload.generate(seed=7, users=USERS, queries=QUERIES)
    again = workload.generate(seed=7, users=USERS, queries=QUERIES)
    other = workload.generate(seed=8, users=USERS, queries=QUERIES)
    assert first == again
    assert first.queries == again.queries
    assert first.grants != other.grants
    assert first.queries != other.queries


def test_tiny_workload_has_the_standard_shape(workload: ModuleType) -> None:
    w = workload.generate(seed=7, users=USERS, queries=QUERIES)
    summary = w.summary()
    assert summary["orgs"] == 10
    assert summary["projects"] == 200
    assert 0 < summary["restricted_projects"] < 200
    assert summary["expired_memberships"] > 0
    assert summary["expired_grants"] > 0
    assert summary["org_wide_grants"] > 0
    for org in w.orgs:
        owners = [m for m in w.memberships if m.org == org.slug and m.role == "owner"]
        assert 1 <= len(owners) <= 2
        assert all(m.expires is None for m in owners)
        assert org.owner in {m.user for m in owners}
    orgs_per_user: dict[str, int] = {}
    for m in w.memberships:
        orgs_per_user[m.user] = orgs_per_user.get(m.user, 0) + 1
    assert set(orgs_per_user.values()) == {1, 2}
    targets = [(g.user, g.target) for g in w.grants]
    assert len(targets) == len(set(targets))


def test_tiny_workload_queries_are_both_allowed_and_denied(workload: ModuleType) -> None:
    w = workload.generate(seed=7, users=USERS, queries=QUERIES)
    baseline = workload.build_dict_baseline(w)
    answers = [baseline.check(user, action, project) for user, action, project in w.queries]
    allowed = sum(answers)
    assert 0.3 * len(answers) < allowed < 0.7 * len(answers)
    assert {action for _, action, _ in w.queries} >= {"project:view", "feature_flag:manage"}


def test_bench_peers_runs_on_a_tiny_workload(tmp_path: Path) -> None:
    """The peer comparison verifies pycasbin and cedarpy against accessgraph, then reports."""
    out = tmp_path / "peers.json"
    table = tmp_path / "peers.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_peers.py"),
            *TINY[:4],
            "--peer-queries",
            "300",
            "--repeat",
            "1",
            "--skip-large",
            "--json",
            str(out),
            "--markdown",
            str(table),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    peers = report["standard"]["peers"]
    assert set(peers) == {"pycasbin", "cedarpy"}
    for peer in peers.values():
        assert peer["queries"] == 300
        assert math.isfinite(peer["check_ns"]) and peer["check_ns"] > 0
    assert report["standard"]["who_can_ms"] > 0
    assert "| pycasbin |" in table.read_text(encoding="utf-8")
