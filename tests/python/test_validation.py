"""Bad input: every error is typed and names the offending field or value (SPEC 6.1)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import accessgraph as ag


@pytest.fixture
def g() -> ag.Graph:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/prod", restricted=True)
    g.add_member("bob@example.com", "acme")
    return g


BAD_EMAILS = [
    "",
    "bob",
    "@example.com",
    "bob@",
    "bo b@example.com",
    "bob@example",
    "bob\n@example.com",
    "bob@exa\tmple.com",
    "b..ob@example.com",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_bad_emails_are_rejected_with_the_value(g: ag.Graph, email: str) -> None:
    with pytest.raises(ag.ValidationError) as info:
        g.add_member(email, "acme")
    assert "user" in str(info.value) and f"`{repr(email)[1:-1]}`" in str(info.value)


# Refused by `add_member` (and by Django's EmailValidator), yet IDNA maps each to
# the owner's address `jane@example.com`, or case-folding to one that is not hers.
LOOKALIKE_EMAILS = [
    "jane@example\u3002com",
    "JANE@EXAMPLE\uff0eCOM",
    "jane@example\uff61com",
    "Jane@Example",
]


@pytest.mark.parametrize("email", LOOKALIKE_EMAILS)
def test_a_malformed_email_in_a_query_is_no_one(g: ag.Graph, email: str) -> None:
    """docs/semantics.md: in a query a malformed user is unknown, never the user its
    canonical form would name."""
    with pytest.raises(ag.ValidationError):
        g.add_member(email, "acme")
    assert not g.check(email, "org:delete", "acme")
    assert g.check_many([(email, "org:delete", "acme")] * 600) == [False] * 600
    assert g.role(email, "acme") is None
    assert g.permissions(email, "acme") == set()
    assert g.accessible(email) == []
    assert not g.explain(email, "org:delete", "acme").allowed
    with pytest.raises(ag.PermissionDenied):
        g.require(email, "org:delete", "acme")
    # the owner's own address, in any case, is still hers
    assert g.check("JANE@Example.com", "org:delete", "acme")


@pytest.mark.parametrize("slug", ["", "Acme", "-acme", "ac me", "a" * 64, "acme/x"])
def test_bad_org_slugs(slug: str) -> None:
    g = ag.Graph()
    with pytest.raises(ag.ValidationError, match="invalid org"):
        g.add_org(slug, owner="jane@example.com")


@pytest.mark.parametrize("project", ["acme", "acme/", "acme/Prod", "acme/*", "a/b/c"])
def test_bad_project_ids(g: ag.Graph, project: str) -> None:
    with pytest.raises(ag.ValidationError, match="invalid project"):
        g.add_project(project)


@pytest.mark.parametrize(
    ("call", "field", "value"),
    [
        (lambda g: g.add_member("x@example.com", "acme", role="superuser"), "role", "superuser"),
        (lambda g: g.grant("bob@example.com", "acme/prod", "editor"), "role", "editor"),
        (lambda g: g.grant("bob@example.com", "acme", "viewer"), "target", "acme"),
        (
            lambda g: g.grant("bob@example.com", "acme/prod", "viewer", expires="next week"),
            "expires",
            "next week",
        ),
        (
            lambda g: g.add_member("x@example.com", "acme", expires="2024-02-30"),
            "expires",
            "2024-02-30",
        ),
        (lambda g: g.add_member("x@example.com", "acme", reviewed="yesterday"), "reviewed", ""),
        (lambda g: g.add_member("x@example.com", "acme", expires=12), "expires", "12"),
        (lambda g: g.set_org_role("bob@example.com", "acme", "viewer", actor=None), "role", ""),
        (lambda g: g.add_project("acme/dev", default_role="owner"), "default_role", "owner"),
        (lambda g: g.add_resource("acme/prod", "chart", 1, owner="bob@example.com"), "kind", ""),
        (
            lambda g: g.add_resource("acme/prod", "insight", "a b", owner="bob@example.com"),
            "id",
            "",
        ),
        (lambda g: g.define_action("Bad Name"), "name", "Bad Name"),
        (lambda g: g.define_action("x:y", scope="team"), "scope", "team"),
        (lambda g: g.update_org("acme", actor=None, members_can_invite="yes"), "", "yes"),
        (
            lambda g: g.update_member("bob@example.com", "acme", actor=None, colour="red"),
            "",
            "colour",
        ),
        (lambda g: g.set_time("tomorrow"), "when", "tomorrow"),
        (
            lambda g: g.check("bob@example.com", "project:view", "acme/prod", at="noon"),
            "at",
            "noon",
        ),
        (lambda g: g.add_project("acme/dev", settings={"k": object()}), "settings", "object"),
    ],
)
def test_validation_errors_name_the_field_and_value(
    g: ag.Graph, call: Any, field: str, value: str
) -> None:
    with pytest.raises(ag.ValidationError) as info:
        call(g)
    assert field in str(info.value)
    assert value in str(info.value)
    assert isinstance(info.value, ValueError)


def test_owner_memberships_cannot_expire(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="owner"):
        g.add_member("x@example.com", "acme", role="owner", expires="2025-01-01")
    g.add_member("temp@example.com", "acme", expires="2025-01-01")
    with pytest.raises(ag.ValidationError, match="expires"):
        g.set_org_role("temp@example.com", "acme", "owner", actor="jane@example.com")
    with pytest.raises(ag.ValidationError, match="owner"):
        g.update_member("jane@example.com", "acme", actor=None, expires="2025-01-01")


def test_restricted_projects_cannot_have_a_default_role(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="default role"):
        g.add_project("acme/x", restricted=True, default_role="viewer")
    g.add_project("acme/open", default_role="viewer")
    with pytest.raises(ag.ValidationError, match="default role"):
        g.update_project("acme/open", actor=None, restricted=True)
    g.update_project("acme/open", actor=None, restricted=True, default_role=None)
    assert g.project("acme/open").restricted


def test_actor_must_be_an_email(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="actor"):
        g.add_member("erin@example.com", "acme", actor="not an email")


def test_contradictory_arguments_fail_before_lookup(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="default role"):
        g.update_project("acme/nope", actor=None, restricted=True, default_role="viewer")


def test_instants_outside_years_1_to_9999_are_rejected(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="expires"):
        g.add_member("e@example.com", "acme", expires="9999-12-31T23:59:59-01:00")
    g.add_member("e@example.com", "acme", expires="9999-12-31T23:59:59Z")


def test_unknown_action_is_loud(g: ag.Graph) -> None:
    with pytest.raises(ag.UnknownActionError, match="insight:veiw") as info:
        g.check("bob@example.com", "insight:veiw", "acme/prod")
    assert isinstance(info.value, ag.ValidationError)
    with pytest.raises(ag.UnknownActionError):
        g.who_can("nope", "acme/prod")


def test_not_found_errors_are_key_errors(g: ag.Graph) -> None:
    with pytest.raises(ag.NotFoundError, match="unknown organization `globex`") as info:
        g.add_member("x@example.com", "globex")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "unknown organization `globex`"
    with pytest.raises(ag.NotFoundError, match="acme/nope"):
        g.grant("bob@example.com", "acme/nope", "viewer")
    with pytest.raises(ag.NotFoundError, match="no grant"):
        g.revoke("bob@example.com", "acme/prod", actor=None)
    with pytest.raises(ag.NotFoundError):
        g.project("acme/nope")


def test_wrong_python_types(g: ag.Graph) -> None:
    # a value of the wrong type where a string is needed is a TypeError, as in Python
    with pytest.raises(TypeError, match="42"):
        g.check(42, "project:view", "acme/prod")  # type: ignore[arg-type]
    # flags take True or False only: truthy strings are not quietly accepted
    with pytest.raises(ag.ValidationError, match="restricted"):
        g.add_project("acme/x", restricted="yes")  # type: ignore[arg-type]
    with pytest.raises(ag.ValidationError, match="external"):
        g.add_member("e@example.com", "acme", external=1)  # type: ignore[arg-type]
    assert "acme/x" not in [p.id for p in g.projects()]


def test_exceptions_pickle_and_keep_attributes(g: ag.Graph) -> None:
    with pytest.raises(ag.PermissionDenied) as info:
        g.add_member("x@example.com", "acme", actor="bob@example.com")
    err = info.value
    assert err.decision is not None and not err.decision.allowed
    assert "bob@example.com" in str(err)
    again = pickle.loads(pickle.dumps(ag.ConflictError("x")))
    assert isinstance(again, ag.ConflictError) and str(again) == "x"
    rf = ag.RegistryFormatError("bad", line=3, column=2)
    assert (rf.line, rf.column, rf.path) == (3, 2, None)
    assert issubclass(ag.ReadOnlyGraphError, ag.ConflictError)
    assert issubclass(ag.JournalRecoveredWarning, RuntimeWarning)


def test_failed_calls_change_nothing(g: ag.Graph) -> None:
    before = (g.members("acme"), g.grants(), g.projects())
    for call in (
        lambda: g.add_member("x@example.com", "acme", actor="bob@example.com"),
        lambda: g.remove_member("jane@example.com", "acme", actor="jane@example.com"),
        lambda: g.remove_org("acme", actor="bob@example.com"),
        lambda: g.grant("bob@example.com", "acme/prod", "admin", actor="bob@example.com"),
        lambda: g.update_project("acme/prod", actor=None, default_role="viewer"),
    ):
        with pytest.raises(ag.AccessGraphError):
            call()
        assert (g.members("acme"), g.grants(), g.projects()) == before


def nested(depth: int, leaf: object = 1) -> object:
    """`[[...[leaf]...]]`, `depth` lists deep."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# How deep `details` and `settings` may nest: their own dict counts as a level.
