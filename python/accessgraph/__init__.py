"""accessgraph: may this user do this, here?

An access graph for multi-tenant analytics products organised the PostHog way:
organizations contain projects, users hold an org role (owner/admin/member) and project
roles (admin/member/viewer). The engine is Rust; this package is its Python face.

    >>> import accessgraph as ag
    >>> g = ag.Graph()
    >>> g.add_org("acme", name="Acme Corp", owner="jane@example.com")
    >>> g.add_project("acme/production", name="Production", restricted=True)
    >>> g.check("jane@example.com", "feature_flag:manage", "acme/production")
    True
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, cast

from accessgraph import _core, _formats, _log, _mutations
from accessgraph._audit import AuditLog, _GraphBackend
from accessgraph._campaign import Campaign, CampaignItem, Evidence
from accessgraph._core import (
    AccessRequest,
    ApiKey,
    Decision,
    Event,
    Finding,
    Fix,
    Grant,
    Member,
    OffboardingReport,
    OnboardingReport,
    Org,
    Principal,
    Project,
    Resource,
    SyncPlan,
    User,
)
from accessgraph._diff import AccessChange, AccessDiff
from accessgraph._progress import Progress, Steps
from accessgraph._report import ReviewSource
from accessgraph._review import Review
from accessgraph._roles import OrgRole, ProjectRole
from accessgraph._table import MATRIX_COLUMNS, Table
from accessgraph.exceptions import (
    AccessGraphError,
    AuditIntegrityError,
    ConflictError,
    JournalError,
    JournalRecoveredWarning,
    JournalUnavailableError,
    NotFoundError,
    PermissionDenied,
    ReadOnlyGraphError,
    RegistryFormatError,
    UnknownActionError,
    ValidationError,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    When = datetime | date | str

__version__: str = _core.__version__

__all__ = [
    "AccessChange",
    "AccessDiff",
    "AccessGraphError",
    "AccessRequest",
    "ApiKey",
    "AuditIntegrityError",
    "AuditLog",
    "Campaign",
    "CampaignItem",
    "ConflictError",
    "Decision",
    "Event",
    "Evidence",
    "Finding",
    "Fix",
    "Grant",
    "Graph",
    "JournalError",
    "JournalRecoveredWarning",
    "JournalUnavailableError",
    "Member",
    "NotFoundError",
    "OffboardingReport",
    "OnboardingReport",
    "Org",
    "OrgRole",
    "PermissionDenied",
    "PostHogImportWarning",
    "PostHogNote",
    "PostHogReport",
    "Principal",
    "Project",
    "ProjectRole",
    "ReadOnlyGraphError",
    "RegistryFormatError",
    "Resource",
    "Review",
    "SyncPlan",
    "Table",
    "UnknownActionError",
    "User",
    "ValidationError",
    "WhatIf",
    "__version__",
    "upgrade_journal",
]


def upgrade_journal(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    hmac_key: bytes | None = None,
) -> dict[str, Any]:
    """Write the format-1 journal ``old`` (accessgraph before journal format 2) again as a
    new format-2 journal ``new``; ``old`` is only read.

    ``old`` is verified with format 1's rules first (checksums, hash chain, commitments;
    with ``hmac_key`` its signed checkpoint), then every event is replayed into ``new``
    with the same ``seq``, time, actor, action, target and details, new commitments and
    hashes, each event a batch of its own, signed with ``hmac_key`` when given. The new
    header's ``upgraded_from`` is the old journal's last hash. ``new`` must not exist: it
    is written to a temporary file beside it, synced and linked into place whole, or not
    at all (docs/journal-format.md, "Upgrading").

    Returns ``{"events", "last_seq", "upgraded_from", "last_hash"}``. A torn final line
    of ``old`` (a crash mid-write) is left out with a ``JournalRecoveredWarning``; any
    other damage, a wrong key, an ``old`` that is not format 1 or a ``new`` that exists
    raises ``JournalError`` naming the file and line.
    """
    _formats.check_path(old, "old")
    _formats.check_path(new, "new")
    events, last_seq, upgraded_from, last_hash, torn = _core.journal_upgrade(
        os.fspath(old), os.fspath(new), hmac_key=hmac_key
    )
    if torn is not None:
        line, size = torn
        warnings.warn(
            JournalRecoveredWarning(
                f"{os.fspath(old)}: left out a torn record of {size} bytes at line {line} "
                "(a write interrupted by a crash); every complete record was upgraded",
                line,
            ),
            stacklevel=2,
        )
    return {
        "events": events,
        "last_seq": last_seq,
        "upgraded_from": upgraded_from,
        "last_hash": last_hash,
    }


class PostHogImportWarning(UserWarning):
    """A PostHog listing given to :meth:`Graph.from_posthog` is incomplete: a ``next``
    page was not given, or a ``count`` disagrees with the members read."""


@dataclass(frozen=True)
class PostHogNote:
    """One entry of a PostHog import report.

    ``kind`` is ``"incomplete"`` (the JSON is not all there is), ``"unexpressed"``
    (PostHog access the model cannot hold, left out or written another way),
    ``"ignored"`` (data PostHog's resolver does not read either) or ``"assumed"`` (a fact
    inferred from PostHog's rules); ``subject`` the member's email or role it concerns;
    ``path`` the JSON path of the data; ``source`` the PostHog endpoint and object."""

    kind: str
    subject: str | None
    message: str
    path: str
    source: str


class PostHogReport:
    """What :meth:`Graph.posthog_report` returns: the imported ``graph`` and the
    ``notes`` on what it could not express."""

    __slots__ = ("graph", "notes")

    def __init__(self, graph: Graph, notes: tuple[PostHogNote, ...]) -> None:
        self.graph = graph
        self.notes = notes

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for n in self.notes:
            kinds[n.kind] = kinds.get(n.kind, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "no notes"
        return f"<PostHogReport {summary}>"


class Graph(_core.Graph):
    """The access graph: orgs, projects, users, roles and grants, and the checks on them.

    Safe to share between threads. Every query takes ``at=`` (a datetime, date or ISO
    string; default: the graph's clock, see :meth:`set_time`). Every mutation takes
    ``actor=`` (an email, or ``None`` for the system) and is checked against PostHog's
    rules for who may change what.

    ``Graph(audit=False)`` keeps no audit log: for large in-memory graphs whose history
    nobody needs (what-if simulations, benchmarks, big fixtures), a change then costs
    nothing beyond the state itself. Mutations are still checked; ``audit``, ``record``
    and ``as_of`` raise :class:`ConflictError` on such a graph. A journaled graph
    (:meth:`open`) always keeps its log.
    """

    __slots__ = ()

    def access_matrix(self, org: str | None = None, at: When | None = None) -> Table:
        """Who can reach which project, with the role, its source, expiry and reason.

        One row per unexpired member and project they can access, plus one row with an
        empty project for a member who can access none.
        """
        return Table(self._access_matrix_rows(org, at), columns=MATRIX_COLUMNS)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        org: str | None = None,
        projects: Mapping[str, str | os.PathLike[str]] | None = None,
        progress: Progress | None = None,
    ) -> Self:
        """A graph read from a file, whose format ``format`` names or is detected, in
        this order:

        - ``"journal"``: a file that starts with a journal header (:meth:`open` writes
          them, whatever their name). The graph holds the state its records lead to,
          replayed and verified from a private copy: the file, its snapshot and its lock
          are left alone, and a torn final record is left out with a
          ``JournalRecoveredWarning`` (:meth:`open` would cut it off). The graph is kept
          in memory, not attached to the journal.
        - ``"posthog"``: a ``.json`` file that is a PostHog members response, a list or an
          object with ``results`` and no ``format`` (see :meth:`from_posthog`). It needs
          ``org``; ``projects`` maps a project name to the file of its
          ``explicit_members`` response.
        - ``"markdown"`` (``.md``, ``.markdown``): the access registry; ``org`` is its
          org's slug (default: the slugified title).
        - ``"json"`` (``.json``): a snapshot; ``"csv"`` (``.csv``): the access matrix.

        Only Markdown and PostHog take ``org`` and only PostHog takes ``projects``
        (``ValidationError`` otherwise). The document is where the graph's history
        starts: its audit log is empty, and records the changes after.

        ``progress(done, total)`` counts the file's bytes (see
        :mod:`accessgraph._progress`)."""
        steps = Steps(progress, _size(path))
        graph = cls._load(path, format=format, org=org, projects=projects)
        steps.finish()
        return graph

    @classmethod
    def _load(
        cls,
        path: str | os.PathLike[str],
        *,
        format: str | None,
        org: str | None,
        projects: Mapping[str, str | os.PathLike[str]] | None,
    ) -> Self:
        kind = _formats.detect(path, format)
        if org is not None and kind not in ("markdown", "posthog"):
            raise ValidationError(
                f"invalid org `{org}`: only a Markdown registry or a PostHog export takes org="
            )
        if projects is not None and kind != "posthog":
            raise ValidationError("invalid projects: only a PostHog members export takes projects=")
        if kind == "journal":
            return _formats.read_journal(cls, Path(path))
        if kind in ("csv", "markdown", "json"):
            # A CSV keeps its line ends (newline=""): a line break inside a quoted cell is
            # part of its value.
            text = _formats.read_text(path, newline="" if kind == "csv" else None)
            with _formats.naming(path):
                if kind == "csv":
                    return cls.from_csv(text)
                if kind == "markdown":
                    return cls.from_markdown(text, org=org)
                return cls.from_json(text)
        text = _formats.read_text(path)
        if org is None:
            raise ValidationError(
                f"invalid org `None`: the PostHog members export `{path}` names no org, "
                "pass its slug with org="
            )
        pages = {name: _formats.read_text(file) for name, file in (projects or {}).items()}
        return cls.from_posthog(text, org=org, projects=pages)

    def save(
        self, path: str | os.PathLike[str], *, format: str | None = None, org: str | None = None
    ) -> None:
        """Write the graph to a file: ``.json`` (the whole graph), ``.csv`` (the access
        matrix) or ``.md`` (the registry of ``org``, which may be left out when the graph
        has a single org)."""
        kind = _formats.savable(path, format)
        if kind == "csv":
            self.to_csv(path)
            return
        if kind == "json":
            text = self.to_json()
        else:
            if org is None:
                slugs = [o.slug for o in self.orgs()]
                if len(slugs) != 1:
                    raise ValidationError(
                        f"invalid org `None`: the graph has {len(slugs)} orgs, name one with org="
                    )
                org = slugs[0]
            text = self.to_markdown(org)
        Path(path).write_text(text, encoding="utf-8")

    def import_registry(
        self,
        path: str | os.PathLike[str],
        *,
        org: str | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Make ``org`` match the Markdown registry at ``path``, atomically.

        The org's access becomes exactly what the document says — its name, its projects'
        attributes, memberships and grants — through the smallest set of elementary
        changes, each one an audit event (and a journal record); projects the document does
        not list are kept, without the grants it does not give. An org the graph does not
        have is created. Returns the number of changes applied (0: already in sync).
        ``progress(done, total)`` counts the document's bytes.
        """
        steps = Steps(progress, _size(path))
        text = _formats.read_text(path)
        with _formats.naming(path):
            changes = self._import_registry_text(text, org=org)
        steps.finish()
        return changes

    def to_csv(self, path: str | os.PathLike[str], *, at: When | None = None) -> None:
        """Write the access matrix as CSV (for spreadsheets; JSON is the lossless format):
        ``user,org,org_role,project,project_role,source,expires,reason``."""
        _formats.check_path(path)
        Path(path).write_text(self._csv_text(at), encoding="utf-8", newline="")

    @classmethod
    def from_posthog(
        cls,
        members: object,
        *,
        org: str,
        name: str | None = None,
        projects: Mapping[str, object] | None = None,
        roles: object = None,
        strict: bool = False,
    ) -> Self:
        """A graph of the org described by PostHog's REST API JSON (SPEC 5.4), in which
        every member holds, on every project, the role PostHog's resolver gives them.

        ``members`` is ``/api/organizations/:id/members/``; ``projects`` maps a project
        name to its ``/explicit_members/`` listing or to an object with any of
        ``"project"`` (``/api/projects/:id/``), ``"explicit_members"``,
        ``"access_controls"`` (``/api/projects/:id/access_controls``) and
        ``"access_control_members"``; ``roles`` is ``/api/organizations/:id/roles/``.
        Each is parsed JSON or JSON text, one page ``{"count", "next", "results"}``, a
        list of pages or a bare list. Overlapping pages are merged by membership id.

        A listing that is not all there is (a ``next`` page not given, a ``count`` that
        disagrees) emits :class:`PostHogImportWarning`; ``strict=True`` raises
        ``RegistryFormatError`` instead. What PostHog grants that the model cannot hold
        is listed by :meth:`posthog_report`, which returns the same graph with its notes.
        A value that does not fit raises ``RegistryFormatError`` whose ``path`` names it
        (``$.results[3].level``). See docs/posthog.md. Releases the GIL.
        """
        report = cls.posthog_report(
            members, org=org, name=name, projects=projects, roles=roles, strict=strict
        )
        for note in report.notes:
            if note.kind == "incomplete":
                warnings.warn(f"{note.path}: {note.message}", PostHogImportWarning, stacklevel=2)
        return cast(Self, report.graph)

    @classmethod
    def posthog_report(
        cls,
        members: object,
        *,
        org: str,
        name: str | None = None,
        projects: Mapping[str, object] | None = None,
        roles: object = None,
        strict: bool = False,
    ) -> PostHogReport:
        """Import PostHog's REST API JSON as :meth:`from_posthog` does and return the
        report: ``.graph`` (the imported graph) and ``.notes``, a tuple of
        :class:`PostHogNote` — what could not be expressed (per-tool and per-object
        rules, guests, a default with exceptions), what PostHog itself ignores, what was
        assumed and what is missing, each with its JSON path and PostHog source. Emits no
        warning: incomplete listings are notes of kind ``"incomplete"``."""

        def text(value: object) -> str:
            return value if isinstance(value, str) else json.dumps(value)

        pairs = [(str(k), text(v)) for k, v in (projects or {}).items()]
        graph, notes = cls._from_posthog(
            text(members),
            org=org,
            name=name,
            projects=pairs,
            roles=None if roles is None else text(roles),
            strict=strict,
        )
        return PostHogReport(graph, tuple(PostHogNote(*n) for n in notes))

    def review(
        self,
        org: str | None = None,
        *,
        at: When | None = None,
        progress: Progress | None = None,
        **thresholds: float,
    ) -> Review:
        """Review access against best practice (SPEC 4.1): every org, or ``org``.

        ``at`` judges the *current* state at that instant (default: the graph's clock).
        Thresholds are keyword arguments: ``max_owners`` (3), ``max_admin_ratio`` (0.25),
        ``review_days`` (90), ``max_production_ratio`` (0.5), ``expiring_days`` (14),
        ``key_days`` (90); an unknown name raises ``ValidationError``. Releases the GIL.
        ``progress(done, total)`` counts orgs, reported as the review's rules are done
        (each rule goes over every org); with a callback the review reads a copy of the
        state, so the callback may even change the graph (see
        :mod:`accessgraph._progress`). The review remembers this graph and instant for
        its HTML report (:meth:`Review.to_html`).
        """
        instant = self.now() if at is None else _instant(at)
        revision = self.revision
        if progress is None:
            findings = self._review(org, instant, thresholds)
        else:
            steps = Steps(progress, 1 if org is not None else len(self.orgs()))
            findings = self._review(org, instant, thresholds, steps.hook)
            steps.finish()
        source = ReviewSource(self, org, instant, revision, dict(thresholds))
        return Review._of(findings, source)

    def diff(self, other: _core.Graph) -> AccessDiff:
        """Access drift: who gains, loses or changes which effective project role, and
        which org role (a row whose ``project`` is the org's slug: joining, leaving, or a
        new org role).

        ``self`` is before, ``other`` after; each is judged at its own clock. The typical
        use is the registry document against the live graph.
        """
        return AccessDiff(AccessChange(*row) for row in self._diff_rows(other))

    def start_campaign(
        self,
        org: str,
        *,
        reviewers: Iterable[str],
        due: When,
        actor: str | None,
    ) -> Campaign:
        """Start an access review campaign of ``org`` (SOC 2 CC6.2): its population —
        every membership and grant, expired ones included — is frozen now as items for
        ``reviewers`` (members of the org) to keep or reject by ``due``.

        ``actor`` needs ``org:manage_roles``. Recorded as ``campaign.started``; see
        :class:`Campaign` for deciding, closing and the evidence."""
        if isinstance(reviewers, str):
            reviewers = [reviewers]
        raw = self._start_campaign(org, reviewers=list(reviewers), due=due, actor=actor)
        return Campaign(self, raw)

    def campaign(self, id: str) -> Campaign:
        """The campaign ``id`` (``camp_1`` …); ``NotFoundError`` if there is none."""
        return Campaign(self, self._campaign(id))

    def campaigns(self, org: str | None = None) -> list[Campaign]:
        """The campaigns of ``org`` (or of every org), in the order they were started."""
        return [Campaign(self, raw) for raw in self._campaigns(org)]

    def what_if(
        self, registry: str | os.PathLike[str] | None = None, *, org: str | None = None
    ) -> WhatIf:
        """A what-if overlay: a private copy of this graph to try changes on.

        ``with g.what_if() as w:`` gives a :class:`WhatIf` with the whole ``Graph`` API.
        Its mutations are checked as usual (authority rules apply; ``actor=None`` is the
        system) but touch neither ``g``, nor its journal, nor its audit log;
        :meth:`WhatIf.changes` lists them and :meth:`WhatIf.diff` shows who would gain or
        lose what. Leaving the block discards it.

        ``registry`` (Markdown text, or the path of a ``.md`` file) is imported into the
        overlay first, as :meth:`import_registry` would: "what would this proposed
        registry change do?". ``org`` is its org's slug (default: the slugified title).
        """
        text = None if registry is None else _registry_text(registry)
        return self._what_if(WhatIf, text, org)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durability: str = "fsync",
        hmac_key: bytes | None = None,
        snapshot: str | os.PathLike[str] | None = None,
        progress: Progress | None = None,
        follow: bool = True,
    ) -> Self:
        """Open (or create) the journal at ``path``: replay and verify it, then append
        every mutation to it before applying it.

        ``durability``: ``"fsync"`` (default: each mutation is on disk before the call
        returns), ``"group"`` (group commit: concurrent mutations share one fsync; each
        call still returns only once its events are on disk, but other threads may see a
        change a moment before it is durable) or ``"os"`` (written to the OS, no fsync:
        survives a process crash, not a power loss). ``hmac_key`` keeps a signed
        checkpoint beside the journal (``<path>.checkpoint``) that catches a clean
        truncation or a rewritten chain. ``snapshot`` names a snapshot to start from
        (default ``<path>.snapshot`` when it exists; see :meth:`snapshot`).

        Several processes may open the same journal: each query (``check``, ``explain``,
        listings, exports) first sees every change another process acknowledged, through
        a memory-mapped revision counter beside the journal (``<path>.rev``; a load per
        query, no system call; see ``docs/django.md``). Where that file cannot be made (a
        read-only directory), the graph reads the journal before every query instead and
        says so with a ``RuntimeWarning``. ``follow=False`` says this process is the
        journal's only user: no beacon, and queries never look at the journal (other
        processes' changes then arrive only with this graph's next mutation or
        :meth:`refresh`; ``follows_journal`` is ``False``).

        A torn final line (a crash mid-write) is cut off with a
        ``JournalRecoveredWarning``; any other damage raises ``JournalError`` naming the
        line and leaves the file untouched.

        ``path`` may instead be a ``postgresql://`` URL: the journal then lives in
        PostgreSQL, shared by processes on many machines (see
        :mod:`accessgraph.postgres`).

        ``progress(done, total)`` counts the bytes of the journal (and of its snapshot)
        read and replayed, reported as the replay goes; for a database journal, the
        events replayed after its snapshot (or all of them). An exception the callback
        raises stops the opening before the journal is touched (no torn tail cut, no
        checkpoint written) and propagates. The callback
        runs while this process holds the journal's file lock: it must not open the same
        journal.
        """
        from accessgraph.postgres import _open, is_url

        if is_url(path):
            if not follow:
                raise ValidationError(
                    "invalid follow: False; a postgresql:// URL says it with follow=off"
                )
            steps = Steps(progress, None)
            try:
                graph = _open(
                    cls,
                    path,
                    durability=durability,
                    hmac_key=hmac_key,
                    snapshot=snapshot,
                    progress=None if progress is None else steps.hook,
                )
            except JournalUnavailableError as e:
                _log.unreachable(path, e)
                raise
            steps.finish()
            return graph
        _formats.check_path(path)
        if snapshot is not None:
            _formats.check_path(snapshot, "snapshot")
        beside = os.fspath(path) + ".snapshot" if snapshot is None else snapshot
        steps = Steps(progress, _size(path) + _size(beside))
        snap = None if snapshot is None else os.fspath(snapshot)
        graph, recovered = cls._open(
            os.fspath(path),
            durability=durability,
            hmac_key=hmac_key,
            snapshot=snap,
            follow=follow,
            progress=None if progress is None else steps.hook,
        )
        if recovered is not None:
            line, message = recovered
            _log.recovered(os.fspath(path), line, "cut off")
            warnings.warn(JournalRecoveredWarning(message, line), stacklevel=2)
        fallback = graph._follow_fallback
        if fallback is not None:
            warnings.warn(
                f"{fallback}: this graph reads the journal before every query to see other "
                "processes' changes (correct, slower)",
                RuntimeWarning,
                stacklevel=2,
            )
        steps.finish()
        return graph

    @property
    def audit(self) -> AuditLog:
        """The audit log: every access change, hash-chained (see :class:`AuditLog`).

        Raises :class:`ConflictError` on a graph made with ``audit=False``."""
        if not self.keeps_audit_log:
            raise ConflictError("this graph keeps no audit log (it was created with audit=False)")
        return AuditLog(_GraphBackend(self))

    def record(self, actor: str, action: str, target: str, /, **details: object) -> int:
        """Record an application event (``data.exported``, ``feature_flag.changed`` …) in
        the audit log (and journal); returns its ``seq``.

        ``actor`` is ``"system"``, an email or ``"key:<id>"``; ``action`` a dotted
        lower-case name that is not one of the built-in actions; ``details`` must be
        JSON-serialisable (a detail may be named ``actor``, ``action`` or ``target``: the
        first three arguments are positional), nested at most 64 levels deep (the
        ``details`` dict counts as one) and without a value that contains itself
        (``ValidationError`` naming the value otherwise). Settings (``settings=``,
        ``update_org``, ``update_project``) follow the same rule. ``target`` and every
        key and string of ``details`` hold no NUL byte (``"\\x00"``, which PostgreSQL
        cannot store): refused for every journal, so a file journal stays importable.
        """
        return self._record(actor, action, target, details)

    def snapshot(self, path: str | os.PathLike[str] | None = None) -> int:
        """Write the state of the journal as it is at its path (what other processes
        wrote is read first) to ``path`` (default ``<journal>.snapshot``, which
        :meth:`open` picks up by itself), atomically, so opening the journal replays only
        the events after it. Returns that revision.
        Events before it are read, and verified, the first time the audit log is used.
        A graph opened from a ``postgresql://`` URL keeps its snapshot in the database
        (call it without ``path``)."""
        if self.journal_url is not None:
            from accessgraph.postgres import _snapshot

            return _snapshot(self, path)
        if path is None:
            if self.journal_path is None:
                raise ValidationError(
                    "invalid path `None`: a graph without a journal needs a snapshot path"
                )
            path = self.journal_path + ".snapshot"
        _formats.check_path(path)
        return self._snapshot(os.fspath(path))

    def plot_access(
        self,
        org: str | None = None,
        *,
        at: When | None = None,
        ax: Axes | None = None,
        expiring_days: float = 14,
    ) -> Axes:
        """An access heat map: one row per member, one column per project of ``org`` (or of
        every org), each cell coloured by the effective project role at ``at``. Carries the
        markers of the HTML views: restricted projects and external members are labelled
        so, and a cell whose access ends within ``expiring_days`` is marked ``*``. Needs
        the ``plot`` extra (matplotlib); draws on ``ax`` or a new figure and returns the
        axes."""
        from accessgraph._plot import access_heatmap, ending_cells

        title = f"Project access in {org}" if org is not None else "Project access"
        instant = self.now() if at is None else _instant(at)
        rows = self._access_matrix_rows(org, instant)
        orgs = [org] if org is not None else [o.slug for o in self.orgs()]
        members = [m for slug in orgs for m in self.members(slug)]
        projects = self.projects(org)
        expiry = {m.user: m.expires for m in members}
        return access_heatmap(
            rows,
            projects=[p.id for p in projects],
            ax=ax,
            title=title,
            restricted={p.id for p in projects if p.restricted},
            external={m.user for m in members if m.external},
            ending=ending_cells(rows, expiry, instant, expiring_days),
            ending_days=expiring_days,
        )

    def _repr_html_(self) -> str:
        from accessgraph._html import graph_html

        return graph_html(self)


