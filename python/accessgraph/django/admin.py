"""Read-only admin pages: an org's access matrix, the audit log, the access review.

They appear under "accessgraph" in the Django admin for staff users who hold the
permission ``accessgraph.view_access`` (superusers hold every permission). Nothing can be
changed here: access changes go through the graph's API, which audits them. The entries
are models without tables (see ``models.py``); every figure comes from the graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, QueryDict
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

import accessgraph as ag
from accessgraph.django import _admin_templates as _templates
from accessgraph.django import _audit_pages
from accessgraph.django.conf import config, get_graph
from accessgraph.django.models import AccessMatrix, AccessReview, AuditLogEntry

__all__ = ["PERMISSION", "AccessMatrixAdmin", "AccessReviewAdmin", "AuditLogAdmin"]

PERMISSION = "accessgraph.view_access"
"""The Django permission (besides ``is_staff``) that opens these pages."""

PAGE_SIZE = 50


def may_view(request: HttpRequest) -> bool:
    """Staff with ``accessgraph.view_access`` (an active superuser has it)."""
    user: Any = request.user
    return bool(user.is_active and getattr(user, "is_staff", False) and user.has_perm(PERMISSION))


class _Page(admin.ModelAdmin):  # type: ignore[type-arg]
    """A read-only admin page in place of a model's change list."""

    template_source = ""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_view(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_view(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.page), name=name)]

    def page(self, request: HttpRequest) -> TemplateResponse:
        """The page, for those who may see it (``admin_view`` sends others to log in)."""
        if not may_view(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(self.opts.verbose_name_plural).capitalize(),
            **self.content(request, get_graph()),
        }
        template = engines["django"].from_string(_templates.BASE + self.template_source)
        return TemplateResponse(request, template, context)

    def content(self, request: HttpRequest, graph: ag.Graph) -> dict[str, Any]:
        """What the page shows."""
        raise NotImplementedError


def _org(request: HttpRequest, graph: ag.Graph, *, required: bool) -> tuple[str | None, list[str]]:
    orgs = [o.slug for o in graph.orgs()]
    asked = request.GET.get("org") or None
    if asked in orgs:
        return asked, orgs
    if not required:
        return None, orgs
    default = config().default_org
    return (default if default in orgs else (orgs[0] if orgs else None)), orgs


def _query(params: QueryDict, **changes: str | None) -> str:
    q = params.copy()
    for key, value in changes.items():
        if value is None:
            q.pop(key, None)
        else:
            q[key] = value
    return q.urlencode()


