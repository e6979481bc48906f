"""Issue 14's findings that need the operating system to misbehave: a failed write or
fsync (finding 6), group commit after a rewrite (3), the checkpoint's durability and
trust on first use (7), predictable temporary names (9) and a failing random source
(10). A small ``LD_PRELOAD`` library, compiled here with the C compiler, makes
``write``/``fsync``/``fdatasync``/``getrandom`` fail, logs which inode each write and
sync reached, or kills the process in the middle of a write; the graph runs in a child
Python process under it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import journal_verifier as jv
import pytest

import accessgraph as ag

KEY = b"io-attack-key"
OWNER = "jane@example.com"
BOB = "bob@example.com"

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* AG_SHIM_PATH   the journal: a file descriptor whose /proc/self/fd link is this path
   AG_SHIM_FAIL   "write" or "fsync": fail one such call on the journal (EIO) ...
   AG_SHIM_AFTER  ... after letting this many through (default 0); a failed write
                  writes half its bytes first (a torn write)
   AG_SHIM_SLEEP_MS  sleep this long in the failing sync (a window for other processes)
   AG_SHIM_ARM    act only once this file exists
   AG_SHIM_LOG    append "W <inode>" per write to the journal, "S <inode>" per successful
                  fsync/fdatasync of a file or directory, "U <path>" per unlink and
                  "R <path>" per rename
   AG_SHIM_KILL   SIGKILL the process after writing half of a write to a file whose path
                  contains this text
   AG_SHIM_KILL_RENAMED  SIGKILL the process right after a rename onto this path
   AG_SHIM_RANDOM "const": getrandom gives 0xab bytes; "fail": it fails with EIO */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);
static int (*real_rename)(const char *, const char *);
static ssize_t (*real_getrandom)(void *, size_t, unsigned);
static long passed;
static int failed;

static void init(void) {
    if (real_write) return;
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_getrandom = dlsym(RTLD_NEXT, "getrandom");
    real_write = dlsym(RTLD_NEXT, "write");
}

static int armed(void) {
    const char *arm = getenv("AG_SHIM_ARM");
    return !arm || access(arm, F_OK) == 0;
}

static int fd_path(int fd, char *buf, size_t n) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t r = readlink(link, buf, n - 1);
    if (r < 0) return 0;
    buf[r] = 0;
    return 1;
}

static int is_journal(int fd) {
    const char *want = getenv("AG_SHIM_PATH");
    char buf[4096];
    if (!want || !fd_path(fd, buf, sizeof buf)) return 0;
    size_t n = strlen(want);
    return strncmp(buf, want, n) == 0 && (buf[n] == 0 || strcmp(buf + n, " (deleted)") == 0);
}

static void log_text(const char *line, int n) {
    const char *log = getenv("AG_SHIM_LOG");
    if (!log) return;
    int lfd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (lfd >= 0) { real_write(lfd, line, n); close(lfd); }
}

static void log_fd(char op, int fd) {
    struct stat st;
    char line[64];
    if (!getenv("AG_SHIM_LOG") || fstat(fd, &st) != 0) return;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return;
    log_text(line, snprintf(line, sizeof line, "%c %lu\n", op, (unsigned long)st.st_ino));
}

static int should_fail(const char *op) {
    const char *fail = getenv("AG_SHIM_FAIL"), *after = getenv("AG_SHIM_AFTER");
    if (failed || !fail || strcmp(fail, op) != 0 || !armed()) return 0;
    if (passed < (after ? atol(after) : 0)) { passed++; return 0; }
    failed = 1;
    return 1;
}

static void maybe_kill(int fd, const void *buf, size_t n, off_t off, int positional) {
    const char *at = getenv("AG_SHIM_KILL");
    char path[4096];
    if (!at || !armed() || !fd_path(fd, path, sizeof path) || !strstr(path, at)) return;
    if (positional) real_pwrite64(fd, buf, n / 2, off); else real_write(fd, buf, n / 2);
    raise(SIGKILL);
}

ssize_t write(int fd, const void *buf, size_t n) {
    init();
    maybe_kill(fd, buf, n, 0, 0);
    if (is_journal(fd)) {
        if (should_fail("write")) {
            real_write(fd, buf, n / 2);
            errno = EIO;
            return -1;
        }
        log_fd('W', fd);
    }
    return real_write(fd, buf, n);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    init();
    maybe_kill(fd, buf, n, off, 1);
    return real_pwrite64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return pwrite64(fd, buf, n, off); }

static int sync_common(int fd, int (*real)(int)) {
    if (is_journal(fd) && should_fail("fsync")) {
        const char *ms = getenv("AG_SHIM_SLEEP_MS");
        if (ms) {
            struct timespec t = {atol(ms) / 1000, (atol(ms) % 1000) * 1000000L};
            nanosleep(&t, NULL);
        }
        errno = EIO;
        return -1;
    }
    int r = real(fd);
    if (r == 0) log_fd('S', fd);
    return r;
}

int fsync(int fd) { init(); return sync_common(fd, real_fsync); }
int fdatasync(int fd) { init(); return sync_common(fd, real_fdatasync); }

int unlink(const char *path) {
    char line[4200];
    init();
    int r = real_unlink(path);
    if (r == 0) log_text(line, snprintf(line, sizeof line, "U %s\n", path));
    return r;
}

int rename(const char *from, const char *to) {
    char line[4200];
    init();
    int r = real_rename(from, to);
    if (r == 0) log_text(line, snprintf(line, sizeof line, "R %s\n", to));
    const char *kill_at = getenv("AG_SHIM_KILL_RENAMED");
    if (r == 0 && kill_at && armed() && strcmp(to, kill_at) == 0) raise(SIGKILL);
    return r;
}

ssize_t getrandom(void *buf, size_t n, unsigned flags) {
    init();
    const char *mode = getenv("AG_SHIM_RANDOM");
    if (mode && n > 0 && armed()) {
        if (strcmp(mode, "const") == 0) { memset(buf, 0xab, n); return (ssize_t)n; }
        if (strcmp(mode, "fail") == 0) { errno = EIO; return -1; }
    }
    return real_getrandom(buf, n, flags);
}
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LD_PRELOAD library, compiled for this run."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc is not None, "these tests need a C compiler (gcc or cc) to build their shim"
    where = tmp_path_factory.mktemp("shim")
    (where / "shim.c").write_text(SHIM)
    subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", "shim.so", "shim.c", "-ldl"],
        cwd=where,
        check=True,
        capture_output=True,
    )
    return where / "shim.so"


def child(shim: Path, code: str, *args: Any, **env: str) -> subprocess.Popen[str]:
    """``code`` in a new Python process under the shim, with ``AG_SHIM_*`` = ``env``."""
    full = {**os.environ, "LD_PRELOAD": str(shim), "PYTHONWARNINGS": "ignore"}
    full.update({f"AG_SHIM_{k.upper()}": v for k, v in env.items()})
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
    )


def finish(p: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def base_journal(path: Path, key: bytes | None = None) -> ag.Graph:
    g = ag.Graph.open(path, hmac_key=key)
    g.set_time("2024-05-01")
    g.add_org("acme", owner=OWNER)
    g.add_project("acme/web")
    g.add_member(BOB, "acme", actor=OWNER)
    return g


# --- finding 6: a failed write or sync is cut back, and never applied -------------------

FAILING_GRANT = """
    import json, sys, pathlib
    import accessgraph as ag
    path, arm, durability = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    g = ag.Graph.open(path, durability=durability)
    before = g.to_json()
    arm.touch()
    out = {}
    try:
        g.grant("bob@example.com", "acme/web", "admin", actor="jane@example.com")
        out["error"] = None
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    out["revision"] = g.revision
    out["unchanged"] = g.to_json() == before
    out["granted"] = g.check("bob@example.com", "project:manage_members", "acme/web")
    try:
        g.add_project("acme/api")
        out["next"] = None
    except Exception as e:
        out["next"] = type(e).__name__
    print(json.dumps(out))
