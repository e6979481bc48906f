"""The Markdown registry against a CommonMark renderer: markdown-it-py, which follows the
CommonMark spec that GitHub's renderer (cmark-gfm) implements for lists and code.

Hypothesis writes documents of people's list items (bulleted, numbered, escaped,
quoted), code fences at every indentation (spaces or a tab, backticks or tildes, with or
without an info string), indented list items, section headings, HTML block tags,
sentences, blank lines, rules, setext underlines, comments, tabs, lines where U+00A0 or
U+3000 stands for a space, and lines broken by a carriage return alone. Each document is
either refused with a typed error, or:

- every person imported is one the renderer shows as a list item of their own (the
  first word of an item's paragraph) — never one shown as code or raw HTML (a fence the
  parser closed too early, and `<pre>` or `<div>`, once imported an admin GitHub showed
  as code or HTML), nor one shown as text (`\u00a0- x` and `-\u00a0x` continue the item
  above); every grant imported is one it shows as a list item nested in another (one
  indented four columns past the text above it was code to GitHub, and imported);
- every person the renderer shows as an item of a top-level list under a section heading
  is imported (a fence GitHub ended with its list item once hid every section after it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import markdown_it
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accessgraph as ag

PROJECTS = 40
HEAD = (
    "# Acme Access Registry\n## Projects\n"
    + "".join(f"- P{k}\n" for k in range(1, PROJECTS + 1))
    + "## Owners\n- jane@example.com\n"
)
SECTIONS = ("Owners", "Admins", "Members", "Viewers")
EMAIL = re.compile(r"u\d+@example\.com")
# ACCESSGRAPH_LONG_FUZZ=1: 5,000 fresh examples a run rather than the same 400.
LONG = os.environ.get("ACCESSGRAPH_LONG_FUZZ") == "1"


def fence(indent: str, mark: str, length: int, info: str) -> str:
    return f"{indent}{mark * length}{info}"


# One line of a document; people get their numbers when the document is put together.
LINE = st.one_of(
    st.just("- PERSON"),
    st.just("- PERSON"),
    st.sampled_from(["1. PERSON", "2) PERSON", "* PERSON", "+ PERSON", "\\- PERSON"]),
    st.builds(lambda n: " " * n + "- PROJECT: viewer", st.integers(2, 9)),
    st.builds(lambda n: " " * n + "- *: admin", st.integers(2, 9)),
    st.sampled_from(["\t- PROJECT: viewer", " \t- PROJECT: viewer", "  * PROJECT: viewer"]),
    st.builds(lambda n: " " * n + "- PERSON", st.integers(1, 6)),
    st.builds(
        fence,
        st.sampled_from(["", " ", "  ", "   ", "    ", "     ", "      ", "\t", " \t"]),
        st.sampled_from(["`", "~"]),
        st.integers(3, 5),
        st.sampled_from(["", "", "yaml", "a`b", " "]),
    ),
    st.sampled_from([f"## {s}" for s in SECTIONS] + ["## Members"] * 3),
    # U+00A0 and U+3000 are text to CommonMark, not indentation, blank lines or the space
    # after `-`, `#` or a fence: each of these once imported someone shown as text.
    st.builds(
        lambda space, line: line.replace("_", space),
        st.sampled_from(["\u00a0", "\u3000"]),
        st.sampled_from(["_- PERSON", "-_PERSON", "##_Admins", "_", "```_", "-_-_-"]),
    ),
    # Quoted items: GitHub shows them under the section, so they are refused.
    st.sampled_from(["> - PERSON", "> 1. PERSON", ">- PERSON", "> Quoted - PERSON"]),
    # A carriage return alone ends a line to CommonMark: refused.
    st.sampled_from(["```\r## Admins", "<pre>\r- PERSON", "Text.\r- PERSON"]),
    # Setext underlines, rules, tabs, comments, lazy lines and heading variants.
    st.sampled_from(
        [
            "===",
            "---",
            "***",
            "- - -",
            "\t- PERSON",
            "-\tPERSON",
            "##\tAdmins",
            "## Admins ##",
            "#### Admins",
            "<!-- - PERSON -->",
            "<!--",
            "-->",
            "PERSON",
            "Admins",
            "**Admins**",
            "    ## Admins",
            "[x]: /url",
        ]
    ),
    st.just("Engineers get staging by default."),
    st.just(""),
    st.just(""),
    st.sampled_from(
        [
            "<div>",
            "</div>",
            "<details>",
            "<summary>Old grants</summary>",
            "<pre>",
            "</pre>",
            "<script>",
            "</script>",
            "<span>",
            "<b>Note</b> the list is sorted.",
        ]
    ),
)


def document(lines: list[str]) -> str:
    out, n, k = [], 0, 0
    for line in lines:
        while "PERSON" in line:
            n += 1
            line = line.replace("PERSON", f"u{n}@example.com", 1)
        if "PROJECT" in line:
            k = k % PROJECTS + 1
            line = line.replace("PROJECT", f"P{k}")
        out.append(line)
    return HEAD + "\n".join(out) + "\n"


@dataclass
class Rendered:
    """What the renderer shows: people in list items, those of top-level lists under a
    section heading, and text shown as code or raw HTML."""

    items: set[str] = field(default_factory=set)
    in_sections: set[str] = field(default_factory=set)
    code: str = ""
    # The first word of each item nested in another (a grant's project), lower case.
    nested: set[str] = field(default_factory=set)


def rendered(text: str) -> Rendered:
    out = Rendered()
    heading: str | None = None
    stack: list[str] = []
    lists = 0
    for tok in markdown_it.MarkdownIt("commonmark").parse(text):
        if tok.type in ("fence", "code_block", "html_block"):
            out.code += tok.content
        if tok.nesting == 1:
            stack.append(tok.type)
            lists += tok.type in ("bullet_list_open", "ordered_list_open")
        elif tok.nesting == -1:
            opened = stack.pop()
            lists -= opened in ("bullet_list_open", "ordered_list_open")
        if tok.type == "inline" and stack and stack[-1] == "heading_open":
            heading = tok.content.strip() if tok.map and lists == 0 else heading
        if tok.type == "inline" and "list_item_open" in stack:
            # The person of an item: its first paragraph's first word (an address later
            # in its text, on a line of its own or not, is no item of its own).
            first = tok.content.split()[0] if tok.content.split() else ""
            if EMAIL.fullmatch(first) and stack[-2:] == ["list_item_open", "paragraph_open"]:
                out.items.add(first)
            if stack.count("list_item_open") >= 2 and first:
                out.nested.add(first.rstrip(":").lower())
            top = stack.count("list_item_open") == 1 and "blockquote_open" not in stack
            if top and heading in SECTIONS and EMAIL.fullmatch(first):
                out.in_sections.add(first)
    return out


@settings(
    max_examples=5000 if LONG else 400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not LONG,
)
@given(st.lists(LINE, max_size=14))
def test_people_imported_are_the_people_a_commonmark_reader_sees(lines: list[str]) -> None:
    text = document(lines)
    try:
        g = ag.Graph.from_markdown(text, org="acme")
    except ag.AccessGraphError:
        return  # refused: nothing imported unseen, nothing dropped unsaid
    imported = {m.user for m in g.members("acme")} - {"jane@example.com"}
    seen = rendered(text)
    shown_as_code = {e for e in imported if e in seen.code}
    assert not shown_as_code, f"imported from what a reader sees as code: {shown_as_code}"
    assert imported <= seen.items, f"imported, not shown as list items: {imported - seen.items}"
    dropped = seen.in_sections - imported
    assert not dropped, f"shown under a section, not imported: {dropped}"
    # (A person under `## Viewers` holds `acme/*` as a viewer from the section, not from
    # an item; `*: admin` comes from an item only.)
    granted = {
        gr.target.split("/")[1] for gr in g.grants() if gr.target != "acme/*" or gr.role != "viewer"
    }
    unseen = granted - seen.nested
    assert not unseen, f"granted on projects not shown as nested list items: {unseen}"


@pytest.mark.parametrize(
    "body",
    [
        "```\n    ```\n## Admins\n- u1@example.com\n```\n",
        "- u1@example.com\n  ```\n  - u2@example.com\n  ```\n- u3@example.com\n",
        "~~~\n```\n- u1@example.com\n~~~~\n- u2@example.com\n",
    ],
)
def test_the_oracle_sees_what_github_shows(body: str) -> None:
    """The renderer used as the oracle reads these as GitHub does."""
    seen = rendered(HEAD + body)
    if body.startswith("```"):
        assert "u1@example.com" in seen.code and "u1@example.com" not in seen.items
    elif body.startswith("- u1"):
        assert {"u1@example.com", "u3@example.com"} <= seen.in_sections
        assert "u2@example.com" in seen.code
    else:
        assert "u1@example.com" in seen.code and "u2@example.com" in seen.in_sections
