"""PostgreSQL as the shared journal of many processes on many machines.

    g = ag.Graph.open("postgresql://app@db.internal/accessgraph?graph=main")

Every process that opens the same URL holds the whole graph in memory and shares one
hash-chained event log in the database. A mutation takes the graph's writers' lock (an
advisory lock inside its transaction), applies the events other processes committed
since it last looked, checks authority against that latest state, inserts its events and
commits; the call returns after the commit. A background thread in each process LISTENs
for commits and applies them within milliseconds (polling every ``poll`` seconds when no
notification comes); :meth:`Graph.refresh` catches up at once.

URL parameters besides libpq's own: ``graph`` (the graph's name in the database, default
``default``; letters, digits, ``_``, ``-``, ``.``), ``poll`` (seconds, default 1) and
``follow`` (``on``/``off``; ``off`` leaves catching up to mutations and ``refresh()``).
Connections are made without TLS (the compiled-in client has no TLS support): reach a
remote server through a private network or a TLS tunnel.

The library creates its tables itself on first use (the database user needs the right to
create tables in the schema on its ``search_path``) and migrates them under an advisory
lock; :func:`migrate` does it up front. Schema version 1::

    accessgraph_schema    (version integer PRIMARY KEY, applied_at timestamptz)
    accessgraph_graphs    (graph_id text PRIMARY KEY, name text UNIQUE, header text,
                           epoch bigint, created_at timestamptz)
    accessgraph_events    (graph_id text, seq bigint, record text,
                           PRIMARY KEY (graph_id, seq))
    accessgraph_snapshots (graph_id text, seq bigint, hash text, epoch bigint, state text,
                           created_at timestamptz, PRIMARY KEY (graph_id, seq))

``header`` and ``record`` are exactly the lines of a file journal (canonical JSON with its
CRC), so ``audit.verify()``, ``as_of`` and erasure work unchanged; ``epoch`` counts the
rewrites of a graph's events (retention pruning, erasure), which the other processes
notice and reload. :meth:`Graph.snapshot` (without a path) stores the state in
``accessgraph_snapshots``, so a process joining replays only the events after it.

When the database cannot be reached, a mutation raises
:class:`~accessgraph.JournalUnavailableError` (nothing acknowledged), checks keep answering
from memory, and the next call reconnects and catches up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

from accessgraph.exceptions import ValidationError

if TYPE_CHECKING:
    from accessgraph import Graph

__all__ = ["import_journal", "is_url", "migrate"]

_G = TypeVar("_G", bound="Graph")


def is_url(path: object) -> bool:
    """True for a ``postgresql://`` or ``postgres://`` URL."""
    return isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))


def migrate(url: str) -> list[int]:
    """Create or upgrade the schema in the database ``url`` names; returns the versions
    applied (``[]`` when it is current). Opening a graph does the same by itself."""
    from accessgraph import _core

    return _core.Graph._postgres_migrate(url)


def import_journal(path: str | os.PathLike[str], url: str) -> int:
    """Copy the file journal at ``path`` into the database as the graph ``url`` names
    (``?graph=``), which must not exist yet: the header and every record as they are, so
    the chain, erasures and time travel carry over. The file is verified first. Returns
    the number of events copied. This is how a deployment moves from one machine to many.
    """
    from accessgraph import _core

    return _core.Graph._postgres_import(os.fspath(path), url)


def _open(
    cls: type[_G],
    url: str,
    *,
    durability: str,
    hmac_key: bytes | None,
    snapshot: str | os.PathLike[str] | None,
) -> _G:
    if durability != "fsync":
        raise ValidationError(
            f"invalid durability `{durability}`: a PostgreSQL journal commits every mutation "
            "before the call returns (the server's synchronous_commit decides when that is "
            'on disk); leave durability at "fsync"'
        )
    if hmac_key is not None:
        raise ValidationError(
            "invalid hmac_key: a PostgreSQL journal keeps no signed checkpoint (the "
            "database's own access control guards its rows); leave hmac_key=None"
        )
    if snapshot is not None:
        raise ValidationError(
            f"invalid snapshot `{snapshot}`: a PostgreSQL journal keeps its snapshot in the "
            "database"
        )
    return cls._open_postgres(url)


def _snapshot(graph: Graph, path: str | os.PathLike[str] | None) -> int:
    if path is not None:
        raise ValidationError(
            f"invalid path `{path}`: a graph opened from a postgresql:// URL keeps its "
            "snapshot in the database; call snapshot() without a path"
        )
    return graph._snapshot_postgres()
