"""An independent verifier of accessgraph's journal format 2, written from
``docs/journal-format.md`` alone: the standard library only, never ``accessgraph``.

It checks a journal (header, checksums, batches, event hashes, commitments, the
personal-field schema, the seal rule and, with the key, the signed checkpoint and each
batch's MAC), a snapshot's MAC and resume point, and a JSON Lines export with its trailer.
Each check raises :class:`Invalid` naming the line (journal) or ``seq`` (export).

    python tests/journal_verifier.py FILE [--hmac-key-file KEY]

The test suite runs it on every journal and export it writes and checks that it agrees
with accessgraph's own ``verify()`` (tests/python/conftest.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BUILTIN_ACTIONS = frozenset(
    [
        "org.created",
        "org.deleted",
        "org.updated",
        "project.created",
        "project.deleted",
        "project.updated",
        "member.added",
        "member.role_changed",
        "member.updated",
        "member.removed",
        "user.updated",
        "grant.added",
        "grant.changed",
        "grant.removed",
        "resource.created",
        "resource.transferred",
        "action.defined",
        "template.defined",
        "api_key.created",
        "api_key.rotated",
        "api_key.revoked",
        "project_key.rotated",
        "access_request.created",
        "access_request.approved",
        "access_request.denied",
        "user.offboarded",
        "user.erased",
        "campaign.started",
        "campaign.decided",
        "campaign.closed",
        "access.denied",
    ]
)
PERSONAL_KEYS = frozenset(
    [
        "user",
        "name",
        "title",
        "reason",
        "owner",
        "to",
        "transfer_to",
        "label",
        "email",
        "decision_reason",
        "reviewer",
    ]
)
USER_TARGETS = frozenset({"user.updated", "user.offboarded"})
SLOT = 512
HEX = re.compile(r"[0-9a-f]*")
PSEUDONYM = re.compile(r"erased:[0-9a-f]{16}")
INSTANT = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)"
)


class Invalid(Exception):
    """The file does not verify: ``line`` (a journal's) or ``seq`` names where."""

    def __init__(self, reason: str, *, line: int | None = None, seq: int | None = None):
        where = f"line {line}: " if line is not None else f"event {seq}: " if seq else ""
        super().__init__(where + reason)
        self.reason, self.line, self.seq = reason, line, seq


# --- canonical JSON (serde_json's compact form, keys sorted) -------------------------


def _float(x: float) -> str:
    """A float as serde_json writes it: the shortest digits that round-trip, laid out as
    ``100.0``, ``0.00001``, ``1e+16``, ``1.5e-7`` (docs/journal-format.md, Notation)."""
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    sign, text = ("-", repr(-x)) if x < 0 else ("", repr(x))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    significant = (whole + frac).lstrip("0")
    digits = significant.rstrip("0")
    # the value is int(digits) * 10^k, that is 0.<digits> * 10^kk
    k = int(exp or 0) - len(frac) + len(significant) - len(digits)
    n = len(digits)
    kk = n + k
    if k >= 0 and kk <= 16:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        body = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        body = "0." + "0" * -kk + digits
    else:
        body = digits[0] + ("." + digits[1:] if n > 1 else "") + f"e{kk - 1:+d}"
    return sign + body


def canonical(v: Any) -> str:
    """The canonical JSON text of ``v`` (docs/journal-format.md, "Notation")."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if -(2**63) <= v < 2**64 else _float(float(v))
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode())
        return "{" + ",".join(canonical(k) + ":" + canonical(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def _loads(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mac(key: bytes, domain: str, *parts: str) -> str:
    return hmac.new(key, "\0".join([domain, *parts]).encode(), hashlib.sha256).hexdigest()


def mac_ok(key: bytes, domain: str, parts: list[str], tag: Any) -> bool:
    if not isinstance(tag, str) or len(tag) != 64 or not re.fullmatch(r"[0-9a-fA-F]*", tag):
        return False
    return hmac.compare_digest(bytes.fromhex(tag), bytes.fromhex(mac(key, domain, *parts)))


def genesis(graph_id: str) -> str:
    return sha256_hex(f"accessgraph/genesis/v2\0{graph_id}".encode())


def instant(text: Any) -> str:
    """An RFC 3339 instant in its canonical form: UTC, ``Z``, 0, 3 or 6 fraction digits."""
    m = INSTANT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"`{text}` is not an instant")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    at = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micros, tzinfo=UTC)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        at -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    out = f"{at.year:04d}-{at:%m-%dT%H:%M:%S}"
    if at.microsecond:
        us = f"{at.microsecond:06d}"
        out += "." + (us[:3] if us.endswith("000") else us)
    return out + "Z"


# --- events ---------------------------------------------------------------------------


def _token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def personal_fields(ev: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, value) of every personal string of an event (the schema)."""
    action = ev["action"]
    builtin = action in BUILTIN_ACTIONS
    out = [("/actor", ev["actor"])]
    if not builtin or action in USER_TARGETS:
        out.append(("/target", ev["target"]))

    def walk(path: str, v: Any, personal: bool) -> None:
        if isinstance(v, str):
            if personal:
                out.append((path, v))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(f"{path}/{i}", x, personal)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{path}/{_token(k)}", x, personal or (builtin and k in PERSONAL_KEYS))

    for k, x in ev["details"].items():
        walk(f"/details/{_token(k)}", x, not builtin or k in PERSONAL_KEYS)
    return out


def derive_salt(seed: bytes, path: str) -> bytes:
    """The salt of the personal field at ``path`` of an event with ``seed``."""
    return hashlib.sha256(b"accessgraph/salt/v2\0" + seed + path.encode()).digest()[:16]


def commit(salt: bytes, path: str, value: str) -> str:
    data = b"accessgraph/commit/v2\0" + salt + path.encode() + b"\0" + value.encode()
    return sha256_hex(data)


def _check_shape(ev: Any, full: bool) -> None:
    """The fields of an event (journal form, or the export's ``full`` form) and types."""
    fields = {"seq", "at", "actor", "action", "target", "details"}
    known = fields | {"seed", "salts", "sealed"} | ({"prev_hash", "hash"} if full else set())
    if not isinstance(ev, dict):
        raise ValueError("an event is not a JSON object")
    required = fields | ({"prev_hash", "hash"} if full else set())
    if missing := sorted(required - set(ev)):
        raise ValueError(f"an event without `{missing[0]}`")
    if unknown := sorted(set(ev) - known):
        raise ValueError(f"an event with an unknown field `{unknown[0]}`")
    seq = ev["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**64:
        raise ValueError("`seq` is not a non-negative integer")
    for f in ("actor", "action", "target") + (("prev_hash", "hash") if full else ()):
        if not isinstance(ev[f], str):
            raise ValueError(f"`{f}` is not a string")
    if not isinstance(ev["details"], dict):
        raise ValueError("`details` is not an object")
    if "seed" in ev and not isinstance(ev["seed"], str):
        raise ValueError("`seed` is not a string")
    for f in ("salts", "sealed"):
        m = ev.get(f, {})
        if not isinstance(m, dict) or not all(isinstance(x, str) for x in m.values()):
            raise ValueError(f"`{f}` is not an object of strings")


def event_hash(ev: dict[str, Any], prev_hash: str) -> str:
    """The hash of an event chained after ``prev_hash``, checking its salts and seals
    against the schema; raises ``ValueError`` saying what is wrong."""
    salts, sealed = ev.get("salts", {}), ev.get("sealed", {})
    seed = ev.get("seed")
    if seed is not None:
        # An event with its seed has every salt derived from it, and nothing of its own.
        if len(seed) != 32 or not HEX.fullmatch(seed):
            raise ValueError("the commitment of `/seed` is missing or malformed")
        if own := sorted(set(salts) | set(sealed)):
            if own[0] not in dict(personal_fields(ev)):
                raise ValueError(f"`{own[0]}` carries a salt or a seal but is not a personal field")
            raise ValueError(f"the commitment of `{own[0]}` is missing or malformed")
    commits: dict[str, str] = {}
    for path, value in personal_fields(ev):
        s, c = salts.get(path), sealed.get(path)
        if seed is not None:
            commits[path] = commit(derive_salt(bytes.fromhex(seed), path), path, value)
        elif c is not None and s is None:
            if not PSEUDONYM.fullmatch(value):
                raise ValueError(f"`{path}` is sealed but does not hold an erased user's pseudonym")
            if len(c) != 64 or not HEX.fullmatch(c):
                raise ValueError(f"the commitment of `{path}` is missing or malformed")
            commits[path] = c
        elif s is not None and c is None and len(s) == 32 and HEX.fullmatch(s):
            commits[path] = commit(bytes.fromhex(s), path, value)
        else:
            raise ValueError(f"the commitment of `{path}` is missing or malformed")
    if extra := sorted((set(salts) | set(sealed)) - set(commits)):
        raise ValueError(f"`{extra[0]}` carries a salt or a seal but is not a personal field")

    def hide(path: str, v: Any) -> Any:
        if isinstance(v, str):
            return "#" + commits[path] if path in commits else v
        if isinstance(v, list):
            return [hide(f"{path}/{i}", x) for i, x in enumerate(v)]
        if isinstance(v, dict):
            return {k: hide(f"{path}/{_token(k)}", x) for k, x in v.items()}
        return v

    doc = {
        "action": ev["action"],
        "actor": hide("/actor", ev["actor"]),
        "at": instant(ev["at"]),
        "details": hide("/details", ev["details"]),
        "seq": ev["seq"],
        "target": hide("/target", ev["target"]),
    }
    data = b"accessgraph/event/v2\n" + prev_hash.encode() + b"\n" + canonical(doc).encode()
    return sha256_hex(data)


def seals(ev: dict[str, Any]) -> list[tuple[str, str]]:
    sealed = ev.get("sealed", {})
    return [(p, v) for p, v in personal_fields(ev) if p in sealed]


def check_seals(base_seq: int, events: list[dict[str, Any]]) -> None:
    """The seal rule: each sealed field holds the pseudonym of a ``user.erased`` event at
    or after it, and each erasure lists exactly the fields sealed with its pseudonym."""
    found: dict[str, list[tuple[int, str]]] = {}
    for ev in events:
        for path, pseudonym in seals(ev):
            found.setdefault(pseudonym, []).append((ev["seq"], path))
        if ev["action"] != "user.erased":
            continue
        p, listed = ev["details"].get("pseudonym"), ev["details"].get("sealed")
        if not isinstance(p, str):
            raise Invalid("a `user.erased` event without its pseudonym", seq=ev["seq"])
        ok = isinstance(listed, list) and all(
            isinstance(x, list)
            and len(x) >= 2
            and isinstance(x[0], int)
            and not isinstance(x[0], bool)
            and x[0] >= 0
            and isinstance(x[1], str)
            for x in listed
        )
        if not ok:
            raise Invalid("a `user.erased` event without the list of what it sealed", seq=ev["seq"])
        want = sorted((x[0], x[1]) for x in listed if x[0] > base_seq)
        if want != sorted(found.pop(p, [])):
            raise Invalid(f"the fields sealed with `{p}` are not the ones listed", seq=ev["seq"])
    if found:
        p = min(found)
        raise Invalid(f"`{p}` seals a field but no later erasure names it", seq=found[p][0][0])


# --- the journal ----------------------------------------------------------------------


def strip_crc(line: bytes) -> dict[str, Any]:
    """The JSON object of one record line (without its newline), its checksum checked."""
    text = line.decode("utf-8")
    pos = text.rfind(',"crc":"')
    tail = text[pos:] if pos >= 0 else ""
    m = re.fullmatch(r',"crc":"([0-9a-fA-F]{8})"\}', tail)
    body = text[:pos] + "}"
    if m is None or zlib.crc32(body.encode()) != int(m.group(1), 16):
        raise ValueError("the record's checksum does not match")
    obj = _loads(body)
    if not isinstance(obj, dict):
        raise ValueError("a record is not a JSON object")
    return obj


@dataclass
class Checkpoint:
    seq: int
    hash: str
    header: str
    trusted_from: int
    slot: int


def read_checkpoint(path: Path, key: bytes, graph_id: str) -> list[Checkpoint] | None:
    """The valid slots of ``path`` for this graph, newest first; ``None``: no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    valid = []
    for i in range(2):
        text = raw[i * SLOT : (i + 1) * SLOT].decode("utf-8", "replace").strip(" \n\0")
        try:
            cp = _loads(text) if text else None
        except ValueError:
            continue
        fields = {"accessgraph_checkpoint", "graph_id", "seq", "hash", "header", "trusted_from"}
        if not isinstance(cp, dict) or not fields <= set(cp) <= fields | {"mac"}:
            continue
        parts = [str(cp[f]) for f in ("graph_id", "seq", "hash", "header", "trusted_from")]
        if cp["accessgraph_checkpoint"] == 2 and mac_ok(
            key, "accessgraph/checkpoint/v2", parts, cp.get("mac", "")
        ):
            c = Checkpoint(cp["seq"], cp["hash"], cp["header"], cp["trusted_from"], i)
            if cp["graph_id"] == graph_id:
                valid.append(c)
    return sorted(valid, key=lambda c: -c.seq)


@dataclass
class Journal:
    """What a journal holds: its graph, base, events and how it ends."""

    graph_id: str
    base_seq: int
    anchor: str
    header_digest: str
    events: list[dict[str, Any]]
    last: tuple[int, str]
    torn: int  # bytes of a torn final line (0: none)
    checkpoint: Checkpoint | None  # the one vouching (with a key)
    snapshot: str  # "none", "used" or "ignored"


def verify_journal(
    path: Path, key: bytes | None = None, snapshot: Path | None = None
) -> Journal | None:
    """Verifies the journal at ``path`` (``None``: an empty file, a journal not yet
    written). ``snapshot`` defaults to ``<journal>.snapshot`` when it exists."""
    data = path.read_bytes()
    if not data:
        return None
    if b"\n" not in data:
        raise Invalid("the header line is incomplete", line=1)
    head_raw, _, _ = data.partition(b"\n")
    try:
        header = strip_crc(head_raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise Invalid(f"the header: {e}", line=1) from None
    if header.get("accessgraph_journal") != 2:
        raise Invalid(f"journal format {header.get('accessgraph_journal')} is not 2", line=1)
    known = {
        "accessgraph_journal",
        "graph_id",
        "base_seq",
        "anchor",
        "base_state",
        "erasures",
        "upgraded_from",
    }
    types = {"graph_id": str, "base_seq": int, "anchor": str}
    if set(header) - known or any(not isinstance(header.get(f), t) for f, t in types.items()):
        raise Invalid("not a format-2 journal header", line=1)
    if not isinstance(header.get("erasures", 0), int):
        raise Invalid("`erasures` is not an integer", line=1)
    if header.get("upgraded_from") is not None and not isinstance(header["upgraded_from"], str):
        raise Invalid("`upgraded_from` is not a string", line=1)
    graph_id, base_seq, anchor = header["graph_id"], header["base_seq"], header["anchor"]
    if base_seq == 0 and anchor != genesis(graph_id):
        raise Invalid("the anchor of an unpruned journal is not its graph's genesis", line=1)
    digest = sha256_hex(head_raw)
    checkpoint = None
    if key is not None:
        slots = read_checkpoint(Path(f"{path}.checkpoint"), key, graph_id)
        if slots is not None:
            if not slots:
                raise Invalid("the signed checkpoint does not verify with this key", line=1)
            checkpoint = next((c for c in slots if c.header == digest), None)
            if checkpoint is None:
                raise Invalid("the header is not the one the checkpoint vouches for", line=1)
    snap = verify_snapshot(snapshot or Path(f"{path}.snapshot"), key, required=bool(snapshot))
    *complete, tail = data.split(b"\n")
    resume = None
    if snap is not None and snap["offset"] > len(head_raw) + 1:
        ends = sum(len(x) + 1 for x in complete)
        if snap["offset"] <= ends and data[snap["offset"] - 1 : snap["offset"]] == b"\n":
            resume = snap
    events: list[dict[str, Any]] = []
    last = (base_seq, anchor)
    offset = len(head_raw) + 1
    resume_used = False
    for no, raw in enumerate(complete[1:], start=2):
        offset += len(raw) + 1
        try:
            batch = strip_crc(raw)
            if set(batch) - {"batch", "hash", "mac"} or not isinstance(batch.get("batch"), list):
                raise ValueError("not a batch of audit events (journal format 2)")
            if not batch["batch"] or not isinstance(batch.get("hash"), str):
                raise ValueError("an empty batch, or one without its hash")
            prev = last[1]
            for expect, ev in enumerate(batch["batch"], start=last[0] + 1):
                _check_shape(ev, full=False)
                if ev["seq"] != expect:
                    raise ValueError(f"expected event {expect}, found event {ev['seq']}")
                ev = {**ev, "prev_hash": prev}
                ev["hash"] = prev = event_hash(ev, prev)
                events.append(ev)
        except (ValueError, UnicodeDecodeError) as e:
            raise Invalid(str(e), line=no) from None
        if prev != batch["hash"]:
            raise Invalid("the batch's hash is not its last event's", line=no)
        end = events[-1]["seq"]
        # Batches up to a used signed snapshot are vouched for by the chain leading to it.
        signed_prefix = resume is not None and key is not None and offset <= resume["offset"]
        parts = [graph_id, str(end), prev]
        if (
            checkpoint
            and end > checkpoint.trusted_from
            and not signed_prefix
            and not mac_ok(key or b"", "accessgraph/batch/v2", parts, batch.get("mac"))
        ):
            raise Invalid(f"the batch ending at event {end} carries no valid MAC", line=no)
        last = (end, prev)
        if resume is not None and offset == resume["offset"]:
            resume_used = (end, prev) == (resume["seq"], resume["hash"])
    if checkpoint is not None:
        if checkpoint.seq > last[0]:
            raise Invalid(
                "the journal ends before its signed checkpoint: cut off", line=len(complete) + 1
            )
        at = {e["seq"]: e["hash"] for e in events}
        at[base_seq] = anchor
        if at.get(checkpoint.seq) != checkpoint.hash:
            raise Invalid(
                f"event {checkpoint.seq} differs from the signed checkpoint: rewritten", line=1
            )
    check_seals(base_seq, events)
    used = (
        snap is not None
        and resume_used
        and snap["graph_id"] == graph_id
        and snap["erasures"] == header.get("erasures", 0)
        and snap["header"] == digest
    )
    state = "none" if snap is None else "used" if used else "ignored"
    return Journal(graph_id, base_seq, anchor, digest, events, last, len(tail), checkpoint, state)


# --- snapshots ------------------------------------------------------------------------

SNAPSHOT_FIELDS = ("graph_id", "seq", "hash", "offset", "lines", "erasures", "header")


def verify_snapshot(path: Path, key: bytes | None, required: bool = True) -> dict[str, Any] | None:
    """A snapshot file's fields (``None``: no file and none required); with ``key`` its
    MAC must verify. Raises :class:`Invalid` (line 1) otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise Invalid(f"no snapshot at {path}", line=1) from None
        return None
    try:
        snap = _loads(text)
    except ValueError as e:
        raise Invalid(f"{path}: not a snapshot: {e}", line=1) from None
    fields = {"accessgraph_snapshot", *SNAPSHOT_FIELDS, "state"}
    types = {"graph_id": str, "hash": str, "header": str}
    if (
        not isinstance(snap, dict)
        or not fields <= set(snap) <= fields | {"mac"}
        or snap["accessgraph_snapshot"] != 2
        or any(not isinstance(snap[f], types.get(f, int)) for f in SNAPSHOT_FIELDS)
    ):
        raise Invalid(f"{path}: not a format-2 snapshot", line=1)
    if key is not None:
        parts = [str(snap[f]) for f in SNAPSHOT_FIELDS]
        parts.append(sha256_hex(canonical(snap["state"]).encode()))
        if not mac_ok(key, "accessgraph/snapshot/v2", parts, snap.get("mac")):
            raise Invalid(f"{path}: the snapshot's MAC does not verify", line=1)
    return snap


# --- exports --------------------------------------------------------------------------

TRAILER_FIELDS = ("graph_id", "anchor", "base_seq", "count", "last_hash")


def verify_export(path: Path, key: bytes | None = None) -> list[dict[str, Any]]:
    """The events of a JSON Lines export, verified against its trailer and each other."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(f"{path}: not UTF-8 text", line=data.count(b"\n", 0, e.start) + 1) from None
    lines = [x for x in text.split("\n") if x.strip()]
    try:
        trailer = _loads(lines[-1]) if lines else None
    except ValueError:
        trailer = None
    known = {"accessgraph_export", *TRAILER_FIELDS}
    types = {"graph_id": str, "anchor": str, "base_seq": int, "count": int, "last_hash": str}
    if (
        not isinstance(trailer, dict)
        or not known <= set(trailer) <= known | {"mac"}
        or trailer["accessgraph_export"] != 2
        or any(not isinstance(trailer[f], t) for f, t in types.items())
    ):
        raise Invalid("the export has no (format-2) trailer: cut short or not an export")
    if key is not None:
        parts = [str(trailer[f]) for f in TRAILER_FIELDS]
        if not mac_ok(key, "accessgraph/export/v2", parts, trailer.get("mac")):
            raise Invalid("the export's trailer does not verify with this key")
    events = []
    for no, line in enumerate(lines[:-1], start=1):
        try:
            ev = _loads(line)
            _check_shape(ev, full=True)
        except ValueError as e:
            raise Invalid(f"line {no}: not an audit event: {e}") from None
        events.append(ev)
    if len(events) != trailer["count"]:
        raise Invalid(f"{len(events)} events, the trailer counts {trailer['count']}")
    if (events[-1]["hash"] if events else trailer["anchor"]) != trailer["last_hash"]:
        raise Invalid("the last event is not the one the trailer records")
    prev = trailer["anchor"]
    for expect, ev in enumerate(events, start=trailer["base_seq"] + 1):
        if ev["seq"] != expect:
            raise Invalid(f"expected event {expect}, found event {ev['seq']}", seq=expect)
        if ev["prev_hash"] != prev:
            raise Invalid("its prev_hash is not the hash of the event before it", seq=expect)
        try:
            ok = event_hash(ev, prev) == ev["hash"]
        except ValueError as e:
            raise Invalid(str(e), seq=expect) from None
        if not ok:
            raise Invalid("its hash does not match its fields", seq=expect)
        prev = ev["hash"]
    check_seals(trailer["base_seq"], events)
    return events


def is_journal(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(23) == b'{"accessgraph_journal":'


def main(argv: list[str]) -> int:
    args = list(argv)
    key = None
    if "--hmac-key-file" in args:
        i = args.index("--hmac-key-file")
        key = Path(args[i + 1]).read_bytes()
        del args[i : i + 2]
    (target,) = args
    path = Path(target)
    try:
        if is_journal(path):
            j = verify_journal(path, key)
            n = len(j.events) if j else 0
            torn = f", a torn tail of {j.torn} bytes" if j and j.torn else ""
            print(f"intact: {path}: journal, {n} events{torn}")
        else:
            print(f"intact: {path}: export, {len(verify_export(path, key))} events")
    except Invalid as e:
        print(f"damaged: {path}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
