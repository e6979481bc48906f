"""The cedarpy contestant of SPEC 8: the same project-role semantics as Cedar policies.

Usage::

    python benchmarks/peer_cedar.py [--users N] [--queries N] [--seed N]
                                    [--repeat N] [--slice-queries N]

``build(w)`` turns a :class:`workload.Workload` into a Cedar schema, a policy set and an
entity store, and returns a :class:`CedarContestant` whose ``check`` / ``check_many``
ask cedarpy (``is_authorized`` / ``is_authorized_batch``). The ``__main__`` block builds
accessgraph and the contestant from the same workload, verifies that every query gets
the same answer from both (exit 1 on any mismatch), and reports the mean time per check.

Modelling (SPEC 1.5, 2.1; docs/semantics.md)
--------------------------------------------
Cedar evaluates policies over an entity store and cannot join: a policy can only follow
attributes, ``in`` edges and tags from the request's principal / action / resource. The
data a check needs is the pair (user, project), so it is kept where a policy reaches it:

- ``User::"<email>"`` carries one **entity tag** per org membership and per grant: the tag
  key is the org slug (membership) or the grant target (``acme/web-production``,
  ``acme/*``; slugs contain no ``/``, so the keys never collide), the value
  ``{role: String, expires?: Long}``. Tags (stable since Cedar 4.2) are Cedar's
  mechanism for key/value data looked up by a *computed* key -
  ``principal.getTag(resource.project_id)`` - which records and entity attributes do not
  allow. Role-group entities (``Group::"acme/web-production#member"`` as a parent of the
  user) were the alternative, but an ``in`` edge cannot carry an expiry, so Cedar could
  not judge expiry itself; per-grant policies (one ``permit`` with the expiry in its
  ``when``) would make every request scan ~50,000 policies.
- ``Project::"<org>/<slug>"`` (parent ``Org::"<org>"``) has ``org`` and ``org_wide``
  (the tag keys of its org membership and of the ``org/*`` grant), ``project_id``,
  ``restricted`` and, when set, ``default_role``.
- The action catalogue lives in the schema: every project-scoped action of
  :data:`baseline.MIN_RANK` is in the action group of its minimum role, and the groups
  nest ``role:viewer`` in ``role:member`` in ``role:admin`` - what a viewer may do a member
  and an admin may do too. A policy "grant role R allows the actions of ``role:R``"
  is then a plain ``action in Action::"role:R"`` scope.
- Expiry is judged **by Cedar at request time**: instants are Long epoch microseconds
  (accessgraph's precision), the request context carries ``now``, and a membership or
  grant counts while ``!(t has expires && t.expires <= context.now)``, i.e. ``now < expires``.
- Policies: one ``forbid`` for SPEC 1.5 step 1 (no unexpired membership in the project's
  org => no access, whatever else permits), one ``permit`` for org owners/admins (admin on
  every project of the org, restricted ones included), and per project role one
  ``permit`` each for an explicit grant, an ``org/*`` grant (not on restricted projects)
  and the project's default role (not on restricted projects). ``@id`` annotations name
  the source as ``Decision.source`` does. The policies type-check against the schema
  (``validate_policies`` at build).

Entities per request: by default every check passes one pre-parsed
``cedarpy.Entities`` handle holding the whole store (users, orgs, projects and the
schema's actions), parsed once at build - what a long-running service holding its
authorization data in memory does, as accessgraph does, and the fastest honest way to
call cedarpy >= 4.12 (passing entities as a list or JSON re-parses them on every call).
``build(w, per_request_entities=True)`` instead parses, per call, only the entities the
request needs (the user and the project records) on top of a stable pre-parsed base
(orgs and actions), via ``Entities.with_added_json_str`` - the shape of a deployment that
loads the principal's record from a database or cache per request; ``__main__`` reports
that figure too.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import cedarpy
import workload
from baseline import MIN_RANK
from workload import Query, Workload

__all__ = ["CedarContestant", "build", "epoch_us", "policies_text", "schema_text"]

#: Project roles, lowest first; each has an action group ``role:<role>``.
PROJECT_ROLES: Final = ("viewer", "member", "admin")
ROLE_OF_RANK: Final[dict[int, str]] = {rank: role for rank, role in enumerate(PROJECT_ROLES, 1)}
#: Org roles that imply the project role ``admin`` on every project of the org.
ORG_ADMIN_ROLES: Final = ("owner", "admin")

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US: Final = timedelta(microseconds=1)

MAX_EXAMPLES: Final = 10


def epoch_us(when: datetime) -> int:
    """``when`` (aware, or naive = UTC) as integer microseconds since the Unix epoch."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // ONE_US


