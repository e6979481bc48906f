"""``Review.to_html()`` and ``accessgraph review --html``: what the file holds, read with
the standard library's HTML parser (the browser test, ``test_report_browser.py``, checks
that it works in a real browser)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import EXAMPLES

import accessgraph as ag
from accessgraph.cli import main


class _Tables(HTMLParser):
    """Every table's body rows, as lists of cell texts, and each row's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.row_attrs: dict[str, list[dict[str, str | None]]] = {}
        self.urls: list[str] = []
        self.scripts = 0
        self._table: str | None = None
        self._body = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href", "action"):
            value = a.get(name)
            if value is not None and not value.startswith("#"):
                self.urls.append(value)
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table = a.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
            self.row_attrs[self._table] = []
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body and self._table:
            self._row = []
            self.row_attrs[self._table].append(a)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Tables:
    parser = _Tables()
    parser.feed(text)
    return parser


@pytest.fixture
def acme() -> ag.Graph:
    g = ag.Graph.load(EXAMPLES / "acme_registry.md", org="acme")
    g.set_time("2024-05-20")
    return g


def test_the_report_holds_the_findings_the_heat_map_and_the_expiry_table(acme: ag.Graph) -> None:
    review = acme.review()
    page = _parse(review.to_html())
    findings = page.tables["findings-table"]
    assert len(findings) == len(review) == 19
    # severity, rule, org, user, target, finding, remediation, most serious first
    assert [r[0] for r in findings] == [f.severity for f in review]
    assert findings[0][:5] == ["high", "expired-access", "acme", "auditor@audit.example", "acme"]
    assert findings[0][6] == review[0].remediation
    assert [a["data-severity"] for a in page.row_attrs["findings-table"]] == [
        f.severity for f in review
    ]

    heat = page.tables["heatmap-acme"]
    people = sorted({r["user"] for r in acme.access_matrix("acme")})
    assert [r[0].split(" ")[0] for r in heat] == people
    projects = acme.projects("acme")
    for row in heat:
        user, org_role, *cells = row
        email = user.split(" ")[0]
        assert org_role == acme.role(email, "acme")
        for project, cell in zip(projects, cells, strict=True):
            role = acme.role(email, project.id)
            # a cell shows the effective role and its source, or a dot for no access
            assert cell.split(" ")[0] == (role or "·"), (email, project.id, cell)
    by_user = {r[0].split(" ")[0]: r for r in heat}
    assert by_user["charlie@example.com"][3] == "viewer grant"  # Production, explicit grant
    assert by_user["ceo@example.com"][2] == "viewer all projects"  # acme/* grant
    assert by_user["jane@example.com"][3] == "admin org admin"
    assert "external" in by_user["consultant@agency.com"][0]
    assert "external" not in by_user["charlie@example.com"][0]

    # expired and expiring: exactly what the review's rules report, one row each
    expiry = page.tables["expiry-table"]
    rules = [f for f in review if f.rule in ("expired-access", "expiring-soon")]
    assert [(r[0], r[1], r[3]) for r in expiry] == [
        ("expired", "auditor@audit.example", "membership of acme"),
        ("expired", "auditor@audit.example", "grant on acme/production"),
        ("expiring", "consultant@agency.com", "membership of acme"),
    ]
    assert len(expiry) == len(rules)
    assert expiry[0][5] == "2024-05-15" and expiry[0][6] == "5 days ago"


