"""``logging.getLogger("accessgraph")``: denied mutations, journal recovery, an unreachable
shared journal and the reconnection, fail-stop: each one structured line, never a secret
or a password."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pg_cluster
import pytest
from test_postgres import cluster, db, url  # noqa: F401  (the PostgreSQL fixtures)

import accessgraph as ag

OWNER = "jane@example.com"
PASSWORDS = ("s3cret-pass", "s3cret-query")
BAD_URL = "postgresql://app:s3cret-pass@127.0.0.1:1/db?connect_timeout=1&password=s3cret-query"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="accessgraph")
    return caplog


def _ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "accessgraph"]


def _everything(records: list[logging.LogRecord]) -> str:
    """Every record whole: message, arguments and extra fields."""
    return "\n".join(repr(vars(r)) + r.getMessage() for r in records)


def test_a_denied_mutation_is_one_structured_line(logs: pytest.LogCaptureFixture) -> None:
    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    g.add_member("bob@example.com", "acme")
    assert _ours(logs) == []  # what went through is not logged
    with pytest.raises(ag.PermissionDenied) as denied:
        g.add_member("eve@example.com", "acme", actor="bob@example.com")
    (record,) = _ours(logs)
    assert record.levelno == logging.WARNING
    reason = str(denied.value)
    assert record.getMessage() == (
        "event=mutation.denied method=add_member actor=bob@example.com "
        f'action=org:invite_member target=acme reason="{reason}"'
    )
    assert "\n" not in record.getMessage()
    assert record.accessgraph == {  # type: ignore[attr-defined]
        "event": "mutation.denied",
        "method": "add_member",
        "actor": "bob@example.com",
        "action": "org:invite_member",
        "target": "acme",
        "reason": reason,
    }


def test_checks_log_nothing(logs: pytest.LogCaptureFixture) -> None:
    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    assert not g.check("eve@example.com", "org:view", "acme")
    with pytest.raises(ag.PermissionDenied):
        g.require("eve@example.com", "org:view", "acme")
    assert _ours(logs) == []


def test_no_key_secret_reaches_the_logs(logs: pytest.LogCaptureFixture) -> None:
    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web", name="Web")
    g.add_member("bob@example.com", "acme")
    key, secret = g.create_personal_key("bob@example.com", "ci", actor="bob@example.com")
    project_secret = g.project_key("acme/web")
    assert g.authenticate(secret) is not None
    with pytest.raises(ag.PermissionDenied):
        g.rotate_personal_key(key, actor="mallory@example.com")
    with pytest.raises(ag.PermissionDenied):
        g.rotate_project_key("acme/web", actor="bob@example.com")
    with pytest.raises(ag.PermissionDenied):
        g.create_personal_key("bob@example.com", "x", actor="mallory@example.com")
    records = _ours(logs)
    assert [r.accessgraph["method"] for r in records] == [  # type: ignore[attr-defined]
        "rotate_personal_key",
        "rotate_project_key",
        "create_personal_key",
    ]
    text = _everything(records)
    assert secret not in text and project_secret not in text
    assert secret[-12:] not in text  # not even a piece of it


def test_journal_recovery_is_logged_by_open_and_by_load(
    logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    path = tmp_path / "access.journal"
    g = ag.Graph.open(path)
    g.add_org("acme", owner=OWNER)
    del g
    with path.open("ab") as f:
        f.write(b'{"seq": 3, "torn')
    lines = len(path.read_bytes().splitlines())
    with pytest.warns(ag.JournalRecoveredWarning):
        ag.Graph.load(path)
    with pytest.warns(ag.JournalRecoveredWarning):
        ag.Graph.open(path)
    left_out, cut_off = _ours(logs)
    assert left_out.levelno == cut_off.levelno == logging.WARNING
    assert left_out.getMessage() == (
        f'event=journal.recovered journal={path} line={lines} how="left out"'
    )
    assert (
        cut_off.getMessage() == f'event=journal.recovered journal={path} line={lines} how="cut off"'
    )


FAIL_STOP = """
import json, logging, os, resource, signal, sys
import accessgraph as ag

class Json(logging.Formatter):
    def format(self, record):
        return json.dumps({"level": record.levelname, "message": record.getMessage(),
                           "fields": getattr(record, "accessgraph", None)})

handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(Json())
logging.getLogger("accessgraph").addHandler(handler)
logging.getLogger("accessgraph").setLevel(logging.DEBUG)
path = sys.argv[1]
g = ag.Graph.open(path)
g.add_org("acme", owner="jane@example.com")
# The disk fills up: the next write fails (EFBIG), and the graph stops taking mutations.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 16, resource.RLIM_INFINITY))
for i in range(3):
    try:
        g.add_member(f"user{i}@example.com", "acme", actor="jane@example.com")
    except ag.JournalError:
        pass
