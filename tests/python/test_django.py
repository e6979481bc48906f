"""The Django integration against real Django and DRF: backend, decorator, HasAccess, app."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_app import REPO, SEED_REGISTRY, setup

import accessgraph as ag

setup()

from asgiref.sync import iscoroutinefunction
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django_app import api, views
from django_app.models import Account as User
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

import accessgraph.django
from accessgraph.django import (
    AccessGraphBackend,
    HasAccess,
    get_graph,
    override_graph,
    require_access,
    set_graph,
)
from accessgraph.django.apps import AccessGraphConfig

backend = AccessGraphBackend()


def user(email: str, *, active: bool = True, superuser: bool = False) -> User:
    return User(username=email, email=email, is_active=active, is_superuser=superuser)


@pytest.fixture
def graph(acme: ag.Graph) -> Iterator[ag.Graph]:
    """The conftest's example org, injected as the process graph."""
    with override_graph(acme):
        yield acme


# --- the backend -------------------------------------------------------------------------


def test_has_perm_with_and_without_the_prefix(graph: ag.Graph) -> None:
    charlie = user("charlie@example.com")
    assert backend.has_perm(charlie, "insight:create", "acme/development")
    assert backend.has_perm(charlie, "accessgraph.insight:create", "acme/development")
    assert not backend.has_perm(charlie, "insight:create", "acme/production")  # viewer there
    assert not backend.has_perm(charlie, "accessgraph.insight:create", "acme/production")
    assert backend.has_perm(charlie, "accessgraph.insight:view", "acme/production")


def test_djangos_user_has_perm_goes_through_the_backend(graph: ag.Graph) -> None:
    diana = user("diana@example.com")
    assert diana.has_perm("accessgraph.insight:create", "acme/staging")
    assert not diana.has_perm("accessgraph.insight:create", "acme/production")  # restricted
    assert diana.has_perms(["insight:view", "dashboard:create"], "acme/development")


def test_target_from_an_object_with_access_target(graph: ag.Graph) -> None:
    staging, production = api.DASHBOARDS[1], api.DASHBOARDS[2]
    diana = user("diana@example.com")
    assert backend.has_perm(diana, "dashboard:view", staging)
    assert not backend.has_perm(diana, "dashboard:view", production)

    class Flag:
        def access_target(self) -> str:  # a method works as well as a property
            return "acme/production"

    assert backend.has_perm(user("alice@example.com"), "feature_flag:manage", Flag())
    assert not backend.has_perm(user("charlie@example.com"), "feature_flag:manage", Flag())


def test_no_object_means_the_default_org(graph: ag.Graph) -> None:
    assert backend.has_perm(user("jane@example.com"), "org:delete")
    assert not backend.has_perm(user("alice@example.com"), "org:delete")  # admin, not owner
    assert backend.has_perm(user("evan@example.com"), "accessgraph.org:view")
    assert not backend.has_perm(user("stranger@example.com"), "org:view")
    settings = {"REGISTRY": str(SEED_REGISTRY), "DEFAULT_ORG": "beta"}
    with override_settings(ACCESSGRAPH=settings), override_graph(graph):
        assert not backend.has_perm(user("jane@example.com"), "org:view")  # not in beta


def test_a_project_action_on_the_default_org_is_loud(graph: ag.Graph) -> None:
    with pytest.raises(ag.ValidationError, match="project-scoped action"):
        backend.has_perm(user("jane@example.com"), "insight:view")


def test_anonymous_and_inactive_users_are_denied(graph: ag.Graph) -> None:
    assert not backend.has_perm(AnonymousUser(), "org:view")
    assert not backend.has_perm(AnonymousUser(), "insight:view", "acme/staging")
    assert not backend.has_perm(user("jane@example.com", active=False), "org:view")
    assert not user("jane@example.com", active=False).has_perm("accessgraph.org:view")
    assert backend.get_all_permissions(AnonymousUser(), "acme/staging") == set()
    assert not backend.has_module_perms(user("jane@example.com", active=False), "accessgraph")


