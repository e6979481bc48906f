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
one call into the Rust core does the work, the call passes :meth:`Steps.hook` to the
core, which calls ``hook(done, total)`` from its loop — re-taking the GIL only for the
call, holding none of its own locks (a log in memory is copied out of its lock first,
only when a callback is given), at most once per 1 % of the total or once per 100 ms
while a 1 % step takes longer — and raises what the hook raised, the same exception
object. The core reports during the work for: opening a journal file (bytes of the
journal and its snapshot, as the replay goes); opening a journal in PostgreSQL (the
events replayed after its snapshot, or all of them); ``Graph.as_of`` (the events
replayed); :func:`accessgraph.postgres.import_journal` (the journal's bytes, read then
copied); ``review`` (as its rules are done, each over every org; the review then reads a
copy of the state, so no lock is held while the callback runs); and the audit log's
``verify``, ``to_jsonl`` and ``to_csv`` (of a graph, of a graph on PostgreSQL, of a
loaded export). In a graph opened from a snapshot, the first of ``as_of``, ``verify``,
``to_jsonl`` and ``to_csv`` also reads the events before the snapshot: it counts those
first, as they are read, then its own units. The
others — loading a JSON snapshot, a Markdown registry or a PostHog export and
``import_registry``, each under a second at the large workload's size (about 0.6 s for
989,368 grants from JSON) — hear only the start and the end.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "Steps"]

Progress = Callable[[int, int], None]
"""``progress(done, total)``: see the module's docstring."""


class Steps:
    """Reports one operation of ``total`` units to ``progress`` (which may be ``None``:
    then it costs an attribute check per step). Reports ``(0, total)`` on creation, or,
    with ``total=None``, when the core's first report tells the total."""

    __slots__ = ("_progress", "done", "total")

    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self._progress = progress
        self.done = 0
        if total is None:
            # The core learns the total during the work: its first report, ``(0, total)``,
            # sets it (see :meth:`hook`).
            self.total = -1
            return
        self.total = max(int(total), 0)
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
        if self.total < 0:
            self.total = max(int(total), 0)
            if self._progress is not None:
                self._progress(0, self.total)
        if total != self.total and total > 0:
            done = done * self.total // total
        done = min(done, self.total)
        # The core reports its own start and end: only a step forward is passed on
        # (``finish`` reports the end, once).
        if done <= self.done:
            return
        self.done = done
        if self._progress is not None and self.done < self.total:
            self._progress(self.done, self.total)

    def finish(self) -> None:
        """The work succeeded: report ``(total, total)``."""
        if self.total < 0:
            self.hook(0, 0)
        self.done = self.total
        if self._progress is not None:
            self._progress(self.total, self.total)
