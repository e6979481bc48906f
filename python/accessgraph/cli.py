"""The ``accessgraph`` command line (also ``python -m accessgraph``).

Every command reads registries (Markdown, JSON, CSV, a PostHog members export or a
journal) through the public API and prints either for people (aligned text, coloured on
a terminal) or for machines (``--format json|csv|markdown``). Exit codes (SPEC 9):
0 allowed / no differences / intact; 1 denied / differences / damaged; 2 usage or input
error, with a one-line message on stderr (a registry that does not parse names its file,
line and column) and never a traceback.

A command is a function ``(args, ctx) -> exit code`` that builds a :class:`Report` and
hands it to ``ctx.emit``, plus an ``_add_<command>`` function declaring its arguments;
the rendering of the four formats, the colours and the error handling are shared.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import accessgraph as ag

__all__ = ["main"]

EXIT_OK = 0
"""Allowed, no differences, intact."""
EXIT_FOUND = 1
"""Denied, differences, damaged."""
EXIT_USAGE = 2
"""Usage or input error (argparse uses 2 too)."""

FORMATS = ("text", "json", "csv", "markdown")


class CliError(Exception):
    """An input error worth one line on stderr and exit code 2."""


# --------------------------------------------------------------------------------------
# Output: one Report, four renderings


@dataclass(frozen=True)
class Report:
    """What a command prints: rows sharing ``columns``, with context around them.

    ``json`` is ``{**meta, key: rows}`` (or, with ``single``, the only row merged into
    ``meta``); ``csv`` and ``markdown`` are the rows alone; ``text`` is ``headline``
    followed by the aligned rows (``empty`` when there are none), unless ``text`` is
    given, which renders the whole report itself.
    """

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    key: str = "rows"
    meta: dict[str, Any] = field(default_factory=dict)
    headline: str | None = None
    empty: str = "nothing to show"
    single: bool = False
    text: Callable[[Painter], str] | None = None


_STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
}

# How a cell is coloured in text output: column -> value -> style.
_CELL_STYLES: dict[str, dict[Any, str]] = {
    "allowed": {True: "green", False: "red"},
    "kind": {"gained": "green", "lost": "red", "changed": "yellow"},
    "severity": {"high": "red", "medium": "yellow", "low": "cyan", "info": "dim"},
}


class Painter:
    """Wraps text in ANSI colours, or leaves it alone when colour is off."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str | None) -> str:
        if not self.enabled or style is None:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def _wants_colour(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _cell(value: Any, *, machine: bool = False) -> str:
    """A value for text, CSV (``machine``) and Markdown cells: instants at midnight UTC
    as dates, booleans as yes/no for people and true/false for machines."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if machine:
            return "true" if value else "false"
        return "yes" if value else "no"
    if isinstance(value, datetime):
        v = value.astimezone(UTC)
        if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.date().isoformat()
        return v.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v, machine=machine) for v in value)
    return str(value)


def render(report: Report, fmt: str, paint: Painter) -> str:
    """The report as ``fmt`` (text, json, csv or markdown), ending with a newline."""
    if fmt == "json":
        if report.single:
            body: dict[str, Any] = {**report.meta, **(report.rows[0] if report.rows else {})}
        else:
            body = {**report.meta, report.key: report.rows}
        return json.dumps(_json_value(body), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt == "markdown":
        return _markdown(report)
    if report.text is not None:
        return report.text(paint)
    return _text(report, paint)


def _csv(report: Report) -> str:
    out = _Lines()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_cell(row.get(c), machine=True) for c in report.columns])
    return "".join(out.parts)


class _Lines:
    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def _markdown(report: Report) -> str:
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(report.columns) + " |",
        "|" + "---|" * len(report.columns),
    ]
    lines += [
        "| " + " | ".join(esc(_cell(row.get(c))) for c in report.columns) + " |"
        for row in report.rows
    ]
    return "\n".join(lines) + "\n"


def _text(report: Report, paint: Painter) -> str:
    lines = [] if report.headline is None else [paint(report.headline, "bold")]
    if not report.rows:
        lines.append(report.empty)
        return "\n".join(lines) + "\n"
    cells = [[_cell(row.get(c)) or "-" for c in report.columns] for row in report.rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(report.columns)]
    last = len(widths) - 1
    lines.append(
        "  ".join(
            paint(c if i == last else c.ljust(widths[i]), "bold")
            for i, c in enumerate(report.columns)
        )
    )
    for row, texts in zip(report.rows, cells, strict=True):
        parts = []
        for i, (column, text) in enumerate(zip(report.columns, texts, strict=True)):
            style = _CELL_STYLES.get(column, {}).get(row.get(column))
            if text == "-":
                style = "dim"
            parts.append(paint(text if i == last else text.ljust(widths[i]), style))
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Input: registries, journals and instants


@dataclass
class Context:
    """What every command shares: output settings and a scratch directory."""

    stdout: TextIO
    paint: Painter
    _scratch: tempfile.TemporaryDirectory[str] | None = None
    _files: int = 0

    def emit(self, report: Report, fmt: str) -> None:
        """Print ``report`` as ``fmt``."""
        self.stdout.write(render(report, fmt, self.paint))

    def scratch(self) -> Path:
        """A private directory removed when the command ends."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="accessgraph-")
        return Path(self._scratch.name)

    def scratch_file(self, suffix: str) -> Path:
        """A fresh path in the scratch directory."""
        self._files += 1
        return self.scratch() / f"{self._files}{suffix}"

    def close(self) -> None:
        """Remove the scratch directory."""
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


_JOURNAL_MAGIC = b'{"accessgraph_journal"'


def _readable_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CliError(f"{path}: no such file")
    if p.is_dir():
        raise CliError(f"{path}: is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise CliError(f"{path}: permission denied")
    return p


def _is_journal(p: Path) -> bool:
    with p.open("rb") as f:
        return f.read(len(_JOURNAL_MAGIC)) == _JOURNAL_MAGIC


def _where(path: str, e: ag.RegistryFormatError) -> str:
    """``file:line:column: message`` (or ``file: $.json.path: message``)."""
    message = str(e)
    if e.line is not None:
        column = e.column if e.column is not None else 1
        prefix = f"line {e.line}, column {column}: "
        message = message.removeprefix(prefix)
        return f"{path}:{e.line}:{column}: {message}"
    return f"{path}: {message}"


def _looks_like_posthog(p: Path) -> bool:
    """A ``.json`` file that is a PostHog members response rather than a snapshot: a
    list, or an object with ``results`` and no ``format``."""
    if p.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return False  # Graph.load reports where it breaks
    if isinstance(data, list):
        return True
    return isinstance(data, dict) and "results" in data and "format" not in data


def _open_journal(
    p: Path, ctx: Context, *, hmac_key: bytes | None = None, snapshot: bool = True
) -> tuple[ag.Graph, ag.JournalError | None]:
    """The graph of the journal ``p``, and, if it ends in a torn record, the error that
    says so (not raised: readers may go on without that record).

    The journal is opened from a private copy so that reading never changes it
    (``Graph.open`` cuts a torn tail off and takes the writers' lock); messages name ``p``,
    not the copy. Damage raises ``JournalError``.
    """
    if hmac_key is not None and not p.with_name(p.name + ".checkpoint").is_file():
        raise ag.JournalError(f"{p}: no checkpoint `{p.name}.checkpoint` beside the journal")
    copy = ctx.scratch_file(".journal")
    shutil.copyfile(p, copy)
    for extra, wanted in ((".snapshot", snapshot), (".checkpoint", hmac_key is not None)):
        beside = p.with_name(p.name + extra)
        if wanted and beside.is_file():
            shutil.copyfile(beside, copy.with_name(copy.name + extra))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ag.JournalRecoveredWarning)
        try:
            graph = ag.Graph.open(copy, durability="os", hmac_key=hmac_key)
        except ag.JournalError as e:
            message = str(e).replace(str(copy), str(p))
            raise ag.JournalError(_mention(str(p), message), e.line) from e
    torn = None
    for w in caught:
        if issubclass(w.category, ag.JournalRecoveredWarning):
            found = re.search(r"line (\d+)", str(w.message))
            line = int(found.group(1)) if found else None
            where = "" if line is None else f" at line {line}"
            torn = ag.JournalError(
                f"{p}: a torn final record{where} (a write interrupted by a crash; "
                "Graph.open cuts it off, keeping every complete record)",
                line,
            )
        else:  # pragma: no cover - no other warning is expected here
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return graph, torn


def _mention(path: str, message: str) -> str:
    """``message``, prefixed with ``path`` unless it names it already."""
    return message if path in message else f"{path}: {message}"


def load_graph(path: str, args: argparse.Namespace, ctx: Context) -> ag.Graph:
    """The graph in ``path``: a Markdown/JSON/CSV registry, a PostHog members export
    (``--posthog`` or detected) or a journal. Raises :class:`CliError` on bad input."""
    p = _readable_file(path)
    org: str | None = getattr(args, "org", None)
    try:
        if _is_journal(p):
            graph, torn = _open_journal(p, ctx)
            if torn is not None:
                sys.stderr.write(f"accessgraph: warning: {torn}; it is left out here\n")
        elif getattr(args, "posthog", False) or _looks_like_posthog(p):
            graph = _load_posthog(p, org, getattr(args, "posthog_project", None) or [])
        else:
            kind = p.suffix.lower()
            takes_org = kind in (".md", ".markdown")
            graph = ag.Graph.load(p, org=org if takes_org else None)
    except ag.RegistryFormatError as e:
        raise CliError(_where(path, e)) from e
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except (ag.ValidationError, ag.JournalError) as e:
        raise CliError(_mention(path, str(e))) from e
    except OSError as e:
        raise CliError(f"{e.filename or path}: {e.strerror or e}") from e
    at = getattr(args, "at", None)
    if at is not None:
        graph.set_time(at)
    return graph


def _load_posthog(p: Path, org: str | None, projects: Sequence[str]) -> ag.Graph:
    if org is None:
        raise CliError(f"{p}: a PostHog members export needs its org slug: pass --org SLUG")
    pages: dict[str, str] = {}
    files: dict[str, str] = {}
    for spec in projects:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise CliError(f"--posthog-project `{spec}`: expected NAME=FILE")
        pages[name] = _readable_file(file).read_text(encoding="utf-8")
        files[name] = file
    try:
        return ag.Graph.from_posthog(p.read_text(encoding="utf-8"), org=org, projects=pages)
    except ag.RegistryFormatError as e:
        # A project page's errors are placed under `$["<name>"]`: name its file instead.
        where = str(p)
        for name, file in files.items():
            if (e.path or "").startswith(f"$[{json.dumps(name)}]"):
                where = file
        raise CliError(f"{where}: {e}") from e


def _instant(text: str) -> datetime:
    """``--at``, parsed the way the core parses instants (dates are 00:00 UTC)."""
    probe = ag.Graph()
    try:
        probe.set_time(text)
    except ag.ValidationError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return probe.now()


# --------------------------------------------------------------------------------------
# Commands


def _cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    graph = load_graph(args.registry, args, ctx)
    d = graph.explain(args.user, args.action, args.target, at=args.at)
    row = {
        "allowed": d.allowed,
        "user": d.user,
        "action": d.action,
        "target": d.target,
        "role": d.role,
        "source": d.source,
        "reason": d.reason,
    }

    def text(paint: Painter) -> str:
        word = paint("allowed", "green") if d.allowed else paint("denied", "red")
        return f"{word}: {d.reason}\n"

    report = Report(
        columns=tuple(row),
        rows=[row],
        meta={"at": args.at},
        single=True,
        text=text,
    )
    ctx.emit(report, args.format)
    return EXIT_OK if d.allowed else EXIT_FOUND


def _cmd_who_can(args: argparse.Namespace, ctx: Context) -> int:
    graph = load_graph(args.registry, args, ctx)
    users = graph.who_can(args.action, args.target, at=args.at)
    rows = []
    for user in users:
        d = graph.explain(user, args.action, args.target, at=args.at)
        rows.append({"user": user, "role": d.role, "source": d.source})
    n = len(rows)
    empty = "(nobody)"
    if not rows and not _is_known(graph, args.target):
        empty = f"(nobody: {args.target} is not a known org, project or resource)"
    report = Report(
        columns=("user", "role", "source"),
        rows=rows,
        key="users",
        meta={"action": args.action, "target": args.target, "at": args.at},
        headline=f"{n} user{'' if n == 1 else 's'} may {args.action} on {args.target}",
        empty=empty,
    )
    ctx.emit(report, args.format)
    return EXIT_OK


def _is_known(graph: ag.Graph, target: str) -> bool:
    if target.count("/") == 0:
        return any(o.slug == target for o in graph.orgs())
    if target.count("/") == 1:
        return any(p.id == target for p in graph.projects())
    return any(r.id == target for r in graph.resources())


def _cmd_convert(args: argparse.Namespace, ctx: Context) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".md", ".markdown", ".json", ".csv"):
        raise CliError(
            f"{out}: cannot tell the format from `{out.suffix}` (use .md, .json or .csv)"
        )
    graph = load_graph(args.input, args, ctx)
    org = args.org
    if out.suffix.lower() in (".md", ".markdown") and org is None:
        slugs = [o.slug for o in graph.orgs()]
        if len(slugs) != 1:
            raise CliError(
                f"{args.input} holds {len(slugs)} orgs; a Markdown registry holds one: "
                "pass --org SLUG"
            )
    try:
        graph.save(out, org=org if out.suffix.lower() in (".md", ".markdown") else None)
    except (ag.ValidationError, ag.NotFoundError) as e:
        raise CliError(f"{out}: {e}") from e
    except OSError as e:
        raise CliError(f"{out}: {e.strerror or e}") from e
    orgs, projects, users = len(graph.orgs()), len(graph.projects()), len(graph.users())
    ctx.stdout.write(
        f"wrote {out}: {orgs} org{'s' * (orgs != 1)}, {projects} project"
        f"{'s' * (projects != 1)}, {users} user{'s' * (users != 1)}\n"
    )
    return EXIT_OK


