"""The audit log as Arrow (issue 14, "Scale"): ``to_arrow()``, ``__arrow_c_stream__`` and
``to_pandas()`` through Arrow hold the events as they are, with the same columns and dtypes
with or without pyarrow, for a graph's log and for a loaded export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import accessgraph as ag

OWNER = "jane@example.com"
COLUMNS = ["seq", "at", "actor", "action", "target", "user", "details", "prev_hash", "hash"]


def build() -> ag.Graph:
    g = ag.Graph()
    g.set_time("2024-05-01T09:30:00.123456")
    g.add_org("acme", name='Acme "Corp"\n', owner=OWNER)
    g.add_project("acme/web", name="Web", environment="production")
    g.add_member("bob@example.com", "acme", actor=OWNER, name="Bób", reason="joined")
    g.grant("bob@example.com", "acme/web", "viewer", actor=OWNER, expires="2024-09-01")
    g.record(OWNER, "data.exported", "report/7", rows=-3, ratio=1.5e-7, tags=["a", {"k": None}])
    return g


def rows(events: list[ag.Event]) -> list[dict[str, object]]:
    return [
        {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "user": e.user,
            "details": e.details,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in events
    ]


def table_rows(t: pa.Table) -> list[dict[str, object]]:
    out = t.to_pylist()
    for r in out:
        r["details"] = json.loads(str(r["details"]))
    return out


def test_to_arrow_holds_every_event_as_it_is() -> None:
    g = build()
    t = g.audit.to_arrow()
    assert isinstance(t, pa.Table) and t.column_names == COLUMNS
    assert t.schema.field("seq").type == pa.int64()
    assert t.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table_rows(t) == rows(list(g.audit))
    # Filters select as events() does.
    for criteria in ({"action": "member.*"}, {"user": "bob@example.com", "limit": 1}, {}):
        assert table_rows(g.audit.to_arrow(**criteria)) == rows(g.audit.events(**criteria))
    # `user` is null where the event concerns no user; details are JSON text.
    assert t.column("user").null_count == len([e for e in g.audit if e.user is None]) > 0


def test_arrow_readers_take_the_log_itself() -> None:
    g = build()
    assert pa.table(g.audit).equals(g.audit.to_arrow())
    reader = pa.RecordBatchReader.from_stream(g.audit)
    assert reader.read_all().num_rows == len(g.audit)


def test_an_empty_log_has_the_columns_of_a_full_one() -> None:
    empty = ag.Graph().audit.to_arrow()
    assert empty.num_rows == 0 and empty.schema.equals(build().audit.to_arrow().schema)


def test_an_export_read_back_gives_the_same_table(tmp_path: Path) -> None:
    g = build()
    g.audit.to_jsonl(tmp_path / "a.jsonl")
    loaded = ag.AuditLog.load(tmp_path / "a.jsonl")
    assert loaded.to_arrow().equals(g.audit.to_arrow())
    assert loaded.to_pandas().equals(g.audit.to_pandas())


def test_to_pandas_is_the_same_with_or_without_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    g = build()
    arrow = g.audit.to_pandas()
    with monkeypatch.context() as m:
        for name in [n for n in sys.modules if n == "pyarrow" or n.startswith("pyarrow.")]:
            m.setitem(sys.modules, name, None)
        lists = g.audit.to_pandas()
        empty = ag.Graph().audit.to_pandas()
        with pytest.raises(ImportError, match=r"needs pyarrow: pip install 'accessgraph\[arrow\]'"):
            g.audit.to_arrow()
    assert arrow.dtypes.to_dict() == lists.dtypes.to_dict() == empty.dtypes.to_dict()
    pd.testing.assert_frame_equal(arrow, lists)
    assert [json.loads(d) for d in lists["details"]] == [e.details for e in g.audit]


def test_hashes_hold_for_whole_logs_runs_gaps_and_pruned_logs(tmp_path: Path) -> None:
    """A whole log (or a run of it) writes `prev_hash` and `hash` once, as two views of one
    buffer; a selection that skips events writes them apart. Both read as the events."""
    g = ag.Graph.open(tmp_path / "a.journal")
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    for p in range(3):
        g.add_project(f"acme/p{p}")
    for u in range(6):
        g.add_member(f"u{u}@example.com", "acme", actor=OWNER, name=f'Ü{u} "q"\t')
        g.grant(f"u{u}@example.com", f"acme/p{u % 3}", "viewer", actor=OWNER)
    g.erase_user("u2@example.com", actor=OWNER, reason="GDPR")
    g.set_time("2024-06-01")
    g.record(OWNER, "data.exported", "acme/p1", note="ünïcode ✓", n=[1, {"k": None}])
    selections: list[dict[str, object]] = [
        {},  # every event: shared
        {"action": "grant.*"},  # every other event: apart from the second row on
        {"user": "u3@example.com"},  # a run, then a gap
        {"since": "2024-06-01"},  # the last event alone
        {"limit": 4},  # the first run
        {"action": "no.such"},  # no rows
    ]
    for label, log in [("whole", g), ("pruned", None)]:
        if log is None:
            assert g.audit.prune(before="2024-06-01") > 0
            log = g
        for criteria in selections:
            events = log.audit.events(**criteria)
            t = log.audit.to_arrow(**criteria)
            assert table_rows(t) == rows(events), (label, criteria)
            assert t.column("prev_hash").to_pylist() == [e.prev_hash for e in events]
            assert t.column("hash").to_pylist() == [e.hash for e in events]
            frame = log.audit.to_pandas(**criteria)
            assert frame["prev_hash"].tolist() == [e.prev_hash for e in events], criteria
            assert frame["hash"].tolist() == [e.hash for e in events], criteria
        # The C stream (pyarrow reading the shared buffers itself) gives the same table.
        assert pa.table(log.audit).equals(log.audit.to_arrow())
        log.audit.verify()
    loaded_path = tmp_path / "a.jsonl"
    g.audit.to_jsonl(loaded_path)
    loaded = ag.AuditLog.load(loaded_path)
    for criteria in selections:
        assert table_rows(loaded.to_arrow(**criteria)) == rows(g.audit.events(**criteria))


def test_a_log_large_enough_for_two_threads_is_the_same_table() -> None:
    # Above 4,096 rows the columns are written, and made into Arrow arrays, on two
    # threads, and a filter with no criterion takes every row without reading it.
    g = ag.Graph()
    g.set_time("2024-05-01T09:30:00")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    for i in range(2_600):
        g.add_member(f"u{i}@example.com", "acme", actor=OWNER, name=f"Ü{i}")
        g.grant(f"u{i}@example.com", "acme/web", "viewer", actor=OWNER, reason=f'"{i}"\n')
    assert len(g.audit) > 5_000
    every = rows(list(g.audit))
    assert table_rows(g.audit.to_arrow()) == every
    assert table_rows(g.audit.to_arrow(limit=4_500)) == every[:4_500]
    for criteria in ({"action": "member.*"}, {"user": "u7@example.com"}, {"action": "grant.*"}):
        assert table_rows(g.audit.to_arrow(**criteria)) == rows(g.audit.events(**criteria))
    frame = g.audit.to_pandas()
    assert frame["hash"].tolist() == [e.hash for e in g.audit]
    assert [None if pd.isna(u) else u for u in frame["user"]] == [e.user for e in g.audit]


def test_text_of_every_width_reaches_arrow_as_valid_utf8() -> None:
    # The columns reach Arrow without a second UTF-8 check (the core writes them whole
    # from strings), so pyarrow's full validation is the attacker: characters of one to
    # four bytes at every offset around the 32-byte short copy, in actors, users, names,
    # reasons and application details, on one thread and on two, whole and filtered.
    g = ag.Graph()
    g.set_time("2024-05-01T09:30:00")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    wide = ["a", "é", "✓", "🚀"]
    for i in range(2_200):
        ch = wide[i % 4]
        pad = ch * (i % 40)
        user = f"u{i}@example.com"
        g.add_member(user, "acme", actor=OWNER, name=pad or "x", title=f"{pad}\n{ch}")
        g.grant(user, "acme/web", "viewer", actor=OWNER, reason=f'{"x" * (i % 33)}{ch}"')
        if i % 50 == 0:
            g.record(OWNER, "data.exported", f"r/{pad}", note=[pad, {ch: pad}])
    assert len(g.audit) > 4_096
    for criteria in ({}, {"action": "grant.*"}, {"action": "data.*"}, {"user": "u9@example.com"}):
        t = g.audit.to_arrow(**criteria)
        t.validate(full=True)
        assert table_rows(t) == rows(g.audit.events(**criteria))
