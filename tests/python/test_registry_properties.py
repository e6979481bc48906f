"""Property tests of the access registry (SPEC 5.1, 5.2, 9 "Registry").

Round trips: a random org exported to Markdown reads back to the same document and the
same listings; a random graph exported to JSON reads back byte for byte; its CSV access
matrix reads back to a graph with the same matrix. Robustness: the
parsers, fed arbitrary text or mangled real exports, return a graph or raise an
``AccessGraphError`` subclass, nothing else. ``benchmarks/fuzz_registry.py`` runs the
robustness properties for minutes; the helpers it needs live here.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import SEED_MARKDOWN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accessgraph as ag

BUILD_CLOCK = "2000-01-01T00:00:00Z"  # every generated expiry is after it
AUDIT_CLOCK = "2024-05-01T00:00:00Z"  # "past" and "future" are relative to this one

ORG_ROLES = ("owner", "admin", "member")
PROJECT_ROLES = ("viewer", "member", "admin")
KEYWORDS = ("expires", "reviewed", "reason", "external")

ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROBUST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------
# Text the registry can carry

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_WORD = st.text(alphabet=_LETTERS + "&.-'/", min_size=1, max_size=8).filter(
    lambda w: w[0] in _LETTERS
)


def _words(max_words: int = 4) -> st.SearchStrategy[str]:
    return st.lists(_WORD, min_size=1, max_size=max_words).map(" ".join)


def _not_keyword(piece: str) -> bool:
    first = piece.split()[0].lower().rstrip(":")
    return first not in KEYWORDS


# A title: words, pieces separated by commas (with or without a space), no piece that
# starts with a keyword of the person grammar.
TITLES = st.lists(_words(3).filter(_not_keyword), min_size=1, max_size=3).flatmap(
    lambda pieces: st.sampled_from([", ", ","]).map(lambda sep: sep.join(pieces))
)
# Any other title: the Markdown writer escapes what its grammar cannot carry as it is
# (line breaks, keywords, empty pieces, backslashes, spaces at either end).
ANY_TITLE = st.text(
    alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12
).filter(str.strip)
TRICKY_TITLES = st.sampled_from(
    ["Reason Lead", "reviewed", "External", "Lead, reason: x", "a,,b", "Two\nlines", "C:\\x"]
)
# A reason takes the rest of the parentheses: spaces and commas included.
REASONS = st.lists(_words(4), min_size=1, max_size=3).map(", ".join)
NAMES = _words(3)
# Free text as the graph takes it for a reason, a project name or an environment (any text
# but blank), rich in what Markdown and the registry grammar give a meaning to.
_MARKUP = " :()\\`|,#*->[]\n\t"
FREE_TEXT = st.one_of(
    st.text(
        alphabet=st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(_MARKUP)),
        min_size=1,
        max_size=16,
    ),
    st.lists(
        st.sampled_from(
            [*_MARKUP, "reason", "env", "expires 2024-01-01", "All projects", "\\u{20}", "a"]
        ),
        min_size=1,
        max_size=8,
    ).map("".join),
).filter(str.strip)
ENVIRONMENTS = st.sampled_from(["production", "staging", "development", "qa eu", "Prod-2"])
SLUGS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True)
EMAILS = st.builds(
    "{}@{}".format,
    st.from_regex(r"[a-z][a-z0-9]{0,6}(\.[a-z0-9]{1,4})?", fullmatch=True),
    st.sampled_from(["example.com", "agency.io", "sub.example.org"]),
)


@st.composite
def _instants(draw: st.DrawFn) -> datetime | date | str:
    """An expiry after BUILD_CLOCK: past or future at AUDIT_CLOCK, a date or an instant."""
    year = draw(st.one_of(st.integers(2001, 2023), st.integers(2025, 2040), st.just(2024)))
    day = draw(st.dates(date(year, 1, 1), date(year, 12, 28)))
    if draw(st.booleans()):
        as_date: list[datetime | date | str] = [day, day.isoformat()]
        return draw(st.sampled_from(as_date))
    moment = datetime(
        day.year,
        day.month,
        day.day,
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.sampled_from([0, 0, 30, 59])),
        draw(st.sampled_from([0, 0, 0, 500_000, 123_000])),
        tzinfo=UTC,
    )
    as_instant: list[datetime | date | str] = [moment, moment.isoformat().replace("+00:00", "Z")]
    return draw(st.sampled_from(as_instant))


INSTANTS = _instants()
REVIEWED = st.dates(date(2015, 1, 1), date(2030, 12, 31))

# ---------------------------------------------------------------------------------------
# Random graphs


@dataclass
class ProjectSpec:
    slug: str
    name: str
    environment: str | None
    restricted: bool
    pii: bool
    default_role: str | None


@dataclass
class GrantSpec:
    project: str | None  # None: `org/*`
    role: str
    expires: datetime | date | str | None
    reason: str | None
    by_owner: bool


@dataclass
class PersonSpec:
    email: str
    role: str
    name: str | None
    title: str | None
    expires: datetime | date | str | None
    reviewed: date | None
    reason: str | None
    external: bool
    grants: list[GrantSpec] = field(default_factory=list)


@dataclass
class GraphSpec:
    org: str
    org_name: str
    projects: list[ProjectSpec]
    people: list[PersonSpec]


@st.composite
def graph_specs(draw: st.DrawFn) -> GraphSpec:
    slugs = draw(st.lists(SLUGS, min_size=1, max_size=4, unique=True))
    projects = []
    for slug in slugs:
        restricted = draw(st.booleans())
        projects.append(
            ProjectSpec(
                slug=slug,
                name=draw(NAMES),
                environment=draw(st.none() | ENVIRONMENTS),
                restricted=restricted,
                pii=draw(st.booleans()),
                default_role=None
                if restricted
                else draw(st.none() | st.sampled_from(PROJECT_ROLES)),
            )
        )
    emails = draw(st.lists(EMAILS, min_size=1, max_size=8, unique=True))
    people = []
    for i, email in enumerate(emails):
        role = "owner" if i == 0 else draw(st.sampled_from(ORG_ROLES))
        person = PersonSpec(
            email=email,
            role=role,
            name=draw(st.none() | NAMES),
            title=draw(st.none() | TITLES | TRICKY_TITLES | ANY_TITLE),
            expires=None if role == "owner" else draw(st.none() | INSTANTS),
            reviewed=draw(st.none() | REVIEWED),
            reason=draw(st.none() | REASONS),
            external=draw(st.booleans()),
        )
        targets = draw(
            st.lists(st.sampled_from([None, *slugs]), unique=True, max_size=len(slugs) + 1)
        )
        person.grants = [
            GrantSpec(
                project=target,
                role=draw(st.sampled_from(PROJECT_ROLES)),
                expires=draw(st.none() | INSTANTS),
                reason=draw(st.none() | REASONS),
                by_owner=i > 0 and draw(st.booleans()),
            )
            for target in targets
        ]
        people.append(person)
    return GraphSpec(org=draw(SLUGS), org_name=draw(NAMES), projects=projects, people=people)


def build(spec: GraphSpec, *, extras: bool = False) -> ag.Graph:
    """The graph of ``spec``, built at BUILD_CLOCK and left at AUDIT_CLOCK.

    Every mutation is made by the system (``actor=None``), except the grants marked
    ``by_owner`` when ``extras`` is set (so that ``granted_by`` varies); ``extras`` also
    adds a resource, a custom action and settings, which only the JSON snapshot carries.
    """
    g = ag.Graph()
    g.set_time(BUILD_CLOCK)
    owner = spec.people[0]
    g.add_org(spec.org, name=spec.org_name, owner=owner.email)
    for p in spec.projects:
        g.add_project(
            f"{spec.org}/{p.slug}",
            name=p.name,
            environment=p.environment,
            restricted=p.restricted,
            pii=p.pii,
            default_role=p.default_role,
            settings={"color": p.slug, "n": len(p.name)} if extras else None,
        )
    for person in spec.people:
        if person is owner:
            g.update_member(
                person.email,
                spec.org,
                actor=None,
                title=person.title,
                name=person.name,
                reviewed=person.reviewed,
                reason=person.reason,
                external=person.external,
            )
        else:
            g.add_member(
                person.email,
                spec.org,
                role=person.role,
                actor=None,
                name=person.name,
                title=person.title,
                expires=person.expires,
                reason=person.reason,
                reviewed=person.reviewed,
                external=person.external,
            )
        for gr in person.grants:
            target = f"{spec.org}/{gr.project or '*'}"
            g.grant(
                person.email,
                target,
                gr.role,
                actor=owner.email if extras and gr.by_owner else None,
                expires=gr.expires,
                reason=gr.reason,
            )
    if extras:
        project = f"{spec.org}/{spec.projects[0].slug}"
        g.add_resource(project, "dashboard", 7, owner=owner.email)
        g.define_action("report:send", "project", "member", "viewer")
        g.update_org(spec.org, actor=None, members_can_invite=True)
    g.set_time(AUDIT_CLOCK)
    return g


# What the Markdown registry carries, and the JSON snapshot on top of it.


def md_members(g: ag.Graph, org: str) -> list[tuple[object, ...]]:
    return [
        (m.user, m.role, m.title, m.expires, m.reviewed, m.reason, m.external)
        for m in g.members(org)
    ]


def md_grants(g: ag.Graph) -> list[tuple[object, ...]]:
    return [(x.user, x.target, x.role, x.expires, x.reason) for x in g.grants()]


def md_projects(g: ag.Graph) -> list[tuple[object, ...]]:
    return [
        (p.id, p.name, p.environment, p.restricted, p.pii, p.default_role) for p in g.projects()
    ]


def all_listings(g: ag.Graph) -> dict[str, object]:
    return {
        "orgs": [(o.slug, o.name, o.settings) for o in g.orgs()],
        "projects": [
            (*row, p.settings) for row, p in zip(md_projects(g), g.projects(), strict=True)
        ],
        "members": {
            o.slug: [
                (*row, m.name, m.granted_by, m.granted_at)
                for row, m in zip(md_members(g, o.slug), g.members(o.slug), strict=True)
            ]
            for o in g.orgs()
        },
        "grants": [
            (*row, x.granted_by, x.granted_at)
            for row, x in zip(md_grants(g), g.grants(), strict=True)
        ],
        "users": [(u.email, u.name, u.title, u.orgs) for u in g.users()],
        "resources": [(r.id, r.owner) for r in g.resources()],
        "actions": g.actions(),
    }


# ---------------------------------------------------------------------------------------
# Round trips


@ROUND_TRIP
@given(graph_specs())
def test_markdown_round_trip(spec: GraphSpec) -> None:
    g = build(spec)
    text = g.to_markdown(spec.org)
    again = ag.Graph.from_markdown(text, org=spec.org)
    assert again.to_markdown(spec.org) == text
    assert [(o.slug, o.name) for o in again.orgs()] == [(spec.org, spec.org_name)]
    assert md_projects(again) == md_projects(g)
    assert md_members(again, spec.org) == md_members(g, spec.org)
    assert md_grants(again) == md_grants(g)


@ROUND_TRIP
@given(FREE_TEXT, FREE_TEXT, FREE_TEXT, FREE_TEXT)
def test_markdown_round_trips_free_text(
    reason: str, grant_reason: str, name: str, environment: str
) -> None:
    """Reasons, project names and environments come back exactly, whatever they hold:
    spaces at either end, colons, parentheses, backslashes, backticks, pipes, line breaks
    (SPEC 5.1: ``from_markdown(to_markdown(g))`` reproduces them)."""
    g = ag.Graph()
    g.set_time(BUILD_CLOCK)
    g.add_org("acme", name="Acme", owner="o@example.com")
    g.add_project("acme/p", name=name, environment=environment)
    g.add_project("acme/q", name=environment, environment=name)
    g.add_member("a@example.com", "acme", reason=reason)
    g.grant("a@example.com", "acme/p", "member", reason=grant_reason)
    g.grant("a@example.com", "acme/q", "viewer", reason=reason)
    g.grant("a@example.com", "acme/*", "viewer", reason=grant_reason)
    text = g.to_markdown("acme")
    again = ag.Graph.from_markdown(text, org="acme")
    assert again.to_markdown("acme") == text
    assert md_projects(again) == md_projects(g)
    assert md_members(again, "acme") == md_members(g, "acme")
    assert md_grants(again) == md_grants(g)


@ROUND_TRIP
@given(graph_specs(), st.booleans())
def test_json_round_trip(spec: GraphSpec, extras: bool) -> None:
    g = build(spec, extras=extras)
    text = g.to_json()
    again = ag.Graph.from_json(text)
    assert again.to_json() == text
    assert all_listings(again) == all_listings(g)
    assert again.members(spec.org) == g.members(spec.org)
    assert again.grants() == g.grants()


# What the CSV matrix carries (SPEC 5.3, 9 "Registry"): the access matrix at the instant
# it is written — per unexpired member and project they reach, the org role, the project
# role, its source and the expiry and reason of that source. Names, titles, environments,
# review dates, expired entries and grants hidden by a higher source are not carried.


def csv_text(g: ag.Graph, at: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.csv"
        g.to_csv(path, at=at)
        return path.read_text(encoding="utf-8")


def csv_matrix(g: ag.Graph, at: str) -> list[tuple[object, ...]]:
    return [tuple(row[c] for c in CSV_COLUMNS) for row in g.access_matrix(at=at)]


CSV_COLUMNS = ("user", "org", "org_role", "project", "project_role", "source", "expires", "reason")


@ROUND_TRIP
@given(graph_specs(), st.booleans())
def test_csv_round_trip(spec: GraphSpec, extras: bool) -> None:
    g = build(spec, extras=extras)
    text = csv_text(g, AUDIT_CLOCK)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    again = ag.Graph.from_csv(text)
    # the matrix it carries, row for row, and so the same text again
    assert csv_matrix(again, AUDIT_CLOCK) == csv_matrix(g, AUDIT_CLOCK)
    assert csv_text(again, AUDIT_CLOCK) == text
    # the org and its unexpired members with their roles (display names are not carried)
    assert [o.slug for o in again.orgs()] == [spec.org]
    members = {(row[0], row[2]) for row in csv_matrix(g, AUDIT_CLOCK)}
    assert {(m.user, m.role) for m in again.members(spec.org)} == members


# ---------------------------------------------------------------------------------------
# Robustness: typed errors only. The helpers below are shared with the fuzz script.

#: How each parser call ended: ``"ok"`` or the exception's class name.
OUTCOMES: Counter[str] = Counter()


def check_markdown(text: str, org: str | None = None) -> None:
    """``from_markdown`` returns a graph or raises an AccessGraphError; a graph it returns
    exports, and its export is a fixed point of import-then-export (SPEC 5.1)."""
    try:
        g = ag.Graph.from_markdown(text, org=org)
    except ag.RegistryFormatError as e:
        OUTCOMES[type(e).__name__] += 1
        assert isinstance(e.line, int) and e.line >= 1, (e, e.line)
        assert isinstance(e.column, int) and e.column >= 1, (e, e.column)
        assert e.line <= max(1, len(text.splitlines()) + 1), (e, e.line)
        return
    except ag.AccessGraphError as e:
        OUTCOMES[type(e).__name__] += 1
        return
    OUTCOMES["ok"] += 1
    before = (md_projects(g), md_grants(g))  # the listings read every stored value
    orgs = g.orgs()
    assert len(orgs) == 1
    slug = orgs[0].slug
    try:
        text = g.to_markdown(slug)
    except ag.AccessGraphError as e:
        OUTCOMES[f"export:{type(e).__name__}"] += 1
        return
    members = md_members(g, slug)
    again = ag.Graph.from_markdown(text, org=slug)
    assert again.to_markdown(slug) == text
    assert md_members(again, slug) == members
    assert (md_projects(again), md_grants(again)) == before


def check_json(text: str) -> None:
    """``from_json`` returns a graph or raises an AccessGraphError naming a JSON path; a
    graph it returns snapshots to a document that reads back byte for byte (SPEC 5.2)."""
    try:
        g = ag.Graph.from_json(text)
    except ag.RegistryFormatError as e:
        OUTCOMES[type(e).__name__] += 1
        assert isinstance(e.path, str) and e.path.startswith("$"), (e, e.path)
        return
    except ag.AccessGraphError as e:
        OUTCOMES[type(e).__name__] += 1
        return
    OUTCOMES["ok"] += 1
    listings = all_listings(g)  # reads every stored value
    snapshot = g.to_json()
    again = ag.Graph.from_json(snapshot)
    assert again.to_json() == snapshot
    assert all_listings(again) == listings


def _rich_spec() -> GraphSpec:
    return GraphSpec(
        org="acme",
        org_name="Acme Corp",
        projects=[
            ProjectSpec("production", "Production", "production", True, True, None),
            ProjectSpec("staging", "Staging", "staging", False, False, "viewer"),
            ProjectSpec("dev", "Development Box", None, False, True, "member"),
        ],
        people=[
            PersonSpec("jane@example.com", "owner", "Jane", "CTO", None, None, None, False),
            PersonSpec(
                "bob@example.com",
                "admin",
                None,
                "Lead, Platform",
                "2024-07-01T12:30:00Z",
                date(2024, 1, 2),
                "on call, EU",
                True,
                [GrantSpec("production", "viewer", "2024-02-01", "audit, Q1", True)],
            ),
            PersonSpec(
                "carol@example.com",
                "member",
                None,
                None,
                None,
                None,
                None,
                False,
                [
                    GrantSpec(None, "member", None, None, True),
                    GrantSpec(
                        "production", "admin", datetime(2030, 1, 1, 8, tzinfo=UTC), "x", False
                    ),
                ],
            ),
            PersonSpec(
                "viewer@example.com",
                "member",
                None,
                "CEO",
                None,
                None,
                None,
                False,
                [GrantSpec(None, "viewer", None, None, False)],
            ),
            PersonSpec(
                "con@agency.io",
                "member",
                None,
                "Consultant",
                "2023-06-01",
                None,
                "pilot",
                True,
                [GrantSpec("staging", "member", "2023-05-01T09:00:00Z", None, False)],
            ),
        ],
    )


RICH = build(_rich_spec(), extras=True)
SEED_DOCUMENTS = {
    "markdown": [SEED_MARKDOWN, RICH.to_markdown("acme")],
    "json": [RICH.to_json(), ag.Graph.from_markdown(SEED_MARKDOWN, org="acme").to_json()],
}
# Characters that matter to the grammars, for flips and insertions.
INTERESTING = '#-*+():,.@/ \t\n"{}[]\\0123456789aeZx' + "é\u00a0\ufeff\u200b\x00"


def mutate(text: str, rng: random.Random, steps: int) -> str:
    """``text`` after ``steps`` random line deletions/duplications/swaps and character
    flips/insertions/deletions."""
    for _ in range(steps):
        lines = text.split("\n")
        op = rng.randrange(7)
        i = rng.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            text = "\n".join(lines)
            pos = rng.randrange(len(text) + 1)
            ch = rng.choice(INTERESTING) if rng.random() < 0.8 else chr(rng.randrange(1, 0x3000))
            if op in (3, 4) and pos < len(text):
                text = text[:pos] + ch + text[pos + 1 :]
            elif op == 5:
                text = text[:pos] + ch + text[pos:]
            else:
                text = text[:pos] + text[pos + rng.randrange(1, 8) :]
            continue
        text = "\n".join(lines)
    return text


def mutated(kind: str) -> st.SearchStrategy[str]:
    """A seed document of ``kind`` (``markdown`` or ``json``) after a few mutations."""
    return st.builds(
        mutate,
        st.sampled_from(SEED_DOCUMENTS[kind]),
        st.randoms(use_true_random=False),
        st.integers(1, 6),
    )


ORG_ARG = st.none() | st.sampled_from(["acme", "x", "Not A Slug"])

#: (name, strategy, check) for each robustness property; the fuzz script runs these.
PROPERTIES: list[tuple[str, st.SearchStrategy[tuple[str, str | None]], Callable[..., None]]] = [
    ("markdown/text", st.tuples(st.text(), ORG_ARG), check_markdown),
    ("markdown/mutated", st.tuples(mutated("markdown"), ORG_ARG), check_markdown),
    ("json/text", st.tuples(st.text(), st.none()), lambda t, _: check_json(t)),
    ("json/mutated", st.tuples(mutated("json"), st.none()), lambda t, _: check_json(t)),
]


@ROBUST
@given(st.text(), ORG_ARG)
def test_markdown_parser_on_arbitrary_text(text: str, org: str | None) -> None:
    check_markdown(text, org)


@ROBUST
@given(mutated("markdown"), ORG_ARG)
def test_markdown_parser_on_mutated_exports(text: str, org: str | None) -> None:
    check_markdown(text, org)


@ROBUST
@given(st.text())
def test_json_parser_on_arbitrary_text(text: str) -> None:
    check_json(text)


@ROBUST
@given(mutated("json"))
def test_json_parser_on_mutated_exports(text: str) -> None:
    check_json(text)


def test_seed_documents_are_valid() -> None:
    """The mutation seeds parse (so mutants start from real documents)."""
    for text in SEED_DOCUMENTS["markdown"]:
        assert ag.Graph.from_markdown(text, org="acme").to_markdown("acme")
    for text in SEED_DOCUMENTS["json"]:
        assert ag.Graph.from_json(text).to_json() == text


# ---------------------------------------------------------------------------------------
# Known accessgraph bugs found by the properties above, reduced (see the report).


@pytest.mark.parametrize("day", ["-024-01-02", "0000-01-01"])
def test_reviewed_date_out_of_python_range_is_refused_by_markdown(day: str) -> None:
    """SPEC 5.1: a bad date raises RegistryFormatError. (Found by this file's fuzzing:
    `reviewed -024-01-02` was taken as year -24, which ``Member.reviewed`` could not return
    and whose export the importer then refused.)"""
    doc = f"# Acme Access Registry\n## Owners\n- a@example.com (reviewed {day})\n"
    with pytest.raises(ag.RegistryFormatError, match="invalid date") as info:
        ag.Graph.from_markdown(doc, org="acme")
    assert info.value.line == 3


@pytest.mark.parametrize("day", ["-024-01-02", "0000-01-01"])
def test_reviewed_date_out_of_python_range_is_refused_by_json(day: str) -> None:
    g = ag.Graph.from_markdown(
        "# Acme Access Registry\n## Owners\n- a@example.com (reviewed 2024-01-02)\n", org="acme"
    )
    text = g.to_json().replace('"2024-01-02"', f'"{day}"')
    with pytest.raises(ag.RegistryFormatError, match="date") as info:
        ag.Graph.from_json(text)
    assert info.value.path is not None and info.value.path.endswith(".reviewed")


@pytest.mark.parametrize(
    "line", ["- a@example.com (CTO\tx)", "- a@example.com (reason a\tb)", "- a@example.com (C\x00)"]
)
def test_what_markdown_imports_it_can_export(line: str) -> None:
    """A control character inside an entry is refused on import (with its position), so
    whatever imports can be written back. (Found by this file's fuzzing: the importer
    kept tabs and NULs that the exporter then refused.)"""
    with pytest.raises(ag.RegistryFormatError, match="control character") as info:
        ag.Graph.from_markdown(f"# Acme Access Registry\n## Owners\n{line}\n", org="acme")
    assert info.value.line == 3