_DIFF_KINDS = ("gained", "lost", "changed")


def _cmd_diff(args: argparse.Namespace, ctx: Context) -> int:
    old = load_graph(args.old, args, ctx)
    new = load_graph(args.new, args, ctx)
    changes = old.diff(new)
    rows = [c._asdict() for c in changes]
    counts = {k: sum(1 for c in changes if c.kind == k) for k in _DIFF_KINDS}
    n = len(rows)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    report = Report(
        columns=("user", "project", "before", "after", "kind"),
        rows=rows,
        key="changes",
        meta={"old": args.old, "new": args.new, "at": args.at, "summary": counts},
        headline=f"{n} change{'' if n == 1 else 's'}: {summary}" if n else None,
        empty="no differences",
    )
    ctx.emit(report, args.format)
    return EXIT_FOUND if changes else EXIT_OK


_SEVERITIES = ("high", "medium", "low", "info")


def _threshold(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip().replace("-", "_"), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid threshold {text!r} (expected NAME=NUMBER, e.g. max_owners=2)"
        ) from None


def _cmd_review(args: argparse.Namespace, ctx: Context) -> int:
    graph = load_graph(args.registry, args, ctx)
    review = graph.review(**dict(args.threshold or ()))
    if args.min_severity:
        review = review.filter(severity=args.min_severity)
    rows = [
        {
            "severity": f.severity,
            "rule": f.rule,
            "org": f.org,
            "user": f.user,
            "target": f.target,
            "message": f.message,
            "remediation": f.remediation,
        }
        for f in review
    ]
    counts = {s: sum(1 for f in review if f.severity == s) for s in _SEVERITIES}
    n = len(rows)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    report = Report(
        columns=("severity", "rule", "org", "user", "target", "message", "remediation"),
        rows=rows,
        key="findings",
        meta={"registry": args.registry, "at": args.at, "summary": counts},
        headline=f"{n} finding{'' if n == 1 else 's'}: {summary}" if n else None,
        empty="no findings",
    )
    ctx.emit(report, args.format)
    if args.fail_on is None:
        return EXIT_OK
    failing = review.filter(severity=args.fail_on)
    return EXIT_FOUND if len(failing) else EXIT_OK


