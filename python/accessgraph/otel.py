"""OpenTelemetry metrics and traces for accessgraph (the ``otel`` extra).

    from accessgraph import otel
    otel.instrument()            # the global meter and tracer providers, or pass yours
    ...
    otel.uninstrument()          # back to the bare methods

Nothing is measured until :func:`instrument` is called, and nothing of OpenTelemetry is
imported before: the check path is then the Rust core's method itself, so an
uninstrumented process (or one without the extra) pays nothing for this module.
:func:`instrument` puts measuring methods on :class:`accessgraph.Graph` (and
:class:`accessgraph.AuditLog`, :class:`accessgraph.Review` and
:mod:`accessgraph.postgres`); :func:`uninstrument` takes them off again.

Metrics (meter ``accessgraph``):

- ``accessgraph.decisions`` (counter, ``{decision}``): every decision of ``check``,
  ``require``, ``explain`` and ``check_many``, with attributes ``result`` (``allowed`` or
  ``denied``) and ``action``. Never the user: a user id would make one time series per
  user (the cardinality would explode) and put personal data in the metrics store.
- ``accessgraph.mutation.duration`` (histogram, seconds): every mutation, with
  ``accessgraph.operation`` (the method: ``grant``, ``add_member`` ...) and
  ``accessgraph.outcome`` (``ok``, ``denied`` or ``error``).
- ``accessgraph.load.duration`` (histogram, seconds): ``Graph.load``, ``Graph.open`` and
  the ``from_*`` constructors, with ``accessgraph.operation`` and ``accessgraph.format``;
  a load that calls another (``load`` reads Markdown with ``from_markdown``) is recorded
  once, as the outer one.

Spans (tracer ``accessgraph``): ``accessgraph.load`` (``Graph.load``, ``from_*``),
``accessgraph.journal.open`` (``Graph.open``), ``accessgraph.import``
(``import_registry``), ``accessgraph.export`` (``save``, ``to_json``, ``to_markdown``,
``to_csv``, the audit log's ``to_jsonl`` / ``to_csv``, ``Review.to_html``),
``accessgraph.audit.verify`` and the database round trips Python can see on a graph
kept in PostgreSQL: ``accessgraph.db.mutation``, ``accessgraph.db.refresh``,
``accessgraph.db.snapshot``, ``accessgraph.db.migrate`` and
``accessgraph.db.import_journal`` (``db.system.name`` = ``postgresql``). A failed call
records its exception and sets the span's status to error. Attributes never hold a
password: a journal URL is shown without it.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from accessgraph import _log
from accessgraph._extras import needs
from accessgraph._mutations import MUTATIONS
from accessgraph.exceptions import PermissionDenied

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["instrument", "is_instrumented", "uninstrument"]

_lock = threading.Lock()
_patched: list[tuple[object, str, object, bool]] = []
"""What :func:`instrument` replaced: (owner, name, original, owned), owned when the
original was in the owner's own ``__dict__`` (put back) rather than inherited (deleted)."""
_loading: contextvars.ContextVar[int] = contextvars.ContextVar("accessgraph_loading", default=0)

_LOADS = {
    "load": None,
    "from_json": "json",
    "from_markdown": "markdown",
    "from_csv": "csv",
    "from_posthog": "posthog",
}
_DB_SPANS = {"refresh": "accessgraph.db.refresh", "snapshot": "accessgraph.db.snapshot"}
_EXPORTS = {"save": None, "to_json": "json", "to_markdown": "markdown", "to_csv": "csv"}


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return bool(_patched)


