"""``AccessGraphBackend``: Django's permission API (``user.has_perm``) over the graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessgraph.django import signals
from accessgraph.django._access import PREFIX, action_of, decide, identity, object_target
from accessgraph.django.conf import config, get_graph
from accessgraph.exceptions import NotFoundError

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["AccessGraphBackend"]

APP_LABEL = "accessgraph"


class AccessGraphBackend:
    """An ``AUTHENTICATION_BACKENDS`` entry that authorizes and never authenticates.

    ``perm`` is an action, optionally prefixed ``accessgraph.``
    (``"feature_flag:manage"`` or ``"accessgraph.feature_flag:manage"``); another app's
    permission (``"auth.change_user"``) is ``False`` here so the next backend decides.
    ``accessgraph.view_access`` (no ``:``) is the Django permission of the admin pages,
    also left to ``ModelBackend``.
    ``obj`` is a target string (``"acme/production"``), an object with an
    ``access_target`` attribute, or ``None`` for ``settings.ACCESSGRAPH["DEFAULT_ORG"]``.
    Anonymous and inactive users are always denied.

    The ``a``-prefixed twins are what Django calls from async views
    (``await user.ahas_perm(...)``); they call the check directly, since it is an
    in-memory lookup that never waits on I/O.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: object) -> None:
        """Never authenticates: another backend establishes who the user is."""
        return None

    async def aauthenticate(self, request: HttpRequest | None, **credentials: object) -> None:
        """Never authenticates."""
        return None

    def get_user(self, user_id: object) -> None:
        """Never returns a user (this backend logs nobody in)."""
        return None

    async def aget_user(self, user_id: object) -> None:
        """Never returns a user."""
        return None

    def has_perm(self, user_obj: object, perm: str, obj: object = None) -> bool:
        """May ``user_obj`` perform the action ``perm`` on ``obj``?"""
        action = action_of(perm)
        if action is None:
            return False
        return decide(user_obj, action, obj)

    async def ahas_perm(self, user_obj: object, perm: str, obj: object = None) -> bool:
        """:meth:`has_perm` for async code (``access_changed`` is sent with ``asend``)."""
        action = action_of(perm)
        if action is None:
            return False
        await signals.asend_changes(get_graph())
        return decide(user_obj, action, obj, announce=False)

    def has_module_perms(self, user_obj: object, app_label: str) -> bool:
        """For ``"accessgraph"``: has the user an unexpired membership of any org?"""
        if app_label != APP_LABEL:
            return False
        email = identity(user_obj)
        if email is None:
            return False
        graph = get_graph()
        try:
            orgs = graph.user(email).orgs
        except NotFoundError:
            return False
        return any(graph.role(email, org) is not None for org in orgs)

    async def ahas_module_perms(self, user_obj: object, app_label: str) -> bool:
        """:meth:`has_module_perms` for async code."""
        return self.has_module_perms(user_obj, app_label)

    def get_all_permissions(self, user_obj: object, obj: object = None) -> set[str]:
        """Every action allowed on ``obj`` (``None``: ``DEFAULT_ORG``), as
        ``"accessgraph.<action>"`` strings, the form ``has_perm`` accepts.

        Empty for an anonymous or inactive user, for ``obj=None`` without a
        ``DEFAULT_ORG``, and for an object without ``access_target`` (another app's).
        """
        email = identity(user_obj)
        if email is None:
            return set()
        target = config().default_org if obj is None else object_target(obj)
        if target is None:
            return set()
        return {PREFIX + action for action in get_graph().permissions(email, target)}

    async def aget_all_permissions(self, user_obj: object, obj: object = None) -> set[str]:
        """:meth:`get_all_permissions` for async code."""
        return self.get_all_permissions(user_obj, obj)