assert g.check("jane@example.com", "org:view", "acme")  # reads go on
"""


def test_fail_stop_is_logged_once_at_error(tmp_path: Path) -> None:
    script = tmp_path / "fail_stop.py"
    script.write_text(FAIL_STOP, encoding="utf-8")
    journal = tmp_path / "access.journal"
    proc = subprocess.run(
        [sys.executable, str(script), str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["level"], r["fields"]["event"]) for r in records] == [
        ("ERROR", "journal.fail_stop"),
        ("DEBUG", "journal.fail_stop"),
        ("DEBUG", "journal.fail_stop"),
    ]
    first = records[0]
    assert first["fields"]["journal"] == str(journal)
    assert first["fields"]["method"] == "add_member"
    assert "accepts no more mutations" in first["fields"]["error"]
    assert first["message"].startswith(
        f"event=journal.fail_stop method=add_member journal={journal} "
    )


def test_an_unreachable_database_is_logged_without_its_password(
    logs: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ag.JournalUnavailableError):
        ag.Graph.open(BAD_URL)
    (record,) = _ours(logs)
    assert record.levelno == logging.WARNING
    fields = record.accessgraph  # type: ignore[attr-defined]
    assert fields["event"] == "journal.unavailable" and fields["method"] == "open"
    assert fields["journal"] == (
        "postgresql://app:***@127.0.0.1:1/db?connect_timeout=1&password=***"
    )
    text = _everything([record])
    assert not any(p in text for p in PASSWORDS), text


# Passwords the old scrubbing regex let through: a user part holding `/`, `?` or `#`, a
# percent-encoded parameter name, an upper-case scheme. docs/postgres.md: every URL shown
# passes through `accessgraph.postgres.redact`.
SECRET = "S3cretPW"
LEAKY_URLS = [
    f"postgresql://127.0.0.1:1/db?connect_timeout=1&pass%77ord={SECRET}",
    f"postgresql://127.0.0.1:1/db?connect_timeout=1&%70assword={SECRET}",
    f"postgresql://u:pa/{SECRET}@127.0.0.1:1/db?connect_timeout=1",
    f"postgresql://u:pa?{SECRET}@127.0.0.1:1/db?connect_timeout=1",
    f"postgresql://u:pa#{SECRET}@127.0.0.1:1/db?connect_timeout=1",
    f"postgres://u:{SECRET}@127.0.0.1:1/db?connect_timeout=1",
]


@pytest.mark.parametrize("bad_url", LEAKY_URLS)
def test_an_unreachable_database_is_logged_through_redact(
    logs: pytest.LogCaptureFixture, bad_url: str
) -> None:
    from accessgraph.postgres import redact

    with pytest.raises(ag.JournalUnavailableError) as info:
        ag.Graph.open(bad_url)
    assert SECRET not in str(info.value)
    (record,) = _ours(logs)
    assert record.accessgraph["journal"] == redact(bad_url)  # type: ignore[attr-defined]
    assert SECRET not in _everything([record])


@pytest.mark.parametrize(
    "text",
    [
        *LEAKY_URLS,
        *(u.upper().replace(SECRET.upper(), SECRET) for u in LEAKY_URLS),
        f"POSTGRESQL://u:{SECRET}@db/x",
        f"PostgreS://db/x?PassWord={SECRET}",
        f"cannot open `postgresql://u:pa/{SECRET}@db/x`: refused",
        f"Traceback: open('postgres://db/x?%70assword={SECRET}&graph=g') failed",
        f"two: postgresql://a:{SECRET}@h/x and POSTGRES://h/y?pass%77ord={SECRET}",
    ],
)
def test_scrub_hides_every_password_redact_hides(text: str) -> None:
    # `_log.scrub` is what log lines and the OpenTelemetry span attributes (otel.py) use.
    from accessgraph import _log

    shown = _log.scrub(text)
    assert SECRET not in shown and "***" in shown, shown


def test_scrub_leaves_a_whole_url_as_redact_shows_it() -> None:
    from accessgraph import _log
    from accessgraph.postgres import redact

    for u in LEAKY_URLS:
        assert _log.scrub(u) == redact(u) == _log.shown(u)
    # A journal URL is redacted whole, even with a space in its password.
    assert _log.shown(f"postgresql://u:a {SECRET}@h/db") == "postgresql://u:***@h/db"
    assert _log.scrub("journal=/var/lib/app/access.journal") == (
        "journal=/var/lib/app/access.journal"
    )


def test_unavailable_then_reconnected(
    logs: pytest.LogCaptureFixture,
    cluster: pg_cluster.Cluster,  # noqa: F811
    db: str,  # noqa: F811
) -> None:
    g = ag.Graph.open(url(cluster, db, poll="0.2"))
    g.add_org("acme", owner=OWNER)
    cluster.stop("immediate")
    try:
        with pytest.raises(ag.JournalUnavailableError):
            g.add_member("bob@example.com", "acme", actor=OWNER)
        with pytest.raises(ag.JournalUnavailableError):
            g.refresh()
    finally:
        cluster.start()
    cluster.ready()
    g.add_member("bob@example.com", "acme", actor=OWNER)
    g.add_member("carol@example.com", "acme", actor=OWNER)
    events = [(r.levelname, r.accessgraph["event"], r.accessgraph["method"]) for r in _ours(logs)]  # type: ignore[attr-defined]
    assert events == [
        ("WARNING", "journal.unavailable", "add_member"),
        ("WARNING", "journal.unavailable", "refresh"),
        ("INFO", "journal.reconnected", "add_member"),  # once, by the first call through
    ]
    journal = g.journal_url
    assert journal is not None
    assert all(r.accessgraph["journal"] == journal for r in _ours(logs))  # type: ignore[attr-defined]


def test_the_logger_prints_nothing_until_the_application_configures_logging() -> None:
    code = textwrap.dedent(
        """
        import accessgraph as ag
        g = ag.Graph()
        g.add_org("acme", owner="jane@example.com")
        try:
            g.add_member("eve@example.com", "acme", actor="bob@example.com")
        except ag.PermissionDenied:
            pass
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stderr == "" and proc.stdout == ""


def test_the_docs_show_the_line_the_code_writes(logs: pytest.LogCaptureFixture) -> None:
    from conftest import ROOT

    g = ag.Graph()
    g.add_org("acme", owner=OWNER)
    g.add_member("bob@example.com", "acme")
    with pytest.raises(ag.PermissionDenied):
        g.add_member("eve@example.com", "acme", actor="bob@example.com")
    (record,) = _ours(logs)
    doc = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    assert f"\nWARNING accessgraph {record.getMessage()}\n" in doc
