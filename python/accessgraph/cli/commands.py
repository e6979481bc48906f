"""The commands: each a function ``(args, ctx) -> exit code`` that reads its inputs
(:mod:`~accessgraph.cli.load`), builds a :class:`~accessgraph.cli.render.Report` and
hands it to ``ctx.emit``."""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import accessgraph as ag
from accessgraph._diff import KINDS
from accessgraph._formats import savable
from accessgraph._progress import Steps
from accessgraph.cli.context import EXIT_FOUND, EXIT_OK, CliError, Context
from accessgraph.cli.github import github_comment, widening
from accessgraph.cli.load import (
    is_journal,
    load_graph,
    load_side,
    mention,
    open_audit,
    read_key,
    readable_file,
)
from accessgraph.cli.render import Painter, Report

__all__ = [
    "Command",
    "audit_export",
    "audit_upgrade",
    "audit_verify",
    "check",
    "convert",
    "diff",
    "review",
    "who_can",
]

Command = Callable[[argparse.Namespace, Context], int]
"""A command: its parsed arguments and the context in, the exit code out."""


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in counts.items() if v)


def check(args: argparse.Namespace, ctx: Context) -> int:
    """``check``: exit 0 when allowed, 1 when denied."""
    graph = load_graph(args.registry, args, ctx)
    d = graph.explain(args.user, args.action, args.target, at=args.at)
    row: dict[str, Any] = {
        "allowed": d.allowed,
        "user": d.user,
        "action": d.action,
        "target": d.target,
        "role": d.role,
        "source": d.source,
        "reason": d.reason,
    }
    fixes: list[dict[str, Any]] = [
        {
            "kind": f.kind,
            "target": f.target,
            "role": f.role,
            "expires": f.expires,
            "requires": [
                {"kind": r.kind, "target": r.target, "role": r.role, "by": list(r.by)}
                for r in f.requires
            ],
            "by": list(f.by),
            "reason": f.reason,
        }
        for f in d.fixes
    ]
    if args.explain:
        # JSON keeps the structure; a table cell holds one fix per line.
        reasons = "\n".join(str(f["reason"]) for f in fixes)
        row["fixes"] = fixes if args.format == "json" else reasons

    def text(paint: Painter) -> str:
        word = paint("allowed", "green") if d.allowed else paint("denied", "red")
        out = f"{word}: {d.reason}\n"
        if args.explain and fixes:
            out += "how to allow it, least privilege first:\n"
            out += "".join(f"  {i}. {f.reason}\n" for i, f in enumerate(d.fixes, 1))
        return out

    report = Report(
        columns=tuple(row),
        rows=[row],
        meta={"at": args.at},
        single=True,
        text=text,
    )
    ctx.emit(report, args.format)
    return EXIT_OK if d.allowed else EXIT_FOUND


