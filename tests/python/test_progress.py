"""Long work shows progress: the ``progress=(done, total)`` callback of the Python API, the
command line's bar on stderr (``rich``, only on a terminal), and text tables fitted to the
terminal's width (whole lines when piped)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

import accessgraph as ag
from accessgraph._progress import Steps
from accessgraph._render import fit_widths, text_table

REGISTRY = EXAMPLES / "acme_registry.md"


class Calls(list[tuple[int, int]]):
    def __call__(self, done: int, total: int) -> None:
        self.append((done, total))

    def check(self, total: int) -> None:
        """The contract: (0, total) first, done growing, (total, total) last and once."""
        assert self[0] == (0, total), self
        assert self[-1] == (total, total), self
        assert all(t == total for _, t in self), self
        dones = [d for d, _ in self]
        assert dones == sorted(dones), self
        assert dones.count(total) == 1 or total == 0, self


# --- the Python API ----------------------------------------------------------------------


def test_steps_report_a_python_loop() -> None:
    calls = Calls()
    steps = Steps(calls, 3)
    for _ in range(3):
        steps.advance()
    steps.finish()
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    calls.check(3)
    # a core hook reporting in its own unit is scaled, clamped, and never goes back
    calls = Calls()
    steps = Steps(calls, 100)
    for done in (10, 5, 30, 200):
        steps.hook(done, 50)
    steps.finish()
    # (a step back or in place is not passed on: the core reports its own start and end)
    assert calls == [(0, 100), (20, 100), (60, 100), (100, 100)]
    Steps(None, 10).advance()  # no callback: nothing to call


def test_load_open_import_verify_and_export_report_progress(tmp_path: Path) -> None:
    size = REGISTRY.stat().st_size
    calls = Calls()
    g = ag.Graph.load(REGISTRY, org="acme", progress=calls)
    assert calls == [(0, size), (size, size)]

    journal = tmp_path / "access.journal"
    opened = ag.Graph.open(journal)
    calls = Calls()
    assert opened.import_registry(REGISTRY, org="acme", progress=calls) > 0
    calls.check(size)
    del opened
    calls = Calls()
    opened = ag.Graph.open(journal, progress=calls)
    calls.check(journal.stat().st_size)
    events = len(opened.audit)
    for run in (
        lambda c: opened.audit.verify(progress=c),
        lambda c: opened.audit.to_jsonl(tmp_path / "a.jsonl", progress=c),
        lambda c: opened.audit.to_csv(tmp_path / "a.csv", progress=c),
    ):
        calls = Calls()
        run(calls)
        calls.check(events)
    calls = Calls()
    g.review(progress=calls)
    calls.check(1)


def test_a_callback_that_raises_stops_the_work(tmp_path: Path) -> None:
    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt  # the user pressed ^C in the callback's terminal

    with pytest.raises(KeyboardInterrupt):
        ag.Graph.load(REGISTRY, org="acme", progress=stop)
    g = ag.Graph()
    with pytest.raises(KeyboardInterrupt):
        g.import_registry(REGISTRY, org="acme", progress=stop)
    assert g.orgs() == []  # stopped before anything was applied


def test_a_failed_load_never_reports_the_end(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("# Acme\n## Owners\n- not an email\n", encoding="utf-8")
    calls = Calls()
    with pytest.raises(ag.RegistryFormatError):
        ag.Graph.load(bad, progress=calls)
    assert calls == [(0, bad.stat().st_size)]


# --- the core reports from inside its loops ----------------------------------------------


def _busy_graph(events: int) -> ag.Graph:
    """A graph whose audit log holds about ``events`` events."""
    g = ag.Graph()
    g.add_org("acme", owner="owner@acme.io", actor=None)
    for i in range(events - 2):
        g.add_member(f"user{i}@acme.io", "acme", role="member", actor=None)
    assert abs(len(g.audit) - events) <= 2
    return g


def _inner(calls: Calls) -> list[int]:
    """The ``done`` values strictly between the start and the end."""
    total = calls[0][1]
    return [d for d, _ in calls if 0 < d < total]


@pytest.fixture(scope="module")
def busy() -> ag.Graph:
    # Over 2 x 20_000 events: verify checks the chain on two threads.
    return _busy_graph(45_000)


def test_verify_and_exports_report_during_the_work(busy: ag.Graph, tmp_path: Path) -> None:
    total = len(busy.audit)
    for name, run in (
        ("verify", lambda c: busy.audit.verify(progress=c)),
        ("to_jsonl", lambda c: busy.audit.to_jsonl(tmp_path / "a.jsonl", progress=c)),
        ("to_csv", lambda c: busy.audit.to_csv(tmp_path / "a.csv", progress=c)),
    ):
        calls = Calls()
        run(calls)
        calls.check(total)
        inner = _inner(calls)
        assert inner, (name, calls)
        assert inner == sorted(set(inner)), (name, calls)  # strictly growing
        assert len(calls) <= 2 + 100 + 50, (name, len(calls))  # throttled: 1 % steps
    # a loaded export reports too, and what it writes is what it wrote without a callback
    loaded = ag.AuditLog.load(tmp_path / "a.jsonl")
    calls = Calls()
    loaded.verify(progress=calls)
    calls.check(total)
    assert _inner(calls)
    calls = Calls()
    loaded.to_csv(tmp_path / "b.csv", progress=calls)
    calls.check(total)
    assert _inner(calls)
    busy.audit.to_csv(tmp_path / "plain.csv")
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


class Halt(Exception):
    pass


def _halting(after: int) -> tuple[Calls, object]:
    calls = Calls()

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done > 0 and len(calls) > after:
            raise Halt(done)

    return calls, progress


def test_a_callback_that_raises_mid_work_stops_it_and_is_raised_unchanged(
    busy: ag.Graph, tmp_path: Path
) -> None:
    total = len(busy.audit)
    revision = busy.revision
    for name, run in (
        ("verify", lambda p: busy.audit.verify(progress=p)),
        ("to_jsonl", lambda p: busy.audit.to_jsonl(tmp_path / "x.jsonl", progress=p)),
        ("to_csv", lambda p: busy.audit.to_csv(tmp_path / "x.csv", progress=p)),
    ):
        calls, progress = _halting(after=3)
        with pytest.raises(Halt) as raised:
            run(progress)
        done = raised.value.args[0]
        assert 0 < done < total, name  # stopped in the middle
        assert (total, total) not in calls, name  # no end after an error
        assert calls[-1][0] == done, name  # not called again after it raised
    # an export stopped by its callback writes nothing: no file, or the old one untouched
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.csv").exists()
    kept = tmp_path / "kept.csv"
    kept.write_text("old\n", encoding="utf-8")
    _, progress = _halting(after=2)
    with pytest.raises(Halt):
        busy.audit.to_csv(kept, progress=progress)
    assert kept.read_text(encoding="utf-8") == "old\n"
    # the graph is unchanged and still verifies
    assert busy.revision == revision and len(busy.audit) == total
    busy.audit.verify()


def test_the_very_exception_object_comes_back(busy: ag.Graph) -> None:
    mine = Halt("mine")

    def progress(done: int, total: int) -> None:
        if done:
            raise mine

    with pytest.raises(Halt) as raised:
        busy.audit.verify(progress=progress)
    assert raised.value is mine


def test_a_broken_chain_raises_its_error_and_never_reports_the_end(tmp_path: Path) -> None:
    g = _busy_graph(3_000)
    g.audit.to_jsonl(tmp_path / "a.jsonl")
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    forged = lines[2_000].replace("@acme.io", "@evil.io", 1)
    assert forged != lines[2_000]
    lines[2_000] = forged
    (tmp_path / "b.jsonl").write_text("".join(lines), encoding="utf-8")
    loaded = ag.AuditLog.load(tmp_path / "b.jsonl")
    calls = Calls()
    with pytest.raises(ag.AuditIntegrityError):
        loaded.verify(progress=calls)
    assert calls and calls[0] == (0, len(loaded))
    assert all(d < t for d, t in calls)


def test_a_review_reports_rule_by_rule_and_its_callback_may_change_the_graph() -> None:
    g = ag.Graph()
    for o in range(26):
        org = f"org{o}"
        g.add_org(org, owner=f"owner@{org}.io", actor=None)
        g.add_project(f"{org}/web")
        g.add_member(f"dev@{org}.io", org, role="admin", actor=None)
    quiet = g.review()
    calls = Calls()
    assert g.review(progress=calls) == quiet
    calls.check(26)
    inner = _inner(calls)
    assert len(inner) >= 5 and inner == sorted(set(inner)), calls

    # The callback runs with no lock of the graph held: it may change the graph (no
    # deadlock), and the review is of the state when it began.
    def mutate(done: int, total: int) -> None:
        if 0 < done < total:
            g.add_member(f"late{done}@org0.io", "org0", actor=None)

    assert g.review(progress=mutate) == quiet
    assert len(g.members("org0")) > 2

    def halt(done: int, total: int) -> None:
        if done:
            raise Halt(done)

    with pytest.raises(Halt):
        g.review(progress=halt)


def test_time_travel_reports_the_events_it_replays() -> None:
    g = ag.Graph()
    g.set_time("2026-01-01T00:00:00Z")
    g.add_org("acme", owner="owner@acme.io", actor=None)
    for i in range(10_000):
        g.add_member(f"early{i}@acme.io", "acme", role="member", actor=None)
    g.set_time("2026-02-01T00:00:00Z")
    for i in range(10_000):
        g.add_member(f"late{i}@acme.io", "acme", role="member", actor=None)
    total = len(g.audit)
    calls = Calls()
    then = g.as_of("2026-01-15", progress=calls)
    calls.check(total)
    inner = _inner(calls)
    assert len(inner) >= 20 and inner == sorted(set(inner)), calls
    # only the events up to the instant are read: the last report before the end
    assert inner[-1] <= total // 2 + 2, calls
    assert len(then.members("acme")) == 10_001
    assert then.to_json() == g.as_of("2026-01-15").to_json()

    # The callback runs with no lock of the graph held: it may change the graph (no
    # deadlock), and the view is of the log as it was when the call began.
    def mutate(done: int, total: int) -> None:
        if 0 < done < total:
            g.add_member(f"during{done}@acme.io", "acme", actor=None)

    assert g.as_of("2026-03-01", progress=mutate).to_json() != g.to_json()

    boom = Halt("enough")

    def halt(done: int, total: int) -> None:
        if done:
            raise boom

    with pytest.raises(Halt) as raised:
        g.as_of("2026-03-01", progress=halt)
    assert raised.value is boom


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal of about 40,000 one-line batches: three stretches of the reader."""
    path = tmp_path_factory.mktemp("progress") / "big.journal"
    g = ag.Graph.open(path, durability="os", follow=False)
    g.add_org("acme", owner="owner@acme.io", actor=None)
    for i in range(40_000):
        g.add_member(f"user{i}@acme.io", "acme", role="member", actor=None)
    return path


