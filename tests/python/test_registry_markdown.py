"""The Markdown access registry from Python: the seed document, round trips, errors."""

from __future__ import annotations

import pytest
from conftest import SEED_MARKDOWN

import accessgraph as ag


def test_seed_registry_verbatim() -> None:
    g = ag.Graph.from_markdown(SEED_MARKDOWN, org="acme")
    assert isinstance(g, ag.Graph)
    assert [(o.slug, o.name) for o in g.orgs()] == [("acme", "PostHog")]
    roles = {m.user: (m.role, m.title, m.external) for m in g.members("acme")}
    assert roles == {
        "jane@example.com": ("owner", "CTO", False),
        "john@example.com": ("owner", "VP Engineering", False),
        "alice@example.com": ("admin", "Engineering Manager", False),
        "bob@example.com": ("admin", "Product Lead", False),
        "charlie@example.com": ("member", "Senior Engineer", False),
        "diana@example.com": ("member", "Product Manager", False),
        "evan@example.com": ("member", "Data Analyst", False),
        "ceo@example.com": ("member", "CEO", False),
        "cmo@example.com": ("member", "CMO", False),
        "consultant@agency.com": ("member", "Marketing Consultant", True),
    }
    consultant = next(m for m in g.members("acme") if m.user == "consultant@agency.com")
    assert consultant.expires is not None and consultant.expires.isoformat().startswith(
        "2024-06-01T00:00"
    )
    # viewers without nested grants hold a viewer grant on all projects
    assert [(x.user, x.target, x.role) for x in g.grants(target="acme/*")] == [
        ("ceo@example.com", "acme/*", "viewer"),
        ("cmo@example.com", "acme/*", "viewer"),
    ]
    assert g.check("consultant@agency.com", "org:view", "acme", at="2024-05-31T23:59:59Z")
    assert not g.check("consultant@agency.com", "org:view", "acme", at="2024-06-01")


def test_without_org_the_slug_comes_from_the_title() -> None:
    g = ag.Graph.from_markdown(SEED_MARKDOWN)
    assert [o.slug for o in g.orgs()] == ["posthog"]


