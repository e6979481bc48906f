"""``require_access``: guard a Django view, sync or async, with one check."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import resolve_url

from accessgraph.django import signals
from accessgraph.django._access import Verdict, judge, log_refusal
from accessgraph.django.conf import get_graph

__all__ = ["Declared", "declared", "require_access"]

View = TypeVar("View", bound=Callable[..., Any])
Target = str | Callable[..., str] | None


@dataclass(frozen=True, slots=True)
class Declared:
    """An action a view declared with ``require_access``, for the system checks."""

    action: str
    view: str
    """``module.qualname`` of the view."""
    target: str | None
    """The target as written when it is a string (``"acme/{project}"``), else ``None``."""
    default_org: bool
    """No target given: the check is on ``DEFAULT_ORG``."""


_declared: list[Declared] = []


def declared() -> list[Declared]:
    """Every ``require_access`` declaration made so far in this process."""
    return list(_declared)


def require_access(
    action: str,
    target: Target = None,
    *,
    login_url: str | None = None,
    redirect_field_name: str | None = REDIRECT_FIELD_NAME,
    raise_exception: bool = False,
) -> Callable[[View], View]:
    """Let the view run only when the request's user may perform ``action`` on ``target``.

    ``target`` is a target string (``"acme/production"``), a format string over the
    view's URL kwargs (``"acme/{project}"``), a callable ``(request, *args, **kwargs) ->
    str``, or ``None`` for ``settings.ACCESSGRAPH["DEFAULT_ORG"]``.

    A refusal is logged (``accessgraph.django``: one INFO line, the reason at DEBUG).
    Then, as Django's ``PermissionRequiredMixin`` does: a visitor who is not logged in
    is redirected to ``login_url`` (default ``settings.LOGIN_URL``) with the page in
    ``redirect_field_name`` (``?next=``), unless ``raise_exception=True``; anyone else
    (inactive users included) gets Django's ``PermissionDenied``, a 403 through
    ``handler403``, whose message names the action and the target. With
    ``settings.DEBUG`` the 403 page says why instead. Works on sync and async views;
    an async view reads the user with ``await request.auser()``. The check asks the
    graph directly, not ``user.has_perm``: a Django superuser gets no more than the
    graph gives.
    """
    if not isinstance(action, str) or not action:
        raise TypeError(f"require_access() takes an action string, not {action!r}")
    if target is not None and not isinstance(target, str) and not callable(target):
        raise TypeError(f"require_access() target is {target!r}: a string or a callable")
    refuse = functools.partial(
        _refuse,
        login_url=login_url,
        redirect_field_name=redirect_field_name,
        raise_exception=raise_exception,
    )

    def decorator(view: View) -> View:
        where = f"{getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', view)}"
        _declared.append(
            Declared(action, where, target if isinstance(target, str) else None, target is None)
        )
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                await signals.asend_changes(get_graph())
                user = await _auser(request)
                on = _target(target, request, args, kwargs)
                verdict = judge(user, action, on, announce=False)
                if not verdict.allowed:
                    return refuse(request, verdict)
                return await view(request, *args, **kwargs)

            return cast(View, async_guarded)

        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            verdict = judge(_user(request), action, _target(target, request, args, kwargs))
            if not verdict.allowed:
                return refuse(request, verdict)
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


def _refuse(
    request: HttpRequest,
    verdict: Verdict,
    *,
    login_url: str | None,
    redirect_field_name: str | None,
    raise_exception: bool,
) -> HttpResponse:
    log_refusal(request, verdict)
    if verdict.anonymous and not raise_exception:
        return _to_login(request, login_url, redirect_field_name)
    if settings.DEBUG:
        return HttpResponseForbidden(_debug_page(request, verdict))
    raise PermissionDenied(f"`{verdict.action}` on `{verdict.target}` is not allowed")


def _to_login(
    request: HttpRequest, login_url: str | None, redirect_field_name: str | None
) -> HttpResponse:
    """Django's own redirect (as ``user_passes_test`` makes it)."""
    from django.contrib.auth.views import redirect_to_login

    path = request.build_absolute_uri()
    resolved = resolve_url(login_url or settings.LOGIN_URL)
    login_scheme, login_netloc = urlsplit(resolved)[:2]
    current_scheme, current_netloc = urlsplit(path)[:2]
    if (not login_scheme or login_scheme == current_scheme) and (
        not login_netloc or login_netloc == current_netloc
    ):
        path = request.get_full_path()
    return redirect_to_login(path, resolved, redirect_field_name)


def _debug_page(request: HttpRequest, verdict: Verdict) -> str:
    """The 403 page under ``DEBUG``, saying why, as Django's technical 404 page does."""
    rows = [
        ("Request", f"{request.method} {request.get_full_path()}"),
        ("User", verdict.user or "(none)"),
        ("Action", verdict.action),
        ("Target", verdict.target),
        ("Role", verdict.role or "(none)"),
        ("Source", verdict.source or "(none)"),
        ("Reason", verdict.reason),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>403 Forbidden: accessgraph</title>"
        "<style>body{font:14px sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "td,th{vertical-align:top;padding:.2em}</style></head><body>"
        f"<h1>403 Forbidden</h1><p>accessgraph refused "
        f"<code>{html.escape(verdict.action)}</code> on "
        f"<code>{html.escape(verdict.target)}</code>.</p><table>{cells}</table>"
        "<p>You are seeing this because <code>DEBUG = True</code>. With DEBUG off, Django "
        "answers with your <code>handler403</code> and the reason goes to the "
        "<code>accessgraph.django</code> logger at DEBUG.</p></body></html>"
    )
