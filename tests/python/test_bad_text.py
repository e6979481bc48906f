"""A ``str`` holding a lone surrogate (``"zq\\ud800xj"``: what ``surrogateescape``
decoding or a bad ``\\u`` escape leaves) has no UTF-8. Every string argument refuses it
with ``ValidationError`` (so ``except ValueError`` still catches it) naming the
argument, the character and its position — never a bare ``UnicodeEncodeError``, never a
half-applied change, never the rest of the value (it may be a secret)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import accessgraph as ag

BAD = "zq\ud800xj"
"""A lone high surrogate at position 2."""
SAID = "not valid text: it holds the lone surrogate '\\ud800' at position "


def _told(e: BaseException) -> str:
    """The exception's message and its notes (pyo3 notes the argument it was reading)."""
    return "\n".join([str(e), *getattr(e, "__notes__", [])])


@pytest.fixture
def g() -> ag.Graph:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/prod", restricted=True)
    g.add_member("bob@example.com", "acme")
    g.grant("bob@example.com", "acme/prod", "viewer", actor="jane@example.com")
    return g


JANE = "jane@example.com"
BOB = "bob@example.com"

# (argument, call): `call(g)` passes BAD as `argument`.
CALLS: list[tuple[str, Callable[[ag.Graph], Any]]] = [
    # queries
    ("user", lambda g: g.check(BAD, "project:view", "acme/prod")),
    ("action", lambda g: g.check(BOB, BAD, "acme/prod")),
    ("target", lambda g: g.check(BOB, "project:view", BAD)),
    ("user", lambda g: g.require(BAD, "project:view", "acme/prod")),
    ("target", lambda g: g.require(BOB, "project:view", BAD)),
    ("user", lambda g: g.explain(BAD, "project:view", "acme/prod")),
    ("action", lambda g: g.explain(BOB, BAD, "acme/prod")),
    ("user", lambda g: g.role(BAD, "acme/prod")),
    ("target", lambda g: g.role(BOB, BAD)),
    ("user", lambda g: g.permissions(BAD, "acme/prod")),
    ("target", lambda g: g.permissions(BOB, BAD)),
    ("action", lambda g: g.who_can(BAD, "acme/prod")),
    ("target", lambda g: g.who_can("project:view", BAD)),
    ("user", lambda g: g.accessible(BAD)),
    ("action", lambda g: g.accessible(BOB, BAD)),
    ("org", lambda g: g.accessible(BOB, org=BAD)),
    ("org", lambda g: g.org(BAD)),
    ("org", lambda g: g.projects(BAD)),
    ("project", lambda g: g.project(BAD)),
    ("org", lambda g: g.members(BAD)),
    ("user", lambda g: g.grants(user=BAD)),
    ("target", lambda g: g.grants(target=BAD)),
    ("email", lambda g: g.user(BAD)),
    ("project", lambda g: g.resources(BAD)),
    ("org", lambda g: g.access_matrix(BAD)),
    ("at", lambda g: g.check(BOB, "project:view", "acme/prod", at=BAD)),
    ("when", lambda g: g.set_time(BAD)),
    ("org", lambda g: g.to_markdown(BAD)),
    ("user", lambda g: g.personal_keys(BAD)),
    ("key_id", lambda g: g.personal_key(BAD)),
    ("project", lambda g: g.project_key(BAD)),
    ("secret", lambda g: g.authenticate(BAD)),
    ("status", lambda g: g.access_requests(BAD)),
    ("org", lambda g: g.review(org=BAD)),
    ("actor", lambda g: g.audit.events(actor=BAD)),
    ("target", lambda g: g.audit.events(target=BAD)),
    # mutations
    ("slug", lambda g: g.add_org(BAD, owner=JANE)),
    ("owner", lambda g: g.add_org("beta", owner=BAD)),
    ("name", lambda g: g.add_org("beta", owner=JANE, name=BAD)),
    ("actor", lambda g: g.add_org("beta", owner=JANE, actor=BAD)),
    ("project", lambda g: g.add_project(BAD)),
    ("name", lambda g: g.add_project("acme/web", name=BAD)),
    ("environment", lambda g: g.add_project("acme/web", environment=BAD)),
    ("default_role", lambda g: g.add_project("acme/web", default_role=BAD)),
    ("settings", lambda g: g.add_project("acme/web", settings={"k": BAD})),
    ("settings", lambda g: g.add_project("acme/web", settings={BAD: 1})),
    ("settings", lambda g: g.add_project("acme/web", settings={"k": [{BAD: 1}]})),
    ("user", lambda g: g.add_member(BAD, "acme")),
    ("org", lambda g: g.add_member("carol@example.com", BAD)),
    ("role", lambda g: g.add_member("carol@example.com", "acme", BAD)),
    ("actor", lambda g: g.add_member("carol@example.com", "acme", actor=BAD)),
    ("reason", lambda g: g.add_member("carol@example.com", "acme", reason=BAD)),
    ("expires", lambda g: g.add_member("carol@example.com", "acme", expires=BAD)),
    ("reviewed", lambda g: g.add_member("carol@example.com", "acme", reviewed=BAD)),
    ("role", lambda g: g.set_org_role(BOB, "acme", BAD, actor=JANE)),
    ("user", lambda g: g.remove_member(BAD, "acme", actor=JANE)),
    ("title", lambda g: g.update_member(BOB, "acme", actor=JANE, title=BAD)),
    ("keyword", lambda g: g.update_member(BOB, "acme", actor=JANE, **{BAD: 1})),
    ("user", lambda g: g.grant(BAD, "acme/prod", "viewer", actor=JANE)),
    ("target", lambda g: g.grant(BOB, BAD, "viewer", actor=JANE)),
    ("role", lambda g: g.grant(BOB, "acme/prod", BAD, actor=JANE)),
    ("actor", lambda g: g.grant(BOB, "acme/prod", "admin", actor=BAD)),
    ("reason", lambda g: g.grant(BOB, "acme/prod", "admin", actor=JANE, reason=BAD)),
    ("user", lambda g: g.revoke(BAD, "acme/prod", actor=JANE)),
    ("target", lambda g: g.revoke(BOB, BAD, actor=JANE)),
    ("actor", lambda g: g.revoke(BOB, "acme/prod", actor=BAD)),
    ("name", lambda g: g.update_project("acme/prod", actor=JANE, name=BAD)),
    ("settings", lambda g: g.update_project("acme/prod", actor=JANE, flag=BAD)),
    ("keyword", lambda g: g.update_org("acme", actor=JANE, **{BAD: 1})),
    ("project", lambda g: g.remove_project(BAD, actor=JANE)),
    ("name", lambda g: g.update_org("acme", actor=JANE, name=BAD)),
    ("org", lambda g: g.remove_org(BAD, actor=JANE)),
    ("kind", lambda g: g.add_resource("acme/prod", BAD, 1)),
    ("id", lambda g: g.add_resource("acme/prod", "dashboard", BAD)),
    ("name", lambda g: g.define_action(BAD)),
    ("min_role", lambda g: g.define_action("report:export", "project", BAD)),
    ("label", lambda g: g.create_personal_key(BOB, BAD, actor=BOB)),
    ("scopes", lambda g: g.create_personal_key(BOB, "ci", scopes=[BAD], actor=BOB)),
    ("projects", lambda g: g.create_personal_key(BOB, "ci", projects=[BAD], actor=BOB)),
    ("key_id", lambda g: g.revoke_personal_key(BAD, actor=JANE)),
    ("user", lambda g: g.offboard(BAD, actor=JANE)),
    ("transfer_to", lambda g: g.offboard(BOB, actor=JANE, transfer_to=BAD)),
    ("email", lambda g: g.erase_user(BAD, actor=JANE, reason="asked")),
    ("reason", lambda g: g.erase_user(BOB, actor=JANE, reason=BAD)),
    ("name", lambda g: g.define_template(BAD)),
    ("org_role", lambda g: g.define_template("ops", org_role=BAD)),
    ("grants", lambda g: g.define_template("ops", grants={BAD: "viewer"})),
    ("grants", lambda g: g.define_template("ops", grants={"prod": BAD})),
    ("template", lambda g: g.onboard("carol@example.com", "acme", BAD, actor=JANE)),
    (
        "projects",
        lambda g: g.onboard("carol@example.com", "acme", "developer", actor=JANE, projects=[BAD]),
    ),
    ("role", lambda g: g.request_access(BOB, "acme/prod", BAD, reason="on call")),
    ("reason", lambda g: g.request_access(BOB, "acme/prod", "admin", reason=BAD)),
    ("request_id", lambda g: g.approve(BAD, actor=JANE)),
    ("reason", lambda g: g.deny("req-1", actor=JANE, reason=BAD)),
    (
        "reviewers",
        lambda g: g.start_campaign("acme", reviewers=[BAD], due="2024-06-01", actor=JANE),
    ),
    ("id", lambda g: g.campaign(BAD)),
    ("actor", lambda g: g.record(BAD, "data.exported", "acme")),
    ("action", lambda g: g.record("system", BAD, "acme")),
    ("details", lambda g: g.record("system", "data.exported", "acme", rows=BAD)),
    # documents
    ("text", lambda g: ag.Graph.from_json(f'{{"format": "accessgraph", "x": "{BAD}"}}')),
    ("text", lambda g: ag.Graph.from_markdown(f"# {BAD} Access Registry\n")),
    ("org", lambda g: ag.Graph.from_markdown("# Acme Access Registry\n", org=BAD)),
    ("text", lambda g: ag.Graph.from_csv(f"user,org,org_role\n{BAD},acme,member\n")),
    ("text", lambda g: g.what_if(f"# {BAD} Access Registry\n")),
    ("members", lambda g: g.posthog_report(f'[{{"user": {{"email": "{BAD}"}}}}]', org="acme")),
    (
        "projects",
        lambda g: ag.Graph.from_posthog("[]", org="acme", projects={"Prod": f'["{BAD}"]'}),
    ),
]


