"""Pages of an audit log, newest first, without reading the whole log.

``AuditLog.events`` filters (actor, user, action, target, ``since <= at < until``) and
keeps the *first* ``limit`` matches in ``seq`` order; it has no offset and no way to ask
for the last matches. A page here is the ``size`` greatest events by ``(at, seq)``
below a cursor: the time window that holds them is found by asking, with a ``limit``,
how many events a window holds — widening it from the cursor back, then halving it —
so that no call returns more than ``4 * size + 1`` events (except when more than that
share one microsecond). Ordering by ``(at, seq)`` is total even if a clock went back.

The core could answer this in one call (``events(before_seq=..., newest_first=True,
limit=...)``); until it does, this costs a few scans of the log in Rust per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from accessgraph import Event

__all__ = ["Cursor", "Page", "page"]

_TICK = timedelta(microseconds=1)
_START = timedelta(hours=1)


class _Log(Protocol):
    def events(
        self,
        *,
        actor: str | None = ...,
        user: str | None = ...,
        action: str | None = ...,
        target: str | None = ...,
        since: Any = ...,
        until: Any = ...,
        limit: int | None = ...,
    ) -> list[Event]: ...


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in newest-first order: the page starts below ``(at, seq)``."""

    at: datetime
    seq: int

    def encode(self) -> str:
        """``<ISO time>~<seq>``, for a query string."""
        return f"{self.at.isoformat()}~{self.seq}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor ``text`` encodes, or ``None`` for anything else."""
        at, sep, seq = text.rpartition("~")
        try:
            when = datetime.fromisoformat(at)
            return cls(when, int(seq)) if sep and when.tzinfo is not None else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Page:
    """Events, newest first, and the cursor of the next (older) page, if any."""

    events: Sequence[Event]
    older: Cursor | None


def page(
    log: _Log,
    *,
    size: int,
    now: datetime,
    before: Cursor | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    **criteria: Any,
) -> Page:
    """The ``size`` newest events matching ``criteria`` (``actor``, ``user``,
    ``action``, ``target``) with ``since <= at < until``, below ``before``; ``now`` is
    where the search for a window starts when there is no upper bound."""
    if size < 1:
        raise ValueError(f"invalid size `{size}`: a page holds at least one event")
    cap = 4 * size
    upper = until
    if before is not None:
        bound = before.at + _TICK
        upper = bound if upper is None else min(upper, bound)

    def below(e: Event) -> bool:
        return before is None or (e.at, e.seq) < (before.at, before.seq)

    def probe(lower: datetime | None) -> list[Event] | None:
        """The events of ``[lower, upper)``, or ``None`` when there are over ``cap``."""
        raw = log.events(since=lower, until=upper, limit=cap + 1, **criteria)
        return None if len(raw) > cap else [e for e in raw if below(e)]

    got = probe(since)
    if got is not None:
        return _cut(got, size, more=False)
    # Too many to read at once: widen a window [lower, upper) back from the top until it
    # holds a page, then halve it until it holds at most `cap`.
    top = upper if upper is not None else now
    floor = since if since is not None else datetime.min.replace(tzinfo=top.tzinfo)
    narrow, width = top, _START  # `narrow` starts a window holding less than a page
    while True:
        lower: datetime | None = top - width if top - floor > width else since
        got = probe(lower)
        if got is None or len(got) >= size or lower == since:
            break
        assert lower is not None  # not `since`, so a time
        narrow, width = lower, width * 4
    if lower is None:  # the whole range holds more than `cap`, and no window was smaller
        lower = floor
    wide: datetime = lower
    while got is None and narrow - wide > _TICK:
        middle = wide + (narrow - wide) / 2
        halved = probe(middle)
        if halved is None:
            wide = middle
        elif len(halved) >= size:
            wide, got = middle, halved
        else:
            narrow = middle
    if got is None:  # more than `cap` events within one microsecond: read them all
        got = [e for e in log.events(since=wide, until=upper, **criteria) if below(e)]
    older = since is None or wide > since
    more = older and bool(log.events(since=since, until=wide, limit=1, **criteria))
    if len(got) < size and more:
        # The window held events already shown (a cursor inside a burst): go on below it.
        rest = page(log, size=size - len(got), now=now, since=since, until=wide, **criteria)
        got.sort(key=lambda e: (e.at, e.seq), reverse=True)
        events = [*got, *rest.events]
        return Page(events, rest.older)
    return _cut(got, size, more=more)


def _cut(found: list[Event], size: int, *, more: bool) -> Page:
    """The newest ``size`` of ``found``; ``more``: events older than all of ``found``."""
    found.sort(key=lambda e: (e.at, e.seq), reverse=True)
    shown = found[:size]
    if shown and (len(found) > size or more):
        return Page(shown, Cursor(shown[-1].at, shown[-1].seq))
    return Page(shown, None)