def _copy(src: Path, where: Path) -> Path:
    dst = where / src.name
    dst.write_bytes(src.read_bytes())
    return dst


def test_opening_a_journal_reports_as_the_replay_goes(journal: Path, tmp_path: Path) -> None:
    path = _copy(journal, tmp_path)
    calls = Calls()
    g = ag.Graph.open(path, follow=False, progress=calls)
    calls.check(path.stat().st_size)
    inner = _inner(calls)
    assert len(inner) >= 2, calls  # one report per stretch read, before the end
    assert inner == sorted(set(inner)), calls
    assert g.revision == len(g.audit) and g.revision > 40_000
    # from a snapshot: its bytes count too, and so does the journal after it
    g.snapshot()
    for i in range(20_000):
        g.add_member(f"late{i}@acme.io", "acme", role="member", actor=None)
    del g
    snap = path.with_name(path.name + ".snapshot")
    calls = Calls()
    again = ag.Graph.open(path, follow=False, progress=calls)
    calls.check(path.stat().st_size + snap.stat().st_size)
    assert _inner(calls)
    assert again.revision > 60_000
    # The events before the snapshot are read on the first use of the audit log: a
    # verify with a callback reports that reading too (the prefix's events, then its own).
    prefix = again.revision - 20_000
    calls = Calls()
    again.audit.verify(progress=calls)
    calls.check(prefix + again.revision)
    inner = _inner(calls)
    assert any(d < prefix for d in inner), calls  # heard while the prefix was read
    assert any(d > prefix for d in inner), calls  # and while verifying
    assert inner == sorted(set(inner)), calls
    assert len(again.audit) == again.revision  # the whole log is there now


