"""``diff --format github``: an access diff as a Markdown pull request comment.

One headline line (who gains, who loses, whose role changes, and whether access
widens), then one table per kind of change: gains, role changes (each marked wider or
narrower), losses. The first line is an HTML comment that a workflow can look for to
update its earlier comment instead of adding one (``examples/github/access-review.yml``).
"""

from __future__ import annotations

from collections.abc import Iterable

from accessgraph._diff import AccessChange
from accessgraph._render import markdown_table

__all__ = ["MARKER", "github_comment", "widening"]

MARKER = "<!-- accessgraph-diff -->"
"""The comment's first line."""

# Project roles (viewer < member < admin) and org roles (member < admin < owner): a
# change compares two roles of one kind, since an org's row has the org's slug as its
# target and a project's row a project id.
_RANK = {None: 0, "viewer": 1, "member": 2, "admin": 3, "owner": 4}


def widening(change: AccessChange) -> bool:
    """Does ``change`` give more access: a gain, or a higher role (in a project, or in
    an org)?"""
    return _RANK[change.after] > _RANK[change.before]


def _people(n: int, what: str) -> str:
    return f"{n} {'person' if n == 1 else 'people'} {what}"


def _code(text: str) -> str:
    return f"`{text}`"


def github_comment(changes: Iterable[AccessChange], *, old: str, new: str) -> str:
    """The Markdown comment for the changes from ``old`` to ``new`` (both named in it)."""
    changes = list(changes)
    gained = [c for c in changes if c.kind == "gained"]
    lost = [c for c in changes if c.kind == "lost"]
    changed = [c for c in changes if c.kind == "changed"]
    lines = [MARKER]
    if not changes:
        lines.append(f"### Access review: no change in access from {_code(old)} to {_code(new)}")
        return "\n".join(lines) + "\n"
    up = sum(1 for c in changed if widening(c))
    parts = []
    if gained:
        parts.append(_people(len({c.user for c in gained}), "gain access"))
    if lost:
        parts.append(_people(len({c.user for c in lost}), "lose access"))
    if changed:
        parts.append(
            f"{len(changed)} role {'change' if len(changed) == 1 else 'changes'} "
            f"({up} up, {len(changed) - up} down)"
        )
    verdict = "access widens" if gained or up else "access only narrows"
    lines.append(f"### Access review: {', '.join(parts)} — {verdict}")
    lines.append("")
    lines.append(
        f"Effective roles (on a project; on an org, the org role) from {_code(old)} "
        f"(before) to {_code(new)} (after): "
        f"{len(changes)} {'change' if len(changes) == 1 else 'changes'}."
    )
    if gained:
        lines += ["", f"#### Gains ({len(gained)})", ""]
        lines.append(
            markdown_table(
                ("user", "project", "role"), [(c.user, c.project, c.after) for c in gained]
            )
        )
    if changed:
        lines += ["", f"#### Role changes ({len(changed)})", ""]
        lines.append(
            markdown_table(
                ("user", "project", "before", "after", ""),
                [
                    (c.user, c.project, c.before, c.after, "wider" if widening(c) else "narrower")
                    for c in changed
                ],
            )
        )
    if lost:
        lines += ["", f"#### Losses ({len(lost)})", ""]
        lines.append(
            markdown_table(
                ("user", "project", "role before"), [(c.user, c.project, c.before) for c in lost]
            )
        )
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"
