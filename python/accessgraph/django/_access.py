"""How a Django user, permission string and object become one accessgraph check.

Shared by the authentication backend, the DRF permission class and the view decorator,
so the three agree on who is denied outright (anonymous and inactive users), what a
permission string means, and what an unknown action does.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured

from accessgraph.django.conf import config, get_graph
from accessgraph.exceptions import UnknownActionError

__all__ = ["PREFIX", "action_of", "decide", "identity", "object_target", "target_of"]

PREFIX = "accessgraph."
"""The app label of accessgraph permissions: ``accessgraph.feature_flag:manage``."""

logger = logging.getLogger("accessgraph.django")

_MISSING = object()


def action_of(perm: str) -> str | None:
    """The action a Django permission string names, or ``None`` for another app's.

    ``"accessgraph.insight:view"`` and ``"insight:view"`` name ``insight:view``;
    ``"auth.change_user"`` (another app, or no ``:``) is not ours.
    """
    if perm.startswith(PREFIX):
        return perm[len(PREFIX) :]
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


def decide(user: object, action: str, obj: object) -> bool:
    """May ``user`` perform ``action`` on ``obj`` (a target, an object or ``None``)?

    An unknown action raises ``UnknownActionError`` (``UNKNOWN_ACTION = "raise"``, the
    default) or is logged at ERROR and denied (``"deny"``). A check is a lookup in memory
    (about 100 ns, no I/O), so async code calls this directly.
    """
    email = identity(user)
    if email is None:
        return False
    target = target_of(obj)
    try:
        return get_graph().check(email, action, target)
    except UnknownActionError:
        if config().unknown_action == "raise":
            raise
        logger.error("unknown accessgraph action `%s` (checked on `%s`): denied", action, target)
        return False
