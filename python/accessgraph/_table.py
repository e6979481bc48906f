"""``Table``: rows of dicts, as returned by ``access_matrix``; pandas and HTML views."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from accessgraph._extras import needs
from accessgraph._render import Html, html_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["MATRIX_COLUMNS", "Table"]

MATRIX_COLUMNS = (
    "user",
    "org",
    "org_role",
    "project",
    "project_role",
    "source",
    "expires",
    "reason",
)
"""The columns of the access matrix (``Graph.access_matrix``, ``Graph.to_csv``), in order."""


class Table(Sequence[dict[str, Any]]):
    """An immutable list of rows (dicts sharing the same columns)."""

    __slots__ = ("_columns", "_rows")

    def __init__(self, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
        self._rows: tuple[dict[str, Any], ...] = tuple(dict(r) for r in rows)
        self._columns: tuple[str, ...] = tuple(columns)

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names, in order."""
        return self._columns

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Table: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | Table:
        if isinstance(index, slice):
            return Table(self._rows[index], self._columns)
        return dict(self._rows[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(r) for r in self._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self._columns == other._columns and self._rows == other._rows

    def __hash__(self) -> int:
        return hash((self._columns, len(self._rows)))

    def __repr__(self) -> str:
        return f"<Table {len(self._rows)} rows x {len(self._columns)} columns>"

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        with needs("pandas", "Table.to_pandas()"):
            import pandas as pd
        return pd.DataFrame(list(self._rows), columns=list(self._columns))

    def plot(self, *, ax: Axes | None = None, title: str | None = None) -> Axes:
        """An access heat map of an access matrix (``graph.access_matrix()``): one row per
        user, one column per project, each cell coloured by the project role. Needs the
        ``plot`` extra (matplotlib); draws on ``ax`` or a new figure and returns the axes.
        See also ``Graph.plot_access``, which adds the projects nobody can reach."""
        missing = [c for c in ("user", "project", "project_role") if c not in self._columns]
        if missing:
            raise ValueError(
                f"Table.plot() draws an access matrix: missing column(s) {', '.join(missing)}"
            )
        from accessgraph._plot import access_heatmap

        return access_heatmap(self._rows, ax=ax, title=title)

    def _repr_html_(self) -> str:
        shown = self._rows[:_HTML_ROWS]
        rows: list[Sequence[Any]] = [[r.get(c) for c in self._columns] for r in shown]
        if len(self._rows) > len(shown):
            more = len(self._rows) - len(shown)
            rows.append(
                [
                    Html(
                        f"&hellip; {more} more rows (<code>.to_pandas()</code> for all)",
                        f'colspan="{len(self._columns)}"',
                    )
                ]
            )
        caption = f"{len(self._rows)} rows &times; {len(self._columns)} columns"
        return html_table(self._columns, rows, caption=caption)


_HTML_ROWS = 100
"""Rows a notebook shows before it says how many more there are."""