"""

READER = """
    import json, sys, time, pathlib
    import accessgraph as ag
    path, arm, ready, windowed, regrown = sys.argv[1], *map(pathlib.Path, sys.argv[2:6])
    g = ag.Graph.open(path, durability="os")
    rev = g.revision
    ready.touch()
    while not arm.exists():
        time.sleep(0.005)
    # Refresh during the failing call, until the batch shows (group mode) or 1 s passed.
    deadline = time.time() + 1.0
    while g.revision == rev and time.time() < deadline:
        g.refresh()
        time.sleep(0.005)
    seen = g.revision
    windowed.touch()
    # No refresh until the writer has cut the batch back and the journal grew again.
    while not regrown.exists():
        time.sleep(0.005)
    try:
        g.refresh()
        final = {"final": g.revision, "state": g.to_json()}
    except Exception as e:
        final = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps({"seen": seen, **final}))
"""


@pytest.mark.parametrize(
    ("durability", "fail"), [("fsync", "fsync"), ("fsync", "write"), ("group", "fsync")]
)
def test_a_failed_write_or_sync_leaves_no_trace(
    tmp_path: Path, shim: Path, durability: str, fail: str
) -> None:
    path, arm = tmp_path / "j", tmp_path / "armed"
    ready, windowed, regrown = tmp_path / "ready", tmp_path / "windowed", tmp_path / "regrown"
    base = base_journal(path)
    rev, before, state = base.revision, path.read_bytes(), base.to_json()
    # Another process reads the journal during the failing call (the sync sleeps 1.5 s
    # with the batch in the file, as a slow disk would).
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(READER), path, arm, ready, windowed, regrown],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.01)
    writer = child(
        shim,
        FAILING_GRANT,
        path,
        arm,
        durability,
        path=str(path),
        fail=fail,
        arm=str(arm),
        sleep_ms="1500",
    )
    out = finish(writer)
    assert out["error"] is not None and "Input/output error" in out["error"], out
    assert "cut back" in out["error"] or "fsync failed" in out["error"], out
    # Not live in memory (group mode included), and the graph stops for writes.
    assert (out["revision"], out["unchanged"], out["granted"]) == (rev, True, False), out
    assert out["next"] is not None, "fail-stop: no further mutation"
    # Not in the file, not applied on reopen.
    assert path.read_bytes() == before
    again = ag.Graph.open(path)
    assert (again.revision, again.to_json()) == (rev, state)
    jv.verify_journal(path)
    # Another process: in fsync mode it never saw the batch (cut back under the writers'
    # lock); in group mode it did, a moment before the sync (documented), and drops it
    # on its next refresh, even after the journal grew past where the batch was.
    while not windowed.exists():
        assert reader.poll() is None
        time.sleep(0.01)
    again.add_project("acme/api", name="API")
    again.add_project("acme/documentation", name="Documentation")
    regrown.touch()
    seen = json.loads(reader.communicate(timeout=60)[0])
    assert seen["seen"] == (rev + 1 if durability == "group" else rev), seen
    assert "error" not in seen, seen
    assert (seen["final"], seen["state"]) == (again.revision, again.to_json())


# --- finding 3: group commit syncs the file the records go to ---------------------------

GROUP_WRITER = """
    import json, os, sys, time, pathlib
    import accessgraph as ag
    path, log, durability = sys.argv[1], sys.argv[2], sys.argv[3]
    ready, pruned = pathlib.Path(sys.argv[4]), pathlib.Path(sys.argv[5])

    def ack(rev):
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"A {rev}\\n".encode())
        os.close(fd)

    g = ag.Graph.open(path, durability=durability)
    g.set_time("2024-01-01")
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/web")
    ack(g.revision)
    for i in range(30):
        g.add_member(f"u{i}@example.com", "acme", actor="jane@example.com", title="Engineer")
        ack(g.revision)
    # This process's own rewrite.
    g.erase_user("u0@example.com", actor="jane@example.com", reason="gdpr")
    ack(g.revision)
    g.set_time("2024-06-01")
    for i in range(30, 33):
        g.add_member(f"u{i}@example.com", "acme", actor="jane@example.com")
        ack(g.revision)
    # Another process's rewrite: it prunes everything before March (a much shorter file).
    ready.touch()
    while not pruned.exists():
        time.sleep(0.01)
    for i in range(33, 36):
        g.add_member(f"u{i}@example.com", "acme", actor="jane@example.com")
        ack(g.revision)
    print(json.dumps({"revision": g.revision}), flush=True)
    time.sleep(60)