def test_another_apps_permission_is_left_to_the_other_backends(graph: ag.Graph) -> None:
    jane = user("jane@example.com")
    assert not backend.has_perm(jane, "auth.change_user")
    assert not backend.has_perm(jane, "auth.change_user", "acme/production")
    assert not backend.has_perm(jane, "billing.insight:view", "acme/production")
    assert not backend.has_module_perms(jane, "auth")


def test_a_user_field_other_than_email(graph: ag.Graph) -> None:
    someone = User(username="alice@example.com", email="")
    assert not backend.has_perm(someone, "org:view")
    settings = {"REGISTRY": str(SEED_REGISTRY), "ORG": "acme", "USER_FIELD": "username"}
    with override_settings(ACCESSGRAPH=settings), override_graph(graph):
        assert backend.has_perm(someone, "org:view")


def test_an_unknown_action_raises_by_default(graph: ag.Graph) -> None:
    with pytest.raises(ag.UnknownActionError, match="insight:veiw"):
        backend.has_perm(user("jane@example.com"), "insight:veiw", "acme/staging")
    with pytest.raises(ag.UnknownActionError, match="`oops:typo`"):
        backend.has_perm(user("jane@example.com"), "accessgraph.oops:typo", "acme/staging")


def test_an_accessgraph_permission_without_a_colon_is_left_to_model_backend(
    graph: ag.Graph,
) -> None:
    # `accessgraph.view_access` is the admin pages' Django permission, not an action.
    assert not backend.has_perm(user("jane@example.com"), "accessgraph.view_access")
    assert not backend.has_perm(user("jane@example.com"), "accessgraph.view_access", "acme")


def test_an_unknown_action_can_be_logged_and_denied(
    graph: ag.Graph, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"REGISTRY": str(SEED_REGISTRY), "ORG": "acme", "UNKNOWN_ACTION": "deny"}
    with (
        override_settings(ACCESSGRAPH=settings),
        override_graph(graph),
        caplog.at_level(logging.ERROR, logger="accessgraph.django"),
    ):
        assert not backend.has_perm(user("jane@example.com"), "insight:veiw", "acme/staging")
    assert "unknown accessgraph action `insight:veiw`" in caplog.text


def test_an_object_without_a_target_is_a_type_error(graph: ag.Graph) -> None:
    with pytest.raises(TypeError, match="target of a object"):
        backend.has_perm(user("jane@example.com"), "insight:view", object())

    class Broken:
        access_target = 42

    with pytest.raises(TypeError, match="`access_target` of Broken is 42"):
        backend.has_perm(user("jane@example.com"), "insight:view", Broken())


def test_no_object_and_no_default_org_is_a_configuration_error(graph: ag.Graph) -> None:
    with override_settings(ACCESSGRAPH={"REGISTRY": str(SEED_REGISTRY)}), override_graph(graph):
        with pytest.raises(ImproperlyConfigured, match="DEFAULT_ORG"):
            backend.has_perm(user("jane@example.com"), "org:view")
        assert backend.get_all_permissions(user("jane@example.com")) == set()


def test_get_all_permissions(graph: ag.Graph) -> None:
    charlie = user("charlie@example.com")
    on_production = backend.get_all_permissions(charlie, "acme/production")
    assert on_production == {
        f"accessgraph.{a}" for a in graph.permissions("charlie@example.com", "acme/production")
    }
    assert "accessgraph.insight:view" in on_production
    assert "accessgraph.insight:create" not in on_production
    assert all(charlie.has_perm(p, "acme/production") for p in on_production)
    assert charlie.get_all_permissions("acme/production") == on_production
    # no object: the default org's actions
    assert backend.get_all_permissions(user("jane@example.com")) == {
        f"accessgraph.{a}" for a in graph.permissions("jane@example.com", "acme")
    }
    assert "accessgraph.org:delete" in backend.get_all_permissions(user("jane@example.com"))
    # an object of another app has no accessgraph permissions
    assert backend.get_all_permissions(charlie, object()) == set()


