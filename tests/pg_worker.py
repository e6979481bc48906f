"""A worker process of the PostgreSQL journal tests: opens a graph from a URL, mutates
and checks it, reports each acknowledged mutation on stdout.

    python tests/pg_worker.py URL NAME COUNT [--pause SECONDS]

Prints ``ack EMAIL`` after each mutation that returned (flushing at once, so a parent that
kills the worker knows exactly what was acknowledged), ``fail EMAIL doubt|clean`` for one
that raised ``JournalUnavailableError`` (``doubt`` when the message says the commit may have
happened), ``ryw-broken EMAIL`` if a write is not visible to the writer right after it
returned, and ``wrote`` when done. Then it reads a revision from stdin, waits (without
calling refresh: the follower thread must bring it) until its graph reaches it, and prints
``state {json}``: revision, a digest of the whole graph, the audit log's length and
whether it verifies.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

import accessgraph as ag

OWNER = "jane@example.com"


def main() -> None:
    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--pause" else 0.0
    g = ag.Graph.open(url)
    print("open", g.revision, flush=True)
    for i in range(count):
        email = f"{name}-{i}@example.com"
        try:
            g.add_member(email, "acme", actor=OWNER)
        except ag.JournalUnavailableError as exc:
            doubt = "may have been committed" in str(exc)
            print("fail", email, "doubt" if doubt else "clean", flush=True)
            # Checks keep answering from memory meanwhile.
            g.check(OWNER, "project:view", "acme/web")
            time.sleep(0.05)
            continue
        print("ack", email, flush=True)
        # Read-your-writes: the writer sees its own change the moment the call returns.
        if g.role(email, "acme") != "member":
            print("ryw-broken", email, flush=True)
        g.check(email, "project:view", "acme/web")
        if pause:
            time.sleep(pause)
    print("wrote", flush=True)
    target = int(sys.stdin.readline())
    deadline = time.monotonic() + 30
    while g.revision < target and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        g.audit.verify()
        verified = True
    except ag.AccessGraphError:
        verified = False
    state = {
        "revision": g.revision,
        "digest": hashlib.sha256(g.to_json().encode()).hexdigest(),
        "audit_len": len(g.audit),
        "verified": verified,
    }
    print("state", json.dumps(state), flush=True)


if __name__ == "__main__":
    main()