"""


def check_every_ack_was_synced(log: Path) -> int:
    """Each acknowledged mutation ("A") came after a sync ("S") of every inode written
    ("W") before it. Returns how many acknowledgements."""
    pending: set[str] = set()
    acks = 0
    for line in log.read_text().splitlines():
        op, _, arg = line.partition(" ")
        if op == "W":
            pending.add(arg)
        elif op == "S":
            pending.discard(arg)
        elif op == "A":
            assert not pending, f"mutation {arg} acknowledged before inode(s) {pending} synced"
            acks += 1
    return acks


@pytest.mark.parametrize("durability", ["group", "fsync"])
def test_after_a_rewrite_acknowledged_mutations_are_synced_to_the_current_file(
    tmp_path: Path, shim: Path, durability: str
) -> None:
    path, log = tmp_path / "j", tmp_path / "sync.log"
    ready, pruned = tmp_path / "ready", tmp_path / "pruned"
    p = child(
        shim, GROUP_WRITER, path, log, durability, ready, pruned, path=str(path), log=str(log)
    )
    deadline = time.time() + 120
    while not ready.exists():
        assert p.poll() is None, p.communicate()[1]
        assert time.time() < deadline
        time.sleep(0.01)
    size = path.stat().st_size
    other = ag.Graph.open(path)
    assert other.audit.prune(before="2024-03-01") > 30
    assert path.stat().st_size < size / 2, "the other process left a much shorter journal"
    pruned.touch()
    assert p.stdout is not None
    acked = json.loads(p.stdout.readline())["revision"]
    # kill -9 right after the acknowledged mutations: they are there on reopen.
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert check_every_ack_was_synced(log) == 1 + 30 + 1 + 3 + 3
    assert ag.Graph.open(path).revision == acked
    jv.verify_journal(path)


def test_erasure_syncs_the_directory_after_removing_files(tmp_path: Path, shim: Path) -> None:
    path, log = tmp_path / "j", tmp_path / "sync.log"
    base_journal(path).snapshot()
    code = """
        import os, sys
        import accessgraph as ag
        path, log = sys.argv[1], sys.argv[2]
        g = ag.Graph.open(path)
        g.erase_user("bob@example.com", actor="jane@example.com", reason="gdpr")
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, b"A erased\\n")
        os.close(fd)
        print("{}")
    """
    finish(child(shim, code, path, log, path=str(path), log=str(log)))
    ops = log.read_text().splitlines()
    directory = f"S {tmp_path.stat().st_ino}"
    changes = [i for i, op in enumerate(ops) if op[0] in "UR"]
    assert any(f"U {path}.snapshot" == op for op in ops), ops
    assert changes and directory in ops[changes[-1] :], "the directory was not synced last"
    assert ops.index("A erased") > ops.index(directory)


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.parametrize("rewrite", ["erase", "prune"])
def test_a_crash_right_after_a_rewrites_rename_leaves_no_stale_snapshot(
    tmp_path: Path, shim: Path, rewrite: str, key: bytes | None
) -> None:
    # The snapshot holds the state before the rewrite (Bob in clear): it must be gone
    # before the new journal takes the old one's place, not only after.
    path = tmp_path / "j"
    g = base_journal(path, key)
    g.set_time("2024-07-01")
    g.grant(BOB, "acme/web", "viewer", actor=OWNER)
    g.snapshot()
    assert BOB.encode() in (tmp_path / "j.snapshot").read_bytes()
    code = """
        import sys
        import accessgraph as ag
        g = ag.Graph.open(sys.argv[1], hmac_key=sys.argv[3].encode() or None)
        if sys.argv[2] == "erase":
            g.erase_user("bob@example.com", actor="jane@example.com", reason="gdpr")
        else:
            g.audit.prune(before="2024-06-01")
    """
    p = child(shim, code, path, rewrite, (key or b"").decode(), kill_renamed=str(path))
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL, "killed right after the journal's rename"
    h = ag.Graph.open(path, hmac_key=key)
    h.audit.verify()
    if rewrite == "erase":
        assert any(e.action == "user.erased" for e in h.audit), "the erasure took effect"
        leaks = [f.name for f in tmp_path.iterdir() if BOB.encode() in f.read_bytes()]
        assert not leaks, f"cleartext of the erased user in {leaks}"
    else:
        assert str(min(e.at for e in h.audit)) > "2024-06", "the prune took effect"
    assert not (tmp_path / "j.snapshot").exists()
    jv.verify_journal(path, key)


# --- finding 7: trust on first use; the checkpoint is durable ---------------------------


def slots(path: Path) -> list[dict[str, Any] | None]:
    raw = Path(f"{path}.checkpoint").read_bytes()
    out = []
    for i in range(2):
        text = raw[i * 512 : (i + 1) * 512].decode(errors="replace").strip(" \n\0")
        try:
            out.append(json.loads(text) if text else None)
        except ValueError:
            out.append(None)
    return out


def tear_newest_slot(path: Path) -> None:
    """What a crash in the middle of the last checkpoint write leaves."""
    cp = Path(f"{path}.checkpoint")
    s = slots(path)
    newest = max((i for i in range(2) if s[i]), key=lambda i: s[i]["seq"])  # type: ignore[index]
    raw = bytearray(cp.read_bytes())
    raw[newest * 512 + 10 : newest * 512 + 200] = b"\0" * 190
    cp.write_bytes(bytes(raw))


def test_trust_on_first_use_creates_a_durable_checkpoint(tmp_path: Path, shim: Path) -> None:
    path, log = tmp_path / "j", tmp_path / "sync.log"
    base_journal(path)  # no key
    assert not Path(f"{path}.checkpoint").exists()
    code = """
        import os, sys
        import accessgraph as ag
        path, log = sys.argv[1], sys.argv[2]
        g = ag.Graph.open(path, hmac_key=b"io-attack-key")
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, b"A opened\\n")
        os.close(fd)
        print("{}")
    """
    finish(child(shim, code, path, log, log=str(log)))
    cp = Path(f"{path}.checkpoint")
    assert cp.is_file()
    (valid,) = [s for s in slots(path) if s]
    events = jv.verify_journal(path).events  # type: ignore[union-attr]
    assert (valid["seq"], valid["trusted_from"]) == (len(events), len(events))
    assert jv.read_checkpoint(cp, KEY, valid["graph_id"]), "it verifies with the key"
    ops = log.read_text().splitlines()
    opened = ops.index("A opened")
    assert f"S {cp.stat().st_ino}" in ops[:opened], "the checkpoint was synced"
    assert f"S {tmp_path.stat().st_ino}" in ops[:opened], "and its directory entry"
    # From here on the journal is signed: a batch appended without the key is refused.
    ag.Graph.open(path).add_project("acme/api")
    with pytest.raises(ag.JournalError, match="MAC"):
        ag.Graph.open(path, hmac_key=KEY)


def test_a_crash_while_the_first_checkpoint_is_written_leaves_a_journal_that_opens(
    tmp_path: Path, shim: Path
) -> None:
    path = tmp_path / "j"
    base_journal(path)
    code = """
        import sys
        import accessgraph as ag
        ag.Graph.open(sys.argv[1], hmac_key=b"io-attack-key")
    """
    p = child(shim, code, path, kill=".checkpoint")
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL, "killed in the middle of the checkpoint write"
    g = ag.Graph.open(path, hmac_key=KEY)  # trust on first use again
    assert g.revision == 4
    jv.verify_journal(path, KEY)


def test_a_torn_checkpoint_slot_falls_back_to_the_other(tmp_path: Path, shim: Path) -> None:
    path, arm = tmp_path / "j", tmp_path / "armed"
    g = base_journal(path, KEY)
    g.grant(BOB, "acme/web", "viewer", actor=OWNER)
    # A crash in the middle of a slot write (the batch before it is on disk).
    code = """
        import sys, pathlib
        import accessgraph as ag
        g = ag.Graph.open(sys.argv[1], hmac_key=b"io-attack-key")
        pathlib.Path(sys.argv[2]).touch()
        g.grant("bob@example.com", "acme/web", "admin", actor="jane@example.com")
    """
    p = child(shim, code, path, arm, kill=".checkpoint", arm=str(arm))
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    h = ag.Graph.open(path, hmac_key=KEY)
    assert h.revision == g.revision + 1, "the synced batch is kept, vouched by its MAC"
    jv.verify_journal(path, KEY)


def test_a_truncated_checkpoint_falls_back_to_its_first_slot(tmp_path: Path) -> None:
    path = tmp_path / "j"
    g = base_journal(path, KEY)
    while True:  # until the newest checkpoint is in the second slot
        g.add_project(f"acme/p{g.revision}")
        s = slots(path)
        if s[1] and s[0] and s[1]["seq"] > s[0]["seq"]:
            break
    cp = Path(f"{path}.checkpoint")
    cp.write_bytes(cp.read_bytes()[: 512 + 100])
    assert ag.Graph.open(path, hmac_key=KEY).revision == g.revision
    jv.verify_journal(path, KEY)


def test_the_fallback_slot_may_be_the_journals_first(tmp_path: Path) -> None:
    """A new keyed journal's checkpoint (seq 0) still vouches when the first mutation's
    checkpoint write is torn."""
    path = tmp_path / "j"
    g = ag.Graph.open(path, hmac_key=KEY)
    g.add_org("acme", owner=OWNER)
    tear_newest_slot(path)
    assert ag.Graph.open(path, hmac_key=KEY).revision == g.revision
    jv.verify_journal(path, KEY)


@pytest.mark.parametrize("extra", [0, 1])
def test_after_a_prune_the_next_write_spares_the_slot_that_vouches(
    tmp_path: Path, extra: int
) -> None:
    """A prune leaves two slots with the same seq (old header, new header); reopened,
    the graph must write over the old one, or a torn write leaves no valid checkpoint.
    (``extra`` mutations put the prune's checkpoint in one slot or the other.)"""
    path = tmp_path / "j"
    g = base_journal(path, KEY)
    for i in range(extra):
        g.add_project(f"acme/x{i}")
    g.set_time("2024-07-01")
    g.grant(BOB, "acme/web", "viewer", actor=OWNER)
    assert g.audit.prune(before="2024-06-01") > 0
    s = slots(path)
    assert s[0] and s[1] and s[0]["seq"] == s[1]["seq"] and s[0]["header"] != s[1]["header"]
    del g
    for _ in range(2):
        h = ag.Graph.open(path, hmac_key=KEY)
        h.add_project(f"acme/p{h.revision}")
        tear_newest_slot(path)
        assert ag.Graph.open(path, hmac_key=KEY).revision == h.revision
        jv.verify_journal(path, KEY)


# --- finding 9: temporary files are never reached through a planted link ----------------


def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path: Path, shim: Path) -> None:
    """With the random source made predictable, the temporary name is known in advance:
    a link planted there makes the rewrite fail, never write through it."""
    path, victim = tmp_path / "j", tmp_path / "victim"
    victim.write_text("keep me")
    tag = "ab" * 8
    for name in (f"j.{tag}.tmp", f"j.snapshot.{tag}.tmp"):
        (tmp_path / name).symlink_to(victim)
    code = """
        import json, sys
        import accessgraph as ag
        g = ag.Graph.open(sys.argv[1])
        g.add_org("acme", owner="jane@example.com")
        g.add_member("bob@example.com", "acme", actor="jane@example.com")
        before, data = g.to_json(), open(sys.argv[1], "rb").read()
        out = {}
        for what, call in (("snapshot", g.snapshot),
                           ("erase", lambda: g.erase_user("bob@example.com",
                                                          actor="jane@example.com",
                                                          reason="gdpr"))):
            try:
                call()
                out[what] = None
            except Exception as e:
                out[what] = str(e)
        out["unchanged"] = g.to_json() == before and open(sys.argv[1], "rb").read() == data
        print(json.dumps(out))
    """
    out = finish(child(shim, code, path, random="const"))
    assert out["snapshot"] and "temporary file" in out["snapshot"], out
    assert out["erase"] and "temporary file" in out["erase"], out
    assert out["unchanged"], "a failed rewrite changes nothing"
    assert victim.read_text() == "keep me"
    assert not Path(f"{path}.snapshot").exists()
    ag.Graph.open(path).audit.verify()


