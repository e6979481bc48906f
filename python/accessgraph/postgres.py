"""PostgreSQL as the shared journal of many processes on many machines.

    g = ag.Graph.open("postgresql://app@db.internal/accessgraph?graph=main")

Every process that opens the same URL holds the graph's state in memory and shares one
hash-chained event log in the database. The history itself stays there: ``audit.events``
filters in SQL (indexes on user, actor, action, target and time), and iteration, exports,
``verify()`` and ``as_of`` read the rows in pages, so a process's memory does not grow
with the history. A mutation takes the graph's writers' lock (an
advisory lock inside its transaction), applies the events other processes committed
since it last looked, checks authority against that latest state, inserts its events and
commits; the call returns after the commit. A background thread in each process LISTENs
for commits and applies them within milliseconds (polling every ``poll`` seconds when no
notification comes); :meth:`Graph.refresh` catches up at once.

URL parameters besides libpq's own: ``graph`` (the graph's name in the database, default
``default``; letters, digits, ``_``, ``-``, ``.``), ``poll`` (seconds, default 1) and
``follow`` (``on``/``off``; ``off`` leaves catching up to mutations and ``refresh()``).

TLS follows libpq's meaning of the URL: ``sslmode`` (``disable``, ``allow``, ``prefer`` —
the default —, ``require``, ``verify-ca``, ``verify-full``), ``sslrootcert`` (a file, or
``system`` for the platform's roots), ``sslcert`` and ``sslkey`` (a client certificate),
``sslnegotiation=direct`` and ``sslsni``; the defaults in ``~/.postgresql/`` are read as
libpq reads them. Use ``sslmode=verify-full`` against a server across a network. The
client is rustls, compiled into the wheel (docs/postgres.md says what differs from libpq).
A password, in the URL's user part or as ``?password=``, never appears in a message, a
``repr`` or :attr:`Graph.journal_url`: :func:`redact` hides it.

``Graph.open(url, durability=, hmac_key=)`` take the values they take for a file:
``durability`` sets the session's ``synchronous_commit`` (``"fsync"`` and ``"group"``:
each commit is flushed by the server before the call returns; ``"os"``: it is not waited
for, so a server crash may lose the last commits), and ``hmac_key`` signs every event row
and keeps the signed checkpoint (over the last event and the header row) in
``accessgraph_checkpoints``, written in the transaction of the events it vouches for:
opening with another key, a journal cut short or rewritten, an edited header or a row
written without the key raises :class:`~accessgraph.JournalError`. A graph without a
checkpoint is trusted as found by the first keyed open (docs/postgres.md).

The library creates its tables itself on first use (the database user needs the right to
create tables in the schema on its ``search_path``) and migrates them under an advisory
lock; :func:`migrate` does it up front. Schema version 3::

    accessgraph_schema    (version integer PRIMARY KEY, applied_at timestamptz)
    accessgraph_graphs    (graph_id text PRIMARY KEY, name text UNIQUE, header text,
                           epoch bigint, created_at timestamptz)
    accessgraph_events    (graph_id text, seq bigint, record text, actor text,
                           action text, target text, details_user text, at timestamptz,
                           mac text, PRIMARY KEY (graph_id, seq))
    accessgraph_snapshots (graph_id text, seq bigint, hash text, epoch bigint, state text,
                           mac text, created_at timestamptz, PRIMARY KEY (graph_id, seq))
    accessgraph_checkpoints (graph_id text PRIMARY KEY, record text,
                             updated_at timestamptz)

``header`` is line 1 of a file journal; ``record`` is one event's export form with its
CRC (journal format 2), so ``audit.verify()``, ``as_of`` and erasure work as for a file;
``actor`` … ``at`` are taken from the record when it is written, each indexed, for
``audit.events(...)``; ``epoch`` counts the rewrites of a graph's events (retention
pruning, erasure), which the other processes notice and reload. :meth:`Graph.snapshot`
(without a path) stores the state in ``accessgraph_snapshots``, so a process joining
replays only the events after it.

When the database cannot be reached, a mutation raises
:class:`~accessgraph.JournalUnavailableError` (nothing acknowledged), checks keep answering
from memory, and the next call reconnects and catches up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeGuard, TypeVar

from accessgraph._progress import Progress, Steps
from accessgraph.exceptions import ValidationError

if TYPE_CHECKING:
    from accessgraph import Graph

__all__ = ["import_journal", "is_url", "migrate", "redact"]

_G = TypeVar("_G", bound="Graph")


def is_url(path: object) -> TypeGuard[str]:
    """True for a ``postgresql://`` or ``postgres://`` URL, the scheme in any case (RFC
    3986: ``POSTGRESQL://`` is the same scheme, and must not be taken for a file path whose
    error would show the URL whole)."""
    return isinstance(path, str) and path[:13].lower().startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """``url`` with every password hidden (``***``): the one in the user part and any
    ``?password=`` or ``?sslpassword=``. Everything that shows a URL uses it."""
    from accessgraph import _core

    return _core.postgres_redact(url)


def migrate(url: str) -> list[int]:
    """Create or upgrade the schema in the database ``url`` names; returns the versions
    applied (``[]`` when it is current). Opening a graph does the same by itself."""
    from accessgraph import _core

    return _core.postgres_migrate(url)


def import_journal(
    path: str | os.PathLike[str],
    url: str,
    *,
    hmac_key: bytes | None = None,
    progress: Progress | None = None,
) -> int:
    """Copy the file journal at ``path`` into the database as the graph ``url`` names
    (``?graph=``), which must not exist yet: the header and every record as they are, so
    the chain, erasures and time travel carry over. The file is verified first; with
    ``hmac_key`` against its signed checkpoint too, and the database then keeps one.
    Returns the number of events copied. This is how a deployment moves from one machine
    to many.

    ``progress(done, total)`` counts the journal's bytes twice: as they are read and
    verified, then as their records are copied. An exception the callback raises stops
    the import and propagates; the copy is one transaction, so nothing of it is left in
    the database.
    """
    from accessgraph import _core
    from accessgraph._paths import check_path

    check_path(path)
    steps = Steps(progress, None)
    count = _core.postgres_import(
        os.fspath(path),
        url,
        hmac_key=hmac_key,
        progress=None if progress is None else steps.hook,
    )
    steps.finish()
    return count


def _open(
    cls: type[_G],
    url: str,
    *,
    durability: str,
    hmac_key: bytes | None,
    snapshot: str | os.PathLike[str] | None,
    progress: Progress | None = None,
) -> _G:
    if snapshot is not None:
        raise ValidationError(
            f"invalid snapshot `{snapshot}`: a PostgreSQL journal keeps its snapshot in the "
            "database"
        )
    return cls._open_postgres(url, durability=durability, hmac_key=hmac_key, progress=progress)


def _snapshot(graph: Graph, path: str | os.PathLike[str] | None) -> int:
    if path is not None:
        raise ValidationError(
            f"invalid path `{path}`: a graph opened from a postgresql:// URL keeps its "
            "snapshot in the database; call snapshot() without a path"
        )
    return graph._snapshot_postgres()
