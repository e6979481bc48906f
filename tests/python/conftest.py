"""What several test files share: the repository's paths, the README's examples, and
the example graphs (as fixtures).

Test files import the plain names (``from conftest import EXAMPLES``); pytest hands them
the fixtures. A module that defines a fixture of the same name (``g``) uses its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import accessgraph as ag

T0 = "2024-05-01T00:00:00Z"

ROOT = Path(__file__).resolve().parents[2]
"""The repository."""
EXAMPLES = ROOT / "examples"
POSTHOG = ROOT / "tests" / "fixtures" / "posthog"
"""PostHog REST API responses: ``org_members.json``, ``production_explicit_members.json``."""
SCHEMA_PATH = ROOT / "docs" / "accessgraph.schema.json"
SEED_MARKDOWN = (EXAMPLES / "seed_registry.md").read_text(encoding="utf-8")
"""The seed access registry (SPEC 5.1) as ``examples/`` ships it."""

OWNER = "owner@acme.io"
ADMIN = "admin@acme.io"
MEMBER = "member@acme.io"


def readme_block(heading: str, doc: str = "README.md") -> str:
    """The first Python block under the ``heading`` line of ``doc`` (a path from the
    repository root: the README, or a page under docs/)."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    after = text.split(f"\n{heading}\n", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def small_journal(path: Path, hmac_key: bytes | None = None) -> ag.Graph:
    """A journal at ``path`` holding five events: org acme of jane@example.com, project
    acme/prod, bob@example.com a member with viewer on it. Returns the graph, still open."""
    g = ag.Graph.open(path, hmac_key=hmac_key)
    g.add_org("acme", name="Acme", owner="jane@example.com")
    g.add_project("acme/prod", name="Prod")
    g.add_member("bob@example.com", "acme", actor="jane@example.com")
    g.grant("bob@example.com", "acme/prod", "viewer", actor="jane@example.com")
    return g


def grants(g: ag.Graph, user: str) -> dict[str, str]:
    """``user``'s grants as ``{target: role}``."""
    return {x.target: x.role for x in g.grants(user=user)}


@pytest.fixture
def g() -> ag.Graph:
    """Org ``acme`` ("Acme") of :data:`OWNER`, :data:`ADMIN` and :data:`MEMBER`, with
    Production (restricted, pii), Staging and Development, each with its environment;
    no grants; the clock at 2024-05-01."""
    g = ag.Graph()
    g.set_time("2024-05-01")
    g.add_org("acme", name="Acme", owner=OWNER)
    g.add_member(ADMIN, "acme", role="admin")
    g.add_member(MEMBER, "acme")
    g.add_project(
        "acme/production", name="Production", environment="production", restricted=True, pii=True
    )
    g.add_project("acme/staging", name="Staging", environment="staging")
    g.add_project("acme/development", name="Development", environment="development")
    return g


@pytest.fixture
def acme() -> ag.Graph:
    """The example org: owners, admins, members, viewers, a contractor, three projects."""
    g = ag.Graph()
    g.set_time(T0)
    g.add_org("acme", name="Acme Corp", owner="jane@example.com")
    g.add_member("john@example.com", "acme", role="owner", title="VP Engineering")
    g.add_project(
        "acme/production",
        name="Production",
        environment="production",
        restricted=True,
        pii=True,
    )
    g.add_project("acme/staging", name="Staging", environment="staging")
    g.add_project("acme/development", name="Development", environment="development")
    g.add_member("alice@example.com", "acme", role="admin", actor="jane@example.com")
    g.add_member("bob@example.com", "acme", role="admin", actor="jane@example.com")
    for who in ("charlie", "diana", "evan"):
        g.add_member(f"{who}@example.com", "acme", actor="alice@example.com")
    g.grant("charlie@example.com", "acme/development", "member", actor="alice@example.com")
    g.grant("charlie@example.com", "acme/production", "viewer", actor="alice@example.com")
    g.grant("diana@example.com", "acme/*", "member", actor="alice@example.com")
    g.add_member("ceo@example.com", "acme", actor="alice@example.com", title="CEO")
    g.grant("ceo@example.com", "acme/*", "viewer", actor="alice@example.com")
    g.add_member(
        "consultant@agency.com",
        "acme",
        actor="alice@example.com",
        external=True,
        expires="2024-06-01",
        title="Marketing Consultant",
    )
    g.grant("consultant@agency.com", "acme/staging", "member", actor="alice@example.com")
    return g


