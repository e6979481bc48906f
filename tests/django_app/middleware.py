"""Who is asking: the ``X-User`` header names an unsaved account (``X-Inactive: 1``).

Without the header, the session's user (``Client.force_login``) stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware


def _attach(request: HttpRequest) -> None:
    email = request.headers.get("X-User")
    if not email:
        return
    from django_app.models import Account

    user: Any = Account(
        username=email, email=email, is_active=request.headers.get("X-Inactive") != "1"
    )
    request.user = user

    async def auser() -> Any:
        return user

    request.auser = auser  # type: ignore[method-assign]


@sync_and_async_middleware
def header_user(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            _attach(request)
            response: Awaitable[HttpResponse] = get_response(request)
            return await response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        _attach(request)
        response: HttpResponse = get_response(request)
        return response

    return middleware
