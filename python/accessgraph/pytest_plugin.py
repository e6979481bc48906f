"""The accessgraph pytest plugin, loaded through the ``pytest11`` entry point.

Fixtures (function-scoped, a fresh graph per test):

- ``access_graph``: an empty graph, clock frozen at 2024-01-01T00:00Z;
- ``acme_graph``: the example org of the seed registry with projects Production
  (restricted), Staging and Development, clock frozen at 2024-05-01T00:00Z.

The helpers of :mod:`accessgraph.testing` are importable from here too.
"""

from __future__ import annotations

import pytest

import accessgraph as ag
from accessgraph import testing
from accessgraph.testing import (
    assert_access,
    assert_can,
    assert_cannot,
    role_matrix,
    user_with_role,
)

__all__ = [
    "access_graph",
    "acme_graph",
    "assert_access",
    "assert_can",
    "assert_cannot",
    "role_matrix",
    "user_with_role",
]


@pytest.fixture
def access_graph() -> ag.Graph:
    """An empty graph, clock frozen at 2024-01-01T00:00Z."""
    return testing.empty_graph()


@pytest.fixture
def acme_graph() -> ag.Graph:
    """The seed registry's org ``acme`` with Production, Staging and Development."""
    return testing.acme_graph()