def instrument(
    *,
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
) -> None:
    """Start measuring (see the module): metrics through ``meter_provider`` and spans
    through ``tracer_provider`` (default: OpenTelemetry's global providers). Calling it
    again first undoes the previous call. Needs the ``otel`` extra."""
    with needs("otel", "accessgraph.otel.instrument()"):
        from opentelemetry import metrics, trace
    import accessgraph as ag
    from accessgraph import postgres

    with _lock:
        _undo()
        from accessgraph import __version__

        meter = (meter_provider or metrics.get_meter_provider()).get_meter(
            "accessgraph", __version__
        )
        tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(
            "accessgraph", __version__
        )
        m = _Instruments(meter, tracer)
        for name in ("check", "require", "explain", "check_many"):
            _patch(ag.Graph, name, m.decision(name))
        for name, label in MUTATIONS.items():
            _patch(ag.Graph, name, m.mutation(label))
        for name, fmt in _LOADS.items():
            _patch(ag.Graph, name, m.load(name, fmt), classmethod_=True)
        _patch(ag.Graph, "open", m.open(), classmethod_=True)
        _patch(ag.Graph, "import_registry", m.span("accessgraph.import", format="markdown"))
        for name, fmt in _EXPORTS.items():
            _patch(ag.Graph, name, m.span("accessgraph.export", operation=name, format=fmt))
        _patch(ag.AuditLog, "verify", m.span("accessgraph.audit.verify", events=True))
        for name, fmt in (("to_jsonl", "jsonl"), ("to_csv", "csv")):
            _patch(ag.AuditLog, name, m.span("accessgraph.export", operation=name, format=fmt))
        _patch(
            ag.Review, "to_html", m.span("accessgraph.export", operation="to_html", format="html")
        )
        _patch(postgres, "migrate", m.db_function("accessgraph.db.migrate"), function=True)
        _patch(
            postgres,
            "import_journal",
            m.db_function("accessgraph.db.import_journal"),
            function=True,
        )


def uninstrument() -> None:
    """Stop measuring: put the bare methods back."""
    with _lock:
        _undo()


def _undo() -> None:
    while _patched:
        owner, name, original, owned = _patched.pop()
        if owned:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def _patch(
    owner: Any,
    name: str,
    wrapper: Wrapper,
    *,
    classmethod_: bool = False,
    function: bool = False,
) -> None:
    """Replace ``owner.name`` by ``wrapper(original)``, remembering how to undo it."""
    owned = name in vars(owner)
    static = inspect.getattr_static(owner, name)
    if function:
        original: Callable[..., Any] = getattr(owner, name)
        setattr(owner, name, wrapper(original))
    elif classmethod_:
        descriptor = static

        def bound(cls: type, *args: Any, **kwargs: Any) -> Any:
            return descriptor.__get__(None, cls)(*args, **kwargs)

        inner = wrapper(bound)
        setattr(owner, name, classmethod(inner))
    else:
        setattr(owner, name, wrapper(static))
    _patched.append((owner, name, static, owned))


