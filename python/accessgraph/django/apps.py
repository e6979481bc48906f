"""The Django app: ``INSTALLED_APPS = [..., "accessgraph.django"]``."""

from __future__ import annotations

from django.apps import AppConfig

from accessgraph.django.conf import get_graph


class AccessGraphConfig(AppConfig):
    """Loads the graph at start-up, so a bad ``settings.ACCESSGRAPH`` fails there."""

    name = "accessgraph.django"
    label = "accessgraph"
    verbose_name = "accessgraph"
    default = True

    def ready(self) -> None:
        """Load the graph now (a graph given to ``set_graph`` earlier is kept)."""
        get_graph()
