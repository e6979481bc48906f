"""DRF views guarded by ``HasAccess``."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accessgraph.django import HasAccess


class Insights(APIView):
    permission_classes = [HasAccess]
    access_action = {"GET": "insight:view", "POST": "insight:create"}

    def get_access_target(self, request: Request, obj: object = None) -> str:
        return f"acme/{self.kwargs['project']}"

    def get(self, request: Request, project: str) -> Response:
        return Response({"project": project})

    def post(self, request: Request, project: str) -> Response:
        return Response({"created": project}, status=201)


class OrgBilling(APIView):
    permission_classes = [HasAccess]
    access_action = "billing:manage"
    access_target = "acme"

    def get(self, request: Request) -> Response:
        return Response({"billing": "ok"})


@dataclass(frozen=True)
class Dashboard:
    id: int
    project: str

    @property
    def access_target(self) -> str:
        return f"acme/{self.project}"


DASHBOARDS = {1: Dashboard(1, "staging"), 2: Dashboard(2, "production")}


class DashboardDetail(APIView):
    """Decided per object: the target comes from the dashboard itself."""

    permission_classes = [HasAccess]
    access_action = "dashboard:edit"
    access_per_object = True

    def get(self, request: Request, pk: int) -> Response:
        dashboard = DASHBOARDS[pk]
        self.check_object_permissions(request, dashboard)
        return Response({"id": dashboard.id, "project": dashboard.project})


class Flags(APIView):
    """Handlers for GET and DELETE; the action map names GET only."""

    permission_classes = [HasAccess]
    access_action = {"GET": "feature_flag:view"}
    access_target = "acme/staging"

    def get(self, request: Request) -> Response:
        return Response({"flags": []})

    def delete(self, request: Request) -> Response:
        return Response(status=204)


class EveryDashboard(APIView):
    """Fails closed: no target, no per-object opt-in, and it never calls get_object()."""

    permission_classes = [HasAccess]
    access_action = "dashboard:view"
    access_target = None

    def get(self, request: Request) -> Response:
        return Response([d.id for d in DASHBOARDS.values()])


class NoAction(APIView):
    permission_classes = [HasAccess]
    access_target = "acme"

    def get(self, request: Request) -> Response:
        return Response({})