class _Instruments:
    """The meter's instruments and the tracer, and the wrappers that use them."""

    def __init__(self, meter: Any, tracer: Any) -> None:
        from opentelemetry.trace import SpanKind

        self.tracer = tracer
        self.client = SpanKind.CLIENT
        self.internal = SpanKind.INTERNAL
        self.tally = _tally_of(meter)
        self.mutations = meter.create_histogram(
            "accessgraph.mutation.duration",
            unit="s",
            description="Time a mutation took, journal write included.",
        )
        self.loads = meter.create_histogram(
            "accessgraph.load.duration",
            unit="s",
            description="Time a load or journal open took.",
        )

    def decision(self, name: str) -> Wrapper:
        counts = self.tally.counts
        lock = self.tally.lock

        def wrap(core: Callable[..., Any]) -> Callable[..., Any]:
            if name == "check_many":

                def check_many(
                    self: Any, queries: Iterable[tuple[Any, str, str]], at: Any = None
                ) -> list[bool]:
                    queries = list(queries)
                    answers: list[bool] = core(self, queries, at)
                    with lock:
                        for (_, action, _), allowed in zip(queries, answers, strict=True):
                            key = (allowed, action)
                            counts[key] = counts.get(key, 0) + 1
                    return answers

                return check_many
            if name == "require":

                def require(self: Any, user: Any, action: str, target: str, at: Any = None) -> None:
                    allowed = False
                    try:
                        core(self, user, action, target, at)
                        allowed = True
                    finally:
                        key = (allowed, action)
                        with lock:
                            counts[key] = counts.get(key, 0) + 1

                return require

            def decide(self: Any, user: Any, action: str, target: str, at: Any = None) -> Any:
                out = core(self, user, action, target, at)
                key = (True if out else False, action)  # noqa: SIM210 - a Decision is truthy
                with lock:
                    counts[key] = counts.get(key, 0) + 1
                return out

            decide.__name__ = name
            return decide

        return wrap

    def mutation(self, label: str) -> Wrapper:
        record = self.mutations.record
        tracer = self.tracer
        client = self.client
        ok = {"accessgraph.operation": label, "accessgraph.outcome": "ok"}
        denied = {"accessgraph.operation": label, "accessgraph.outcome": "denied"}
        error = {"accessgraph.operation": label, "accessgraph.outcome": "error"}
        span_name = _DB_SPANS.get(label, "accessgraph.db.mutation")

        def wrap(core: Callable[..., Any]) -> Callable[..., Any]:
            def mutate(self: Any, *args: Any, **kw: Any) -> Any:
                url = self.journal_url
                start = time.perf_counter()
                outcome = error
                try:
                    if url is None:
                        out = core(self, *args, **kw)
                    else:
                        with _span(
                            tracer,
                            span_name,
                            kind=client,
                            attributes={
                                "db.system.name": "postgresql",
                                "accessgraph.operation": label,
                                "accessgraph.journal": _log.shown(url),
                            },
                        ):
                            out = core(self, *args, **kw)
                    outcome = ok
                    return out
                except PermissionDenied:
                    outcome = denied
                    raise
                finally:
                    record(time.perf_counter() - start, outcome)

            mutate.__name__ = getattr(core, "__name__", label)
            return mutate

        return wrap

    def load(self, name: str, fmt: str | None) -> Wrapper:
        record = self.loads.record
        tracer = self.tracer

        def wrap(core: Callable[..., Any]) -> Callable[..., Any]:
            def load(cls: type, *args: Any, **kw: Any) -> Any:
                kind = fmt or _load_format(args, kw)
                attrs = {"accessgraph.operation": name, "accessgraph.format": kind or "unknown"}
                depth = _loading.get()
                token = _loading.set(depth + 1)
                start = time.perf_counter()
                try:
                    with _span(tracer, "accessgraph.load", attributes=attrs):
                        return core(cls, *args, **kw)
                finally:
                    _loading.reset(token)
                    if depth == 0:
                        record(time.perf_counter() - start, attrs)

            load.__name__ = name
            return load

        return wrap

    def open(self) -> Wrapper:
        record = self.loads.record
        tracer = self.tracer
        client = self.client
        internal = self.internal

        def wrap(core: Callable[..., Any]) -> Callable[..., Any]:
            def open_(cls: type, path: Any, *args: Any, **kw: Any) -> Any:
                from accessgraph.postgres import is_url

                db = is_url(path)
                attrs: dict[str, str] = {
                    "accessgraph.operation": "open",
                    "accessgraph.format": "postgresql" if db else "journal",
                    "accessgraph.journal": _log.shown(str(path)),
                }
                if db:
                    attrs["db.system.name"] = "postgresql"
                token = _loading.set(_loading.get() + 1)
                start = time.perf_counter()
                try:
                    with _span(
                        tracer,
                        "accessgraph.journal.open",
                        kind=client if db else internal,
                        attributes=attrs,
                    ):
                        return core(cls, path, *args, **kw)
                finally:
                    _loading.reset(token)
                    record(
                        time.perf_counter() - start,
                        {k: v for k, v in attrs.items() if k != "accessgraph.journal"},
                    )

            open_.__name__ = "open"
            return open_

        return wrap

    def span(
        self,
        span_name: str,
        *,
        operation: str | None = None,
        format: str | None = None,
        events: bool = False,
    ) -> Wrapper:
        tracer = self.tracer

        def wrap(core: Callable[..., Any]) -> Callable[..., Any]:
            def traced(self: Any, *args: Any, **kw: Any) -> Any:
                attrs: dict[str, Any] = {}
                if operation is not None:
                    attrs["accessgraph.operation"] = operation
                kind = format or _save_format(args, kw)
                if kind is not None:
                    attrs["accessgraph.format"] = kind
                with _span(tracer, span_name, attributes=attrs) as span:
                    if events:
                        span.set_attribute("accessgraph.events", len(self))
                    return core(self, *args, **kw)

            traced.__name__ = getattr(core, "__name__", span_name)
            return traced

        return wrap

    def db_function(self, span_name: str) -> Wrapper:
        tracer = self.tracer
        client = self.client

        def wrap(core: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kw: Any) -> Any:
                url = kw.get("url", args[-1] if args else "")
                attrs = {
                    "db.system.name": "postgresql",
                    "accessgraph.journal": _log.shown(str(url)),
                }
                with _span(tracer, span_name, kind=client, attributes=attrs):
                    return core(*args, **kw)

            call.__name__ = getattr(core, "__name__", span_name)
            return call

        return wrap