@pytest.mark.parametrize(
    ("argument", "call"),
    CALLS,
    ids=[f"{i}-{arg}" for i, (arg, _) in enumerate(CALLS)],
)
def test_a_lone_surrogate_is_a_validation_error_naming_the_argument(
    g: ag.Graph, argument: str, call: Callable[[ag.Graph], Any]
) -> None:
    before = g.to_json()
    events = len(g.audit)
    with pytest.raises(ag.ValidationError) as info:
        call(g)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ag.AccessGraphError)
    assert not isinstance(info.value, UnicodeError)
    message = str(info.value)
    assert SAID in message, message
    # Counted in the argument; a document's text says where in the document.
    assert message.endswith(" 2") or argument in ("text", "members", "projects"), message
    assert argument in _told(info.value), _told(info.value)
    assert "zq" not in message and "xj" not in message, message  # not the value
    # Nothing changed.
    assert g.to_json() == before
    assert len(g.audit) == events


def test_the_argument_is_named_in_the_message_where_the_binding_reads_the_text(
    g: ag.Graph,
) -> None:
    # `user` may be an email or a Principal: the binding reads its text itself.
    with pytest.raises(ag.ValidationError, match=r"^user is not valid text: it holds"):
        g.check("x\udc80@example.com", "project:view", "acme/prod")
    with pytest.raises(ag.ValidationError, match=r"^user is not valid text: .* position 1$"):
        g.role("x\udc80@example.com", "acme")