def _open_audit(path: str, args: argparse.Namespace, ctx: Context) -> ag.AuditLog:
    """The audit log of a journal (replayed and verified from a private copy; a torn
    final record counts as damage) or of a JSON Lines export. Damage raises the
    library's ``JournalError`` / ``AuditIntegrityError``; a file that is neither raises
    ``CliError``."""
    p = _readable_file(path)
    try:
        if not _is_journal(p):
            with p.open(encoding="utf-8") as f:
                first = next((line for line in f if line.strip()), "")
            if not first.lstrip().startswith("{"):
                raise CliError(f"{path}: neither a journal nor a JSON Lines audit export")
            return ag.AuditLog.load(p)
        key = None
        if args.hmac_key_file is not None:
            key = _readable_file(args.hmac_key_file).read_bytes()
        graph, torn = _open_journal(p, ctx, hmac_key=key, snapshot=False)
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    if torn is not None:
        raise torn
    return graph.audit


def _cmd_audit_verify(args: argparse.Namespace, ctx: Context) -> int:
    error: dict[str, Any] | None = None
    events = 0
    last: ag.Event | None = None
    kind = "journal" if _is_journal(_readable_file(args.journal)) else "export"
    try:
        log = _open_audit(args.journal, args, ctx)
        log.verify()
        events = len(log)
        last = log.events()[-1] if events else None
    except ag.JournalError as e:
        error = {"error": _mention(args.journal, str(e)), "line": e.line}
    except ag.AuditIntegrityError as e:
        error = {"error": _mention(args.journal, str(e)), "seq": e.seq}
    row: dict[str, Any] = {
        "ok": error is None,
        "file": args.journal,
        "kind": kind,
        "events": None if error else events,
        "first_seq": None if last is None else last.seq - events + 1,
        "last_seq": None if last is None else last.seq,
        "last_hash": None if last is None else last.hash,
        "error": None,
        "line": None,
        "seq": None,
        **(error or {}),
    }

    def text(paint: Painter) -> str:
        if error is not None:
            return f"{paint('damaged', 'red')}: {error['error']}\n"
        span = "" if last is None else f" (seq {row['first_seq']}..{row['last_seq']})"
        return (
            f"{paint('intact', 'green')}: {args.journal}: {events} event"
            f"{'s' * (events != 1)}{span}, hash chain verified\n"
        )

    ctx.emit(Report(columns=tuple(row), rows=[row], single=True, text=text), args.format)
    return EXIT_OK if error is None else EXIT_FOUND


