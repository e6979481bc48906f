"""The mutations' Python face: each calls the core and logs what operators act on.

``install(Graph)`` puts one thin method per mutation on ``accessgraph.Graph``: it calls
the core's method and, when that raises, logs a refusal (``mutation.denied``) or a
journal failure (``journal.unavailable``, ``journal.fail_stop``, ``journal.error``); the
first call that goes through after an unreachable shared journal logs
``journal.reconnected`` (see :mod:`accessgraph._log`). Queries (``check`` and friends)
are not wrapped: the check path is the core's method itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from accessgraph import _core, _log
from accessgraph.exceptions import JournalError, PermissionDenied

__all__ = ["MUTATIONS", "install"]

MUTATIONS: dict[str, str] = {
    name: name
    for name in (
        "add_org",
        "add_project",
        "add_member",
        "set_org_role",
        "remove_member",
        "update_member",
        "grant",
        "revoke",
        "update_project",
        "remove_project",
        "update_org",
        "remove_org",
        "add_resource",
        "define_action",
        "create_personal_key",
        "rotate_personal_key",
        "revoke_personal_key",
        "rotate_project_key",
        "offboard",
        "erase_user",
        "define_template",
        "onboard",
        "request_access",
        "approve",
        "deny",
        "sync_directory",
        "apply",
        "refresh",
    )
} | {
    "_import_registry_text": "import_registry",
    "_record": "record",
    "_audit_prune": "audit.prune",
    "_snapshot_postgres": "snapshot",
}
"""The core methods wrapped (each mutates, or reaches a shared journal), and the name the
logs give each."""


def _wrap(core: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(core)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            out = core(self, *args, **kwargs)
        except PermissionDenied as e:
            _log.denied(label, e)
            raise
        except JournalError as e:
            _log.journal_error(self, label, e)
            raise
        if _log.unavailable:
            _log.went_through(self, label)
        return out

    return method


def install(graph_class: type[_core.Graph]) -> None:
    """Put the logging mutations on ``graph_class`` (``accessgraph.Graph``)."""
    for name, label in MUTATIONS.items():
        setattr(graph_class, name, _wrap(getattr(_core.Graph, name), label))
