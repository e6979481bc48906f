"""The Django app: ``INSTALLED_APPS = [..., "accessgraph.django"]``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import request_finished, request_started

from accessgraph.django import signals
from accessgraph.django.conf import get_graph


class AccessGraphConfig(AppConfig):
    """Loads the graph at start-up, so a bad ``settings.ACCESSGRAPH`` fails there;
    registers the system checks; announces access changes around each request."""

    name = "accessgraph.django"
    label = "accessgraph"
    verbose_name = "accessgraph"
    default = True
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        """Load the graph now (a graph given to ``set_graph`` earlier is kept)."""
        from accessgraph.django import checks  # noqa: F401 - registers the system checks

        request_started.connect(_announce, dispatch_uid="accessgraph.django.request_started")
        request_finished.connect(_announce, dispatch_uid="accessgraph.django.request_finished")
        get_graph()  # a ConfigError names its system check: accessgraph.E00x


def _announce(sender: object, **kwargs: Any) -> None:
    """Before a request: other processes' changes; after it: those the view made."""
    signals.send_changes()
