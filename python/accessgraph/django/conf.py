"""Settings and the one graph per process of the Django integration.

``settings.ACCESSGRAPH`` is a dict::

    ACCESSGRAPH = {
        "REGISTRY": BASE_DIR / "access.md",   # Graph.load(path, org=ORG): .md, .json or .csv
        # or "JOURNAL": BASE_DIR / "access.journal",  (Graph.open: durable, audited)
        # or "JOURNAL": "postgresql://app@db/accessgraph?graph=main",  (shared by every
        #     process on every machine: see accessgraph.postgres)
        "ORG": "acme",                # org= for a Markdown registry; default for DEFAULT_ORG
        "DEFAULT_ORG": "acme",        # the target of has_perm(user, perm) without obj
        "USER_FIELD": "email",        # the user model's field that is the accessgraph
                                      # identity: it must be unique (see identity_field)
        "UNKNOWN_ACTION": "raise",    # or "deny": log the typo and deny
    }

The graph is loaded once, under a lock, the first time :func:`get_graph` is called (the
app's ``ready()`` does that at start-up, so a bad setting fails there). Tests replace it
with :func:`override_graph` (or :func:`set_graph`); ``override_settings(ACCESSGRAPH=...)``
makes the next :func:`get_graph` load again.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.signals import setting_changed

import accessgraph as ag
from accessgraph.django import signals
from accessgraph.postgres import is_url, redact

__all__ = [
    "Config",
    "ConfigError",
    "FieldVerdict",
    "config",
    "get_graph",
    "identity_field",
    "override_graph",
    "set_graph",
]

_KEYS = ("REGISTRY", "JOURNAL", "ORG", "DEFAULT_ORG", "USER_FIELD", "UNKNOWN_ACTION")


class ConfigError(ImproperlyConfigured):
    """A setting the app cannot work with. ``id`` is the system check that reports it
    (``accessgraph.E001`` shape, ``E002`` load, ``E003`` identity field) and starts the
    message, so that a start-up traceback says which one to read up on."""

    def __init__(self, id: str, message: str) -> None:
        super().__init__(f"{id}: {message}")
        self.id = id
        self.message = message


@dataclass(frozen=True, slots=True)
class Config:
    """``settings.ACCESSGRAPH``, checked."""

    registry: Path | None
    journal: Path | str | None  # a path, or a postgresql:// URL
    org: str | None
    default_org: str | None
    user_field: str
    unknown_action: Literal["raise", "deny"]


_lock = threading.Lock()
# Written under _lock; read without it (a reference read is atomic) on the hot path.
_config: Config | None = None
_loaded: ag.Graph | None = None
_injected: ag.Graph | None = None


def config() -> Config:
    """``settings.ACCESSGRAPH``, read and checked once (again after ``override_settings``)."""
    current = _config
    if current is not None:
        return current
    with _lock:
        return _config_locked()


def _config_locked() -> Config:
    global _config
    if _config is not None:
        return _config
    parsed = _parse(getattr(settings, "ACCESSGRAPH", None))
    if not apps.models_ready:
        return parsed  # the user model is not known yet: checked (and kept) later
    verdict = identity_field(parsed.user_field)
    if verdict.level == "error":
        # Fail closed: a field two accounts may share would hand one the other's access.
        raise ConfigError("accessgraph.E003", f"{verdict.message} ({verdict.hint})")
    _config = parsed
    return _config


def get_graph() -> ag.Graph:
    """The process's graph: the injected one, else the one loaded from the settings."""
    global _loaded
    graph = _injected if _injected is not None else _loaded
    if graph is not None:
        return graph
    with _lock:
        if _injected is not None:
            return _injected
        if _loaded is None:
            _loaded = _load(_config_locked())
            signals.watch(_loaded)
        return _loaded


