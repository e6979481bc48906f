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
    assert [c.user for c in drift.filter(kind="lost")] == []  # cmo had no project yet
    assert {c.kind for c in drift} == {"gained"}
    assert list(drift) == sorted(drift, key=lambda c: (c.user, c.project))
    assert "| charlie@example.com | acme/web | - | member | gained |" in drift.to_markdown()
    assert len(drift.to_pandas()) == len(drift)
    assert "<table>" in drift._repr_html_()
    assert not documented.diff(documented)
    back = live.diff(documented)
    assert {c.kind for c in back} == {"lost"} and len(back) == len(drift)


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
    assert [(c.before, c.after, c.kind) for c in a.diff(b)] == [("viewer", None, "lost")]


def test_markdown_and_html_views_escape_what_the_user_wrote() -> None:
    # An email may hold a pipe (RFC 5322): it must not split the Markdown row.
    a = ag.Graph()
    a.add_org("acme", owner="o@x.io")
    a.add_project("acme/p")
    b = ag.Graph.from_json(a.to_json())
    b.add_member("a|b@x.io", "acme")
    b.grant("a|b@x.io", "acme/p", "viewer")
    lines = a.diff(b).to_markdown().splitlines()
    assert lines[2] == "| a\\|b@x.io | acme/p | - | viewer | gained |"
    b.add_member("tom&jerry@x.io", "acme")
    b.grant("tom&jerry@x.io", "acme/p", "viewer")
    assert "<td>tom&amp;jerry@x.io</td>" in a.diff(b)._repr_html_()
