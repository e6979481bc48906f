"""Tables as text, Markdown, CSV and HTML: the one place rows become a table.

Every table accessgraph prints or shows is rendered here — the command line's reports,
``Review.to_markdown`` and ``AccessDiff.to_markdown``, and the notebook views of
``Table``, ``Review``, ``AccessDiff`` and ``Graph`` — so a value reads the same
everywhere: :func:`cell_text` turns it into text (an instant at midnight UTC as its
date) and each format escapes that text its own way. A table is a header and rows of
values in the header's order.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

__all__ = [
    "Html",
    "Paint",
    "cell_text",
    "csv_table",
    "html_table",
    "instant_text",
    "markdown_table",
    "text_table",
]

Paint = Callable[[str, str | None], str]
"""Styles a piece of text: ``paint("denied", "red")``; ``None`` is no style."""


class Html(NamedTuple):
    """An HTML table cell given as markup, inserted as is, with ``attrs`` on its tag."""

    markup: str
    attrs: str = ""


def instant_text(value: datetime) -> str:
    """``value`` in UTC: its date alone at midnight, else ISO 8601 to the second with
    ``Z`` (``2024-05-01``, ``2024-05-01T12:30:00Z``)."""
    v = value.astimezone(UTC)
    if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
        return v.date().isoformat()
    return v.isoformat(timespec="seconds").replace("+00:00", "Z")


def cell_text(value: Any, *, machine: bool = False) -> str:
    """A value as the text of a cell: ``None`` empty, instants by :func:`instant_text`,
    lists joined with commas, booleans ``yes``/``no`` for people and ``true``/``false``
    for machines (``machine``: CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if machine:
            return "true" if value else "false"
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(v, machine=machine) for v in value)
    return str(value)


def _plain(text: str, style: str | None) -> str:
    return text


def text_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    paint: Paint = _plain,
    style: Callable[[int, Any], str | None] | None = None,
) -> str:
    """Aligned columns for a terminal: a bold header, then one line per row, columns two
    spaces apart, an empty cell shown as a dim ``-``. ``style(column, value)`` names the
    style of a cell from its column's index and its value."""
    cells = [[cell_text(v) or "-" for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    last = len(widths) - 1

    def pad(i: int, text: str) -> str:
        return text if i == last else text.ljust(widths[i])

    lines = ["  ".join(paint(pad(i, h), "bold") for i, h in enumerate(header))]
    for row, texts in zip(rows, cells, strict=True):
        parts = []
        for i, (value, text) in enumerate(zip(row, texts, strict=True)):
            cell_style = "dim" if text == "-" else style(i, value) if style else None
            parts.append(paint(pad(i, text), cell_style))
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


def _markdown_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown pipe table; backslashes and pipes in cells escaped, line breaks as
    spaces."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_markdown_escape(cell_text(v)) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV with a header line and ``\\n`` line ends; booleans ``true``/``false``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell_text(v, machine=True) for v in row] for row in rows)
    return out.getvalue()


def _html_cell(tag: str, value: Any) -> str:
    if isinstance(value, Html):
        opening = f"<{tag} {value.attrs}>" if value.attrs else f"<{tag}>"
        return f"{opening}{value.markup}</{tag}>"
    return f"<{tag}>{html.escape(cell_text(value))}</{tag}>"


def html_table(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    attrs: str = "",
) -> str:
    """An HTML table (for notebooks): cells escaped unless given as :class:`Html`;
    ``caption`` is markup, ``attrs`` go on the ``<table>`` tag."""
    head = "".join(_html_cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(_html_cell("td", v) for v in row) + "</tr>" for row in rows)
    opening = f"<table {attrs}>" if attrs else "<table>"
    title = "" if caption is None else f"<caption>{caption}</caption>"
    return f"{opening}{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
