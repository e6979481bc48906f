"""``manage.py accessgraph``: the CLI's commands on the configured graph, same exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django_app import SEED_REGISTRY, manage, setup

import accessgraph as ag

setup()

from django.core.management import CommandError, call_command  # noqa: E402

from accessgraph.django import override_graph  # noqa: E402


@pytest.fixture
def graph(acme: ag.Graph) -> Iterator[ag.Graph]:
    with override_graph(acme):
        yield acme


def run(*args: str) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``manage.py accessgraph ARGS``, in process."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("accessgraph", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    except CommandError as exc:  # manage.py prints it and exits with its returncode
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def test_check_exits_0_when_allowed_and_1_when_denied(graph: ag.Graph) -> None:
    code, out, _ = run("check", "charlie@example.com", "insight:view", "acme/production")
    assert code == 0 and "allowed" in out
    code, out, _ = run("check", "charlie@example.com", "insight:create", "acme/production")
    assert code == 1 and "denied" in out
    code, out, _ = run(
        "check", "charlie@example.com", "insight:create", "acme/production", "--format", "json"
    )
    assert code == 1 and json.loads(out)["allowed"] is False


def test_usage_and_input_errors_exit_2(graph: ag.Graph) -> None:
    code, _, err = run("check", "charlie@example.com", "insight:veiw", "acme/production")
    assert code == 2 and "insight:veiw" in err
    code, _, err = run("nonsense")
    assert code == 2 and "invalid choice: 'nonsense'" in err
    code, _, err = run("audit", "shred")
    assert code == 2


def test_who_can(graph: ag.Graph) -> None:
    code, out, _ = run("who-can", "billing:manage", "acme", "--format", "json")
    assert code == 0
    assert {row["user"] for row in json.loads(out)["users"]} == set(
        graph.who_can("billing:manage", "acme")
    )


def test_review_and_fail_on(graph: ag.Graph) -> None:
    code, out, _ = run("review", "--at", "2024-05-25", "--format", "json")
    assert code == 0
    findings = json.loads(out)["findings"]
    assert len(findings) == len(graph.review(at="2024-05-25"))
    assert any(f["rule"] == "expiring-soon" for f in findings)
    code, _, _ = run("review", "--at", "2024-05-25", "--fail-on", "low")
    assert code == 1


def test_convert_writes_the_configured_graph(graph: ag.Graph, tmp_path: Path) -> None:
    target = tmp_path / "access.json"
    code, out, _ = run("convert", str(target))
    assert code == 0 and f"wrote {target}" in out
    assert ag.Graph.load(target).to_json() == graph.to_json()


def test_diff_against_a_registry(graph: ag.Graph, tmp_path: Path) -> None:
    same = tmp_path / "same.json"
    graph.save(same)
    assert run("diff", str(same))[0] == 0
    code, out, _ = run("diff", str(SEED_REGISTRY), "--org", "acme", "--format", "json")
    assert code == 1 and json.loads(out)["changes"]


def test_audit_verify_and_export_on_a_journal(tmp_path: Path) -> None:
    journal = tmp_path / "access.journal"
    g = ag.Graph.open(journal)
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/production")
    with override_graph(g):
        code, out, _ = run("audit", "verify")
        assert code == 0 and "intact" in out and f"{len(g.audit)} events" in out
        code, out, _ = run("audit", "export")
        assert code == 0
        *events, trailer = out.splitlines()
        assert [json.loads(line)["action"] for line in events] == [e.action for e in g.audit]
        assert json.loads(trailer)["count"] == len(g.audit)
        # the file on disk is what is verified: damage it
        lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[-1] = lines[-1].replace("acme/production", "acme/prodaction")
        journal.write_text("".join(lines), encoding="utf-8")
        code, out, _ = run("audit", "verify")
        assert code == 1 and "damaged" in out


def test_audit_of_a_graph_in_memory(graph: ag.Graph) -> None:
    code, out, _ = run("audit", "verify", "--format", "json")
    assert code == 0 and json.loads(out)["events"] == len(graph.audit)
    with override_graph(ag.Graph(audit=False)):
        code, _, err = run("audit", "export")
    assert code == 2 and "keeps no audit log" in err


def test_the_exit_code_of_manage_py() -> None:
    # A real `python -m django accessgraph` on the project's registry (settings.py).
    denied = manage("accessgraph", "check", "alice@example.com", "org:delete", "acme")
    assert denied.returncode == 1, denied.stderr
    assert "denied" in denied.stdout
    allowed = manage("accessgraph", "check", "jane@example.com", "org:delete", "acme")
    assert allowed.returncode == 0, allowed.stderr
    bad = manage("accessgraph", "check", "jane@example.com", "org:dlete", "acme")
    assert bad.returncode == 2 and "org:dlete" in bad.stderr