def test_has_module_perms_means_an_unexpired_membership(graph: ag.Graph) -> None:
    assert backend.has_module_perms(user("evan@example.com"), "accessgraph")  # no projects
    assert backend.has_module_perms(user("consultant@agency.com"), "accessgraph")
    assert not backend.has_module_perms(user("stranger@example.com"), "accessgraph")
    assert user("evan@example.com").has_module_perms("accessgraph")
    graph.set_time("2024-07-01")  # the consultant's membership ended on 2024-06-01
    assert not backend.has_module_perms(user("consultant@agency.com"), "accessgraph")


def test_the_backend_never_authenticates() -> None:
    assert backend.authenticate(None, username="jane@example.com", password="x") is None
    assert asyncio.run(backend.aauthenticate(None, username="jane@example.com")) is None
    assert backend.get_user(1) is None
    assert asyncio.run(backend.aget_user(1)) is None


def test_the_async_twins(graph: ag.Graph) -> None:
    charlie = user("charlie@example.com")

    async def ask() -> tuple[bool, bool, bool, bool, set[str], bool]:
        return (
            await backend.ahas_perm(charlie, "accessgraph.insight:view", "acme/production"),
            await backend.ahas_perm(charlie, "insight:create", "acme/production"),
            await charlie.ahas_perm("accessgraph.insight:create", "acme/development"),
            await backend.ahas_module_perms(charlie, "accessgraph"),
            await backend.aget_all_permissions(charlie, "acme/production"),
            await AnonymousUser().ahas_perm("accessgraph.org:view"),
        )

    view, create, django_create, module, perms, anonymous = asyncio.run(ask())
    assert (view, create, django_create, module, anonymous) == (True, False, True, True, False)
    assert perms == backend.get_all_permissions(charlie, "acme/production")


def test_an_async_view_asks_ahas_perm_through_async_client(graph: ag.Graph) -> None:
    async def ask(email: str, project: str) -> Any:
        response = await AsyncClient().get(f"/{project}/can-view/", headers={"X-User": email})
        assert response.status_code == 200
        return response.json()["allowed"]

    assert asyncio.run(ask("ceo@example.com", "staging")) is True
    assert asyncio.run(ask("ceo@example.com", "production")) is False  # restricted
    assert asyncio.run(ask("evan@example.com", "staging")) is False


# --- require_access ----------------------------------------------------------------------


def get(path: str, email: str | None = None, **headers: str) -> int:
    if email is not None:
        headers["X-User"] = email
    return Client().get(path, headers=headers).status_code


def test_require_access_allows_and_forbids(graph: ag.Graph) -> None:
    assert get("/settings/", "alice@example.com") == 200
    assert get("/settings/", "charlie@example.com") == 403
    assert get("/settings/") == 302  # anonymous: to the login page (test_django_views.py)
    assert get("/settings/", "jane@example.com", **{"X-Inactive": "1"}) == 403


def test_require_access_without_target_uses_the_default_org(graph: ag.Graph) -> None:
    assert get("/home/", "evan@example.com") == 200
    assert get("/home/", "stranger@example.com") == 403


def test_require_access_formats_the_target_with_url_kwargs(graph: ag.Graph) -> None:
    assert get("/staging/insights/new/", "diana@example.com") == 200
    assert get("/production/insights/new/", "diana@example.com") == 403
    assert get("/nowhere/insights/new/", "jane@example.com") == 403  # unknown project


def test_require_access_raises_permission_denied(graph: ag.Graph) -> None:
    request = RequestFactory().get("/settings/")
    request.user = user("charlie@example.com")
    with pytest.raises(PermissionDenied, match="`org:manage_settings` on `acme`"):
        views.org_settings(request)


