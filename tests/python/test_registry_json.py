"""The JSON snapshot from Python: lossless round trip and errors naming the JSON path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import accessgraph as ag


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


def test_load_and_save_by_extension(acme: ag.Graph, tmp_path: Path) -> None:
    acme.save(tmp_path / "graph.json")
    acme.save(tmp_path / "acme.md")
    from_json = ag.Graph.load(tmp_path / "graph.json")
    assert from_json.to_json() == acme.to_json()
    from_md = ag.Graph.load(str(tmp_path / "acme.md"), org="acme")
    assert from_md.to_markdown("acme") == acme.to_markdown("acme")
    same = ag.Graph.load(tmp_path / "acme.md", format="markdown", org="acme")
    assert same.to_markdown("acme") == acme.to_markdown("acme")
    with pytest.raises(ag.ValidationError, match=r"\.txt"):
        ag.Graph.load(tmp_path / "acme.txt")
    with pytest.raises(ag.ValidationError, match="org="):
        ag.Graph.load(tmp_path / "graph.json", org="acme")
    two = ag.Graph()
    two.add_org("a", owner="o@x.io")
    two.add_org("b", owner="o@x.io")
    with pytest.raises(ag.ValidationError, match="2 orgs"):
        two.save(tmp_path / "two.md")
    two.save(tmp_path / "two.md", org="b")
    assert [o.slug for o in ag.Graph.load(tmp_path / "two.md", org="b").orgs()] == ["b"]


def test_csv_access_matrix_round_trip(acme: ag.Graph, tmp_path: Path) -> None:
    acme.update_project("acme/development", actor="alice@example.com", default_role="viewer")
    acme.save(tmp_path / "access.csv")
    text = (tmp_path / "access.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "user,org,org_role,project,project_role,source,expires,reason"
    assert "charlie@example.com,acme,member,acme/production,viewer,explicit_member,," in text
    assert ",acme/development,viewer,default," in text
    back = ag.Graph.load(tmp_path / "access.csv")
    back.set_time("2024-05-01")
    users = [u.email for u in acme.users()]
    for project in ("acme/development", "acme/production", "acme/staging"):
        for user in users:
            assert back.role(user, project) == acme.role(user, project), (user, project)
    again = tmp_path / "again.csv"
    back.to_csv(again, at="2024-05-01")
    acme.to_csv(tmp_path / "first.csv", at="2024-05-01")
    assert again.read_text(encoding="utf-8") == (tmp_path / "first.csv").read_text(encoding="utf-8")


def test_csv_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "user,org,org_role,project,project_role,source,expires,reason\n"
        "o@x.io,acme,owner,,,,,\n"
        "m@x.io,acme,member,acme/p,editor,explicit_member,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ag.RegistryFormatError, match="editor") as info:
        ag.Graph.load(bad)
    assert info.value.line == 3