# --- the independent verifier (tests/journal_verifier.py) on every journal and export ---
#
# Every journal and JSON Lines export a test leaves (under its tmp_path, or opened through
# Graph.open anywhere) is checked twice when the test ends: by accessgraph (on a copy:
# Graph.open, then audit.verify(); AuditLog.load(...).verify()) and by the independent
# verifier, written from docs/journal-format.md alone. Both must accept it or both refuse
# it, with no key and with each key the test used; a disagreement fails the test at
# teardown. The session's end sweeps the base temporary directory for anything left.

_OPENED: list[tuple[Path, bytes | None]] = []
"""(journal, key) of every Graph.open / Graph.load of a journal during the current test."""
_KEYS: set[bytes] = set()
"""Every key the current test gave Graph.open or AuditLog.load."""
_CHECKED: dict[Path, tuple[int, int]] = {}
"""Files already checked, with the (size, mtime) they had."""
_AGREED: dict[str, int] = {"journal": 0, "export": 0, "refused by both": 0}
"""How many checks agreed, for the summary."""


def _record_opens() -> Any:
    """Wraps Graph._open and AuditLog.load to note the files and keys tests use."""
    core_open = ag.Graph.__dict__.get("_open")
    load = ag.AuditLog.__dict__["load"]

    def _open(cls: type[ag.Graph], path: str, **kw: Any) -> Any:
        key = kw.get("hmac_key")
        _OPENED.append((Path(path), key))
        if key is not None:
            _KEYS.add(bytes(key))
        return super(ag.Graph, cls)._open(path, **kw)

    def _load(cls: type[ag.AuditLog], path: Any, *, hmac_key: bytes | None = None) -> Any:
        if hmac_key is not None:
            _KEYS.add(bytes(hmac_key))
        return load.__func__(cls, path, hmac_key=hmac_key)

    ag.Graph._open = classmethod(_open)  # type: ignore[method-assign, assignment]
    ag.AuditLog.load = classmethod(_load)  # type: ignore[method-assign, assignment]

    def undo() -> None:
        if core_open is None:
            del ag.Graph._open
        else:
            ag.Graph._open = core_open  # type: ignore[method-assign]
        ag.AuditLog.load = load  # type: ignore[method-assign]

    return undo


def _kind(path: Path) -> str | None:
    """``journal``, ``export``, ``snapshot`` or ``None``, from the file's first and last bytes."""
    try:
        size = path.stat().st_size
        if not path.is_file() or path.is_symlink() or size > 64 << 20:
            return None
        with path.open("rb") as f:
            head = f.read(25)
            f.seek(max(0, size - 4096))
            tail = f.read()
    except OSError:
        return None
    if head.startswith(b'{"accessgraph_journal":'):
        return "journal"
    if head.startswith(b'{"accessgraph_snapshot":'):
        return "snapshot"
    last = tail.rstrip().rsplit(b"\n", 1)[-1]
    if b'"accessgraph_export"' in last and head.startswith(b"{"):
        return "export"
    return None