def schema_text(min_rank: dict[str, int] = MIN_RANK) -> str:
    """The Cedar schema: entity types, tag type and the action catalogue."""
    lines = [
        "entity Org;",
        "entity Project in [Org] {",
        "  org: String,",
        "  org_wide: String,",
        "  project_id: String,",
        "  restricted: Bool,",
        "  default_role?: String,",
        "};",
        "// Tags: key = org slug (membership) or grant target; value = role and expiry.",
        "entity User tags { role: String, expires?: Long };",
        'action "role:admin";',
        'action "role:member" in ["role:admin"];',
        'action "role:viewer" in ["role:member"];',
    ]
    for action, rank in sorted(min_rank.items()):
        lines.append(
            f'action "{action}" in ["role:{ROLE_OF_RANK[rank]}"] appliesTo '
            "{ principal: User, resource: Project, context: { now: Long } };"
        )
    return "\n".join(lines) + "\n"


def _unexpired(tag: str) -> str:
    """Cedar: the tag ``tag`` (an expression) is valid at ``context.now``."""
    return f"!({tag} has expires && {tag}.expires <= context.now)"


def policies_text() -> str:
    """The Cedar policies of SPEC 1.5 over the schema of :func:`schema_text`."""
    membership = "principal.getTag(resource.org)"
    grant = "principal.getTag(resource.project_id)"
    org_wide = "principal.getTag(resource.org_wide)"
    admin_roles = ", ".join(f'"{role}"' for role in ORG_ADMIN_ROLES)
    parts = [
        "// SPEC 1.5 step 1: no unexpired membership in the project's org => no access.",
        '@id("membership_required")',
        'forbid (principal is User, action in Action::"role:admin", resource is Project)',
        "unless {",
        "  principal.hasTag(resource.org) &&",
        f"  {_unexpired(membership)}",
        "};",
        "",
        "// Org owners and admins: admin on every project of the org, restricted included.",
        '@id("organization_admin")',
        'permit (principal is User, action in Action::"role:admin", resource is Project)',
        "when {",
        "  principal.hasTag(resource.org) &&",
        f"  [{admin_roles}].contains({membership}.role)",
        "};",
    ]
    for role in PROJECT_ROLES:
        scope = f'permit (principal is User, action in Action::"role:{role}", resource is Project)'
        parts += [
            "",
            f"// An unexpired {role} grant on the project.",
            f'@id("explicit_member:{role}")',
            scope,
            "when {",
            "  principal.hasTag(resource.project_id) &&",
            f'  {grant}.role == "{role}" &&',
            f"  {_unexpired(grant)}",
            "};",
            "",
            f"// An unexpired {role} grant on org/*: not on restricted projects.",
            f'@id("org_wide_grant:{role}")',
            scope,
            "when {",
            "  !resource.restricted &&",
            "  principal.hasTag(resource.org_wide) &&",
            f'  {org_wide}.role == "{role}" &&',
            f"  {_unexpired(org_wide)}",
            "};",
            "",
            f"// The project's default role {role} (restricted projects have none).",
            f'@id("default:{role}")',
            scope,
            "when {",
            "  !resource.restricted &&",
            "  resource has default_role &&",
            f'  resource.default_role == "{role}"',
            "};",
        ]
    return "\n".join(parts) + "\n"


EntityJson = dict[str, object]


def _uid(kind: str, id_: str) -> dict[str, str]:
    return {"type": kind, "id": id_}


def _tag(role: str, expires: datetime | None) -> dict[str, object]:
    tag: dict[str, object] = {"role": role}
    if expires is not None:
        tag["expires"] = epoch_us(expires)
    return tag