def test_round_trip_is_exact() -> None:
    g = ag.Graph.from_markdown(SEED_MARKDOWN, org="acme")
    text = g.to_markdown("acme")
    again = ag.Graph.from_markdown(text, org="acme")
    assert again.to_markdown("acme") == text

    def people(graph: ag.Graph) -> list[tuple[object, ...]]:
        return [(m.user, m.role, m.title, m.expires, m.external) for m in graph.members("acme")]

    assert people(again) == people(g)

    def grants(graph: ag.Graph) -> list[tuple[object, ...]]:
        # granted_at is when each graph was built, so it is left out
        return [(x.user, x.target, x.role, x.expires, x.reason) for x in graph.grants()]

    assert grants(again) == grants(g)


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("# A Access Registry\n## Owners\n- jane@example\n", 3, 3, "jane@example"),
        ("# A Access Registry\n## Owners\n- j@x.io\n## Editors\n- b@x.io\n", 4, 4, "Editors"),
        (
            "# A Access Registry\n## Owners\n- j@x.io\n## Members\n- b@x.io\n  - *: editor\n",
            6,
            8,
            "editor",
        ),
        (
            "# A Access Registry\n## Owners\n- j@x.io\n## Members\n- j@x.io\n",
            5,
            3,
            "line 3",
        ),
    ],
)
def test_errors_name_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.from_markdown(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert words in str(err)
    assert isinstance(err, ag.ValidationError)


def test_one_awkward_title_does_not_fail_the_whole_orgs_export() -> None:
    g = ag.Graph()
    g.add_org("acme", name="Acme", owner="jane@example.com")
    titles = {
        "a@acme.io": "Reason Lead",
        "b@acme.io": "Expires: never",
        "c@acme.io": "Head of Ops\nEU",
        "d@acme.io": "Lead, reviewed",
        "e@acme.io": "External",
        "f@acme.io": "Founder, CEO",
    }
    for user, title in titles.items():
        g.add_member(user, "acme", title=title, reason="team")
    text = g.to_markdown("acme")
    assert "- f@acme.io (Founder, CEO, reason team)\n" in text
    assert "- a@acme.io (R\\eason Lead, reason team)\n" in text
    assert "- c@acme.io (Head of Ops\\nEU, reason team)\n" in text
    again = ag.Graph.from_markdown(text)
    assert {m.user: m.title for m in again.members("acme")} == {
        "jane@example.com": None,
        **titles,
    }
    assert again.to_markdown("acme") == text


@pytest.mark.parametrize(
    ("heading", "shown"),
    [
        ("### Members", "`### Members`"),
        ("#### Viewers", "`#### Viewers`"),
        ("> ## Members", "`> ## Members`"),
        ("Members\n-------", "`Members` underlined with `-------`"),
        ("Members\n=====", "`Members` underlined with `=====`"),
        ("<h3>Members</h3>\n", "`<h3>Members</h3>`"),
    ],
)
def test_people_under_a_heading_that_is_not_a_section_are_refused(heading: str, shown: str) -> None:
    """A person listed under a heading other than `## <Section>` is not silently given
    the section above it (here `## Owners`, with `org:delete`): a reader sees them under
    that heading, so the document is refused, naming the heading."""
    doc = (
        f"# Acme Access Registry\n## Owners\n- jane@example.com\n{heading}\n- intern@example.com\n"
    )
    with pytest.raises(ag.RegistryFormatError, match="is not a section heading") as info:
        ag.Graph.from_markdown(doc, org="acme")
    assert (info.value.line, info.value.column) == (4, 1)
    assert shown in str(info.value) and "it ends `## Owners`" in str(info.value)
    # Prose under it is still prose.
    prose = doc.replace("- intern@example.com", "Interns are listed elsewhere.")
    g = ag.Graph.from_markdown(prose, org="acme")
    assert [m.user for m in g.members("acme")] == ["jane@example.com"]


@pytest.mark.parametrize(
    "text", [":", ": on-call", ":)", "::x", "  on-call  ", " Prod ", "C:\\new", "x)", "a, b"]
)
def test_reasons_names_and_environments_round_trip_exactly(text: str) -> None:
    """What ``to_markdown`` writes reads back as it was: a leading ``:`` (which
    ``reason: x`` would take for punctuation), spaces at either end, backslashes, a comma
    or a lone parenthesis in an environment."""
    g = ag.Graph()
    g.add_org("x", name=text, owner="o@example.com")
    g.add_project("x/p", name=text, environment=text)
    g.add_member("a@example.com", "x", reason=text)
    g.grant("a@example.com", "x/p", "member", reason=text)
    md = g.to_markdown("x")
    again = ag.Graph.from_markdown(md, org="x")
    assert again.to_markdown("x") == md
    assert [o.name for o in again.orgs()] == [text]
    p = again.project("x/p")
    assert (p.name, p.environment) == (text, text), md
    assert [m.reason for m in again.members("x") if m.user == "a@example.com"] == [text], md
    assert [x.reason for x in again.grants(user="a@example.com")] == [text], md


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "X"), ("name", "P"), ("environment", "E"), ("title", "T"), ("reason", "R")],
)
def test_empty_text_a_snapshot_can_hold_is_refused_by_the_writer(field: str, value: str) -> None:
    """An empty name, environment, title or reason (which a JSON snapshot may hold) has no
    place in the grammar: ``to_markdown`` raises ``ValidationError`` naming it rather than
    write a document that does not read back (``reason ``) or reads back otherwise (an
    empty title written as ``\\`` took the reason after it into the title)."""
    g = ag.Graph()
    g.add_org("x", name="X", owner="o@example.com")
    g.add_project("x/p", name="P", environment="E")
    g.add_member("a@example.com", "x", title="T", reason="R")
    snapshot = g.to_json()
    emptied = snapshot.replace(f'"{field}": "{value}"', f'"{field}": ""', 1)
    assert emptied != snapshot
    with pytest.raises(ag.ValidationError, match="non-empty text") as info:
        ag.Graph.from_json(emptied).to_markdown("x")
    assert not isinstance(info.value, ag.RegistryFormatError)


