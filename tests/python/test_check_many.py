"""``check_many`` on batches longer than one chunk (1024 queries) and the GIL threshold
(512): the same answers as ``check``, errors naming the query that caused them, API
keys' principals anywhere in the batch, a writer let in between chunks, and a list that
another thread changes during the call."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest

import accessgraph as ag

ACTIONS = ("project:view", "insight:create", "feature_flag:manage", "org:view")
TARGETS = ("acme/production", "acme/staging", "acme/development", "acme", "acme/zzz")
# Project-scoped actions on projects (an org target is an error), org actions anywhere.
PAIRS = [(a, t) for a in ACTIONS for t in TARGETS if a == "org:view" or "/" in t]


def queries(acme: ag.Graph, n: int) -> list[tuple[str, str, str]]:
    users = [u.email for u in acme.users()] + ["nobody@example.com", "Alice@Example.COM"]
    return [
        # Fresh str objects, as a request would pass them.
        (
            "".join(users[i % len(users)]),
            PAIRS[i % len(PAIRS)][0],
            "".join(PAIRS[i % len(PAIRS)][1]),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [0, 1, 511, 512, 1023, 1024, 1025, 3000])
def test_every_length_answers_like_check(acme: ag.Graph, n: int) -> None:
    batch = queries(acme, n)
    expected = [acme.check(*q) for q in batch]
    assert acme.check_many(batch) == expected
    assert acme.check_many(tuple(batch)) == expected
    assert acme.check_many(iter(batch)) == expected
    if n > 100:
        assert any(expected) and not all(expected)


def test_an_error_names_its_query_in_a_later_chunk(acme: ag.Graph) -> None:
    batch: list[object] = list(queries(acme, 3000))
    batch[2500] = ("alice@example.com", "project:view")
    with pytest.raises(TypeError, match=r"queries\[2500\]"):
        acme.check_many(batch)  # type: ignore[arg-type]
    batch[2500] = ("alice@example.com", "project:view", 7)
    with pytest.raises(TypeError, match=r"queries\[2500\]"):
        acme.check_many(batch)  # type: ignore[arg-type]
    batch[2500] = ("alice@example.com", "nope:nope", "acme/staging")
    with pytest.raises(ag.UnknownActionError):
        acme.check_many(batch)  # type: ignore[arg-type]
    batch[2500] = ("alice@example.com", "project:view", "acme")
    with pytest.raises(ag.ValidationError):
        acme.check_many(batch)  # type: ignore[arg-type]


def test_a_principal_late_in_a_long_batch_takes_the_keyed_path(acme: ag.Graph) -> None:
    key_id, secret = acme.create_personal_key(
        "alice@example.com", "ci", scopes=["insight:read"], actor="alice@example.com"
    )
    principal = acme.authenticate(secret)
    assert principal is not None and key_id
    batch: list[tuple[str | ag.Principal, str, str]] = list(queries(acme, 2000))
    batch[1500] = (principal, "insight:view", "acme/staging")
    batch[1501] = (principal, "insight:create", "acme/staging")
    answers = acme.check_many(batch)
    assert answers[1500] is True and answers[1501] is False
    assert answers == [acme.check(*q) for q in batch]


ALLOWED = ("charlie@example.com", "project:view", "acme/development")
DENIED = ("evan@example.com", "project:view", "acme/development")


def test_a_writer_gets_in_between_chunks(acme: ag.Graph) -> None:
    """A revoke made while a long batch runs lands between two chunks: the answers to one
    repeated query switch once, from allowed to denied, at a multiple of 1024."""
    batch = [ALLOWED] * 300_000
    switched_mid_batch = 0
    for _ in range(5):
        acme.grant(*ALLOWED[::2], "member")
        go = threading.Event()

        def writer(go: threading.Event) -> None:
            go.wait()
            acme.revoke(*ALLOWED[::2], actor=None)

        t = threading.Thread(target=writer, args=(go,))
        t.start()
        go.set()
        answers = acme.check_many(batch)
        t.join()
        assert not acme.check(*ALLOWED)
        switch = answers.index(False) if False in answers else len(answers)
        assert answers == [True] * switch + [False] * (len(answers) - switch)
        assert switch % 1024 == 0, switch
        switched_mid_batch += 0 < switch < len(answers)
    # The writer waits for the GIL, which the batch releases while deciding its first
    # chunk, and for the read lock, which the batch lets go of after each chunk.
    assert switched_mid_batch > 0


def test_a_list_changed_by_another_thread_is_read_as_it_was_at_the_call(acme: ag.Graph) -> None:
    """Another thread swaps the whole list's content back and forth (each swap is atomic
    under the GIL) while batches run: every answer list is the answer to one of the two
    contents, never a mix of both."""
    n = 20_000
    allowed, denied = [ALLOWED] * n, [DENIED] * n
    batch = list(allowed)
    stop = threading.Event()
    swaps = 0

    def mutator() -> None:
        nonlocal swaps
        while not stop.is_set():
            batch[:] = denied
            batch[:] = allowed
            swaps += 1

    t = threading.Thread(target=mutator)
    t.start()
    try:
        for _ in range(10):
            answers = acme.check_many(batch)
            assert answers in ([True] * n, [False] * n)
    finally:
        stop.set()
        t.join()
    assert swaps >= 10  # the mutator ran while the batches did


class Text(str):
    """A ``str`` subclass: read through the C API, not straight from the object."""


def test_queries_of_every_shape_anywhere_in_a_long_batch_answer_like_check(
    acme: ag.Graph,
) -> None:
    """A long batch is read without the GIL as far as its queries are exact tuples of
    compact ASCII ``str``; a query of another shape, wherever it is, is read with the GIL
    from its chunk on. Every answer is ``check``'s."""
    acme.add_member("zoe@bücher.example", "acme", actor="alice@example.com")
    acme.grant("zoe@bücher.example", "acme/staging", "member", actor="alice@example.com")
    odd: list[object] = [
        ("zoe@bücher.example", "project:view", "acme/staging"),
        ("Zoe@BÜCHER.example", "project:view", "acme/staging"),
        (Text("charlie@example.com"), "project:view", "acme/development"),
        ("charlie@example.com", Text("project:view"), "acme/development"),
        ("diana@example.com", "project:view", Text("acme/staging")),
        PairQuery("diana@example.com", "project:view", "acme/staging"),
        ("日本@example.com", "project:view", "acme/staging"),
    ]
    for position in (0, 1023, 1024, 2500, 2999):
        for query in odd:
            batch: list[object] = list(queries(acme, 3000))
            batch[position] = query
            expected = [acme.check(*q) for q in batch]  # type: ignore[misc]
            assert acme.check_many(batch) == expected, (position, query)  # type: ignore[arg-type]
    assert acme.check("zoe@bücher.example", "project:view", "acme/staging")