def test_a_callback_that_stops_the_first_read_of_the_log_leaves_it_to_read_again(
    journal: Path, tmp_path: Path
) -> None:
    path = _copy(journal, tmp_path)
    g = ag.Graph.open(path, follow=False)
    g.snapshot()
    g.add_member("late@acme.io", "acme", role="member", actor=None)
    del g
    again = ag.Graph.open(path, follow=False)
    calls, progress = _halting(after=1)
    with pytest.raises(Halt):
        again.audit.to_jsonl(tmp_path / "out.jsonl", progress=progress)
    assert not (tmp_path / "out.jsonl").exists()
    # the log is not taken for whole without the events before the snapshot: they are
    # read (and checked) on the next use
    again.audit.verify()
    assert len(again.audit) == again.revision
    calls = Calls()
    again.as_of(again.now(), progress=calls)
    calls.check(again.revision)  # read already: one pass


def test_a_callback_that_stops_an_opening_leaves_the_journal_untouched(
    journal: Path, tmp_path: Path
) -> None:
    path = _copy(journal, tmp_path)
    # a crash left a torn record at the end: opening would cut it off
    with path.open("ab") as f:
        f.write(b'{"torn":')
    before = path.read_bytes()
    calls, progress = _halting(after=1)
    with pytest.raises(Halt) as raised:
        ag.Graph.open(path, follow=False, progress=progress)
    assert 0 < raised.value.args[0] < len(before)
    assert (len(before), len(before)) not in calls  # no end after it stopped
    assert path.read_bytes() == before  # the torn tail is still there: nothing was cut
    # with a key on an unkeyed journal, trust on first use would sign it: not when stopped
    _, progress = _halting(after=1)
    with pytest.raises(Halt):
        ag.Graph.open(path, follow=False, hmac_key=b"k" * 32, progress=progress)
    assert not path.with_name(path.name + ".checkpoint").exists()
    assert path.read_bytes() == before
    # opened without a callback, it recovers as usual
    with pytest.warns(ag.JournalRecoveredWarning):
        g = ag.Graph.open(path, follow=False)
    g.audit.verify()


