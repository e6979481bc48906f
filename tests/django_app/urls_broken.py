"""A URLconf whose views the system checks refuse (``DJANGO_APP_VARIANT=broken-views``).

Imported only in subprocesses: ``require_access`` records its actions when applied.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accessgraph.django import HasAccess, require_access


@require_access("insight:veiw", target="acme/{project}")
def misspelled(request: HttpRequest, project: str) -> HttpResponse:
    return HttpResponse("never")


@require_access("org:view")
def needs_default_org(request: HttpRequest) -> HttpResponse:
    return HttpResponse("never")


class MisspelledApi(APIView):
    permission_classes = [HasAccess]
    access_action = {"GET": "dashbord:view"}
    access_target = "acme/staging"

    def get(self, request: Request) -> Response:
        return Response({})


class NoTargetApi(APIView):
    permission_classes = [HasAccess]
    access_action = "dashboard:view"
    access_target = None

    def get(self, request: Request) -> Response:
        return Response([])


urlpatterns = [
    path("<slug:project>/misspelled/", misspelled),
    path("home/", needs_default_org),
    path("api/misspelled/", MisspelledApi.as_view()),
    path("api/no-target/", NoTargetApi.as_view()),
]