MAX_DEPTH = 64

NESTED_CALLS = {
    "record": lambda g, v: g.record("system", "data.exported", "acme", rows=v),
    "add_project": lambda g, v: g.add_project("acme/deep", settings={"k": v}),
    "update_project": lambda g, v: g.update_project("acme/prod", actor=None, k=v),
    "update_org": lambda g, v: g.update_org("acme", actor=None, k=v),
}


@pytest.mark.parametrize("call", sorted(NESTED_CALLS))
def test_values_nested_deeper_than_64_levels_are_refused(g: ag.Graph, call: str) -> None:
    field = "details" if call == "record" else "settings"
    with pytest.raises(ag.ValidationError, match=f"invalid {field} .*{MAX_DEPTH} levels"):
        NESTED_CALLS[call](g, nested(MAX_DEPTH))
    with pytest.raises(ag.ValidationError, match=field):
        NESTED_CALLS[call](g, {"a": nested(MAX_DEPTH, {"b": 1})})
    revision = g.revision
    NESTED_CALLS[call](g, nested(MAX_DEPTH - 1))
    assert g.revision > revision


def test_the_deepest_value_accepted_reads_back_from_the_journal_and_the_snapshot(
    tmp_path: Path,
) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/prod")
    for call in NESTED_CALLS.values():
        call(g, nested(MAX_DEPTH - 1))
    again = ag.Graph.open(path)
    assert again.to_json() == g.to_json()
    assert ag.Graph.from_json(g.to_json()).to_json() == g.to_json()
    assert [e.details for e in again.audit] == [e.details for e in g.audit]
    assert again.project("acme/deep").settings["k"] == nested(MAX_DEPTH - 1)


