"""The pure-Python baseline of SPEC 8: a dict of precomputed effective project roles.

This is what a Django developer would write to answer "may this user do this in that
project?" without accessgraph: compute every user's effective project role once
(SPEC 1.5, at a fixed instant), keep it in ``roles[user][project] -> rank``, and answer
each check with two ``dict.get`` calls and a compare. It is deliberately generous to
itself: it does not judge expiry at check time, knows nothing about resources, API keys
or custom actions, and must be rebuilt whenever access changes.

The benchmark compares ``accessgraph.Graph.check`` against :meth:`DictBaseline.check`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final, Protocol

#: Project role -> rank; 0 (absent) means no access.
ROLE_RANK: Final[dict[str, int]] = {"viewer": 1, "member": 2, "admin": 3}

#: Org roles that imply the project role ``admin`` on every project of the org.
ORG_ADMIN_ROLES: Final[frozenset[str]] = frozenset({"owner", "admin"})

#: The minimum project role of every built-in project-scoped action (SPEC 2.1), as a
#: rank. The owner-dependent actions (``insight:edit`` ...) need ``admin`` on a
#: project target.
MIN_RANK: Final[dict[str, int]] = {
    action: ROLE_RANK[role]
    for role, actions in {
        "viewer": (
            "project:view",
            "dashboard:view",
            "insight:view",
            "recording:view",
            "annotation:view",
        ),
        "member": (
            "insight:create",
            "dashboard:create",
            "cohort:create",
            "cohort:view",
            "annotation:create",
            "notebook:create",
            "feature_flag:view",
            "feature_flag:use",
            "experiment:view",
            "event:track",
            "data:export",
        ),
        "admin": (
            "insight:edit",
            "insight:delete",
            "dashboard:edit",
            "notebook:edit",
            "dashboard:delete",
            "project:manage_settings",
            "project:invite_member",
            "project:manage_members",
            "feature_flag:manage",
            "experiment:manage",
            "cohort:manage",
            "data:manage_retention",
            "data:delete",
            "project_key:rotate",
        ),
    }.items()
    for action in actions
}


class ProjectLike(Protocol):
    """What the precomputation reads from a project."""

    @property
    def id(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def restricted(self) -> bool: ...
    @property
    def default_role(self) -> str | None: ...


class MembershipLike(Protocol):
    """What the precomputation reads from an org membership."""

    @property
    def user(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def expires(self) -> datetime | None: ...


class GrantLike(Protocol):
    """What the precomputation reads from a project grant (target ``org/slug`` or ``org/*``)."""

    @property
    def user(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def expires(self) -> datetime | None: ...


def _active(expires: datetime | None, at: datetime) -> bool:
    """Access is valid while ``at < expires`` (SPEC 1.5)."""
    return expires is None or at < expires


def effective_roles(
    projects: Iterable[ProjectLike],
    memberships: Iterable[MembershipLike],
    grants: Iterable[GrantLike],
    at: datetime,
) -> dict[str, dict[str, int]]:
    """Every user's effective project role at ``at`` (SPEC 1.5), as ``{user: {project: rank}}``.

    Only roles above "no access" are stored. Granting twice on a target replaces the
    grant, so the last grant per ``(user, target)`` counts.
    """
    projects_of: dict[str, list[ProjectLike]] = {}
    for project in projects:
        projects_of.setdefault(project.org, []).append(project)

    org_role: dict[tuple[str, str], str] = {
        (m.user, m.org): m.role for m in memberships if _active(m.expires, at)
    }

    latest: dict[tuple[str, str], GrantLike] = {}
    for grant in grants:
        latest[(grant.user, grant.target)] = grant

    roles: dict[str, dict[str, int]] = {}
    for (user, org), role in org_role.items():
        user_roles = roles.setdefault(user, {})
        org_projects = projects_of.get(org, [])
        if role in ORG_ADMIN_ROLES:
            for project in org_projects:
                user_roles[project.id] = ROLE_RANK["admin"]
            continue
        org_wide = latest.get((user, f"{org}/*"))
        org_wide_rank = (
            ROLE_RANK[org_wide.role]
            if org_wide is not None and _active(org_wide.expires, at)
            else 0
        )
        for project in org_projects:
            rank = ROLE_RANK[project.default_role] if project.default_role else 0
            if not project.restricted:
                rank = max(rank, org_wide_rank)
            if rank:
                user_roles[project.id] = rank

    for (user, target), grant in latest.items():
        org, _, slug = target.partition("/")
        if slug == "*" or (user, org) not in org_role or not _active(grant.expires, at):
            continue
        user_roles = roles[user]
        rank = ROLE_RANK[grant.role]
        if rank > user_roles.get(target, 0):
            user_roles[target] = rank

    return {user: user_roles for user, user_roles in roles.items() if user_roles}


class DictBaseline:
    """Precomputed effective roles, checked with two ``dict.get`` calls and a compare."""

    __slots__ = ("roles",)

    def __init__(self, roles: dict[str, dict[str, int]]) -> None:
        self.roles = roles

    def check(self, user: str, action: str, project: str) -> bool:
        """Whether ``user`` may perform the project-scoped ``action`` on ``project``."""
        project_roles = self.roles.get(user)
        if project_roles is None:
            return False
        return project_roles.get(project, 0) >= MIN_RANK[action]

    def role_rank(self, user: str, project: str) -> int:
        """The precomputed rank (0 = no access); for diagnostics, not timed."""
        return self.roles.get(user, {}).get(project, 0)