def _cmd_audit_export(args: argparse.Namespace, ctx: Context) -> int:
    try:
        log = _open_audit(args.journal, args, ctx)
    except (ag.JournalError, ag.AuditIntegrityError) as e:
        raise CliError(_mention(args.journal, str(e))) from e
    target = Path(args.output) if args.output else ctx.scratch_file(f".{args.format}")
    try:
        if args.format == "csv":
            log.to_csv(target)
        else:
            log.to_jsonl(target)
    except OSError as e:
        raise CliError(f"{target}: {e.strerror or e}") from e
    if not args.output:
        ctx.stdout.write(target.read_text(encoding="utf-8"))
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Arguments


def _add_registry(p: argparse.ArgumentParser, name: str = "registry", *, helps: str) -> None:
    p.add_argument(name, help=helps)


def _add_input_options(p: argparse.ArgumentParser) -> None:
    """Options on how registries are read, shared by every command that reads one."""
    p.add_argument(
        "--org",
        metavar="SLUG",
        help="org slug of a Markdown registry (default: its slugified title) or of a "
        "PostHog export (required there)",
    )
    p.add_argument(
        "--posthog",
        action="store_true",
        help="read the registry as a PostHog members export (detected for .json files "
        "that are a list or a page with `results`)",
    )
    p.add_argument(
        "--posthog-project",
        action="append",
        metavar="NAME=FILE",
        help="a project's PostHog explicit_members export (repeatable)",
    )


