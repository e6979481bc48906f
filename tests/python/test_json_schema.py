"""``docs/accessgraph.schema.json`` describes what ``Graph.to_json()`` writes (SPEC 5.2)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import SCHEMA_PATH
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

import accessgraph as ag

SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def rich_graph() -> ag.Graph:
    """Every kind of record, every nullable field both null and set."""
    g = ag.Graph()
    g.set_time("2024-05-01T00:00:00Z")
    g.add_org("acme", name="Acme Corp", owner="jane@example.com")
    g.update_org("acme", actor=None, members_can_invite=True)
    g.add_org("beta", name="Beta", owner="bob@example.com")
    g.add_project(
        "acme/production", name="Production", environment="production", restricted=True, pii=True
    )
    g.add_project(
        "acme/staging",
        name="Staging",
        environment="staging",
        default_role="viewer",
        settings={"retention_days": 30, "tags": ["eu", None], "nested": {"x": 1.5}},
    )
    g.add_project("beta/web", name="Web")
    g.add_member(
        "bob@example.com",
        "acme",
        role="admin",
        name="Bob",
        title="Lead, Platform",
        expires="2024-07-01T12:30:00.250Z",
        reason="on call, EU",
        reviewed="2024-01-02",
        external=True,
        actor="jane@example.com",
    )
    g.add_member("old@example.com", "acme", expires="2023-01-01", actor=None)
    g.set_time("2022-01-01")
    g.grant("old@example.com", "acme/*", "member", actor=None)
    g.set_time("2024-05-01T00:00:00Z")
    g.grant(
        "bob@example.com",
        "acme/production",
        "viewer",
        expires="2024-06-01T10:00Z",
        reason="audit",
        actor="jane@example.com",
    )
    g.add_resource("acme/staging", "dashboard", 42, owner="bob@example.com")
    g.add_resource("beta/web", "feature_flag", "new-ui", owner="bob@example.com")
    g.define_action("report:send", "project", "member", "viewer")
    g.define_action("billing:view", "org", "admin")
    g.add_member("gone@example.com", "beta", title="Former", actor=None)
    g.remove_member("gone@example.com", "beta", actor=None)  # a user without membership
    # API keys: one narrowed, restricted, expiring and rotated; one plain; one revoked
    narrow, _ = g.create_personal_key(
        "bob@example.com",
        "notebook",
        scopes=["insight:read", "report:send"],
        projects=["acme/staging"],
        expires="2024-09-01",
        actor="bob@example.com",
    )
    g.rotate_personal_key(narrow, actor="bob@example.com")
    g.create_personal_key("jane@example.com", "ci", actor="jane@example.com")
    old, _ = g.create_personal_key("bob@example.com", "old", actor=None)
    g.revoke_personal_key(old, actor="bob@example.com")
    return g


RICH = rich_graph()
SNAPSHOT: dict[str, Any] = json.loads(RICH.to_json())


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_rich_snapshot_validates() -> None:
    errors = [f"{e.json_path}: {e.message}" for e in VALIDATOR.iter_errors(SNAPSHOT)]
    assert errors == []
    # the snapshot really is rich: every list is filled, nullable fields both ways
    for key in (
        "orgs",
        "projects",
        "users",
        "memberships",
        "grants",
        "resources",
        "actions",
        "api_keys",
    ):
        assert SNAPSHOT[key], key
    assert {"scopes" in k for k in SNAPSHOT["api_keys"]} == {True, False}
    assert {"revoked_at" in k for k in SNAPSHOT["api_keys"]} == {True, False}
    assert all(p["api_key"].startswith("agc_") for p in SNAPSHOT["projects"])
    assert {m.get("expires") is None for m in SNAPSHOT["memberships"]} == {True, False}
    assert {x.get("granted_by") is None for x in SNAPSHOT["grants"]} == {True, False}


def _nodes(node: Any) -> list[Any]:
    """Every value of the document, not looking inside (free-form) settings."""
    out = [node]
    if isinstance(node, dict):
        for k, v in node.items():
            out += [v] if k == "settings" else _nodes(v)
    elif isinstance(node, list):
        for v in node:
            out += _nodes(v)
    return out


def test_defaults_are_left_out() -> None:
    """A value equal to its default (null, false, empty settings) is not written."""
    assert not [n for n in _nodes(SNAPSHOT) if n is None or n is False or n == {}]


# Each record's defaults, as version 1 snapshots were first written (every key, with null).
DEFAULTS: dict[str, dict[str, Any]] = {
    "orgs": {"settings": {}},
    "projects": {
        "environment": None,
        "restricted": False,
        "pii": False,
        "default_role": None,
        "settings": {},
    },
    "users": {"name": None, "title": None},
    "memberships": {
        "expires": None,
        "reason": None,
        "reviewed": None,
        "external": False,
        "granted_by": None,
    },
    "grants": {"expires": None, "reason": None, "granted_by": None},
    "actions": {"owner_role": None},
    "api_keys": {
        "scopes": None,
        "projects": None,
        "rotated_at": None,
        "expires": None,
        "revoked_at": None,
    },
}


def test_defaults_written_out_still_validate_and_read() -> None:
    """Backward compatible within version 1: a snapshot with every default written out
    (explicit nulls and falses) is valid and reads to the same graph."""
    doc = copy.deepcopy(SNAPSHOT)
    for key, defaults in DEFAULTS.items():
        for record in doc[key]:
            for name, value in defaults.items():
                record.setdefault(name, value)
    assert VALIDATOR.is_valid(doc)
    again = ag.Graph.from_json(json.dumps(doc, indent=2))
    assert again.to_json() == RICH.to_json()


def test_empty_and_minimal_snapshots_validate() -> None:
    assert VALIDATOR.is_valid(json.loads(ag.Graph().to_json()))
    assert VALIDATOR.is_valid({"format": "accessgraph", "version": 1})
    ag.Graph.from_json('{"format": "accessgraph", "version": 1}')


def _every_object_is_closed(node: Any, where: str = "#") -> list[str]:
    """Places of the schema that describe an object without ``additionalProperties``."""
    found: list[str] = []
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node and where.count("/") < 4:
            found.append(where)
        for k, v in node.items():
            found += _every_object_is_closed(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _every_object_is_closed(v, f"{where}/{i}")
    return found


def test_records_are_closed() -> None:
    # `settings` (free-form by SPEC 1.4) and if/then refinements are the only open objects
    open_places = [
        p
        for p in _every_object_is_closed(SCHEMA)
        if not p.endswith(("/settings", "/then", "/if", "/else"))
    ]
    assert open_places == []


Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[str | int, ...], value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _delete(key: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        del doc[key]

    return apply


INVALID: dict[str, tuple[Mutation, str]] = {
    "unknown top-level field": (_set(("extra",), 1), "$"),
    "unknown membership field": (_set(("memberships", 0, "nickname"), "b"), "$.memberships[0]"),
    "unknown project field": (_set(("projects", 0, "color"), "red"), "$.projects[0]"),
    "bad org role": (_set(("memberships", 0, "role"), "superuser"), "$.memberships[0].role"),
    "bad project role": (_set(("grants", 0, "role"), "owner"), "$.grants[0].role"),
    "missing format": (_delete("format"), "$"),
    "wrong format": (_set(("format",), "other"), "$.format"),
    "newer version": (_set(("version",), 2), "$.version"),
    "bad instant": (_set(("grants", 0, "granted_at"), "yesterday"), "$.grants[0].granted_at"),
    "api key without hash": (_set(("api_keys",), [{"id": "pk_1"}]), "$.api_keys"),
    "api key with a secret": (
        _set(("api_keys", 0, "secret"), "agp_0123"),
        "$.api_keys[0]",
    ),
    "api key hash in clear": (
        _set(("api_keys", 0, "hash"), "agp_0123456789abcdef"),
        "$.api_keys[0].hash",
    ),
    "empty scopes": (_set(("api_keys", 0, "scopes"), []), "$.api_keys[0].scopes"),
    "bad project key": (_set(("projects", 0, "api_key"), "secret"), "$.projects[0].api_key"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_documents_are_rejected_by_schema_and_reader(name: str) -> None:
    mutation, path = INVALID[name]
    doc = copy.deepcopy(SNAPSHOT)
    mutation(doc)
    assert not VALIDATOR.is_valid(doc), name
    with pytest.raises(ag.RegistryFormatError) as raised:
        ag.Graph.from_json(json.dumps(doc, indent=2))
    assert raised.value.path is not None
    assert raised.value.path.startswith(path), (raised.value.path, str(raised.value))
