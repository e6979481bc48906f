"""``HasAccess``: a Django REST framework permission class over the graph.

Imported on first use of ``accessgraph.django.HasAccess``, so that the Django integration
works without DRF installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accessgraph.django._access import identity, judge, log_refusal, object_target

__all__ = ["HasAccess"]

_UNSET = object()


class HasAccess(BasePermission):
    """Allow a request when its user may perform the view's action on the view's target.

    The view says which action: ``access_action = "insight:view"``, a dict from HTTP
    method to action (``{"GET": "insight:view", "POST": "insight:create"}``; a method it
    does not name is denied, ``HEAD`` falls back to ``GET``), or a method
    ``get_access_action(request)``. And where: a method ``get_access_target(request)``
    or an attribute ``access_target`` (a string).

    It fails closed: a target of ``None`` denies the request, unless the view says
    ``access_per_object = True`` — then the view-level check only refuses users who may
    never do anything, and the decision is left to the object check (``get_object()``
    in DRF's generic views, or ``check_object_permissions``), which uses the object's
    ``access_target``, else ``view.get_access_target(request, obj=obj)``. Such a view
    must check every object it returns: a list endpoint needs a real target.

    A method the view has no handler for passes here, so that DRF answers 405, not 403.
    Anonymous and inactive users are denied. Like ``require_access``, this asks the
    graph, not ``user.has_perm``, so a Django superuser gets no more than the graph
    gives; a refusal is logged on ``accessgraph.django`` (INFO, the reason at DEBUG).
    """

    message = "You do not have access to do this here."

    def has_permission(self, request: Request, view: APIView) -> bool:
        """The view-level check (every request)."""
        if not _handles(request, view):
            return True  # DRF raises MethodNotAllowed (405) next; no handler runs
        action = self._action(request, view)
        if action is None:
            return False
        target = _view_target(request, view)
        if target is None:
            if getattr(view, "access_per_object", False) is True:
                # Decided per object; still refuse who may never do anything.
                return identity(request.user) is not None
            self.message = (
                f"`{action}` has no target here: {type(view).__name__} names none and does "
                "not check per object."
            )
            return False
        return self._decide(request, action, target)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        """The object-level check (when the view calls ``get_object()``)."""
        action = self._action(request, view)
        if action is None:
            return False
        target = object_target(obj)
        if target is None:
            get_target = getattr(view, "get_access_target", None)
            if get_target is None:
                raise ImproperlyConfigured(
                    f"{type(view).__name__}: cannot tell the accessgraph target of a "
                    f"{type(obj).__name__}: give it `access_target`, or define "
                    "get_access_target(request, obj=None) on the view"
                )
            target = get_target(request, obj=obj)
            if not isinstance(target, str):
                raise TypeError(
                    f"{type(view).__name__}.get_access_target(obj=...) returned {target!r}, "
                    "not a target string"
                )
        return self._decide(request, action, target)

    def _decide(self, request: Request, action: str, target: str) -> bool:
        verdict = judge(request.user, action, target)
        if verdict.allowed:
            return True
        log_refusal(request, verdict)
        self.message = f"`{action}` on `{target}` is not allowed."
        return False

    @staticmethod
    def _action(request: Request, view: APIView) -> str | None:
        get_action = getattr(view, "get_access_action", None)
        if get_action is not None:
            action = get_action(request)
        else:
            declared = getattr(view, "access_action", _UNSET)
            if declared is _UNSET:
                raise ImproperlyConfigured(
                    f"{type(view).__name__} uses HasAccess but says no action: set "
                    "`access_action` or define get_access_action(request)"
                )
            if isinstance(declared, Mapping):
                method = (request.method or "").upper()
                action = declared.get(method)
                if action is None and method == "HEAD":
                    action = declared.get("GET")
            else:
                action = declared
        if action is not None and not isinstance(action, str):
            raise ImproperlyConfigured(
                f"{type(view).__name__}: the access action is {action!r}, not a string"
            )
        return action


def _handles(request: Request, view: APIView) -> bool:
    """Has the view a handler for the request's method (as ``dispatch`` looks it up)?"""
    names = getattr(view, "http_method_names", None)
    if names is None:  # not a Django view: nothing to answer 405 with
        return True
    method = (request.method or "").lower()
    return method in names and callable(getattr(view, method, None))


def _view_target(request: Request, view: APIView) -> str | None:
    get_target = getattr(view, "get_access_target", None)
    if get_target is not None:
        target = get_target(request)
    else:
        target = getattr(view, "access_target", _UNSET)
        if target is _UNSET:
            if getattr(view, "access_per_object", False) is True:
                return None
            raise ImproperlyConfigured(
                f"{type(view).__name__} uses HasAccess but says no target: set "
                "`access_target`, define get_access_target(request, obj=None), or set "
                "`access_per_object = True` when every object is checked (get_object())"
            )
    if target is not None and not isinstance(target, str):
        raise ImproperlyConfigured(
            f"{type(view).__name__}: the access target is {target!r}, not a string"
        )
    return target
