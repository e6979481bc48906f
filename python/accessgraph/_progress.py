"""Progress of long work: the ``progress=`` callback, ``progress(done, total)``.

Every method that takes ``progress=`` calls it with ``(0, total)`` first, then with a
growing ``done``, and with ``(total, total)`` last, once, when the work succeeded (not
after an error). ``total`` stays the same throughout one operation and is counted in the
operation's own unit: bytes of the file for loads and imports, events for the audit
log's ``verify`` and exports, orgs for reviews and their HTML report, users for the
command line's ``who-can``. An exception raised by the callback stops the work and
propagates; nothing is left half-applied (the reads change nothing, and a load or an
import keeps its all-or-nothing contract).

Where Python drives the loop (a report built org by org), each step is reported. Where
one call into the Rust core does the work (replaying a journal, verifying a chain,
parsing a registry), the core has no hook yet: the callback hears the start and the end.
:class:`Steps` is the one place such work is reported, so that when the core takes a
callback, the call passes :meth:`Steps.hook` to it and nothing else changes: the core
calls ``hook(done, total)`` from its loop (re-taking the GIL only for the call, holding
none of its own locks, at most every 1 % or 100 ms) and raises what the hook raised.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "Steps"]

Progress = Callable[[int, int], None]
"""``progress(done, total)``: see the module's docstring."""


class Steps:
    """Reports one operation of ``total`` units to ``progress`` (which may be ``None``:
    then it costs an attribute check per step). Reports ``(0, total)`` on creation."""

    __slots__ = ("_progress", "done", "total")

    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress = progress
        self.total = max(int(total), 0)
        self.done = 0
        if progress is not None:
            progress(0, self.total)

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done."""
        self.done = min(self.done + n, self.total)
        if self._progress is not None and self.done < self.total:
            self._progress(self.done, self.total)

    def hook(self, done: int, total: int) -> None:
        """What a core call reports through: ``done`` units of ``total`` (clamped to the
        operation's ``total``, never going back)."""
        if total != self.total and total > 0:
            done = done * self.total // total
        self.done = max(self.done, min(done, self.total))
        if self._progress is not None and self.done < self.total:
            self._progress(self.done, self.total)

    def finish(self) -> None:
        """The work succeeded: report ``(total, total)``."""
        self.done = self.total
        if self._progress is not None:
            self._progress(self.total, self.total)