def set_graph(graph: ag.Graph | None) -> None:
    """Use ``graph`` in this process from now on (``None``: back to the settings' graph).

    For a project that builds its graph itself, e.g. in the ``ready()`` of an app listed
    before ``accessgraph.django`` in ``INSTALLED_APPS``.
    """
    global _injected
    if graph is not None and not isinstance(graph, ag.Graph):
        raise TypeError(f"set_graph() takes an accessgraph.Graph, not {type(graph).__name__}")
    with _lock:
        _injected = graph
    if graph is not None:
        signals.watch(graph)


@contextmanager
def override_graph(graph: ag.Graph) -> Iterator[ag.Graph]:
    """Use ``graph`` in every thread of this process for the ``with`` block (tests)."""
    global _injected
    if not isinstance(graph, ag.Graph):
        raise TypeError(f"override_graph() takes an accessgraph.Graph, not {type(graph).__name__}")
    with _lock:
        previous, _injected = _injected, graph
    signals.watch(graph)
    try:
        yield graph
    finally:
        with _lock:
            _injected = previous
            restored = _injected if _injected is not None else _loaded
        if restored is not None:
            signals.watch(restored)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _config, _loaded
    if setting == "ACCESSGRAPH":
        with _lock:
            _config = None
            _loaded = None


setting_changed.connect(_on_setting_changed, dispatch_uid="accessgraph.django.conf")
signals.announce_for(get_graph)


def _parse(raw: object) -> Config:
    if raw is None:
        raise ConfigError(
            "accessgraph.E001",
            'settings.ACCESSGRAPH is not set: give {"REGISTRY": path} or {"JOURNAL": path}',
        )
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "accessgraph.E001",
            f"settings.ACCESSGRAPH is a {type(raw).__name__}: expected a dict such as "
            '{"REGISTRY": "access.md"}',
        )
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise ConfigError(
            "accessgraph.E001",
            f"settings.ACCESSGRAPH has unknown key `{unknown[0]}`{did_you_mean(unknown[0], _KEYS)}"
            f": expected {', '.join(_KEYS)}",
        )
    registry, journal = _path(raw, "REGISTRY"), _journal(raw)
    if registry is not None and journal is not None:
        raise ConfigError(
            "accessgraph.E001",
            "settings.ACCESSGRAPH gives both REGISTRY and JOURNAL: the graph comes from one",
        )
    if registry is None and journal is None:
        raise ConfigError(
            "accessgraph.E001",
            'settings.ACCESSGRAPH names no graph: give {"REGISTRY": path} or {"JOURNAL": path}',
        )
    org = _text(raw, "ORG")
    default_org = _text(raw, "DEFAULT_ORG") or org
    user_field = _text(raw, "USER_FIELD") or "email"
    unknown_action = raw.get("UNKNOWN_ACTION", "raise")
    if unknown_action not in ("raise", "deny"):
        raise ConfigError(
            "accessgraph.E001",
            f"settings.ACCESSGRAPH['UNKNOWN_ACTION'] is `{unknown_action}`: expected "
            '"raise" or "deny"',
        )
    return Config(registry, journal, org, default_org, user_field, unknown_action)


def _path(raw: Mapping[Any, Any], key: str) -> Path | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(
            "accessgraph.E001",
            f"settings.ACCESSGRAPH[{key!r}] is a {type(value).__name__}: expected a path",
        )
    return Path(value)


def _journal(raw: Mapping[Any, Any]) -> Path | str | None:
    value = raw.get("JOURNAL")
    if is_url(value):
        return value  # a journal in PostgreSQL, shared by every process (not a path)
    return _path(raw, "JOURNAL")


