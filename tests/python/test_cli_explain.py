"""``accessgraph check --explain``: a denial with every fix and who may make it."""

from __future__ import annotations

import json

from test_cli import ACME, AT, REGISTRY, registry_graph, run

DENIED = (
    "check",
    REGISTRY,
    *ACME,
    "charlie@example.com",
    "insight:create",
    "acme/production",
    "--at",
    AT,
)


def test_a_denial_names_its_first_fix_even_without_explain() -> None:
    d = registry_graph().explain("charlie@example.com", "insight:create", "acme/production")
    first = d.fixes[0]
    assert (first.kind, first.target, first.role) == ("grant", "acme/production", "member")
    r = run(*DENIED)
    assert r.returncode == 1
    assert r.stdout == f"denied: {d.reason}\n"
    assert first.reason in r.stdout


def test_explain_lists_every_fix_in_order() -> None:
    d = registry_graph().explain("charlie@example.com", "insight:create", "acme/production")
    r = run(*DENIED, "--explain")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f"denied: {d.reason}"
    assert lines[1] == "how to allow it, least privilege first:"
    assert lines[2:] == [f"  {i}. {f.reason}" for i, f in enumerate(d.fixes, 1)]
    body = json.loads(run(*DENIED, "--explain", "--format", "json").stdout)
    assert [f["reason"] for f in body["fixes"]] == [f.reason for f in d.fixes]
    assert body["fixes"][0] == {
        "kind": "grant",
        "target": "acme/production",
        "role": "member",
        "expires": "2024-07-01T00:00:00Z",  # the viewer grant it replaces ends then
        "requires": [],
        "by": list(d.fixes[0].by),
        "reason": d.fixes[0].reason,
    }
    md = run(*DENIED, "--explain", "--format", "markdown").stdout.splitlines()
    assert md[0].endswith("| reason | fixes |")


def test_explain_on_an_allowed_check_adds_nothing() -> None:
    args = ("check", REGISTRY, *ACME, "jane@example.com", "billing:manage", "acme", "--at", AT)
    plain, explained = run(*args), run(*args, "--explain")
    assert plain.returncode == explained.returncode == 0
    assert plain.stdout == explained.stdout
    assert json.loads(run(*args, "--explain", "--format", "json").stdout)["fixes"] == []