def test_a_setting_whose_name_is_not_text_is_refused_not_dropped(g: ag.Graph) -> None:
    # The names of `settings=` were read leniently: one that was not a str, or did not
    # encode, was left out without a word and the project made without it.
    with pytest.raises(ag.ValidationError, match=r"^invalid settings `1`: a dict with str keys"):
        g.add_project("acme/web", settings={"ok": 1, 1: 2})  # type: ignore[dict-item]
    with pytest.raises(ag.ValidationError, match=r"^settings is not valid text"):
        g.add_project("acme/web", settings={"ok": 1, BAD: 2})
    assert [p.id for p in g.projects("acme")] == ["acme/prod"]


def test_a_str_argument_is_named_by_pyo3s_note(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError) as info:
        g.check(BOB, "project:view", BAD)
    assert "while processing 'target'" in getattr(info.value, "__notes__", [])


def test_the_position_counts_characters_not_bytes(g: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match=r"'\\udfff' at position 3"):
        g.add_org("é€\U0001f600\udfff", owner=JANE)


def test_text_beyond_the_bmp_is_still_text(g: ag.Graph) -> None:
    # Only a lone surrogate is refused, not a character that UTF-16 writes as a pair.
    g.add_member("carol@example.com", "acme", reason="on call \U0001f600", actor=JANE)
    assert not g.check("carol\U0001f600@example.com", "project:view", "acme/prod")
    assert [m.reason for m in g.members("acme") if m.user == "carol@example.com"] == [
        "on call \U0001f600"
    ]