def _engine(path: Path, kind: str, key: bytes | None, scratch: Path) -> str | None:
    """accessgraph's verdict: ``None`` when it accepts the file, else its error."""
    import shutil
    import warnings

    if kind == "export":
        try:
            ag.AuditLog.load(path, hmac_key=key).verify()
        except ag.AccessGraphError as e:
            return f"{type(e).__name__}: {e}"
        return None
    where = scratch / f"engine{len(list(scratch.iterdir()))}"
    where.mkdir()
    copy = where / path.name
    shutil.copyfile(path, copy)
    for extra in (".checkpoint", ".snapshot"):
        if Path(f"{path}{extra}").is_file():
            shutil.copyfile(f"{path}{extra}", f"{copy}{extra}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph, _ = ag._core.Graph._open(str(copy), durability="os", hmac_key=key)
            graph._audit_verify()
    except ag.AccessGraphError as e:
        return f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(where, ignore_errors=True)
    return None


def _independent(path: Path, kind: str, key: bytes | None) -> str | None:
    """The independent verifier's verdict."""
    import journal_verifier as jv

    try:
        if kind == "export":
            jv.verify_export(path, key)
        else:
            jv.verify_journal(path, key)
    except jv.Invalid as e:
        return str(e)
    return None


def check_with_the_independent_verifier(paths: list[Path], keys: set[bytes]) -> list[str]:
    """Checks each journal and export among ``paths`` (and under any directory among
    them) with accessgraph and the independent verifier; returns their disagreements."""
    import tempfile

    files: set[Path] = set()
    for p in paths:
        if p.is_dir():
            files.update(x for x in p.rglob("*") if "verifier-scratch" not in x.parts)
        elif p.exists():
            files.add(p)
    problems = []
    with tempfile.TemporaryDirectory(prefix="verifier-scratch") as tmp:
        scratch = Path(tmp)
        for f in sorted(files):
            kind = _kind(f)
            try:
                stamp = (f.stat().st_size, f.stat().st_mtime_ns)
            except OSError:
                continue
            if kind not in ("journal", "export") or _CHECKED.get(f) == stamp:
                continue
            _CHECKED[f] = stamp
            tries: list[bytes | None] = [None, *sorted(keys)]
            for key in tries:
                ours, theirs = _engine(f, kind, key, scratch), _independent(f, kind, key)
                if (ours is None) == (theirs is None):
                    _AGREED[kind] += 1
                    _AGREED["refused by both"] += ours is not None
                else:
                    problems.append(
                        f"{f} ({kind}, key {key!r}): accessgraph "
                        f"{'accepts' if ours is None else 'refuses: ' + ours}; the independent "
                        f"verifier {'accepts' if theirs is None else 'refuses: ' + theirs}"
                    )
    return problems


@pytest.fixture(scope="session", autouse=True)
def _independent_verifier_session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Installs the recording wrappers; at the end, sweeps what no test's check saw."""
    undo = _record_opens()
    keys: set[bytes] = set()
    yield keys
    undo()
    problems = check_with_the_independent_verifier([tmp_path_factory.getbasetemp()], keys)
    if problems:
        pytest.fail("the independent verifier disagrees:\n" + "\n".join(problems))


@pytest.fixture(autouse=True)
def _independent_verifier(
    request: pytest.FixtureRequest, _independent_verifier_session: set[bytes]
) -> Any:
    """After each test: its journals and exports, checked by both verifiers."""
    _OPENED.clear()
    _KEYS.clear()
    # Asked for before the test runs, so that it is still there when this checks it.
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    paths = [p for p, _ in _OPENED] + ([tmp] if tmp is not None else [])
    _independent_verifier_session.update(_KEYS)
    problems = check_with_the_independent_verifier(paths, set(_KEYS))
    if problems:
        pytest.fail("the independent verifier disagrees:\n" + "\n".join(problems))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line: how many journals and exports both verifiers checked."""
    if _AGREED["journal"] or _AGREED["export"]:
        terminalreporter.write_line(
            f"independent verifier: {_AGREED['journal']} journal and {_AGREED['export']} "
            f"export checks agreed with accessgraph ({_AGREED['refused by both']} refused by "
            "both)"
        )