# --- finding 10: no weaker randomness ---------------------------------------------------


def test_a_failing_random_source_stops_the_graph(tmp_path: Path, shim: Path) -> None:
    path, arm = tmp_path / "j", tmp_path / "armed"
    base_journal(path)
    code = """
        import json, sys, pathlib
        import accessgraph as ag
        path, arm = sys.argv[1], pathlib.Path(sys.argv[2])
        g = ag.Graph.open(path)
        arm.touch()
        out = {"done": 0}
        for i in range(2000):  # until the pool drawn before the failure runs out
            rev, data = g.revision, open(path, "rb").read()
            try:
                g.add_member(f"u{i}@example.com", "acme", actor="jane@example.com")
                out["done"] += 1
            except Exception as e:
                out["error"] = f"{type(e).__name__}: {e}"
                out["unchanged"] = g.revision == rev and open(path, "rb").read() == data
                break
        for what, call in (
            ("next", lambda: g.add_project("acme/api")),
            ("erase", lambda: g.erase_user("bob@example.com", actor="jane@example.com",
                                           reason="x")),
        ):
            try:
                call()
                out[what] = None
            except Exception as e:
                out[what] = f"{type(e).__name__}: {e}"
        print(json.dumps(out))
    """
    out = finish(child(shim, code, path, arm, random="fail", arm=str(arm)))
    assert "error" in out and "random" in out["error"], out
    assert out["unchanged"], "the mutation that could not draw its salts left no trace"
    for what in ("next", "erase"):
        assert out[what] is not None and "random" in out[what], (what, out)
    assert ag.Graph.open(path).revision == 4 + out["done"]
    # A process whose random source fails from the start creates no graph id or salt.
    fresh = """
        import json, sys, pathlib
        import accessgraph as ag
        pathlib.Path(sys.argv[2]).touch()
        out = {}
        for what, call in (
            ("new journal", lambda: ag.Graph.open(sys.argv[1])),
            ("in memory", lambda: ag.Graph().add_org("x", owner="jane@example.com")),
        ):
            try:
                call()
                out[what] = None
            except Exception as e:
                out[what] = f"{type(e).__name__}: {e}"
        print(json.dumps(out))
    """
    arm.unlink()
    out = finish(child(shim, fresh, tmp_path / "new.journal", arm, random="fail", arm=str(arm)))
    for what in ("new journal", "in memory"):
        assert out[what] is not None and "random" in out[what], (what, out)