_mutations.install(Graph)


def _size(path: str | os.PathLike[str]) -> int:
    """The size of the file at ``path`` in bytes; 0 when it is missing or unreadable."""
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0


def _instant(when: When) -> datetime:
    """``when`` as the core reads it (a date is 00:00 UTC; a string is ISO 8601)."""
    probe = _core.Graph(audit=False)
    probe.set_time(when)
    return probe.now()


def _registry_text(registry: str | os.PathLike[str]) -> str:
    """Registry text given as itself (it has a line break or starts with ``#``) or as
    the path of a file."""
    if isinstance(registry, str) and ("\n" in registry or registry.lstrip().startswith("#")):
        return registry
    return _formats.read_text(registry)


class WhatIf(Graph):
    """A what-if overlay (:meth:`Graph.what_if`): a private copy of a graph to try changes
    on, with the whole ``Graph`` API.

    Mutations are authority-checked as on the original and recorded in the overlay's own
    audit log (``w.audit``), never in the original's or its journal. Checks read the
    overlay's own copy with the same engine, so they cost what checks on the original do
    however many changes were made. Leaving the ``with`` block (or :meth:`discard`) frees
    the copy; using the overlay afterwards raises :class:`ConflictError`.
    """

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def changes(self) -> list[Event]:
        """What was done in the overlay, in order: its audit events, without the refused
        attempts (``access.denied``)."""
        return [e for e in self.audit.events() if e.action != "access.denied"]

    def diff(self, other: _core.Graph) -> AccessDiff:
        """Who would gain, lose or change which effective project role (or org role)
        if the overlay were real: ``other`` (the graph it came from) is before, the
        overlay after, each judged at its own clock. (``g.diff(w)`` says the same.)"""
        return AccessDiff(AccessChange(*row) for row in other._diff_rows(self))

    def discard(self) -> None:
        """Free the overlay's copy; using it afterwards raises :class:`ConflictError`."""
        self._discard()
        self.__class__ = _DiscardedWhatIf


class _DiscardedWhatIf(WhatIf):
    """A what-if overlay whose block has ended."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__"):
            return object.__getattribute__(self, name)
        raise ConflictError(
            "this what-if overlay was discarded when its block ended: start another with "
            "graph.what_if()"
        )

    def __repr__(self) -> str:
        return "<WhatIf (discarded)>"