def who_can(args: argparse.Namespace, ctx: Context) -> int:
    """``who-can``: exit 0."""
    graph = load_graph(args.registry, args, ctx)
    users = graph.who_can(args.action, args.target, at=args.at)
    rows = []
    with ctx.progress(f"explaining {len(users)} users") as progress:
        steps = Steps(progress, len(users))
        for user in users:
            d = graph.explain(user, args.action, args.target, at=args.at)
            rows.append({"user": user, "role": d.role, "source": d.source})
            steps.advance()
        steps.finish()
    empty = "(nobody)"
    if not rows and not _is_known(graph, args.target):
        empty = f"(nobody: {args.target} is not a known org, project or resource)"
    report = Report(
        columns=("user", "role", "source"),
        rows=rows,
        key="users",
        meta={"action": args.action, "target": args.target, "at": args.at},
        headline=f"{_counted(len(rows), 'user')} may {args.action} on {args.target}",
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


def convert(args: argparse.Namespace, ctx: Context) -> int:
    """``convert``: exit 0."""
    out = Path(args.output)
    try:
        markdown = savable(out, None) == "markdown"
    except ag.ValidationError:
        raise CliError(
            f"{out}: cannot tell the format from `{out.suffix}` (use .md, .json or .csv)"
        ) from None
    graph = load_graph(args.input, args, ctx)
    org = args.org
    if markdown and org is None:
        slugs = [o.slug for o in graph.orgs()]
        if len(slugs) != 1:
            raise CliError(
                f"{args.input} holds {len(slugs)} orgs; a Markdown registry holds one: "
                "pass --org SLUG"
            )
    try:
        graph.save(out, org=org if markdown else None)
    except (ag.ValidationError, ag.NotFoundError) as e:
        raise CliError(f"{out}: {e}") from e
    except OSError as e:
        raise CliError(f"{out}: {e.strerror or e}") from e
    orgs, projects, users = len(graph.orgs()), len(graph.projects()), len(graph.users())
    ctx.stdout.write(
        f"wrote {out}: {_counted(orgs, 'org')}, {_counted(projects, 'project')}, "
        f"{_counted(users, 'user')}\n"
    )
    return EXIT_OK


def diff(args: argparse.Namespace, ctx: Context) -> int:
    """``diff``: exit 0 when there is no difference, 1 when there is (with ``--fail-on
    widen``: only when some access widens)."""
    old = load_side(args.old, args, ctx)
    new = load_side(args.new, args, ctx)
    changes = old.diff(new)
    widens = any(widening(c) for c in changes)
    failed = widens if args.fail_on == "widen" else bool(changes)
    if args.format == "github":
        ctx.stdout.write(github_comment(changes, old=args.old, new=args.new))
        return EXIT_FOUND if failed else EXIT_OK
    rows = [c._asdict() for c in changes]
    counts = {k: sum(1 for c in changes if c.kind == k) for k in KINDS}
    report = Report(
        columns=("user", "project", "before", "after", "kind"),
        rows=rows,
        key="changes",
        meta={"old": args.old, "new": args.new, "at": args.at, "summary": counts},
        headline=f"{_counted(len(rows), 'change')}: {_summary(counts)}" if rows else None,
        empty="no differences",
    )
    ctx.emit(report, args.format)
    return EXIT_FOUND if failed else EXIT_OK


def review(args: argparse.Namespace, ctx: Context) -> int:
    """``review``: exit 0, or 1 with ``--fail-on`` when such a finding exists."""
    graph = load_graph(args.registry, args, ctx)
    with ctx.progress("reviewing") as progress:
        found = graph.review(progress=progress, **dict(args.threshold or ()))
    if args.min_severity:
        found = found.filter(severity=args.min_severity)
    columns = ("severity", "rule", "org", "user", "target", "message", "remediation")
    rows = [{c: getattr(f, c) for c in columns} for f in found]
    counts = found.counts
    report = Report(
        columns=columns,
        rows=rows,
        key="findings",
        meta={"registry": args.registry, "at": args.at, "summary": counts},
        headline=f"{_counted(len(rows), 'finding')}: {_summary(counts)}" if rows else None,
        empty="no findings",
    )
    ctx.emit(report, args.format)
    if args.html:
        try:
            with ctx.progress(f"writing {args.html}") as progress:
                found.to_html(args.html, progress=progress)
        except OSError as e:
            raise CliError(f"{args.html}: {e.strerror or e}") from e
    if args.fail_on is None:
        return EXIT_OK
    failing = found.filter(severity=args.fail_on)
    return EXIT_FOUND if len(failing) else EXIT_OK


def audit_verify(args: argparse.Namespace, ctx: Context) -> int:
    """``audit verify``: exit 0 when intact, 1 when damaged."""
    error: dict[str, Any] | None = None
    events = 0
    last: ag.Event | None = None
    kind = "journal" if is_journal(readable_file(args.journal)) else "export"
    try:
        log = open_audit(args.journal, args, ctx)
        with ctx.progress("verifying the hash chain") as progress:
            log.verify(progress=progress)
        events = len(log)
        last = log.events()[-1] if events else None
    except ag.JournalError as e:
        error = {"error": mention(args.journal, str(e)), "line": e.line}
    except ag.AuditIntegrityError as e:
        error = {"error": mention(args.journal, str(e)), "seq": e.seq}
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
            f"{paint('intact', 'green')}: {args.journal}: {_counted(events, 'event')}{span}, "
            "hash chain verified\n"
        )

    ctx.emit(Report(columns=tuple(row), rows=[row], single=True, text=text), args.format)
    return EXIT_OK if error is None else EXIT_FOUND


def audit_export(args: argparse.Namespace, ctx: Context) -> int:
    """``audit export``: exit 0; a damaged journal is an input error."""
    try:
        log = open_audit(args.journal, args, ctx)
    except (ag.JournalError, ag.AuditIntegrityError) as e:
        raise CliError(mention(args.journal, str(e))) from e
    target = Path(args.output) if args.output else ctx.scratch_file(f".{args.format}")
    try:
        with ctx.progress(f"writing {target.name}") as progress:
            if args.format == "csv":
                log.to_csv(target, progress=progress)
            else:
                log.to_jsonl(target, progress=progress)
    except OSError as e:
        raise CliError(f"{target}: {e.strerror or e}") from e
    if not args.output:
        ctx.stdout.write(target.read_text(encoding="utf-8"))
    return EXIT_OK


def audit_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    """``audit upgrade``: exit 0 once NEW is written; damage is an input error."""
    old = readable_file(args.old)
    key = None
    if args.hmac_key_file is not None:
        key = read_key(args.hmac_key_file)
    if os.path.lexists(args.new):
        raise CliError(f"{args.new}: already exists; the upgrade never replaces a file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ag.JournalRecoveredWarning)
            done = ag.upgrade_journal(old, args.new, hmac_key=key)
    except ag.JournalError as e:
        raise CliError(mention(args.old, str(e))) from e
    torn = [str(w.message) for w in caught if issubclass(w.category, ag.JournalRecoveredWarning)]
    row: dict[str, Any] = {
        "old": args.old,
        "new": args.new,
        **done,
        "torn": torn[0] if torn else None,
    }

    def text(paint: Painter) -> str:
        note = f"{paint('warning', 'yellow')}: {row['torn']}\n" if row["torn"] else ""
        return (
            f"{note}{paint('upgraded', 'green')}: {args.old} -> {args.new}: "
            f"{_counted(done['events'], 'event')} in journal format 2, last hash "
            f"{done['last_hash']} (upgraded from {done['upgraded_from']})\n"
        )

    ctx.emit(Report(columns=tuple(row), rows=[row], single=True, text=text), args.format)
    return EXIT_OK
