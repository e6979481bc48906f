"""Plain Django views guarded by ``require_access``, sync and async."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from accessgraph.django import require_access


@require_access("org:manage_settings", target="acme")
def org_settings(request: HttpRequest) -> HttpResponse:
    return HttpResponse("settings")


@require_access("org:view")
def org_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


@require_access("insight:create", target="acme/{project}")
def new_insight(request: HttpRequest, project: str) -> HttpResponse:
    return HttpResponse(f"new insight in {project}")


def _flag_target(request: HttpRequest, project: str) -> str:
    return f"acme/{project}"


@require_access("feature_flag:manage", target=_flag_target)
async def manage_flags(request: HttpRequest, project: str) -> HttpResponse:
    return HttpResponse(f"flags of {project}")


async def can_view(request: HttpRequest, project: str) -> JsonResponse:
    """Asks Django's async permission API, which consults only ``ahas_perm``."""
    user = await request.auser()
    allowed = await user.ahas_perm("accessgraph.insight:view", f"acme/{project}")
    return JsonResponse({"allowed": allowed})


@require_access("org:manage_settings", target="acme", login_url="/sign-in/")
def org_settings_custom_login(request: HttpRequest) -> HttpResponse:
    return HttpResponse("settings")


@require_access("org:manage_settings", target="acme", raise_exception=True)
def org_settings_api_style(request: HttpRequest) -> HttpResponse:
    return HttpResponse("settings")


@require_access("org:manage_roles", target="acme")
def revoke_grant(request: HttpRequest, user: str, project: str) -> HttpResponse:
    """A view that changes access (announced by ``access_changed`` as the request ends)."""
    from accessgraph.django import get_graph

    actor = request.user.email  # type: ignore[union-attr]
    get_graph().revoke(user, f"acme/{project}", actor=actor)
    return HttpResponse("revoked")