@pytest.mark.parametrize("query", [(BAD, "project:view", "acme/prod"), (BOB, "project:view", BAD)])
@pytest.mark.parametrize("n", [2, 3000])
def test_check_many_refuses_a_lone_surrogate_with_a_validation_error(
    g: ag.Graph, query: tuple[str, str, str], n: int
) -> None:
    """Short batches are read with the GIL; a long one without it until the chunk
    holding the odd query, which is read with it."""
    batch = [(BOB, "project:view", "acme/prod")] * (n - 1) + [query]
    with pytest.raises(ag.ValidationError, match=SAID.replace("\\", "\\\\")):
        g.check_many(batch)


# (argument, call): `call(g, path)` passes `path`, a file name no file system holds.
PATH_CALLS: list[tuple[str, Callable[[ag.Graph, Path], Any]]] = [
    ("path", lambda g, p: ag.Graph.load(p)),
    ("path", lambda g, p: ag.Graph.load(str(p), format="journal")),
    ("path", lambda g, p: g.import_registry(p)),
    ("path", lambda g, p: g.what_if(p)),
    ("path", lambda g, p: g.save(p)),
    ("path", lambda g, p: g.to_csv(p)),
    ("path", lambda g, p: ag.Graph.open(p)),
    ("snapshot", lambda g, p: ag.Graph.open(p.with_name("ok.journal"), snapshot=p)),
    ("path", lambda g, p: g.snapshot(p)),
    ("old", lambda g, p: ag.upgrade_journal(p, p.with_name("new.journal"))),
    ("new", lambda g, p: ag.upgrade_journal(p.with_name("old.journal"), p)),
    ("path", lambda g, p: ag.AuditLog.load(p)),
    ("path", lambda g, p: g.audit.to_jsonl(p)),
    ("path", lambda g, p: g.audit.to_csv(p)),
    ("path", lambda g, p: g.review().to_html(p)),
]


@pytest.mark.parametrize(
    ("argument", "call"),
    PATH_CALLS,
    ids=[f"{i}-{arg}" for i, (arg, _) in enumerate(PATH_CALLS)],
)
def test_a_path_with_a_lone_surrogate_is_a_validation_error_naming_it(
    g: ag.Graph, tmp_path: Path, argument: str, call: Callable[[ag.Graph, Path], Any]
) -> None:
    before = g.to_json()
    path = tmp_path / f"{BAD}.md"
    with pytest.raises(ag.ValidationError) as info:
        call(g, path)
    assert str(info.value) == (
        f"{argument} is not a valid file name: it holds the lone surrogate '\\ud800' "
        f"at position {len(str(tmp_path)) + 3}"
    )
    assert g.to_json() == before
    assert list(tmp_path.iterdir()) == []


def test_a_path_of_undecodable_bytes_is_a_file_name(g: ag.Graph, tmp_path: Path) -> None:
    # `surrogateescape` decodes the byte 0x80 of a file name as "\udc80": a real file.
    path = tmp_path / "b\udc80d.json"
    g.save(path)
    assert ag.Graph.load(path).to_json() == g.to_json()
