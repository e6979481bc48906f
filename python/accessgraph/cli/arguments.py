"""The command line's arguments: one ``_add_<command>`` function per command declaring
its arguments, and the options the commands share (reading registries, ``--at``,
``--format``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import accessgraph as ag
from accessgraph._review import SEVERITIES
from accessgraph.cli import commands
from accessgraph.cli.render import FORMATS

if TYPE_CHECKING:
    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["build_parser"]


def _instant(text: str) -> datetime:
    """``--at``, parsed the way the core parses instants (dates are 00:00 UTC)."""
    probe = ag.Graph()
    try:
        probe.set_time(text)
    except ag.ValidationError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return probe.now()


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


def _command(
    sub: _Commands, name: str, func: commands.Command, *, help: str, description: str
) -> argparse.ArgumentParser:
    """A (sub)command ``name`` run by ``func``."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(func=func)
    return p


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


def _add_check(sub: _Commands) -> None:
    p = _command(
        sub,
        "check",
        commands.check,
        help="may USER do ACTION on TARGET? (exit 0 allowed, 1 denied)",
        description="Print the decision and why (for a denial, the smallest change that "
        "would allow it and who may make it); exit 0 when allowed, 1 when denied.",
    )
    p.add_argument("registry", help=_REGISTRY_HELP)
    p.add_argument("user", help="an email")
    p.add_argument("action", help="an action such as insight:create")
    p.add_argument("target", help="an org, project (org/slug) or resource")
    p.add_argument(
        "--explain",
        action="store_true",
        help="when denied, list every fix (the smallest changes that would allow it, least "
        "privilege first) and who may make each; the reason names the first one anyway",
    )
    _add_at(p)
    _add_format(p)
    _add_input_options(p)


def _add_who_can(sub: _Commands) -> None:
    p = _command(
        sub,
        "who-can",
        commands.who_can,
        help="who may do ACTION on TARGET, with their role and its source",
        description="List the users allowed ACTION on TARGET (exit 0).",
    )
    p.add_argument("registry", help=_REGISTRY_HELP)
    p.add_argument("action")
    p.add_argument("target")
    _add_at(p)
    _add_format(p)
    _add_input_options(p)


def _add_convert(sub: _Commands) -> None:
    p = _command(
        sub,
        "convert",
        commands.convert,
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


_GIT_HELP = (
    " — or REV:PATH, read from git (`git show REV:PATH`: PATH from the repository's root, "
    "or ./PATH from the current directory)"
)


def _add_diff(sub: _Commands) -> None:
    p = _command(
        sub,
        "diff",
        commands.diff,
        help="who gains, loses or changes which role from OLD to NEW (exit 1 if any)",
        description="Compare effective project roles. Exit 0 when equal, 1 when not "
        "(--fail-on widen: only when some access widens), 2 on bad input. "
        "--format github prints a Markdown summary for a pull request comment.",
    )
    p.add_argument("old", help=_REGISTRY_HELP + _GIT_HELP)
    p.add_argument("new", help=_REGISTRY_HELP + _GIT_HELP)
    _add_at(p)
    _add_format(p, (*FORMATS, "github"))
    p.add_argument(
        "--fail-on",
        choices=("any", "widen"),
        default="any",
        help="exit 1 on any difference (any, the default), or only when access widens: "
        "someone gains access or a higher role (widen); a narrowing alone exits 0",
    )
    _add_input_options(p)


def _add_review(sub: _Commands) -> None:
    p = _command(
        sub,
        "review",
        commands.review,
        help="review access against best practice (exit 1 with --fail-on when findings)",
        description="Run every review rule (SPEC 4.1) over the registry. Exit 0, or 1 when "
        "--fail-on is given and a finding of that severity or worse exists (for CI).",
    )
    p.add_argument("registry", help=_REGISTRY_HELP)
    _add_at(p)
    _add_format(p)
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when a finding of this severity or worse exists (high, medium, low, info)",
    )
    p.add_argument(
        "--min-severity",
        choices=SEVERITIES,
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
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write the report as one self-contained HTML file (summary, findings, "
        "heat map of who reaches what, expiring access; opens offline, prints well)",
    )
    _add_input_options(p)


def _add_hmac(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hmac-key-file",
        metavar="FILE",
        help="the journal's HMAC key (the file's raw bytes): also check its signed checkpoint "
        "and batch MACs, or an export's signed trailer",
    )


def _add_audit(sub: _Commands) -> None:
    audit = sub.add_parser(
        "audit",
        help="verify, export or upgrade an audit journal",
        description="Work on a journal (Graph.open) or a JSON Lines audit export; the file "
        "is never changed.",
    )
    actions = audit.add_subparsers(dest="audit_command", metavar="{verify,export,upgrade}")
    actions.required = True
    v = _command(
        actions,
        "verify",
        commands.audit_verify,
        help="recompute the hash chain (exit 0 intact, 1 damaged)",
        description="Replay and verify a journal, or verify an export; exit 0 when intact, "
        "1 when damaged, 2 when unreadable. A torn final line counts as damage.",
    )
    v.add_argument("journal", help="a journal or a JSON Lines audit export")
    _add_hmac(v)
    _add_format(v, ("text", "json"))

    e = _command(
        actions,
        "export",
        commands.audit_export,
        help="write the events as JSON Lines or CSV",
        description="Verify, then write every event (to stdout unless --output).",
    )
    e.add_argument("journal", help="a journal or a JSON Lines audit export")
    _add_format(e, ("jsonl", "csv"))
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    _add_hmac(e)

    u = _command(
        actions,
        "upgrade",
        commands.audit_upgrade,
        help="write a format-1 journal again as a new format-2 journal",
        description="Verify a format-1 journal (accessgraph before journal format 2) with "
        "format 1's rules and replay its events into a new format-2 journal NEW, which must "
        "not exist; OLD is only read (docs/journal-format.md, Upgrading). Exit 0 when "
        "written, 2 when OLD is damaged or not format 1, or NEW exists.",
    )
    u.add_argument("old", help="the format-1 journal")
    u.add_argument("new", help="the format-2 journal to create")
    u.add_argument(
        "--hmac-key-file",
        metavar="FILE",
        help="the journal's HMAC key (the file's raw bytes): check OLD's signed checkpoint "
        "with it, and sign NEW's batches and checkpoint with it",
    )
    _add_format(u, ("text", "json"))


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
