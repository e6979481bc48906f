"""The PostgreSQL journal over TLS (issue 15): libpq's meaning of every ``ssl*`` URL
parameter, checked against a real server that refuses plaintext, with libpq itself
(``psql``) as the reference for what should connect.

The suite starts its own server (tests/pg_tls.py): ``ssl=on``, a ``pg_hba.conf`` that
rejects every plaintext TCP connection, and certificates made with ``openssl`` for this
run — a CA, a wrong CA of the same name, a server certificate for ``localhost`` only and
a client certificate. Without PostgreSQL or openssl these tests ERROR; they never skip.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pg_cluster
import pg_tls
import pytest

import accessgraph as ag
from accessgraph import postgres as agpg

OWNER = "jane@example.com"
PASSWORD = pg_tls.APP_PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tls() -> Iterator[pg_tls.TlsCluster]:
    """A TLS-only server with its certificates, stopped at the end."""
    pg_cluster.bindir()  # PostgresMissing (the tests ERROR) without PostgreSQL
    base = Path(tempfile.mkdtemp(prefix="ag-pg-tls-"))
    base.chmod(0o755)  # the server runs as the postgres user when we are root
    c = pg_tls.start(base, free_port())
    try:
        yield c
    finally:
        c.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home directory (no ~/.postgresql/root.crt), and no SSL_CERT_FILE."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return h


def libpq_connects(url: str, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """Whether libpq (psql) connects with this URL, and what it said."""
    full = dict(os.environ)
    full.update(env or {})
    full.pop("PGPASSWORD", None)
    psql = str(pg_cluster.bindir() / "psql")
    done = subprocess.run(
        [psql, "-X", "-At", "-c", "SELECT 1", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
        check=False,
    )
    return done.returncode == 0, done.stderr


def libpq_major() -> int:
    """The major version of the libpq psql uses (``sslrootcert=system`` is new in 16)."""
    out = subprocess.run(
        [str(pg_cluster.bindir() / "psql"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return int(out.split()[-1].split(".")[0])


def open_graph(url: str, name: str, **extra: str) -> ag.Graph:
    sep = "&" if "?" in url else "?"
    params = "&".join(f"{k}={v}" for k, v in {"graph": name, "follow": "off", **extra}.items())
    return ag.Graph.open(f"{url}{sep}{params}")


def every_text(exc: BaseException) -> str:
    """Everything an exception shows: its text, repr and args, and those of its causes."""
    parts: list[str] = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts += [str(e), repr(e), *map(repr, e.args)]
        e = e.__cause__ or e.__context__
    return "\n".join(parts)


# --- the matrix: ours against libpq's --------------------------------------------------

# (id, user, host, database, params, connects): `ca`, `wrong` and `missing` stand for the
# CA file, the wrong CA and a path that does not exist; `client` for the client
# certificate and key.
MATRIX: list[tuple[str, str, str, str, dict[str, str], bool]] = [
    ("disable-is-refused", "postgres", "127.0.0.1", "postgres", {"sslmode": "disable"}, False),
    ("allow-falls-back-to-tls", "postgres", "127.0.0.1", "postgres", {"sslmode": "allow"}, True),
    ("prefer-by-default", "postgres", "127.0.0.1", "postgres", {}, True),
    ("prefer", "postgres", "127.0.0.1", "postgres", {"sslmode": "prefer"}, True),
    (
        "prefer-wrong-ca-then-plaintext-refused",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "prefer", "sslrootcert": "wrong"},
        False,
    ),
    ("require-checks-nothing", "postgres", "127.0.0.1", "postgres", {"sslmode": "require"}, True),
    (
        "require-with-root-checks-the-chain-not-the-name",
        "postgres",
        "127.0.0.1",
        "postgres",
        {"sslmode": "require", "sslrootcert": "ca"},
        True,
    ),
    (
        "require-with-the-wrong-ca",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "require", "sslrootcert": "wrong"},
        False,
    ),
    (
        "verify-ca-by-ip",
        "postgres",
        "127.0.0.1",
        "postgres",
        {"sslmode": "verify-ca", "sslrootcert": "ca"},
        True,
    ),
    (
        "verify-ca-wrong-ca",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "verify-ca", "sslrootcert": "wrong"},
        False,
    ),
    (
        "verify-ca-without-a-root-file",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "verify-ca"},
        False,
    ),
    (
        "verify-ca-root-file-missing",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "verify-ca", "sslrootcert": "missing"},
        False,
    ),
    (
        "verify-full-by-name",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "verify-full", "sslrootcert": "ca"},
        True,
    ),
    (
        "verify-full-host-name-mismatch",
        "postgres",
        "127.0.0.1",
        "postgres",
        {"sslmode": "verify-full", "sslrootcert": "ca"},
        False,
    ),
    (
        "verify-full-wrong-ca",
        "postgres",
        "localhost",
        "postgres",
        {"sslmode": "verify-full", "sslrootcert": "wrong"},
        False,
    ),
    (
        "system-roots-lack-a-private-ca",
        "postgres",
        "localhost",
        "postgres",
        {"sslrootcert": "system"},
        False,
    ),
    (
        "client-certificate",
        "certuser",
        "localhost",
        "certs",
        {"sslmode": "verify-full", "sslrootcert": "ca", "sslcert": "client", "sslkey": "client"},
        True,
    ),
    (
        "client-certificate-missing",
        "certuser",
        "localhost",
        "certs",
        {"sslmode": "verify-full", "sslrootcert": "ca"},
        False,
    ),
    (
        "client-certificate-file-absent-is-no-certificate",
        "certuser",
        "localhost",
        "certs",
        {"sslmode": "require", "sslcert": "missing", "sslkey": "missing"},
        False,
    ),
    (
        "password-over-verify-full",
        f"app:{PASSWORD}",
        "localhost",
        "app",
        {"sslmode": "verify-full", "sslrootcert": "ca"},
        True,
    ),
    (
        "password-in-the-query",
        "app",
        "localhost",
        "app",
        {"sslmode": "verify-full", "sslrootcert": "ca", "password": PASSWORD},
        True,
    ),
    (
        "wrong-password",
        "app:not-the-password",
        "localhost",
        "app",
        {"sslmode": "require"},
        False,
    ),
]


def resolve(tls: pg_tls.TlsCluster, params: dict[str, str]) -> dict[str, str]:
    files = {
        ("sslrootcert", "ca"): tls.pki.ca,
        ("sslrootcert", "wrong"): tls.pki.wrong_ca,
        ("sslcert", "client"): tls.pki.client_cert,
        ("sslkey", "client"): tls.pki.client_key,
    }
    out = {}
    for k, v in params.items():
        if v == "missing":
            out[k] = str(tls.base / "no-such-file")
        else:
            out[k] = str(files.get((k, v), v))
    return out


@pytest.mark.parametrize(
    ("user", "host", "db", "params", "connects"),
    [pytest.param(*case[1:], id=case[0]) for case in MATRIX],
)
def test_each_mode_connects_exactly_when_libpq_does(
    tls: pg_tls.TlsCluster,
    home: Path,
    user: str,
    host: str,
    db: str,
    params: dict[str, str],
    connects: bool,
    request: pytest.FixtureRequest,
) -> None:
    name = request.node.callspec.id
    u = tls.tls_url(user, host, db, **resolve(tls, params))
    # libpq, the reference, agrees with the expectation (before 16 it read
    # sslrootcert=system as a file name)…
    if params.get("sslrootcert") != "system" or libpq_major() >= 16:
        ok, said = libpq_connects(u)
        assert ok == connects, said
    else:
        said = f"libpq {libpq_major()} predates sslrootcert=system"
    # …and so do we.
    app = "t" + os.urandom(4).hex()
    try:
        g = open_graph(u, name, application_name=app)
    except ag.AccessGraphError as exc:
        assert not connects, every_text(exc)
        # The server refused (unavailable), or the URL names a root file that is not there
        # for a mode that needs one (a ValidationError naming sslrootcert).
        if "root-file" in name:
            assert isinstance(exc, ag.ValidationError), every_text(exc)
            assert "invalid sslrootcert" in str(exc)
        else:
            assert isinstance(exc, ag.JournalUnavailableError), every_text(exc)
        assert PASSWORD not in every_text(exc)
        return
    assert connects, f"connected, but libpq does not: {said}"
    g.add_org("acme", owner=OWNER)
    # Encrypted (the server refuses plaintext anyway: this says it was TLS that worked).
    assert {row.split("|")[0] for row in tls.ssl_of(app)} == {"t"}
    assert PASSWORD not in (g.journal_url or "") and PASSWORD not in repr(g)


def test_a_client_certificate_is_presented(tls: pg_tls.TlsCluster, home: Path) -> None:
    u = tls.tls_url(
        "certuser",
        "localhost",
        "certs",
        **resolve(tls, {"sslmode": "verify-full", "sslrootcert": "ca", "sslcert": "client"}),
        sslkey=str(tls.pki.client_key),
        application_name="clientcert",
    )
    g = open_graph(u, "clientcert")
    g.add_org("acme", owner=OWNER)
    assert tls.ssl_of("clientcert") == ["t|/CN=certuser"]


def test_the_default_files_in_the_home_directory_are_used(
    tls: pg_tls.TlsCluster, home: Path
) -> None:
    dot = home / ".postgresql"
    dot.mkdir()
    # ~/.postgresql/root.crt: `require` then checks the chain, as libpq does.
    shutil.copy(tls.pki.wrong_ca, dot / "root.crt")
    u = tls.tls_url("postgres", "localhost", "postgres", sslmode="require")
    assert not libpq_connects(u)[0]
    with pytest.raises(ag.JournalUnavailableError, match="certificate"):
        open_graph(u, "home-wrong")
    shutil.copy(tls.pki.ca, dot / "root.crt")
    assert libpq_connects(u)[0]
    open_graph(u, "home-right").add_org("acme", owner=OWNER)
    # ~/.postgresql/postgresql.crt and .key: the client certificate.
    c = tls.tls_url("certuser", "localhost", "certs", sslmode="verify-full")
    assert not libpq_connects(c)[0]
    shutil.copy(tls.pki.client_cert, dot / "postgresql.crt")
    shutil.copy(tls.pki.client_key, dot / "postgresql.key")
    (dot / "postgresql.key").chmod(0o600)
    assert libpq_connects(c)[0]
    open_graph(c, "home-cert").add_org("acme", owner=OWNER)


def test_a_der_root_file_is_refused_as_libpq_does(
    tls: pg_tls.TlsCluster, home: Path, tmp_path: Path
) -> None:
    der = tmp_path / "ca.der"
    subprocess.run(
        ["openssl", "x509", "-in", str(tls.pki.ca), "-outform", "DER", "-out", str(der)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    u = tls.tls_url(
        "postgres", "localhost", "postgres", sslmode="verify-full", sslrootcert=str(der)
    )
    # libpq reads root certificates as PEM only.
    assert not libpq_connects(u)[0]
    with pytest.raises(ag.ValidationError, match=r"invalid sslrootcert .*PEM"):
        open_graph(u, "der")


def test_system_roots_are_the_platforms(
    tls: pg_tls.TlsCluster, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sslrootcert=system reads the platform's store, which SSL_CERT_FILE redefines (for
    # OpenSSL as for us); its default sslmode is verify-full, so the name is checked.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.pki.ca))
    by_name = tls.tls_url("postgres", "localhost", "postgres", sslrootcert="system")
    by_ip = tls.tls_url("postgres", "127.0.0.1", "postgres", sslrootcert="system")
    if libpq_major() >= 16:
        assert libpq_connects(by_name)[0] and not libpq_connects(by_ip)[0]
    open_graph(by_name, "system").add_org("acme", owner=OWNER)
    with pytest.raises(ag.JournalUnavailableError, match=r"127\.0\.0\.1"):
        open_graph(by_ip, "system-ip")


def test_plaintext_is_refused_and_said_so(tls: pg_tls.TlsCluster, home: Path) -> None:
    u = tls.tls_url(f"app:{PASSWORD}", "127.0.0.1", "app", sslmode="disable")
    with pytest.raises(ag.JournalUnavailableError, match="no encryption") as info:
        open_graph(u, "plain")
    assert PASSWORD not in every_text(info.value)


def test_a_weak_key_file_is_refused(tls: pg_tls.TlsCluster, home: Path, tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    shutil.copy(tls.pki.client_key, key)
    key.chmod(0o644)
    u = tls.tls_url(
        "certuser",
        "localhost",
        "certs",
        sslmode="require",
        sslcert=str(tls.pki.client_cert),
        sslkey=str(key),
    )
    assert not libpq_connects(u)[0]
    with pytest.raises(ag.ValidationError, match=r"invalid sslkey .*group or world"):
        open_graph(u, "weak-key")
    key.unlink()
    with pytest.raises(ag.ValidationError, match=r"invalid sslkey .*certificate present"):
        open_graph(u, "no-key")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sslmode=bogus", "sslmode"),
        ("sslmode=verify-ca", "sslrootcert"),
        ("sslmode=verify-full&sslrootcert={missing}", "sslrootcert"),
        ("sslmode=verify_full", "sslmode"),
        ("sslmode=verify-ca&sslrootcert=system", "sslmode"),
        ("sslmode=require&sslrootcert=system", "sslmode"),
        ("sslnegotiation=direct", "sslmode"),
        ("sslnegotiation=direct&sslmode=allow", "sslmode"),
        ("sslnegotiation=sideways", "sslnegotiation"),
        ("sslsni=yes", "sslsni"),
        ("sslmode=require&sslcert={cert}&sslkey={missing}", "sslkey"),
        ("sslmode=require&sslcert={garbage}&sslkey={key}", "sslcert"),
        ("sslmode=require&sslcert={cert}&sslkey={garbage}", "sslkey"),
        ("sslmode=require&sslrootcert={garbage}", "sslrootcert"),
        ("sslmode=verify-full&sslrootcert={key}", "sslrootcert"),
    ],
)
def test_bad_tls_parameters_are_validation_errors_naming_them(
    tls: pg_tls.TlsCluster, home: Path, tmp_path: Path, query: str, field: str
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    garbage.chmod(0o600)
    query = query.format(
        cert=tls.pki.client_cert,
        key=tls.pki.client_key,
        garbage=garbage,
        missing=tmp_path / "missing.pem",
    )
    u = f"postgresql://app:{PASSWORD}@localhost:{tls.port}/app?{query}"
    with pytest.raises(ag.ValidationError, match=f"invalid {field} ") as info:
        ag.Graph.open(u)
    assert PASSWORD not in every_text(info.value)


def test_direct_negotiation_is_accepted_with_require(tls: pg_tls.TlsCluster, home: Path) -> None:
    # PostgreSQL 17 speaks TLS at once (sslnegotiation=direct); this older server does
    # not, so the handshake fails: what matters is that the URL is taken and tried.
    version = int(tls.psql("SHOW server_version_num"))
    u = tls.tls_url("postgres", "localhost", "postgres", sslmode="require")
    if version >= 170000:
        open_graph(u + "&sslnegotiation=direct", "direct").add_org("acme", owner=OWNER)
    else:
        with pytest.raises(ag.JournalUnavailableError):
            open_graph(u + "&sslnegotiation=direct", "direct")


# --- no password anywhere ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:{pw}@127.0.0.1:{port}/app?sslmode=disable",
        "postgresql://app@127.0.0.1:{port}/app?sslmode=disable&password={pw}",
        "postgres://app:{pw}@localhost:{port}/app?sslmode=verify-full&sslrootcert={wrong}",
        "postgresql://app:{pw}@localhost:{port}/app?sslmode=verify-full",
        "postgresql://app:{pw}@localhost:{port}/app?sslmode=bogus",
        "postgresql://app:{pw}@localhost:{port}/app?nonsense=1",
        "postgresql://app:{pw}@localhost:{port}/app?graph=a%20b",
        "postgresql://app:{pw}@localhost:{port}/app?sslmode=require&sslcert={wrong}",
        "postgresql://app:{pw}@localhost:{free}/app",
        "postgresql://app:wrong-{pw}@localhost:{port}/app?sslmode=require",
    ],
)
def test_a_password_never_shows(
    tls: pg_tls.TlsCluster,
    home: Path,
    url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from accessgraph.django import conf

    u = url.format(pw=PASSWORD, port=tls.port, wrong=tls.pki.wrong_ca, free=free_port())
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ag.AccessGraphError) as info:
        ag.Graph.open(u)
    assert PASSWORD not in every_text(info.value)
    # The Django error names the setting and the URL, password hidden.
    with pytest.raises(Exception, match=r"ACCESSGRAPH\['JOURNAL'\]") as django_info:
        conf._load(conf._parse({"JOURNAL": u}))
    assert PASSWORD not in every_text(django_info.value)
    assert "***" in str(django_info.value)
    assert PASSWORD not in caplog.text


def test_a_graph_shows_its_url_without_the_password(tls: pg_tls.TlsCluster, home: Path) -> None:
    ca = tls.pki.ca
    for u in (
        f"postgresql://app:{PASSWORD}@localhost:{tls.port}/app?sslmode=verify-full&sslrootcert={ca}",
        f"postgresql://app@localhost:{tls.port}/app?password={PASSWORD}&sslrootcert={ca}&sslmode=verify-full",
    ):
        u += "&graph=shown&follow=on"
        g = ag.Graph.open(u)
        shown = g.journal_url or ""
        assert PASSWORD not in shown and "***" in shown
        assert shown.startswith("postgresql://app") and "sslmode=verify-full" in shown
        assert PASSWORD not in repr(g)
        assert agpg.redact(u) == shown


REDACTED: list[tuple[str, str]] = [
    ("postgresql://app:pw@db/x", "postgresql://app:***@db/x"),
    ("postgres://app:pw@db:5432/x?graph=g", "postgres://app:***@db:5432/x?graph=g"),
    ("postgresql://app@db/x", "postgresql://app@db/x"),
    ("postgresql://app:@db/x", "postgresql://app:***@db/x"),
    ("postgresql://db/x?password=pw&graph=g", "postgresql://db/x?password=***&graph=g"),
    ("postgresql://db/x?graph=g&password=pw", "postgresql://db/x?graph=g&password=***"),
    ("postgresql://db/x?pass%77ord=pw", "postgresql://db/x?pass%77ord=***"),
    ("postgresql://db/x?sslpassword=pw", "postgresql://db/x?sslpassword=***"),
    # A password holding `/`, `?`, `:` or `@` (taken up to the first `@`, as the driver does).
    ("postgresql://app:p/a?s:s@db/x", "postgresql://app:***@db/x"),
    ("postgresql://app:p%40ss@db/x?password=q", "postgresql://app:***@db/x?password=***"),
]


@pytest.mark.parametrize(("url", "shown"), REDACTED)
def test_one_redaction_helper(url: str, shown: str) -> None:
    assert agpg.redact(url) == shown


def test_the_django_integration_uses_the_same_redaction() -> None:
    import inspect

    from accessgraph.django import conf

    source = inspect.getsource(conf)
    assert "re.sub" not in source and "redact" in source


# --- what a URL carries besides TLS ----------------------------------------------------


def _checkpoint(tls: pg_tls.TlsCluster, name: str) -> str:
    return tls.psql(
        "SELECT c.record FROM accessgraph_checkpoints c JOIN accessgraph_graphs g "
        f"USING (graph_id) WHERE g.name = '{name}'",
        "postgres",
    )


def test_hmac_key_keeps_a_signed_checkpoint_in_the_database(
    tls: pg_tls.TlsCluster, home: Path
) -> None:
    u = tls.tls_url("postgres", "localhost", "postgres", sslmode="require")
    u += "&graph=signed&follow=off"
    g = ag.Graph.open(u, hmac_key=b"k1")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    first = _checkpoint(tls, "signed")
    assert first and "k1" not in first
    # Reopened with the key: fine, and it keeps signing, through an erasure (a rewrite) too.
    h = ag.Graph.open(u, hmac_key=b"k1")
    h.add_member("bob@example.com", "acme", actor=OWNER)
    h.add_member("carol@example.com", "acme", actor=OWNER)
    assert _checkpoint(tls, "signed") != first
    h.erase_user("bob@example.com", actor=OWNER, reason="left")
    assert ag.Graph.open(u, hmac_key=b"k1").revision == h.revision
    # A graph opened without the key writes rows without a MAC, which the key's holders
    # refuse, as a file journal's unsigned batches.
    ag.Graph.open(u).add_member("dave@example.com", "acme", actor=OWNER)
    with pytest.raises(ag.JournalError, match=f"event {h.revision + 1} carries no valid MAC"):
        ag.Graph.open(u, hmac_key=b"k1")
    # Another key: refused.
    with pytest.raises(ag.JournalError, match="wrong key"):
        ag.Graph.open(u, hmac_key=b"k2")
    # A clean cut of the last events: caught by the checkpoint only.
    cut = h.revision - 2
    tls.psql(
        "DELETE FROM accessgraph_events e USING accessgraph_graphs g WHERE "
        f"e.graph_id = g.graph_id AND g.name = 'signed' AND e.seq > {cut}"
    )
    assert ag.Graph.open(u).revision == cut
    with pytest.raises(ag.JournalError, match="cut off"):
        ag.Graph.open(u, hmac_key=b"k1")
    # The checkpoint deleted: the next keyed open trusts the journal as found (trust on
    # first use, as for a file: docs/journal-format.md) and signs from there.
    tls.psql(
        "DELETE FROM accessgraph_checkpoints c USING accessgraph_graphs g WHERE "
        "c.graph_id = g.graph_id AND g.name = 'signed'"
    )
    assert ag.Graph.open(u, hmac_key=b"k1").revision == cut
    assert json.loads(_checkpoint(tls, "signed"))["trusted_from"] == cut
    with pytest.raises(ag.ValidationError, match="hmac_key"):
        ag.Graph.open(u, hmac_key=b"")


def test_signed_processes_follow_each_others_rewrites(tls: pg_tls.TlsCluster, home: Path) -> None:
    base = tls.tls_url("postgres", "localhost", "postgres", sslmode="require")
    u = base + "&graph=rewrites&follow=off"
    a = ag.Graph.open(u + "&application_name=rewrites_a", hmac_key=b"k")
    b = ag.Graph.open(u + "&application_name=rewrites_b", hmac_key=b"k")
    a.add_org("acme", owner=OWNER)
    a.add_member("bob@example.com", "acme", actor=OWNER)
    # A record the one-round-trip append cannot quote goes the other way, checkpoint too.
    a.record(OWNER, "note.added", "acme", text="ends in $agr$")
    assert b.refresh() == a.revision
    a.erase_user("bob@example.com", actor=OWNER, reason="left")
    # B meets the rewrite when it takes the writers' lock: it reloads and checks the
    # checkpoint inside its own transaction, which must stay open until its commit.
    b.add_member("carol@example.com", "acme", actor=OWNER)
    a.refresh()
    assert a.revision == b.revision and a.to_json() == b.to_json()
    b.audit.verify()
    # A refresh (no writer's transaction) meets the next rewrite.
    a.erase_user("carol@example.com", actor=OWNER, reason="left")
    b.refresh()
    assert b.to_json() == a.to_json()
    assert ag.Graph.open(u, hmac_key=b"k").revision == a.revision
    log = (tls.data.parent / "server.log").read_text()
    assert not [
        line
        for line in log.splitlines()
        if " rewrites_" in line and ("WARNING" in line or "ERROR" in line)
    ]


def test_durability_sets_synchronous_commit(tls: pg_tls.TlsCluster, home: Path) -> None:
    # The database's own default is off: "fsync" (and "group": PostgreSQL shares WAL
    # flushes between concurrent commits itself) must turn it on for the graph's session,
    # "os" leaves commits unflushed (a server crash may lose the last ones).
    tls.psql("CREATE DATABASE durability")
    tls.psql("ALTER DATABASE durability SET synchronous_commit = off")
    tls.psql("ALTER DATABASE durability SET log_statement = 'all'")
    u = tls.tls_url("postgres", "localhost", "durability", sslmode="require")
    for durability in ("fsync", "group", "os"):
        app = f"durability_{durability}"
        g = ag.Graph.open(
            u + f"&graph={durability}&follow=off&application_name={app}", durability=durability
        )
        g.add_org("acme", owner=OWNER)
    log = (tls.data.parent / "server.log").read_text()

    def said(app: str) -> str:
        return "\n".join(line for line in log.splitlines() if f" {app} " in line)

    assert "synchronous_commit" in said("durability_fsync")
    assert "set_config('synchronous_commit', 'on'" in said("durability_fsync")
    assert "set_config('synchronous_commit', 'on'" in said("durability_group")
    assert "SET synchronous_commit = off" in said("durability_os")
    assert "set_config('synchronous_commit'" not in said("durability_os")
    with pytest.raises(ag.ValidationError, match="durability"):
        ag.Graph.open(u + "&graph=bad", durability="never")