def test_require_access_does_not_let_django_superusers_through(graph: ag.Graph) -> None:
    request = RequestFactory().get("/settings/")
    request.user = user("evan@example.com", superuser=True)
    assert request.user.has_perm("accessgraph.org:manage_settings")  # Django's rule
    with pytest.raises(PermissionDenied):
        views.org_settings(request)


def test_require_access_guards_an_async_view(graph: ag.Graph) -> None:
    assert iscoroutinefunction(views.manage_flags)
    assert not iscoroutinefunction(views.new_insight)

    async def status(email: str | None) -> int:
        headers = {"X-User": email} if email else {}
        response = await AsyncClient().get("/production/flags/", headers=headers)
        return response.status_code

    assert asyncio.run(status("alice@example.com")) == 200
    assert asyncio.run(status("charlie@example.com")) == 403
    assert asyncio.run(status(None)) == 302  # anonymous: to the login page


def test_require_access_configuration_errors(graph: ag.Graph) -> None:
    @require_access("insight:view", target="acme/{project}")
    def view(request: Any, slug: str) -> str:
        return slug

    request = RequestFactory().get("/")
    request.user = user("jane@example.com")
    with pytest.raises(ImproperlyConfigured, match=r"URL kwarg `project`.*got: slug"):
        view(request, slug="staging")
    with pytest.raises(ImproperlyConfigured, match="AuthenticationMiddleware"):
        view(RequestFactory().get("/"), project="staging")
    with pytest.raises(TypeError, match="action string"):
        require_access("")
    with pytest.raises(TypeError, match="a string or a callable"):
        require_access("org:view", target=42)  # type: ignore[arg-type]


# --- HasAccess (DRF) ---------------------------------------------------------------------


def api_status(method: str, path: str, email: str | None = None, **extra: Any) -> int:
    client = APIClient()
    headers = {"X-User": email} if email else {}
    response = getattr(client, method)(path, headers=headers, **extra)
    return int(response.status_code)


def test_has_access_on_an_api_view(graph: ag.Graph) -> None:
    assert api_status("get", "/api/staging/insights/", "diana@example.com") == 200
    assert api_status("get", "/api/staging/insights/", "evan@example.com") == 403
    assert api_status("post", "/api/staging/insights/", "diana@example.com") == 201
    assert api_status("post", "/api/staging/insights/", "ceo@example.com") == 403  # viewer
    assert api_status("head", "/api/staging/insights/", "ceo@example.com") == 200  # as GET
    assert api_status("delete", "/api/staging/insights/", "jane@example.com") == 405  # no handler
    assert (
        api_status("delete", "/api/feature-flags/", "jane@example.com") == 403
    )  # handler, unmapped
    assert api_status("get", "/api/staging/insights/") == 403  # anonymous
    assert api_status("get", "/api/billing/", "jane@example.com") == 200
    assert api_status("get", "/api/billing/", "alice@example.com") == 403  # owners only


def test_has_access_says_what_was_refused(graph: ag.Graph) -> None:
    response = APIClient().get("/api/billing/", headers={"X-User": "alice@example.com"})
    assert response.status_code == 403
    assert response.json() == {"detail": "`billing:manage` on `acme` is not allowed."}


def test_has_access_per_object(graph: ag.Graph) -> None:
    assert api_status("get", "/api/dashboards/1/", "alice@example.com") == 200
    assert api_status("get", "/api/dashboards/1/", "diana@example.com") == 403  # member
    assert api_status("get", "/api/dashboards/2/", "alice@example.com") == 200
    assert api_status("get", "/api/dashboards/2/", "charlie@example.com") == 403
    assert api_status("get", "/api/dashboards/1/") == 403