class _Tally:
    """The decisions counted in this process, by ``(allowed, action)``, reported by an
    observable counter (a cumulative sum) when the meter collects. A decision costs a
    dict update under a lock (about 100 ns); the SDK's ``Counter.add`` costs
    microseconds, far more than the check it would count."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[bool, str], int] = {}

    def observe(self, options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        with self.lock:
            items = sorted(self.counts.items())
        for (allowed, action), n in items:
            yield Observation(n, {"result": "allowed" if allowed else "denied", "action": action})


_tallies: dict[int, tuple[Any, _Tally]] = {}
"""One tally per meter (an observable counter cannot be taken back from a meter, so
instrumenting again with the same meter keeps counting into the same one)."""


def _tally_of(meter: Any) -> _Tally:
    known = _tallies.get(id(meter))
    if known is not None and known[0] is meter:
        return known[1]
    tally = _Tally()
    meter.create_observable_counter(
        "accessgraph.decisions",
        callbacks=[tally.observe],
        unit="{decision}",
        description="Access decisions, by result and action (never by user).",
    )
    _tallies[id(meter)] = (meter, tally)
    return tally


@contextmanager
def _span(tracer: Any, name: str, *, attributes: dict[str, Any], kind: Any = None) -> Iterator[Any]:
    """A span whose failure is recorded without any password (the exception's message and
    traceback scrubbed), unlike OpenTelemetry's own recording."""
    extra = {} if kind is None else {"kind": kind}
    with tracer.start_as_current_span(
        name,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
        **extra,
    ) as span:
        try:
            yield span
        except BaseException as e:
            from opentelemetry.trace import Status, StatusCode

            message = _log.scrub(str(e))
            trace_text = _log.scrub("".join(traceback.format_exception(e)))
            span.record_exception(
                e, attributes={"exception.message": message, "exception.stacktrace": trace_text}
            )
            span.set_status(Status(StatusCode.ERROR, f"{type(e).__name__}: {message}"))
            raise


def _load_format(args: tuple[Any, ...], kw: dict[str, Any]) -> str | None:
    """The format ``Graph.load`` will read, as it tells (``None`` when it cannot)."""
    from accessgraph import _formats

    try:
        return _formats.detect(args[0] if args else kw["path"], kw.get("format"))
    except Exception:
        return None


def _save_format(args: tuple[Any, ...], kw: dict[str, Any]) -> str | None:
    from accessgraph import _formats

    path = args[0] if args else kw.get("path")
    if path is None:
        return None
    try:
        return _formats.savable(path, kw.get("format"))
    except Exception:
        return None
