"""URLs of the test project."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from django_app import api, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("settings/", views.org_settings),
    path("settings/custom-login/", views.org_settings_custom_login),
    path("settings/api-style/", views.org_settings_api_style),
    path("home/", views.org_home),
    path("revoke/<str:user>/<slug:project>/", views.revoke_grant),
    path("<slug:project>/insights/new/", views.new_insight),
    path("<slug:project>/flags/", views.manage_flags),
    path("<slug:project>/can-view/", views.can_view),
    path("api/<slug:project>/insights/", api.Insights.as_view()),
    path("api/billing/", api.OrgBilling.as_view()),
    path("api/feature-flags/", api.Flags.as_view()),
    path("api/dashboards/<int:pk>/", api.DashboardDetail.as_view()),
    path("api/no-action/", api.NoAction.as_view()),
]
