"""Settings and the one graph per process of the Django integration.

``settings.ACCESSGRAPH`` is a dict::

    ACCESSGRAPH = {
        "REGISTRY": BASE_DIR / "access.md",   # Graph.load(path, org=ORG): .md, .json or .csv
        # or "JOURNAL": BASE_DIR / "access.journal",  (Graph.open: durable, audited)
        # or "JOURNAL": "postgresql://app@db/accessgraph?graph=main",  (shared by every
        #     process on every machine: see accessgraph.postgres)
        "ORG": "acme",                # org= for a Markdown registry; default for DEFAULT_ORG
        "DEFAULT_ORG": "acme",        # the target of has_perm(user, perm) without obj
        "USER_FIELD": "email",        # the user attribute that is the accessgraph identity
        "UNKNOWN_ACTION": "raise",    # or "deny": log the typo and deny
    }

The graph is loaded once, under a lock, the first time :func:`get_graph` is called (the
app's ``ready()`` does that at start-up, so a bad setting fails there). Tests replace it
with :func:`override_graph` (or :func:`set_graph`); ``override_settings(ACCESSGRAPH=...)``
makes the next :func:`get_graph` load again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

import accessgraph as ag
from accessgraph.postgres import redact

__all__ = ["Config", "config", "get_graph", "override_graph", "set_graph"]

_KEYS = ("REGISTRY", "JOURNAL", "ORG", "DEFAULT_ORG", "USER_FIELD", "UNKNOWN_ACTION")


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
    if _config is None:
        _config = _parse(getattr(settings, "ACCESSGRAPH", None))
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


@contextmanager
def override_graph(graph: ag.Graph) -> Iterator[ag.Graph]:
    """Use ``graph`` in every thread of this process for the ``with`` block (tests)."""
    global _injected
    if not isinstance(graph, ag.Graph):
        raise TypeError(f"override_graph() takes an accessgraph.Graph, not {type(graph).__name__}")
    with _lock:
        previous, _injected = _injected, graph
    try:
        yield graph
    finally:
        with _lock:
            _injected = previous


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _config, _loaded
    if setting == "ACCESSGRAPH":
        with _lock:
            _config = None
            _loaded = None


setting_changed.connect(_on_setting_changed, dispatch_uid="accessgraph.django.conf")


def _parse(raw: object) -> Config:
    if raw is None:
        raise ImproperlyConfigured(
            'settings.ACCESSGRAPH is not set: give {"REGISTRY": path} or {"JOURNAL": path}'
        )
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH is a {type(raw).__name__}: expected a dict such as "
            '{"REGISTRY": "access.md"}'
        )
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH has unknown key `{unknown[0]}`: expected {', '.join(_KEYS)}"
        )
    registry, journal = _path(raw, "REGISTRY"), _journal(raw)
    if registry is not None and journal is not None:
        raise ImproperlyConfigured(
            "settings.ACCESSGRAPH gives both REGISTRY and JOURNAL: the graph comes from one"
        )
    org = _text(raw, "ORG")
    default_org = _text(raw, "DEFAULT_ORG") or org
    user_field = _text(raw, "USER_FIELD") or "email"
    unknown_action = raw.get("UNKNOWN_ACTION", "raise")
    if unknown_action not in ("raise", "deny"):
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH['UNKNOWN_ACTION'] is `{unknown_action}`: expected "
            '"raise" or "deny"'
        )
    return Config(registry, journal, org, default_org, user_field, unknown_action)


def _path(raw: Mapping[Any, Any], key: str) -> Path | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH[{key!r}] is a {type(value).__name__}: expected a path"
        )
    return Path(value)


def _journal(raw: Mapping[Any, Any]) -> Path | str | None:
    value = raw.get("JOURNAL")
    if isinstance(value, str) and value.startswith(("postgresql://", "postgres://")):
        return value  # a journal in PostgreSQL, shared by every process (not a path)
    return _path(raw, "JOURNAL")


def _text(raw: Mapping[Any, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH[{key!r}] is `{value!r}`: expected a non-empty string"
        )
    return value


def _load(cfg: Config) -> ag.Graph:
    if cfg.journal is not None:
        return _open_journal(cfg.journal)
    if cfg.registry is None:
        raise ImproperlyConfigured(
            'settings.ACCESSGRAPH names no graph: give {"REGISTRY": path} or {"JOURNAL": path}'
        )
    if not cfg.registry.is_file():
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH['REGISTRY'] `{cfg.registry}` is not a file "
            f"(relative paths start from `{Path.cwd()}`)"
        )
    try:
        return ag.Graph.load(cfg.registry, org=cfg.org)
    except (ag.AccessGraphError, OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH['REGISTRY'] `{cfg.registry}` does not load: {exc}"
        ) from exc


def _open_journal(path: Path | str) -> ag.Graph:
    try:
        return ag.Graph.open(path)
    except (ag.AccessGraphError, OSError) as exc:
        # A URL's password stays out of the message.
        shown = redact(path) if isinstance(path, str) else str(path)
        raise ImproperlyConfigured(
            f"settings.ACCESSGRAPH['JOURNAL'] `{shown}` does not open: {exc}"
        ) from exc
