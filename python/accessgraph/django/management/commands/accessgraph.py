"""``manage.py accessgraph COMMAND ...``: the ``accessgraph`` command line on the graph
of ``settings.ACCESSGRAPH``.

Each command is the CLI's, with the registry (or journal) argument left out: the
configured graph takes its place.

    manage.py accessgraph review [--fail-on high] [--format json]
    manage.py accessgraph check USER ACTION TARGET
    manage.py accessgraph who-can ACTION TARGET
    manage.py accessgraph convert OUTPUT            # e.g. access.md, snapshot.json
    manage.py accessgraph diff OTHER                # the configured graph is before
    manage.py accessgraph audit verify [--hmac-key-file FILE]
    manage.py accessgraph audit export [--format csv] [-o FILE]

The exit codes are the CLI's: 0 allowed / no findings at ``--fail-on`` / no differences
/ intact; 1 denied / findings / differences / damaged; 2 usage or input error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

import accessgraph as ag
from accessgraph.django.conf import get_graph

_TAKES_GRAPH = ("review", "check", "who-can", "convert", "diff")


class Command(BaseCommand):
    """Runs ``accessgraph.cli.main`` with the configured graph as its input."""

    help = (
        "The accessgraph command line on the configured graph: review, check USER ACTION "
        "TARGET, who-can ACTION TARGET, convert OUTPUT, diff OTHER, audit verify, audit "
        "export. Options are the CLI's (`manage.py accessgraph review --help`). Exit codes: "
        "0 allowed / no findings / no differences / intact, 1 denied / findings / "
        "differences / damaged, 2 usage or input error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """A command and whatever follows it, handed to the CLI as they are."""
        parser.add_argument(
            "command",
            metavar="COMMAND",
            help="review, check, who-can, convert, diff or audit",
        )
        parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")

    def handle(self, *args: str, **options: Any) -> None:
        """Run the command; exit with the CLI's code when it is not 0."""
        from accessgraph.cli import main

        command: str = options["command"]
        rest = list(args)
        with tempfile.TemporaryDirectory(prefix="accessgraph-manage-") as scratch:
            argv = self._argv(command, rest, Path(scratch))
            out = getattr(self.stdout, "_out", sys.stdout)
            err = getattr(self.stderr, "_out", sys.stderr)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        if code:
            sys.exit(code)

    def _argv(self, command: str, rest: list[str], scratch: Path) -> list[str]:
        if command in _TAKES_GRAPH:
            return [command, self._graph_file(scratch), *rest]
        if command == "audit" and rest and rest[0] in ("verify", "export"):
            return ["audit", rest[0], self._audit_file(scratch), *rest[1:]]
        return [command, *rest]  # the CLI says what is wrong (exit 2)

    @staticmethod
    def _graph_file(scratch: Path) -> str:
        """The configured graph as a file the CLI reads: its journal, else a snapshot."""
        graph = get_graph()
        if graph.journal_path is not None:
            return graph.journal_path
        snapshot = scratch / "graph.json"
        graph.save(snapshot)
        return str(snapshot)

    @staticmethod
    def _audit_file(scratch: Path) -> str:
        """The configured graph's audit log as a file: its journal, else an export."""
        graph = get_graph()
        if graph.journal_path is not None:
            return graph.journal_path
        export = scratch / "audit.jsonl"
        try:
            graph.audit.to_jsonl(export)
        except ag.ConflictError as exc:  # a graph kept with audit=False
            raise CommandError(str(exc), returncode=2) from exc
        return str(export)
