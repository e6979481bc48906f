"""The SPEC 8 benchmark workload: seeded, deterministic, plain data.

``generate(seed=...)`` returns a :class:`Workload`: organizations, projects, org
memberships and project grants shaped like a PostHog customer base, plus a list of
random ``(user, action, project_id)`` queries, about half of them allowed.

Standard size (SPEC 8): 10 orgs x 20 projects, 10,000 users in 1-2 orgs each, 1-2 owners
and ~5% admins per org, 1-5 project grants per membership, ~10% of members with an
``org/*`` viewer grant, ~5% of memberships and grants expired at :data:`NOW`, 200,000
queries. ``generate(size="large")`` scales to 100,000 users and ~1,000,000 grants (3-10
grants per membership) over the same 10 x 20 shape. ``users=`` and ``queries=`` override
the counts (``generate(users=300, queries=2_000)`` for a smoke run); a :class:`Size`
gives full control.

Expiry is judged at the fixed instant :data:`NOW` (2024-05-01T00:00:00Z): an expired
membership or grant has an expiry in ``(BUILD_TIME, NOW]`` (a few exactly at ``NOW``,
which is expired since access is valid while ``at < expires``); the others have no expiry
or one after ``NOW``. :func:`build_graph` therefore builds with the graph's clock at
:data:`BUILD_TIME` (so that grants to soon-to-expire memberships are legal) and then
freezes it at ``NOW``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from baseline import DictBaseline, effective_roles

if TYPE_CHECKING:
    import accessgraph

__all__ = [
    "ACTION_MIX",
    "BUILD_TIME",
    "BUILD_TIME_ISO",
    "DEFAULT_SEED",
    "NOW",
    "NOW_ISO",
    "SIZES",
    "Grant",
    "Membership",
    "Org",
    "Project",
    "Query",
    "Size",
    "Workload",
    "build_dict_baseline",
    "build_graph",
    "generate",
]

#: The instant every benchmark judges expiry at.
NOW: Final = datetime(2024, 5, 1, tzinfo=UTC)
NOW_ISO: Final = "2024-05-01T00:00:00Z"
#: The graph's clock while the workload is built (before every expiry in the workload).
BUILD_TIME: Final = datetime(2024, 1, 1, tzinfo=UTC)
BUILD_TIME_ISO: Final = "2024-01-01T00:00:00Z"

DEFAULT_SEED: Final = 20240501

#: A query: ``(user email, action, project id)``.
Query = tuple[str, str, str]

ENVIRONMENTS: Final = ("production", "staging", "development")
ORG_SLUGS: Final = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
)
PRODUCTS: Final = ("web", "mobile", "api", "data", "growth", "billing", "search", "ml")

#: Realistic mix of project-scoped actions: ``(action, weight)``. Mostly reads, some
#: creation, a few admin actions.
ACTION_MIX: Final[tuple[tuple[str, int], ...]] = (
    ("project:view", 22),
    ("insight:view", 20),
    ("dashboard:view", 18),
    ("recording:view", 4),
    ("annotation:view", 2),
    ("insight:create", 8),
    ("dashboard:create", 3),
    ("feature_flag:view", 4),
    ("feature_flag:use", 2),
    ("cohort:view", 2),
    ("data:export", 3),
    ("event:track", 2),
    ("experiment:view", 1),
    ("feature_flag:manage", 3),
    ("project:manage_settings", 2),
    ("experiment:manage", 1),
    ("insight:edit", 1),
    ("data:delete", 1),
    ("project:manage_members", 1),
)

# Shape of the random choices (probabilities).
P_TWO_ORGS: Final = 0.5
P_ADMIN: Final = 0.05
P_ORG_WIDE: Final = 0.10
P_EXPIRED: Final = 0.05
P_EXPIRES_LATER: Final = 0.15
P_EXPIRED_AT_NOW: Final = 0.05  # of the expired ones: expires exactly at NOW
P_RESTRICTED_PRODUCTION: Final = 0.5
P_PII_PRODUCTION: Final = 0.3
P_DEFAULT_VIEWER_DEVELOPMENT: Final = 0.25
GRANT_ROLES: Final = ("viewer", "member", "admin")
GRANT_ROLE_WEIGHTS: Final = (40, 45, 15)
# Query targets: a project the user was granted, a project of one of the user's orgs,
# or any project.
P_QUERY_GRANTED: Final = 0.55
P_QUERY_OWN_ORG: Final = 0.35


@dataclass(frozen=True, slots=True)
class Size:
    """The parameters of a workload size."""

    users: int
    orgs: int
    projects_per_org: int
    min_grants: int
    max_grants: int
    queries: int

    def __post_init__(self) -> None:
        if min(self.users, self.orgs, self.projects_per_org) < 1 or self.queries < 0:
            raise ValueError(f"users, orgs and projects_per_org must be positive: {self!r}")
        if not 0 <= self.min_grants <= self.max_grants:
            raise ValueError(f"need 0 <= min_grants <= max_grants: {self!r}")


SIZES: Final[dict[str, Size]] = {
    "standard": Size(
        users=10_000, orgs=10, projects_per_org=20, min_grants=1, max_grants=5, queries=200_000
    ),
    "large": Size(
        users=100_000, orgs=10, projects_per_org=20, min_grants=3, max_grants=10, queries=200_000
    ),
}


@dataclass(frozen=True, slots=True)
class Org:
    """An organization; ``owner`` is the owner named when it is created."""

    slug: str
    name: str
    owner: str


@dataclass(frozen=True, slots=True)
class Project:
    """A project ``org/slug`` with its attributes."""

    id: str
    org: str
    slug: str
    name: str
    environment: str
    restricted: bool
    pii: bool
    default_role: str | None


@dataclass(frozen=True, slots=True)
class Membership:
    """An org membership; owners never expire."""

    user: str
    org: str
    role: str
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class Grant:
    """A project role on ``org/slug`` or on every unrestricted project ``org/*``."""

    user: str
    target: str
    role: str
    expires: datetime | None


@dataclass(slots=True)
class Workload:
    """A generated workload: plain data, in build order."""

    seed: int
    size: str
    now: datetime
    build_time: datetime
    users: list[str]
    orgs: list[Org]
    projects: list[Project]
    memberships: list[Membership]
    grants: list[Grant]
    queries: list[Query]

    def summary(self) -> dict[str, int | str]:
        """Counts for reports."""
        return {
            "seed": self.seed,
            "size": self.size,
            "now": self.now.isoformat(),
            "orgs": len(self.orgs),
            "projects": len(self.projects),
            "restricted_projects": sum(p.restricted for p in self.projects),
            "users": len(self.users),
            "memberships": len(self.memberships),
            "expired_memberships": sum(_expired(m.expires, self.now) for m in self.memberships),
            "grants": len(self.grants),
            "org_wide_grants": sum(g.target.endswith("/*") for g in self.grants),
            "expired_grants": sum(_expired(g.expires, self.now) for g in self.grants),
            "queries": len(self.queries),
        }


def _expired(expires: datetime | None, at: datetime) -> bool:
    return expires is not None and not at < expires


def _expiry(rng: random.Random) -> datetime | None:
    """~5% expired at NOW, ~15% expiring after NOW, the rest without expiry."""
    r = rng.random()
    if r < P_EXPIRED:
        if rng.random() < P_EXPIRED_AT_NOW:
            return NOW
        span = int((NOW - BUILD_TIME).total_seconds()) - 86_400
        return BUILD_TIME + timedelta(seconds=86_400 + rng.randrange(span))
    if r < P_EXPIRED + P_EXPIRES_LATER:
        return NOW + timedelta(seconds=1 + rng.randrange(365 * 86_400))
    return None


def _org_slugs(count: int) -> list[str]:
    if count <= len(ORG_SLUGS):
        return list(ORG_SLUGS[:count])
    return [f"org{i:03d}" for i in range(count)]


def _projects(rng: random.Random, org: str, count: int) -> list[Project]:
    projects = []
    for j in range(count):
        environment = ENVIRONMENTS[j % len(ENVIRONMENTS)]
        k = j // len(ENVIRONMENTS)
        product = PRODUCTS[k % len(PRODUCTS)]
        if k >= len(PRODUCTS):
            product = f"{product}{k // len(PRODUCTS) + 1}"
        production = environment == "production"
        restricted = production and rng.random() < P_RESTRICTED_PRODUCTION
        pii = restricted or (production and rng.random() < P_PII_PRODUCTION)
        default_role = (
            "viewer"
            if environment == "development" and rng.random() < P_DEFAULT_VIEWER_DEVELOPMENT
            else None
        )
        slug = f"{product}-{environment}"
        projects.append(
            Project(
                id=f"{org}/{slug}",
                org=org,
                slug=slug,
                name=f"{product.capitalize()} {environment.capitalize()}",
                environment=environment,
                restricted=restricted,
                pii=pii,
                default_role=default_role,
            )
        )
    return projects


def generate(
    seed: int = DEFAULT_SEED,
    *,
    size: str | Size = "standard",
    users: int | None = None,
    queries: int | None = None,
) -> Workload:
    """Generate the workload of ``size`` for ``seed``.

    ``size`` is a name of :data:`SIZES` (``"standard"``, ``"large"``) or a :class:`Size`;
    ``users`` and ``queries`` override its counts. The same arguments always give the
    same workload.
    """
    if isinstance(size, Size):
        shape, name = size, "custom"
    elif size in SIZES:
        shape, name = SIZES[size], size
    else:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)} or a Size")
    shape = replace(
        shape,
        users=shape.users if users is None else users,
        queries=shape.queries if queries is None else queries,
    )

    rng = random.Random(seed)
    emails = [f"user{i:06d}@example.com" for i in range(shape.users)]
    slugs = _org_slugs(shape.orgs)
    projects_by_org = {slug: _projects(rng, slug, shape.projects_per_org) for slug in slugs}
    orgs, memberships = _memberships(rng, emails, slugs)
    w = Workload(
        seed=seed,
        size=name,
        now=NOW,
        build_time=BUILD_TIME,
        users=emails,
        orgs=orgs,
        projects=[p for slug in slugs for p in projects_by_org[slug]],
        memberships=memberships,
        grants=_grants(rng, memberships, projects_by_org, shape),
        queries=[],
    )
    w.queries = _queries(rng, w, shape.queries)
    return w


def _memberships(
    rng: random.Random, emails: Sequence[str], slugs: Sequence[str]
) -> tuple[list[Org], list[Membership]]:
    """Each user in one or two orgs (no org left empty); 1-2 owners and ~5% admins per org."""
    members_of: dict[str, list[str]] = {slug: [] for slug in slugs}
    org_indexes = range(len(slugs))
    for email in emails:
        k = 2 if len(slugs) > 1 and rng.random() < P_TWO_ORGS else 1
        for i in sorted(rng.sample(org_indexes, k)):
            members_of[slugs[i]].append(email)
    for slug in slugs:
        if not members_of[slug]:
            members_of[slug].append(rng.choice(emails))

    orgs: list[Org] = []
    memberships: list[Membership] = []
    for slug in slugs:
        members = members_of[slug]
        owners = rng.sample(members, min(len(members), rng.randint(1, 2)))
        owner_set = set(owners)
        orgs.append(Org(slug=slug, name=f"{slug.capitalize()} Inc.", owner=owners[0]))
        # The first owner comes first: creating the org makes that membership.
        memberships.extend(Membership(owner, slug, "owner", None) for owner in owners)
        for email in members:
            if email not in owner_set:
                role = "admin" if rng.random() < P_ADMIN else "member"
                memberships.append(Membership(email, slug, role, _expiry(rng)))
    return orgs, memberships


def _grants(
    rng: random.Random,
    memberships: Sequence[Membership],
    projects_by_org: dict[str, list[Project]],
    shape: Size,
) -> list[Grant]:
    """Per membership, ``min_grants..max_grants`` project grants; ~10% get ``org/*`` viewer."""
    grants: list[Grant] = []
    for m in memberships:
        org_projects = projects_by_org[m.org]
        count = min(rng.randint(shape.min_grants, shape.max_grants), len(org_projects))
        for project in rng.sample(org_projects, count):
            role = rng.choices(GRANT_ROLES, GRANT_ROLE_WEIGHTS)[0]
            grants.append(Grant(m.user, project.id, role, _expiry(rng)))
        if rng.random() < P_ORG_WIDE:
            grants.append(Grant(m.user, f"{m.org}/*", "viewer", _expiry(rng)))
    return grants


def _queries(rng: random.Random, w: Workload, count: int) -> list[Query]:
    """Random checks as an application would ask them; about half are allowed.

    The target is a project the user was granted (expired grants included), a project
    of one of the user's orgs, or any project; the action follows :data:`ACTION_MIX`.
    User and project strings are fresh objects (see :func:`_fresh`).
    """
    orgs_of: dict[str, list[str]] = {}
    for m in w.memberships:
        orgs_of.setdefault(m.user, []).append(m.org)
    granted: dict[str, list[str]] = {}
    for g in w.grants:
        if not g.target.endswith("/*"):
            granted.setdefault(g.user, []).append(g.target)
    ids_by_org: dict[str, list[str]] = {}
    for p in w.projects:
        ids_by_org.setdefault(p.org, []).append(p.id)
    project_ids = [p.id for p in w.projects]

    actions = [action for action, _ in ACTION_MIX]
    weights = [weight for _, weight in ACTION_MIX]
    queries: list[Query] = []
    for action in rng.choices(actions, weights, k=count):
        user = rng.choice(w.users)
        r = rng.random()
        user_granted = granted.get(user)
        user_orgs = orgs_of.get(user)
        if r < P_QUERY_GRANTED and user_granted:
            project = rng.choice(user_granted)
        elif r < P_QUERY_GRANTED + P_QUERY_OWN_ORG and user_orgs:
            project = rng.choice(ids_by_org[rng.choice(user_orgs)])
        else:
            project = rng.choice(project_ids)
        queries.append((_fresh(user), action, _fresh(project)))
    return queries


def _fresh(text: str) -> str:
    """An equal string that is a new object, as a request's parsed arguments would be.

    Otherwise every query would share its string objects with the dict keys of the
    baseline, whose lookups would then succeed on identity without comparing characters.
    """
    return text.encode().decode()


def build_graph(w: Workload, *, audit: bool = True) -> accessgraph.Graph:
    """Build ``w`` into an ``accessgraph.Graph`` through the public API (``actor=None``).

    The clock is at :data:`BUILD_TIME` while building and frozen at :data:`NOW` on return.
    ``audit=False`` builds a graph that keeps no audit log (the state alone).
    """
    import accessgraph  # here: generating a workload does not need the package

    g = accessgraph.Graph(audit=audit)
    g.set_time(BUILD_TIME_ISO)
    creators = {(org.owner, org.slug) for org in w.orgs}
    for org in w.orgs:
        g.add_org(org.slug, name=org.name, owner=org.owner)
    for p in w.projects:
        g.add_project(
            p.id,
            name=p.name,
            environment=p.environment,
            restricted=p.restricted,
            pii=p.pii,
            default_role=p.default_role,
        )
    for m in w.memberships:
        if (m.user, m.org) in creators:
            continue
        g.add_member(m.user, m.org, m.role, expires=m.expires)
    for grant in w.grants:
        g.grant(grant.user, grant.target, grant.role, expires=grant.expires)
    g.set_time(NOW_ISO)
    return g


def build_dict_baseline(w: Workload) -> DictBaseline:
    """The SPEC 8 dict baseline: effective roles of ``w`` precomputed at ``w.now``."""
    return DictBaseline(effective_roles(w.projects, w.memberships, w.grants, w.now))
