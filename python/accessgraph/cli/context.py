"""What every command shares: the exit codes, the input error, and the :class:`Context`
(output settings and a scratch directory)."""

from __future__ import annotations

import sys
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from accessgraph._progress import Progress
from accessgraph.cli import progress
from accessgraph.cli.render import Painter, Report, render

__all__ = ["EXIT_FOUND", "EXIT_OK", "EXIT_USAGE", "CliError", "Context"]

EXIT_OK = 0
"""Allowed, no differences, intact."""
EXIT_FOUND = 1
"""Denied, differences, damaged."""
EXIT_USAGE = 2
"""Usage or input error (argparse uses 2 too)."""


class CliError(Exception):
    """An input error worth one line on stderr and exit code 2."""


@dataclass
class Context:
    """What every command shares: output settings and a scratch directory."""

    stdout: TextIO
    paint: Painter
    width: int | None = None
    """The terminal's width that text tables fit (``None``: piped, rows stay one line)."""
    show_progress: bool = False
    """Whether long work draws a progress bar on stderr."""
    _scratch: tempfile.TemporaryDirectory[str] | None = None
    _files: int = 0

    def emit(self, report: Report, fmt: str) -> None:
        """Print ``report`` as ``fmt``."""
        self.stdout.write(render(report, fmt, self.paint, width=self.width))

    def progress(self, label: str) -> AbstractContextManager[Progress | None]:
        """A ``progress(done, total)`` callback for the work of the block (a bar on
        stderr), or ``None``."""
        return progress.bar(sys.stderr, label, enabled=self.show_progress)

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
