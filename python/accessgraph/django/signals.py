"""``access_changed``: a Django signal sent after access changes, with the new events.

    from django.dispatch import receiver
    from accessgraph.django.signals import access_changed

    @receiver(access_changed)
    def forget_cached_menus(sender, events, revision, **kwargs):
        for event in events:          # accessgraph.Event: seq, at, actor, action, target ...
            if event.action in ("member.removed", "grant.removed"):
                cache.delete(f"menu:{event.user}")

The integration compares the graph's ``revision`` with the last revision it saw before
each request (``request_started``), after each request (``request_finished``, so a
change a view made is announced as it ends) and before each check, and sends the events
in between, in ``seq`` order, each once per process: changes made in this process and
changes pulled in from other processes alike (a graph on a shared journal applies those
before its next check). ``sender`` is the graph; ``events`` a list of
:class:`accessgraph.Event` (empty for a graph kept with ``audit=False``); ``revision``
the graph's revision after them. Refused mutations (``access.denied``) and application
events (``graph.record``) are events too: filter on ``event.action``.

:func:`send_changes` (``await asend_changes()`` in async code) announces what is
pending at once, e.g. after a management command or a task changed access. Receivers
run in the thread that noticed the change, one batch at a time; an exception in a
receiver propagates, as with Django's own signals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from collections.abc import Callable

    import accessgraph as ag

__all__ = ["access_changed", "asend_changes", "send_changes"]

access_changed = Signal()
"""Sent with ``sender=graph, events=[Event, ...], revision=int`` after access changed."""

# A lower bound for the time of events not seen yet, taken this far before the last one
# seen, so that another machine's clock a little behind ours still finds them on the
# fast path (the count check below catches any other case).
_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class _Cursor:
    graph: ag.Graph
    revision: int
    at: datetime | None  # the time of the newest event seen, when known


_lock = threading.RLock()
# Replaced under _lock; read without it on the fast path (a reference read is atomic).
_cursor: _Cursor | None = None
# The process's graph, for calls that name none: accessgraph.django.conf, which sits
# above this module (it calls `watch` on every graph it loads), hands its get_graph here
# as it loads, so that this module never imports it back.
_process_graph: Callable[[], ag.Graph] | None = None


def announce_for(get_graph: Callable[[], ag.Graph]) -> None:
    """Make ``get_graph()`` the graph that :func:`send_changes` announces by default."""
    global _process_graph
    _process_graph = get_graph


def watch(graph: ag.Graph) -> None:
    """Start announcing ``graph``'s changes from its current revision on (the
    process's graph was loaded or replaced: what came before is not news)."""
    global _cursor
    with _lock:
        _cursor = _Cursor(graph, graph.revision, _now(graph))


def pending(graph: ag.Graph) -> bool:
    """Has ``graph`` changed since its changes were last announced? A lookup."""
    cursor = _cursor
    return cursor is None or cursor.graph is not graph or cursor.revision != graph.revision


def send_changes(graph: ag.Graph | None = None) -> list[ag.Event]:
    """Send ``access_changed`` for the changes of ``graph`` (default: the process's graph)
    not announced yet; returns their events (``[]`` when there were none)."""
    graph = _graph(graph)
    if not pending(graph):
        return []
    with _lock:
        batch = _claim(graph)
        if batch is not None:
            access_changed.send(sender=graph, events=batch[0], revision=batch[1])
    return [] if batch is None else batch[0]


async def asend_changes(graph: ag.Graph | None = None) -> list[ag.Event]:
    """:func:`send_changes` for async code: sync receivers run in a thread
    (``Signal.asend``), async receivers are awaited."""
    graph = _graph(graph)
    if not pending(graph):
        return []
    # The lock is not held across the await: a batch is claimed once, then sent.
    with _lock:
        batch = _claim(graph)
    if batch is None:
        return []
    await access_changed.asend(sender=graph, events=batch[0], revision=batch[1])
    return batch[0]


def _graph(graph: ag.Graph | None) -> ag.Graph:
    if graph is not None:
        return graph
    if _process_graph is None:  # not reached: the package's __init__ loads conf
        raise RuntimeError("accessgraph.django.conf is not loaded: pass the graph")
    return _process_graph()


def _claim(graph: ag.Graph) -> tuple[list[ag.Event], int] | None:
    """Move the cursor to ``graph``'s revision; the events passed over (held: _lock)."""
    global _cursor
    cursor = _cursor
    revision = graph.revision
    if cursor is None or cursor.graph is not graph or revision < cursor.revision:
        # A graph not watched yet, or one whose log was replaced: start from here.
        _cursor = _Cursor(graph, revision, _now(graph))
        return None
    if revision == cursor.revision:
        return None
    events = _events_after(graph, cursor, revision)
    newest = max((e.at for e in events), default=cursor.at)
    _cursor = _Cursor(graph, revision, newest)
    return events, revision


def _events_after(graph: ag.Graph, cursor: _Cursor, revision: int) -> list[ag.Event]:
    """The events with ``cursor.revision < seq <= revision``, in ``seq`` order.

    The audit log filters by time, not by ``seq``: ask for the events since shortly
    before the newest one seen (a few), and fall back to the whole log only when that
    misses some (a clock that went back by more than ``_SKEW``). ``seq`` numbers are
    consecutive, so a count tells.
    """
    if not graph.keeps_audit_log:
        return []
    wanted = revision - cursor.revision
    log = graph.audit
    if cursor.at is not None:
        found = [e for e in log.events(since=cursor.at - _SKEW) if _within(e, cursor, revision)]
        if len(found) == wanted:
            return found
    return [e for e in log.events() if _within(e, cursor, revision)]


def _within(event: ag.Event, cursor: _Cursor, revision: int) -> bool:
    return cursor.revision < event.seq <= revision


def _now(graph: ag.Graph) -> datetime:
    # The graph's clock (frozen in tests): events made from now on are at or after it.
    return graph.now()
