"""The access heat map: users x projects, each cell coloured by the effective project role.

matplotlib is the optional ``plot`` extra; it is imported only when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from accessgraph._extras import needs

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ENDING_MARK", "ROLE_COLOURS", "ROLE_LEVELS", "access_heatmap", "ending_cells"]

ROLE_LEVELS = {"viewer": 1, "member": 2, "admin": 3}
"""Project roles in rising order; 0 is no access."""

ROLE_COLOURS = ("#f2f2f2", "#c6dbef", "#6baed6", "#08519c")
"""Cell colours for no access, viewer, member and admin (light to dark: more is darker)."""

_NAMES = ("no access", "viewer", "member", "admin")
ENDING_MARK = "*"
"""Marks a cell whose access ends soon, in the heat map and the notebook's HTML matrix."""
RESTRICTED = " (restricted)"
EXTERNAL = " (external)"


def ending_cells(
    rows: Iterable[Mapping[str, Any]],
    memberships: Mapping[str, datetime | None],
    at: datetime,
    days: float,
) -> dict[tuple[str, str], datetime]:
    """The ``(user, project)`` cells of an access matrix whose access ends within
    ``days`` of ``at``: the row's own expiry (a grant's) or the membership's, the
    earlier; with the instant it ends."""
    horizon = at + timedelta(days=days)
    out: dict[tuple[str, str], datetime] = {}
    for r in rows:
        if not r.get("project"):
            continue
        ends = [e for e in (r.get("expires"), memberships.get(str(r["user"]))) if e]
        if ends and min(ends) <= horizon:
            out[(str(r["user"]), str(r["project"]))] = min(ends)
    return out


_ANNOTATE_UP_TO = 600  # cells; beyond that the letters are unreadable anyway


def access_heatmap(
    rows: Iterable[Mapping[str, Any]],
    *,
    users: Sequence[str] | None = None,
    projects: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    restricted: Collection[str] = (),
    external: Collection[str] = (),
    ending: Collection[tuple[str, str]] = (),
    ending_days: float | None = None,
) -> Axes:
    """Draw rows of ``user``/``project``/``project_role`` (an access matrix) as a heat map:
    one row per user, one column per project, the cell coloured by the role (darker is
    more) and marked with its initial. ``users`` and ``projects`` fix the axes (default:
    those in ``rows``, sorted). The markers of the HTML views: a project in
    ``restricted`` is labelled ``(restricted)``, a user in ``external`` ``(external)``,
    and a ``(user, project)`` cell in ``ending`` carries ``*`` (the legend says it ends
    within ``ending_days``). Draws on ``ax`` or on a new pyplot figure; returns the
    axes."""
    rows = list(rows)
    if users is None:
        users = sorted({str(r["user"]) for r in rows})
    if projects is None:
        projects = sorted({str(r["project"]) for r in rows if r.get("project")})
    row_of = {u: i for i, u in enumerate(users)}
    col_of = {p: j for j, p in enumerate(projects)}
    grid = [[0] * len(projects) for _ in users]
    for r in rows:
        i, j = row_of.get(str(r["user"])), col_of.get(str(r.get("project") or ""))
        if i is not None and j is not None:
            level = ROLE_LEVELS.get(str(r.get("project_role")), 0)
            grid[i][j] = max(grid[i][j], level)

    with needs("plot", "plotting"):
        from matplotlib.colors import BoundaryNorm, ListedColormap
        from matplotlib.patches import Patch

    if ax is None:
        with needs("plot", "plotting"):
            import matplotlib.pyplot as plt
        width = min(2.5 + 0.7 * max(len(projects), 1) + 2.0, 24.0)
        height = min(1.5 + 0.32 * max(len(users), 1), 40.0)
        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    assert ax is not None
    cmap = ListedColormap(list(ROLE_COLOURS))
    norm = BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], cmap.N)
    if users and projects:
        ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    else:
        ax.text(0.5, 0.5, "no access to show", ha="center", va="center", transform=ax.transAxes)
    xlabels = [p + RESTRICTED if p in restricted else p for p in projects]
    ylabels = [u + EXTERNAL if u in external else u for u in users]
    ax.set_xticks(range(len(projects)), labels=xlabels, rotation=45, ha="right")
    ax.set_yticks(range(len(users)), labels=ylabels)
    ends = set(ending)
    ax.set_xticks([j - 0.5 for j in range(1, len(projects))], minor=True)
    ax.set_yticks([i - 0.5 for i in range(1, len(users))], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    if len(users) * len(projects) <= _ANNOTATE_UP_TO:
        for i, line in enumerate(grid):
            for j, level in enumerate(line):
                if level:
                    mark = ENDING_MARK if (users[i], projects[j]) in ends else ""
                    ax.text(
                        j,
                        i,
                        _NAMES[level][0].upper() + mark,
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if level >= 2 else "black",
                    )
    handles = [
        Patch(facecolor=c, edgecolor="#999999", label=n)
        for c, n in zip(ROLE_COLOURS, _NAMES, strict=True)
    ]
    if ends & {(u, p) for u in users for p in projects}:
        within = "" if ending_days is None else f" within {ending_days:g} days"
        handles.append(Patch(facecolor="none", edgecolor="none", label=f"* ends{within}"))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        title="project role",
    )
    if title is not None:
        ax.set_title(title)
    return ax
