"""A throwaway PostgreSQL cluster on loopback, for the PostgreSQL journal's tests and
benchmark, and for ``.ci/run``.

    python tests/pg_cluster.py start DIR PORT   # initdb into DIR/data, start on 127.0.0.1
    python tests/pg_cluster.py stop DIR

PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user
(created by Debian's package) and every server command runs as that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

ENV_URL = "ACCESSGRAPH_PG_URL"
ENV_DATA = "ACCESSGRAPH_PG_DATA"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def bindir() -> Path:
    """The directory holding initdb, pg_ctl and psql."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    raise PostgresMissing(
        "PostgreSQL is not installed: the PostgreSQL journal tests need initdb and pg_ctl "
        "(Debian: apt-get install postgresql; .ci/run installs it), or set "
        f"{ENV_URL} and {ENV_DATA} to a running server started by tests/pg_cluster.py"
    )


def _owner() -> str | None:
    """The user to run the server as when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresMissing(
            "running as root but there is no `postgres` user to run the server as"
        ) from exc
    return "postgres"


class Cluster:
    """A cluster in ``data`` listening on 127.0.0.1:``port``."""

    def __init__(self, data: Path, port: int, *, durable: bool = False) -> None:
        self.data = data
        self.port = port
        # Tests need no durability across a power cut: no fsync (the WAL still protects
        # every commit against a server crash or an immediate restart). Benchmarks of
        # durable commits turn it on.
        self.durable = durable
        self.bin = bindir()
        self.owner = _owner()
        # Where psql reaches the server: TCP on loopback, or a socket directory (a cluster
        # that refuses plaintext TCP).
        self.admin_host = "127.0.0.1"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.owner is not None:
            cmd = ["runuser", "-u", self.owner, "--", *cmd]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
        return done

    def url(self, db: str = "postgres", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

    def init(self) -> None:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        if self.owner is not None:
            shutil.chown(self.data.parent, self.owner, self.owner)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _pg_ctl(self, action: str, *extra: str, check: bool = True) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data.parent} "
        opts += "-c max_connections=200"
        if not self.durable:
            opts += " -c fsync=off -c full_page_writes=off"
        log = str(self.data.parent / "server.log")
        self._run(
            str(self.bin / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-o",
            opts,
            "-l",
            log,
            *extra,
            check=check,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-w", "-m", mode, check=False
        )

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Runs SQL with psql; returns its unaligned output."""
        out = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.admin_host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.stdout.strip()

    def ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.psql("SELECT 1")
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def from_env() -> Cluster | None:
    """The cluster .ci/run started, named by the environment."""
    url, data = os.environ.get(ENV_URL), os.environ.get(ENV_DATA)
    if not url or not data:
        return None
    port = int(url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    return Cluster(Path(data), port)


def main() -> None:
    action, base = sys.argv[1], Path(sys.argv[2]).resolve()
    if action == "start":
        port = int(sys.argv[3])
        c = Cluster(base / "data", port)
        with contextlib.suppress(Exception):
            c.stop("immediate")
        if not (base / "data").exists():
            c.init()
        c.start()
        c.ready()
        print(c.url())
    elif action == "stop":
        c = Cluster(base / "data", 0)
        c.stop("fast")
    else:
        raise SystemExit(f"unknown action {action!r}: expected start or stop")


if __name__ == "__main__":
    main()
