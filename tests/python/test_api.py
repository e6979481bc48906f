"""The Python API end to end: checks, explanations, listings, value objects, time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

import accessgraph as ag


def test_org_admin_implies_project_admin_even_on_restricted(acme: ag.Graph) -> None:
    assert acme.check("alice@example.com", "feature_flag:manage", "acme/production")
    d = acme.explain("alice@example.com", "feature_flag:manage", "acme/production")
    assert d.allowed and d.role == "admin" and d.source == "organization_admin"
    assert "org owner/admin" in d.reason and "alice@example.com" in d.reason


def test_explicit_grant_and_its_limits(acme: ag.Graph) -> None:
    assert acme.check("charlie@example.com", "insight:view", "acme/production")
    assert not acme.check("charlie@example.com", "insight:create", "acme/production")
    d = acme.explain("charlie@example.com", "insight:create", "acme/production")
    assert not d and d.role == "viewer" and d.source == "explicit_member"
    assert "viewer" in d.reason and "member" in d.reason and "denied" in d.reason


def test_org_wide_grant_does_not_reach_restricted_projects(acme: ag.Graph) -> None:
    assert acme.check("diana@example.com", "insight:create", "acme/staging")
    assert acme.explain("diana@example.com", "insight:create", "acme/staging").source == (
        "org_wide_grant"
    )
    assert not acme.check("diana@example.com", "project:view", "acme/production")
    reason = acme.explain("diana@example.com", "project:view", "acme/production").reason
    assert "restricted" in reason


def test_default_role_gives_every_member_access(acme: ag.Graph) -> None:
    assert not acme.check("evan@example.com", "project:view", "acme/development")
    acme.update_project("acme/development", actor="alice@example.com", default_role="viewer")
    d = acme.explain("evan@example.com", "project:view", "acme/development")
    assert d.allowed and d.source == "default" and d.role == "viewer"
    with pytest.raises(ag.ValidationError, match="default role"):
        acme.update_project("acme/production", actor="alice@example.com", default_role="viewer")


def test_expiry_is_judged_at_check_time(acme: ag.Graph) -> None:
    who, action, target = "consultant@agency.com", "insight:create", "acme/staging"
    assert acme.check(who, action, target)
    assert acme.check(who, action, target, at="2024-05-31T23:59:59.999999Z")
    assert not acme.check(who, action, target, at="2024-06-01")
    assert not acme.check(who, action, target, at=date(2024, 6, 1))
    assert not acme.check(who, action, target, at=datetime(2024, 6, 1))  # naive means UTC
    berlin = timezone(timedelta(hours=2))
    assert acme.check(who, action, target, at=datetime(2024, 6, 1, 1, 59, tzinfo=berlin))
    acme.set_time("2024-06-02")
    assert not acme.check(who, action, target)
    d = acme.explain(who, action, target)
    assert "expired" in d.reason and "2024-06-01" in d.reason
    acme.set_time(None)
    assert acme.now().year >= 2026


def test_ownership_rules_on_resources(acme: ag.Graph) -> None:
    mine = acme.add_resource("acme/development", "insight", 7, owner="charlie@example.com")
    theirs = acme.add_resource("acme/development", "insight", 8, owner="alice@example.com")
    assert mine == "acme/development/insight/7"
    assert acme.check("charlie@example.com", "insight:edit", mine)
    assert acme.explain("charlie@example.com", "insight:edit", mine).source == "creator"
    assert not acme.check("charlie@example.com", "insight:edit", theirs)
    assert not acme.check("charlie@example.com", "insight:edit", "acme/development")
    # the ownership rule applies only when the action's resource part is the resource's kind
    assert not acme.check("charlie@example.com", "dashboard:edit", mine)
    assert acme.check("alice@example.com", "insight:delete", mine)
    # a project-scoped action on a resource is decided on its project
    assert acme.check("charlie@example.com", "insight:view", theirs)
    assert acme.role("charlie@example.com", mine) == "member"


def test_org_scoped_actions(acme: ag.Graph) -> None:
    assert acme.check("evan@example.com", "org:view", "acme")
    assert acme.check("evan@example.com", "org:view", "acme/staging")  # decided on its org
    assert not acme.check("evan@example.com", "org:invite_member", "acme")
    acme.update_org("acme", actor="alice@example.com", members_can_invite=True)
    assert acme.check("evan@example.com", "org:invite_member", "acme")
    assert acme.org("acme").settings == {"members_can_invite": True}
    assert acme.check("jane@example.com", "billing:manage", "acme")
    assert not acme.check("alice@example.com", "billing:manage", "acme")
    assert acme.explain("evan@example.com", "org:view", "acme").source == "organization_member"


def test_unknowns(acme: ag.Graph) -> None:
    assert not acme.check("nobody@example.com", "project:view", "acme/staging")
    assert not acme.check("alice@example.com", "project:view", "acme/nope")
    assert not acme.check("alice@example.com", "project:view", "not/a target")
    with pytest.raises(ag.ValidationError, match="not a target"):
        acme.check("alice@example.com", "project:view", "not a target")
    assert not acme.check("alice@example.com", "org:view", "globex")
    with pytest.raises(ag.UnknownActionError, match="insight:veiw"):
        acme.check("alice@example.com", "insight:veiw", "acme/staging")
    with pytest.raises(ag.ValidationError, match="project-scoped"):
        acme.check("alice@example.com", "insight:view", "acme")
    assert acme.role("nobody@example.com", "acme") is None
    assert acme.who_can("project:view", "acme/nope") == []
    assert acme.permissions("nobody@example.com", "acme/staging") == set()


def test_emails_are_case_insensitive(acme: ag.Graph) -> None:
    assert acme.check("Charlie@Example.COM", "insight:view", "acme/production")
    acme.add_member("Zed@Example.com", "acme", actor="alice@example.com")
    assert [m.user for m in acme.members("acme")].count("zed@example.com") == 1
    with pytest.raises(ag.ConflictError):
        acme.add_member("ZED@example.com", "acme", actor="alice@example.com")


def test_reverse_lookups_agree_with_check(acme: ag.Graph) -> None:
    users = [u.email for u in acme.users()]
    targets = ["acme/development", "acme/production", "acme/staging"]
    for action in ("project:view", "insight:create", "feature_flag:manage"):
        for target in targets:
            expected = sorted(u for u in users if acme.check(u, action, target))
            assert acme.who_can(action, target) == expected
    for user in users:
        assert acme.accessible(user) == [t for t in targets if acme.check(user, "project:view", t)]
        for target in [*targets, "acme"]:
            perms = acme.permissions(user, target)
            for action in acme.actions():
                if target == "acme" and action not in perms:
                    continue
                assert (action in perms) == acme.check(user, action, target), (user, action)
    assert acme.accessible("diana@example.com", org="acme") == [
        "acme/development",
        "acme/staging",
    ]
    assert acme.accessible("diana@example.com", org="globex") == []


def test_who_can_stays_true_as_users_come_go_and_are_erased() -> None:
    # `who_can` hands out Python strings cached between calls by user id; each must
    # still spell that user's email after users are added, erased and re-added.
    g = ag.Graph()
    g.add_org("acme", owner="owner@x.example")
    g.add_project("acme/app", default_role="viewer")

    def expected() -> list[str]:
        return sorted(u.email for u in g.users() if g.check(u.email, "project:view", "acme/app"))

    def answer() -> list[str]:
        got = g.who_can("project:view", "acme/app")
        assert all(type(e) is str for e in got)
        assert got == expected()
        return got

    for u in ("bob@x.example", "carol@x.example", "dan@x.example"):
        g.add_member(u, "acme")
    assert answer() == ["bob@x.example", "carol@x.example", "dan@x.example", "owner@x.example"]
    assert answer() == answer()  # served from the cache
    pseudonym = g.erase_user("carol@x.example", actor=None, reason="gdpr")
    assert answer() == ["bob@x.example", "dan@x.example", "owner@x.example"]
    assert pseudonym not in answer()
    # The email comes back as a new user (a new id); the erased id keeps its pseudonym.
    g.add_member("Carol@X.example", "acme")
    g.add_member("aaron@x.example", "acme")
    assert answer() == [
        "aaron@x.example",
        "bob@x.example",
        "carol@x.example",
        "dan@x.example",
        "owner@x.example",
    ]
    g.remove_member("bob@x.example", "acme", actor=None)
    assert answer() == ["aaron@x.example", "carol@x.example", "dan@x.example", "owner@x.example"]
    # A graph loaded from this one's snapshot numbers its users afresh: its own cache.
    copy = ag.Graph.from_json(g.to_json())
    assert copy.who_can("project:view", "acme/app") == answer()


def test_check_many_matches_check(acme: ag.Graph) -> None:
    queries = [
        (u.email, a, t)
        for u in acme.users()
        for a in ("project:view", "insight:create", "org:view")
        for t in ("acme/production", "acme/staging", "acme/zzz")
    ]
    assert acme.check_many(queries) == [acme.check(*q) for q in queries]
    assert acme.check_many(iter(queries[:3])) == [acme.check(*q) for q in queries[:3]]
    assert acme.check_many([], at="2030-01-01") == []
    later = acme.check_many(queries, at="2024-07-01")
    assert later == [acme.check(*q, at="2024-07-01") for q in queries]
    with pytest.raises(TypeError, match=r"queries\[1\]"):
        acme.check_many([queries[0], ("a", "b")])  # type: ignore[list-item]
    with pytest.raises(ag.UnknownActionError):
        acme.check_many([("alice@example.com", "nope:nope", "acme")])


def test_require_raises_with_the_decision(acme: ag.Graph) -> None:
    with pytest.raises(ag.PermissionDenied) as info:
        acme.require("evan@example.com", "insight:view", "acme/production")
    assert info.value.decision is not None
    assert info.value.decision.allowed is False
    assert str(info.value) == info.value.decision.reason
    acme.require("jane@example.com", "project:delete", "acme/staging")


def test_listings_and_value_objects(acme: ag.Graph) -> None:
    assert [o.slug for o in acme.orgs()] == ["acme"]
    assert acme.orgs()[0].name == "Acme Corp"
    prod = acme.project("acme/production")
    assert (prod.org, prod.slug, prod.name, prod.environment) == (
        "acme",
        "production",
        "Production",
        "production",
    )
    assert prod.restricted and prod.pii and prod.default_role is None
    assert [p.id for p in acme.projects()] == [
        "acme/development",
        "acme/production",
        "acme/staging",
    ]
    assert prod == acme.projects("acme")[1] and hash(prod) == hash(acme.projects("acme")[1])
    assert prod != acme.projects("acme")[0]
    members = {m.user: m for m in acme.members("acme")}
    c = members["consultant@agency.com"]
    assert c.external and c.expires == datetime(2024, 6, 1, tzinfo=UTC)
    assert c.granted_by == "alice@example.com" and c.title == "Marketing Consultant"
    assert c.granted_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert members["jane@example.com"].granted_by is None
    grants = acme.grants(user="charlie@example.com")
    assert [(g.target, g.role) for g in grants] == [
        ("acme/development", "member"),
        ("acme/production", "viewer"),
    ]
    assert [g.user for g in acme.grants(target="acme/*")] == [
        "ceo@example.com",
        "diana@example.com",
    ]
    assert acme.user("CEO@example.com").title == "CEO"
    assert acme.user("ceo@example.com").orgs == ["acme"]
    assert "Grant(user='charlie@example.com'" in repr(grants[0])
    assert repr(acme) == "<Graph orgs=1 projects=3 users=9>"
    with pytest.raises(ag.NotFoundError, match=r"nobody@example\.com"):
        acme.user("nobody@example.com")
    with pytest.raises(ag.NotFoundError):
        acme.members("globex")


def test_access_matrix_table(acme: ag.Graph) -> None:
    table = acme.access_matrix("acme")
    assert table.columns[:4] == ("user", "org", "org_role", "project")
    rows = list(table)
    charlie = [r for r in rows if r["user"] == "charlie@example.com"]
    assert [(r["project"], r["project_role"], r["source"]) for r in charlie] == [
        ("acme/development", "member", "explicit_member"),
        ("acme/production", "viewer", "explicit_member"),
    ]
    evan = [r for r in rows if r["user"] == "evan@example.com"]
    assert evan == [
        {
            "user": "evan@example.com",
            "org": "acme",
            "org_role": "member",
            "project": None,
            "project_role": None,
            "source": None,
            "expires": None,
            "reason": None,
        }
    ]
    assert len(table) == len(rows) and table[0] == rows[0] and len(table[:2]) == 2
    assert "<table>" in table._repr_html_() and "charlie@example.com" in table._repr_html_()
    after = acme.access_matrix("acme", at="2024-07-01")
    assert all(r["user"] != "consultant@agency.com" for r in after)
    with pytest.raises(ag.NotFoundError):
        acme.access_matrix("globex")


def test_custom_actions(acme: ag.Graph) -> None:
    acme.define_action("notebook:share", min_role="member", owner_role="viewer")
    acme.define_action("report:schedule", scope="org", min_role="admin")
    assert "notebook:share" in acme.actions()
    assert acme.check("charlie@example.com", "notebook:share", "acme/development")
    assert not acme.check("charlie@example.com", "notebook:share", "acme/production")
    nb = acme.add_resource("acme/production", "notebook", "n1", owner="charlie@example.com")
    assert acme.check("charlie@example.com", "notebook:share", nb)
    assert acme.check("alice@example.com", "report:schedule", "acme")
    assert not acme.check("evan@example.com", "report:schedule", "acme")
    with pytest.raises(ag.ConflictError):
        acme.define_action("notebook:share")
    with pytest.raises(ag.ConflictError):
        acme.define_action("insight:view")
    with pytest.raises(ag.PermissionDenied):
        acme.define_action("x:y", actor="jane@example.com")


def test_roles_accept_str_enums(acme: ag.Graph) -> None:
    acme.add_member("frank@example.com", "acme", role=ag.OrgRole.ADMIN, actor="jane@example.com")
    acme.grant("evan@example.com", "acme/staging", ag.ProjectRole.ADMIN, actor="alice@example.com")
    assert acme.role("frank@example.com", "acme") == "admin"
    assert acme.role("evan@example.com", "acme/staging") == ag.ProjectRole.ADMIN


def test_repr_html_of_graph_and_decision(acme: ag.Graph) -> None:
    html = acme._repr_html_()
    assert "<table>" in html and "acme" in html
    d = acme.explain("charlie@example.com", "insight:view", "acme/production")
    assert "allowed" in d._repr_html_()
    assert repr(d).startswith("Decision(allowed=True")


def test_access_matrix_to_pandas(acme: ag.Graph) -> None:
    df = acme.access_matrix("acme").to_pandas()
    assert list(df.columns) == list(acme.access_matrix("acme").columns)
    assert len(df) == len(acme.access_matrix("acme"))
    charlie = df[df["user"] == "charlie@example.com"]
    assert sorted(charlie["project"]) == ["acme/development", "acme/production"]


def test_nobody_changes_their_own_role(acme: ag.Graph) -> None:
    with pytest.raises(ag.PermissionDenied, match="their own org role"):
        acme.set_org_role("charlie@example.com", "acme", "admin", actor="charlie@example.com")
    with pytest.raises(ag.PermissionDenied, match="their own org role"):
        acme.set_org_role("alice@example.com", "acme", "member", actor="alice@example.com")
