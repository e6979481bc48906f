"""System checks (``manage.py check``, and before ``runserver`` and ``migrate``).

Errors:

- ``accessgraph.E001`` ``settings.ACCESSGRAPH`` is missing or malformed (an unknown key,
  with "did you mean"; a value of the wrong type; both or neither of REGISTRY/JOURNAL).
- ``accessgraph.E002`` the registry or journal does not load.
- ``accessgraph.E003`` ``USER_FIELD`` does not name a unique field of the user model.
- ``accessgraph.E004`` a view declares an action that is not in the graph's catalogue
  (``@require_access("insight:veiw")``, a DRF ``access_action``), with "did you mean".
- ``accessgraph.E005`` ``ORG`` or ``DEFAULT_ORG`` names an org the graph does not have.
- ``accessgraph.E006`` a ``require_access`` without a target (the default org) while
  neither ``DEFAULT_ORG`` nor ``ORG`` is set.
- ``accessgraph.E007`` a DRF view with ``HasAccess`` and ``access_target = None`` that
  does not say ``access_per_object = True``: every request to it is refused.

Warnings:

- ``accessgraph.W001`` ``AccessGraphBackend`` is not in ``AUTHENTICATION_BACKENDS``:
  ``user.has_perm("accessgraph.…")`` is always ``False``.
- ``accessgraph.W002`` ``USER_FIELD`` is unique only case-sensitively, while the graph
  compares emails ignoring case.
- ``accessgraph.W003`` the graph's journal is shared with other processes but this
  process does not see their changes before its checks (a PostgreSQL URL with
  ``follow=off``, a file journal opened with ``follow=False``).
- ``accessgraph.W004`` a view's target names an org the graph does not have (a wrong
  ``ORG`` for a Markdown registry, whose org is otherwise named after its title).

The graph's own load errors also stop the app at start-up (``ready()``), so that a
server never answers with a graph it could not load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

import accessgraph as ag
from accessgraph.django import conf
from accessgraph.django.decorators import declared

__all__ = ["TAG", "follows_other_processes"]

TAG = "accessgraph"
"""``manage.py check --tag accessgraph`` runs these checks alone."""

_BACKEND = "accessgraph.django.AccessGraphBackend"


def _config() -> conf.Config | None:
    try:
        return conf._parse(getattr(settings, "ACCESSGRAPH", None))
    except ImproperlyConfigured:
        return None


def _graph() -> ag.Graph | None:
    try:
        return conf.get_graph()
    except ImproperlyConfigured:
        return None


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: the shape of ``settings.ACCESSGRAPH``."""
    try:
        conf._parse(getattr(settings, "ACCESSGRAPH", None))
    except conf.ConfigError as exc:
        return [
            Error(
                exc.message,
                hint='e.g. ACCESSGRAPH = {"REGISTRY": BASE_DIR / "access.md", "ORG": "acme"}; '
                "see docs/django.md",
                id="accessgraph.E001",
            )
        ]
    return []


