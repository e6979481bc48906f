"""The pytest plugin (fixtures) and accessgraph.testing (assertions, role tables)."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest
from conftest import SEED_MARKDOWN

import accessgraph as ag
import accessgraph.pytest_plugin
from accessgraph.testing import (
    SEED_REGISTRY,
    acme_graph,
    assert_can,
    assert_cannot,
    empty_graph,
    role_matrix,
    user_with_role,
)

pytest_plugins = ["pytester"]


# --- the plugin is installed, once ------------------------------------------------------


def test_the_plugin_is_registered_once_through_its_entry_point(
    pytestconfig: pytest.Config,
) -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "accessgraph"]
    assert entry.value == "accessgraph.pytest_plugin"
    manager = pytestconfig.pluginmanager
    assert manager.get_plugin("accessgraph") is accessgraph.pytest_plugin
    names = [n for n, p in manager.list_name_plugin() if p is accessgraph.pytest_plugin]
    assert names == ["accessgraph"]


def test_the_fixtures_reach_this_suite(acme_graph: ag.Graph, access_graph: ag.Graph) -> None:
    assert acme_graph.org("acme").name == "Acme Corp"
    assert access_graph.orgs() == []


# --- the example graphs -----------------------------------------------------------------


def test_the_packaged_seed_is_the_example_registry() -> None:
    assert SEED_MARKDOWN == SEED_REGISTRY


def test_empty_graph() -> None:
    g = empty_graph()
    assert g.orgs() == [] and g.users() == []
    assert g.now().isoformat() == "2024-01-01T00:00:00+00:00"


def test_acme_graph_is_the_seed_registry_with_three_projects() -> None:
    g = acme_graph()
    assert g.now().isoformat() == "2024-05-01T00:00:00+00:00"
    assert [(o.slug, o.name) for o in g.orgs()] == [("acme", "Acme Corp")]
    roles = {m.user: m.role for m in g.members("acme")}
    assert roles == {
        "jane@example.com": "owner",
        "john@example.com": "owner",
        "alice@example.com": "admin",
        "bob@example.com": "admin",
        "charlie@example.com": "member",
        "diana@example.com": "member",
        "evan@example.com": "member",
        "ceo@example.com": "member",
        "cmo@example.com": "member",
        "consultant@agency.com": "member",
    }
    projects = {p.id: (p.name, p.environment, p.restricted, p.pii) for p in g.projects("acme")}
    assert projects == {
        "acme/production": ("Production", "production", True, True),
        "acme/staging": ("Staging", "staging", False, False),
        "acme/development": ("Development", "development", False, False),
    }
    assert {(x.user, x.target, x.role) for x in g.grants()} == {
        ("ceo@example.com", "acme/*", "viewer"),
        ("cmo@example.com", "acme/*", "viewer"),
    }
    consultant = next(m for m in g.members("acme") if m.user == "consultant@agency.com")
    assert consultant.external and str(consultant.expires) == "2024-06-01 00:00:00+00:00"
    # every timestamp is the frozen clock, so a snapshot is the same in every run but for
    # the projects' public API keys, which are drawn at random
    assert {m.granted_at for m in g.members("acme")} == {g.now()}

    def without_project_keys(text: str) -> object:
        doc = json.loads(text)
        for p in doc["projects"]:
            assert p.pop("api_key").startswith("agc_")
        return doc

    assert without_project_keys(acme_graph().to_json()) == without_project_keys(g.to_json())


def test_acme_graph_agrees_with_the_suites_acme(acme: ag.Graph) -> None:
    g = acme_graph()
    assert g.now() == acme.now()
    assert g.orgs() == acme.orgs()
    assert g.projects() == acme.projects()


# --- assert_can / assert_cannot ---------------------------------------------------------


def test_assert_can_and_cannot_pass_and_return_the_decision(acme_graph: ag.Graph) -> None:
    decision = assert_can(acme_graph, "ceo@example.com", "insight:view", "acme/staging")
    assert decision.role == "viewer" and decision.source == "org_wide_grant"
    denied = assert_cannot(acme_graph, "ceo@example.com", "insight:create", "acme/staging")
    assert not denied.allowed


def test_assert_can_fails_with_the_explanation(acme_graph: ag.Graph) -> None:
    reason = acme_graph.explain("ceo@example.com", "insight:view", "acme/production").reason
    with pytest.raises(AssertionError) as info:
        assert_can(acme_graph, "ceo@example.com", "insight:view", "acme/production")
    assert str(info.value) == (
        f"ceo@example.com may not `insight:view` on `acme/production`: {reason}"
    )


def test_assert_cannot_fails_with_the_explanation(acme_graph: ag.Graph) -> None:
    with pytest.raises(AssertionError, match=r"^jane@example.com may `org:delete` on `acme`: "):
        assert_cannot(acme_graph, "jane@example.com", "org:delete", "acme")


def test_assert_at_an_instant(acme_graph: ag.Graph) -> None:
    assert_can(acme_graph, "consultant@agency.com", "org:view", "acme")
    assert_cannot(acme_graph, "consultant@agency.com", "org:view", "acme", at="2024-06-01")
    with pytest.raises(AssertionError, match=r"`org:view` on `acme` at 2024-07-01: "):
        assert_can(acme_graph, "consultant@agency.com", "org:view", "acme", at="2024-07-01")


def test_assert_can_lets_a_typo_raise(acme_graph: ag.Graph) -> None:
    with pytest.raises(ag.UnknownActionError, match="insight:veiw"):
        assert_can(acme_graph, "jane@example.com", "insight:veiw", "acme/staging")


# --- user_with_role ---------------------------------------------------------------------


def test_user_with_a_project_role(acme_graph: ag.Graph) -> None:
    viewer = user_with_role(acme_graph, "viewer", "acme/production")
    assert viewer == "viewer.production@acme.example"
    assert acme_graph.role(viewer, "acme") == "member"
    assert acme_graph.role(viewer, "acme/production") == "viewer"
    assert user_with_role(acme_graph, ag.ProjectRole.VIEWER, "acme/production") == viewer
    # the same user, promoted: a second grant on the same project replaces the first
    user_with_role(acme_graph, "admin", "acme/production", email=viewer)
    assert acme_graph.role(viewer, "acme/production") == "admin"


def test_user_with_a_role_on_all_projects(acme_graph: ag.Graph) -> None:
    member = user_with_role(acme_graph, "member", "acme/*")
    assert member == "member.all-projects@acme.example"
    assert acme_graph.role(member, "acme/staging") == "member"
    assert acme_graph.role(member, "acme/production") is None  # restricted


def test_user_with_an_org_role(acme_graph: ag.Graph) -> None:
    admin = user_with_role(acme_graph, "admin", "acme")
    assert admin == "admin.org@acme.example"
    assert acme_graph.role(admin, "acme") == "admin"
    assert user_with_role(acme_graph, "owner", "acme", email=admin) == admin
    assert acme_graph.role(admin, "acme") == "owner"


def test_user_with_role_rejects_what_the_graph_rejects(acme_graph: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="superuser"):
        user_with_role(acme_graph, "superuser", "acme/staging")
    with pytest.raises(ag.NotFoundError, match="beta"):
        user_with_role(acme_graph, "viewer", "beta/staging")


# --- role_matrix ------------------------------------------------------------------------


@role_matrix(
    [
        ("viewer", "insight:view", True),
        ("viewer", "insight:create", False),
        ("member", "insight:create", True),
        ("member", "feature_flag:manage", False),
        ("admin", "feature_flag:manage", True),
    ]
)
def test_project_roles_on_staging(
    acme_graph: ag.Graph, role: str, action: str, expected: bool
) -> None:
    user = user_with_role(acme_graph, role, "acme/staging")
    assert acme_graph.check(user, action, "acme/staging") is expected


def test_role_matrix_makes_readable_ids() -> None:
    mark = role_matrix({"viewer": {"insight:view": True, "insight:edit": False}}).mark
    assert mark.name == "parametrize"
    assert mark.args[0] == ("role", "action", "expected")
    assert [(p.values, p.id) for p in mark.args[1]] == [
        (("viewer", "insight:view", True), "viewer-insight:view-allowed"),
        (("viewer", "insight:edit", False), "viewer-insight:edit-denied"),
    ]
    renamed = role_matrix([("admin", "org:view", True)], argnames=("r", "a", "e")).mark
    assert renamed.args[0] == ("r", "a", "e")


@pytest.mark.parametrize(
    ("rows", "error", "message"),
    [
        ([], ValueError, "at least one"),
        ({}, ValueError, "at least one"),
        ([("viewer", "insight:view")], TypeError, r"row \('viewer', 'insight:view'\)"),
        ([("viewer", "insight:view", "yes")], TypeError, "expected: bool"),
        ([["viewer", "insight:view", True]], TypeError, "row \\['viewer'"),
    ],
)
def test_role_matrix_rejects_a_bad_row(
    rows: list[object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        role_matrix(rows)  # type: ignore[arg-type]


# --- in a project's own test suite (pytester) -------------------------------------------


def test_fixtures_in_a_suite_are_fresh_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_change_them(acme_graph, access_graph):
            acme_graph.add_member("new@example.com", "acme")
            access_graph.add_org("beta", owner="zoe@example.com")
            assert len(acme_graph.members("acme")) == 11

        def test_they_are_new_again(acme_graph, access_graph):
            assert "new@example.com" not in [m.user for m in acme_graph.members("acme")]
            assert access_graph.orgs() == []
            assert str(access_graph.now()) == "2024-01-01 00:00:00+00:00"
            assert str(acme_graph.now()) == "2024-05-01 00:00:00+00:00"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)


def test_assertions_in_a_suite_fail_with_the_explanation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from accessgraph.pytest_plugin import assert_can, assert_cannot

        def test_allowed(acme_graph):
            assert_can(acme_graph, "diana@example.com", "org:view", "acme")
            assert_cannot(acme_graph, "ceo@example.com", "insight:edit", "acme/staging")

        def test_wrongly_expected_can(acme_graph):
            assert_can(acme_graph, "ceo@example.com", "insight:view", "acme/production")

        def test_wrongly_expected_cannot(acme_graph):
            assert_cannot(acme_graph, "alice@example.com", "feature_flag:manage", "acme/production")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E *AssertionError: ceo@example.com may not `insight:view` on `acme/production`: "
            "ceo@example.com is a member of acme but has no role on acme/production "
            "(it is restricted*denied — a viewer grant on acme/production would allow it; *",
            "E *AssertionError: alice@example.com may `feature_flag:manage` on "
            "`acme/production`: *admin*allowed",
        ]
    )
    # __tracebackhide__: the failure points at the test, not inside accessgraph.testing
    assert "decision = graph.explain" not in result.stdout.str()


def test_role_matrix_in_a_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from accessgraph.testing import role_matrix, user_with_role

        @role_matrix([
            ("viewer", "insight:view", True),
            ("viewer", "insight:edit", False),
            ("member", "insight:edit", True),   # wrong: editing needs admin on a project
        ])
        def test_staging(acme_graph, role, action, expected):
            user = user_with_role(acme_graph, role, "acme/staging")
            assert acme_graph.check(user, action, "acme/staging") is expected
        """
    )
    collected = pytester.runpytest("--collect-only", "-q")
    collected.stdout.fnmatch_lines(
        [
            "test_role_matrix_in_a_suite.py::test_staging[[]viewer-insight:view-allowed[]]",
            "test_role_matrix_in_a_suite.py::test_staging[[]viewer-insight:edit-denied[]]",
            "test_role_matrix_in_a_suite.py::test_staging[[]member-insight:edit-allowed[]]",
        ]
    )
    result = pytester.runpytest("-rf")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED *test_staging[[]member-insight:edit-allowed[]]*"])
