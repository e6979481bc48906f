"""Helpers for testing code that uses accessgraph: example graphs, assertions, role tables.

Plain functions, usable from any test runner; the pytest plugin
(``accessgraph.pytest_plugin``, loaded automatically once accessgraph is installed) wraps
:func:`empty_graph` and :func:`acme_graph` as the fixtures ``access_graph`` and
``acme_graph``::

    from accessgraph.testing import assert_access, assert_can, assert_cannot
    from accessgraph.testing import role_matrix, user_with_role

    def test_viewers_cannot_edit(acme_graph):
        assert_can(acme_graph, "ceo@example.com", "insight:view", "acme/staging")
        assert_cannot(acme_graph, "ceo@example.com", "insight:edit", "acme/staging")

    @role_matrix([("viewer", "insight:view", True), ("viewer", "insight:create", False)])
    def test_roles(acme_graph, role, action, expected):
        user = user_with_role(acme_graph, role, "acme/staging")
        assert_access(acme_graph, user, action, "acme/staging", expected)

Every failure says who, what, where and why (the graph's explanation): a bare
``assert graph.check(...) is expected`` would say only ``assert False is True``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import accessgraph as ag
from accessgraph._seed import SEED_REGISTRY

if TYPE_CHECKING:
    import pytest

    from accessgraph import When

__all__ = [
    "ACME_CLOCK",
    "EMPTY_CLOCK",
    "SEED_REGISTRY",
    "acme_graph",
    "assert_access",
    "assert_can",
    "assert_cannot",
    "empty_graph",
    "role_matrix",
    "user_with_role",
]

EMPTY_CLOCK = "2024-01-01T00:00:00Z"
"""Where :func:`empty_graph` (the ``access_graph`` fixture) freezes the clock (SPEC 9)."""

ACME_CLOCK = "2024-05-01T00:00:00Z"
"""Where :func:`acme_graph` freezes the clock: the consultant's access runs to 2024-06-01."""

Row = tuple[str, str, bool]


def empty_graph() -> ag.Graph:
    """An empty graph whose clock is frozen at :data:`EMPTY_CLOCK`."""
    graph = ag.Graph()
    graph.set_time(EMPTY_CLOCK)
    return graph


def acme_graph() -> ag.Graph:
    """The example org: the seed registry (SPEC 5.1) as org ``acme``, "Acme Corp".

    Owners jane and john; admins alice and bob; members charlie, diana and evan (no
    project grants); viewers ceo and cmo (``viewer`` on ``acme/*``); the external
    consultant@agency.com, a member until 2024-06-01 with no project access. Projects
    ``acme/production`` (restricted, pii, environment production), ``acme/staging`` and
    ``acme/development``. The clock is frozen at :data:`ACME_CLOCK`; every timestamp in
    the graph is that instant, so snapshots of it are deterministic but for the projects'
    public API keys, which are drawn at random.
    """
    graph = ag.Graph()
    graph.set_time(ACME_CLOCK)
    with tempfile.TemporaryDirectory(prefix="accessgraph-") as folder:
        path = Path(folder) / "seed_registry.md"
        path.write_text(SEED_REGISTRY, encoding="utf-8")
        graph.import_registry(path, org="acme")
    graph.update_org("acme", actor=None, name="Acme Corp")
    graph.add_project(
        "acme/production",
        name="Production",
        environment="production",
        restricted=True,
        pii=True,
    )
    graph.add_project("acme/staging", name="Staging", environment="staging")
    graph.add_project("acme/development", name="Development", environment="development")
    return graph


def assert_can(
    graph: ag.Graph, user: str, action: str, target: str, *, at: When | None = None
) -> ag.Decision:
    """Fail, with the graph's explanation, unless ``user`` may ``action`` on ``target``.

    Returns the decision (``.role``, ``.source``) for further assertions.
    """
    __tracebackhide__ = True
    decision = graph.explain(user, action, target, at=at)
    if not decision.allowed:
        raise AssertionError(_message("may not", user, action, target, at, decision))
    return decision


