"""Pure-Python reference model of accessgraph's core rules.

Slow and deliberately plain: dicts, dataclasses and loops.  It is an executable
transcription of SPEC.md 1.5 / 2.1 / 2.2 / 2.3 / 9 and docs/semantics.md, used by
``tests/python/test_reference.py`` to cross-check the Rust core.

Only the exception classes are imported from ``accessgraph``; nothing else of the real
implementation is used.

Order of checks in every mutation (docs/semantics.md, "Mutations: order of checks"):
  1. argument validation      -> ValidationError
  2. org / project / resource -> NotFoundError
  3. authority (actor != None)-> PermissionDenied
  4. structural rules         -> ConflictError (revoke of a missing grant: NotFoundError)
A call that raises changes nothing (every mutation validates everything before writing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from accessgraph import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    UnknownActionError,
    ValidationError,
)

__all__ = ["CATALOGUE", "RESOURCE_KINDS", "RefGraph", "to_instant"]

UTC = UTC

# ----------------------------------------------------------------------------------
# Roles
# ----------------------------------------------------------------------------------
ORG_RANK = {"member": 1, "admin": 2, "owner": 3}
PROJECT_RANK = {"viewer": 1, "member": 2, "admin": 3}

RESOURCE_KINDS = (
    "dashboard",
    "insight",
    "feature_flag",
    "cohort",
    "experiment",
    "annotation",
    "notebook",
    "recording",
)

# ----------------------------------------------------------------------------------
# Action catalogue, copied from SPEC 2.1 (owner-dependent ones: semantics.md
# "Owner-dependent built-ins ... have min_role = admin, owner_role = member").
# (name, scope, min_role, owner_role)
# ----------------------------------------------------------------------------------
CATALOGUE = [
    # org-scoped: need the org role
    ("org:view", "org", "member", None),
    ("org:manage_settings", "org", "admin", None),
    ("org:invite_member", "org", "admin", None),  # member too with members_can_invite
    ("org:remove_member", "org", "admin", None),
    ("org:manage_roles", "org", "admin", None),
    ("project:create", "org", "admin", None),
    ("project:delete", "org", "owner", None),
    ("billing:manage", "org", "owner", None),
    ("org:delete", "org", "owner", None),
    ("audit:view", "org", "admin", None),
    # project-scoped: need the effective project role
    ("project:view", "project", "viewer", None),
    ("dashboard:view", "project", "viewer", None),
    ("insight:view", "project", "viewer", None),
    ("recording:view", "project", "viewer", None),
    ("annotation:view", "project", "viewer", None),
    ("insight:create", "project", "member", None),
    ("dashboard:create", "project", "member", None),
    ("cohort:create", "project", "member", None),
    ("cohort:view", "project", "member", None),
    ("annotation:create", "project", "member", None),
    ("notebook:create", "project", "member", None),
    ("feature_flag:view", "project", "member", None),
    ("feature_flag:use", "project", "member", None),
    ("experiment:view", "project", "member", None),
    ("event:track", "project", "member", None),
    ("data:export", "project", "member", None),
    ("insight:edit", "project", "admin", "member"),
    ("insight:delete", "project", "admin", "member"),
    ("dashboard:edit", "project", "admin", "member"),
    ("notebook:edit", "project", "admin", "member"),
    ("dashboard:delete", "project", "admin", "member"),
    ("project:manage_settings", "project", "admin", None),
    ("project:invite_member", "project", "admin", None),
    ("project:manage_members", "project", "admin", None),
    ("feature_flag:manage", "project", "admin", None),
    ("experiment:manage", "project", "admin", None),
    ("cohort:manage", "project", "admin", None),
    ("data:manage_retention", "project", "admin", None),
    ("data:delete", "project", "admin", None),
    ("project_key:rotate", "project", "admin", None),
]


@dataclass(frozen=True)
class ActionDef:
    name: str
    scope: str  # "org" | "project"
    min_role: str
    owner_role: str | None = None

    @property
    def resource(self) -> str:
        return self.name.split(":", 1)[0]


# ----------------------------------------------------------------------------------
# Identifiers
# ----------------------------------------------------------------------------------
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
RESOURCE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
ACTION_PART_RE = re.compile(r"[a-z][a-z0-9_]*")
# Django's EmailValidator (dot-atom local part; domain labels; TLD of 2+ characters)
EMAIL_USER_RE = re.compile(r"[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*", re.I)
EMAIL_DOMAIN_RE = re.compile(
    r"(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+(?:[A-Z0-9-]{2,63}(?<!-))", re.I
)


def _is_slug(value: Any) -> bool:
    return isinstance(value, str) and SLUG_RE.fullmatch(value) is not None


def _email_or_none(value: Any) -> str | None:
    """The lower-cased email, or None when it is not a valid email (Django's rules)."""
    if isinstance(value, Enum):
        value = value.value
    if not isinstance(value, str) or value.count("@") != 1 or len(value) > 320:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    local, domain = value.split("@")
    if not local or not domain or EMAIL_USER_RE.fullmatch(local) is None:
        return None
    # Django's allowlist is exactly `localhost`, in lower case: `a@LOCALHOST` is no email
    if domain != "localhost" and EMAIL_DOMAIN_RE.fullmatch(domain) is None:
        return None
    return value.lower()


def _vfail(field_name: str, value: Any) -> ValidationError:
    return ValidationError(f"invalid {field_name}: {value!r}")


def _email(value: Any, field_name: str = "user") -> str:
    email = _email_or_none(value)
    if email is None:
        raise _vfail(field_name, value)
    return email


def _actor(value: Any) -> str | None:
    if value is None:
        return None
    return _email(value, "actor")


def _slug(value: Any, field_name: str = "org") -> str:
    if not _is_slug(value):
        raise _vfail(field_name, value)
    return value


def _project_id(value: Any, field_name: str = "project") -> tuple[str, str]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise _vfail(field_name, value)
    org, slug = value.split("/")
    if not (_is_slug(org) and _is_slug(slug)):
        raise _vfail(field_name, value)
    return org, slug


def _grant_target(value: Any) -> tuple[str, str | None]:
    """(org, project_id) for "org/slug"; (org, None) for "org/*"."""
    if isinstance(value, str) and value.count("/") == 1 and value.endswith("/*"):
        org = value[:-2]
        if _is_slug(org):
            return org, None
        raise _vfail("target", value)
    org, _ = _project_id(value, "target")
    return org, value


def _role(value: Any, table: dict, field_name: str = "role") -> str:
    if isinstance(value, Enum):
        value = value.value
    if not isinstance(value, str) or value not in table:
        raise _vfail(field_name, value)
    return str(value)


def _opt_text(value: Any, field_name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _vfail(field_name, value)
    return value


def _bool(value: Any, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise _vfail(field_name, value)
    return value


def to_instant(value: Any, field_name: str = "at") -> datetime:
    """datetime (naive = UTC), date (00:00 UTC) or ISO-8601 string -> aware UTC datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59-01:00: outside datetime's range in UTC
            raise _vfail(field_name, value) from None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _vfail(field_name, value) from None
        return to_instant(parsed, field_name)
    raise _vfail(field_name, value)


def _opt_instant(value: Any, field_name: str) -> datetime | None:
    return None if value is None else to_instant(value, field_name)


def _denied(message: str) -> PermissionDenied:
    """PermissionDenied takes a Decision in the real package; the tests compare types only."""
    try:
        return PermissionDenied(message)
    except TypeError:
        exc = PermissionDenied.__new__(PermissionDenied)
        Exception.__init__(exc, message)
        return exc


_MISSING = object()

# ----------------------------------------------------------------------------------
# State
# ----------------------------------------------------------------------------------


@dataclass
class User:
    email: str
    name: str | None = None
    title: str | None = None


@dataclass
class Membership:
    role: str
    expires: datetime | None = None
    reason: str | None = None
    reviewed: datetime | None = None
    external: bool = False
    granted_by: str | None = None
    granted_at: datetime | None = None


@dataclass
class Org:
    slug: str
    name: str
    settings: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)  # email -> Membership


@dataclass
class Project:
    id: str
    org: str
    name: str
    environment: str | None = None
    restricted: bool = False
    pii: bool = False
    default_role: str | None = None
    settings: dict = field(default_factory=dict)


@dataclass
class Grant:
    role: str
    expires: datetime | None = None
    reason: str | None = None
    granted_by: str | None = None
    granted_at: datetime | None = None


@dataclass
class Resource:
    id: str
    project: str
    kind: str
    owner: str


def _active(entry, at: datetime) -> bool:
    """A membership / grant gives access while at < expires."""
    return entry is not None and (entry.expires is None or at < entry.expires)


def _max_project_role(roles) -> str | None:
    best = None
    for r in roles:
        if r is not None and (best is None or PROJECT_RANK[r] > PROJECT_RANK[best]):
            best = r
    return best


# kind -> the action add_resource needs (semantics.md table, SPEC 9 second pass)
_CREATE_ACTION = {
    "dashboard": "dashboard:create",
    "insight": "insight:create",
    "feature_flag": "feature_flag:manage",
    "cohort": "cohort:create",
    "experiment": "experiment:manage",
    "annotation": "annotation:create",
    "notebook": "notebook:create",
    "recording": "event:track",
}


class RefGraph:
    """Reference implementation of the subset of ``accessgraph.Graph`` under test."""

    def __init__(self) -> None:
        self.clock: datetime | None = None
        self.users: dict[str, User] = {}
        self.orgs: dict[str, Org] = {}
        self.projects: dict[str, Project] = {}
        self.grants: dict[tuple[str, str], Grant] = {}  # (email, "org/slug" | "org/*")
        self.resources: dict[str, Resource] = {}
        self.actions: dict[str, ActionDef] = {
            name: ActionDef(name, scope, min_role, owner_role)
            for name, scope, min_role, owner_role in CATALOGUE
        }

    # ------------------------------------------------------------------ time
    def set_time(self, when) -> None:
        self.clock = None if when is None else to_instant(when, "when")

    def now(self) -> datetime:
        return self.clock if self.clock is not None else datetime.now(UTC)

    def _at(self, at) -> datetime:
        return self.now() if at is None else to_instant(at, "at")

    # ------------------------------------------------------------------ lookups
    def _membership(self, email: str | None, org: str, at: datetime) -> Membership | None:
        o = self.orgs.get(org)
        if o is None or email is None:
            return None
        m = o.members.get(email)
        return m if _active(m, at) else None

    def _org_role(self, email: str | None, org: str, at: datetime) -> str | None:
        m = self._membership(email, org, at)
        return m.role if m else None

    def _project_role(self, email: str | None, pid: str, at: datetime) -> str | None:
        """SPEC 1.5."""
        p = self.projects[pid]
        m = self._membership(email, p.org, at)
        if m is None:
            return None
        candidates = []
        if m.role in ("owner", "admin"):
            candidates.append("admin")
        g = self.grants.get((email, pid))
        if _active(g, at):
            candidates.append(g.role)
        if not p.restricted:
            g = self.grants.get((email, f"{p.org}/*"))
            if _active(g, at):
                candidates.append(g.role)
        if p.default_role is not None:
            candidates.append(p.default_role)
        return _max_project_role(candidates)

    def _owner_count(self, org: str) -> int:
        return sum(1 for m in self.orgs[org].members.values() if m.role == "owner")

    def _action(self, action) -> ActionDef:
        if isinstance(action, str) and action in self.actions:
            return self.actions[action]
        raise UnknownActionError(f"unknown action: {action!r}")

    def _classify(self, target):
        """('orgshape', org | None) / ('project', pid) / ('resource', rid) / (None, None)."""
        if not isinstance(target, str):
            return None, None
        n = target.count("/")
        if n == 0:
            return "orgshape", (target if target in self.orgs else None)
        if n == 1:
            return ("project", target) if target in self.projects else (None, None)
        if n == 3:
            return ("resource", target) if target in self.resources else (None, None)
        return None, None

    # ------------------------------------------------------------------ evaluation
    def _check(self, user, act: ActionDef, target, at: datetime) -> bool:
        kind, key = self._classify(target)
        if kind == "orgshape" and act.scope == "project":
            raise ValidationError(f"{act.name} is project-scoped; {target!r} is an org")
        email = _email_or_none(user)
        if email is None or kind is None or key is None:
            return False
        if kind == "orgshape":
            org = key
        elif kind == "project":
            org = self.projects[key].org
        else:
            org = self.projects[self.resources[key].project].org

        if act.scope == "org":
            role = self._org_role(email, org, at)
            if role is None:
                return False
            need = act.min_role
            if (
                act.name == "org:invite_member"
                and self.orgs[org].settings.get("members_can_invite") is True
            ):
                need = "member"
            return ORG_RANK[role] >= ORG_RANK[need]

        # project-scoped, target is a project or a resource
        res = self.resources[key] if kind == "resource" else None
        pid = res.project if res else key
        role = self._project_role(email, pid, at)
        if role is None:
            return False
        if PROJECT_RANK[role] >= PROJECT_RANK[act.min_role]:
            return True
        # the ownership rule (semantics.md, Evaluation): a resource of the action's own
        # kind, owned by U, with U's effective role reaching the action's owner_role
        if res is None or act.owner_role is None:
            return False
        owns = res.owner == email and act.resource == res.kind
        return owns and PROJECT_RANK[role] >= PROJECT_RANK[act.owner_role]

    def check(self, user, action, target, at=None) -> bool:
        act = self._action(action)
        at = self._at(at)
        return self._check(user, act, target, at)

    def role(self, user, target, at=None) -> str | None:
        at = self._at(at)
        email = _email_or_none(user)
        kind, key = self._classify(target)
        if email is None or kind is None or key is None:
            return None
        if kind == "orgshape":
            return self._org_role(email, key, at)
        if kind == "project":
            return self._project_role(email, key, at)
        return self._project_role(email, self.resources[key].project, at)

    def permissions(self, user, target, at=None) -> set:
        at = self._at(at)
        kind, _ = self._classify(target)
        out = set()
        for act in self.actions.values():
            if kind == "orgshape" and act.scope == "project":
                continue
            if self._check(user, act, target, at):
                out.add(act.name)
        return out

    def who_can(self, action, target, at=None) -> list:
        act = self._action(action)
        at = self._at(at)
        kind, _ = self._classify(target)
        if kind == "orgshape" and act.scope == "project":
            raise ValidationError(f"{act.name} is project-scoped; {target!r} is an org")
        return sorted(e for e in self.users if self._check(e, act, target, at))

    def accessible(self, user, action="project:view", org=None, at=None) -> list:
        act = self._action(action)
        at = self._at(at)
        return sorted(
            pid
            for pid, p in self.projects.items()
            if (org is None or p.org == org) and self._check(user, act, pid, at)
        )

    # ------------------------------------------------------------------ authority helpers
    def _can(self, actor: str, action: str, target: str) -> bool:
        return self._check(actor, self.actions[action], target, self.now())

    def _require(self, ok: bool, what: str) -> None:
        if not ok:
            raise _denied(what)

    def _touch_user(self, email: str, name=None, title=None) -> None:
        u = self.users.setdefault(email, User(email))
        if name is not None:
            u.name = name
        if title is not None:
            u.title = title

    # ------------------------------------------------------------------ mutations
    def add_org(self, slug, *, name=None, owner, actor=None) -> None:
        slug = _slug(slug, "slug")
        name = _opt_text(name, "name")
        owner = _email(owner, "owner")
        actor = _actor(actor)
        if actor is not None:
            self._require(actor == owner, "only the named owner may create an org")
        if slug in self.orgs:
            raise ConflictError(f"org {slug} exists")
        now = self.now()
        self._touch_user(owner)
        org = Org(slug, name if name is not None else slug)
        org.members[owner] = Membership("owner", granted_by=actor, granted_at=now)
        self.orgs[slug] = org

    def add_project(
        self,
        project_id,
        *,
        name=None,
        environment=None,
        restricted=False,
        pii=False,
        default_role=None,
        settings=None,
        actor=None,
    ) -> None:
        org, slug = _project_id(project_id)
        name = _opt_text(name, "name")
        environment = _opt_text(environment, "environment")
        restricted = _bool(restricted, "restricted")
        pii = _bool(pii, "pii")
        if default_role is not None:
            default_role = _role(default_role, PROJECT_RANK, "default_role")
        if restricted and default_role is not None:
            raise ValidationError("a restricted project cannot have a default_role")
        if settings is not None and not isinstance(settings, dict):
            raise _vfail("settings", settings)
        actor = _actor(actor)
        if org not in self.orgs:
            raise NotFoundError(org)
        if actor is not None:
            self._require(self._can(actor, "project:create", org), "project:create")
        if project_id in self.projects:
            raise ConflictError(f"project {project_id} exists")
        self.projects[project_id] = Project(
            project_id,
            org,
            name if name is not None else slug,
            environment,
            restricted,
            pii,
            default_role,
            dict(settings or {}),
        )

    def add_member(
        self,
        user,
        org,
        role="member",
        *,
        actor=None,
        name=None,
        title=None,
        expires=None,
        reason=None,
        reviewed=None,
        external=False,
    ) -> None:
        email = _email(user, "user")
        org = _slug(org, "org")
        role = _role(role, ORG_RANK)
        expires = _opt_instant(expires, "expires")
        reviewed = _opt_instant(reviewed, "reviewed")
        name = _opt_text(name, "name")
        title = _opt_text(title, "title")
        reason = _opt_text(reason, "reason")
        external = _bool(external, "external")
        actor = _actor(actor)
        if role == "owner" and expires is not None:
            raise ValidationError("an owner membership cannot expire")
        if org not in self.orgs:
            raise NotFoundError(org)
        o = self.orgs[org]
        now = self.now()
        if actor is not None:
            self._require(self._can(actor, "org:invite_member", org), "org:invite_member")
            actor_role = self._org_role(actor, org, now)
            self._require(ORG_RANK[role] <= ORG_RANK[actor_role], "role above the actor's")
        if email in o.members:  # expired or not
            raise ConflictError(f"{email} is already a member of {org}")
        self._touch_user(email, name, title)
        o.members[email] = Membership(role, expires, reason, reviewed, external, actor, now)

    def set_org_role(self, user, org, role, *, actor) -> None:
        email = _email(user, "user")
        org = _slug(org, "org")
        role = _role(role, ORG_RANK)
        actor = _actor(actor)
        m = self.orgs[org].members.get(email) if org in self.orgs else None
        if role == "owner" and m is not None and m.expires is not None:
            raise ValidationError("an owner membership cannot expire")
        if org not in self.orgs:
            raise NotFoundError(org)
        now = self.now()
        if actor is not None:
            self._require(self._can(actor, "org:manage_roles", org), "org:manage_roles")
            self._require(actor != email, "nobody changes their own role")
            actor_rank = ORG_RANK[self._org_role(actor, org, now)]
            self._require(m is None or ORG_RANK[m.role] <= actor_rank, "target outranks actor")
            self._require(ORG_RANK[role] <= actor_rank, "new role above the actor's")
        if m is None:
            raise ConflictError(f"{email} is not a member of {org}")
        if not _active(m, now):
            raise ConflictError(f"{email}'s membership of {org} has expired")
        if m.role == role:
            return
        if m.role == "owner" and self._owner_count(org) <= 1:
            raise ConflictError("cannot demote the last owner")
        m.role = role
        m.granted_by = actor
        m.granted_at = now

    def remove_member(self, user, org, *, actor) -> None:
        email = _email(user, "user")
        org = _slug(org, "org")
        actor = _actor(actor)
        if org not in self.orgs:
            raise NotFoundError(org)
        o = self.orgs[org]
        m = o.members.get(email)
        now = self.now()
        if actor is not None and actor != email:
            self._require(self._can(actor, "org:remove_member", org), "org:remove_member")
            actor_rank = ORG_RANK[self._org_role(actor, org, now)]
            self._require(m is None or ORG_RANK[m.role] <= actor_rank, "target outranks actor")
        if m is None:
            raise ConflictError(f"{email} is not a member of {org}")
        if m.role == "owner" and self._owner_count(org) <= 1:
            raise ConflictError("cannot remove the last owner")
        del o.members[email]
        for key in [k for k in self.grants if k[0] == email and k[1].split("/")[0] == org]:
            del self.grants[key]

    _MEMBER_FIELDS = ("expires", "reason", "reviewed", "external", "title", "name")

    def update_member(self, user, org, *, actor, **changes) -> None:
        email = _email(user, "user")
        org = _slug(org, "org")
        for key in changes:
            if key not in self._MEMBER_FIELDS:
                raise ValidationError(f"unknown keyword {key!r}")
        vals = {}
        if "expires" in changes:
            vals["expires"] = _opt_instant(changes["expires"], "expires")
        if "reviewed" in changes:
            vals["reviewed"] = _opt_instant(changes["reviewed"], "reviewed")
        for key in ("reason", "title", "name"):
            if key in changes:
                vals[key] = _opt_text(changes[key], key)
        if "external" in changes:
            vals["external"] = _bool(changes["external"], "external")
        actor = _actor(actor)
        m = self.orgs[org].members.get(email) if org in self.orgs else None
        if m is not None and m.role == "owner" and vals.get("expires") is not None:
            raise ValidationError("an owner membership cannot expire")
        if org not in self.orgs:
            raise NotFoundError(org)
        now = self.now()
        if actor is not None:
            self._require(actor != email, "nobody updates their own membership")
            self._require(self._can(actor, "org:manage_roles", org), "org:manage_roles")
            actor_rank = ORG_RANK[self._org_role(actor, org, now)]
            self._require(m is None or ORG_RANK[m.role] <= actor_rank, "target outranks actor")
        if m is None:
            raise ConflictError(f"{email} is not a member of {org}")
        for key in ("expires", "reason", "reviewed", "external"):
            if key in vals:
                setattr(m, key, vals[key])
        user_rec = self.users.setdefault(email, User(email))
        for key in ("title", "name"):
            if key in vals:
                setattr(user_rec, key, vals[key])

    def _grant_authority(self, actor: str, org: str, pid: str | None) -> bool:
        if pid is not None:
            return self._can(actor, "project:manage_members", pid)
        return self._org_role(actor, org, self.now()) in ("owner", "admin")

    def grant(self, user, target, role, *, actor=None, expires=None, reason=None) -> None:
        email = _email(user, "user")
        org, pid = _grant_target(target)
        role = _role(role, PROJECT_RANK)
        expires = _opt_instant(expires, "expires")
        reason = _opt_text(reason, "reason")
        actor = _actor(actor)
        if org not in self.orgs:
            raise NotFoundError(org)
        if pid is not None and pid not in self.projects:
            raise NotFoundError(pid)
        now = self.now()
        if actor is not None:
            self._require(actor != email, "nobody grants themselves access")
            self._require(self._grant_authority(actor, org, pid), "project:manage_members")
        if self._membership(email, org, now) is None:
            raise ConflictError(f"{email} has no unexpired membership of {org}")
        self.grants[(email, target)] = Grant(role, expires, reason, actor, now)

    def revoke(self, user, target, *, actor) -> None:
        email = _email(user, "user")
        org, pid = _grant_target(target)
        actor = _actor(actor)
        if org not in self.orgs:
            raise NotFoundError(org)
        if pid is not None and pid not in self.projects:
            raise NotFoundError(pid)
        if actor is not None and actor != email:
            self._require(self._grant_authority(actor, org, pid), "project:manage_members")
        if (email, target) not in self.grants:
            raise NotFoundError(f"no grant for {email} on {target}")
        del self.grants[(email, target)]

    def update_project(self, project_id, *, actor, **changes) -> None:
        _project_id(project_id)
        vals = {}
        settings = {}
        for key, value in changes.items():
            if key == "name":  # a project keeps a name: None is not a name
                if not isinstance(value, str):
                    raise _vfail("name", value)
                vals[key] = value
            elif key == "environment":
                vals[key] = _opt_text(value, key)
            elif key in ("restricted", "pii"):
                vals[key] = _bool(value, key)
            elif key == "default_role":
                vals[key] = None if value is None else _role(value, PROJECT_RANK, "default_role")
            else:
                settings[key] = value
        if vals.get("restricted") is True and vals.get("default_role") is not None:
            raise ValidationError("a restricted project cannot have a default_role")
        actor = _actor(actor)
        if project_id not in self.projects:
            raise NotFoundError(project_id)
        p = self.projects[project_id]
        restricted = vals.get("restricted", p.restricted)
        default_role = vals.get("default_role", p.default_role)
        if restricted and default_role is not None:
            raise ValidationError("a restricted project cannot have a default_role")
        if actor is not None:
            self._require(
                self._can(actor, "project:manage_settings", project_id), "project:manage_settings"
            )
        for key, value in vals.items():
            setattr(p, key, value)
        for key, value in settings.items():
            if value is None:
                p.settings.pop(key, None)
            else:
                p.settings[key] = value

    def remove_project(self, project_id, *, actor) -> None:
        org, _ = _project_id(project_id)
        actor = _actor(actor)
        if project_id not in self.projects:
            raise NotFoundError(project_id)
        if actor is not None:
            self._require(self._can(actor, "project:delete", org), "project:delete")
        del self.projects[project_id]
        for key in [k for k in self.grants if k[1] == project_id]:
            del self.grants[key]
        for rid in [r for r, res in self.resources.items() if res.project == project_id]:
            del self.resources[rid]

    def update_org(self, slug, *, actor, name=None, **settings) -> None:
        slug = _slug(slug, "slug")
        name = _opt_text(name, "name")
        if settings.get("members_can_invite") is not None:  # None deletes it (default: off)
            _bool(settings["members_can_invite"], "members_can_invite")
        actor = _actor(actor)
        if slug not in self.orgs:
            raise NotFoundError(slug)
        if actor is not None:
            self._require(self._can(actor, "org:manage_settings", slug), "org:manage_settings")
        o = self.orgs[slug]
        if name is not None:
            o.name = name
        for key, value in settings.items():
            if value is None:
                o.settings.pop(key, None)
            else:
                o.settings[key] = value

    def remove_org(self, slug, *, actor) -> None:
        slug = _slug(slug, "slug")
        actor = _actor(actor)
        if slug not in self.orgs:
            raise NotFoundError(slug)
        if actor is not None:
            self._require(self._can(actor, "org:delete", slug), "org:delete")
        del self.orgs[slug]
        for pid in [pid for pid, p in self.projects.items() if p.org == slug]:
            del self.projects[pid]
        for key in [k for k in self.grants if k[1].split("/")[0] == slug]:
            del self.grants[key]
        for rid in [r for r in self.resources if r.split("/")[0] == slug]:
            del self.resources[rid]

    def add_resource(self, project_id, kind, id, *, owner=None, actor=None) -> str:
        _project_id(project_id)
        if kind not in RESOURCE_KINDS:
            raise _vfail("kind", kind)
        if not isinstance(id, str) or RESOURCE_ID_RE.fullmatch(id) is None:
            raise _vfail("id", id)
        owner = None if owner is None else _email(owner, "owner")
        actor = _actor(actor)
        owner = owner if owner is not None else actor
        if owner is None:
            raise ValidationError("add_resource needs an owner (or an actor)")
        if project_id not in self.projects:
            raise NotFoundError(project_id)
        if actor is not None:
            need = _CREATE_ACTION[kind]
            self._require(self._can(actor, need, project_id), need)
        rid = f"{project_id}/{kind}/{id}"
        if rid in self.resources:
            raise ConflictError(f"resource {rid} exists")
        self.resources[rid] = Resource(rid, project_id, kind, owner)
        return rid

    def define_action(
        self, name, scope="project", min_role="member", owner_role=None, *, actor=None
    ) -> None:
        if not isinstance(name, str) or name.count(":") != 1:
            raise _vfail("name", name)
        res, verb = name.split(":")
        if not (ACTION_PART_RE.fullmatch(res) and ACTION_PART_RE.fullmatch(verb)):
            raise _vfail("name", name)
        if scope not in ("project", "org"):
            raise _vfail("scope", scope)
        table = PROJECT_RANK if scope == "project" else ORG_RANK
        min_role = _role(min_role, table, "min_role")
        if owner_role is not None:
            if scope != "project":
                raise ValidationError("owner_role is only for project-scoped actions")
            owner_role = _role(owner_role, PROJECT_RANK, "owner_role")
            if PROJECT_RANK[owner_role] > PROJECT_RANK[min_role]:
                raise ValidationError("owner_role must be at most min_role")
        actor = _actor(actor)
        if actor is not None:  # custom actions are global: only the system defines them
            raise _denied("custom actions are defined by the system (actor=None)")
        if name in self.actions:
            raise ConflictError(f"action {name} exists")
        self.actions[name] = ActionDef(name, scope, min_role, owner_role)
