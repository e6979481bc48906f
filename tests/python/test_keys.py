"""API keys (SPEC 2.4, the key rows of SPEC 2.3, the API-key rules of SPEC 9) through the
built wheel: personal keys narrowed by scopes, projects and expiry; rotation and
revocation at once; project keys; principals in check/require/explain/check_many; secrets
that never reach an export, a repr, the audit log or the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import readme_block

import accessgraph as ag

OWNER = "jane@example.com"
ADMIN = "alice@example.com"
DEV = "charlie@example.com"
VIEWER = "ceo@example.com"


def graph(path: Path | None = None) -> ag.Graph:
    g = ag.Graph() if path is None else ag.Graph.open(path)
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_org("beta", owner="owner@beta.io")
    g.add_project("acme/web")
    g.add_project("acme/docs")
    g.add_project("acme/prod", restricted=True)
    g.add_project("beta/app")
    g.add_member(ADMIN, "acme", role="admin", actor=OWNER)
    g.add_member(DEV, "acme", actor=ADMIN)
    g.add_member(DEV, "beta", actor=None)
    g.add_member(VIEWER, "acme", actor=ADMIN)
    g.grant(DEV, "acme/web", "member", actor=ADMIN)
    g.grant(DEV, "acme/prod", "viewer", actor=ADMIN)
    g.grant(VIEWER, "acme/*", "viewer", actor=ADMIN)
    return g


def key(g: ag.Graph, user: str = DEV, **kw: object) -> tuple[str, str, ag.Principal]:
    key_id, secret = g.create_personal_key(user, "ci", actor=user, **kw)  # type: ignore[arg-type]
    principal = g.authenticate(secret)
    assert principal is not None
    return key_id, secret, principal


def test_a_key_inherits_its_users_permissions_at_check_time() -> None:
    g = graph()
    key_id, secret, p = key(g)
    assert (p.kind, p.user, p.key_id, p.project) == ("personal", DEV, key_id, None)
    assert key_id.startswith("pk_") and secret.startswith("agp_")
    queries = [
        (action, target)
        for action in ("org:view", "org:manage_roles", "project:view", "insight:create")
        for target in ("acme/web", "acme/prod", "acme/docs", "beta/app")
    ]
    for action, target in queries:
        assert g.check(p, action, target) == g.check(DEV, action, target), (action, target)
    assert any(g.check(DEV, a, t) for a, t in queries)
    assert not g.check(p, "insight:create", "acme/docs")
    g.grant(DEV, "acme/docs", "member", actor=ADMIN)
    assert g.check(p, "insight:create", "acme/docs")
    d = g.explain(p, "insight:create", "acme/docs")
    assert d.allowed and d.user == DEV and d.source == "explicit_member"
    assert d.reason.startswith(f"with API key {key_id} of {DEV}: ")
    g.require(p, "insight:create", "acme/docs")


@pytest.mark.parametrize(
    ("scopes", "action", "allowed"),
    [
        (["insight:view"], "insight:view", True),
        (["insight:view"], "insight:create", False),
        (["insight:*"], "insight:create", True),
        (["insight:*"], "dashboard:create", False),
        (["*"], "dashboard:create", True),
        (["insight:read"], "insight:view", True),
        (["insight:read"], "insight:create", False),
        (["insight:write"], "insight:create", True),
        (["insight:write"], "insight:view", True),
        (["insight:write"], "feature_flag:view", False),
    ],
)
def test_scopes_narrow(scopes: list[str], action: str, allowed: bool) -> None:
    g = graph()
    _, _, p = key(g, scopes=scopes)
    assert g.check(p, action, "acme/web") is allowed
    d = g.explain(p, action, "acme/web")
    assert d.allowed is allowed
    if allowed:
        g.require(p, action, "acme/web")
    else:
        assert d.source == "api_key_scope"
        assert f"`{action}`" in d.reason and "scope" in d.reason
        with pytest.raises(ag.PermissionDenied) as denied:
            g.require(p, action, "acme/web")
        assert denied.value.decision == d


def test_scopes_never_widen_and_are_listed_as_given() -> None:
    g = graph()
    key_id, _, p = key(g, VIEWER, scopes=["*"])
    d = g.explain(p, "insight:create", "acme/web")
    assert not d.allowed and d.source != "api_key_scope"
    (listed,) = g.personal_keys(VIEWER)
    assert (listed.id, listed.scopes, listed.projects) == (key_id, ["*"], None)
    _, _, _ = key(g, DEV)
    assert g.personal_keys(DEV)[0].scopes is None


def test_bad_scopes_and_arguments() -> None:
    g = graph()
    with pytest.raises(ag.ValidationError, match="scopes"):
        g.create_personal_key(DEV, "ci", scopes=[], actor=DEV)
    with pytest.raises(ag.UnknownActionError, match="insight:frobnicate"):
        g.create_personal_key(DEV, "ci", scopes=["insight:frobnicate"], actor=DEV)
    with pytest.raises(ag.UnknownActionError, match="widget:read"):
        g.create_personal_key(DEV, "ci", scopes=["widget:read"], actor=DEV)
    with pytest.raises(ag.ValidationError, match="scopes"):
        g.create_personal_key(DEV, "ci", scopes=["insight"], actor=DEV)
    with pytest.raises(ag.ValidationError, match="scopes"):
        g.create_personal_key(DEV, "ci", scopes="insight:view", actor=DEV)  # type: ignore[arg-type]
    with pytest.raises(ag.ValidationError, match="label"):
        g.create_personal_key(DEV, " ", actor=DEV)
    with pytest.raises(ag.ValidationError, match="expires"):
        g.create_personal_key(DEV, "ci", expires="2024-04-01", actor=DEV)
    with pytest.raises(ag.NotFoundError, match="acme/nowhere"):
        g.create_personal_key(DEV, "ci", projects=["acme/nowhere"], actor=DEV)
    with pytest.raises(ag.NotFoundError):
        g.rotate_personal_key("pk_nope", actor=DEV)
    with pytest.raises(ag.NotFoundError):
        g.revoke_personal_key("pk_0000000000000000", actor=DEV)
    with pytest.raises(ag.NotFoundError):
        g.personal_key("pk_nope")
    with pytest.raises(TypeError, match="Principal"):
        g.check(42, "insight:view", "acme/web")  # type: ignore[arg-type]
    assert g.personal_keys() == []


def test_project_restriction() -> None:
    g = graph()
    _, _, p = key(g, projects=["acme/web"])
    assert g.check(p, "insight:create", "acme/web")
    assert g.check(DEV, "project:view", "acme/prod")
    d = g.explain(p, "project:view", "acme/prod")
    assert not d.allowed and d.source == "api_key_scope"
    assert "acme/web" in d.reason
    for target in ("acme", "acme/web"):
        d = g.explain(p, "org:view", target)
        assert not d.allowed and d.source == "api_key_scope" and "org-scoped" in d.reason
    assert g.personal_keys(DEV)[0].projects == ["acme/web"]


def test_expiry_follows_the_graph_clock() -> None:
    g = graph()
    key_id, secret, p = key(g, expires="2024-05-08")
    assert g.check(p, "insight:view", "acme/web", at="2024-05-07T23:59:59Z")
    assert not g.check(p, "insight:view", "acme/web", at="2024-05-08")
    g.set_time("2024-05-09")
    assert g.authenticate(secret) is None
    (listed,) = g.personal_keys(DEV)
    assert listed.id == key_id and listed.expired and not listed.active
    assert str(listed.expires) == "2024-05-08 00:00:00+00:00"


def test_rotation_invalidates_the_old_secret_at_once() -> None:
    g = graph()
    key_id, old, before = key(g)
    g.set_time("2024-05-02")
    new = g.rotate_personal_key(key_id, actor=DEV)
    assert new != old and new.startswith("agp_")
    assert g.authenticate(old) is None
    assert not g.check(before, "insight:view", "acme/web")
    assert "no longer valid" in g.explain(before, "insight:view", "acme/web").reason
    after = g.authenticate(new)
    assert after is not None and after.key_id == key_id
    assert g.check(after, "insight:view", "acme/web")
    listed = g.personal_key(key_id)
    assert str(listed.created_at) == "2024-05-01 00:00:00+00:00"
    assert str(listed.rotated_at) == "2024-05-02 00:00:00+00:00"
    assert listed.mask == f"agp_...{new[-4:]}"


def test_revocation() -> None:
    g = graph()
    key_id, secret, p = key(g)
    g.revoke_personal_key(key_id, actor=DEV)
    assert g.authenticate(secret) is None
    assert not g.check(p, "insight:view", "acme/web")
    assert g.personal_keys(DEV) == []
    (revoked,) = g.personal_keys(DEV, include_revoked=True)
    assert revoked.revoked and revoked.revoked_at is not None and not revoked.active
    n = len(g.audit)
    g.revoke_personal_key(key_id, actor=DEV)  # again: nothing changes
    assert len(g.audit) == n
    with pytest.raises(ag.ConflictError, match="revoked"):
        g.rotate_personal_key(key_id, actor=DEV)


def test_authority() -> None:
    g = graph()
    for actor in (ADMIN, OWNER, VIEWER):
        with pytest.raises(ag.PermissionDenied):
            g.create_personal_key(DEV, "ci", actor=actor)
    key_id, _, _ = key(g)
    n = len(g.audit)
    with pytest.raises(ag.PermissionDenied) as denied:
        g.rotate_personal_key(key_id, actor=VIEWER)
    assert "only its own user" in str(denied.value)
    with pytest.raises(ag.PermissionDenied):
        g.revoke_personal_key(key_id, actor=ADMIN)  # an admin is not an owner
    assert [e.action for e in g.audit][n:] == ["access.denied", "access.denied"]
    assert g.personal_keys(DEV)[0].active
    g.revoke_personal_key(key_id, actor=OWNER)  # an org owner may revoke
    assert g.personal_keys(DEV) == []
    (ev,) = g.audit.events(action="api_key.revoked")
    assert (ev.actor, ev.target, ev.user) == (OWNER, key_id, DEV)
    with pytest.raises(ag.PermissionDenied):
        g.rotate_project_key("acme/web", actor=DEV)
    g.rotate_project_key("acme/web", actor=ADMIN)


def test_a_removed_users_key_is_revoked_and_an_expired_members_key_is_dead() -> None:
    g = graph()
    _, secret, _ = key(g)
    g.remove_member(DEV, "beta", actor=DEV)
    assert g.authenticate(secret) is not None
    g.remove_member(DEV, "acme", actor=ADMIN)
    assert g.authenticate(secret) is None
    assert [e.action for e in g.audit][-2:] == ["member.removed", "api_key.revoked"]
    assert g.audit.events(action="api_key.revoked")[0].details["reason"] == "user left"
    assert g.personal_keys(DEV) == [] and len(g.personal_keys(DEV, include_revoked=True)) == 1

    g = graph()
    key_id, secret, _ = key(g, VIEWER)
    g.update_member(VIEWER, "acme", actor=ADMIN, expires="2024-05-02")
    g.set_time("2024-05-03")
    (listed,) = g.personal_keys(VIEWER)
    assert listed.id == key_id and listed.dead and not listed.revoked and not listed.active
    p = g.authenticate(secret)
    assert p is not None and not g.check(p, "project:view", "acme/web")


def test_project_keys_track_events_on_their_project_only() -> None:
    g = graph()
    token = g.project_key("acme/web")
    assert token.startswith("agc_") and token != g.project_key("acme/docs")
    p = g.authenticate(token)
    assert p is not None
    assert (p.kind, p.user, p.project) == ("project", None, "acme/web")
    assert g.check(p, "event:track", "acme/web")
    for action, target in [
        ("event:track", "acme/docs"),
        ("event:track", "beta/app"),
        ("insight:view", "acme/web"),
        ("feature_flag:manage", "acme/web"),
    ]:
        d = g.explain(p, action, target)
        assert not d.allowed and d.source == "api_key_scope", (action, target)
    with pytest.raises(ag.UnknownActionError):
        g.check(p, "event:frob", "acme/web")
    new = g.rotate_project_key("acme/web", actor=ADMIN)
    assert new != token and g.project_key("acme/web") == new
    assert g.authenticate(token) is None and not g.check(p, "event:track", "acme/web")
    (ev,) = g.audit.events(action="project_key.rotated")
    assert ev.target == "acme/web" and ev.actor == ADMIN
    with pytest.raises(ag.NotFoundError):
        g.project_key("acme/nowhere")


def test_check_many_takes_principals() -> None:
    g = graph()
    _, _, p = key(g, scopes=["insight:read"])
    c = g.authenticate(g.project_key("acme/web"))
    assert c is not None
    queries: list[tuple[str | ag.Principal, str, str]] = [
        (DEV, "insight:create", "acme/web"),
        (p, "insight:create", "acme/web"),
        (p, "insight:view", "acme/web"),
        (c, "event:track", "acme/web"),
        (c, "event:track", "acme/docs"),
    ]
    assert g.check_many(queries) == [True, False, True, True, False]
    assert g.check_many([(DEV, "insight:create", "acme/web")]) == [True]
    with pytest.raises(TypeError):
        g.check_many([(p, 1, "acme/web")])  # type: ignore[list-item]


def test_secrets_appear_nowhere(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = graph(path)
    secrets = []
    for user in (DEV, VIEWER):
        key_id, secret, p = key(g, user, scopes=["insight:read"])
        secrets.append(secret)
        secrets.append(g.rotate_personal_key(key_id, actor=user))
    listed = g.personal_keys(include_revoked=True)
    g.audit.to_jsonl(tmp_path / "audit.jsonl")
    g.audit.to_csv(tmp_path / "audit.csv")
    g.snapshot()
    texts = {
        "to_json": g.to_json(),
        "to_markdown": g.to_markdown("acme"),
        "repr": repr(g) + repr(listed) + repr(p) + repr(list(g.audit)),
        "str": str(listed) + str(p) + str(g.audit.events()),
        "journal": path.read_text(),
        "snapshot": (tmp_path / "access.journal.snapshot").read_text(),
        "jsonl": (tmp_path / "audit.jsonl").read_text(),
        "csv": (tmp_path / "audit.csv").read_text(),
        "details": json.dumps([e.details for e in g.audit]),
    }
    for secret in secrets:
        for where, text in texts.items():
            assert secret not in text, where
            assert secret[4:] not in text, where
    snapshot = json.loads(g.to_json())
    assert {k["id"] for k in snapshot["api_keys"]} == {k.id for k in listed}
    assert all(k["hash"].startswith("sha256$") for k in snapshot["api_keys"])


def test_key_state_survives_journal_reopen_and_json(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    g = graph(path)
    key_id, old, _ = key(g, scopes=["insight:*"], projects=["acme/web"], expires="2025-01-01")
    gone, _, _ = key(g, VIEWER)
    g.set_time("2024-05-02")
    secret = g.rotate_personal_key(key_id, actor=DEV)
    g.revoke_personal_key(gone, actor=OWNER)
    token = g.rotate_project_key("acme/web", actor=OWNER)
    before = g.to_json()
    listed = g.personal_keys(include_revoked=True)
    n = len(g.audit)

    h = ag.Graph.open(path)
    h.set_time("2024-05-02")
    assert h.to_json() == before
    assert len(h.audit) == n
    assert h.personal_keys(include_revoked=True) == listed
    assert h.authenticate(old) is None
    p = h.authenticate(secret)
    assert p is not None and h.check(p, "insight:create", "acme/web")
    assert not h.check(p, "insight:create", "acme/docs")
    assert h.project_key("acme/web") == token
    h.snapshot()
    s = ag.Graph.open(path)  # from the snapshot this time
    s.set_time("2024-05-02")
    assert s.to_json() == before
    assert s.authenticate(secret) is not None and s.authenticate(old) is None

    j = ag.Graph.from_json(before)
    j.set_time("2024-05-02")
    assert j.to_json() == before
    assert j.personal_keys(include_revoked=True) == listed
    assert j.authenticate(secret) is not None and j.authenticate(old) is None
    assert j.project_key("acme/web") == token


def test_the_readme_section_runs_as_written() -> None:
    ns: dict[str, object] = {}
    exec(readme_block("## Using keys", "docs/keys.md"), ns)
    g = ns["g"]
    assert isinstance(g, ag.Graph)
    principal = ns["principal"]
    assert isinstance(principal, ag.Principal) and principal.user == "ci@example.com"
    assert g.check(principal, "insight:view", "acme/web") is False  # revoked since
    (key,) = g.personal_keys("ci@example.com", include_revoked=True)
    assert key.revoked and key.scopes == ["insight:read", "data:export"]
    assert [e.action for e in g.audit][-4:] == [
        "api_key.created",
        "api_key.rotated",
        "api_key.revoked",
        "project_key.rotated",
    ]


def test_erasure_revokes_the_users_keys() -> None:
    g = graph()
    _, secret, _ = key(g)
    g.erase_user(DEV, actor=None, reason="GDPR request")
    assert g.authenticate(secret) is None
    (ev,) = g.audit.events(action="api_key.revoked")
    assert ev.details["reason"] == "user erased"
    actions = [e.action for e in g.audit]
    assert actions[-3:] == ["api_key.revoked", "user.offboarded", "user.erased"]
    assert DEV not in g.to_json()


def test_a_secret_passed_where_a_user_is_expected_is_masked_everywhere() -> None:
    g = graph()
    _, secret, _ = key(g)
    masked = f"agp_...{secret[-4:]}"
    calls = [
        lambda: g.require(secret, "project:view", "acme/web"),
        lambda: g.add_member(secret, "acme", actor=OWNER),
        lambda: g.add_org("gamma", owner=secret),
        lambda: g.grant(secret, "acme/web", "viewer", actor=OWNER),
        lambda: g.revoke(secret, "acme/web", actor=OWNER),
        lambda: g.remove_member(secret, "acme", actor=OWNER),
        lambda: g.set_org_role(secret, "acme", "admin", actor=OWNER),
        lambda: g.update_member(secret, "acme", actor=OWNER, reason="x"),
        lambda: g.add_member("new@example.com", "acme", actor=secret),
        lambda: g.user(secret),
        lambda: g.request_access(secret, "acme/web", "viewer", reason="x"),
        lambda: g.offboard(secret, actor=OWNER),
        lambda: g.create_personal_key(secret, "x", actor=OWNER),
        lambda: g.onboard(secret, "acme", "engineer", actor=OWNER),
        lambda: g.check_many([(secret, "project:view")]),
    ]
    for call in calls:
        with pytest.raises((ag.AccessGraphError, TypeError)) as info:
            call()
        text = f"{info.value} {info.value!r} {info.value.args}"
        assert secret not in text and secret[4:20] not in text, text
    with pytest.raises(ag.PermissionDenied) as denied:
        g.require(secret, "project:view", "acme/web")
    assert denied.value.decision is not None
    assert masked in str(denied.value)
    decision = g.explain(secret, "project:view", "acme/web")
    assert not decision.allowed
    for shown in (decision.user, decision.reason, str(decision), repr(decision)):
        assert secret not in shown and secret[4:20] not in shown, shown
    assert decision.user == masked and masked in decision.reason
    # An ordinary email is shown as it is.
    assert g.explain("nobody@example.com", "project:view", "acme/web").user == (
        "nobody@example.com"
    )