@pytest.mark.parametrize("call", sorted(NESTED_CALLS))
def test_values_that_contain_themselves_are_refused(g: ag.Graph, call: str) -> None:
    field = "details" if call == "record" else "settings"
    loop: list[object] = [1]
    loop.append(loop)
    knot: dict[str, object] = {}
    knot["self"] = {"again": [knot]}
    shared = [1, 2]
    for value in (loop, knot):
        with pytest.raises(ag.ValidationError, match=f"invalid {field} .*contains itself"):
            NESTED_CALLS[call](g, value)
    # The same list twice is not a cycle.
    revision = g.revision
    NESTED_CALLS[call](g, {"a": shared, "b": shared})
    assert g.revision > revision


DEEP_IN_A_SUBPROCESS = """
import accessgraph as ag
g = ag.Graph()
g.add_org("acme", owner="jane@example.com")
value = 1
for _ in range(100_000):
    value = [value]
for call in (
    lambda: g.record("system", "data.exported", "acme", rows=value),
    lambda: g.add_project("acme/deep", settings={"k": value}),
):
    try:
        call()
    except ag.ValidationError as e:
        print(type(e).__name__, len(str(e)))
"""


def test_a_value_100000_levels_deep_is_an_error_not_a_crash() -> None:
    # In a child process: the interpreter used to die of a stack overflow (SIGSEGV).
    done = subprocess.run(
        [sys.executable, "-c", DEEP_IN_A_SUBPROCESS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split()
    assert lines[0::2] == ["ValidationError", "ValidationError"], done.stdout
    assert all(int(n) < 1000 for n in lines[1::2]), done.stdout


def test_messages_repeat_at_most_a_few_hundred_characters_of_input(g: ag.Graph) -> None:
    # A path through 100,000 nested objects, a value of 300,000 characters.
    with pytest.raises(ag.RegistryFormatError) as deep:
        ag.Graph.from_json('{"a":' * 100_000)
    assert len(str(deep.value)) < 1000 and str(deep.value).startswith("$.a.a.a")
    assert deep.value.path is not None and len(deep.value.path) < 1000
    assert "characters)" in deep.value.path
    huge = "x" * 300_000
    for call in (
        lambda: g.add_member(huge, "acme"),
        lambda: g.add_project("acme/x", name=huge, environment=huge, settings={"k": object()}),
        lambda: g.grant("bob@example.com", huge, "viewer"),
        lambda: ag.Graph.from_json('{"format": "' + huge + '"}'),
        lambda: g.record("system", "data.exported", "acme", rows={huge: object()}),
    ):
        with pytest.raises(ag.AccessGraphError) as info:
            call()
        # A value is clipped to 256 characters, a whole message to about 1,024.
        assert len(str(info.value)) < 1100, str(info.value)[:300]
