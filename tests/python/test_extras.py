"""The extras stay optional: without pandas or matplotlib, each method that needs one
raises an ``ImportError`` naming the method, the package and the extra to install."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

import accessgraph as ag


def _without(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``package`` (and every submodule already imported) fail to import."""
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, package, None)


NEEDS_PANDAS: dict[str, Callable[[ag.Graph], Any]] = {
    "AuditLog.to_pandas()": lambda g: g.audit.to_pandas(),
    "Table.to_pandas()": lambda g: g.access_matrix().to_pandas(),
    "Review.to_pandas()": lambda g: g.review().to_pandas(),
    "AccessDiff.to_pandas()": lambda g: g.diff(g).to_pandas(),
}


@pytest.mark.parametrize("feature", sorted(NEEDS_PANDAS))
def test_without_pandas(acme: ag.Graph, monkeypatch: pytest.MonkeyPatch, feature: str) -> None:
    _without(monkeypatch, "pandas")
    message = f"{feature} needs pandas: pip install 'accessgraph[pandas]'"
    with pytest.raises(ImportError, match=re.escape(message)) as info:
        NEEDS_PANDAS[feature](acme)
    assert isinstance(info.value.__cause__, ImportError)  # the original error is kept


@pytest.mark.parametrize(
    "draw",
    [lambda g: g.plot_access("acme"), lambda g: g.access_matrix().plot()],
    ids=["Graph.plot_access", "Table.plot"],
)
def test_without_matplotlib(
    acme: ag.Graph, monkeypatch: pytest.MonkeyPatch, draw: Callable[[ag.Graph], Any]
) -> None:
    _without(monkeypatch, "matplotlib")
    message = "plotting needs matplotlib: pip install 'accessgraph[plot]'"
    with pytest.raises(ImportError, match=re.escape(message)):
        draw(acme)
