"""Type stubs for the compiled core, ``accessgraph._core``."""

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, Final, Self, TypeVar, final

from typing_extensions import disjoint_base

__all__ = [
    "AccessRequest",
    "ApiKey",
    "AuditFile",
    "Decision",
    "Event",
    "Finding",
    "Fix",
    "Grant",
    "Graph",
    "Member",
    "OffboardingReport",
    "OnboardingReport",
    "Org",
    "Principal",
    "Project",
    "Resource",
    "SyncPlan",
    "User",
    "_Pending",
    "__version__",
    "journal_upgrade",
    "postgres_import",
    "postgres_migrate",
    "postgres_redact",
    "shown",
    "spreadsheet_safe",
]

__version__: Final[str]

_When = datetime | date | str
_Progress = Callable[[int, int], None]
_G = TypeVar("_G", bound="Graph")

@final
class Principal:
    """Who a request authenticated as with an API key (``Graph.authenticate``). Accepted by
    ``check``, ``require``, ``explain`` and ``check_many`` wherever an email is. Holds the
    hash of the secret, never the secret: a key rotated or revoked afterwards stops
    working for it too."""

    @property
    def kind(self) -> str:
        """``"personal"`` or ``"project"``."""
    @property
    def user(self) -> str | None:
        """The key's user (personal keys), else ``None``."""
    @property
    def key_id(self) -> str:
        """``pk_<hex>`` for a personal key; the project id for a project key."""
    @property
    def project(self) -> str | None:
        """The key's project (project keys), else ``None``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

_User = str | Principal

@final
class ApiKey:
    """A personal API key as listed: never its secret."""

    @property
    def id(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def scopes(self) -> list[str] | None:
        """Scopes narrowing the key, or ``None`` for an unnarrowed key."""
    @property
    def projects(self) -> list[str] | None:
        """Projects the key is restricted to, or ``None``."""
    @property
    def created_at(self) -> datetime: ...
    @property
    def rotated_at(self) -> datetime | None: ...
    @property
    def expires(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def mask(self) -> str:
        """``agp_...abcd``: enough to recognise the key, never enough to use it."""
    @property
    def revoked(self) -> bool: ...
    @property
    def expired(self) -> bool:
        """Past its expiry, as of the listing."""
    @property
    def dead(self) -> bool:
        """Its user holds no unexpired membership: it can do nothing until revoked."""
    @property
    def active(self) -> bool:
        """Not revoked, expired or dead."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class OffboardingReport:
    """What ``Graph.offboard`` did (``done``) and the steps it leaves to people
    (``manual``), as sentences."""

    @property
    def user(self) -> str: ...
    @property
    def done(self) -> list[str]: ...
    @property
    def manual(self) -> list[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Decision:
    """The outcome of a check, with the reason in words. Truthy when allowed."""

    @property
    def allowed(self) -> bool: ...
    @property
    def user(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def role(self) -> str | None: ...
    @property
    def source(self) -> str | None:
        """``organization_admin``, ``organization_member``, ``explicit_member``,
        ``org_wide_grant``, ``default``, ``creator``, ``api_key_scope`` or ``None``."""
    @property
    def reason(self) -> str:
        """The decision in words; for a denial, followed by the first fix."""
    @property
    def fixes(self) -> tuple[Fix, ...]:
        """For a denial: the smallest changes that would allow it, least privilege first,
        or one ``Fix(kind="impossible")`` saying why none would. Empty when allowed."""
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def _repr_html_(self) -> str: ...

@final
class Fix:
    """One way to allow a denied check (``Decision.fixes``): the change, the steps that
    must come first, and who may make it under the delegation rules (SPEC 2.3)."""

    @property
    def kind(self) -> str:
        """``grant``, ``org_role``, ``add_member``, ``renew`` or ``impossible``."""
    @property
    def user(self) -> str: ...
    @property
    def target(self) -> str | None:
        """The project (a grant) or the org (the other kinds); ``None`` when impossible."""
    @property
    def role(self) -> str | None:
        """The role given: a project role for a grant, an org role for ``org_role`` and
        ``add_member``; ``None`` for ``renew`` and ``impossible``."""
    @property
    def expires(self) -> datetime | None:
        """The expiry given: a grant to a member whose membership expires ends with it."""
    @property
    def requires(self) -> tuple[Fix, ...]:
        """Steps that must come first (adding the user, renewing the membership)."""
    @property
    def by(self) -> tuple[str, ...]:
        """Who may make the whole change, emails sorted."""
    @property
    def reason(self) -> str:
        """The fix in words."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Org:
    """An organization."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def settings(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Project:
    """A project of an organization."""

    @property
    def id(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def environment(self) -> str | None: ...
    @property
    def restricted(self) -> bool: ...
    @property
    def pii(self) -> bool: ...
    @property
    def default_role(self) -> str | None: ...
    @property
    def settings(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Member:
    """A user's membership of an organization."""

    @property
    def user(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def expires(self) -> datetime | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def reviewed(self) -> date | None: ...
    @property
    def external(self) -> bool: ...
    @property
    def granted_by(self) -> str | None: ...
    @property
    def granted_at(self) -> datetime: ...
    @property
    def name(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Grant:
    """A project role on one project (``org/project``) or on all (``org/*``)."""

    @property
    def user(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def expires(self) -> datetime | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def granted_by(self) -> str | None: ...
    @property
    def granted_at(self) -> datetime: ...
    @property
    def review_by(self) -> date | None:
        """The date by which the grant must be reviewed again (approved requests)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class User:
    """A user."""

    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def orgs(self) -> list[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Resource:
    """A resource (dashboard, insight, ...) of a project, with its owner."""

    @property
    def id(self) -> str: ...
    @property
    def project(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def owner(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Event:
    """One audit event."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def user(self) -> str | None: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    def to_json(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class AuditFile:
    """An audit log read back from a JSON Lines export."""

    @staticmethod
    def parse(text: str, *, hmac_key: bytes | None = None) -> AuditFile: ...
    def _len(self) -> int: ...
    def _events(self, filter: dict[str, object]) -> list[Event]: ...
    def _verify(self, progress: _Progress | None = None) -> None: ...
    def _jsonl(self, progress: _Progress | None = None) -> str: ...
    def _csv(self, progress: _Progress | None = None) -> str: ...
    def _columns(self, filter: dict[str, object]) -> dict[str, list[Any]]: ...
    def _arrow(self, filter: dict[str, object]) -> Any: ...
    def _prune(self, before: _When) -> int: ...

@final
class Finding:
    """One finding of an access review."""

    @property
    def rule(self) -> str:
        """The rule's stable id, e.g. ``expired-access``."""
    @property
    def severity(self) -> str:
        """``high``, ``medium``, ``low`` or ``info``."""
    @property
    def org(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def target(self) -> str | None:
        """The org, project or ``org/*`` concerned."""
    @property
    def message(self) -> str:
        """What is wrong, in a sentence."""
    @property
    def remediation(self) -> str:
        """What to do about it, in a sentence."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class OnboardingReport:
    """What ``onboard`` did and the steps a person still owes."""

    @property
    def done(self) -> list[str]: ...
    @property
    def manual(self) -> list[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class AccessRequest:
    """An access request and its outcome."""

    @property
    def id(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def status(self) -> str:
        """``pending``, ``approved`` or ``denied``."""
    @property
    def requested_at(self) -> datetime: ...
    @property
    def decided_by(self) -> str | None: ...
    @property
    def decided_at(self) -> datetime | None: ...
    @property
    def decision_reason(self) -> str | None: ...
    @property
    def expires(self) -> datetime | None: ...
    @property
    def review_by(self) -> date | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class SyncPlan:
    """A planned (or applied) directory sync."""

    @property
    def org(self) -> str: ...
    @property
    def changes(self) -> list[dict[str, str | None]]:
        """``{op, user, target, before, after}`` for each change, in order."""
    @property
    def skipped(self) -> list[dict[str, str]]:
        """``{user, reason}`` for each person sync left alone (owners, expired)."""
    @property
    def applied(self) -> bool: ...
    def to_markdown(self) -> str: ...
    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class _Pending:
    """A graph built in Rust waiting to be adopted by ``Graph.__new__``."""

@disjoint_base
class Graph:
    """The access graph (use ``accessgraph.Graph``, which adds Python-side helpers)."""

    def __new__(cls, _pending: _Pending | None = None, *, audit: bool = True) -> Self: ...
    @property
    def keeps_audit_log(self) -> bool: ...
    @classmethod
    def _open(
        cls,
        path: str,
        *,
        durability: str = "fsync",
        hmac_key: bytes | None = None,
        snapshot: str | None = None,
        follow: bool = True,
        progress: _Progress | None = None,
    ) -> tuple[Self, tuple[int, str] | None]: ...
    def as_of(self, when: _When, *, progress: _Progress | None = None) -> Self:
        """A read-only graph as it was at ``when``, rebuilt from the audit log; its clock
        is frozen at ``when``. Mutations raise ``ReadOnlyGraphError``.
        ``progress(done, total)`` counts the events replayed, of those the log holds
        (the events after ``when`` are not read: the end jumps to the total)."""
    def refresh(self) -> int:
        """Pull in events other processes appended to the journal; returns how many."""
    def _snapshot(self, path: str) -> int: ...
    @classmethod
    def _open_postgres(
        cls,
        url: str,
        *,
        durability: str = "fsync",
        hmac_key: bytes | None = None,
        progress: _Progress | None = None,
    ) -> Self: ...
    @property
    def journal_url(self) -> str | None:
        """The journal's URL (password hidden) when it lives in PostgreSQL, else ``None``."""
    def _snapshot_postgres(self) -> int: ...
    @property
    def revision(self) -> int:
        """The ``seq`` of the last applied event."""
    @property
    def graph_id(self) -> str:
        """The graph's identity (its journal's first record names it)."""
    @property
    def journal_path(self) -> str | None:
        """The journal's path, or ``None`` for a graph kept in memory."""
    @property
    def follows_journal(self) -> bool:
        """True when the graph sees other processes' acknowledged changes to its journal
        before its next query: a file journal (through its revision beacon
        ``<journal>.rev``), or a PostgreSQL URL with its follower thread (within
        milliseconds)."""
    @property
    def _follow_fallback(self) -> str | None: ...
    def _record(self, actor: str, action: str, target: str, details: dict[str, object]) -> int: ...
    def erase_user(
        self,
        email: str,
        *,
        actor: str | None,
        reason: str | None,
        transfer_to: str | None = None,
    ) -> str:
        """Erase a user (GDPR): they are offboarded (memberships, grants and personal keys
        go; resources they own pass to ``transfer_to``), ``user.erased`` is recorded, and
        their email, name, title and any text naming them are redacted from the audit log
        and the journal behind a pseudonym (``erased:<hash>``), which is returned. The
        chain still verifies. The actor must be an owner of every org the user belongs to
        (or ``None``)."""
    def _audit_len(self) -> int: ...
    def _audit_events(self, filter: dict[str, object]) -> list[Event]: ...
    def _audit_columns(self, filter: dict[str, object]) -> dict[str, list[Any]]: ...
    def _audit_arrow(self, filter: dict[str, object]) -> Any: ...
    def _audit_page(self, after: int, n: int) -> list[Event] | None: ...
    def _audit_verify(self, progress: _Progress | None = None) -> None: ...
    def _audit_jsonl(self, progress: _Progress | None = None) -> str: ...
    def _audit_csv(self, progress: _Progress | None = None) -> str: ...
    def _audit_prune(self, before: _When) -> int: ...
    @classmethod
    def from_markdown(cls, text: str, org: str | None = None) -> Self:
        """A graph holding the org of a Markdown access registry (SPEC 5.1)."""
    @classmethod
    def _from_posthog(
        cls,
        members: str,
        *,
        org: str,
        name: str | None = None,
        projects: list[tuple[str, str]] | None = None,
        roles: str | None = None,
        strict: bool = False,
    ) -> tuple[Self, list[tuple[str, str | None, str, str, str]]]: ...
    @classmethod
    def from_json(cls, text: str) -> Self:
        """A graph read from a JSON snapshot (``"format": "accessgraph"``, version 1)."""
    def to_json(self) -> str:
        """The whole graph as a deterministic JSON snapshot; never a secret."""
    @classmethod
    def from_csv(cls, text: str) -> Self:
        """A graph rebuilt from the CSV access matrix (lossy: see the docs)."""
    def _csv_text(self, at: _When | None = None) -> str: ...
    def _import_registry_text(self, text: str, org: str | None = None) -> int: ...
    def _what_if(self, cls: type[_G], text: str | None = None, org: str | None = None) -> _G: ...
    def _discard(self) -> None: ...
    # access review campaigns (wrapped by accessgraph.Campaign)
    def _start_campaign(
        self, org: str, *, reviewers: list[str], due: _When, actor: str | None
    ) -> dict[str, Any]: ...
    def _decide_campaign_item(
        self, id: str, item: int, *, keep: bool, reason: str | None, actor: str | None
    ) -> dict[str, Any]: ...
    def _close_campaign(self, id: str, *, actor: str | None) -> dict[str, Any]: ...
    def _campaign(self, id: str) -> dict[str, Any]: ...
    def _campaigns(self, org: str | None = None) -> list[dict[str, Any]]: ...
    def to_markdown(self, org: str) -> str:
        """The Markdown access registry of ``org``, deterministic."""
    def set_time(self, when: _When | None) -> None:
        """Freeze the clock at ``when``; ``None`` returns to the wall clock."""
    def now(self) -> datetime:
        """The graph's clock."""
    # queries
    def check(self, user: _User, action: str, target: str, at: _When | None = None) -> bool:
        """May ``user`` (an email, or an API key's ``Principal``) perform ``action`` on
        ``target``?"""
    def require(self, user: _User, action: str, target: str, at: _When | None = None) -> None:
        """Raise ``PermissionDenied`` (carrying the decision) unless allowed."""
    def explain(self, user: _User, action: str, target: str, at: _When | None = None) -> Decision:
        """The decision, with a sentence saying why and, for a denial, ``fixes``: the
        smallest changes that would allow it and who may make them."""
    def check_many(
        self, queries: Iterable[tuple[_User, str, str]], at: _When | None = None
    ) -> list[bool]:
        """Many checks at once (releases the GIL for a batch of 512 queries or more)."""
    def role(self, user: str, target: str, at: _When | None = None) -> str | None:
        """The effective role: org role on an org, project role on a project/resource."""
    def permissions(self, user: str, target: str, at: _When | None = None) -> set[str]:
        """Every action ``check`` allows ``user`` on ``target``."""
    def who_can(self, action: str, target: str, at: _When | None = None) -> list[str]:
        """Emails of the users allowed ``action`` on ``target``, sorted."""
    def accessible(
        self,
        user: str,
        action: str = "project:view",
        org: str | None = None,
        at: _When | None = None,
    ) -> list[str]:
        """Project ids where ``user`` may perform ``action``, sorted."""
    def _access_matrix_rows(
        self, org: str | None = None, at: _When | None = None
    ) -> list[dict[str, Any]]: ...
    def _diff_rows(self, other: Graph) -> list[tuple[str, str, str | None, str | None, str]]: ...
    # listings
    def orgs(self) -> list[Org]: ...
    def org(self, org: str) -> Org: ...
    def projects(self, org: str | None = None) -> list[Project]: ...
    def project(self, project: str) -> Project: ...
    def members(self, org: str) -> list[Member]: ...
    def grants(self, user: str | None = None, target: str | None = None) -> list[Grant]: ...
    def user(self, email: str) -> User: ...
    def users(self) -> list[User]: ...
    def resources(self, project: str | None = None) -> list[Resource]: ...
    def actions(self) -> list[str]:
        """Every action of the catalogue, built-ins first."""
    # mutations
    def add_org(
        self, slug: str, *, owner: str, name: str | None = None, actor: str | None = None
    ) -> None: ...
    def add_project(
        self,
        project: str,
        *,
        name: str | None = None,
        environment: str | None = None,
        restricted: bool | None = None,
        pii: bool | None = None,
        default_role: str | None = None,
        settings: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> None: ...
    def add_member(
        self,
        user: str,
        org: str,
        role: str = "member",
        *,
        actor: str | None = None,
        name: str | None = None,
        title: str | None = None,
        expires: _When | None = None,
        reason: str | None = None,
        reviewed: date | str | None = None,
        external: bool | None = None,
    ) -> None: ...
    def set_org_role(self, user: str, org: str, role: str, *, actor: str | None) -> None: ...
    def remove_member(self, user: str, org: str, *, actor: str | None) -> None: ...
    def update_member(
        self,
        user: str,
        org: str,
        *,
        actor: str | None,
        expires: _When | None = ...,
        reason: str | None = ...,
        reviewed: date | str | None = ...,
        external: bool = ...,
        title: str | None = ...,
        name: str | None = ...,
    ) -> None: ...
    def grant(
        self,
        user: str,
        target: str,
        role: str,
        *,
        actor: str | None = None,
        expires: _When | None = None,
        reason: str | None = None,
    ) -> None: ...
    def revoke(self, user: str, target: str, *, actor: str | None) -> None: ...
    def update_project(
        self,
        project: str,
        *,
        actor: str | None,
        name: str = ...,
        environment: str | None = ...,
        restricted: bool | None = None,
        pii: bool | None = None,
        default_role: str | None = ...,
        **settings: Any,
    ) -> None: ...
    def remove_project(self, project: str, *, actor: str | None) -> None: ...
    def update_org(
        self, org: str, *, actor: str | None, name: str | None = None, **settings: Any
    ) -> None: ...
    def remove_org(self, org: str, *, actor: str | None) -> None: ...
    def add_resource(
        self,
        project: str,
        kind: str,
        id: str | int,
        *,
        owner: str | None = None,
        actor: str | None = None,
    ) -> str: ...
    def define_action(
        self,
        name: str,
        scope: str = "project",
        min_role: str = "member",
        owner_role: str | None = None,
        *,
        actor: str | None = None,
    ) -> None: ...
    # API keys and offboarding
    def create_personal_key(
        self,
        user: str,
        label: str,
        *,
        scopes: Iterable[str] | None = None,
        projects: Iterable[str] | None = None,
        expires: _When | None = None,
        actor: str | None,
    ) -> tuple[str, str]:
        """Create a personal API key for ``user``; returns ``(key_id, secret)``. The
        secret is shown this once: only its hash (``sha256$<hex>``) is kept."""
    def rotate_personal_key(self, key_id: str, *, actor: str | None) -> str:
        """Give a personal key a new secret, which is returned; the old one stops working
        at once."""
    def revoke_personal_key(self, key_id: str, *, actor: str | None) -> None:
        """Revoke a personal key (its user, an owner of one of their orgs, or the system)."""
    def personal_keys(
        self, user: str | None = None, *, include_revoked: bool = False
    ) -> list[ApiKey]:
        """Personal keys of ``user`` (or everyone's), without secrets."""
    def personal_key(self, key_id: str) -> ApiKey:
        """One personal key, by id."""
    def project_key(self, project: str) -> str:
        """The project's public API key (``agc_…``)."""
    def rotate_project_key(self, project: str, *, actor: str | None) -> str:
        """Give a project a new public key (``project_key:rotate``), which is returned."""
    def authenticate(self, secret: str) -> Principal | None:
        """The principal a personal (``agp_…``) or project (``agc_…``) secret
        authenticates; ``None`` for an unknown, revoked, rotated-away or expired one."""
    def offboard(
        self,
        user: str,
        *,
        actor: str | None,
        transfer_to: str | None = None,
        reason: str | None = None,
    ) -> OffboardingReport:
        """Remove ``user`` from every org, revoke their personal keys, hand their
        resources to ``transfer_to`` and record ``user.offboarded`` — atomically."""

    # governance
    def _review(
        self,
        org: str | None = None,
        at: _When | None = None,
        thresholds: dict[str, float] | None = None,
        progress: _Progress | None = None,
    ) -> list[Finding]: ...
    def define_template(
        self,
        name: str,
        *,
        org_role: str = "member",
        grants: dict[str, str] | None = None,
        external: bool = False,
        requires_expiry: bool = False,
        actor: str | None = None,
    ) -> None:
        """Add a custom onboarding template: ``grants`` maps a project slug, an
        environment or ``*`` (every project) to a project role. Only the system
        (``actor=None``) defines templates."""
    def templates(self) -> list[str]:
        """The names of the onboarding templates, built-in and custom, sorted."""
    def onboard(
        self,
        user: str,
        org: str,
        template: str,
        *,
        actor: str | None,
        name: str | None = None,
        title: str | None = None,
        projects: list[str] | None = None,
        expires: _When | None = None,
        reason: str | None = None,
    ) -> OnboardingReport:
        """Add ``user`` to ``org`` with a template's role and grants, atomically."""
    def request_access(
        self, user: str, target: str, role: str, *, reason: str | None
    ) -> AccessRequest:
        """``user`` asks for ``role`` on ``target``, saying why; the request is pending."""
    def approve(
        self,
        request_id: str,
        *,
        actor: str | None,
        expires: _When | None = None,
        review_days: int = 90,
    ) -> AccessRequest:
        """Grant a pending request with its reason and a review date ``review_days``
        from today; the approver needs the authority to grant it."""
    def deny(self, request_id: str, *, actor: str | None, reason: str | None) -> AccessRequest:
        """Deny a pending request; whoever may approve it may deny it."""
    def access_requests(self, status: str | None = None) -> list[AccessRequest]:
        """The access requests (``pending``, ``approved``, ``denied`` or all), oldest first."""
    def sync_directory(
        self,
        org: str,
        people: Iterable[dict[str, Any]],
        *,
        groups: dict[str, Any],
        actor: str | None,
        dry_run: bool = True,
        deprovision: bool = True,
    ) -> SyncPlan:
        """Plan (and with ``dry_run=False`` apply, atomically) making ``org``'s access
        what the directory's groups map to."""
    def apply(self, plan: SyncPlan, *, actor: str | None) -> SyncPlan:
        """Apply a reviewed ``SyncPlan`` atomically; a stale plan changes nothing."""

def journal_upgrade(
    old: str, new: str, *, hmac_key: bytes | None = None
) -> tuple[int, int, str, str, tuple[int, int] | None]:
    """Upgrade the format-1 journal ``old`` into a new format-2 journal ``new``; returns
    ``(events, last_seq, upgraded_from, last_hash, torn)``, ``torn`` the line and size of a
    torn final line left out."""

def shown(text: str) -> str:
    """``text`` for people: each character a reader does not see or that changes the
    direction of the text around it (Unicode's default-ignorable code points: U+200B,
    U+202E ...) written as ``\\u{202e}``."""

def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a CSV cell a spreadsheet shows as text (CWE-1236): one more ``'`` in
    front of a value that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    after any number of ``'``."""

def postgres_migrate(url: str) -> list[int]:
    """Apply the schema migrations the database lacks; returns the versions applied."""

def postgres_import(
    path: str, url: str, *, hmac_key: bytes | None = None, progress: _Progress | None = None
) -> int:
    """Copy a file journal into the database as a new graph; returns the events copied.
    ``progress(done, total)`` hears the journal's bytes read, then copied."""

def postgres_redact(url: str) -> str:
    """The URL with every password hidden: the one redaction of the package."""
