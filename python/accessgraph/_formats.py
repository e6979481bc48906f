"""Which format a file is in, and how a journal is read without changing it.

``Graph.load`` and ``Graph.save`` (and the command line, through them) tell formats
apart here: a journal by its first bytes, a PostHog members export by its shape, the
registry formats by their extensions.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from accessgraph._paths import check_path
from accessgraph.exceptions import (
    JournalError,
    JournalRecoveredWarning,
    RegistryFormatError,
    ValidationError,
)

if TYPE_CHECKING:
    from accessgraph import Graph

__all__ = [
    "LOADABLE",
    "SAVABLE",
    "check_path",
    "detect",
    "is_journal",
    "naming",
    "open_journal_copy",
    "read_journal",
    "read_text",
    "savable",
]

_G = TypeVar("_G", bound="Graph")

SAVABLE = ("markdown", "json", "csv")
"""The formats ``Graph.save`` writes (and ``Graph.load`` reads)."""
LOADABLE = (*SAVABLE, "posthog", "journal")
"""The formats ``Graph.load`` reads."""

_EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv"}
_JOURNAL_MAGIC = b'{"accessgraph_journal"'


def savable(path: str | os.PathLike[str], format: str | None) -> str:
    """The format ``format`` names, or the one of ``path``'s extension."""
    check_path(path)
    if format is not None:
        if format not in SAVABLE:
            raise ValidationError(f"invalid format `{format}`: expected markdown, json or csv")
        return format
    return _by_extension(path)


def detect(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format ``format`` names, else the one ``path`` holds: ``"journal"`` when it
    starts with a journal header, ``"posthog"`` for a ``.json`` file that is a PostHog
    members response (a list, or an object with ``results`` and no ``format``), else
    the one of its extension (``"markdown"``, ``"json"``, ``"csv"``)."""
    check_path(path)
    if format is not None:
        if format not in LOADABLE:
            raise ValidationError(
                f"invalid format `{format}`: expected markdown, json, csv, posthog or journal"
            )
        return format
    p = Path(path)
    if is_journal(p):
        return "journal"
    kind = _by_extension(p)
    if kind == "json" and _looks_like_posthog(p):
        return "posthog"
    return kind


def _by_extension(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise ValidationError(
            f"invalid path `{path}`: cannot tell the format from `{suffix}` "
            "(expected .md, .json or .csv, or pass format=)"
        )
    return _EXTENSIONS[suffix]


@contextmanager
def naming(path: str | os.PathLike[str]) -> Iterator[None]:
    """Re-raises a :class:`RegistryFormatError` about the document read from ``path``
    with the file named first: the core names only the place in the document (a line and
    column, or ``$.orgs[0]``)."""
    try:
        yield
    except RegistryFormatError as e:
        raise RegistryFormatError(
            f"{os.fspath(path)}: {e}", line=e.line, column=e.column, path=e.path
        ) from None


def read_text(path: str | os.PathLike[str], *, newline: str | None = None) -> str:
    """The text of the registry file ``path``, UTF-8. ``newline`` as for :func:`open`:
    ``None`` reads ``\\r\\n`` and ``\\r`` as ``\\n``, ``""`` keeps line ends as they are.

    A byte that is not UTF-8 raises :class:`RegistryFormatError` naming the file, its line
    and column (as the registry parsers count them) and its byte offset."""
    check_path(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        # Everything before the first bad byte is UTF-8: count lines and columns in it.
        before = data[: e.start].decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise RegistryFormatError(
            f"line {line}, column {column}: `{os.fspath(path)}` is not UTF-8 text "
            f"({e.reason} at byte {e.start})",
            line=line,
            column=column,
        ) from None
    if newline is None:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def is_journal(path: Path) -> bool:
    """Does the file start like a journal (its header line)? ``False`` when it cannot be
    read: reading it as whatever its name says reports that."""
    try:
        with path.open("rb") as f:
            return f.read(len(_JOURNAL_MAGIC)) == _JOURNAL_MAGIC
    except OSError:
        return False


def _looks_like_posthog(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        # Reading it as a snapshot reports where it breaks. RecursionError: nested deeper
        # than Python's parser goes (the core's parser stops at its own limit and names
        # the place).
        return False
    if isinstance(data, list):
        return True
    return isinstance(data, dict) and "results" in data and "format" not in data


def open_journal_copy(
    cls: type[_G],
    path: Path,
    copy: Path,
    *,
    hmac_key: bytes | None = None,
    snapshot: bool = True,
) -> tuple[_G, JournalError | None]:
    """The graph of the journal ``path``, opened from a copy at ``copy`` so that reading
    never changes it (opening cuts a torn tail off and takes the writers' lock); and, if
    it ends in a torn record, the error that says so, not raised: a reader may go on
    without that record. The snapshot beside the journal is used when ``snapshot``, the
    signed checkpoint when ``hmac_key`` is given (it must exist then).

    Damage raises ``JournalError`` naming ``path`` and the line, never the copy.
    """
    if hmac_key is not None and not path.with_name(path.name + ".checkpoint").is_file():
        raise JournalError(f"{path}: no checkpoint `{path.name}.checkpoint` beside the journal")
    shutil.copyfile(path, copy)
    for extra, wanted in ((".snapshot", snapshot), (".checkpoint", hmac_key is not None)):
        beside = path.with_name(path.name + extra)
        if wanted and beside.is_file():
            shutil.copyfile(beside, copy.with_name(copy.name + extra))
    try:
        graph, recovered = cls._open(os.fspath(copy), durability="os", hmac_key=hmac_key)
    except JournalError as e:
        message = str(e).replace(str(copy), str(path))
        if str(path) not in message:
            message = f"{path}: {message}"
        raise JournalError(message, e.line) from e
    if recovered is None:
        return graph, None
    line, _ = recovered
    where = f" at line {line}"
    torn = JournalError(
        f"{path}: a torn final record{where} (a write interrupted by a crash; "
        "Graph.open cuts it off, keeping every complete record)",
        line,
    )
    return graph, torn


def read_journal(cls: type[_G], path: Path) -> _G:
    """The state the journal ``path`` records, as a graph kept in memory (``Graph.load``):
    read from a private copy, the file untouched; a torn final record is left out with a
    ``JournalRecoveredWarning``."""
    with tempfile.TemporaryDirectory(prefix="accessgraph-") as folder:
        graph, torn = open_journal_copy(cls, path, Path(folder) / "copy.journal")
        text = graph.to_json()
        del graph  # closes the copy before its folder goes
    if torn is not None:
        from accessgraph import _log

        _log.recovered(str(path), torn.line, "left out")
        warnings.warn(JournalRecoveredWarning(str(torn), torn.line), stacklevel=3)
    return cls.from_json(text)
