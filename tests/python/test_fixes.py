"""``Decision.fixes``: how to fix a denial, checked against the reference model.

For random graphs (built in both the engine and ``tests/reference_model.py``, call by
call, with the same outcome each time) and random denied checks:

- every suggested fix, made in a copy by each person in its ``by``, lets the check
  pass, in the engine and in the reference;
- ``by`` is exactly the people the reference lets make it;
- no smaller fix exists: lowering any role in it, or leaving out its main step, fails
  the check in the reference;
- the list is exactly what the rule promises, recomputed here from the reference alone:
  every change that could help (any project grant, org role, adding the user, renewing
  their membership, or a combination), least privilege first, keeping each one that
  someone may make unless a smaller one kept before can be made by all of those people;
  ``impossible`` when none is kept.

    ACCESSGRAPH_LONG_FUZZ=1 pytest tests/python/test_fixes.py     # 500 graphs, not 30
"""

from __future__ import annotations

import copy
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import accessgraph as ag
from accessgraph import AccessGraphError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference_model import CATALOGUE, RefGraph

LONG = os.environ.get("ACCESSGRAPH_LONG_FUZZ", "") not in ("", "0")
T0 = datetime(2024, 5, 1, tzinfo=UTC)
if LONG:
    pytestmark = pytest.mark.timeout(0)  # the suite's 300 s limit is for the default run
USERS = [f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin", "frank")]
QUERY_USERS = [*USERS, "Carol@Example.COM", "zed@example.com", "not-an-email"]
ORGS = ["acme", "globex"]
PROJECTS = [f"{o}/{s}" for o in ORGS for s in ("web", "prod", "data")]
CUSTOM = [
    ("notebook:share", "project", "admin", "viewer"),
    ("billing:view", "org", "admin", None),
    ("dashboard:pin", "project", "member", None),
]
ACTIONS = [name for name, *_ in CATALOGUE] + [name for name, *_ in CUSTOM]
EXPIRIES = [None, None, None, T0 - timedelta(days=1), T0 + timedelta(hours=1), "2024-06-01"]
ORG_RANK = {"member": 1, "admin": 2, "owner": 3}
PROJECT_RANK = {"viewer": 1, "member": 2, "admin": 3}

Step = tuple[str, str | None]  # (kind, role)


def _outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, str | None]:
    try:
        fn(*args, **kwargs)
    except AccessGraphError as e:
        for cls in (ag.ValidationError, ag.NotFoundError, ag.ConflictError, ag.PermissionDenied):
            if isinstance(e, cls):
                return ("raises", cls.__name__)
        return ("raises", type(e).__name__)
    return ("ok", None)


class Pair:
    """The engine and the reference, driven call by call; outcomes must agree."""

    def __init__(self) -> None:
        self.real = ag.Graph()
        self.ref = RefGraph()
        self.log: list[str] = []
        self.both("set_time", T0)

    def both(self, method: str, /, *args: Any, **kwargs: Any) -> None:
        shown = [*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())]
        self.log.append(f"g.{method}({', '.join(shown)})")
        real = _outcome(getattr(self.real, method), *args, **kwargs)
        ref = _outcome(getattr(self.ref, method), *args, **kwargs)
        assert real == ref, f"{self.log[-1]}: engine {real}, reference {ref}\n" + "\n".join(
            self.log
        )


@st.composite
def graphs(draw: st.DrawFn) -> Pair:
    """A random graph: orgs, projects (some restricted, some with a default role),
    memberships (some expired, some expiring), grants, resources, custom actions,
    ``members_can_invite``, and a clock that may have moved on."""
    p = Pair()
    p.both("add_org", "acme", name="Acme", owner=draw(st.sampled_from(USERS)))
    p.both("add_org", "globex", owner=draw(st.sampled_from(USERS)))
    for name, scope, min_role, owner_role in CUSTOM:
        if draw(st.booleans()):
            p.both("define_action", name, scope, min_role, owner_role)
    for pid in PROJECTS:
        if draw(st.integers(0, 4)) == 0:
            continue
        restricted = draw(st.integers(0, 3)) == 0
        default = None if restricted else draw(st.sampled_from([None, None, "viewer", "member"]))
        p.both("add_project", pid, restricted=restricted, default_role=default)
    for user in USERS:
        for org in ORGS:
            if draw(st.integers(0, 2)) == 0:
                continue
            role = draw(st.sampled_from(["member", "member", "admin", "owner"]))
            expires = None if role == "owner" else draw(st.sampled_from(EXPIRIES))
            p.both("add_member", user, org, role, expires=expires)
    for org in ORGS:
        if draw(st.integers(0, 3)) == 0:
            p.both("update_org", org, actor=None, members_can_invite=True)
    for _ in range(draw(st.integers(0, 8))):
        user = draw(st.sampled_from(USERS))
        target = draw(st.sampled_from([*PROJECTS, "acme/*", "globex/*"]))
        role = draw(st.sampled_from(["viewer", "member", "admin"]))
        p.both("grant", user, target, role, expires=draw(st.sampled_from(EXPIRIES)))
    for _ in range(draw(st.integers(0, 3))):
        pid = draw(st.sampled_from(PROJECTS))
        kind = draw(st.sampled_from(["dashboard", "insight", "notebook"]))
        p.both("add_resource", pid, kind, "1", owner=draw(st.sampled_from(USERS)))
    if draw(st.booleans()):
        p.both("set_time", T0 + timedelta(hours=2))
    return p


