"""The pycasbin contestant of SPEC 8: the SPEC 8 workload as casbin RBAC with domains.

Usage::

    python benchmarks/peer_casbin.py [--users N] [--queries N] [--seed N] [--repeat N]

(Standard size by default: 10,000 users, 200,000 queries; a few minutes, most of it
pycasbin. ``--users 2000 --queries 20000`` takes seconds.)

:func:`build` turns a :class:`workload.Workload` into an in-memory ``casbin.Enforcer``
(domain = org) that answers ``(user, action, project)`` the way SPEC 1.5 / 2.1 and
``docs/semantics.md`` do for the project-scoped built-in actions. Run as a script, it
generates a workload, builds accessgraph (``workload.build_graph``) and the enforcer,
checks that **every** query gets the same answer from both (exit 1 on any mismatch),
then reports the mean time per check of each and their ratio.

Expiry: casbin has no notion of time. The policy is therefore written as of the fixed
instant :data:`workload.NOW` -- memberships and grants that have expired at ``NOW``
(``not NOW < expires``) are simply left out -- which is what a casbin user would do
(and must redo, i.e. reload the policy, whenever something expires).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version as package_version
from typing import Any, Final

import casbin  # type: ignore[import-untyped]  # pycasbin ships no type information
import workload
from baseline import MIN_RANK, ORG_ADMIN_ROLES, ROLE_RANK
from workload import Query, Workload

__all__ = ["MODEL_TEXT", "CasbinContestant", "build", "policy_lines"]

#: The casbin model. RBAC with domains, the domain being the org:
#:
#: - a request is ``(user email, org slug, project id, action)``;
#: - a policy line ``p, <level>, <action>`` is the action catalogue (SPEC 2.1): the minimum
#:   project role level (``viewer`` / ``member`` / ``admin``) of each project-scoped action;
#: - ``g, <name>, <role>, <org>`` links a user or a role to a role inside the org. Project
#:   roles are named ``<project>:<level>`` (``acme/web:member``); the other roles are
#:   ``<org>:admin`` (org owners and admins), ``<org>:member`` (every org member; carries the
#:   projects' default roles) and ``<org>/*:<level>`` (an ``org/*`` grant), each inheriting
#:   the project roles it implies (see :func:`policy_lines`). ``<project>:admin`` inherits
#:   ``<project>:member``, which inherits ``<project>:viewer``.
#: - the matcher finds the catalogue line of the requested action and asks the role manager
#:   whether the user holds ``<project>:<level>`` in the project's org. The action test
#:   comes first so that ``g`` only runs for the one line that can match.
#:
#: The action catalogue is one line per action, not one per (project, action): pycasbin's
#: ``Enforcer`` evaluates the matcher against every ``p`` line in turn (it has no policy
#: index), so the textbook ``r.obj == p.obj`` model with a line per project and action
#: (200 projects x 30 actions = 6,000 lines) would be a straw man: every check would
#: evaluate the matcher up to 6,000 times instead of about 15.
MODEL_TEXT: Final = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && g(r.sub, r.obj + ":" + p.sub, r.dom)
"""

#: Project role levels, lowest first (admin => member => viewer).
LEVELS: Final[tuple[str, ...]] = tuple(sorted(ROLE_RANK, key=ROLE_RANK.__getitem__))
LEVEL_OF_RANK: Final[dict[int, str]] = {rank: level for level, rank in ROLE_RANK.items()}

MAX_EXAMPLES: Final = 10


def _active(expires: datetime | None, at: datetime) -> bool:
    """Access is valid while ``at < expires`` (SPEC 1.5)."""
    return expires is None or at < expires


def policy_lines(w: Workload) -> list[str]:
    """The casbin policy of ``w`` at ``w.now``, as policy lines (``p, ...`` / ``g, ...``)."""
    lines: list[str] = []
    # The action catalogue: every built-in project-scoped action and its minimum level.
    lines.extend(f"p, {LEVEL_OF_RANK[rank]}, {action}" for action, rank in MIN_RANK.items())

    # Project roles: admin => member => viewer; org owner/admin => admin on every project
    # (restricted included); org/* grants and default roles only on unrestricted projects.
    for p in w.projects:
        lines.append(f"g, {p.id}:admin, {p.id}:member, {p.org}")
        lines.append(f"g, {p.id}:member, {p.id}:viewer, {p.org}")
        lines.append(f"g, {p.org}:admin, {p.id}:admin, {p.org}")
        if not p.restricted:
            lines.extend(f"g, {p.org}/*:{level}, {p.id}:{level}, {p.org}" for level in LEVELS)
            if p.default_role is not None:
                lines.append(f"g, {p.org}:member, {p.id}:{p.default_role}, {p.org}")

    # Users, as of w.now: an expired membership gives nothing (not even through a grant
    # that is still valid), an expired grant is left out.
    members: set[tuple[str, str]] = set()
    for m in w.memberships:
        if not _active(m.expires, w.now):
            continue
        members.add((m.user, m.org))
        lines.append(f"g, {m.user}, {m.org}:member, {m.org}")
        if m.role in ORG_ADMIN_ROLES:
            lines.append(f"g, {m.user}, {m.org}:admin, {m.org}")
    for grant in w.grants:
        org = grant.target.partition("/")[0]
        if (grant.user, org) in members and _active(grant.expires, w.now):
            # grant.target is "org/slug" or "org/*": the role is "<target>:<level>".
            lines.append(f"g, {grant.user}, {grant.target}:{grant.role}, {org}")
    return lines