def test_markers_restricted_pii_external_and_expiring(acme: ag.Graph) -> None:
    text = acme.review(expiring_days=30).to_html()
    head = re.search(r'<table id="heatmap-acme".*?</thead>', text, re.S)
    assert head is not None
    production = re.search(r"<th[^>]*title=\"acme/production\".*?</th>", head.group(0), re.S)
    assert production is not None
    assert 'aria-label="restricted"' in production.group(0) and ">PII<" in production.group(0)
    staging = re.search(r"<th[^>]*title=\"acme/staging\".*?</th>", head.group(0), re.S)
    assert staging is not None and "restricted" not in staging.group(0)
    # with a 30-day window, evan's Production grant (2024-06-15T17:00Z) is ending
    evan = re.search(r"<tr[^>]*><th[^>]*>evan@example.com.*?</tr>", text, re.S)
    assert evan is not None
    assert 'aria-label="ends 2024-06-15T17:00:00Z"' in evan.group(0)
    consultant = re.search(r'<tr data-flags="([^"]*)"><th[^>]*>consultant@agency.com', text)
    assert consultant is not None and consultant.group(1) == "external expiring"
    page = _parse(text)
    # + the auditor's expired grant, and evan's grant within 30 days
    assert len(page.tables["expiry-table"]) == 4


def test_the_summary_a_manager_reads(acme: ag.Graph) -> None:
    text = acme.review().to_html()
    verdict = re.search(r'<p class="verdict verdict-(\w+)" id="verdict">(.*?)</p>', text)
    assert verdict is not None
    assert verdict.groups() == (
        "high",
        "Action needed: 2 high-severity findings. Fix these first.",
    )
    counts = dict(re.findall(r'data-count="(\w+)">([\d,]+)<', text))
    # the auditor's expired membership, and the expired grant inside it (SPEC 4.1)
    assert counts == {"high": "2", "medium": "7", "low": "9", "info": "1"}
    tiles = dict(re.findall(r"<h3>([^<]+)</h3><p class=\"big\">([\d,]+)</p>", text))
    assert tiles == {
        "People with access": "9",
        "Projects": "4",
        "Expired, still listed": "2",
        "Expiring within 14 days": "1",
    }
    assert "<h1>Acme Corp (acme)</h1>" in text and "as of 2024-05-20" in text
    clean = ag.Graph()
    clean.add_org("tidy", owner="jane@example.com")
    clean.update_member(
        "jane@example.com", "tidy", actor=None, reason="founder", reviewed="2024-01-01"
    )
    clean.set_time("2024-02-01")
    assert len(clean.review()) == 0
    assert "No findings: access matches every rule." in clean.review().to_html()


def test_the_file_is_self_contained_and_escapes_everything() -> None:
    g = ag.Graph()
    g.add_org("acme", name="<script>alert(1)</script> & Co", owner="jane@example.com")
    g.add_project("acme/p", name='"><img src=x onerror=alert(1)>', restricted=True)
    g.add_member(
        "mallory@example.com", "acme", reason="</td><script>alert(2)</script>", external=True
    )
    text = g.review().to_html()
    page = _parse(text)
    assert page.urls == []  # nothing to fetch: no src, href (but #anchors) or action
    assert page.scripts == 1  # the report's own script, inline
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in text
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    assert "@media print" in text


def test_an_invisible_or_reordering_character_is_shown_not_obeyed() -> None:
    # `admin@` U+202E `oi.emca` is a valid address (Django's validator takes it) that a
    # browser draws as `admin@acme.io`: every HTML view writes the character as
    # `\u{202e}`, as the review's lookalike-email finding does.
    spoof = "admin@\u202eoi.emca"
    g = ag.Graph()
    g.add_org("acme", owner="jane@example.com")
    g.add_project("acme/web")
    g.add_member(spoof, "acme", actor="jane@example.com")
    g.grant(spoof, "acme/web", "viewer", actor="jane@example.com")
    review = g.review()
    assert [f.user for f in review if f.rule == "lookalike-email"] == [spoof]
    for text in (review.to_html(), review._repr_html_(), g._repr_html_()):
        assert "\u202e" not in text
        assert "admin@\\u{202e}oi.emca" in text
    # So do the text and Markdown tables (a terminal may apply it too); the finding's
    # `user`, and machine formats, keep the address as it is.
    markdown = review.to_markdown()
    assert "\u202e" not in markdown and "admin@\\\\u{202e}oi.emca" in markdown


