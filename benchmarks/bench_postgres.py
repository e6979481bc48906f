"""PostgreSQL journal benchmark (issue 8): durable mutations/s with 1, 2 and 4 writer
processes; propagation latency from a commit in one process to its visibility in another
(p50/p99); staleness with 4 processes that all commit and all watch (issue 15: LISTEN/
NOTIFY must keep it under 100 ms p99), in plaintext and over TLS (verify-full); start-up
time of a process joining a log of 1,000,000 events, with and without a snapshot in the
database; and (issue 14) the audit log read from the database: a process's resident
memory after 20,000 and after 200,000 of its own mutations (the history stays in the
database, so the two should be equal; a file journal's graph in the same run is the
baseline), and the time of a filtered ``audit.events(user=...)`` on 1,000,000 events (SQL
through an index) against the same filter over the same events held in memory.

    python benchmarks/bench_postgres.py [--events 1000000] [--json benchmarks/results/postgres.json]
    python benchmarks/bench_postgres.py --only staleness [--rounds 5] [--pings 100]
    python benchmarks/bench_postgres.py --only history [--events 1000000] [--rounds 3]
    python benchmarks/bench_postgres.py --only history-queries [--events 1000000]

It starts its own PostgreSQL cluster on loopback (tests/pg_cluster.py) with fsync ON, so
the rates are those of durable commits on this machine's disk; ``--url`` uses a running
server instead. Figures depend on the machine: the server, the writers and the readers
share its cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import accessgraph as ag
from accessgraph import postgres as agpg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

OWNER = "jane@example.com"


def seed(g: ag.Graph) -> None:
    g.add_org("acme", owner=OWNER)
    for p in range(20):
        g.add_project(f"acme/p{p}")


# --- roles run in child processes -----------------------------------------------------


def role_writer(url: str, name: str, start_at: float, seconds: float) -> None:
    """Flips grants for `seconds` from `start_at` (time.time()); prints the count."""
    g = ag.Graph.open(url)
    user = f"{name}@example.com"
    g.add_member(user, "acme", actor=OWNER)
    while time.time() < start_at:
        time.sleep(0.001)
    stop = start_at + seconds
    n = 0
    while time.time() < stop:
        # Each visit to a project flips the role, so every call is a real change.
        role = "viewer" if (n // 20) % 2 else "member"
        g.grant(user, f"acme/p{n % 20}", role, actor=OWNER)
        n += 1
    print(json.dumps({"count": n, "elapsed": time.time() - start_at}), flush=True)


def role_pinger(url: str, count: int) -> None:
    """Commits `count` mutations at random intervals; prints (seq, acknowledged ns)."""
    import random

    g = ag.Graph.open(url)
    rng = random.Random(7)
    out = []
    input()  # the parent says go once the reader is ready
    for i in range(count):
        # Each visit to a project flips the role, so every call is a real change.
        role = ("viewer", "member")[(i // 20) % 2]
        before = g.revision
        g.grant("pinger@example.com", f"acme/p{i % 20}", role, actor=OWNER)
        acked = time.monotonic_ns()
        assert g.revision == before + 1, "one event per call"
        out.append((g.revision, acked))
        time.sleep(rng.uniform(0.005, 0.02))
    print(json.dumps(out), flush=True)


def role_reader(url: str, until: int) -> None:
    """Watches the revision (the follower thread brings changes); prints when each
    revision became visible."""
    g = ag.Graph.open(url)
    print("ready", flush=True)
    seen: dict[int, int] = {}
    last = g.revision
    deadline = time.monotonic() + 300
    while last < until and time.monotonic() < deadline:
        rev = g.revision
        if rev != last:
            now = time.monotonic_ns()
            for r in range(last + 1, rev + 1):
                seen[r] = now
            last = rev
        else:
            time.sleep(0.0001)
    print(json.dumps(seen), flush=True)


def role_peer(url: str, name: str, count: int, until: int) -> None:
    """One of the processes of the staleness run: commits `count` events at random
    intervals while a thread watches the revision (the follower thread brings the others'
    commits); prints when each of its events was acknowledged and when every revision
    became visible here (monotonic ns: one clock for all processes on a machine)."""
    import random
    import threading

    g = ag.Graph.open(url)
    rng = random.Random(name)
    seen: dict[int, int] = {}
    stop = threading.Event()

    def watch() -> None:
        last = g.revision
        while not stop.is_set():
            rev = g.revision
            if rev != last:
                now = time.monotonic_ns()
                for r in range(last + 1, rev + 1):
                    seen[r] = now
                last = rev
            else:
                time.sleep(0.0002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    print("ready", flush=True)
    input()  # the parent says go once every process is ready
    acked = []
    for i in range(count):
        seq = g.record(OWNER, "bench.ping", f"acme/p{i % 20}", peer=name, n=i)
        acked.append((seq, time.monotonic_ns()))
        time.sleep(rng.uniform(0.005, 0.03))
    deadline = time.monotonic() + 60
    while g.revision < until and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    stop.set()
    watcher.join()
    print(json.dumps({"acked": acked, "seen": seen}), flush=True)


def rss_bytes() -> int:
    """This process's resident memory now, after a full collection and after giving freed
    heap back to the system (so it counts what is live, not what malloc keeps)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


