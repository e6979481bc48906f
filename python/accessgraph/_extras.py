"""The optional dependencies (the ``pandas``, ``arrow``, ``plot``, ``otel`` and ``progress``
extras), imported only when used.

Importing accessgraph never imports them; a method that needs one imports it inside
:func:`needs`, which turns a missing package into an ``ImportError`` that names the
method, the package and the extra that installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["needs"]

_PACKAGES = {
    "pandas": "pandas",
    "arrow": "pyarrow",
    "plot": "matplotlib",
    "otel": "opentelemetry-api",
    "progress": "rich",
}
"""Each extra and the package it installs."""


@contextmanager
def needs(extra: str, feature: str) -> Iterator[None]:
    """Wrap the import of an extra's package::

        with needs("pandas", "Table.to_pandas()"):
            import pandas as pd

    raises ``ImportError("Table.to_pandas() needs pandas: pip install
    'accessgraph[pandas]'")`` (from the original error) when pandas is missing.
    """
    try:
        yield
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs {_PACKAGES[extra]}: pip install 'accessgraph[{extra}]'"
        ) from exc