def _add_at(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--at",
        type=_instant,
        metavar="WHEN",
        help="judge access at this instant (ISO date or datetime; default: now)",
    )


def _add_format(p: argparse.ArgumentParser, choices: Sequence[str] = FORMATS) -> None:
    p.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"output format (default: {choices[0]})",
    )
    if "text" in choices:
        p.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            default="auto",
            help="colour text output (default auto: on a terminal, unless NO_COLOR is set)",
        )


_REGISTRY_HELP = "a registry: .md, .json, .csv, a PostHog members export, or a journal"


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check",
        help="may USER do ACTION on TARGET? (exit 0 allowed, 1 denied)",
        description="Print the decision and why; exit 0 when allowed, 1 when denied.",
    )
    _add_registry(p, helps=_REGISTRY_HELP)
    p.add_argument("user", help="an email")
    p.add_argument("action", help="an action such as insight:create")
    p.add_argument("target", help="an org, project (org/slug) or resource")
    _add_at(p)
    _add_format(p)
    _add_input_options(p)
    p.set_defaults(func=_cmd_check)


def _add_who_can(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "who-can",
        help="who may do ACTION on TARGET, with their role and its source",
        description="List the users allowed ACTION on TARGET (exit 0).",
    )
    _add_registry(p, helps=_REGISTRY_HELP)
    p.add_argument("action")
    p.add_argument("target")
    _add_at(p)
    _add_format(p)
    _add_input_options(p)
    p.set_defaults(func=_cmd_who_can)