def entities_json(
    w: Workload,
) -> tuple[list[EntityJson], dict[str, EntityJson], dict[str, EntityJson]]:
    """``(orgs, users by email, projects by id)`` in Cedar's entity JSON format."""
    orgs: list[EntityJson] = [
        {"uid": _uid("Org", org.slug), "attrs": {}, "parents": []} for org in w.orgs
    ]
    projects: dict[str, EntityJson] = {}
    for p in w.projects:
        attrs: dict[str, object] = {
            "org": p.org,
            "org_wide": f"{p.org}/*",
            "project_id": p.id,
            "restricted": p.restricted,
        }
        if p.default_role is not None:
            attrs["default_role"] = p.default_role
        projects[p.id] = {
            "uid": _uid("Project", p.id),
            "attrs": attrs,
            "parents": [_uid("Org", p.org)],
        }
    tags: dict[str, dict[str, dict[str, object]]] = {user: {} for user in w.users}
    for m in w.memberships:
        tags.setdefault(m.user, {})[m.org] = _tag(m.role, m.expires)
    for g in w.grants:  # in build order: granting again replaces (SPEC 1.4)
        tags.setdefault(g.user, {})[g.target] = _tag(g.role, g.expires)
    users: dict[str, EntityJson] = {
        user: {"uid": _uid("User", user), "attrs": {}, "parents": [], "tags": user_tags}
        for user, user_tags in tags.items()
    }
    return orgs, users, projects


class CedarContestant:
    """Project-scoped checks answered by cedarpy over the policies of :func:`build`."""

    name: Final = "cedarpy"
    version: Final = importlib.metadata.version("cedarpy")

    def __init__(
        self,
        schema: str,
        policies: str,
        orgs: list[EntityJson],
        users: dict[str, EntityJson],
        projects: dict[str, EntityJson],
        now: datetime,
        *,
        per_request_entities: bool = False,
    ) -> None:
        self.schema = schema
        self.policies = policies
        self.policy_set = cedarpy.PolicySet.from_str(policies)
        self.per_request_entities = per_request_entities
        #: The whole store, parsed once (the schema adds the action entities).
        self.entities = cedarpy.Entities.from_json_str(
            json.dumps([*orgs, *projects.values(), *users.values()]), schema
        )
        #: The stable part for per-request entities: orgs and actions.
        self.base_entities = cedarpy.Entities.from_json_str(json.dumps(orgs), schema)
        # Each user and project record as the JSON a cache would hand back.
        self._user_json = {user: json.dumps(entity) for user, entity in users.items()}
        self._project_json = {pid: json.dumps(entity) for pid, entity in projects.items()}
        self.now_us = epoch_us(now)

    def set_time(self, when: datetime) -> None:
        """Judge expiry at ``when`` from now on (passed to Cedar in each request)."""
        self.now_us = epoch_us(when)

    def _request(self, user: str, action: str, project: str) -> dict[str, object]:
        return {
            "principal": {"type": "User", "id": user},
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Project", "id": project},
            "context": {"now": self.now_us},
        }

    def _slice(self, users: Sequence[str], projects: Sequence[str]) -> cedarpy.Entities:
        """The base plus the records of ``users`` and ``projects`` (unknown ones left out)."""
        records = [self._user_json[u] for u in users if u in self._user_json]
        records += [self._project_json[p] for p in projects if p in self._project_json]
        return self.base_entities.with_added_json_str("[" + ",".join(records) + "]")

    def check(self, user: str, action: str, project: str) -> bool:
        """Whether ``user`` may perform the project-scoped ``action`` on ``project`` now."""
        entities = self._slice((user,), (project,)) if self.per_request_entities else self.entities
        result = cedarpy.is_authorized(
            self._request(user, action, project), self.policy_set, entities
        )
        return result.allowed

    def check_many(self, queries: Sequence[Query]) -> list[bool]:
        """``check`` for each ``(user, action, project)``, in one ``is_authorized_batch``."""
        if self.per_request_entities:
            entities = self._slice(
                list(dict.fromkeys(q[0] for q in queries)),
                list(dict.fromkeys(q[2] for q in queries)),
            )
        else:
            entities = self.entities
        requests = [self._request(u, a, p) for u, a, p in queries]
        results = cedarpy.is_authorized_batch(requests, self.policy_set, entities)
        return [result.allowed for result in results]