def test_has_access_denies_an_inactive_user(graph: ag.Graph) -> None:
    factory = APIRequestFactory()
    view = api.OrgBilling.as_view()
    request = factory.get("/api/billing/")
    force_authenticate(request, user=user("jane@example.com"))
    assert view(request).status_code == 200
    request = factory.get("/api/billing/")
    force_authenticate(request, user=user("jane@example.com", active=False))
    assert view(request).status_code == 403


def test_has_access_needs_an_action_and_a_target(graph: ag.Graph) -> None:
    with pytest.raises(ImproperlyConfigured, match="NoAction uses HasAccess but says no action"):
        APIClient().get("/api/no-action/", headers={"X-User": "jane@example.com"})

    class NoTarget:
        access_action = "org:view"

    request = APIRequestFactory().get("/")
    with pytest.raises(ImproperlyConfigured, match="NoTarget uses HasAccess but says no target"):
        HasAccess().has_permission(request, NoTarget())  # type: ignore[arg-type]


def test_has_access_with_get_access_action(graph: ag.Graph) -> None:
    class View:
        def get_access_action(self, request: Any) -> str:
            return "project:view"

        def get_access_target(self, request: Any, obj: object = None) -> str:
            return "acme/development" if obj is None else f"acme/{obj}"

    request = APIRequestFactory().get("/")
    request.user = user("ceo@example.com")
    permission = HasAccess()
    assert permission.has_permission(request, View())  # type: ignore[arg-type]
    assert not permission.has_object_permission(request, View(), 7)  # type: ignore[arg-type]
    # 7 is not a target itself: the view named `acme/7`, which does not exist


# --- the graph of the process, and the app -----------------------------------------------


def test_the_app_config() -> None:
    config = apps.get_app_config("accessgraph")
    assert isinstance(config, AccessGraphConfig)
    assert config.name == "accessgraph.django"
    assert get_graph() is get_graph()


def test_the_app_loads_the_registry_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    settings = {"REGISTRY": "examples/seed_registry.md", "ORG": "acme"}
    with override_settings(ACCESSGRAPH=settings):
        apps.get_app_config("accessgraph").ready()
        g = get_graph()
        assert [o.slug for o in g.orgs()] == ["acme"]
        assert g.org("acme").name == "PostHog"  # the document's title
        assert user("jane@example.com").has_perm("accessgraph.org:delete")
        assert not backend.has_perm(user("alice@example.com"), "accessgraph.org:delete")
        assert get_graph() is g  # loaded once


def test_the_graph_is_loaded_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Path] = []
    original = ag.Graph.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type[ag.Graph], path: Path, **kwargs: Any) -> ag.Graph:
        loads.append(path)
        graph: ag.Graph = original(cls, path, **kwargs)
        return graph

    monkeypatch.setattr(ag.Graph, "load", classmethod(counting_load))
    seen: list[ag.Graph] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        seen.append(get_graph())

    with override_settings(ACCESSGRAPH={"REGISTRY": str(SEED_REGISTRY), "ORG": "acme"}):
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(loads) == 1
    assert len(seen) == 8 and all(g is seen[0] for g in seen)


