"""The JSON snapshot from Python: lossless round trip and errors naming the JSON path."""

from __future__ import annotations

import json

import accessgraph as ag
import pytest


def test_round_trip_is_byte_identical(acme: ag.Graph) -> None:
    acme.add_resource("acme/development", "insight", 7, owner="charlie@example.com")
    acme.define_action("notebook:share", owner_role="viewer")
    acme.update_org("acme", actor="jane@example.com", members_can_invite=True)
    text = acme.to_json()
    doc = json.loads(text)
    assert (doc["format"], doc["version"]) == ("accessgraph", 1)
    again = ag.Graph.from_json(text)
    assert isinstance(again, ag.Graph)
    assert again.to_json() == text
    assert again.members("acme") == acme.members("acme")
    assert again.grants() == acme.grants()
    assert again.resources() == acme.resources()
    again.set_time("2024-05-01")
    q = ("charlie@example.com", "insight:edit", "acme/development/insight/7")
    assert again.check(*q) and acme.check(*q)
    assert again.check("charlie@example.com", "notebook:share", "acme/development")


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["grants"][0].__setitem__("role", "editor"), "$.grants[0].role"),
        (lambda d: d["orgs"][0].__setitem__("colour", "red"), "$.orgs[0]"),
        (lambda d: d.__setitem__("version", 2), "$.version"),
        (lambda d: d.__setitem__("format", "casbin"), "$.format"),
    ],
)
def test_errors_name_the_json_path(acme: ag.Graph, edit: object, path: str) -> None:
    doc = json.loads(acme.to_json())
    edit(doc)  # type: ignore[operator]
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.from_json(json.dumps(doc))
    assert info.value.path is not None and info.value.path.startswith(path), str(info.value)