def assert_cannot(
    graph: ag.Graph, user: str, action: str, target: str, *, at: When | None = None
) -> ag.Decision:
    """Fail, with the graph's explanation, if ``user`` may ``action`` on ``target``."""
    __tracebackhide__ = True
    decision = graph.explain(user, action, target, at=at)
    if decision.allowed:
        raise AssertionError(_message("may", user, action, target, at, decision))
    return decision


def assert_access(
    graph: ag.Graph,
    user: str,
    action: str,
    target: str,
    expected: bool,
    *,
    at: When | None = None,
) -> ag.Decision:
    """Fail unless the decision on ``user`` doing ``action`` on ``target`` is ``expected``
    (``True``: allowed, ``False``: denied): :func:`assert_can` or :func:`assert_cannot`
    by a flag, for tables of cases (:func:`role_matrix`). The failure says who, what,
    where and the graph's explanation; returns the decision."""
    __tracebackhide__ = True
    if not isinstance(expected, bool):
        raise TypeError(f"assert_access() expected must be True or False, not {expected!r}")
    decision = graph.explain(user, action, target, at=at)
    if decision.allowed != expected:
        verdict = "may" if decision.allowed else "may not"
        raise AssertionError(_message(verdict, user, action, target, at, decision))
    return decision


def _message(
    verdict: str, user: str, action: str, target: str, at: When | None, decision: ag.Decision
) -> str:
    when = "" if at is None else f" at {at}"
    return f"{user} {verdict} `{action}` on `{target}`{when}: {decision.reason}"


def user_with_role(graph: ag.Graph, role: str, target: str, *, email: str | None = None) -> str:
    """A user holding ``role`` on ``target``, made for the scenario; returns the email.

    On an org (``"acme"``) ``role`` is the org role (owner, admin, member); on a project
    (``"acme/staging"``) or all of them (``"acme/*"``) it is a project role (admin,
    member, viewer), granted to an org member. The email defaults to
    ``<role>.<project>@<org>.example`` (``viewer.staging@acme.example``); the same call
    twice gives the same user. Changes are made as the system (``actor=None``).
    """
    role = str(role)
    org, _, project = target.partition("/")
    if email is None:
        where = "org" if not project else ("all-projects" if project == "*" else project)
        email = f"{role}.{where}@{org}.example"
    member_role = graph.role(email, org)
    if not project:
        if member_role is None:
            graph.add_member(email, org, role=role)
        elif member_role != role:
            graph.set_org_role(email, org, role, actor=None)
        return email
    if member_role is None:
        graph.add_member(email, org)
    graph.grant(email, target, role)
    return email


def role_matrix(
    rows: Iterable[Row] | Mapping[str, Mapping[str, bool]],
    *,
    argnames: tuple[str, str, str] = ("role", "action", "expected"),
) -> pytest.MarkDecorator:
    """Parametrize a test over a table of ``(role, action, expected)`` rows.

    ``rows`` is a list of tuples or a dict ``{role: {action: expected}}``. Each row is one
    test case with a readable id, ``viewer-insight:view-allowed`` or
    ``viewer-insight:edit-denied``; the test receives ``role``, ``action`` and
    ``expected`` (rename them with ``argnames``)::

        @role_matrix({
            "viewer": {"insight:view": True, "insight:create": False},
            "member": {"insight:create": True, "feature_flag:manage": False},
        })
        def test_project_roles(acme_graph, role, action, expected):
            user = user_with_role(acme_graph, role, "acme/staging")
            assert_access(acme_graph, user, action, "acme/staging", expected)
    """
    import pytest

    if isinstance(rows, Mapping):
        table = [
            (role, action, expected)
            for role, actions in rows.items()
            for action, expected in actions.items()
        ]
    else:
        table = list(rows)
    if not table:
        raise ValueError("role_matrix() needs at least one (role, action, expected) row")
    params = []
    for row in table:
        if (
            not isinstance(row, tuple)
            or len(row) != 3
            or not isinstance(row[0], str)
            or not isinstance(row[1], str)
            or not isinstance(row[2], bool)
        ):
            raise TypeError(
                f"role_matrix() row {row!r}: expected (role: str, action: str, expected: bool)"
            )
        role, action, expected = row
        verdict = "allowed" if expected else "denied"
        params.append(pytest.param(role, action, expected, id=f"{role}-{action}-{verdict}"))
    return pytest.mark.parametrize(argnames, params)
