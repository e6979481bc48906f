"""A project's own subclass of the backend (it counts for accessgraph.W001)."""

from __future__ import annotations

from accessgraph.django import AccessGraphBackend


class Backend(AccessGraphBackend):
    pass