@dataclass(slots=True)
class CasbinContestant:
    """``check`` / ``check_many`` over a ``casbin.Enforcer``."""

    enforcer: Any  # casbin.Enforcer: untyped
    policy_count: int
    grouping_count: int
    name: str = "pycasbin"
    version: str = field(default_factory=lambda: package_version("pycasbin"))

    def check(self, user: str, action: str, project: str) -> bool:
        """Whether ``user`` may perform the project-scoped ``action`` on ``project``."""
        org = project.partition("/")[0]
        return bool(self.enforcer.enforce(user, org, project, action))

    def check_many(self, queries: Iterable[Query]) -> list[bool]:
        """``check`` for each ``(user, action, project)``, through ``batch_enforce``."""
        requests = [(u, p.partition("/")[0], p, a) for u, a, p in queries]
        batch = getattr(self.enforcer, "batch_enforce", None)
        if batch is None:
            return [bool(self.enforcer.enforce(*r)) for r in requests]
        return [bool(answer) for answer in batch(requests)]

    def warm_up(self, w: Workload) -> None:
        """Build the per-org role managers, which casbin does on an org's first check."""
        first_project: dict[str, str] = {}
        for p in w.projects:
            first_project.setdefault(p.org, p.id)
        for org in w.orgs:
            self.check(org.owner, "project:view", first_project[org.slug])


def build(w: Workload, *, warm: bool = True) -> CasbinContestant:
    """An in-memory enforcer for ``w`` as of ``w.now`` (see :func:`policy_lines`).

    With ``warm`` (the default), one check per org builds the per-org role managers,
    which pycasbin otherwise builds lazily during the first check in each org.
    """
    lines = policy_lines(w)
    model = casbin.Model()
    model.load_model_from_text(MODEL_TEXT)
    # casbin's in-memory adapter: Enforcer.load_policy reads every line, then builds the
    # role links in one go (adding ~60,000 grouping policies one at a time through the
    # management API is quadratic: each add scans the policy list for a duplicate).
    enforcer = casbin.Enforcer(model, casbin.StringAdapter("\n".join(lines)))
    policies = sum(line.startswith("p,") for line in lines)
    contestant = CasbinContestant(enforcer, policies, len(lines) - policies)
    if warm:
        contestant.warm_up(w)
    return contestant


# --- the comparison --------------------------------------------------------------------


def time_loop(check: Callable[[str, str, str], object], queries: Sequence[Query]) -> int:
    """Time (ns) to call ``check`` once per query, with the garbage collector paused."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for user, action, project in queries:
            check(user, action, project)
        return time.perf_counter_ns() - start
    finally:
        gc.enable()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=None, help="users (default 10,000)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default 200,000)")
    parser.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=5, help="accessgraph repeats; best counts")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(v is not None and v < 1 for v in (args.users, args.queries)):
        parser.error("--users, --queries and --repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    w = workload.generate(args.seed, users=args.users, queries=args.queries)
    queries = w.queries
    n = len(queries)
    s = w.summary()
    print(
        f"workload (seed {w.seed}): {s['orgs']} orgs, {s['projects']} projects, "
        f"{s['users']:,} users, {s['memberships']:,} memberships, {s['grants']:,} grants, "
        f"{n:,} queries",
        flush=True,
    )

    t0 = time.perf_counter()
    graph = workload.build_graph(w)
    t1 = time.perf_counter()
    peer = build(w, warm=False)
    t2 = time.perf_counter()
    peer.warm_up(w)
    t3 = time.perf_counter()
    print(
        f"build: accessgraph {t1 - t0:.2f} s; {peer.name} {peer.version} {t2 - t1:.2f} s "
        f"({peer.policy_count} p + {peer.grouping_count:,} g lines) "
        f"+ {t3 - t2:.2f} s for the first check in each org (lazy role managers)",
        flush=True,
    )

    # Verify every query, with enforce and with batch_enforce. The first pass is timed
    # too: it pays casbin's one-off cost of the first request naming a user in an org.
    first_ns = time_loop(peer.check, queries)
    answers = [peer.check(u, a, p) for u, a, p in queries]
    start = time.perf_counter_ns()
    batch = peer.check_many(queries)
    batch_ns = time.perf_counter_ns() - start
    expected = [graph.check(u, a, p) for u, a, p in queries]
    mismatches = [
        i for i in range(n) if not (answers[i] is expected[i] and batch[i] is expected[i])
    ]
    if mismatches:
        print(f"MISMATCH: {len(mismatches):,} of {n:,} queries disagree", file=sys.stderr)
        for i in mismatches[:MAX_EXAMPLES]:
            u, a, p = queries[i]
            print(
                f"  check({u!r}, {a!r}, {p!r}): accessgraph {expected[i]}, "
                f"casbin enforce {answers[i]}, batch_enforce {batch[i]}",
                file=sys.stderr,
            )
        return 1
    print(f"verified: {n:,} queries agree ({sum(expected) / n:.1%} allowed)", flush=True)

    # Steady state: one more enforce pass (casbin is too slow for best-of-N at this size).
    casbin_ns = time_loop(peer.check, queries)
    graph_ns = min(time_loop(graph.check, queries) for _ in range(args.repeat))
    casbin_mean = casbin_ns / n
    graph_mean = graph_ns / n
    print(f"pycasbin enforce (steady)     {casbin_mean / 1000:9,.1f} µs per check")
    print(f"pycasbin enforce (first pass) {first_ns / n / 1000:9,.1f} µs per check")
    print(f"pycasbin batch_enforce        {batch_ns / n / 1000:9,.1f} µs per check")
    print(f"accessgraph check             {graph_mean:9,.0f} ns per check (best of {args.repeat})")
    print(f"ratio pycasbin / accessgraph: {casbin_mean / graph_mean:,.0f} x (target >= 100 x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