def build(w: Workload, *, per_request_entities: bool = False) -> CedarContestant:
    """The Cedar schema, policies and entities of ``w``, judging expiry at ``w.now``."""
    schema = schema_text()
    policies = policies_text()
    validation = cedarpy.validate_policies(policies, schema)
    if not validation.validation_passed:
        raise ValueError(f"policies do not validate: {[str(e) for e in validation.errors]}")
    orgs, users, projects = entities_json(w)
    return CedarContestant(
        schema, policies, orgs, users, projects, w.now, per_request_entities=per_request_entities
    )


# --- benchmark ---------------------------------------------------------------------------

CheckFn = Callable[[str, str, str], bool]


def timed_answers(fn: CheckFn, queries: Sequence[Query]) -> tuple[list[bool], int]:
    """``fn`` on every query with the garbage collector paused: answers and time (ns)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        answers = [fn(u, a, p) for u, a, p in queries]
        return answers, time.perf_counter_ns() - start
    finally:
        gc.enable()


def mismatches(
    name: str, queries: Sequence[Query], want: Sequence[bool], got: Sequence[bool]
) -> list[str]:
    """A line per query where ``got`` differs from ``want`` (accessgraph)."""
    if len(got) != len(want):
        return [f"{name}: {len(got)} answers for {len(want)} queries"]
    return [
        f"{name}{q!r}: accessgraph {w}, cedar {g}"
        for q, w, g in zip(queries, want, got, strict=True)
        if w is not g
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=None, help="users (default 10,000)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default 200,000)")
    parser.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=5, help="accessgraph repeats (best)")
    parser.add_argument(
        "--slice-queries",
        type=int,
        default=20_000,
        help="queries checked with per-request entities (0: skip)",
    )
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    w = workload.generate(args.seed, users=args.users, queries=args.queries)
    t1 = time.perf_counter()
    graph = workload.build_graph(w)
    t2 = time.perf_counter()
    cedar = build(w)
    t3 = time.perf_counter()
    sliced = build(w, per_request_entities=True)
    queries = w.queries
    n = len(queries)
    s = w.summary()
    print(
        f"workload (seed {w.seed}): {s['projects']} projects, {s['users']:,} users, "
        f"{s['memberships']:,} memberships, {s['grants']:,} grants, {n:,} queries"
    )
    print(
        f"generate {t1 - t0:.2f} s, build accessgraph {t2 - t1:.2f} s, "
        f"build cedar {t3 - t2:.2f} s ({len(cedar.entities):,} entities, "
        f"{len(cedar.policy_set)} policies; cedarpy {cedar.version})"
    )

    want, _ = timed_answers(graph.check, queries)
    got_one, cedar_ns = timed_answers(cedar.check, queries)
    gc.collect()
    start = time.perf_counter_ns()
    got_many = cedar.check_many(queries)
    many_ns = time.perf_counter_ns() - start
    bad = mismatches("check", queries, want, got_one)
    bad += mismatches("check_many", queries, want, got_many)
    k = min(n, args.slice_queries)
    slice_ns = 0
    if k:
        got_slice, slice_ns = timed_answers(sliced.check, queries[:k])
        bad += mismatches("check[per-request entities]", queries[:k], want[:k], got_slice)
    if bad:
        print(f"MISMATCH: {len(bad):,} disagreements with accessgraph", file=sys.stderr)
        for line in bad[:MAX_EXAMPLES]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(
        f"verified: all {n:,} queries agree with accessgraph ({sum(want) / n:.1%} allowed), "
        f"check and check_many" + (f"; per-request entities on {k:,}" if k else "")
    )

    graph_ns = min(timed_answers(graph.check, queries)[1] for _ in range(args.repeat))
    cedar_mean = cedar_ns / n
    graph_mean = graph_ns / n
    print(f"cedar check mean                   {cedar_mean / 1000:9.1f} us")
    print(f"cedar check_many mean              {many_ns / n / 1000:9.1f} us")
    if k:
        print(f"cedar check, per-request entities  {slice_ns / k / 1000:9.1f} us")
    print(f"accessgraph check mean             {graph_mean:9.0f} ns")
    print(f"ratio cedar / accessgraph          {cedar_mean / graph_mean:9.0f} x  (target >= 100)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
