"""Differential fuzzing: the Rust-backed ``accessgraph.Graph`` against the pure-Python
reference model in ``tests/reference_model.py``.

A Hypothesis state machine applies random mutation sequences (valid and invalid, small
pools so that collisions are frequent) to both graphs, checks that each call has the
same outcome (success, or the same exception class), and after every step compares
``check`` / ``role`` / ``permissions`` / ``who_can`` / ``accessible`` over the pools at
several instants around the expiries in use.

    ACCESSGRAPH_LONG_FUZZ=1 pytest tests/python/test_reference.py     # long run
    ACCESSGRAPH_FUZZ_SHRINK=1 pytest tests/python/test_reference.py    # shrink failures

Shrinking is off by default: each step's invariants are expensive, so Hypothesis'
shrinker would take minutes. A failure message carries the whole call sequence
(``g.add_org(...)   # ok`` lines), which replays as-is against ``accessgraph.Graph``.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

# Not guarded: if the package cannot be imported this module errors at collection,
# which fails the run (it must never be skipped).
import accessgraph
from accessgraph import (
    AccessGraphError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    UnknownActionError,
    ValidationError,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference_model import CATALOGUE, RefGraph, to_instant

UTC = UTC
T0 = datetime(2024, 5, 1, tzinfo=UTC)
US = timedelta(microseconds=1)

LONG = os.environ.get("ACCESSGRAPH_LONG_FUZZ", "") not in ("", "0")
SHRINK = os.environ.get("ACCESSGRAPH_FUZZ_SHRINK", "") not in ("", "0")

if LONG or SHRINK:
    pytestmark = pytest.mark.timeout(0)  # the suite's 300 s limit is for the default run

# ------------------------------------------------------------------------- pools
USERS = [f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin", "frank")]
MIXED = "Alice@Example.COM"  # alice, spelled differently
QUERY_USERS = [*USERS, MIXED, "zed@example.com", "not-an-email"]
ORGS = ["acme", "globex"]
SLUGS = ["web", "prod", "data"]
PROJECTS = [f"{o}/{s}" for o in ORGS for s in SLUGS]
CUSTOM_ACTIONS = ["notebook:share", "dashboard:pin", "billing:view"]
BUILTIN_ACTIONS = [name for name, *_ in CATALOGUE]
QUERY_ACTIONS = BUILTIN_ACTIONS + CUSTOM_ACTIONS + ["dashbord:view"]  # last: a typo
FIXED_TARGETS = [*ORGS, "nope", *PROJECTS, "acme/nope", "acme/*"]
UNKNOWN_RESOURCE = "acme/web/dashboard/999"

# expiries in several input forms; the instants they denote are EXPIRY_INSTANTS
EXPIRIES = [
    None,
    None,
    None,
    T0 - timedelta(days=1),  # already past
    datetime(2024, 5, 1, 1, 0),  # naive = UTC, T0 + 1h
    date(2024, 5, 2),  # 00:00 UTC
    "2024-05-15T12:00:00+02:00",  # 10:00Z
    "2024-06-01",
]
EXPIRY_INSTANTS = sorted({to_instant(e) for e in EXPIRIES if e is not None})
# instants the clock may move forward to (one of them exactly an expiry)
CLOCK_STEPS = [
    T0 + timedelta(hours=2),
    "2024-05-02",
    datetime(2024, 5, 20, tzinfo=UTC),
    date(2024, 7, 1),
]

users = st.sampled_from(USERS * 4 + [MIXED, "not an email"])
good_users = st.sampled_from(USERS)
actors = st.sampled_from([None, None, *USERS, MIXED])
orgs = st.sampled_from(ORGS * 8 + ["nope", "Bad Org"])
projects = st.sampled_from(PROJECTS * 4 + ["acme/nope", "Acme/Web"])
grant_targets = st.sampled_from(
    PROJECTS * 3 + ["acme/*", "globex/*"] * 3 + ["acme/nope", "acme/web/x"]
)
org_roles = st.sampled_from(["member", "member", "admin", "admin", "owner"] * 2 + ["superuser"])
project_roles = st.sampled_from(["viewer", "member", "admin"] * 3 + ["boss"])
expiries = st.sampled_from(EXPIRIES * 2 + ["not-a-date"])
default_roles = st.sampled_from([None, None, None, "viewer", "member", "admin"])


def _kind(exc: BaseException) -> str:
    for cls in (
        UnknownActionError,
        ValidationError,
        NotFoundError,
        ConflictError,
        PermissionDenied,
    ):
        if isinstance(exc, cls):
            return cls.__name__
    return type(exc).__name__


def _run(fn, /, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except AccessGraphError as exc:
        return ("raises", _kind(exc))


def _fmt(name, args, kwargs, /) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"g.{name}({', '.join(parts)})"


PLUS2 = timezone(timedelta(hours=2))


def _at_forms(instant: datetime):
    """Just before, at and just after an instant, in the various accepted input forms
    (aware, ISO string, naive = UTC, aware non-UTC, date); both graphs get the same."""
    forms = [instant - US, instant.isoformat(), (instant + US).replace(tzinfo=None)]
    forms.append(instant.astimezone(PLUS2))
    if instant.time() == datetime.min.time():
        forms.append(instant.date())
    return forms


class AccessGraphMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.real = accessgraph.Graph()
        self.ref = RefGraph()
        self.log: list[str] = []
        self.steps = 0
        self._call("set_time", T0)

    # ---------------------------------------------------------------- plumbing
    def _call(self, name, /, *args, **kwargs):
        self.log.append(_fmt(name, args, kwargs))
        real = _run(getattr(self.real, name), *args, **kwargs)
        ref = _run(getattr(self.ref, name), *args, **kwargs)
        self.log[-1] += "   # ok" if ref[0] == "ok" else f"   # raises {ref[1]}"
        if (real[0], real[1] if real[0] == "raises" else None) != (
            ref[0],
            ref[1] if ref[0] == "raises" else None,
        ):
            self.log[-1] += (
                f"   <-- MISMATCH: rust {real[0]} {real[1] if real[0] == 'raises' else ''}".rstrip()
            )
        if real[0] == "raises" or ref[0] == "raises":
            assert real == ref, self._report(f"rust: {real}  reference: {ref}")
        elif name == "add_resource":
            assert real[1] == ref[1], self._report(f"returned {real[1]!r}, reference {ref[1]!r}")
        return ref

    def _report(self, what: str) -> str:
        return "disagreement: " + what + "\nsequence:\n    " + "\n    ".join(self.log)

    def _query(self, name, /, *args, **kwargs):
        real = _run(getattr(self.real, name), *args, **kwargs)
        ref = _run(getattr(self.ref, name), *args, **kwargs)
        if real != ref:
            if real[0] == ref[0] == "ok" and name == "permissions":
                r, m = set(real[1]), set(ref[1])
                detail = f"rust-only {sorted(r - m)}, reference-only {sorted(m - r)}"
            else:
                detail = f"rust: {real!r}  reference: {ref!r}"
            raise AssertionError(self._report(f"{_fmt(name, args, kwargs)} -> {detail}"))
        return ref

    # ---------------------------------------------------------------- setup
    @initialize(data=st.data())
    def populate(self, data):
        """A random but well-populated starting state, built by the system (actor=None)."""
        draw = data.draw
        self._call("add_org", "acme", name="Acme Corp", owner="alice@example.com")
        self._call("add_org", "globex", owner="bob@example.com", actor="bob@example.com")
        for pid in PROJECTS:
            if draw(st.integers(0, 5)) == 0:
                continue
            restricted = draw(st.integers(0, 3)) == 0
            default_role = None if restricted else draw(default_roles)
            self._call("add_project", pid, restricted=restricted, default_role=default_role)
        for user in USERS:
            for org in ORGS:
                if draw(st.integers(0, 2)) == 0:
                    continue
                role = draw(st.sampled_from(["member", "member", "admin", "owner"]))
                expires = None if role == "owner" else draw(st.sampled_from(EXPIRIES))
                self._call("add_member", user, org, role, expires=expires)
        for _ in range(draw(st.integers(0, 6))):
            user = draw(good_users)
            target = draw(st.sampled_from([*PROJECTS, "acme/*", "globex/*"]))
            role = draw(st.sampled_from(["viewer", "member", "admin"]))
            self._call("grant", user, target, role, expires=draw(st.sampled_from(EXPIRIES)))
        for _ in range(draw(st.integers(0, 4))):
            pid = draw(st.sampled_from(PROJECTS))
            kind = draw(st.sampled_from(["dashboard", "insight", "notebook"]))
            self._call(
                "add_resource", pid, kind, draw(st.sampled_from(["1", "2"])), owner=draw(good_users)
            )

    # ---------------------------------------------------------------- mutations
    @rule(org=orgs, owner=users, actor=actors)
    def add_org(self, org, owner, actor):
        self._call("add_org", org, owner=owner, actor=actor)

    @rule(
        pid=projects,
        restricted=st.sampled_from([False, False, True]),
        default_role=default_roles,
        pii=st.booleans(),
        environment=st.sampled_from([None, "production", "staging"]),
        actor=actors,
    )
    def add_project(self, pid, restricted, default_role, pii, environment, actor):
        self._call(
            "add_project",
            pid,
            name=pid.split("/")[-1].title(),
            environment=environment,
            restricted=restricted,
            pii=pii,
            default_role=default_role,
            actor=actor,
        )

    @rule(
        user=users, org=orgs, role=org_roles, actor=actors, expires=expiries, external=st.booleans()
    )
    def add_member(self, user, org, role, actor, expires, external):
        self._call(
            "add_member",
            user,
            org,
            role,
            actor=actor,
            expires=expires,
            external=external,
            reason="fuzz",
            name="Someone",
            title="Engineer",
            reviewed="2024-04-01",
        )

    @rule(user=users, org=orgs, role=org_roles, actor=actors)
    def set_org_role(self, user, org, role, actor):
        self._call("set_org_role", user, org, role, actor=actor)

    @rule(user=users, org=orgs, actor=actors)
    def remove_member(self, user, org, actor):
        self._call("remove_member", user, org, actor=actor)

    @rule(user=good_users, org=orgs)
    def leave(self, user, org):
        self._call("remove_member", user, org, actor=user)

    @rule(
        user=users,
        org=orgs,
        actor=actors,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "expires": expiries,
                "reason": st.sampled_from(["renewed", None]),
                "reviewed": st.sampled_from([date(2024, 4, 1), "2024-04-15"]),
                "external": st.booleans(),
                "title": st.just("CTO"),
                "name": st.sampled_from(["Dave D.", None]),
            },
        ),
    )
    def update_member(self, user, org, actor, changes):
        self._call("update_member", user, org, actor=actor, **changes)

    @rule(user=users, tgt=grant_targets, role=project_roles, actor=actors, expires=expiries)
    def grant(self, user, tgt, role, actor, expires):
        self._call("grant", user, tgt, role, actor=actor, expires=expires, reason="fuzz")

    @rule(user=users, tgt=grant_targets, actor=actors)
    def revoke(self, user, tgt, actor):
        self._call("revoke", user, tgt, actor=actor)

    @rule(data=st.data(), actor=actors)
    def revoke_existing(self, data, actor):
        if self.ref.grants:
            user, target = data.draw(st.sampled_from(sorted(self.ref.grants)))
            self._call("revoke", user, target, actor=data.draw(st.sampled_from([actor, user])))

    @rule(
        pid=projects,
        actor=actors,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "restricted": st.booleans(),
                "default_role": st.sampled_from([None, "viewer", "member", "admin", "boss"]),
                "pii": st.booleans(),
                "name": st.just("Renamed"),
                "retention_days": st.sampled_from([30, None]),
            },
        ),
    )
    def update_project(self, pid, actor, changes):
        self._call("update_project", pid, actor=actor, **changes)

    @rule(pid=projects, actor=actors)
    def remove_project(self, pid, actor):
        self._call("remove_project", pid, actor=actor)

    @rule(
        org=orgs,
        actor=actors,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "members_can_invite": st.sampled_from([True, True, False, "yes"]),
                "name": st.just("Renamed"),
            },
        ),
    )
    def update_org(self, org, actor, changes):
        self._call("update_org", org, actor=actor, **changes)

    @rule(org=orgs, actor=st.sampled_from([None, *USERS]))
    def remove_org(self, org, actor):
        self._call("remove_org", org, actor=actor)

    @rule(
        pid=projects,
        kind=st.sampled_from(
            ["dashboard", "insight", "notebook"] * 3
            + ["feature_flag", "recording", "experiment", "widget"]
        ),
        rid=st.sampled_from(["1", "2"]),
        owner=st.sampled_from([None, None, *USERS]),
        actor=actors,
    )
    def add_resource(self, pid, kind, rid, owner, actor):
        self._call("add_resource", pid, kind, rid, owner=owner, actor=actor)

    @rule(
        name=st.sampled_from(CUSTOM_ACTIONS * 2 + ["insight:edit", "Bad Name"]),
        scope=st.sampled_from(["project", "project", "org"]),
        min_role=st.sampled_from(["viewer", "member", "admin", "owner"]),
        owner_role=st.sampled_from([None, None, "viewer", "member", "admin"]),
    )
    def define_action(self, name, scope, min_role, owner_role):
        self._call("define_action", name, scope, min_role, owner_role)

    @rule(when=st.sampled_from(CLOCK_STEPS))
    def move_clock(self, when):
        if to_instant(when) > self.ref.now():
            self._call("set_time", when)

    # ---------------------------------------------------------------- invariants
    def _instants(self):
        """Expiry instants in use (memberships and grants), each with before/at/after forms."""
        used = set()
        for org in self.ref.orgs.values():
            used.update(m.expires for m in org.members.values() if m.expires is not None)
        used.update(g.expires for g in self.ref.grants.values() if g.expires is not None)
        forms = []
        for e in sorted(used):
            forms.extend(_at_forms(e))
        return forms

    def _targets(self):
        return FIXED_TARGETS + sorted(self.ref.resources) + [UNKNOWN_RESOURCE]

    @invariant()
    def models_agree(self):
        self.steps += 1
        k = self.steps
        targets = self._targets()
        instants = self._instants()
        # the clock the invariants use: the graph's own, plus one rotating expiry-related instant
        rot = instants[k % len(instants)] if instants else None

        # check, the full cross product, at now
        for user in QUERY_USERS:
            for action in QUERY_ACTIONS:
                for target in targets:
                    self._query("check", user, action, target)

        # role at every instant
        for at in [None, *instants]:
            for user in QUERY_USERS:
                for target in targets:
                    self._query("role", user, target, at=at)

        # permissions: at the rotating instant for everyone, at now for a rotating user
        # (at now the full check product above already pins every action down)
        for user in QUERY_USERS[:7]:
            if rot is not None or user == QUERY_USERS[k % 7]:
                for target in targets:
                    self._query("permissions", user, target, at=rot)

        # check at the rotating instant for a rotating slice of actions
        if rot is not None:
            sample = QUERY_ACTIONS[k % 4 :: 4]
            for user in USERS:
                for action in sample:
                    for target in targets:
                        self._query("check", user, action, target, at=rot)

        # who_can for a rotating sample of actions
        sample = [QUERY_ACTIONS[(k * 5 + i) % len(QUERY_ACTIONS)] for i in range(5)]
        sample += ["org:delete", "project:view"]
        for at in [None, rot]:
            for action in sample:
                for target in targets:
                    self._query("who_can", action, target, at=at)

        # accessible
        for user in QUERY_USERS:
            for action in ("project:view", sample[k % 5], "insight:edit"):
                for org in (None, "acme", "globex", "nope"):
                    self._query("accessible", user, action, org=org)
                self._query("accessible", user, action, org=None, at=rot)

    @invariant()
    def every_org_has_an_owner(self):
        for slug, org in self.ref.orgs.items():
            owners = sorted(e for e, m in org.members.items() if m.role == "owner")
            assert owners, f"reference: org {slug} has no owner"
            for at in [None, *self._instants()]:
                got = self.real.who_can("org:delete", slug, at=at)
                assert got == owners, self._report(
                    f"owners of {slug} at {at!r}: rust {got}, reference {owners}"
                )


TestAccessGraphAgainstReference = AccessGraphMachine.TestCase
TestAccessGraphAgainstReference.settings = settings(
    max_examples=1000 if LONG else 25,
    stateful_step_count=50 if LONG else 25,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=list(Phase) if SHRINK else [p for p in Phase if p not in (Phase.shrink, Phase.explain)],
    print_blob=True,
)