def test_set_graph_and_override_graph(acme: ag.Graph) -> None:
    from_settings = get_graph()
    assert from_settings is not acme
    with override_graph(acme) as g:
        assert g is acme and get_graph() is acme
        other = ag.Graph()
        with override_graph(other):
            assert get_graph() is other
        assert get_graph() is acme
        # a settings change reloads the settings' graph, not the injected one
        with override_settings(ACCESSGRAPH={"REGISTRY": str(SEED_REGISTRY), "ORG": "acme"}):
            assert get_graph() is acme
    from_settings = get_graph()  # loaded again: the settings changed twice
    assert from_settings is not acme and get_graph() is from_settings
    set_graph(acme)
    try:
        assert get_graph() is acme
    finally:
        set_graph(None)
    assert get_graph() is from_settings
    with pytest.raises(TypeError, match="not str"):
        set_graph("acme")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not dict"), override_graph({}):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (None, "settings.ACCESSGRAPH is not set"),
        ("access.md", "settings.ACCESSGRAPH is a str: expected a dict"),
        ({}, "names no graph"),
        ({"REGISTY": "access.md"}, "unknown key `REGISTY`"),
        ({"REGISTRY": "a.md", "JOURNAL": "a.journal"}, "both REGISTRY and JOURNAL"),
        ({"REGISTRY": 42}, r"\['REGISTRY'\] is a int: expected a path"),
        ({"REGISTRY": "missing.md"}, "`missing.md` is not a file"),
        ({"REGISTRY": "x.md", "ORG": ""}, r"\['ORG'\] is `''`"),
        ({"REGISTRY": "x.md", "UNKNOWN_ACTION": "ignore"}, "`ignore`: expected"),
    ],
)
def test_misconfiguration_fails_at_start_up(setting: object, message: str) -> None:
    with override_settings(ACCESSGRAPH=setting), pytest.raises(ImproperlyConfigured, match=message):
        apps.get_app_config("accessgraph").ready()


def test_a_registry_that_does_not_parse(tmp_path: Path) -> None:
    bad = tmp_path / "access.md"
    bad.write_text("# Acme Access Registry\n## Owners\n- not-an-email\n", encoding="utf-8")
    with (
        override_settings(ACCESSGRAPH={"REGISTRY": str(bad)}),
        pytest.raises(ImproperlyConfigured, match=r"access.md` does not load: .*line 3") as info,
    ):
        get_graph()
    assert isinstance(info.value.__cause__, ag.RegistryFormatError)


def test_a_journal_is_opened_and_replayed(tmp_path: Path) -> None:
    journal = tmp_path / "access.journal"
    writer = ag.Graph.open(journal)
    writer.add_org("acme", owner="jane@example.com")
    writer.add_project("acme/production")
    with override_settings(ACCESSGRAPH={"JOURNAL": str(journal)}):
        graph = get_graph()
        assert graph.journal_path == str(journal)
        assert graph.revision == writer.revision
        assert graph.check("jane@example.com", "project:view", "acme/production")


def test_a_damaged_journal_is_a_configuration_error(tmp_path: Path) -> None:
    journal = tmp_path / "access.journal"
    journal.write_text("not a journal\n")
    with (
        override_settings(ACCESSGRAPH={"JOURNAL": str(journal)}),
        pytest.raises(ImproperlyConfigured, match="does not open"),
    ):
        get_graph()


# --- imports -----------------------------------------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_importing_accessgraph_imports_no_optional_dependency() -> None:
    result = run_python(
        "import sys, accessgraph\n"
        "heavy = {'django', 'rest_framework', 'pytest', 'pandas', 'matplotlib'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_django_integration_imports_without_drf() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['rest_framework'] = None  # as if not installed\n"
        "import accessgraph.django as agd\n"
        "assert agd.AccessGraphBackend and agd.require_access\n"
        "try:\n"
        "    agd.HasAccess\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "HasAccess needs Django REST framework" in result.stdout


def test_the_django_integration_says_it_needs_django() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['django'] = None  # as if not installed\n"
        "import accessgraph.django\n"
    )
    assert result.returncode == 1
    assert "ImportError: accessgraph.django needs Django: pip install" in result.stderr


def test_override_graph_as_a_decorator(acme: ag.Graph) -> None:
    @override_graph(acme)
    def inside() -> ag.Graph:
        return get_graph()

    assert inside() is acme
    assert inside() is acme  # reusable
    assert get_graph() is not acme


def test_the_public_names() -> None:
    assert set(accessgraph.django.__all__) == {
        "AccessGraphBackend",
        "HasAccess",
        "get_graph",
        "override_graph",
        "require_access",
        "set_graph",
    }
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        accessgraph.django.nope  # noqa: B018