class PairQuery(tuple[str, str, str]):
    """A tuple subclass (as a NamedTuple is)."""

    def __new__(cls, user: str, action: str, target: str) -> PairQuery:
        return super().__new__(cls, (user, action, target))


def test_strings_interned_by_another_thread_during_a_batch_read_the_same(
    acme: ag.Graph,
) -> None:
    """``sys.intern`` sets bits in the state word of a ``str`` not interned yet, the word
    a batch reads without the GIL to see that a string is ASCII: strings interned while
    the batch reads them still read as their text."""
    import sys

    for r in range(10):
        # Members' queries, and strangers' with addresses no str interned yet holds.
        batch = [
            q if i % 2 else (f"stranger-{r}-{i}@example.com", q[1], q[2])
            for i, q in enumerate(queries(acme, 50_000))
        ]
        expected = [acme.check(*q) for q in batch]
        done = threading.Event()

        def intern_all(batch: list[tuple[str, str, str]], done: threading.Event) -> None:
            for user, _action, target in batch:
                sys.intern(user)
                sys.intern(target)
            done.set()

        t = threading.Thread(target=intern_all, args=(batch, done))
        t.start()
        while not done.is_set():
            assert acme.check_many(batch) == expected
        t.join()


@pytest.mark.parametrize("n", [0, 1, 600, 3000])
@pytest.mark.parametrize("kind", ["list", "tuple", "iterator", "odd list"])
def test_a_batch_gives_back_every_reference_it_took(acme: ag.Graph, n: int, kind: str) -> None:
    """The snapshot of a list takes a reference to every query and gives each back (the
    answers' list holds new ones to ``True`` and ``False``): after the call every query
    tuple and string has the count it had before, whatever path read it."""
    import sys

    batch: list[object] = list(queries(acme, n))
    if kind == "odd list" and n:
        batch[n // 2] = (Text("charlie@example.com"), "project:view", "acme/development")
    parts = [x for q in batch for x in (q, *q)]  # type: ignore[misc]
    before = [sys.getrefcount(x) for x in parts]
    arg = {"tuple": tuple(batch), "iterator": iter(batch)}.get(kind, batch)
    answers = acme.check_many(arg)  # type: ignore[arg-type]
    del arg
    assert answers == [acme.check(*q) for q in batch]  # type: ignore[misc]
    assert [sys.getrefcount(x) for x in parts] == before


class Watched(str):
    """A user whose ``__del__`` looks, through the collector, for a tuple as long as the
    batch: the snapshot, had it been left visible while its slots are given back."""

    length: ClassVar[int] = 0
    found: ClassVar[list[bool]] = []
    in_call: ClassVar[threading.local] = threading.local()

    def __del__(self) -> None:
        if getattr(Watched.in_call, "on", False) and not Watched.found:
            import gc

            # Claimed first: the list of every object is let go of inside this call,
            # which may run the `__del__` of queries the other thread dropped meanwhile.
            Watched.found.append(False)
            Watched.found[0] = any(
                type(o) is tuple and len(o) == Watched.length for o in gc.get_objects()
            )


def test_queries_only_the_snapshot_still_holds_are_freed_and_never_seen_half_given_back(
    acme: ag.Graph,
) -> None:
    """Another thread replaces a list's queries with fresh ones while batches run, so the
    snapshot holds the last reference to the old ones: they are freed when the call ends
    (none leaks), and the ``__del__`` that runs then finds no half-emptied snapshot."""
    import weakref

    n = 4000
    Watched.length, Watched.found = n, []

    def fresh() -> list[tuple[str, str, str]]:
        return [
            (Watched("charlie@example.com"), "project:view", "acme/development") for _ in range(n)
        ]

    batch = fresh()
    stop = threading.Event()
    refs: list[weakref.ref[str]] = []

    def mutator() -> None:
        while not stop.is_set():
            batch[:] = fresh()

    t = threading.Thread(target=mutator)
    t.start()
    try:
        for _ in range(400):
            refs.extend(weakref.ref(q[0]) for q in batch[:1])
            Watched.in_call.on = True
            try:
                assert acme.check_many(batch) == [True] * n
            finally:
                Watched.in_call.on = False
            if Watched.found and len(refs) >= 20:
                break
    finally:
        stop.set()
        t.join()
    batch.clear()
    assert all(r() is None for r in refs)
    # At least one batch dropped the last reference to a query (else nothing was tried).
    assert Watched.found == [False]


@pytest.mark.parametrize(
    ("user", "action", "target", "allowed"),
    [
        ("charlie@example.com", "insight:create", "acme/development", True),
        ("charlie@example.com", "insight:create", "acme/production", False),
        (Text("charlie@example.com"), "insight:create", "acme/development", True),
        ("charlie@example.com", Text("insight:create"), "acme/development", True),
        ("charlie@example.com", "insight:create", Text("acme/development"), True),
        (Text("charlie@example.com"), "insight:create", Text("acme/production"), False),
        ("CHARLIE@example.com", "insight:create", "acme/development", True),
        ("zoe@bücher.example", "insight:create", "acme/staging", True),
        ("Zoe@BÜCHER.example", "insight:create", "acme/staging", True),
        ("zoe@bücher.example", "insight:create", "acme/development", False),
        ("日本@example.com", "project:view", "acme/staging", False),
        ("", "project:view", "acme/staging", False),
        ("charlie@example.com" + "x" * 300, "project:view", "acme/development", False),
    ],
)
def test_check_reads_each_kind_of_string_as_its_text(
    acme: ag.Graph, user: str, action: str, target: str, allowed: bool
) -> None:
    """``check`` reads an exact compact ASCII ``str`` straight from the object and any
    other string (a subclass, Latin-1, other scripts) through the C API: each is read as
    its text, so the answer is the one the records give."""
    acme.add_member("zoe@bücher.example", "acme", actor="alice@example.com")
    acme.grant("zoe@bücher.example", "acme/staging", "member", actor="alice@example.com")
    assert acme.check(user, action, target) is allowed
    assert acme.check_many([(user, action, target)]) == [allowed]
