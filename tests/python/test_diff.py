"""graph.diff(other): drift between two states of access (SPEC 4.6)."""

from __future__ import annotations

from conftest import SEED_MARKDOWN

import accessgraph as ag


def test_drift_between_the_registry_and_the_live_graph() -> None:
    documented = ag.Graph.from_markdown(SEED_MARKDOWN, org="acme")
    live = ag.Graph.from_markdown(SEED_MARKDOWN, org="acme")
    for g in (documented, live):
        g.set_time("2024-05-01")
    live.add_project("acme/web", actor=None)  # owners and admins gain admin on it
    live.grant("charlie@example.com", "acme/web", "member", actor="alice@example.com")
    live.remove_member("cmo@example.com", "acme", actor="alice@example.com")
    live.grant("ceo@example.com", "acme/*", "member", actor="alice@example.com")

    drift = documented.diff(live)
    assert isinstance(drift, ag.AccessDiff) and drift
    by_user = {(c.user, c.project): c for c in drift}
    assert by_user["charlie@example.com", "acme/web"] == ag.AccessChange(
        "charlie@example.com", "acme/web", None, "member", "gained"
    )
    assert by_user["ceo@example.com", "acme/web"].after == "member"
    assert by_user["jane@example.com", "acme/web"].kind == "gained"
    # cmo had no project yet: they lose only their org role
    assert [(c.user, c.project, c.before, c.after) for c in drift.filter(kind="lost")] == [
        ("cmo@example.com", "acme", "member", None)
    ]
    assert {c.kind for c in drift} == {"gained", "lost"}
    assert list(drift) == sorted(drift, key=lambda c: (c.user, c.project))
    assert "| charlie@example.com | acme/web | - | member | gained |" in drift.to_markdown()
    assert len(drift.to_pandas()) == len(drift)
    assert "<table>" in drift._repr_html_()
    assert not documented.diff(documented)
    back = live.diff(documented)
    assert {(c.user, c.project, c.kind) for c in back} == {
        (c.user, c.project, {"gained": "lost", "lost": "gained"}[c.kind]) for c in drift
    }


def test_changed_roles_and_expiry_at_each_clock() -> None:
    a = ag.Graph()
    a.set_time("2024-05-01")
    a.add_org("acme", owner="o@x.io")
    a.add_project("acme/p")
    a.add_member("m@x.io", "acme", expires="2024-06-01")
    a.grant("m@x.io", "acme/p", "viewer")
    b = ag.Graph()
    b.set_time("2024-05-01")
    b.add_org("acme", owner="o@x.io")
    b.add_project("acme/p")
    b.add_member("m@x.io", "acme", expires="2024-06-01")
    b.grant("m@x.io", "acme/p", "admin")
    assert [(c.user, c.before, c.after, c.kind) for c in a.diff(b)] == [
        ("m@x.io", "viewer", "admin", "changed")
    ]
    b.set_time("2024-07-01")  # b's membership has expired by b's clock
    assert [(c.project, c.before, c.after, c.kind) for c in a.diff(b)] == [
        ("acme", "member", None, "lost"),
        ("acme/p", "viewer", None, "lost"),
    ]


def _org(people: dict[str, str], *, projects: tuple[str, ...] = ()) -> ag.Graph:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    for p in projects:
        g.add_project(p)
    for user, role in people.items():
        g.add_member(user, "acme", role=role)
    return g


def test_org_roles_are_part_of_the_drift() -> None:
    """Attack (a red-team review): an org-role promotion that changes no project role,
    a promotion in an org without projects, and a new member without grants were no
    difference at all, so the CLI's `--fail-on widen` gate let them through. An org's
    row has the org's slug as its target."""
    before = _org({"alice@example.com": "admin"}, projects=("acme/web",))
    after = _org({"alice@example.com": "owner"}, projects=("acme/web",))
    # admin and owner are both admin on every project: only the org role differs
    assert list(before.diff(after)) == [
        ag.AccessChange("alice@example.com", "acme", "admin", "owner", "changed")
    ]
    assert [c.kind for c in after.diff(before)] == ["changed"]
    before = _org({"bob@example.com": "member"})
    after = _org({"bob@example.com": "owner"})
    assert list(before.diff(after)) == [
        ag.AccessChange("bob@example.com", "acme", "member", "owner", "changed")
    ]
    joined = _org({"bob@example.com": "member", "carol@example.com": "member"})
    assert list(before.diff(joined)) == [
        ag.AccessChange("carol@example.com", "acme", None, "member", "gained")
    ]
    # an org's row sorts before its projects' rows
    both = _org({"bob@example.com": "admin"}, projects=("acme/web",))
    none = _org({}, projects=("acme/web",))
    assert [(c.project, c.before, c.after) for c in none.diff(both)] == [
        ("acme", None, "admin"),
        ("acme/web", None, "admin"),
    ]


def test_markdown_and_html_views_escape_what_the_user_wrote() -> None:
    # An email may hold a pipe (RFC 5322): it must not split the Markdown row.
    a = ag.Graph()
    a.add_org("acme", owner="o@x.io")
    a.add_project("acme/p")
    b = ag.Graph.from_json(a.to_json())
    b.add_member("a|b@x.io", "acme")
    b.grant("a|b@x.io", "acme/p", "viewer")
    lines = a.diff(b).to_markdown().splitlines()
    assert lines[2] == "| a\\|b@x.io | acme | - | member | gained |"
    assert lines[3] == "| a\\|b@x.io | acme/p | - | viewer | gained |"
    b.add_member("tom&jerry@x.io", "acme")
    b.grant("tom&jerry@x.io", "acme/p", "viewer")
    assert "<td>tom&amp;jerry@x.io</td>" in a.diff(b)._repr_html_()
