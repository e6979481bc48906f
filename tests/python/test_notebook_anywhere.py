"""The example notebook runs as of today too (its own hint: ``AUDIT_DAY = None``), and
with Jupyter started at the repository's root or in any folder inside it, not only in
``examples/`` (``test_notebook.py`` runs it there, as of its day)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import EXAMPLES, ROOT
from nbclient import NotebookClient


def _run(folder: Path, *, today: bool) -> list[str]:
    nb = nbformat.read(EXAMPLES / "audit_notebook.ipynb", as_version=4)
    first = nb.cells[1]
    assert 'AUDIT_DAY = "2024-05-01"' in first.source
    if today:
        first.source = first.source.replace('AUDIT_DAY = "2024-05-01"', "AUDIT_DAY = None")
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()  # raises CellExecutionError naming the cell when one fails
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    return [
        str(out.get("data", {}))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    ]


@pytest.mark.parametrize(
    ("folder", "today"),
    [(ROOT, True), (ROOT / "tests" / "python", False)],
    ids=["repository-root-as-of-today", "a-folder-inside-as-of-its-day"],
)
def test_the_notebook_runs_from_anywhere_in_the_repository(folder: Path, today: bool) -> None:
    outputs = _run(folder, today=today)
    assert any("no access" in o for o in outputs)  # the drift says what a missing role is