def _text(raw: Mapping[Any, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(
            "accessgraph.E001",
            f"settings.ACCESSGRAPH[{key!r}] is `{value!r}`: expected a non-empty string",
        )
    return value


def _load(cfg: Config) -> ag.Graph:
    if cfg.journal is not None:
        return _open_journal(cfg.journal)
    if cfg.registry is None:  # pragma: no cover - _parse refuses a config without either
        raise ConfigError("accessgraph.E001", "settings.ACCESSGRAPH names no graph")
    if not cfg.registry.is_file():
        raise ConfigError(
            "accessgraph.E002",
            f"settings.ACCESSGRAPH['REGISTRY'] `{cfg.registry}` is not a file "
            f"(relative paths start from `{Path.cwd()}`)",
        )
    try:
        return ag.Graph.load(cfg.registry, org=cfg.org)
    except (ag.AccessGraphError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "accessgraph.E002",
            f"settings.ACCESSGRAPH['REGISTRY'] `{cfg.registry}` does not load: {exc}",
        ) from exc


def _open_journal(path: Path | str) -> ag.Graph:
    try:
        return ag.Graph.open(path)
    except (ag.AccessGraphError, OSError) as exc:
        # A URL's password stays out of the message.
        shown = redact(path) if isinstance(path, str) else str(path)
        raise ConfigError(
            "accessgraph.E002", f"settings.ACCESSGRAPH['JOURNAL'] `{shown}` does not open: {exc}"
        ) from exc


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean `x`?)`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


@dataclass(frozen=True, slots=True)
class FieldVerdict:
    """What :func:`identity_field` found: ``level`` ``"ok"``, ``"warning"`` or ``"error"``."""

    level: Literal["ok", "warning", "error"]
    message: str = ""
    hint: str = ""


def identity_field(name: str) -> FieldVerdict:
    """Is ``USER_FIELD`` a field of the user model that no two accounts share?

    The graph compares emails case-insensitively. A field that is not unique (Django's
    ``User.email``) lets anyone who registers another account with the owner's address
    act as the owner: an error, refused at start-up. A field unique only as Django
    compares it (``OWNER@ACME.COM`` and ``owner@acme.com`` are two accounts) is a
    warning, unless a ``UniqueConstraint(Lower(name))`` makes it unique whatever the case.
    """
    from django.contrib.auth import get_user_model

    try:
        model = get_user_model()
    except ImproperlyConfigured:  # no user model installed: nothing to check against
        return FieldVerdict("ok")
    label = model._meta.label
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        fields = [f.name for f in model._meta.concrete_fields]
        return FieldVerdict(
            "error",
            f"settings.ACCESSGRAPH['USER_FIELD'] `{name}` is not a field of {label}"
            f"{did_you_mean(name, fields)}",
            "name a unique field of the user model that holds the accessgraph email",
        )
    if _unique_ignoring_case(model, name):
        return FieldVerdict("ok")
    if not (getattr(field, "unique", False) or _unique_by_constraint(model, name)):
        return FieldVerdict(
            "error",
            f"settings.ACCESSGRAPH['USER_FIELD'] `{name}` of {label} is not unique: two "
            f"accounts may hold the same {name}, and each would get the access the graph "
            "gives it",
            f"make {label}.{name} unique, e.g. a custom user model with "
            f"`{name} = models.EmailField(unique=True)` and "
            f'`UniqueConstraint(Lower("{name}"), name="unique_{name}_ci")`, or name '
            "another field that is",
        )
    return FieldVerdict(
        "warning",
        f"settings.ACCESSGRAPH['USER_FIELD'] `{name}` of {label} is unique only as "
        f"written: `OWNER@ACME.COM` and `owner@acme.com` may be two accounts, and the graph "
        "gives both the access of `owner@acme.com`",
        f'add `UniqueConstraint(Lower("{name}"), name="unique_{name}_ci")` to {label}, or '
        "silence accessgraph.W002 if accounts are created with lower-case values only",
    )


def _unique_by_constraint(model: Any, name: str) -> bool:
    return any(tuple(c.fields) == (name,) for c in model._meta.total_unique_constraints)


def _unique_ignoring_case(model: Any, name: str) -> bool:
    from django.db.models import F, UniqueConstraint
    from django.db.models.functions import Lower, Upper

    for constraint in model._meta.constraints:
        if not isinstance(constraint, UniqueConstraint) or constraint.condition is not None:
            continue
        if len(constraint.expressions) != 1:
            continue
        expression = constraint.expressions[0]
        if isinstance(expression, Lower | Upper):
            sources = expression.get_source_expressions()
            if len(sources) == 1 and isinstance(sources[0], F) and sources[0].name == name:
                return True
    return False