# --- review C: a failed group sync -------------------------------------------------------

GROUP_THREADS = """
    import json, sys, threading, time, pathlib
    import accessgraph as ag
    path, arm = sys.argv[1], pathlib.Path(sys.argv[2])
    g = ag.Graph.open(path, durability="group")
    out = {}

    def call(name, f):
        try:
            f()
            out[name] = None
        except Exception as e:
            out[name] = f"{type(e).__name__}: {e}"

    arm.touch()
    record = threading.Thread(target=call, args=("record", lambda: g.record(
        "jane@example.com", "data.exported", "acme/web", rows=1)), daemon=True)
    record.start()
    time.sleep(0.3)  # the record's sync is failing (it sleeps first): a second writer waits
    remove = threading.Thread(target=call, args=("remove", lambda: g.remove_member(
        "bob@example.com", "acme", actor="jane@example.com")), daemon=True)
    remove.start()
    record.join(20)
    remove.join(20)
    out["bob"] = g.role("bob@example.com", "acme")
    out["revision"] = g.revision
    print(json.dumps(out), flush=True)
"""


def test_a_failed_group_sync_with_two_writing_threads_returns_to_both(
    tmp_path: Path, shim: Path
) -> None:
    """Review C, finding 1: the thread whose group sync failed and the thread waiting for
    that sync took the group-sync lock and the journal's lock in opposite orders and hung
    for ever (and with them every query in the process and other processes' opens)."""
    path, arm = tmp_path / "j", tmp_path / "armed"
    base = base_journal(path)
    rev, before = base.revision, path.read_bytes()
    del base
    p = child(
        shim, GROUP_THREADS, path, arm, path=str(path), fail="fsync", arm=str(arm), sleep_ms="1000"
    )
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("the process hung after its group sync failed (a lock-order deadlock)")
    assert p.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    # Both batches were this process's own and unsynced, nothing followed them: both cut.
    for name in ("record", "remove"):
        assert result[name] is not None and "JournalError" in result[name], result
        assert "cut back" in result[name], result
    assert (result["bob"], result["revision"]) == ("member", rev), result
    assert path.read_bytes() == before
    again = ag.Graph.open(path)
    assert (again.revision, again.role(BOB, "acme")) == (rev, "member")


