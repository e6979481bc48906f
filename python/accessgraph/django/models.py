"""Entries for the admin pages, and their permission: models without tables.

The admin lists models, and Django permissions belong to a model's content type. These
three are ``managed = False`` and never queried: ``migrate`` creates no table for them,
only their content types and the one permission ``accessgraph.view_access`` ("Can view
accessgraph pages"), in Django's own tables. Everything shown comes from the graph.
"""

from __future__ import annotations

from django.db import models

__all__ = ["AccessMatrix", "AccessReview", "AuditLogEntry"]


class AccessMatrix(models.Model):
    """The admin entry of an org's access matrix."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = (("view_access", "Can view accessgraph pages"),)
        verbose_name = "access matrix"
        verbose_name_plural = "access matrix"


class AuditLogEntry(models.Model):
    """The admin entry of the audit log."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"


class AccessReview(models.Model):
    """The admin entry of the access review."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "access review"
        verbose_name_plural = "access review"