def test_the_command_line_shows_an_invisible_character_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "acme.md"
    registry.write_text(
        "# Acme Access Registry\n## Owners\n- jane@acme.io\n## Members\n- admin@\u202eoi.emca\n",
        encoding="utf-8",
    )
    assert main(["review", str(registry), "--fail-on", "high"]) == 1
    out = capsys.readouterr().out
    assert "\u202e" not in out and "admin@\\u{202e}oi.emca" in out
    # JSON is for programs: the address as it is.
    assert main(["review", str(registry), "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {f["user"] for f in findings if f["rule"] == "lookalike-email"} == {
        "admin@\u202eoi.emca"
    }


def test_every_org_gets_its_heat_map_and_a_big_one_is_cut_with_a_note() -> None:
    g = ag.Graph()
    g.add_org("a", owner="owner@a.example")
    g.add_project("a/one", name="One", default_role="viewer")
    g.add_org("b", owner="owner@b.example")
    for i in range(12):
        g.add_member(f"user{i:02}@example.com", "b")
    page = _parse(g.review().to_html(max_people=5))
    assert len(page.tables["heatmap-a"]) == 1
    assert [r[0] for r in page.tables["heatmap-b"]] == [
        "owner@b.example",
        "user00@example.com",
        "user01@example.com",
        "user02@example.com",
        "user03@example.com",
    ]
    text = g.review(org="b").to_html(max_people=5)
    assert "Showing the first 5 of 13 people" in text
    assert "heatmap-a" not in text
    with pytest.raises(ag.ValidationError, match="max_people `0`"):
        g.review().to_html(max_people=0)


def test_filtering_and_slicing_keep_the_graph_but_bare_findings_have_none(acme: ag.Graph) -> None:
    review = acme.review()
    high = review.filter(severity="high")
    page = _parse(high.to_html())
    assert len(page.tables["findings-table"]) == 2
    assert "heatmap-acme" in page.tables  # the access is still shown
    assert review[:3] == ag.Review(list(review)[:3])  # equality ignores the graph
    bare = ag.Review(list(review)).to_html()
    assert "heatmap-acme" not in bare and "expiry-table" not in bare
    assert bare.count("Not available: this review was not made by") == 2
    assert len(_parse(bare).tables["findings-table"]) == 19


def test_a_graph_changed_after_the_review_is_noted(acme: ag.Graph) -> None:
    review = acme.review()
    assert "The graph changed after the review" not in review.to_html()
    acme.remove_member("auditor@audit.example", "acme", actor=None)
    text = review.to_html()
    assert "The graph changed after the review" in text
    # the findings stay the review's; the access is read now, at the review's instant
    assert len(_parse(text).tables["findings-table"]) == 19
    assert _parse(text).tables.get("expiry-table", []) != []


def test_progress_hears_each_org() -> None:
    g = ag.Graph()
    for slug in ("a", "b", "c"):
        g.add_org(slug, owner=f"owner@{slug}.example")
    calls: list[tuple[int, int]] = []
    review = g.review(progress=lambda done, total: calls.append((done, total)))
    # the review reports as its rules go (in orgs' worth of work), the report org by org
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    calls.clear()
    review.to_html(progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_to_html_writes_the_file(acme: ag.Graph, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    text = acme.review().to_html(out, title="Q2 review")
    assert out.read_text(encoding="utf-8") == text
    assert "<h1>Q2 review</h1>" in text


def test_cli_review_writes_the_html_report_and_keeps_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    registry = str(EXAMPLES / "acme_registry.md")
    html = ["--html", str(out), "--format", "json"]
    code = main(
        ["review", registry, "--org", "acme", "--at", "2024-05-20", "--fail-on", "high", *html]
    )
    assert code == 1
    assert '"findings"' in capsys.readouterr().out
    page = _parse(out.read_text(encoding="utf-8"))
    assert len(page.tables["findings-table"]) == 19
    assert len(page.tables["heatmap-acme"]) == 9
    code = main(["review", registry, "--org", "acme", "--html", str(tmp_path / "no" / "r.html")])
    assert code == 2
    assert "No such file or directory" in capsys.readouterr().err
