"""The access review as one self-contained HTML file (``Review.to_html``,
``accessgraph review --html``).

The file needs nothing but a browser: its stylesheet and script are inline, a
Content-Security-Policy forbids every fetch, and every table works without the script
(which only sorts and filters). It holds, top to bottom: the summary a manager reads in
ten seconds; the findings, most serious first, with their remediation; per org, the users
x projects heat map of effective roles with their sources and markers (restricted, PII,
external, expiring); and the memberships and grants that expired or expire soon. A print
stylesheet lays it out for paper (auditors print to PDF).

The findings come from the review; the heat map and the expiry table are read from the
graph the review was made on, judged at the review's instant, when ``to_html`` runs. If
the graph changed in between, the report says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from accessgraph._progress import Progress, Steps
from accessgraph._render import escape_html, instant_text
from accessgraph._report_assets import REPORT_CSS, REPORT_JS

if TYPE_CHECKING:
    from accessgraph import Graph
    from accessgraph._core import Finding

__all__ = ["SOURCE_WORDS", "ReviewSource", "review_html"]

SEVERITIES = ("high", "medium", "low", "info")
_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}
_ROLE_LEVEL = {"viewer": 1, "member": 2, "admin": 3}
_ORG_ROLE_LEVEL = {"member": 1, "admin": 2, "owner": 3}
_DEFAULT_EXPIRING_DAYS = 14.0

SOURCE_WORDS = {
    "organization_admin": ("org admin", "an owner or admin of the org: admin on every project"),
    "organization_member": ("org member", "an org member on a project open to all members"),
    "explicit_member": ("grant", "an explicit grant on this project"),
    "org_wide_grant": ("all projects", "a grant on all projects of the org (org/*)"),
    "default": ("default", "the project's default role for every org member"),
    "creator": ("creator", "the creator of the resource"),
    "api_key_scope": ("API key", "an API key's scope"),
}
"""Each source of an effective role: the short label a heat-map cell shows, and what it
means (the cell's tooltip and the legend)."""

_LOCK = (
    '<svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path fill="currentColor" '
    'd="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7zm2 0h4V5a2 2 0 0 0-4 0z"/></svg>'
)
_CLOCK = (
    '<svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><g fill="none" '
    'stroke="currentColor" stroke-width="1.7"><circle cx="8" cy="8" r="6.3"/>'
    '<path d="M8 4.2V8.5l2.8 1.6"/></g></svg>'
)
"""Markers drawn inline (no font has to carry an emoji; nothing is fetched)."""


def _restricted_mark() -> str:
    return (
        f'<span class="mark" title="restricted" role="img" aria-label="restricted">{_LOCK}</span>'
    )


def _ending_mark(what: str) -> str:
    label = _esc(what)
    return (
        f'<span class="mark ends" title="{label}" role="img" aria-label="{label}">{_CLOCK}</span>'
    )


_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
"""No fetch of any kind: the report works offline, from a USB stick, and cannot leak."""


@dataclass(frozen=True)
class ReviewSource:
    """What ``Graph.review`` saw: the graph, the org (``None``: every org), the instant it
    judged at, the graph's revision then, and the thresholds."""

    graph: Graph
    org: str | None
    at: datetime
    revision: int
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Cell:
    role: str
    source: str | None
    ends: datetime | None  # when this access ends: the grant's or the membership's expiry
    reason: str | None


@dataclass(frozen=True)
class _Person:
    user: str
    org_role: str
    external: bool
    expires: datetime | None
    name: str | None


@dataclass(frozen=True)
class _Expiry:
    status: str  # "expired" or "expiring"
    user: str
    org: str
    access: str  # "membership of acme" / "grant on acme/production"
    role: str
    expires: datetime
    reason: str | None


@dataclass
class _OrgView:
    slug: str
    name: str
    projects: list[Any]
    people: list[_Person]
    cells: dict[tuple[str, str], _Cell]
    expiries: list[_Expiry]
    shown_people: int


def _esc(value: object) -> str:
    return escape_html("" if value is None else str(value))


def _day(value: datetime | None) -> str:
    return "" if value is None else instant_text(value)


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _org_view(graph: Graph, org: str, at: datetime, horizon: datetime, max_people: int) -> _OrgView:
    """The heat map's people, projects and cells, and the expiry rows, of one org."""
    info = graph.org(org)
    projects = graph.projects(org)
    members = {m.user: m for m in graph.members(org)}
    people: dict[str, _Person] = {}
    cells: dict[tuple[str, str], _Cell] = {}
    for row in graph.access_matrix(org, at=at):
        user = row["user"]
        member = members.get(user)
        if user not in people:
            people[user] = _Person(
                user=user,
                org_role=row["org_role"],
                external=bool(member and member.external),
                expires=member.expires if member else None,
                name=member.name if member else None,
            )
        if row["project"]:
            ends = [e for e in (row["expires"], member.expires if member else None) if e]
            cells[(user, row["project"])] = _Cell(
                role=row["project_role"],
                source=row["source"],
                ends=min(ends) if ends else None,
                reason=row["reason"],
            )
    return _OrgView(
        slug=org,
        name=info.name,
        projects=projects,
        people=sorted(people.values(), key=lambda p: p.user),
        cells=cells,
        expiries=_expiries(graph, org, members, at, horizon),
        shown_people=min(len(people), max_people),
    )


def _expiries(
    graph: Graph, org: str, members: dict[str, Any], at: datetime, horizon: datetime
) -> list[_Expiry]:
    """The memberships and grants that expired (still listed) or expire by ``horizon``,
    as the review's ``expired-access`` and ``expiring-soon`` rules see them: an expired
    grant has its own row, even in an expired membership; a grant expiring no earlier
    than its (unexpired) membership is the membership's row."""
    out: list[_Expiry] = []
    grants: dict[str, list[Any]] = {}
    for g in graph.grants():
        if g.target.split("/", 1)[0] == org:
            grants.setdefault(g.user, []).append(g)
    for user, m in sorted(members.items()):
        lapsed = m.expires is not None and m.expires <= at
        if lapsed:
            out.append(
                _Expiry("expired", user, org, f"membership of {org}", m.role, m.expires, m.reason)
            )
        elif m.expires is not None and m.expires <= horizon:
            out.append(
                _Expiry("expiring", user, org, f"membership of {org}", m.role, m.expires, m.reason)
            )
        for g in sorted(grants.get(user, []), key=lambda g: g.target):
            if g.expires is None or g.expires > horizon:
                continue
            if lapsed and g.expires > at:
                continue  # an expiring grant of an expired membership: nothing to add
            if g.expires > at and m.expires is not None and m.expires <= g.expires:
                continue  # the membership ends first: its row says it
            status = "expired" if g.expires <= at else "expiring"
            access = f"grant on {g.target}"
            out.append(_Expiry(status, user, org, access, g.role, g.expires, g.reason))
    return out


# --- the document ----------------------------------------------------------------------


def review_html(
    findings: Sequence[Finding],
    source: ReviewSource | None,
    *,
    title: str | None = None,
    max_people: int = 2000,
    progress: Progress | None = None,
    version: str = "",
) -> str:
    """The report, as one HTML document (see the module's docstring)."""
    orgs: list[_OrgView] = []
    note = ""
    at: datetime | None = None
    days = _DEFAULT_EXPIRING_DAYS
    if source is not None:
        graph = source.graph
        at = source.at
        days = float(source.thresholds.get("expiring_days", _DEFAULT_EXPIRING_DAYS))
        horizon = at + timedelta(days=days)
        slugs = [source.org] if source.org is not None else [o.slug for o in graph.orgs()]
        steps = Steps(progress, len(slugs))
        for slug in slugs:
            orgs.append(_org_view(graph, slug, at, horizon, max_people))
            steps.advance()
        steps.finish()
        if graph.revision != source.revision:
            note = (
                f"The graph changed after the review (revision {source.revision:,} → "
                f"{graph.revision:,}): the findings are as of the review, the access tables "
                "as of now, both judged at the review's instant."
            )
    elif progress is not None:
        Steps(progress, 0).finish()
    heading = title or _title(orgs, source)
    when = f"as of {_day(at)}" if at is not None else "instant not recorded"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="generator" content="accessgraph">',
        f"<title>{_esc(heading)} ({_esc(when)})</title>",
        f"<style>{REPORT_CSS}</style></head><body>",
        '<header><p class="kicker">Access review</p>',
        f"<h1>{_esc(heading)}</h1>",
        f'<p class="meta">{_esc(when)} · {_plural(len(findings), "finding")} · '
        f"generated by accessgraph {_esc(version)}"
        f"{_thresholds(source)}</p>",
        '<nav class="toc"><a href="#summary">Summary</a> <a href="#findings">Findings</a> '
        '<a href="#access">Who can reach what</a> <a href="#expiry">Expiring and expired</a>'
        "</nav></header>",
        f'<p class="warning" role="note">{_esc(note)}</p>' if note else "",
        "<main>",
        _summary(findings, orgs, source, days),
        _findings(findings),
        _access(orgs, source),
        _expiry(orgs, source, days),
        "</main>",
        "<footer><p>Sources of a role: "
        + "; ".join(f"<b>{_esc(s)}</b>: {_esc(t)}" for s, t in SOURCE_WORDS.values())
        + ".</p><p>Findings are sorted by severity, then rule, org and user. Click a column "
        "heading to sort; type in a filter box to keep the rows that contain the text. "
        "Printing prints what is shown.</p></footer>",
        f"<script>{REPORT_JS}</script></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _title(orgs: Sequence[_OrgView], source: ReviewSource | None) -> str:
    if source is not None and len(orgs) == 1:
        return f"{orgs[0].name} ({orgs[0].slug})"
    if orgs:
        return f"{_plural(len(orgs), 'organization')}"
    return "Access review"


def _thresholds(source: ReviewSource | None) -> str:
    if source is None or not source.thresholds:
        return ""
    shown = ", ".join(f"{k}={v:g}" for k, v in sorted(source.thresholds.items()))
    return f" · thresholds {_esc(shown)}"


def _controls(table: str, label: str, extra: str = "") -> str:
    return (
        f'<div class="controls"><label>Filter {label} '
        f'<input type="search" data-for="{table}" placeholder="text to keep" '
        f'aria-controls="{table}"></label>{extra}'
        f'<output class="count" data-count-for="{table}"></output></div>'
        f'<p class="print-note" data-note-for="{table}"></p>'
    )


def _table(
    table_id: str,
    header: Iterable[str],
    rows: Iterable[str],
    *,
    caption: str,
    classes: str = "",
) -> str:
    heads = "".join(
        f'<th scope="col"><button type="button" class="sort">{_esc(h)}</button></th>'
        for h in header
    )
    body = "".join(rows)
    return (
        f'<div class="scroll"><table id="{table_id}" class="sortable {classes}">'
        f"<caption>{caption}</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


# --- summary ---------------------------------------------------------------------------


def _summary(
    findings: Sequence[Finding], orgs: Sequence[_OrgView], source: ReviewSource | None, days: float
) -> str:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    if counts["high"]:
        verdict = (
            "high",
            f"Action needed: {_plural(counts['high'], 'high-severity finding')}. Fix these first.",
        )
    elif counts["medium"]:
        verdict = (
            "medium",
            f"No high-severity findings; {_plural(counts['medium'], 'medium finding')} to plan.",
        )
    elif findings:
        verdict = ("low", "No high- or medium-severity findings; only hygiene remains.")
    else:
        verdict = ("ok", "No findings: access matches every rule.")
    bars = "".join(
        f'<li class="sev-{s}"><span class="badge sev-{s}">{s}</span> '
        f'<b data-count="{s}">{counts[s]:,}</b></li>'
        for s in SEVERITIES
    )
    tiles = [f'<div class="tile"><h3>Findings</h3><ul class="sevs">{bars}</ul></div>']
    if source is not None:
        people = {p.user for o in orgs for p in o.people}
        external = {p.user for o in orgs for p in o.people if p.external}
        projects = [p for o in orgs for p in o.projects]
        restricted = sum(1 for p in projects if p.restricted)
        pii = sum(1 for p in projects if p.pii)
        expired = sum(1 for o in orgs for e in o.expiries if e.status == "expired")
        expiring = sum(1 for o in orgs for e in o.expiries if e.status == "expiring")
        tiles += [
            _tile("People with access", len(people), f"{len(external):,} external"),
            _tile("Projects", len(projects), f"{restricted:,} restricted, {pii:,} with PII"),
            _tile(
                "Expired, still listed",
                expired,
                "remove or renew",
                "alert" if expired else "",
            ),
            _tile(f"Expiring within {days:g} days", expiring, "renew or let lapse"),
        ]
    top = [f for f in findings if f.severity in ("high", "medium")][:5]
    actions = "".join(
        f'<li><span class="badge sev-{f.severity}">{f.severity}</span> {_esc(f.message)}. '
        f'<span class="fix">{_esc(f.remediation)}</span></li>'
        for f in top
    )
    first = f'<h3>First things to do</h3><ol class="actions">{actions}</ol>' if actions else ""
    return (
        '<section id="summary" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>'
        f'<p class="verdict verdict-{verdict[0]}" id="verdict">{_esc(verdict[1])}</p>'
        f'<div class="tiles">{"".join(tiles)}</div>{first}</section>'
    )


def _tile(title: str, n: int, sub: str, kind: str = "") -> str:
    cls = f"tile {kind}".strip()
    return (
        f'<div class="{cls}"><h3>{_esc(title)}</h3><p class="big">{n:,}</p>'
        f'<p class="sub">{_esc(sub)}</p></div>'
    )


# --- findings --------------------------------------------------------------------------


def _findings(findings: Sequence[Finding]) -> str:
    rows = [
        f'<tr data-severity="{f.severity}">'
        f'<td data-sort="{_RANK[f.severity]}"><span class="badge sev-{f.severity}">'
        f"{f.severity}</span></td>"
        f"<td><code>{_esc(f.rule)}</code></td><td>{_esc(f.org)}</td><td>{_esc(f.user)}</td>"
        f"<td>{_esc(f.target)}</td><td>{_esc(f.message)}</td>"
        f'<td class="fix">{_esc(f.remediation)}</td></tr>'
        for f in findings
    ]
    boxes = "".join(
        f'<label class="chip sev-{s}"><input type="checkbox" data-for="findings-table" '
        f'data-attr="severity" value="{s}" checked> {s}</label>'
        for s in SEVERITIES
    )
    header = ("severity", "rule", "org", "user", "target", "finding", "remediation")
    body = (
        _table(
            "findings-table",
            header,
            rows,
            caption=f"{_plural(len(findings), 'finding')}, most serious first",
        )
        if findings
        else '<p class="empty">No findings.</p>'
    )
    controls = _controls("findings-table", "findings", f'<span class="chips">{boxes}</span>')
    return (
        '<section id="findings" aria-labelledby="findings-h">'
        f'<h2 id="findings-h">Findings <span class="n">{len(findings):,}</span></h2>'
        f"{controls if findings else ''}{body}</section>"
    )


# --- heat map --------------------------------------------------------------------------


def _access(orgs: Sequence[_OrgView], source: ReviewSource | None) -> str:
    head = (
        '<section id="access" aria-labelledby="access-h"><h2 id="access-h">Who can reach what</h2>'
    )
    if source is None:
        return head + _unavailable() + "</section>"
    legend = (
        '<p class="legend"><span class="cell role-admin">admin</span> '
        '<span class="cell role-member">member</span> '
        '<span class="cell role-viewer">viewer</span> <span class="cell role-none">·</span> '
        "no access &nbsp; "
        f"{_restricted_mark()} restricted project "
        '<span class="mark pii">PII</span> personal data '
        '<span class="tag ext">external</span> external member '
        f"{_ending_mark('access ends within the expiry window')} access ends within the "
        "expiry window. "
        "Each cell names the role's source; hover it for the reason and expiry.</p>"
    )
    return head + legend + "".join(_heatmap(o, source) for o in orgs) + "</section>"


def _heatmap(o: _OrgView, source: ReviewSource) -> str:
    days = float(source.thresholds.get("expiring_days", _DEFAULT_EXPIRING_DAYS))
    horizon = source.at + timedelta(days=days)
    table = f"heatmap-{o.slug}"
    heads = [
        '<th scope="col"><button type="button" class="sort">user</button></th>',
        '<th scope="col"><button type="button" class="sort">org role</button></th>',
    ]
    for p in o.projects:
        marks = ""
        if p.restricted:
            marks += " " + _restricted_mark()
        if p.pii:
            marks += ' <span class="mark pii" title="holds personal data">PII</span>'
        env = f"<small>{_esc(p.environment)}</small>" if p.environment else ""
        heads.append(
            f'<th scope="col" class="project" title="{_esc(p.id)}">'
            f'<button type="button" class="sort">{_esc(p.name)}</button>{marks}{env}</th>'
        )
    rows = []
    for person in o.people[: o.shown_people]:
        tags = ' <span class="tag ext">external</span>' if person.external else ""
        if person.expires is not None and person.expires <= horizon:
            tags += " " + _ending_mark(f"membership ends {_day(person.expires)}")
        ending = any(
            c is not None and c.ends is not None and c.ends <= horizon
            for c in (o.cells.get((person.user, p.id)) for p in o.projects)
        ) or (person.expires is not None and person.expires <= horizon)
        flags = " ".join(f for f, on in (("external", person.external), ("expiring", ending)) if on)
        cells = [
            f'<th scope="row" class="who">{_esc(person.user)}{tags}</th>',
            f'<td data-sort="{_ORG_ROLE_LEVEL.get(person.org_role, 0)}">'
            f"{_esc(person.org_role)}</td>",
        ]
        for p in o.projects:
            cells.append(_cell(o.cells.get((person.user, p.id)), person.user, p.id, horizon))
        rows.append(f'<tr data-flags="{flags}">{"".join(cells)}</tr>')
    more = ""
    if o.shown_people < len(o.people):
        more = (
            f'<p class="note">Showing the first {o.shown_people:,} of {len(o.people):,} '
            "people (sorted by email); the access matrix (<code>accessgraph convert ... "
            ".csv</code>) has them all.</p>"
        )
    people = _plural(len(o.people), "person", "people")
    caption = (
        f"{_esc(o.name)} (<code>{_esc(o.slug)}</code>): {people} &times; "
        f"{_plural(len(o.projects), 'project')}"
    )
    body = "".join(rows)
    grid = (
        f'<div class="scroll"><table id="{table}" class="sortable heatmap">'
        f"<caption>{caption}</caption><thead><tr>{''.join(heads)}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
        if o.people
        else f'<p class="empty">Nobody holds live access in {_esc(o.slug)}.</p>'
    )
    flags = (
        f'<label>show <select data-for="{table}" data-attr="flags">'
        '<option value="">everyone</option><option value="external">external only</option>'
        '<option value="expiring">expiring only</option></select></label>'
    )
    return (
        f'<h3 id="org-{_esc(o.slug)}">{_esc(o.name)} <code>{_esc(o.slug)}</code></h3>'
        f"{_controls(table, 'people', flags) if o.people else ''}{grid}{more}"
    )


def _cell(cell: _Cell | None, user: str, project: str, horizon: datetime) -> str:
    if cell is None:
        return f'<td class="cell role-none" data-sort="0" title="{_esc(user)}: no access">·</td>'
    label, meaning = SOURCE_WORDS.get(cell.source or "", (cell.source or "", ""))
    tip = f"{user}: {cell.role} on {project}, from {meaning or cell.source}"
    mark = ""
    if cell.ends is not None:
        tip += f"; ends {_day(cell.ends)}"
        if cell.ends <= horizon:
            mark = _ending_mark(f"ends {_day(cell.ends)}")
    if cell.reason:
        tip += f"; reason: {cell.reason}"
    level = _ROLE_LEVEL.get(cell.role, 0)
    return (
        f'<td class="cell role-{_esc(cell.role)}" data-sort="{level}" title="{_esc(tip)}">'
        f"<b>{_esc(cell.role)}{mark}</b> <small>{_esc(label)}</small></td>"
    )


# --- expiry ----------------------------------------------------------------------------


def _expiry(orgs: Sequence[_OrgView], source: ReviewSource | None, days: float) -> str:
    head = (
        '<section id="expiry" aria-labelledby="expiry-h"><h2 id="expiry-h">'
        "Expiring and expired access</h2>"
    )
    if source is None:
        return head + _unavailable() + "</section>"
    at = source.at
    rows = []
    for o in orgs:
        for e in o.expiries:
            left = (e.expires - at).total_seconds() / 86_400
            when = f"{_ago(-left)} ago" if e.status == "expired" else f"in {_ago(left)}"
            rows.append(
                f'<tr data-status="{e.status}">'
                f'<td data-sort="{1 if e.status == "expired" else 2}">'
                f'<span class="badge st-{e.status}">{e.status}</span></td>'
                f"<td>{_esc(e.user)}</td><td>{_esc(e.org)}</td><td>{_esc(e.access)}</td>"
                f"<td>{_esc(e.role)}</td>"
                f'<td data-sort="{e.expires.astimezone(UTC).timestamp():.0f}">'
                f"{_esc(_day(e.expires))}</td>"
                f'<td data-sort="{left:.3f}">{_esc(when)}</td><td>{_esc(e.reason)}</td></tr>'
            )
    intro = (
        f'<p class="intro">Memberships and grants that have expired but are still listed '
        f"(remove or renew them), and those that end within {days:g} days of "
        f"{_esc(_day(at))}.</p>"
    )
    if not rows:
        return head + intro + '<p class="empty">Nothing expired or expiring.</p></section>'
    status = (
        '<label>status <select data-for="expiry-table" data-attr="status">'
        '<option value="">all</option><option value="expired">expired</option>'
        '<option value="expiring">expiring</option></select></label>'
    )
    header = ("status", "user", "org", "access", "role", "expires", "when", "reason")
    return (
        head
        + intro
        + _controls("expiry-table", "access", status)
        + _table("expiry-table", header, rows, caption=_plural(len(rows), "entry", "entries"))
        + "</section>"
    )


def _ago(days: float) -> str:
    if days < 1:
        hours = max(round(days * 24), 0)
        return _plural(hours, "hour")
    return _plural(round(days), "day")


def _unavailable() -> str:
    return (
        '<p class="empty">Not available: this review was not made by '
        "<code>Graph.review()</code>, so it has no graph to read the access from.</p>"
    )
