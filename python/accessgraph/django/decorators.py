"""``require_access``: guard a Django view, sync or async, with one check."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest

from accessgraph.django._access import decide

__all__ = ["require_access"]

View = TypeVar("View", bound=Callable[..., Any])
Target = str | Callable[..., str] | None


def require_access(action: str, target: Target = None) -> Callable[[View], View]:
    """Let the view run only when the request's user may perform ``action`` on ``target``.

    ``target`` is a target string (``"acme/production"``), a format string over the
    view's URL kwargs (``"acme/{project}"``), a callable ``(request, *args, **kwargs) ->
    str``, or ``None`` for ``settings.ACCESSGRAPH["DEFAULT_ORG"]``. Otherwise — also for
    anonymous and inactive users — it raises Django's ``PermissionDenied``, which Django
    answers with a 403 (through ``handler403``). Works on sync and async views; an async
    view reads the user with ``await request.auser()``. The check asks the graph
    directly, not ``user.has_perm``: a Django superuser gets no more than the graph gives.
    """
    if not isinstance(action, str) or not action:
        raise TypeError(f"require_access() takes an action string, not {action!r}")
    if target is not None and not isinstance(target, str) and not callable(target):
        raise TypeError(f"require_access() target is {target!r}: a string or a callable")

    def decorator(view: View) -> View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                _enforce(await _auser(request), action, _target(target, request, args, kwargs))
                return await view(request, *args, **kwargs)

            return cast(View, async_guarded)

        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            _enforce(_user(request), action, _target(target, request, args, kwargs))
            return view(request, *args, **kwargs)

        return cast(View, guarded)

    return decorator


def _target(
    target: Target, request: HttpRequest, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str | None:
    if target is None:
        return None
    if callable(target):
        value = target(request, *args, **kwargs)
        if not isinstance(value, str):
            raise TypeError(f"require_access() target callable returned {value!r}, not a str")
        return value
    if "{" not in target:
        return target
    try:
        return target.format_map(kwargs)
    except KeyError as exc:
        raise ImproperlyConfigured(
            f"require_access() target `{target}` names URL kwarg `{exc.args[0]}`, which the "
            f"view did not receive (it got: {', '.join(sorted(kwargs)) or 'none'})"
        ) from exc


def _user(request: HttpRequest) -> object:
    if not hasattr(request, "user"):
        raise ImproperlyConfigured(
            "require_access() needs request.user: add "
            "django.contrib.auth.middleware.AuthenticationMiddleware to MIDDLEWARE"
        )
    return request.user


async def _auser(request: HttpRequest) -> object:
    # request.user is lazy and would query the session synchronously; auser() does not.
    auser = getattr(request, "auser", None)
    if auser is None:
        return _user(request)
    return await auser()


def _enforce(user: object, action: str, target: str | None) -> None:
    if not decide(user, action, target):
        raise PermissionDenied(f"`{action}` on `{target}` is not allowed")