HISTORY_USERS = 500


def role_rss(target: str, marks: str) -> None:
    """Makes mutations that leave the state's size alone (grant flips over a fixed set of
    users and projects) and prints the resident memory at each mark (a number of events):
    what the growing history costs a long-running worker."""
    is_url = agpg.is_url(target)
    g = ag.Graph.open(target + "&follow=off" if is_url else target, durability="os")
    seed(g)
    for u in range(HISTORY_USERS):
        g.add_member(f"h{u}@example.com", "acme", actor=OWNER)
    wanted = sorted(int(m) for m in marks.split(","))
    out: dict[str, Any] = {"backend": "postgres" if is_url else "file", "marks": {}}
    i = 0
    t = time.perf_counter()
    for mark in wanted:
        while g.revision < mark:
            # The pair (user, project) comes back every 10,000 calls with the other role.
            u, p = i % HISTORY_USERS, (i // HISTORY_USERS) % 20
            role = ("viewer", "member")[(i // (HISTORY_USERS * 20)) % 2]
            g.grant(f"h{u}@example.com", f"acme/p{p}", role, actor=OWNER)
            i += 1
        # Use the audit log as a service would, then measure.
        assert len(g.audit) == g.revision
        g.audit.events(user="h1@example.com", limit=5)
        out["marks"][str(mark)] = {"rss": rss_bytes(), "elapsed_s": time.perf_counter() - t}
    print(json.dumps(out), flush=True)


def role_query(url: str, users: int, tries: int) -> None:
    """A process opening a big graph and asking filtered questions of its audit log:
    timings of ``events(user=...)`` (the first, then `tries` more users), a prefix
    filter with a limit, ``len``, and the resident memory before and after."""
    import random

    t = time.perf_counter()
    g = ag.Graph.open(url)
    out: dict[str, Any] = {"open_s": time.perf_counter() - t, "revision": g.revision}
    out["rss_after_open"] = rss_bytes()
    rng = random.Random(11)
    picks = [f"u{rng.randrange(users)}@example.com" for _ in range(tries + 1)]
    times, found = [], []
    for u in picks:
        t = time.perf_counter()
        found.append(len(g.audit.events(user=u)))
        times.append(time.perf_counter() - t)
    out["first_user_query_s"] = times[0]
    out["user_query_s"] = times[1:]
    out["user_query_events"] = found
    t = time.perf_counter()
    out["prefix_query_events"] = len(g.audit.events(action="member.*", limit=100))
    out["prefix_query_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["len"] = len(g.audit)
    out["len_s"] = time.perf_counter() - t
    out["rss_after_queries"] = rss_bytes()
    print(json.dumps(out), flush=True)


def spread(xs: list[float]) -> dict[str, float]:
    """Median, quartiles and extremes of a sample."""
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return {"median": q[1], "q1": q[0], "q3": q[2], "min": xs[0], "max": xs[-1], "n": len(xs)}


def history_memory(server: str, base: Path, rounds: int, marks: str) -> dict[str, Any]:
    """Resident memory after the first and the last of `marks` (20,000 and 200,000
    mutations) of one process: `rounds` processes on PostgreSQL, one on a file journal
    (the baseline, same workload)."""
    lo, hi = marks.split(",")[0], marks.split(",")[-1]
    runs = []
    for r in range(rounds):
        url = f"{server}?graph=rss{r}"
        out, _ = child("rss", url, marks).communicate(timeout=3600)
        runs.append(json.loads(out.strip().splitlines()[-1]))
    path = base / "rss.journal"
    out, _ = child("rss", str(path), marks).communicate(timeout=3600)
    file_run = json.loads(out.strip().splitlines()[-1])
    for suffix in ("", ".checkpoint", ".snapshot"):
        Path(str(path) + suffix).unlink(missing_ok=True)

    def growth(run: dict[str, Any]) -> float:
        m = run["marks"]
        return (m[hi]["rss"] - m[lo]["rss"]) / (int(hi) - int(lo))

    def mb(run: dict[str, Any], mark: str) -> float:
        return float(run["marks"][mark]["rss"]) / 1e6

    return {
        "workload": f"grant flips over {HISTORY_USERS} users x 20 projects (state size constant)",
        "marks": [int(lo), int(hi)],
        "postgres_rss_low_mb": spread([mb(r, lo) for r in runs]),
        "postgres_rss_high_mb": spread([mb(r, hi) for r in runs]),
        "postgres_rss_high_over_low": spread([mb(r, hi) / mb(r, lo) for r in runs]),
        "postgres_bytes_per_event_growth": spread([growth(r) for r in runs]),
        "file_rss_low_mb": mb(file_run, lo),
        "file_rss_high_mb": mb(file_run, hi),
        "file_bytes_per_event_growth": growth(file_run),
        "postgres_mutations_per_s": spread([int(hi) / r["marks"][hi]["elapsed_s"] for r in runs]),
        "runs": runs,
        "file_run": file_run,
    }


def history_queries(server: str, base: Path, events: int, tries: int) -> dict[str, Any]:
    """Filtered audit queries on a graph of `events` events: in SQL (a process opening the
    graph from PostgreSQL) against the same filter over the same events in memory."""
    journal = base / "query.journal"
    g = build_big(journal, events)
    users = max(1, events // 10)
    import random

    rng = random.Random(11)
    picks = [f"u{rng.randrange(users)}@example.com" for _ in range(tries)]
    memory = []
    for u in picks:
        t = time.perf_counter()
        g.audit.events(user=u)
        memory.append(time.perf_counter() - t)
    del g
    url = f"{server}?graph=query&follow=off"
    agpg.import_journal(journal, url)
    for suffix in ("", ".checkpoint", ".snapshot"):
        Path(str(journal) + suffix).unlink(missing_ok=True)
    out, _ = child("query", url, str(users), str(tries)).communicate(timeout=3600)
    sql = json.loads(out.strip().splitlines()[-1])
    sql_ms = [t * 1e3 for t in sql["user_query_s"]]
    mem_ms = [t * 1e3 for t in memory]
    return {
        "events": events,
        "events_per_user": spread([float(n) for n in sql["user_query_events"][1:]]),
        "sql_user_query_ms": spread(sql_ms),
        "sql_first_user_query_ms": sql["first_user_query_s"] * 1e3,
        "memory_user_query_ms": spread(mem_ms),
        "sql_over_memory_median": statistics.median(sql_ms) / statistics.median(mem_ms),
        "sql_prefix_limit_100_ms": sql["prefix_query_s"] * 1e3,
        "open_s": sql["open_s"],
        "rss_after_open_mb": sql["rss_after_open"] / 1e6,
        "rss_after_queries_mb": sql["rss_after_queries"] / 1e6,
    }


FILTER_INDEXES = {
    "accessgraph_events_actor": "(graph_id, actor, seq)",
    "accessgraph_events_action": "(graph_id, action, seq)",
    "accessgraph_events_target": "(graph_id, target, seq)",
    "accessgraph_events_user": "(graph_id, details_user, seq)",
    "accessgraph_events_at": "(graph_id, at)",
}


def index_write_cost(server: str, psql: Any, seconds: float, rounds: int) -> dict[str, Any]:
    """Durable mutations/s of one writer with the filter columns' indexes and without
    them (dropped for the run, then made again), alternating, `rounds` times each."""
    with_idx, without = [], []
    for r in range(rounds):
        with_idx.append(writers_rate(server, f"idx{r}", 1, seconds))
        psql("DROP INDEX " + ", ".join(FILTER_INDEXES))
        try:
            without.append(writers_rate(server, f"noidx{r}", 1, seconds))
        finally:
            for name, cols in FILTER_INDEXES.items():
                psql(f"CREATE INDEX {name} ON accessgraph_events {cols}")
    return {
        "with_indexes_per_s": spread(with_idx),
        "without_indexes_per_s": spread(without),
        "with_over_without_median": statistics.median(with_idx) / statistics.median(without),
    }


def role_join(url: str) -> None:
    """Opens the graph (a process joining) and uses its audit log once."""
    t = time.perf_counter()
    g = ag.Graph.open(url)
    opened = time.perf_counter() - t
    t = time.perf_counter()
    n = len(g.audit.events(limit=1))
    first_audit = time.perf_counter() - t
    print(
        json.dumps(
            {"open_s": opened, "first_audit_use_s": first_audit, "revision": g.revision, "n": n}
        ),
        flush=True,
    )


# --- the parent -----------------------------------------------------------------------


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def writers_rate(base_url: str, graph: str, processes: int, seconds: float) -> float:
    url = f"{base_url}?graph={graph}"
    g = ag.Graph.open(url + "&follow=off")
    seed(g)
    start_at = time.time() + 3.0
    procs = [child("writer", url, f"w{i}", str(start_at), str(seconds)) for i in range(processes)]
    total = 0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        assert p.returncode == 0
        total += json.loads(out.strip().splitlines()[-1])["count"]
    g.refresh()
    g.audit.verify()
    assert sum(1 for e in g.audit if e.action.startswith("grant.")) == total
    return total / seconds


def propagation(base_url: str, count: int) -> dict[str, float]:
    url = f"{base_url}?graph=latency"
    g = ag.Graph.open(url + "&follow=off")
    seed(g)
    g.add_member("pinger@example.com", "acme", actor=OWNER)
    until = g.revision + count
    reader = child("reader", url, str(until))
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "ready"
    pinger = child("pinger", url, str(count))
    assert pinger.stdin is not None
    pinger.stdin.write("go\n")
    pinger.stdin.flush()
    acked = json.loads(pinger.communicate(timeout=300)[0].strip().splitlines()[-1])
    seen = {int(k): v for k, v in json.loads(reader.communicate(timeout=300)[0]).items()}
    lat = sorted((seen[seq] - t) / 1e6 for seq, t in acked)
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {
        "propagation_samples": len(lat),
        "propagation_p50_ms": q[49],
        "propagation_p99_ms": q[98],
        "propagation_max_ms": lat[-1],
    }


def staleness(base_url: str, graph: str, processes: int, count: int, rounds: int) -> dict[str, Any]:
    """`rounds` runs of `processes` processes that each commit `count` events and watch
    the others': commit (acknowledged in one process) to visibility (in each other one)."""
    url = f"{base_url}{'&' if '?' in base_url else '?'}graph={graph}"
    setup = ag.Graph.open(url + "&follow=off")
    seed(setup)
    per_round: list[dict[str, float]] = []
    everything: list[float] = []
    for _ in range(rounds):
        setup.refresh()
        until = setup.revision + processes * count
        peers = [child("peer", url, f"p{i}", str(count), str(until)) for i in range(processes)]
        for p in peers:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in peers:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [
            json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in peers
        ]
        lat: list[float] = []
        for i, mine in enumerate(results):
            for j, other in enumerate(results):
                if i == j:
                    continue
                seen = {int(k): v for k, v in other["seen"].items()}
                lat += [(seen[seq] - t) / 1e6 for seq, t in mine["acked"] if seq in seen]
        expected = processes * count * (processes - 1)
        assert len(lat) == expected, f"{len(lat)} visibilities of {expected}"
        lat.sort()
        q = statistics.quantiles(lat, n=100, method="inclusive")
        per_round.append({"p50_ms": q[49], "p99_ms": q[98], "max_ms": lat[-1]})
        everything += lat
    everything.sort()
    q = statistics.quantiles(everything, n=100, method="inclusive")
    return {
        "processes": processes,
        "samples": len(everything),
        "p50_ms": q[49],
        "p99_ms": q[98],
        "max_ms": everything[-1],
        "rounds": per_round,
        "p99_ms_range": [min(r["p99_ms"] for r in per_round), max(r["p99_ms"] for r in per_round)],
        "p50_ms_range": [min(r["p50_ms"] for r in per_round), max(r["p50_ms"] for r in per_round)],
    }


def tls_server(base: Path) -> tuple[Any, str]:
    """A TLS-only server (tests/pg_tls.py) and a verify-full URL to it."""
    import pg_tls

    c = pg_tls.start(base / "tls", free_port())
    c.psql("CREATE DATABASE bench")
    return c, c.tls_url(
        "postgres", "localhost", "bench", sslmode="verify-full", sslrootcert=str(c.pki.ca)
    )


def build_big(path: Path, events: int) -> ag.Graph:
    """A file journal of `events` events (the journal benchmark's workload)."""
    g = ag.Graph.open(path, durability="os")
    seed(g)
    users = max(1, events // 10)
    i = 0
    while g.revision < events:
        u = f"u{i % users}@example.com"
        if i < users:
            g.add_member(u, "acme", actor=OWNER, reason=f"hire {i}")
        else:
            # Each round over the users visits the next project; a pair comes back every
            # 20 rounds with the next role, so every call is a real change.
            r = i // users
            g.grant(u, f"acme/p{r % 20}", ("viewer", "member", "admin")[(r // 20) % 3], actor=OWNER)
        i += 1
    return g


def join(url: str) -> dict[str, Any]:
    out, _ = child("join", url).communicate(timeout=1800)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--url", default=None, help="a running server (default: start one)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--pings", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=5, help="staleness runs")
    ap.add_argument("--peer-pings", type=int, default=100, help="commits per staleness peer")
    ap.add_argument("--only", choices=["staleness", "history", "history-queries"], default=None)
    ap.add_argument("--queries", type=int, default=30, help="users asked about (history)")
    ap.add_argument("--marks", default="20000,200000", help="events at which memory is read")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.role:
        role, *rest = args.role
        if role == "writer":
            role_writer(rest[0], rest[1], float(rest[2]), float(rest[3]))
        elif role == "pinger":
            role_pinger(rest[0], int(rest[1]))
        elif role == "reader":
            role_reader(rest[0], int(rest[1]))
        elif role == "join":
            role_join(rest[0])
        elif role == "peer":
            role_peer(rest[0], rest[1], int(rest[2]), int(rest[3]))
        elif role == "rss":
            role_rss(rest[0], rest[1])
        elif role == "query":
            role_query(rest[0], int(rest[1]), int(rest[2]))
        return

    import pg_cluster

    base = Path(tempfile.mkdtemp(prefix="ag-bench-pg-"))
    base.chmod(0o755)  # the server runs as the postgres user when we are root
    cluster = None
    tls = None
    try:
        if args.url:
            server = args.url
        else:
            cluster = pg_cluster.Cluster(base / "pg" / "data", free_port(), durable=True)
            cluster.init()
            cluster.start()
            cluster.ready()
            cluster.psql("CREATE DATABASE bench")
            server = cluster.url("bench")
        out: dict[str, Any] = {"note": "fsync on; server, writers and readers on one machine"}
        if args.only == "history-queries":
            out["history_queries"] = history_queries(server, base, args.events, args.queries)
            print(json.dumps(out, indent=2), flush=True)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
            return
        if args.only == "history":
            if cluster is not None:
                c = cluster
                out["index_write_cost"] = index_write_cost(
                    server, lambda sql: c.psql(sql, "bench"), args.seconds, args.rounds
                )
                print(json.dumps(out, indent=2), flush=True)
            out["history_memory"] = history_memory(server, base, args.rounds, args.marks)
            print(json.dumps(out, indent=2), flush=True)
            out["history_queries"] = history_queries(server, base, args.events, args.queries)
            print(json.dumps(out, indent=2), flush=True)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
            return
        if args.only == "staleness":
            out["staleness_4_processes"] = staleness(
                server, "stale", 4, args.peer_pings, args.rounds
            )
            print(json.dumps(out, indent=2), flush=True)
            tls, tls_url = tls_server(base)
            out["staleness_4_processes_tls_verify_full"] = staleness(
                tls_url, "stale", 4, args.peer_pings, args.rounds
            )
            out["note_tls"] = "TLS server with fsync off (tests/pg_tls.py)"
            print(json.dumps(out, indent=2), flush=True)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
            return
        for n in (1, 2, 4):
            out[f"mutations_per_s_{n}_writers"] = writers_rate(server, f"w{n}", n, args.seconds)
            print(json.dumps(out, indent=2), flush=True)
        out.update(propagation(server, args.pings))
        out["staleness_4_processes"] = staleness(server, "stale", 4, args.peer_pings, args.rounds)
        print(json.dumps(out, indent=2), flush=True)

        journal = base / "big.journal"
        t = time.perf_counter()
        del_me = build_big(journal, args.events)
        out["events"] = del_me.revision
        out["build_file_journal_s"] = time.perf_counter() - t
        del del_me
        big = f"{server}?graph=big&follow=off"
        t = time.perf_counter()
        agpg.import_journal(journal, big)
        out["import_into_postgres_s"] = time.perf_counter() - t
        journal.unlink()
        out["join_without_snapshot"] = join(big)
        print(json.dumps(out, indent=2), flush=True)
        g = ag.Graph.open(big)
        t = time.perf_counter()
        g.snapshot()
        out["snapshot_write_s"] = time.perf_counter() - t
        del g
        out["join_with_snapshot"] = join(big)
        print(json.dumps(out, indent=2), flush=True)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    finally:
        if cluster is not None:
            cluster.stop("fast")
        if tls is not None:
            tls.stop("fast")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
