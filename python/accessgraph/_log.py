"""The ``accessgraph`` logger: one structured line per event that operators act on.

Each record's message is one logfmt line, ``event=<name> key=value ...`` (values with
spaces or quotes quoted), and the same fields are on the record as a dict,
``record.accessgraph`` (``{"event": ..., ...}``), for JSON formatters. The events:

========================  =======  =====================================================
event                     level    when
========================  =======  =====================================================
``mutation.denied``       WARNING  a mutation refused for lack of authority (``actor``,
                                   ``action``, ``target``, ``reason``, ``method``)
``journal.recovered``     WARNING  a torn final record was cut off (``Graph.open``) or
                                   left out (``Graph.load``): ``journal``, ``line``
``journal.unavailable``   WARNING  a shared journal (PostgreSQL) could not be reached;
                                   the call was not acknowledged
``journal.reconnected``   INFO     the first call that went through after that
``journal.fail_stop``     ERROR    a write or fsync failed: the graph refuses mutations
                                   from now on (later refusals: DEBUG)
``journal.error``         ERROR    any other journal failure of a mutation
========================  =======  =====================================================

Never a secret: API key secrets are not logged (no argument or result of a call is),
and a URL's password (``user:password@`` or ``?password=``) is replaced by ``***``
wherever it would appear, error messages included. The logger has a ``NullHandler``, as
a library's should: nothing is printed until the application configures logging.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accessgraph import Graph

__all__ = ["emit", "logfmt", "logger", "scrub", "shown"]

logger = logging.getLogger("accessgraph")
logger.addHandler(logging.NullHandler())

# A PostgreSQL URL inside a longer text (an error message, a traceback): up to the
# first character that cannot be part of it in such a text.
_POSTGRES_URL = re.compile(r"postgres(?:ql)?://[^\s`'\"<>]*", re.IGNORECASE)
# Any other URL's password (another scheme's, or a bare `password=` fragment).
_USERINFO = re.compile(r"(://[^:/?#@\s]*:)[^@/?#\s]*@")
_PASSWORD_PARAM = re.compile(r"((?:^|[?&\s])(?:ssl)?password=)[^&\s]*", re.IGNORECASE)
_BARE = re.compile(r"^[^\s\"=\\]+$")

# The graphs (by graph_id) whose shared journal was unreachable at their last call, and
# those that failed-stop (logged once at ERROR). Read without a lock on the hot path.
unavailable: set[str] = set()
failed: set[str] = set()


def scrub(text: str) -> str:
    """``text`` with any URL password replaced by ``***``.

    Each PostgreSQL URL in it (``postgresql://`` or ``postgres://``, in any case, up to a
    space, quote or backtick) goes through :func:`accessgraph.postgres.redact`, the one
    function that hides its passwords as the driver reads them (a user part up to the
    first ``@``, percent-encoded parameter names); the regexes after it are for other
    schemes. A value known to be a journal goes through :func:`shown` instead."""
    from accessgraph.postgres import redact

    text = _POSTGRES_URL.sub(lambda m: redact(m.group()), text)
    return _PASSWORD_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


def shown(journal: str) -> str:
    """A journal as logs and spans name it: a PostgreSQL URL through
    :func:`accessgraph.postgres.redact` as a whole (so a password holding a space is
    hidden too), a path through :func:`scrub`."""
    from accessgraph.postgres import is_url, redact

    return redact(journal) if is_url(journal) else scrub(journal)


def _value(value: object) -> str:
    text = scrub(str(value)).replace("\n", " ")
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def logfmt(event: str, fields: dict[str, object]) -> str:
    """``event=<event> key=value ...``, skipping ``None`` values."""
    parts = [f"event={event}"]
    parts += [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
    return " ".join(parts)


def emit(level: int, event: str, **fields: object) -> None:
    """Log ``event`` with ``fields`` as one structured line (see the module)."""
    if not logger.isEnabledFor(level):
        return
    clean = {k: scrub(v) if isinstance(v, str) else v for k, v in fields.items() if v is not None}
    logger.log(level, logfmt(event, clean), extra={"accessgraph": {"event": event, **clean}})


def journal_of(graph: Graph) -> str | None:
    """The graph's journal as logs name it: its path, or its URL without the password."""
    path = graph.journal_path
    if path is not None:
        return path
    url = graph.journal_url
    return None if url is None else shown(url)


def denied(method: str, error: Any) -> None:
    """A mutation refused for lack of authority."""
    decision = getattr(error, "decision", None)
    emit(
        logging.WARNING,
        "mutation.denied",
        method=method,
        actor=getattr(decision, "user", None),
        action=getattr(decision, "action", None),
        target=getattr(decision, "target", None),
        reason=str(error),
    )


def journal_error(graph: Graph, method: str, error: BaseException) -> None:
    """A mutation (or refresh) that failed in the journal: unavailable, fail-stop, other."""
    from accessgraph.exceptions import JournalUnavailableError

    gid = graph.graph_id
    if isinstance(error, JournalUnavailableError):
        unavailable.add(gid)
        emit(
            logging.WARNING,
            "journal.unavailable",
            method=method,
            journal=journal_of(graph),
            error=str(error),
        )
    elif "accepts no more mutations" in str(error):
        first = gid not in failed
        failed.add(gid)
        emit(
            logging.ERROR if first else logging.DEBUG,
            "journal.fail_stop",
            method=method,
            journal=journal_of(graph),
            error=str(error),
        )
    else:
        emit(
            logging.ERROR,
            "journal.error",
            method=method,
            journal=journal_of(graph),
            error=str(error),
        )


def unreachable(url: str, error: BaseException) -> None:
    """``Graph.open`` could not reach the database ``url``."""
    emit(
        logging.WARNING,
        "journal.unavailable",
        method="open",
        journal=shown(url),
        error=str(error),
    )


def went_through(graph: Graph, method: str) -> None:
    """A call that reached the journal: after an unavailable one, it reconnected."""
    gid = graph.graph_id
    if gid in unavailable:
        unavailable.discard(gid)
        emit(logging.INFO, "journal.reconnected", method=method, journal=journal_of(graph))


def recovered(path: str, line: int | None, how: str) -> None:
    """A torn final journal record, ``how``: ``cut off`` or ``left out``."""
    emit(logging.WARNING, "journal.recovered", journal=path, line=line, how=how)
