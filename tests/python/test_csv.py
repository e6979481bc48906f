"""CSV exports a spreadsheet opens safely (CWE-1236, "CSV injection"): no cell of the
access matrix or of the audit log starts a formula, and the access matrix still reads
back to the values it was written from."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import accessgraph as ag
from accessgraph._core import AuditFile

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "'=quoted already",
]


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def assert_no_formula(text: str) -> None:
    bad = [cell for cell in cells(text) if cell.startswith(FORMULA_START)]
    assert bad == []


def test_the_access_matrix_starts_no_formula_and_reads_back(tmp_path: Path) -> None:
    g = ag.Graph()
    g.add_org("acme", owner="jane@acme.io")
    g.add_project("acme/web")
    for i, payload in enumerate(PAYLOADS):
        g.add_member(f"g{i}@acme.io", "acme")
        g.grant(f"g{i}@acme.io", "acme/web", "viewer", reason=payload)
        g.add_member(f"m{i}@acme.io", "acme", reason=payload)
    g.add_member("=cmd@acme.io", "acme", reason="+1")
    path = tmp_path / "matrix.csv"
    g.to_csv(path)
    text = path.read_text(encoding="utf-8")
    assert_no_formula(text)
    assert "'=HYPERLINK(" in text and "'=cmd@acme.io" in text
    back = ag.Graph.load(path)
    assert [(x.user, x.reason) for x in back.grants()] == [(x.user, x.reason) for x in g.grants()]
    reasons = {m.user: m.reason for m in g.members("acme") if not g.grants(user=m.user)}
    assert {m.user: m.reason for m in back.members("acme") if m.user in reasons} == reasons
    assert reasons["=cmd@acme.io"] == "+1"


def test_the_audit_log_starts_no_formula(tmp_path: Path) -> None:
    g = ag.Graph()
    g.add_org("acme", owner="jane@acme.io")
    for payload in PAYLOADS:
        g.record("system", "data.exported", payload, user=payload, note=payload)
    g.add_member("=cmd@acme.io", "acme", actor="jane@acme.io")
    path = tmp_path / "audit.csv"
    g.audit.to_csv(path)
    text = path.read_text(encoding="utf-8")
    assert_no_formula(text)
    assert "'=HYPERLINK(" in text and "'=cmd@acme.io" in text
    # An exported log (the JSON Lines form read back) writes the same CSV.
    exported = AuditFile.parse(g._audit_jsonl())
    assert exported._csv() == g._audit_csv()


def test_the_python_tables_escape_as_the_core_does() -> None:
    # The command line's and Evidence's CSV (accessgraph._render.csv_table) escape through
    # the core's rule, and quote as its writer does: the same cells either way.
    from accessgraph._render import csv_table

    g = ag.Graph()
    g.add_org("acme", owner="jane@acme.io")
    values = [*PAYLOADS, "''=twice", "'plain", "plain", "", "a=b", " =space first"]
    for i, value in enumerate(values):
        g.add_member(f"m{i}@acme.io", "acme", reason=value)
    core = {
        row["user"]: row["reason"] for row in csv.DictReader(io.StringIO(g._csv_text(), newline=""))
    }
    ours = cells(csv_table(["reason"], [[v] for v in values]))[1:]
    assert ours == [core[f"m{i}@acme.io"] for i in range(len(values))]
    assert_no_formula(csv_table(["a", "b"], [[v, v] for v in values]))
