"""Offboarding (SPEC 4.2, the offboard rules of SPEC 9) through the built wheel: one
atomic call, events in the promised order, resources handed over, and a report of what
was done and what is left to people."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import readme_block

import accessgraph as ag

ACME_OWNER = "jane@example.com"
BETA_OWNER = "owner@beta.io"
ADMIN = "alice@example.com"
LEAVER = "charlie@example.com"
HEIR = "diana@example.com"


def graph(path: Path | None = None) -> ag.Graph:
    g = ag.Graph() if path is None else ag.Graph.open(path)
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=ACME_OWNER)
    g.add_org("beta", owner=BETA_OWNER)
    g.add_project("acme/web")
    g.add_project("beta/app")
    g.add_member(ADMIN, "acme", role="admin", actor=ACME_OWNER)
    g.add_member(LEAVER, "acme", actor=ADMIN)
    g.add_member(LEAVER, "beta", role="admin", actor=BETA_OWNER)
    g.add_member(HEIR, "acme", actor=ADMIN)
    g.add_member(HEIR, "beta", actor=BETA_OWNER)
    g.grant(LEAVER, "acme/web", "member", actor=ADMIN)
    g.grant(HEIR, "acme/web", "member", actor=ADMIN)
    g.create_personal_key(LEAVER, "ci", actor=LEAVER)
    g.create_personal_key(LEAVER, "notebook", scopes=["insight:read"], actor=LEAVER)
    return g


def actions_after(g: ag.Graph, n: int) -> list[str]:
    return [e.action for e in g.audit][n:]


def test_offboarding_without_resources() -> None:
    g = graph()
    secrets_before = len(g.personal_keys(LEAVER))
    n = len(g.audit)
    report = g.offboard(LEAVER, actor=None, reason="left the company")
    assert isinstance(report, ag.OffboardingReport) and report.user == LEAVER
    assert g.user(LEAVER).orgs == []
    assert g.grants(user=LEAVER) == []
    assert g.personal_keys(LEAVER) == []
    assert len(g.personal_keys(LEAVER, include_revoked=True)) == secrets_before == 2
    assert actions_after(g, n) == [
        "grant.removed",
        "member.removed",
        "member.removed",
        "api_key.revoked",
        "api_key.revoked",
        "user.offboarded",
    ]
    (ev,) = g.audit.events(action="user.offboarded")
    assert (ev.target, ev.user, ev.details["reason"]) == (LEAVER, LEAVER, "left the company")
    assert [e.action for e in g.audit.events(user=LEAVER, action="member.*")][-2:] == [
        "member.removed",
        "member.removed",
    ]
    assert any(s.startswith("removed from acme") for s in report.done)
    assert any(s.startswith("removed from beta") for s in report.done)
    assert sum(s.startswith("revoked personal API key") for s in report.done) == 2
    assert report.manual and all(isinstance(s, str) and s for s in report.manual)
    assert any("Slack" in s for s in report.manual)
    assert LEAVER in str(report) and "OffboardingReport" in repr(report)


def test_offboarding_with_resources_needs_transfer_to() -> None:
    g = graph()
    dash = g.add_resource("acme/web", "dashboard", 7, owner=LEAVER)
    flag = g.add_resource("beta/app", "feature_flag", "beta-ui", owner=LEAVER)
    before, n = g.to_json(), len(g.audit)
    with pytest.raises(ag.ConflictError, match="transfer_to"):
        g.offboard(LEAVER, actor=None)
    assert (g.to_json(), len(g.audit)) == (before, n)
    with pytest.raises(ag.ConflictError, match="beta"):
        g.offboard(LEAVER, actor=None, transfer_to=ADMIN)  # no member of beta
    assert (g.to_json(), len(g.audit)) == (before, n)

    report = g.offboard(LEAVER, actor=None, transfer_to=HEIR)
    assert {r.id: r.owner for r in g.resources()} == {dash: HEIR, flag: HEIR}
    assert actions_after(g, n) == [
        "grant.removed",
        "member.removed",
        "member.removed",
        "api_key.revoked",
        "api_key.revoked",
        "resource.transferred",
        "resource.transferred",
        "user.offboarded",
    ]
    moved = g.audit.events(action="resource.transferred")
    assert [(e.target, e.details["user"], e.details["to"]) for e in moved] == [
        (dash, LEAVER, HEIR),
        (flag, LEAVER, HEIR),
    ]
    assert f"transferred {dash} to {HEIR}" in report.done
    assert any(HEIR in s for s in report.manual)
    assert g.check(HEIR, "dashboard:edit", dash)  # a member may edit what they own


def test_a_denied_offboarding_changes_nothing_but_the_denial() -> None:
    g = graph()
    g.add_resource("acme/web", "insight", 1, owner=LEAVER)
    before, keys, n = g.to_json(), g.personal_keys(include_revoked=True), len(g.audit)
    # acme's admin has no authority in beta
    with pytest.raises(ag.PermissionDenied) as denied:
        g.offboard(LEAVER, actor=ADMIN, transfer_to=HEIR)
    assert denied.value.decision is not None and denied.value.decision.target == "beta"
    assert g.to_json() == before
    assert g.personal_keys(include_revoked=True) == keys
    assert actions_after(g, n) == ["access.denied"]
    # acme's owner neither
    with pytest.raises(ag.PermissionDenied):
        g.offboard(LEAVER, actor=ACME_OWNER, transfer_to=HEIR)
    assert g.to_json() == before and actions_after(g, n) == ["access.denied"] * 2
    # authority comes first, before the missing transfer_to
    with pytest.raises(ag.PermissionDenied):
        g.offboard(LEAVER, actor=ADMIN)


def test_argument_and_structural_errors() -> None:
    g = graph()
    with pytest.raises(ag.ValidationError, match="transfer_to"):
        g.offboard(LEAVER, actor=None, transfer_to=LEAVER)
    with pytest.raises(ag.ValidationError):
        g.offboard("not-an-email", actor=None)
    with pytest.raises(ag.NotFoundError):
        g.offboard("nobody@example.com", actor=None)
    with pytest.raises(ag.ConflictError, match="last owner"):
        g.offboard(BETA_OWNER, actor=None)
    # leaving on one's own is offboarding oneself
    g.offboard(HEIR, actor=HEIR)
    assert g.user(HEIR).orgs == []


def test_offboarding_replays_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = graph(path)
    g.add_resource("acme/web", "dashboard", 7, owner=LEAVER)
    g.offboard(LEAVER, actor=None, transfer_to=HEIR, reason="moved on")
    before = g.to_json()
    h = ag.Graph.open(path)
    assert h.to_json() == before
    h.audit.verify()
    assert h.resources()[0].owner == HEIR
    assert h.personal_keys(LEAVER) == []


def test_the_readme_section_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, object] = {}
    exec(readme_block("## Offboarding someone", "docs/governance.md"), ns)
    g, report = ns["g"], ns["report"]
    assert isinstance(g, ag.Graph) and isinstance(report, ag.OffboardingReport)
    assert [e.action for e in g.audit][-4:] == [
        "member.removed",
        "api_key.revoked",
        "resource.transferred",
        "user.offboarded",
    ]
    printed = capsys.readouterr().out
    assert "transferred acme/web/dashboard/42 to carol@example.com" in printed
    assert "Slack" in printed