# --- tables that fit ------------------------------------------------------------------


def test_fit_widths_narrows_the_widest_columns_and_respects_the_floors() -> None:
    assert fit_widths([5, 10, 40], 100) == [5, 10, 40]  # fits: unchanged
    fitted = fit_widths([5, 30, 60, 60], 80)
    assert sum(fitted) <= 80 and fitted[0] == 5
    assert fitted[2] == fitted[3]  # the widest cut alike
    kept = fit_widths([8, 25, 70, 70], 80, keep=[True, True, False, False])
    assert kept[:2] == [8, 25] and sum(kept) <= 80  # identifiers whole, prose wrapped
    # nothing fits: every column at its floor, wider than asked
    assert fit_widths([20, 20, 20], 10, floors=[9, 12, 3]) == [9, 12, 8]


def test_text_table_fits_a_width_and_keeps_every_word() -> None:
    header = ("user", "message")
    rows = [
        ("jane@example.com", "a long sentence that will not fit in forty columns at all"),
        ("bob@example.com", None),
    ]
    text = text_table(header, rows, width=40)
    lines = text.splitlines()
    assert all(len(line) <= 40 for line in lines), lines
    assert lines[1].startswith("jane@example.com  a long sentence")
    words = " ".join(line[18:] for line in lines[1:-1]).split()
    assert words == rows[0][1].split()  # type: ignore[union-attr]
    assert lines[-1] == "bob@example.com   -"
    whole = text_table(header, rows)
    assert len(whole.splitlines()) == 3  # no width: one line per row


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "accessgraph", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_cli_tables_fit_columns_and_stay_whole_when_piped() -> None:
    review = ("review", str(REGISTRY), "--org", "acme", "--at", "2024-05-20")
    piped = _cli(*review)
    assert max(len(line) for line in piped.stdout.splitlines()) > 200  # whole rows
    fitted = _cli(*review, env={"COLUMNS": "120"})
    assert fitted.returncode == piped.returncode == 0
    assert max(len(line) for line in fitted.stdout.splitlines()) <= 120
    assert len(fitted.stdout.splitlines()) > len(piped.stdout.splitlines())  # wrapped
    # nothing cut off: wrapping only moved the text (every character but spaces is there)
    assert sorted("".join(fitted.stdout.split())) == sorted("".join(piped.stdout.split()))
    # identifiers stay whole at this width; the prose columns took the wrapping
    assert "auditor@audit.example" in fitted.stdout


# --- the bar on stderr ----------------------------------------------------------------


def _with_pty_stderr(args: list[str], env: dict[str, str]) -> tuple[str, bytes]:
    """Run the command line with stderr on a pseudo-terminal; its stdout and what the
    terminal received."""
    master, slave = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")} | env
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=slave, env=full, cwd=ROOT
    )
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    received = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        received += data
    os.close(master)
    assert proc.returncode == 0
    return out.decode(), received


REVIEW = ["-m", "accessgraph", "review", str(REGISTRY), "--org", "acme", "--at", "2024-05-20"]


def test_a_bar_on_a_terminal_and_nothing_else_changes() -> None:
    out, terminal = _with_pty_stderr(REVIEW, {})
    assert b"reading " in terminal and "\u2501".encode() in terminal  # rich's bar
    assert out == _cli(*REVIEW[2:]).stdout  # stdout is the report, bar or not


def test_no_bar_when_opted_out_or_without_rich() -> None:
    _, terminal = _with_pty_stderr(REVIEW, {"ACCESSGRAPH_NO_PROGRESS": "1"})
    assert terminal == b""
    no_rich = [
        "-c",
        "import sys; sys.modules['rich'] = None; "
        "from accessgraph.cli import main; sys.exit(main(sys.argv[1:]))",
        *REVIEW[2:],
    ]
    out, terminal = _with_pty_stderr(no_rich, {})
    assert terminal == b""
    assert out == _cli(*REVIEW[2:]).stdout