GROUP_RECORD = """
    import json, sys, pathlib
    import accessgraph as ag
    path, arm = sys.argv[1], pathlib.Path(sys.argv[2])
    g = ag.Graph.open(path, durability="group")
    arm.touch()
    out = {}
    try:
        g.record("jane@example.com", "data.exported", "acme/web", rows=1)
        out["error"] = None
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    g.refresh()
    out["revision"] = g.revision
    out["bob"] = g.check("bob@example.com", "project:view", "acme/web")
    out["actions"] = [e.action for e in g.audit.events()]
    try:
        g.add_project("acme/api")
        out["next"] = None
    except Exception as e:
        out["next"] = type(e).__name__
    print(json.dumps(out))
"""


def test_a_failed_group_sync_never_cuts_what_another_process_appended_after_it(
    tmp_path: Path, shim: Path
) -> None:
    """Review C, finding 2: process A's group sync fails after process B read A's batch,
    chained its revocation onto it and synced it. Cutting back to A's last synced offset
    deleted B's acknowledged revocation (bob had access again everywhere). A's batch
    stays; A keeps it applied, stops for writes and says so."""
    path, arm = tmp_path / "j", tmp_path / "armed"
    base_journal(path).grant(BOB, "acme/web", "admin", actor=OWNER)
    rev = ag.Graph.open(path).revision
    a = child(
        shim, GROUP_RECORD, path, arm, path=str(path), fail="fsync", arm=str(arm), sleep_ms="1500"
    )
    deadline = time.time() + 60
    while not arm.exists():
        assert a.poll() is None and time.time() < deadline
        time.sleep(0.01)
    b = ag.Graph.open(path)
    while b.revision == rev:  # A's batch is written; its sync sleeps, then fails
        assert time.time() < deadline
        time.sleep(0.01)
        b.refresh()
    b.remove_member(BOB, "acme", actor=OWNER)  # acknowledged (fsync), after A's batch
    out = finish(a)
    assert out["error"] is not None and "JournalError" in out["error"], out
    assert "another process has since appended after it" in out["error"], out
    assert "may be lost" in out["error"], out
    # A agrees with the file and with B: its record is kept, bob is out.
    assert out["revision"] == b.revision > rev + 1 and out["bob"] is False, out
    assert out["actions"][rev] == "data.exported", out
    assert out["actions"][-1] == "member.removed", out
    assert out["next"] is not None, "fail-stop: no further mutation"
    assert not b.check(BOB, "project:view", "acme/web")
    again = ag.Graph.open(path, follow=False)
    assert again.revision == b.revision
    assert not again.check(BOB, "project:view", "acme/web")
    jv.verify_journal(path)


