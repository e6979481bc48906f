"""Onboarding templates (SPEC 4.3, 9): the built-in templates give the grants SPEC 4.3
describes, matched by environment; contractors need an expiry; custom templates; an
onboarding is one atomic, audited, authority-checked change."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ADMIN, MEMBER, OWNER, grants

import accessgraph as ag

# The fixture `g` (conftest): acme with an owner, an admin, a member and Production,
# Staging and Development.


def test_engineer(g: ag.Graph) -> None:
    report = g.onboard("eng@acme.io", "acme", "engineer", actor=ADMIN, name="Eve", title="Engineer")
    assert grants(g, "eng@acme.io") == {
        "acme/development": "member",
        "acme/staging": "member",
        "acme/production": "viewer",
    }
    member = next(m for m in g.members("acme") if m.user == "eng@acme.io")
    assert (member.role, member.external, member.expires) == ("member", False, None)
    assert (member.name, member.title) == ("Eve", "Engineer")
    assert member.reason == "onboarded with the engineer template"
    assert report.done[0].startswith("Added eng@acme.io to acme as member")
    assert "Granted viewer on acme/production." in report.done
    assert any("dashboards" in s for s in report.manual)
    assert any("weekly email digest" in s for s in report.manual)
    assert any("Slack" in s for s in report.manual)
    # engineers can work in staging and read production
    assert g.check("eng@acme.io", "insight:create", "acme/staging")
    assert g.check("eng@acme.io", "insight:view", "acme/production")
    assert not g.check("eng@acme.io", "insight:create", "acme/production")


def test_product_manager_gets_explicit_member_grants_on_every_project(g: ag.Graph) -> None:
    g.onboard("pm@acme.io", "acme", "product_manager", actor=ADMIN)
    assert grants(g, "pm@acme.io") == {
        "acme/development": "member",
        "acme/production": "member",
        "acme/staging": "member",
    }
    assert "acme/*" not in grants(g, "pm@acme.io")


def test_executive(g: ag.Graph) -> None:
    g.onboard("ceo@acme.io", "acme", "executive", actor=OWNER, title="CEO")
    assert grants(g, "ceo@acme.io") == {"acme/production": "viewer"}
    assert g.check("ceo@acme.io", "dashboard:view", "acme/production")
    assert not g.check("ceo@acme.io", "dashboard:view", "acme/staging")


def test_templates_match_projects_by_environment(g: ag.Graph) -> None:
    g.add_project("acme/sandbox", environment="development")
    g.add_project("acme/web", environment="production")
    g.onboard("eng@acme.io", "acme", "engineer", actor=ADMIN)
    assert grants(g, "eng@acme.io") == {
        "acme/development": "member",
        "acme/sandbox": "member",
        "acme/staging": "member",
        "acme/production": "viewer",
        "acme/web": "viewer",
    }


def test_contractor_needs_expires(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="expires"):
        g.onboard("c@agency.io", "acme", "contractor", actor=ADMIN, projects=["staging"])
    assert all(m.user != "c@agency.io" for m in g.members("acme"))
    report = g.onboard(
        "c@agency.io",
        "acme",
        "contractor",
        actor=ADMIN,
        projects=["staging", "acme/development"],
        expires="2024-08-01",
        reason="Q3 audit",
    )
    member = next(m for m in g.members("acme") if m.user == "c@agency.io")
    assert member.external
    assert member.expires is not None and member.expires.date().isoformat() == "2024-08-01"
    assert member.reason == "Q3 audit"
    got = g.grants(user="c@agency.io")
    assert {(x.target, x.role) for x in got} == {
        ("acme/staging", "member"),
        ("acme/development", "member"),
    }
    assert all(x.expires == member.expires and x.reason == "Q3 audit" for x in got)
    assert any("reminder" in s and "2024-08-01" in s for s in report.manual)
    assert not any("digest" in s for s in report.manual)
    # access ends with the engagement
    assert not g.check("c@agency.io", "project:view", "acme/staging", at="2024-08-01")


def test_bad_onboarding_arguments(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="astronaut"):
        g.onboard("x@acme.io", "acme", "astronaut", actor=ADMIN)
    with pytest.raises(ag.ValidationError, match="expires"):
        g.onboard("x@acme.io", "acme", "engineer", actor=ADMIN, expires="2024-01-01")
    with pytest.raises(ag.ValidationError, match="user"):
        g.onboard("not-an-email", "acme", "engineer", actor=ADMIN)
    with pytest.raises(ag.NotFoundError):
        g.onboard(
            "x@acme.io", "acme", "contractor", actor=ADMIN, projects=["nope"], expires="2025-01-01"
        )
    with pytest.raises(ag.NotFoundError):
        g.onboard("x@acme.io", "beta", "engineer", actor=ADMIN)
    with pytest.raises(ag.ConflictError):
        g.onboard(MEMBER, "acme", "engineer", actor=ADMIN)


def test_custom_template(g: ag.Graph) -> None:
    g.add_project("acme/analytics", environment="production")
    g.define_template(
        "data_analyst",
        org_role="member",
        grants={"analytics": "admin", "production": "viewer", "nowhere": "viewer"},
    )
    assert g.templates() == [
        "contractor",
        "data_analyst",
        "engineer",
        "executive",
        "product_manager",
    ]
    report = g.onboard("da@acme.io", "acme", "data_analyst", actor=ADMIN)
    # a key is a project slug first (analytics), then an environment (production)
    assert grants(g, "da@acme.io") == {
        "acme/analytics": "admin",
        "acme/production": "viewer",
    }
    assert any("`nowhere`" in s for s in report.manual)
    g.define_template(
        "freelancer", grants={"staging": "viewer"}, external=True, requires_expiry=True
    )
    with pytest.raises(ag.ValidationError, match="expires"):
        g.onboard("f@x.io", "acme", "freelancer", actor=ADMIN)
    g.onboard("f@x.io", "acme", "freelancer", actor=ADMIN, expires="2024-06-01")
    assert next(m for m in g.members("acme") if m.user == "f@x.io").external


def test_define_template_rules(g: ag.Graph) -> None:
    with pytest.raises(ag.ConflictError):
        g.define_template("engineer", grants={"staging": "viewer"})
    g.define_template("ops", org_role="admin")
    with pytest.raises(ag.ConflictError):
        g.define_template("ops")
    with pytest.raises(ag.PermissionDenied):
        g.define_template("sre", grants={"production": "admin"}, actor=OWNER)
    with pytest.raises(ag.ValidationError, match="boss"):
        g.define_template("x", grants={"staging": "boss"})
    with pytest.raises(ag.ValidationError, match="org_role"):
        g.define_template("x", org_role="viewer")
    with pytest.raises(ag.ValidationError, match="name"):
        g.define_template("Not A Slug")
    with pytest.raises(ag.ValidationError):
        g.define_template("x", grants={"acme/staging": "viewer"})
    assert "sre" not in g.templates() and "x" not in g.templates()


def test_a_denied_onboarding_changes_nothing(g: ag.Graph) -> None:
    before = g.to_json()
    events = len(g.audit)
    with pytest.raises(ag.PermissionDenied):
        g.onboard("eng@acme.io", "acme", "engineer", actor=MEMBER)
    assert g.to_json() == before
    assert [e.action for e in g.audit][events:] == ["access.denied"]
    # an admin cannot onboard someone as owner
    g.define_template("founder", org_role="owner")
    before = g.to_json()
    with pytest.raises(ag.PermissionDenied):
        g.onboard("f@acme.io", "acme", "founder", actor=ADMIN)
    assert g.to_json() == before
    # nor grant on a project they may not manage: a project admin by grant only
    g.grant(MEMBER, "acme/staging", "admin")
    with pytest.raises(ag.PermissionDenied):
        g.onboard("eng@acme.io", "acme", "engineer", actor=MEMBER)
    g.update_org("acme", actor=None, members_can_invite=True)
    before = g.to_json()
    # may invite now, but still not grant on development and production
    with pytest.raises(ag.PermissionDenied):
        g.onboard("eng@acme.io", "acme", "engineer", actor=MEMBER)
    assert g.to_json() == before


def test_one_event_per_change_all_by_the_actor(g: ag.Graph) -> None:
    n = len(g.audit)
    g.onboard("eng@acme.io", "acme", "engineer", actor=ADMIN)
    new = list(g.audit)[n:]
    assert [e.action for e in new] == ["member.added"] + ["grant.added"] * 3
    assert {e.actor for e in new} == {ADMIN}
    assert {e.details["user"] for e in new} == {"eng@acme.io"}


def test_templates_and_onboarding_survive_the_journal_and_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/staging", environment="staging")
    g.define_template("analyst", grants={"staging": "viewer"})
    g.onboard("an@acme.io", "acme", "analyst", actor=OWNER)
    snapshot = g.to_json()
    assert '"templates": [' in snapshot and '"analyst"' in snapshot
    again = ag.Graph.open(path)
    assert again.to_json() == snapshot
    assert "analyst" in again.templates()
    restored = ag.Graph.from_json(snapshot)
    assert "analyst" in restored.templates()
    assert restored.to_json() == snapshot
    assert [e.action for e in again.audit if e.action == "template.defined"] == ["template.defined"]
