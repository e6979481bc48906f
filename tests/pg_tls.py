"""A throwaway PostgreSQL cluster that speaks only TLS, for the TLS tests of the PostgreSQL
journal (tests/python/test_postgres_tls.py) and for trying URLs by hand.

    python tests/pg_tls.py start DIR PORT   # certificates into DIR/pki, cluster in DIR/data
    python tests/pg_tls.py stop DIR

The certificates are made with the ``openssl`` command at start: a CA, a second CA with
the same name and another key (the "wrong CA"), a server certificate for ``localhost``
only (so connecting by ``127.0.0.1`` is a host-name mismatch) and a client certificate
for the role ``certuser``. The server has ``ssl=on`` and a ``pg_hba.conf`` that rejects
every plaintext TCP connection:

    hostnossl all all 0.0.0.0/0 reject          (and ::/0)
    hostssl   all postgres 127.0.0.1/32 trust   the tests' superuser
    hostssl   all certuser 127.0.0.1/32 cert    client certificates only
    hostssl   all all      127.0.0.1/32 scram-sha-256

Roles: ``app`` (password ``APP_PASSWORD``, owner of database ``app``) and ``certuser``
(owner of database ``certs``). The administrator's psql goes through the Unix socket.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pg_cluster import Cluster

APP_PASSWORD = "s3cret-Pa55word"

HBA = """\
local     all all                        trust
hostnossl all all        0.0.0.0/0       reject
hostnossl all all        ::/0            reject
hostssl   all postgres   127.0.0.1/32    trust
hostssl   all postgres   ::1/128         trust
hostssl   all certuser   127.0.0.1/32    cert
hostssl   all certuser   ::1/128         cert
hostssl   all all        127.0.0.1/32    scram-sha-256
hostssl   all all        ::1/128         scram-sha-256
"""

CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = accessgraph test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""


@dataclass(frozen=True)
class Pki:
    """The files ``make_pki`` wrote."""

    ca: Path
    wrong_ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(d: Path, name: str) -> None:
    (d / "ca.cnf").write_text(CA_CONFIG)
    _openssl(
        "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-keyout", f"{name}.key", "-out", f"{name}.crt",
        "-days", "3", "-config", "ca.cnf", cwd=d,
    )  # fmt: skip


def _leaf(d: Path, name: str, cn: str, ca: str, extensions: str) -> None:
    (d / f"{name}.ext").write_text(extensions)
    _openssl(
        "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "3", "-extfile", f"{name}.ext",
        cwd=d,
    )  # fmt: skip
    (d / f"{name}.key").chmod(0o600)


def make_pki(d: Path) -> Pki:
    """A CA, a wrong CA of the same name, a server certificate for ``localhost`` only and
    a client certificate for ``certuser`` (keys mode 0600)."""
    d.mkdir(parents=True, exist_ok=True)
    wrong = d / "wrong"
    wrong.mkdir(exist_ok=True)
    _ca(d, "ca")
    _ca(wrong, "ca")
    _leaf(
        d,
        "server",
        "localhost",
        "ca",
        "subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n"
        "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    _leaf(
        d,
        "client",
        "certuser",
        "ca",
        "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = clientAuth\n",
    )
    return Pki(
        ca=d / "ca.crt",
        wrong_ca=wrong / "ca.crt",
        server_cert=d / "server.crt",
        server_key=d / "server.key",
        client_cert=d / "client.crt",
        client_key=d / "client.key",
    )


class TlsCluster(Cluster):
    """A cluster in ``base/data`` that accepts TLS only, with its certificates in
    ``base/pki``."""

    def __init__(self, base: Path, port: int) -> None:
        super().__init__(base / "data", port)
        self.base = base
        self.pki = make_pki(base / "pki")
        # The server reads its own copies (owned by the user it runs as).
        self.admin_host = str(self.data.parent)

    def init(self) -> None:
        super().init()
        for src, dst in ((self.pki.server_cert, "server.crt"), (self.pki.ca, "root.crt")):
            shutil.copy(src, self.data / dst)
        shutil.copy(self.pki.server_key, self.data / "server.key")
        (self.data / "server.key").chmod(0o600)
        (self.data / "pg_hba.conf").write_text(HBA)
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                "ssl_ca_file = 'root.crt'\npassword_encryption = 'scram-sha-256'\n"
                # The application name in each line: tests read what a graph sent.
                "log_line_prefix = '%m [%p] %a '\n"
            )
        if self.owner is not None:
            for p in (self.data / "server.crt", self.data / "server.key", self.data / "root.crt"):
                shutil.chown(p, self.owner, self.owner)

    def setup_roles(self) -> None:
        """The roles and databases the tests connect as."""
        self.psql(f"CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'")
        self.psql("CREATE DATABASE app OWNER app")
        self.psql("CREATE ROLE certuser LOGIN")
        self.psql("CREATE DATABASE certs OWNER certuser")

    def tls_url(
        self, user: str = "postgres", host: str = "127.0.0.1", db: str = "postgres", **params: str
    ) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}@{host}:{self.port}/{db}" + (f"?{query}" if query else "")

    def ssl_of(self, application_name: str) -> list[str]:
        """``ssl|client_dn`` of each connection with this application name."""
        out = self.psql(
            "SELECT s.ssl, coalesce(s.client_dn, '') FROM pg_stat_ssl s "
            "JOIN pg_stat_activity a USING (pid) "
            f"WHERE a.application_name = '{application_name}'"
        )
        return out.splitlines()


def start(base: Path, port: int) -> TlsCluster:
    """Makes the certificates and the cluster, starts it and creates the roles."""
    c = TlsCluster(base, port)
    c.init()
    c.start()
    c.ready()
    c.setup_roles()
    return c


def main() -> None:
    action, base = sys.argv[1], Path(sys.argv[2]).resolve()
    if action == "start":
        port = int(sys.argv[3])
        c = Cluster(base / "data", port)
        with contextlib.suppress(Exception):
            c.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
        t = start(base, port)
        print(t.tls_url(sslmode="verify-ca", sslrootcert=str(t.pki.ca)))
    elif action == "stop":
        Cluster(base / "data", 0).stop("fast")
    else:
        raise SystemExit(f"unknown action {action!r}: expected start or stop")


if __name__ == "__main__":
    main()