GROUP_KEYED = """
    import json, sys, pathlib
    import accessgraph as ag
    path, arm, key = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3].encode()
    g = ag.Graph.open(path, durability="group", hmac_key=key)
    arm.touch()
    out = {}
    try:
        g.add_member("failed@example.com", "acme", actor="jane@example.com")
        out["error"] = None
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    out["role"] = g.role("failed@example.com", "acme")
    out["revision"] = g.revision
    print(json.dumps(out))
"""


def test_a_failed_checkpoint_write_in_group_mode_is_cut_back(tmp_path: Path, shim: Path) -> None:
    """Review C, finding 3: with a key in group mode, a checkpoint that could not be
    synced raised JournalError but left the mutation applied and in the journal (the
    other modes undo it). Nothing followed the batch, so it is cut back as theirs are."""
    path, arm = tmp_path / "j", tmp_path / "armed"
    base_journal(path, KEY)
    rev, before = ag.Graph.open(path, hmac_key=KEY).revision, path.read_bytes()
    checkpoint = str(path) + ".checkpoint"
    out = finish(
        child(
            shim, GROUP_KEYED, path, arm, KEY.decode(), path=checkpoint, fail="fsync", arm=str(arm)
        )
    )
    assert out["error"] is not None and "checkpoint" in out["error"], out
    assert "cut back" in out["error"], out
    assert (out["role"], out["revision"]) == (None, rev), out
    assert path.read_bytes() == before
    again = ag.Graph.open(path, hmac_key=KEY)
    assert (again.revision, again.role("failed@example.com", "acme")) == (rev, None)
