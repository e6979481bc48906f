"""Progress bars on stderr for long work, drawn by ``rich`` (the ``progress`` extra).

A bar is shown only when stderr is a terminal, ``TERM`` is not ``dumb``, ``NO_COLOR``
and ``ACCESSGRAPH_NO_PROGRESS`` are unset, and ``rich`` is installed; otherwise
:func:`bar` hands out no callback and the command prints exactly what it prints
without it. A bar disappears when its work is done (it is drawn on stderr only, so
stdout stays the report, even on a terminal).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from accessgraph._progress import Progress

__all__ = ["bar", "wanted"]


def wanted(stream: TextIO) -> bool:
    """Whether a progress bar belongs on ``stream`` (a terminal, not opted out)."""
    if os.environ.get("ACCESSGRAPH_NO_PROGRESS") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def bar(stream: TextIO, label: str, *, enabled: bool) -> Iterator[Progress | None]:
    """A ``progress(done, total)`` callback drawing a bar labelled ``label`` on
    ``stream`` while the block runs, or ``None`` when no bar is wanted or ``rich`` is
    missing."""
    if not enabled:
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
    except ImportError:
        yield None
        return
    console = Console(file=stream, no_color=bool(os.environ.get("NO_COLOR")))
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=console, transient=True) as shown:
        task = shown.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            shown.update(task, completed=done, total=total or None)

        yield update
