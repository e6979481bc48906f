"""What a refused request gets: a login redirect, a 403 that names the org, a reason on
the DEBUG page and in the log; DRF views that fail closed; the identity a user maps to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django_app import setup

import accessgraph as ag

setup()

from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.core.exceptions import PermissionDenied  # noqa: E402
from django.db import IntegrityError, transaction  # noqa: E402
from django.test import AsyncClient, Client, RequestFactory, override_settings  # noqa: E402
from django_app import api, views  # noqa: E402
from django_app.models import Account  # noqa: E402
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate  # noqa: E402

from accessgraph.django import AccessGraphBackend, HasAccess, override_graph  # noqa: E402


@pytest.fixture
def graph(acme: ag.Graph) -> Iterator[ag.Graph]:
    with override_graph(acme):
        yield acme


def get(path: str, email: str | None = None) -> Any:
    headers = {"X-User": email} if email else {}
    return Client().get(path, headers=headers)


# --- anonymous visitors go to the login page ----------------------------------------------


def test_an_anonymous_visitor_is_sent_to_log_in(graph: ag.Graph) -> None:
    response = get("/settings/?tab=billing")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/settings/%3Ftab%3Dbilling"
    with override_settings(LOGIN_URL="/enter/"):
        assert get("/settings/")["Location"] == "/enter/?next=/settings/"


def test_login_url_and_raise_exception(graph: ag.Graph) -> None:
    assert get("/settings/custom-login/")["Location"] == "/sign-in/?next=/settings/custom-login/"
    assert get("/settings/api-style/").status_code == 403
    # a logged-in user without access gets 403, not a login page
    assert get("/settings/custom-login/", "charlie@example.com").status_code == 403


def test_an_async_view_sends_anonymous_visitors_to_log_in(graph: ag.Graph) -> None:
    async def fetch() -> Any:
        return await AsyncClient().get("/production/flags/")

    response = asyncio.run(fetch())
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/production/flags/"


# --- a refusal names the org, and says why where it may --------------------------------------


def test_a_decorator_without_target_names_the_org(graph: ag.Graph) -> None:
    request = RequestFactory().get("/home/")
    request.user = Account(username="s", email="stranger@example.com")
    with pytest.raises(PermissionDenied) as info:
        views.org_home(request)
    assert str(info.value) == "`org:view` on `acme` is not allowed"


def test_the_debug_403_page_says_why(graph: ag.Graph) -> None:
    with override_settings(DEBUG=True):
        response = get("/production/insights/new/", "charlie@example.com")
    assert response.status_code == 403
    page = response.content.decode()
    assert "accessgraph refused <code>insight:create</code> on <code>acme/production</code>" in page
    reason = graph.explain("charlie@example.com", "insight:create", "acme/production").reason
    assert reason and reason in page.replace("&#x27;", "'")
    # without DEBUG, handler403 answers and the page says nothing of the reason
    response = get("/production/insights/new/", "charlie@example.com")
    assert response.status_code == 403 and reason not in response.content.decode()


def test_a_refused_request_is_logged(graph: ag.Graph, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="accessgraph"):
        get("/production/insights/new/?password=hunter2&token=s3cret", "charlie@example.com")
    denied = [r for r in caplog.records if r.name == "accessgraph.django"]
    info = [r for r in denied if r.levelno == logging.INFO]
    debug = [r for r in denied if r.levelno == logging.DEBUG]
    assert len(info) == 1
    assert info[0].getMessage() == (
        "accessgraph denied request method=GET path=/production/insights/new/ "
        "user=charlie@example.com action=insight:create target=acme/production role=viewer "
        "source=explicit_member"
    )
    assert info[0].accessgraph["target"] == "acme/production"  # type: ignore[attr-defined]
    reason = graph.explain("charlie@example.com", "insight:create", "acme/production").reason
    assert any(reason in r.getMessage() for r in debug)
    assert "hunter2" not in caplog.text and "s3cret" not in caplog.text


def test_the_reason_is_only_logged_at_debug(
    graph: ag.Graph, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="accessgraph"):
        get("/production/insights/new/", "charlie@example.com")
    reason = graph.explain("charlie@example.com", "insight:create", "acme/production").reason
    assert "accessgraph denied request" in caplog.text and reason not in caplog.text


# --- DRF fails closed ------------------------------------------------------------------------


def test_a_drf_view_without_target_denies_everyone(graph: ag.Graph) -> None:
    view = api.EveryDashboard.as_view()
    for email in ("stranger@example.com", "jane@example.com"):
        request = APIRequestFactory().get("/api/dashboards/")
        force_authenticate(request, user=Account(username=email, email=email))
        response = view(request)
        assert response.status_code == 403, email
        assert "has no target here" in response.data["detail"]


def test_a_drf_view_checking_per_object_opts_in(graph: ag.Graph) -> None:
    client = APIClient()
    response = client.get("/api/dashboards/1/", headers={"X-User": "alice@example.com"})
    assert response.status_code == 200
    response = client.get("/api/dashboards/1/", headers={"X-User": "stranger@example.com"})
    assert response.status_code == 403


def test_a_method_without_handler_is_405_not_403(graph: ag.Graph) -> None:
    client = APIClient()
    for who in ("jane@example.com", "evan@example.com"):
        response = client.put("/api/staging/insights/", {}, headers={"X-User": who})
        assert response.status_code == 405, who
    response = client.delete("/api/feature-flags/", headers={"X-User": "jane@example.com"})
    assert response.status_code == 403  # a handler, but no action for DELETE
    assert (
        client.get("/api/feature-flags/", headers={"X-User": "jane@example.com"}).status_code == 200
    )


def test_has_access_is_sync_for_async_drf_views(graph: ag.Graph) -> None:
    # DRF has no async views; adrf's run the checks of `initial()` in a thread
    # (sync_to_async), which is where HasAccess runs: it must not need an event loop.
    from asgiref.sync import sync_to_async

    request = APIRequestFactory().get("/")
    request.user = Account(username="a", email="alice@example.com")

    async def check() -> bool:
        view = api.OrgBilling()
        return bool(await sync_to_async(HasAccess().has_permission)(request, view))  # type: ignore[arg-type]

    assert asyncio.run(check()) is False  # billing is for owners
    request.user = Account(username="j", email="jane@example.com")
    assert asyncio.run(check()) is True


# --- identity ---------------------------------------------------------------------------------


def test_identity_is_the_unique_user_field(graph: ag.Graph) -> None:
    backend = AccessGraphBackend()
    owner = Account(username="jane", email="jane@example.com")
    assert backend.has_perm(owner, "org:delete", "acme")
    # Another account cannot hold the owner's email in another case: the identity field
    # is unique whatever the case (the model's constraint), so no impostor account exists.
    Account.objects.create(username="jane", email="jane@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(username="impostor", email="JANE@EXAMPLE.COM")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(username="impostor2", email="jane@example.com")
    Account.objects.all().delete()
    assert not backend.has_perm(AnonymousUser(), "org:view", "acme")