# ---------------------------------------------------------------- the rule, on the reference


def _org_of(ref: RefGraph, target: str) -> tuple[str, str | None] | None:
    """The org and project of a known target."""
    if target in ref.orgs:
        return target, None
    if target in ref.projects:
        return ref.projects[target].org, target
    if target in ref.resources:
        project = ref.resources[target].project
        return ref.projects[project].org, project
    return None


def _candidates(ref: RefGraph, user: str, org: str, project: str | None) -> list[list[Step]]:
    """Every change of one user's access that could matter, each a list of steps."""
    m = ref.orgs[org].members.get(user)
    grants = [("grant", r) for r in PROJECT_RANK] if project else []
    out: list[list[Step]] = []
    if m is None:
        for role in ORG_RANK:
            out.append([("add_member", role)])
            out.extend([("add_member", role), g] for g in grants)
        return out
    for first in ([], [("renew", None)]):
        if first:
            out.append(first)
        out.extend([*first, g] for g in grants)
        # A fix adds access; it never takes some away (no demotions).
        out.extend([*first, ("org_role", r)] for r in ORG_RANK if ORG_RANK[r] > ORG_RANK[m.role])
    return out


def _grant_expiry(
    ref: RefGraph, user: str, org: str, project: str | None, steps: list[Step], at: Any
) -> datetime | None:
    """The expiry a fix's grant gets: no more time than there is. The membership's when
    it is kept as it is (not added, not renewed), or, when the grant replaces a live one
    (now and at ``at``) that ends sooner, that one's."""
    m = ref.orgs[org].members.get(user)
    first = steps[0][0] if len(steps) > 1 else None
    ends = [m.expires] if m is not None and m.expires is not None and first is None else []
    g = ref.grants.get((user, project)) if project else None
    if g is not None and g.expires is not None and ref.now() < g.expires > ref._at(at):
        ends.append(g.expires)
    return min(ends, default=None)


def _apply(
    g: Any,
    user: str,
    org: str,
    project: str | None,
    steps: list[Step],
    actor: str | None,
    grant_expires: Any,
) -> bool:
    """Make ``steps`` on ``g`` (engine or reference) as ``actor``; False if refused."""
    try:
        for kind, role in steps:
            if kind == "add_member":
                g.add_member(user, org, role, actor=actor)
            elif kind == "renew":
                g.update_member(user, org, actor=actor, expires=None)
            elif kind == "org_role":
                g.set_org_role(user, org, role, actor=actor)
            else:
                g.grant(user, project, role, actor=actor, expires=grant_expires)
    except AccessGraphError:
        return False
    return True


def _privilege(ref: RefGraph, user: str, org: str, steps: list[Step]) -> tuple[int, int, int]:
    m = ref.orgs[org].members.get(user)
    org_rank, grant_rank, extra = (ORG_RANK[m.role] if m else 1), 0, 0
    for kind, role in steps:
        if kind == "add_member":
            org_rank, extra = ORG_RANK[role], 2
        elif kind == "renew":
            extra = 1
        elif kind == "org_role":
            org_rank = ORG_RANK[role]
        else:
            grant_rank = PROJECT_RANK[role]
    return org_rank, grant_rank, extra


