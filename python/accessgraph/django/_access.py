"""How a Django user, permission string and object become one accessgraph check.

Shared by the authentication backend, the DRF permission class and the view decorator,
so the three agree on who is denied outright (anonymous and inactive users), what a
permission string means, what an unknown action does, and how a refusal is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

from accessgraph.django import signals
from accessgraph.django.conf import config, get_graph
from accessgraph.exceptions import UnknownActionError

if TYPE_CHECKING:
    from django.http import HttpRequest

    import accessgraph as ag

__all__ = [
    "PREFIX",
    "Verdict",
    "action_of",
    "decide",
    "identity",
    "judge",
    "log_refusal",
    "object_target",
    "target_of",
]

PREFIX = "accessgraph."
"""The app label of accessgraph permissions: ``accessgraph.feature_flag:manage``."""

logger = logging.getLogger("accessgraph.django")

_MISSING = object()


def action_of(perm: str) -> str | None:
    """The action a Django permission string names, or ``None`` for another app's.

    ``"accessgraph.insight:view"`` and ``"insight:view"`` name ``insight:view``;
    ``"auth.change_user"`` (another app, or no ``:``) is not ours, and neither is
    ``"accessgraph.view_access"``, the Django permission of the admin pages (every
    accessgraph action is ``resource:verb``).
    """
    if perm.startswith(PREFIX):
        action = perm[len(PREFIX) :]
        return action if ":" in action else None
    if "." in perm or ":" not in perm:
        return None
    return perm


def identity(user: object) -> str | None:
    """The user's accessgraph identity (``USER_FIELD``), ``None`` when denied outright.

    Anonymous users, inactive users (``is_active=False``) and users without the field
    are never allowed anything.
    """
    if user is None or getattr(user, "is_anonymous", False):
        return None
    # Django's own backends treat a user model without is_active as active.
    if not getattr(user, "is_active", True):
        return None
    value = getattr(user, config().user_field, None)
    return value if isinstance(value, str) and value else None


def object_target(obj: object) -> str | None:
    """The target of ``obj``: a string is one; else its ``access_target`` (an attribute,
    property or method); ``None`` when it has none."""
    if isinstance(obj, str):
        return obj
    value = getattr(obj, "access_target", _MISSING)
    if value is _MISSING:
        return None
    if callable(value):
        value = value()
    if not isinstance(value, str):
        raise TypeError(
            f"`access_target` of {type(obj).__name__} is {value!r}: expected a target "
            "string such as `acme/production`"
        )
    return value


def target_of(obj: object) -> str:
    """The target ``has_perm`` checks for ``obj``; ``None`` means ``DEFAULT_ORG``."""
    if obj is None:
        org = config().default_org
        if org is None:
            raise ImproperlyConfigured(
                "a permission check without an object needs settings.ACCESSGRAPH['DEFAULT_ORG'] "
                "(or ORG): pass the target as obj, e.g. has_perm(perm, 'acme/production')"
            )
        return org
    target = object_target(obj)
    if target is None:
        raise TypeError(
            f"cannot tell the accessgraph target of a {type(obj).__name__}: pass a target "
            "string or an object with an `access_target` attribute"
        )
    return target


def decide(user: object, action: str, obj: object, *, announce: bool = True) -> bool:
    """May ``user`` perform ``action`` on ``obj`` (a target, an object or ``None``)?

    An unknown action raises ``UnknownActionError`` (``UNKNOWN_ACTION = "raise"``, the
    default) or is logged at ERROR and denied (``"deny"``). A check is a lookup in memory
    (about 100 ns, no I/O), so async code calls this directly, with ``announce=False``
    after awaiting :func:`signals.asend_changes` itself. A refusal's reason is logged at
    DEBUG (worked out only when DEBUG is on for the ``accessgraph.django`` logger).
    """
    graph = get_graph()
    if announce and signals.pending(graph):
        signals.send_changes(graph)
    email = identity(user)
    if email is None:
        return False
    target = target_of(obj)
    if _check(graph, email, action, target):
        return True
    if logger.isEnabledFor(logging.DEBUG):
        reason = graph.explain(email, action, target).reason
        logger.debug(
            "accessgraph refused user=%s action=%s target=%s: %s",
            email,
            action,
            target,
            reason,
            extra={"accessgraph": {"user": email, "action": action, "target": target}},
        )
    return False


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision about a request, with what a refusal page and log line say."""

    allowed: bool
    user: str | None
    """The identity checked; ``None`` for an anonymous or inactive user, or one without
    ``USER_FIELD``."""
    action: str
    target: str
    reason: str
    role: str | None = None
    source: str | None = None

    @property
    def anonymous(self) -> bool:
        """Refused because nobody is logged in (a login would help)."""
        return self.user is None and self.reason == _ANONYMOUS


_ANONYMOUS = "nobody is logged in"


def judge(user: object, action: str, obj: object, *, announce: bool = True) -> Verdict:
    """:func:`decide`, keeping the reason: for views, which log and show refusals."""
    graph = get_graph()
    if announce and signals.pending(graph):
        signals.send_changes(graph)
    target = target_of(obj)
    email = identity(user)
    if email is None:
        return Verdict(False, None, action, target, _no_identity(user))
    if _check(graph, email, action, target):
        return Verdict(True, email, action, target, "allowed")
    try:
        decision = graph.explain(email, action, target)
    except UnknownActionError:  # UNKNOWN_ACTION = "deny"; already logged
        return Verdict(False, email, action, target, f"`{action}` is not an action")
    return Verdict(False, email, action, target, decision.reason, decision.role, decision.source)


def _no_identity(user: object) -> str:
    if user is None or getattr(user, "is_anonymous", False):
        return _ANONYMOUS
    if not getattr(user, "is_active", True):
        return "the account is inactive"
    return (
        f"the user has no `{config().user_field}` (settings.ACCESSGRAPH['USER_FIELD']), so "
        "the graph cannot tell who they are"
    )


def _check(graph: ag.Graph, email: str, action: str, target: str) -> bool:
    try:
        return graph.check(email, action, target)
    except UnknownActionError:
        if config().unknown_action == "raise":
            raise
        logger.error("unknown accessgraph action `%s` (checked on `%s`): denied", action, target)
        return False


def log_refusal(request: HttpRequest, verdict: Verdict) -> None:
    """One INFO line for a refused request (who, what, where, which role and source), and
    the decision's reason at DEBUG. Never a secret: identities, actions and targets only."""
    fields = {
        "method": request.method,
        "path": request.path,
        "user": verdict.user,
        "action": verdict.action,
        "target": verdict.target,
        "role": verdict.role,
        "source": verdict.source,
    }
    logger.info(
        "accessgraph denied request method=%s path=%s user=%s action=%s target=%s role=%s "
        "source=%s",
        *fields.values(),
        extra={"accessgraph": fields},
    )
    logger.debug(
        "accessgraph denied %s %s because %s",
        request.method,
        request.path,
        verdict.reason,
        extra={"accessgraph": {**fields, "reason": verdict.reason}},
    )