@admin.register(AccessMatrix)
class AccessMatrixAdmin(_Page):
    """Who reaches which project of an org, with the role and where it comes from."""

    template_source = _templates.MATRIX

    def content(self, request: HttpRequest, graph: ag.Graph) -> dict[str, Any]:
        org, orgs = _org(request, graph, required=True)
        q = request.GET.get("q", "").strip().lower()
        if org is None:
            return {"org": None, "orgs": orgs, "q": q}
        projects = [p.id for p in graph.projects(org)]
        memberships = {m.user: m for m in graph.members(org)}
        members: dict[str, dict[str, Any]] = {}
        for row in graph.access_matrix(org):
            if q and q not in row["user"]:
                continue
            member = members.setdefault(row["user"], {"org_role": row["org_role"], "cells": {}})
            if row["project"]:
                member["cells"][row["project"]] = _matrix_cell(row)
        paginator = Paginator(sorted(members), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        rows = []
        for user in page.object_list:
            membership = memberships.get(user)
            expires = None if membership is None else membership.expires
            rows.append(
                {
                    "user": user,
                    "org_role": members[user]["org_role"],
                    "external": membership is not None and membership.external,
                    "expires": None if expires is None else f"{expires.astimezone(UTC):%Y-%m-%d}",
                    "cells": [members[user]["cells"].get(p) for p in projects],
                }
            )
        return {
            "org": org,
            "orgs": orgs,
            "q": q,
            "projects": projects,
            "rows": rows,
            "paginator": paginator,
            "page_obj": page,
            "pages": _pages(request, page),
        }


def _matrix_cell(row: Mapping[str, Any]) -> dict[str, Any]:
    expires = row.get("expires")
    parts = [f"{row['project_role']} from {row['source']}"]
    if expires is not None:
        parts.append(f"expires {expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if row.get("reason"):
        parts.append(f"reason: {row['reason']}")
    return {
        "role": row["project_role"],
        "source": row["source"],
        "expires": None if expires is None else f"{expires.astimezone(UTC):%Y-%m-%d}",
        "title": "; ".join(parts),
    }


def _pages(request: HttpRequest, page: Any) -> dict[str, str | None]:
    return {
        "previous": _query(request.GET, page=str(page.previous_page_number()))
        if page.has_previous()
        else None,
        "next": _query(request.GET, page=str(page.next_page_number())) if page.has_next() else None,
        "label": f"page {page.number} of {page.paginator.num_pages}",
    }


@admin.register(AuditLogEntry)
class AuditLogAdmin(_Page):
    """The audit log, newest first, filtered, a page at a time."""

    template_source = _templates.AUDIT

    _FIELDS = (
        ("user", "User"),
        ("actor", "Actor"),
        ("action", "Action"),
        ("target", "Target"),
        ("since", "Since"),
        ("until", "Until"),
    )

    def content(self, request: HttpRequest, graph: ag.Graph) -> dict[str, Any]:
        params = request.GET
        fields = [(name, label, params.get(name, "")) for name, label in self._FIELDS]
        criteria: dict[str, Any] = {
            k: params[k].strip() for k in ("user", "actor", "action", "target") if params.get(k)
        }
        problem = None
        for key in ("since", "until"):
            text = params.get(key, "").strip()
            if text:
                try:
                    criteria[key] = _instant(text)
                except ValueError:
                    problem = f"`{text}` is not a date (YYYY-MM-DD) or an ISO time: {key} ignored"
        cursor = _audit_pages.Cursor.decode(params.get("before", ""))
        try:
            log = graph.audit
        except ag.ConflictError as exc:
            return {"fields": fields, "events": [], "problem": str(exc)}
        page = _audit_pages.page(log, size=PAGE_SIZE, now=graph.now(), before=cursor, **criteria)
        events = [
            {
                "seq": e.seq,
                "at": e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "user": e.user,
                "details": json.dumps(e.details, ensure_ascii=False, sort_keys=True)
                if e.details
                else "",
            }
            for e in page.events
        ]
        return {
            "fields": fields,
            "events": events,
            "problem": problem,
            "newest": _query(params, before=None) if cursor is not None else None,
            "older": _query(params, before=page.older.encode()) if page.older else None,
        }


def _instant(text: str) -> datetime:
    """A date (midnight UTC) or an ISO time (UTC when it names no zone)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        when = datetime.fromisoformat(text)
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return datetime.combine(day, time(), tzinfo=UTC)


@admin.register(AccessReview)
class AccessReviewAdmin(_Page):
    """The access review: findings by severity, each with what to do about it."""

    template_source = _templates.REVIEW

    _SEVERITIES = ("high", "medium", "low", "info")

    def content(self, request: HttpRequest, graph: ag.Graph) -> dict[str, Any]:
        org, orgs = _org(request, graph, required=False)
        severity = request.GET.get("severity") or None
        review = graph.review(org)
        if severity in self._SEVERITIES:
            review = review.filter(severity=severity)
        else:
            severity = None
        paginator = Paginator(list(review), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        return {
            "org": org,
            "orgs": orgs,
            "severity": severity,
            "severities": self._SEVERITIES,
            "total": len(review),
            "counts": list(review.counts.items()),
            "findings": page.object_list,
            "pages": _pages(request, page),
        }