def _add_convert(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert",
        help="convert between .md, .json and .csv (formats from the extensions)",
        description="Read INPUT and write OUTPUT; formats come from the extensions. "
        "A PostHog export or a journal may be the input.",
    )
    p.add_argument("input", help=_REGISTRY_HELP)
    p.add_argument("output", help="the file to write: .md, .json or .csv")
    p.add_argument(
        "--at",
        type=_instant,
        metavar="WHEN",
        help="the instant a .csv output is judged at (default: now)",
    )
    _add_input_options(p)
    p.set_defaults(func=_cmd_convert)


def _add_diff(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "diff",
        help="who gains, loses or changes which role from OLD to NEW (exit 1 if any)",
        description="Compare effective project roles; exit 0 when equal, 1 when not.",
    )
    p.add_argument("old", help=_REGISTRY_HELP)
    p.add_argument("new", help=_REGISTRY_HELP)
    _add_at(p)
    _add_format(p)
    _add_input_options(p)
    p.set_defaults(func=_cmd_diff)


def _add_review(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "review",
        help="review access against best practice (exit 1 with --fail-on when findings)",
        description="Run every review rule (SPEC 4.1) over the registry. Exit 0, or 1 when "
        "--fail-on is given and a finding of that severity or worse exists (for CI).",
    )
    p.add_argument("registry", help=_REGISTRY_HELP)
    _add_at(p)
    _add_format(p)
    p.add_argument(
        "--fail-on",
        choices=_SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when a finding of this severity or worse exists (high, medium, low, info)",
    )
    p.add_argument(
        "--min-severity",
        choices=_SEVERITIES,
        metavar="SEVERITY",
        help="show only findings of this severity or worse",
    )
    p.add_argument(
        "--threshold",
        type=_threshold,
        action="append",
        metavar="NAME=NUMBER",
        help="a rule threshold, e.g. max_owners=2, review_days=180 (repeatable)",
    )
    _add_input_options(p)
    p.set_defaults(func=_cmd_review)


def _add_hmac(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hmac-key-file",
        metavar="FILE",
        help="the journal's HMAC key (the file's raw bytes): also check its signed checkpoint",
    )


def _add_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser(
        "audit",
        help="verify or export an audit journal",
        description="Work on a journal (Graph.open) or a JSON Lines audit export; the file "
        "is never changed.",
    )
    actions = audit.add_subparsers(dest="audit_command", metavar="{verify,export}")
    actions.required = True
    v = actions.add_parser(
        "verify",
        help="recompute the hash chain (exit 0 intact, 1 damaged)",
        description="Replay and verify a journal, or verify an export; exit 0 when intact, "
        "1 when damaged, 2 when unreadable. A torn final line counts as damage.",
    )
    v.add_argument("journal", help="a journal or a JSON Lines audit export")
    _add_hmac(v)
    _add_format(v, ("text", "json"))
    v.set_defaults(func=_cmd_audit_verify)

    e = actions.add_parser(
        "export",
        help="write the events as JSON Lines or CSV",
        description="Verify, then write every event (to stdout unless --output).",
    )
    e.add_argument("journal", help="a journal or a JSON Lines audit export")
    _add_format(e, ("jsonl", "csv"))
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    _add_hmac(e)
    e.set_defaults(func=_cmd_audit_export)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="accessgraph",
        description="Check, list, convert, compare and audit access registries.",
        epilog="exit codes: 0 allowed / no findings at --fail-on / no differences / intact; "
        "1 denied / findings / differences / damaged; 2 usage or input error",
    )
    parser.add_argument("--version", action="version", version=f"accessgraph {ag.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_review, _add_check, _add_who_can, _add_convert, _add_diff, _add_audit):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stdout = sys.stdout
    colour = _wants_colour(getattr(args, "color", "never"), stdout)
    ctx = Context(stdout=stdout, paint=Painter(colour))
    func: Callable[[argparse.Namespace, Context], int] = args.func
    try:
        return func(args, ctx)
    except CliError as e:
        return _fail(str(e))
    except ag.AccessGraphError as e:
        # An unknown action, a malformed target ...: the input is wrong.
        return _fail(str(e))
    except BrokenPipeError:
        # `accessgraph ... | head`: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    finally:
        ctx.close()


def _fail(message: str) -> int:
    sys.stderr.write(f"accessgraph: error: {message}\n")
    return EXIT_USAGE