def _expected(
    ref: RefGraph, user: str, action: str, target: str, at: Any
) -> list[tuple[list[Step], tuple[str, ...]]] | None:
    """The fixes the rule promises, from the reference alone; ``None``: impossible."""
    where = _org_of(ref, target)
    if where is None or "@" not in user:
        return None
    org, project = where
    passing = []
    for steps in _candidates(ref, user, org, project):
        copy_ = copy.deepcopy(ref)
        expires = _grant_expiry(ref, user, org, project, steps, at)
        if _apply(copy_, user, org, project, steps, None, expires) and copy_.check(
            user, action, target, at=at
        ):
            by = tuple(
                a
                for a in USERS
                if _apply(copy.deepcopy(ref), user, org, project, steps, a, expires)
            )
            passing.append((_privilege(ref, user, org, steps), steps, by))
    passing.sort(key=lambda x: x[0])
    kept: list[tuple[list[Step], tuple[str, ...]]] = []
    for _, steps, by in passing:
        if by and not any(set(k) >= set(by) for _, k in kept):
            kept.append((steps, by))
    return kept or None


def _steps_of(fix: ag.Fix) -> list[Step]:
    return [(r.kind, r.role) for r in fix.requires] + [(fix.kind, fix.role)]


def _lower(steps: list[Step]) -> list[list[Step]]:
    """Every variant of ``steps`` with one role lowered, or with the main step left out."""
    out = [steps[:-1]] if len(steps) > 1 else []
    for i, (kind, role) in enumerate(steps):
        if role is None:
            continue
        ranks = PROJECT_RANK if kind == "grant" else ORG_RANK
        out.extend(
            [*steps[:i], (kind, lower), *steps[i + 1 :]]
            for lower in ranks
            if ranks[lower] < ranks[role]
        )
    return out


def _engine_copy(g: ag.Graph) -> ag.Graph:
    c = ag.Graph.from_json(g.to_json())
    c.set_time(g.now())
    return c


