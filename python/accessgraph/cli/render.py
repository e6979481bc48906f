"""A command's output: one :class:`Report`, rendered as text, JSON, CSV or Markdown.

The tables themselves are drawn by :mod:`accessgraph._render`, like every other table
of the package; here are what is particular to the command line: the JSON document, the
colours, and the headline or verdict above the table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TextIO

from accessgraph._render import csv_table, markdown_table, text_table

__all__ = ["FORMATS", "Painter", "Report", "render", "wants_colour"]

FORMATS = ("text", "json", "csv", "markdown")


@dataclass(frozen=True)
class Report:
    """What a command prints: rows sharing ``columns``, with context around them.

    ``json`` is ``{**meta, key: rows}`` (or, with ``single``, the only row merged into
    ``meta``); ``csv`` and ``markdown`` are the rows alone; ``text`` is ``headline``
    followed by the aligned rows (``empty`` when there are none), unless ``text`` is
    given, which renders the whole report itself.
    """

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    key: str = "rows"
    meta: dict[str, Any] = field(default_factory=dict)
    headline: str | None = None
    empty: str = "nothing to show"
    single: bool = False
    text: Callable[[Painter], str] | None = None


_STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
}

# How a cell is coloured in text output: column -> value -> style.
_CELL_STYLES: dict[str, dict[Any, str]] = {
    "allowed": {True: "green", False: "red"},
    "kind": {"gained": "green", "lost": "red", "changed": "yellow"},
    "severity": {"high": "red", "medium": "yellow", "low": "cyan", "info": "dim"},
}


class Painter:
    """Wraps text in ANSI colours, or leaves it alone when colour is off."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str | None) -> str:
        if not self.enabled or style is None:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def wants_colour(choice: str, stream: TextIO) -> bool:
    """``--color``: ``always``, ``never``, or ``auto`` (on a terminal, unless
    ``NO_COLOR`` is set or ``TERM`` is ``dumb``)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def render(report: Report, fmt: str, paint: Painter, *, width: int | None = None) -> str:
    """The report as ``fmt`` (text, json, csv or markdown), ending with a newline; a text
    table fits ``width`` columns when given (see ``text_table``)."""
    if fmt == "json":
        if report.single:
            body: dict[str, Any] = {**report.meta, **(report.rows[0] if report.rows else {})}
        else:
            body = {**report.meta, report.key: report.rows}
        return json.dumps(_json_value(body), indent=2, ensure_ascii=False) + "\n"
    columns = report.columns
    rows = [[row.get(c) for c in columns] for row in report.rows]
    if fmt == "csv":
        return csv_table(columns, rows)
    if fmt == "markdown":
        return markdown_table(columns, rows)
    if report.text is not None:
        return report.text(paint)
    headline = "" if report.headline is None else paint(report.headline, "bold") + "\n"
    if not rows:
        return f"{headline}{report.empty}\n"

    def style(column: int, value: Any) -> str | None:
        return _CELL_STYLES.get(columns[column], {}).get(value)

    return headline + text_table(columns, rows, paint=paint, style=style, width=width)
