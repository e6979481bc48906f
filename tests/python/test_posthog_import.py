"""Graph.from_posthog: PostHog's REST API member lists become an auditable graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import accessgraph as ag

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "posthog"
MEMBERS: dict[str, Any] = json.loads((FIXTURES / "org_members.json").read_text())
PRODUCTION: list[dict[str, Any]] = json.loads(
    (FIXTURES / "production_explicit_members.json").read_text()
)


def test_org_members_and_project_members() -> None:
    g = ag.Graph.from_posthog(
        MEMBERS, org="acme", name="Acme Corp", projects={"Production": PRODUCTION}
    )
    assert [(o.slug, o.name) for o in g.orgs()] == [("acme", "Acme Corp")]
    assert {m.user: m.role for m in g.members("acme")} == {
        "jane@example.com": "owner",
        "alice@example.com": "admin",
        "charlie@example.com": "member",
        "diana@example.com": "member",
    }
    assert g.user("jane@example.com").name == "Jane Doe"
    assert g.user("alice@example.com").name == "Alice"
    # explicit members exist only while a project's access_control is on
    # (ExplicitTeamMemberSerializer.validate): the project is private
    prod = g.project("acme/production")
    assert prod.name == "Production" and prod.restricted
    assert g.role("charlie@example.com", "acme/production") == "admin"
    assert g.role("diana@example.com", "acme/production") == "member"
    assert g.who_can("feature_flag:manage", "acme/production") == [
        "alice@example.com",
        "charlie@example.com",
        "jane@example.com",
    ]


def test_accepts_text_pages_and_bare_lists() -> None:
    as_text = ag.Graph.from_posthog(json.dumps(MEMBERS), org="acme")
    half = len(MEMBERS["results"]) // 2
    pages = [
        {"count": 4, "next": "page2", "results": MEMBERS["results"][:half]},
        {"count": 4, "next": None, "results": MEMBERS["results"][half:]},
    ]
    as_pages = ag.Graph.from_posthog(pages, org="acme")
    as_list = ag.Graph.from_posthog(MEMBERS["results"], org="acme")
    expected = [(m.user, m.role) for m in as_text.members("acme")]
    assert [(m.user, m.role) for m in as_pages.members("acme")] == expected
    assert [(m.user, m.role) for m in as_list.members("acme")] == expected


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda m: m["results"][2].__setitem__("level", 5), "$.results[2].level", "`5`"),
        (lambda m: m["results"][1]["user"].pop("email"), "$.results[1].user.email", "email"),
        (lambda m: m["results"][0].__setitem__("level", 1), "$", "owner"),
        (lambda m: m.__setitem__("results", "x"), "$.results", "list"),
    ],
)
def test_errors_name_the_json_path(mutate: Any, path: str, words: str) -> None:
    members = json.loads(json.dumps(MEMBERS))
    mutate(members)
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.from_posthog(members, org="acme")
    assert info.value.path == path, str(info.value)
    assert words in str(info.value)


def test_project_member_who_is_not_in_the_org() -> None:
    outsider = json.loads(json.dumps(PRODUCTION))
    outsider[1]["user"]["email"] = "mallory@example.com"
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.from_posthog(MEMBERS, org="acme", projects={"Production": outsider})
    assert info.value.path == '$["Production"][1].user.email'
    with pytest.raises(ag.RegistryFormatError, match="project level"):
        bad = json.loads(json.dumps(PRODUCTION))
        bad[0]["level"] = 15
        ag.Graph.from_posthog(MEMBERS, org="acme", projects={"Production": bad})