@register(TAG)
def check_graph(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002: the registry or journal loads."""
    if _config() is None:
        return []  # E001 says why
    try:
        conf.get_graph()
    except conf.ConfigError as exc:
        if exc.id != "accessgraph.E002":
            return []  # E003 says why
        return [
            Error(
                exc.message,
                hint="fix the file (the message names the line), or point REGISTRY/JOURNAL at "
                "the right one; `accessgraph audit verify JOURNAL` inspects a journal",
                id="accessgraph.E002",
            )
        ]
    return []


@register(TAG)
def check_identity(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E003 / W002: ``USER_FIELD`` names a field no two accounts share."""
    cfg = _config()
    if cfg is None:
        return []
    verdict = conf.identity_field(cfg.user_field)
    if verdict.level == "error":
        return [Error(verdict.message, hint=verdict.hint, id="accessgraph.E003")]
    if verdict.level == "warning":
        return [Warning(verdict.message, hint=verdict.hint, id="accessgraph.W002")]
    return []


@register(TAG)
def check_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W001: the authentication backend is listed."""
    from django.utils.module_loading import import_string

    from accessgraph.django.backend import AccessGraphBackend

    for path in getattr(settings, "AUTHENTICATION_BACKENDS", ()):
        try:
            backend = import_string(path)
        except ImportError:
            continue  # Django's own checks and start-up report it
        if isinstance(backend, type) and issubclass(backend, AccessGraphBackend):
            return []
    return [
        Warning(
            f"{_BACKEND} is not in settings.AUTHENTICATION_BACKENDS: "
            'user.has_perm("accessgraph.<action>", target) is always False '
            "(require_access and HasAccess still work: they ask the graph directly)",
            hint=f'add "{_BACKEND}" after "django.contrib.auth.backends.ModelBackend"',
            id="accessgraph.W001",
        )
    ]


@dataclass(frozen=True, slots=True)
class _Use:
    """An action and target a view declares."""

    action: str
    where: str
    target: str | None  # as written, when a string
    default_org: bool


@register(TAG)
def check_views(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004 (unknown actions), E006 (no default org), W004 (unknown orgs) and E007."""
    cfg = _config()
    if cfg is None:
        return []
    uses, messages = _drf_views()  # imports the URLconf, and so the decorated views
    uses += [_Use(d.action, d.view, d.target, d.default_org) for d in declared()]
    if cfg.default_org is None:
        needy = sorted({u.where for u in uses if u.default_org})
        if needy:
            messages.append(
                Error(
                    f"{', '.join(needy)}: require_access() without a target checks the "
                    "default org, but settings.ACCESSGRAPH sets neither DEFAULT_ORG nor ORG: "
                    "every request would fail",
                    hint='set ACCESSGRAPH["DEFAULT_ORG"] (or "ORG"), or give the target',
                    id="accessgraph.E006",
                )
            )
    graph = _graph()
    if graph is None:
        return messages
    actions = graph.actions()
    known = set(actions)
    for use in uses:
        if use.action not in known:
            messages.append(
                Error(
                    f"`{use.action}` is not an accessgraph action"
                    f"{conf.did_you_mean(use.action, actions)}",
                    hint="the catalogue is in docs/semantics.md; custom actions come from "
                    "graph.define_action()",
                    obj=use.where,
                    id="accessgraph.E004",
                )
            )
    orgs = [o.slug for o in graph.orgs()]
    if orgs:
        for use in uses:
            org = _org_of(use.target)
            if org is not None and org not in orgs:
                messages.append(
                    Warning(
                        f"the target `{use.target}` names org `{org}`, which the graph does "
                        f"not have{conf.did_you_mean(org, orgs)}: it has "
                        f"{', '.join(f'`{o}`' for o in orgs)}",
                        hint="a Markdown registry's org is ACCESSGRAPH['ORG'], else its "
                        "title slugified: set ORG to the slug your views use",
                        obj=use.where,
                        id="accessgraph.W004",
                    )
                )
    return messages


def _org_of(target: str | None) -> str | None:
    if target is None:
        return None
    org = target.split("/", 1)[0]
    return None if not org or "{" in org else org


@register(TAG)
def check_org(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E005: ``ORG`` and ``DEFAULT_ORG`` name orgs of the graph."""
    cfg = _config()
    graph = _graph()
    if cfg is None or graph is None:
        return []
    orgs = [o.slug for o in graph.orgs()]
    if not orgs:
        return []  # a new journal: its orgs come later
    messages: list[CheckMessage] = []
    for key, value in (("ORG", cfg.org), ("DEFAULT_ORG", cfg.default_org)):
        if value is not None and value not in orgs:
            messages.append(
                Error(
                    f"settings.ACCESSGRAPH[{key!r}] is `{value}`, which the graph does not "
                    f"have{conf.did_you_mean(value, orgs)}: it has "
                    f"{', '.join(f'`{o}`' for o in orgs)}",
                    hint="checks on it would deny everyone",
                    id="accessgraph.E005",
                )
            )
            break  # DEFAULT_ORG defaults to ORG: one message
    return messages


def follows_other_processes(graph: ag.Graph) -> bool | None:
    """Does ``graph`` see other processes' acknowledged changes before its next check?
    ``None`` for a graph without a shared journal (a registry, or in memory)."""
    url = graph.journal_url
    if url is not None:
        follow = parse_qs(urlsplit(url).query).get("follow", ["on"])[-1]
        return follow.lower() not in ("off", "false", "0", "no")
    if graph.journal_path is None:
        return None
    # A file journal: its revision beacon (docs/django.md "What a request sees").
    return bool(graph.follows_journal)


@register(TAG)
def check_freshness(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W003: a shared journal whose changes this process would not see in time."""
    graph = _graph()
    if graph is None or follows_other_processes(graph) is not False:
        return []
    if graph.journal_url is not None:
        text = (
            "settings.ACCESSGRAPH['JOURNAL'] is a PostgreSQL URL with follow=off: another "
            "worker's changes (a revocation) reach this one only at its next mutation or "
            "refresh()"
        )
        hint = "remove follow=off from the URL"
    else:
        # A graph given to set_graph() opened with Graph.open(path, follow=False).
        text = (
            f"the journal `{graph.journal_path}` may be shared by several worker processes, "
            "but this graph sees another process's changes only when refresh() is called: "
            "a member removed in one worker keeps access in the others"
        )
        hint = (
            "open it without follow=False (set_graph); silence accessgraph.W003 if a single "
            "process uses this journal"
        )
    return [Warning(text, hint=hint, id="accessgraph.W003")]


def _drf_views() -> tuple[list[_Use], list[CheckMessage]]:
    """The actions and targets of the DRF views in the URLconf guarded by ``HasAccess``,
    and E007 for those that would refuse every request."""
    try:
        from accessgraph.django.drf import HasAccess
    except ImportError:
        return [], []
    uses: list[_Use] = []
    messages: list[CheckMessage] = []
    seen: set[type] = set()
    for callback in _url_callbacks():
        cls = getattr(callback, "cls", None)
        if not isinstance(cls, type) or cls in seen:
            continue
        seen.add(cls)
        attrs: dict[str, Any] = dict(getattr(callback, "initkwargs", None) or {})

        def attr(
            name: str, default: Any = None, cls: type = cls, attrs: dict[str, Any] = attrs
        ) -> Any:
            return attrs.get(name, getattr(cls, name, default))

        if not _uses(attr("permission_classes", ()), HasAccess):
            continue
        where = f"{cls.__module__}.{cls.__qualname__}"
        declared_action = attr("access_action")
        actions = (
            list(declared_action.values())
            if isinstance(declared_action, Mapping)
            else [declared_action]
        )
        target = attr("access_target", _UNSET)
        for action in actions:
            if isinstance(action, str):
                uses.append(_Use(action, where, target if isinstance(target, str) else None, False))
        if (
            target is None
            and not callable(attr("get_access_target"))
            and attr("access_per_object") is not True
        ):
            messages.append(
                Error(
                    f"{where} has access_target = None and does not check per object: "
                    "HasAccess refuses every request to it",
                    hint="give it a target (access_target or get_access_target), or set "
                    "access_per_object = True if every object it returns goes through "
                    "get_object()/check_object_permissions",
                    obj=where,
                    id="accessgraph.E007",
                )
            )
    return uses, messages


_UNSET = object()


def _uses(permissions: Any, cls: type) -> bool:
    """Is ``cls`` among DRF ``permission_classes`` (also inside ``A & B``, ``~A``)?"""
    for p in permissions or ():
        if isinstance(p, type) and issubclass(p, cls):
            return True
        operands = [getattr(p, n, None) for n in ("op1_class", "op2_class")]
        if any(o is not None and _uses([o], cls) for o in operands):
            return True
    return False


def _url_callbacks() -> Iterator[Any]:
    from django.urls import get_resolver

    def walk(patterns: Any) -> Iterator[Any]:
        for pattern in patterns:
            nested = getattr(pattern, "url_patterns", None)
            if nested is not None:
                yield from walk(nested)
            else:
                yield pattern.callback

    try:
        patterns = get_resolver().url_patterns
    except Exception:  # a broken URLconf: Django's own checks report it
        return
    yield from walk(patterns)