@settings(
    max_examples=500 if LONG else 30,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    # Each example is a whole graph and up to eight denials: shrinking would take minutes,
    # and the failure message carries the calls that built the graph (as the
    # reference fuzzer's does).
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(pair=graphs(), data=st.data())
def test_every_fix_allows_the_check_and_none_is_smaller(pair: Pair, data: st.DataObject) -> None:
    g, ref = pair.real, pair.ref
    targets = [*ORGS, *PROJECTS, "acme/nope", *sorted(ref.resources)]
    denied = []
    for user in QUERY_USERS:
        for target in targets:
            for action in ACTIONS:
                if action not in ref.actions:
                    continue
                try:
                    if not ref.check(user, action, target):
                        denied.append((user, action, target))
                except ag.ValidationError:
                    continue
    picks = data.draw(st.lists(st.sampled_from(denied), min_size=1, max_size=8, unique=True))
    for user, action, target in picks:
        at = data.draw(st.sampled_from([None, None, None, "2024-05-01T01:00:00Z", "2024-06-01"]))
        if at is not None and ref.check(user, action, target, at=at):
            at = None
        context = f"explain({user!r}, {action!r}, {target!r}, at={at!r})\n" + "\n".join(pair.log)
        d = g.explain(user, action, target, at=at)
        assert not d.allowed, context
        assert d.fixes, context
        assert d.fixes[0].reason in d.reason, context
        expected = _expected(ref, user.lower(), action, target, at)
        if expected is None:
            assert [f.kind for f in d.fixes] == ["impossible"], f"{d.fixes}\n{context}"
            assert d.fixes[0].by == () and d.fixes[0].target is None
            continue
        got = [(_steps_of(f), f.by) for f in d.fixes]
        assert got == expected, f"engine {got}\nreference {expected}\n{context}"
        org, project = _org_of(ref, target)  # type: ignore[misc]
        email = user.lower()
        for fix in d.fixes:
            steps = _steps_of(fix)
            assert fix.user == email and fix.reason in str(fix)
            if fix.kind == "grant":
                assert fix.expires == _grant_expiry(ref, email, org, project, steps, at), context
            else:
                assert fix.expires is None, context
            # Sound in the engine: each person in `by` may make it, and then it passes.
            for actor in fix.by:
                c = _engine_copy(g)
                assert _apply(c, email, org, project, steps, actor, fix.expires), (
                    fix,
                    actor,
                    context,
                )
                assert c.check(user, action, target, at=at), (fix, actor, context)
            # Nothing smaller helps, whoever makes it.
            for smaller in _lower(steps):
                r = copy.deepcopy(ref)
                if smaller and _apply(r, email, org, project, smaller, None, fix.expires):
                    assert not r.check(user, action, target, at=at), (fix, smaller, context)


def test_a_viewer_grant_is_the_first_fix_and_names_who_may_grant_it() -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/prod", restricted=True)
    g.add_member("alice@example.com", "acme", "admin")
    g.add_member("bob@example.com", "acme")
    g.add_member("carol@example.com", "acme")
    g.grant("carol@example.com", "acme/prod", "admin")
    d = g.explain("bob@example.com", "insight:view", "acme/prod")
    first = d.fixes[0]
    assert (first.kind, first.target, first.role, first.expires, first.requires) == (
        "grant",
        "acme/prod",
        "viewer",
        None,
        (),
    )
    assert first.by == ("alice@example.com", "carol@example.com", "jane@example.com")
    assert first.reason == (
        "a viewer grant on acme/prod would allow it; alice@example.com, carol@example.com "
        "or jane@example.com may grant it"
    )
    assert d.reason.endswith(" — " + first.reason)
    assert repr(first).startswith(
        "Fix(kind='grant', user='bob@example.com', target='acme/prod', role='viewer', "
        "expires=None, by=("
    )
    # org roles give more than the one project: not suggested when a grant will do
    assert [f.kind for f in d.fixes] == ["grant"]
    with pytest.raises(ag.PermissionDenied) as info:
        g.require("bob@example.com", "insight:view", "acme/prod")
    assert first.reason in str(info.value)
    assert info.value.decision is not None and info.value.decision.fixes == d.fixes
    assert g.explain("jane@example.com", "insight:view", "acme/prod").fixes == ()


def test_outsiders_are_added_first_and_unknown_targets_are_impossible() -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/web", default_role="viewer")
    g.add_project("acme/prod")
    # the default role does the rest: adding them is enough
    [fix] = g.explain("new@example.com", "insight:view", "acme/web").fixes
    assert (fix.kind, fix.target, fix.role, fix.by) == (
        "add_member",
        "acme",
        "member",
        ("jane@example.com",),
    )
    # no default role: adding them, then a grant
    [fix] = g.explain("new@example.com", "insight:create", "acme/prod").fixes
    assert (fix.kind, fix.target, fix.role) == ("grant", "acme/prod", "member")
    [step] = fix.requires
    assert (step.kind, step.target, step.role, step.by) == (
        "add_member",
        "acme",
        "member",
        ("jane@example.com",),
    )
    assert fix.reason.startswith(
        "adding new@example.com to acme as member, then a member grant on acme/prod"
    )
    [fix] = g.explain("new@example.com", "insight:view", "acme/nope").fixes
    assert fix.kind == "impossible" and "acme/nope is not a known" in fix.reason
    [fix] = g.explain("not an email", "insight:view", "acme/web").fixes
    assert fix.kind == "impossible" and "not a valid email" in fix.reason


def test_expired_members_are_renewed_and_grants_end_with_an_expiring_membership() -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/prod")
    g.add_member("old@example.com", "acme", expires="2024-04-01")
    g.add_member("temp@example.com", "acme", expires="2024-06-01", external=True)
    [fix] = g.explain("old@example.com", "org:view", "acme").fixes
    assert (fix.kind, fix.target, fix.role, fix.by) == (
        "renew",
        "acme",
        None,
        ("jane@example.com",),
    )
    [fix] = g.explain("temp@example.com", "insight:view", "acme/prod").fixes
    assert fix.kind == "grant" and fix.expires == datetime(2024, 6, 1, tzinfo=UTC)
    assert "until 2024-06-01" in fix.reason


def test_a_key_that_refuses_by_itself_cannot_be_fixed_by_access() -> None:
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/prod")
    g.add_member("bob@example.com", "acme")
    _, secret = g.create_personal_key(
        "bob@example.com", label="ci", scopes=["insight:read"], actor="bob@example.com"
    )
    key = g.authenticate(secret)
    assert key is not None
    [fix] = g.explain(key, "insight:create", "acme/prod").fixes
    assert fix.kind == "impossible" and "API key" in fix.reason
    # the key lets it through; the user lacks the role: their fixes
    [fix] = g.explain(key, "insight:view", "acme/prod").fixes
    assert (fix.kind, fix.role, fix.user) == ("grant", "viewer", "bob@example.com")


def test_owner_only_actions_are_fixed_by_owners() -> None:
    g = ag.Graph()
    g.set_time(date(2024, 5, 1))
    g.add_org("acme", owner="jane@example.com")
    g.add_member("alice@example.com", "acme", "admin")
    [fix] = g.explain("alice@example.com", "billing:manage", "acme").fixes
    assert (fix.kind, fix.role, fix.by) == ("org_role", "owner", ("jane@example.com",))
    assert fix.reason == ("the org role owner in acme would allow it; jane@example.com may give it")
