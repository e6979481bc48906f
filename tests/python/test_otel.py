"""``accessgraph.otel``: metrics and spans, read back through OpenTelemetry's in-memory
reader and exporter; and that without ``instrument()`` the check path is the core's."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import accessgraph as ag
from accessgraph import _core, otel

OWNER = "jane@example.com"


class Telemetry:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.exporter = InMemorySpanExporter()
        self.tracers = TracerProvider()
        self.tracers.add_span_processor(SimpleSpanProcessor(self.exporter))

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                assert sm.scope.name == "accessgraph"
                for metric in sm.metrics:
                    if metric.name == name:
                        out += list(metric.data.data_points)
        return out

    def counts(self, name: str) -> dict[tuple[tuple[str, Any], ...], int]:
        """Counter sums (or histogram counts) by their sorted attributes."""
        out = {}
        for p in self.points(name):
            key = tuple(sorted(p.attributes.items()))
            out[key] = getattr(p, "value", None) if hasattr(p, "value") else p.count
        return out

    def spans(self, name: str | None = None) -> list[Any]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    otel.instrument(meter_provider=t.meters, tracer_provider=t.tracers)
    try:
        yield t
    finally:
        otel.uninstrument()


def _graph() -> ag.Graph:
    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web", name="Web")
    g.add_member("bob@example.com", "acme")
    g.grant("bob@example.com", "acme/web", "viewer")
    return g


def test_importing_accessgraph_imports_no_opentelemetry() -> None:
    code = (
        "import sys, accessgraph, accessgraph.otel\n"
        "g = accessgraph.Graph(); g.add_org('a', owner='o@example.com')\n"
        "g.check('o@example.com', 'org:view', 'a')\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_uninstrumented_the_check_path_is_the_core_method_itself() -> None:
    """Disabled costs nothing: the lookup of ``check`` finds the Rust method, unwrapped."""
    bare = {n: ag.Graph.__dict__.get(n) for n in ("grant", "load", "open", "save")}
    for name in ("check", "explain", "require", "check_many"):
        assert name not in ag.Graph.__dict__
        assert getattr(ag.Graph, name) is getattr(_core.Graph, name)
    otel.instrument(meter_provider=Telemetry().meters, tracer_provider=Telemetry().tracers)
    try:
        assert otel.is_instrumented()
        assert ag.Graph.check is not _core.Graph.check
    finally:
        otel.uninstrument()
    assert not otel.is_instrumented()
    for name in ("check", "explain", "require", "check_many", "from_json", "to_json"):
        assert name not in ag.Graph.__dict__, name
        assert inspect.getattr_static(ag.Graph, name) is inspect.getattr_static(_core.Graph, name)
    assert {n: ag.Graph.__dict__.get(n) for n in bare} == bare
    assert "verify" in ag.AuditLog.__dict__ and "to_html" in ag.Review.__dict__


def test_decisions_are_counted_by_result_and_action_never_by_user(telemetry: Telemetry) -> None:
    g = _graph()
    assert g.check("bob@example.com", "insight:view", "acme/web")
    assert not g.check("bob@example.com", "insight:create", "acme/web")
    assert not g.explain("bob@example.com", "insight:create", "acme/web")
    g.require(OWNER, "insight:create", "acme/web")
    with pytest.raises(ag.PermissionDenied):
        g.require("bob@example.com", "insight:create", "acme/web")
    answers = g.check_many(
        q for q in [("bob@example.com", "insight:view", "acme/web"), (OWNER, "org:view", "acme")]
    )
    assert answers == [True, True]
    assert telemetry.counts("accessgraph.decisions") == {
        (("action", "insight:view"), ("result", "allowed")): 2,
        (("action", "insight:create"), ("result", "denied")): 3,
        (("action", "insight:create"), ("result", "allowed")): 1,
        (("action", "org:view"), ("result", "allowed")): 1,
    }
    for point in telemetry.points("accessgraph.decisions"):
        assert set(point.attributes) == {"result", "action"}
        assert not any("@" in str(v) for v in point.attributes.values())


def test_mutations_are_timed_by_operation_and_outcome(telemetry: Telemetry) -> None:
    g = _graph()
    with pytest.raises(ag.PermissionDenied):
        g.add_member("eve@example.com", "acme", actor="bob@example.com")
    with pytest.raises(ag.NotFoundError):
        g.revoke("nobody@example.com", "acme/web", actor=OWNER)
    counts = telemetry.counts("accessgraph.mutation.duration")
    op, out = "accessgraph.operation", "accessgraph.outcome"
    assert counts[((op, "add_member"), (out, "ok"))] == 1
    assert counts[((op, "add_member"), (out, "denied"))] == 1
    assert counts[((op, "grant"), (out, "ok"))] == 1
    assert counts[((op, "revoke"), (out, "error"))] == 1
    for p in telemetry.points("accessgraph.mutation.duration"):
        assert p.sum >= 0 and p.count >= 1
    assert telemetry.spans() == []  # in memory: no round trip, no span per mutation


def test_loads_are_timed_once_and_traced(telemetry: Telemetry, tmp_path: Path) -> None:
    g = ag.Graph.load(EXAMPLES / "acme_registry.md", org="acme")
    again = ag.Graph.from_json(g.to_json())
    assert again.to_json() == g.to_json()
    counts = telemetry.counts("accessgraph.load.duration")
    op, fmt = "accessgraph.operation", "accessgraph.format"
    # load read the Markdown through from_markdown: one load recorded, the outer one
    assert counts == {((fmt, "markdown"), (op, "load")): 1, ((fmt, "json"), (op, "from_json")): 1}
    outer = [s for s in telemetry.spans("accessgraph.load") if s.parent is None]
    inner = [s for s in telemetry.spans("accessgraph.load") if s.parent is not None]
    assert [s.attributes[op] for s in outer] == ["load", "from_json"]
    assert [s.attributes[op] for s in inner] == ["from_markdown"]
    assert inner[0].parent.span_id == outer[0].context.span_id
    bad = tmp_path / "bad.md"
    bad.write_text("# Acme\n## Owners\n- not an email\n", encoding="utf-8")
    with pytest.raises(ag.RegistryFormatError):
        ag.Graph.load(bad)
    failed = telemetry.spans("accessgraph.load")[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]


def test_journal_open_import_export_and_verify_are_traced(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    g = ag.Graph.open(tmp_path / "access.journal")
    g.import_registry(EXAMPLES / "acme_registry.md", org="acme")
    g.save(tmp_path / "acme.json")
    g.audit.to_jsonl(tmp_path / "audit.jsonl")
    g.audit.verify()
    g.review().to_html(tmp_path / "review.html")
    (opened,) = telemetry.spans("accessgraph.journal.open")
    assert opened.attributes["accessgraph.format"] == "journal"
    assert opened.kind is SpanKind.INTERNAL
    (imported,) = telemetry.spans("accessgraph.import")
    assert imported.attributes["accessgraph.format"] == "markdown"
    exports = [
        (s.attributes.get("accessgraph.operation"), s.attributes.get("accessgraph.format"))
        for s in telemetry.spans("accessgraph.export")
    ]
    # save wrote JSON through to_json: a child span
    assert exports == [
        ("to_json", "json"),
        ("save", "json"),
        ("to_jsonl", "jsonl"),
        ("to_html", "html"),
    ]
    (verify,) = telemetry.spans("accessgraph.audit.verify")
    assert verify.attributes["accessgraph.events"] == len(g.audit) > 0
    counts = telemetry.counts("accessgraph.load.duration")
    assert counts == {(("accessgraph.format", "journal"), ("accessgraph.operation", "open")): 1}
    # the import's changes are one mutation, timed
    mutations = telemetry.counts("accessgraph.mutation.duration")
    key = (("accessgraph.operation", "import_registry"), ("accessgraph.outcome", "ok"))
    assert mutations[key] == 1


def test_a_database_round_trip_is_a_client_span_without_the_password(
    telemetry: Telemetry,
) -> None:
    url = "postgresql://app:s3cret-pass@127.0.0.1:1/db?connect_timeout=1&password=s3cret-query"
    with pytest.raises(ag.JournalUnavailableError):
        ag.Graph.open(url)
    (span,) = telemetry.spans("accessgraph.journal.open")
    assert span.kind is SpanKind.CLIENT
    assert span.attributes["db.system.name"] == "postgresql"
    assert span.status.status_code is StatusCode.ERROR
    # neither form of password anywhere: attributes, the status, the exception event
    assert "s3cret" not in span.to_json()
    assert "password=***" in span.events[0].attributes["exception.message"]
    assert span.attributes["accessgraph.journal"] == (
        "postgresql://app:***@127.0.0.1:1/db?connect_timeout=1&password=***"
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pa/s3cret@127.0.0.1:1/db?connect_timeout=1",
        "postgresql://app:pa#s3cret@127.0.0.1:1/db?connect_timeout=1",
        "postgresql://127.0.0.1:1/db?connect_timeout=1&pass%77ord=s3cret",
        "postgresql://127.0.0.1:1/db?connect_timeout=1&%70assword=s3cret",
        "POSTGRESQL://app:s3cret@127.0.0.1:1/db?connect_timeout=1",
    ],
)
def test_span_attributes_hide_the_password_as_redact_does(telemetry: Telemetry, url: str) -> None:
    from accessgraph.postgres import redact

    with pytest.raises(ag.AccessGraphError):
        ag.Graph.open(url)
    (span,) = telemetry.spans("accessgraph.journal.open")
    assert "s3cret" not in span.to_json()
    assert span.attributes["accessgraph.journal"] == redact(url)


def test_instrumenting_twice_measures_once(telemetry: Telemetry) -> None:
    again = Telemetry()
    otel.instrument(meter_provider=again.meters, tracer_provider=again.tracers)
    g = _graph()
    g.check("bob@example.com", "insight:view", "acme/web")
    assert again.counts("accessgraph.decisions") == {
        (("action", "insight:view"), ("result", "allowed")): 1
    }
    assert telemetry.counts("accessgraph.decisions") == {}


def test_without_the_extra_instrument_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(
        ImportError, match=r"needs opentelemetry-api: pip install 'accessgraph\[otel\]'"
    ):
        otel.instrument()
    assert not otel.is_instrumented()
