"""The command line's inputs: registries (read by ``Graph.load``, which tells their
formats apart), journals and audit exports; and the one-line errors that name the file,
and the line or JSON path, where an input breaks."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import accessgraph as ag
from accessgraph._formats import detect, is_journal, open_journal_copy
from accessgraph._progress import Steps
from accessgraph.cli.context import CliError, Context
from accessgraph.postgres import is_url, redact

__all__ = [
    "is_journal",
    "load_graph",
    "load_side",
    "mention",
    "open_audit",
    "read_key",
    "readable_file",
]


_KEY_LIMIT = 1 << 20
"""The longest ``--hmac-key-file`` read (1 MiB): a key is a few dozen bytes."""


def readable_file(path: str) -> Path:
    """``path``, unless it is missing, a directory, not a regular file (a device or a
    pipe: it may never end, and an input is read more than once) or unreadable
    (:class:`CliError`)."""
    if is_url(path):
        # Never shown whole: a URL's password stays hidden (docs/postgres.md).
        raise CliError(f"no such file `{redact(path)}` (the command line reads files, not URLs)")
    p = Path(path)
    if not p.exists():
        raise CliError(f"{path}: no such file")
    if p.is_dir():
        raise CliError(f"{path}: is a directory, not a file")
    if not p.is_file():
        raise CliError(f"{path}: not a regular file (a device, pipe or socket)")
    if not os.access(p, os.R_OK):
        raise CliError(f"{path}: permission denied")
    return p


def read_key(path: str) -> bytes:
    """The raw bytes of ``--hmac-key-file``: a regular file or not (``<(...)``, a pipe,
    keeps the key off the disk), but at most :data:`_KEY_LIMIT` bytes of it."""
    if not Path(path).exists():
        raise CliError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            key = f.read(_KEY_LIMIT + 1)
    except OSError as e:
        raise CliError(f"{path}: {e.strerror or e}") from e
    if len(key) > _KEY_LIMIT:
        raise CliError(f"{path}: longer than 1 MiB, not a key file")
    return key


def mention(path: str, message: str) -> str:
    """``message``, prefixed with ``path`` unless it names it already."""
    return message if path in message else f"{path}: {message}"


def _where(path: str, e: ag.RegistryFormatError) -> str:
    """``file:line:column: message`` (or ``file: $.json.path: message``)."""
    # `Graph.load` names the file it read (as `Path` spells it) first.
    message = str(e).removeprefix(f"{Path(path)}: ")
    if e.line is not None:
        column = e.column if e.column is not None else 1
        prefix = f"line {e.line}, column {column}: "
        message = message.removeprefix(prefix)
        return f"{path}:{e.line}:{column}: {message}"
    return f"{path}: {message}"


def load_graph(path: str, args: argparse.Namespace, ctx: Context | None = None) -> ag.Graph:
    """The graph in ``path``, read by ``Graph.load``: a Markdown/JSON/CSV registry, a
    PostHog members export (``--posthog`` or detected) or a journal (a torn final record
    is left out, with a warning on stderr). ``--org`` goes to the formats that take one;
    ``--at`` sets the graph's clock. Raises :class:`CliError` on bad input. With
    ``ctx``, a progress bar may show the reading."""
    p = readable_file(path)
    org: str | None = getattr(args, "org", None)
    pages: dict[str, str] = {}
    try:
        kind = detect(p, "posthog" if getattr(args, "posthog", False) else None)
        if kind == "posthog":
            pages = _posthog_pages(p, org, getattr(args, "posthog_project", None) or [])
        shown = ctx.progress(f"reading {path}") if ctx is not None else nullcontext(None)
        with warnings.catch_warnings(record=True) as caught, shown as progress:
            warnings.simplefilter("always", ag.JournalRecoveredWarning)
            graph = ag.Graph.load(
                p,
                format=kind,
                org=org if kind in ("markdown", "posthog") else None,
                projects=pages if kind == "posthog" else None,
                progress=progress,
            )
        for w in caught:
            if issubclass(w.category, ag.JournalRecoveredWarning):
                sys.stderr.write(f"accessgraph: warning: {w.message}; it is left out here\n")
            else:  # pragma: no cover - no other warning is expected here
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except ag.RegistryFormatError as e:
        # A project page's errors are placed under `$["<name>"]` (or name the page, when
        # it is not UTF-8): name its file instead.
        where = path
        for name, file in pages.items():
            if (e.path or "").startswith(f"$[{json.dumps(name)}]") or f"`{file}`" in str(e):
                where = file
        raise CliError(_where(where, e)) from e
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except (ag.ValidationError, ag.JournalError) as e:
        raise CliError(mention(path, str(e))) from e
    except OSError as e:
        raise CliError(f"{e.filename or path}: {e.strerror or e}") from e
    except MemoryError:
        raise CliError(f"{path}: too large to read into memory") from None
    at = getattr(args, "at", None)
    if at is not None:
        graph.set_time(at)
    return graph


def load_side(spec: str, args: argparse.Namespace, ctx: Context) -> ag.Graph:
    """One side of ``diff``: a file, or ``REV:PATH`` read from git when no file of that
    name exists (``git show REV:PATH`` in the current directory, written to the scratch
    directory under the same suffix, then read like a file). A REV that starts with
    ``-`` is refused: git would read it as an option (``--output=FILE`` writes FILE)."""
    rev, sep, path = spec.partition(":")
    if is_url(spec) or Path(spec).exists() or not sep or not rev or not path:
        return load_graph(spec, args)
    if rev.startswith("-"):
        # Refused rather than passed after `--end-of-options`, which git < 2.24 lacks.
        raise CliError(
            f"{spec}: no such file, and `{rev}` is not a git revision (it starts with `-`)"
        )
    try:
        shown = subprocess.run(
            ["git", "show", f"{rev}:{path}"], capture_output=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise CliError(f"{spec}: no such file, and git is not installed to read it") from None
    except subprocess.TimeoutExpired:
        raise CliError(f"{spec}: `git show` did not answer within 60 s") from None
    if shown.returncode != 0:
        why = shown.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = why[-1].removeprefix("fatal: ") if why else f"exit status {shown.returncode}"
        raise CliError(f"{spec}: no such file, and git cannot read it: {detail}")
    copy = ctx.scratch_file(Path(path).suffix)
    copy.write_bytes(shown.stdout)
    try:
        return load_graph(str(copy), args)
    except CliError as e:
        raise CliError(str(e).replace(str(copy), spec)) from e


def _posthog_pages(p: Path, org: str | None, specs: Sequence[str]) -> dict[str, str]:
    """``--posthog-project NAME=FILE`` as ``{name: file}``; the export needs ``--org``."""
    if org is None:
        raise CliError(f"{p}: a PostHog members export needs its org slug: pass --org SLUG")
    pages: dict[str, str] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise CliError(f"--posthog-project `{spec}`: expected NAME=FILE")
        readable_file(file)
        pages[name] = file
    return pages


def open_audit(path: str, args: argparse.Namespace, ctx: Context) -> ag.AuditLog:
    """The audit log of a journal (replayed and verified from a private copy; a torn
    final record counts as damage) or of a JSON Lines export. Damage raises the
    library's ``JournalError`` / ``AuditIntegrityError``; a file that is neither raises
    :class:`CliError`."""
    p = readable_file(path)
    key = None
    if getattr(args, "hmac_key_file", None) is not None:
        key = read_key(args.hmac_key_file)
    try:
        if not is_journal(p):
            if _first_character(p) != "{":
                raise CliError(f"{path}: neither a journal nor a JSON Lines audit export")
            # The journal's key also signed the export's trailer.
            return ag.AuditLog.load(p, hmac_key=key)
        with ctx.progress(f"replaying {path}") as progress:
            steps = Steps(progress, p.stat().st_size)
            graph, torn = open_journal_copy(
                ag.Graph, p, ctx.scratch_file(".journal"), hmac_key=key, snapshot=False
            )
            steps.finish()
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except MemoryError:
        raise CliError(f"{path}: too large to read into memory") from None
    if torn is not None:
        raise torn
    return graph.audit


def _first_character(p: Path) -> str:
    """The file's first character that is not white space (``""`` if none), read in
    pieces: a first line that never ends is not read whole."""
    with p.open(encoding="utf-8") as f:
        while piece := f.read(1 << 16):
            if stripped := piece.lstrip():
                return stripped[0]
    return ""