@pytest.mark.parametrize(
    ("label", "column", "section"),
    [
        ("**Members**", 1, "Members"),
        ("__Members__", 1, "Members"),
        ("Members:", 1, "Members"),
        ("**Members:**", 1, "Members"),
        ("*Admins*", 1, "Admins"),
        ("> **Viewers**", 1, "Viewers"),
        ("  **Members**", 3, "Members"),
        ("**Contractors**", 1, "<Section>"),
        ("On call this quarter:", 1, "<Section>"),
        ("Read-only staff", 1, "<Section>"),
    ],
)
def test_people_under_a_line_that_reads_as_a_heading_are_refused(
    label: str, column: int, section: str
) -> None:
    """A line of text that a reader takes for a heading (`**Members**`, `Members:`, a
    caption above the list) does not leave the people after it in `## Owners`: the
    document is refused at that line, which is named, with the heading to use."""
    doc = f"# Acme Access Registry\n## Owners\n- jane@example.com\n{label}\n- intern@example.com\n"
    with pytest.raises(ag.RegistryFormatError, match="reads as a heading") as info:
        ag.Graph.from_markdown(doc, org="acme")
    assert (info.value.line, info.value.column) == (4, column)
    message = str(info.value)
    assert f"`{label.strip()}`" in message and "it ends `## Owners`" in message
    assert "list item at line 5" in message and f"`## {section}` heading" in message


def test_sentences_in_a_section_stay_prose() -> None:
    doc = (
        "# Acme Access Registry\n## Owners\nOwners can delete the organization.\n"
        "- jane@example.com\n\n(Reviewed by the CTO.)\n- john@example.com\n"
    )
    g = ag.Graph.from_markdown(doc, org="acme")
    assert [(m.user, m.role) for m in g.members("acme")] == [
        ("jane@example.com", "owner"),
        ("john@example.com", "owner"),
    ]


def test_an_admin_github_shows_as_code_is_not_imported() -> None:
    """Under a fence at the margin, a closing fence indented four spaces is code to
    GitHub: the ``## Admins`` entry after it, shown as code, is not imported (it was)."""
    doc = (
        "# Acme Access Registry\n## Owners\n- jane@example.com\n"
        "```\n    ```\n## Admins\n- mallory@evil.example\n```\n"
    )
    g = ag.Graph.from_markdown(doc, org="acme")
    assert [(m.user, m.role) for m in g.members("acme")] == [("jane@example.com", "owner")]


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        # A fence indented four spaces: code or text to GitHub, a fence to the parser.
        ("\n    ```\n## Admins\n- alice@example.com\n", 5, "is indented 4 columns"),
        # A fence in a list item ends with the item: GitHub shows the admins after it.
        (
            "  ```\n## Admins\n- alice@example.com\n",
            5,
            "indented less than the code fence opened on line 4",
        ),
        # Raw HTML to GitHub (preformatted text, a div's content, nothing at all).
        ("<pre>\n## Admins\n- alice@example.com\n</pre>\n", 5, "HTML block opened on line 4"),
        ("<div>\n- alice@example.com\n", 5, "HTML block opened on line 4"),
        ("<script>\n\n- alice@example.com\n</script>\n", 6, "HTML block opened on line 4"),
    ],
)
def test_a_fence_or_html_block_hiding_an_entry_is_refused(body: str, line: int, says: str) -> None:
    doc = f"# Acme Access Registry\n## Owners\n- jane@example.com\n{body}"
    with pytest.raises(ag.RegistryFormatError, match=says) as info:
        ag.Graph.from_markdown(doc, org="acme")
    assert info.value.line == line


@pytest.mark.parametrize(
    ("hidden", "line", "opened"),
    [
        ("<!--\n- mallory@evil.example\n-->\n", 5, 4),
        ("<!-- - mallory@evil.example -->\n", 4, 4),
        ("<!-- TODO\n## Admins\n- mallory@evil.example\n", 6, 4),
    ],
)
def test_a_person_hidden_in_an_html_comment_is_refused(hidden: str, line: int, opened: int) -> None:
    """GitHub does not render an HTML comment, so a person listed in one is refused rather
    than imported unseen; a comment that holds only prose stays allowed."""
    doc = f"# Acme Access Registry\n## Owners\n- jane@example.com\n{hidden}"
    with pytest.raises(ag.RegistryFormatError, match="hidden from readers") as info:
        ag.Graph.from_markdown(doc, org="acme")
    assert info.value.line == line
    assert f"HTML comment opened on line {opened}" in str(info.value)
    prose = "# Acme Access Registry\n## Owners\n<!-- keep sorted -->\n- jane@example.com\n"
    g = ag.Graph.from_markdown(prose, org="acme")
    assert [m.user for m in g.members("acme")] == ["jane@example.com"]
