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
import textwrap
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

# A CSV cell a spreadsheet shows as text (CWE-1236), and text for people with what a reader
# cannot see written out (`\u{202e}`): the core's rules, the ones the access matrix's and
# the audit log's CSV, and the review's messages, follow.
from accessgraph._core import shown, spreadsheet_safe

__all__ = [
    "Html",
    "Paint",
    "cell_text",
    "csv_table",
    "escape_html",
    "fit_widths",
    "html_table",
    "instant_text",
    "markdown_table",
    "shown",
    "spreadsheet_safe",
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
    for machines (``machine``: CSV). For people, text is :func:`shown`."""
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
    return str(value) if machine else shown(str(value))


def _plain(text: str, style: str | None) -> str:
    return text


def text_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    paint: Paint = _plain,
    style: Callable[[int, Any], str | None] | None = None,
    width: int | None = None,
) -> str:
    """Aligned columns for a terminal: a bold header, then one line per row, columns two
    spaces apart, an empty cell shown as a dim ``-``. ``style(column, value)`` names the
    style of a cell from its column's index and its value.

    With ``width`` (the terminal's), a table wider than that is fitted: the widest
    columns are narrowed, as evenly as it takes, and their cells wrapped onto more lines
    (at spaces where they can); a row is then several lines. Without it (output piped to
    a file or a program), every row stays one line."""
    cells = [[cell_text(v) or "-" for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    if width is not None:
        # a column without a space in it holds identifiers: wrap the prose first
        prose = [any(" " in r[i] for r in cells) for i in range(len(widths))]
        widths = fit_widths(
            widths,
            width - 2 * (len(widths) - 1),
            [len(h) for h in header],
            keep=[not p for p in prose],
        )
    last = len(widths) - 1

    def pad(i: int, text: str) -> str:
        return text if i == last else text.ljust(widths[i])

    def lines_of(texts: Sequence[str]) -> list[list[str]]:
        wrapped = [_wrap(t, widths[i]) for i, t in enumerate(texts)]
        height = max(len(w) for w in wrapped)
        return [[w[k] if k < len(w) else "" for w in wrapped] for k in range(height)]

    out = []
    for line in lines_of(list(header)):
        out.append("  ".join(paint(pad(i, h), "bold") for i, h in enumerate(line)).rstrip())
    for row, texts in zip(rows, cells, strict=True):
        for line in lines_of(texts):
            parts = []
            for i, (value, text) in enumerate(zip(row, line, strict=True)):
                cell_style = "dim" if text == "-" else style(i, value) if style else None
                parts.append(paint(pad(i, text), cell_style if text else None))
            out.append("  ".join(parts).rstrip())
    return "\n".join(out) + "\n"


_MIN_WIDTH = 8
"""A fitted column is not narrowed below this (or its header, or its content)."""


def fit_widths(
    widths: Sequence[int],
    room: int,
    floors: Sequence[int] = (),
    keep: Sequence[bool] = (),
) -> list[int]:
    """Column widths summing to at most ``room``: every column wider than some cap is cut
    to the cap, the largest cap that fits (narrow columns keep their width). Columns
    marked in ``keep`` (identifiers: emails, ids, which read badly broken) keep their
    width while the others can give enough; no column is cut below ``_MIN_WIDTH`` or its
    ``floors`` entry (its header): when even that does not fit, the table is as narrow
    as it can be, wider than ``room``."""
    widths = list(widths)
    if sum(widths) <= room:
        return widths
    n = len(widths)
    given = [*floors, *[0] * (n - len(floors))]
    kept = [*keep, *[False] * (n - len(keep))]
    least = [min(w, max(_MIN_WIDTH, f)) for w, f in zip(widths, given, strict=True)]
    gentle = [w if k else f for w, f, k in zip(widths, least, kept, strict=True)]
    for floor in (gentle, least):
        low, high = 0, max(widths)
        while low < high:  # the largest cap whose table fits
            cap = (low + high + 1) // 2
            if sum(max(min(w, cap), f) for w, f in zip(widths, floor, strict=True)) <= room:
                low = cap
            else:
                high = cap - 1
        fitted = [max(min(w, low), f) for w, f in zip(widths, floor, strict=True)]
        if sum(fitted) <= room:
            return fitted
    return fitted


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width=width, break_on_hyphens=False) or [""]


def _markdown_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown pipe table; backslashes and pipes in cells escaped, line breaks as
    spaces."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_markdown_escape(cell_text(v)) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV with a header line and ``\\n`` line ends; booleans ``true``/``false``; every
    cell :func:`spreadsheet_safe`, and quoted when it holds a comma, a quote or a line
    break (``\\r`` too: a spreadsheet would start a row there)."""
    # The csv module quotes a cell only for the characters of its line terminator, so
    # each row is written with "\r\n" and ends with "\n" instead.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(cells: Sequence[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()[:-2] + "\n"

    body = (line([spreadsheet_safe(cell_text(v, machine=True)) for v in row]) for row in rows)
    return line(header) + "".join(body)


def escape_html(text: str) -> str:
    """``text`` for HTML: :func:`shown`, then ``html.escape`` (quotes included)."""
    return html.escape(shown(text), quote=True)


def _html_cell(tag: str, value: Any) -> str:
    if isinstance(value, Html):
        opening = f"<{tag} {value.attrs}>" if value.attrs else f"<{tag}>"
        return f"{opening}{value.markup}</{tag}>"
    return f"<{tag}>{escape_html(cell_text(value))}</{tag}>"


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
