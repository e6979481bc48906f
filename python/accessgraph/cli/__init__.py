"""The ``accessgraph`` command line (also ``python -m accessgraph``).

Every command reads registries (Markdown, JSON, CSV, a PostHog members export or a
journal) through the public API and prints either for people (aligned text, coloured on
a terminal) or for machines (``--format json|csv|markdown``). Exit codes (SPEC 9):
0 allowed / no differences / intact; 1 denied / differences / damaged; 2 usage or input
error, with a one-line message on stderr (a registry that does not parse names its file,
line and column) and never a traceback.

A folder by concern, read top-down: :mod:`~accessgraph.cli.arguments` declares the
commands and their options; :mod:`~accessgraph.cli.commands` holds one function
``(args, ctx) -> exit code`` per command, which builds a
:class:`~accessgraph.cli.render.Report` and hands it to ``ctx.emit``;
:mod:`~accessgraph.cli.load` reads the inputs (``Graph.load`` tells the formats apart)
and words their errors; :mod:`~accessgraph.cli.render` prints a report in the four
formats; :mod:`~accessgraph.cli.context` holds the exit codes and what commands share.
:func:`main`, here, runs one command and turns errors into exit codes; it is the only
public name.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from typing import TextIO

import accessgraph as ag
from accessgraph._log import scrub
from accessgraph.cli import progress
from accessgraph.cli.arguments import build_parser
from accessgraph.cli.commands import Command
from accessgraph.cli.context import EXIT_OK, EXIT_USAGE, CliError, Context
from accessgraph.cli.render import Painter, wants_colour

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stdout = sys.stdout
    colour = wants_colour(getattr(args, "color", "never"), stdout)
    ctx = Context(
        stdout=stdout,
        paint=Painter(colour),
        width=table_width(stdout),
        show_progress=progress.wanted(sys.stderr),
    )
    func: Command = args.func
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


def table_width(stream: TextIO) -> int | None:
    """The width text tables fit: the terminal's (``COLUMNS`` when set); ``None`` when
    output goes to a file or a program and ``COLUMNS`` is not set (rows stay whole)."""
    isatty = getattr(stream, "isatty", None)
    if os.environ.get("COLUMNS") or (isatty and isatty()):
        return max(shutil.get_terminal_size().columns, 20)
    return None


def _fail(message: str) -> int:
    # Whatever the message quotes, a URL's password is not printed (docs/postgres.md).
    sys.stderr.write(f"accessgraph: error: {scrub(message)}\n")
    return EXIT_USAGE
