"""``AccessDiff``: who gains and who loses which effective role between two graphs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from accessgraph._extras import needs
from accessgraph._render import html_table, markdown_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KINDS", "NO_ACCESS", "AccessChange", "AccessDiff"]

KINDS = ("gained", "lost", "changed")
"""The kinds of change, in the order summaries list them."""
_HEADER = ("user", "project", "before", "after", "change")
NO_ACCESS = "no access"
"""What the pandas and notebook views of a diff show for a missing role."""


class AccessChange(NamedTuple):
    """One user's change of effective role on one project, or of org role in one org
    (then ``project`` is the org's slug, and ``before``/``after`` are org roles)."""

    user: str
    project: str  # a project id, or an org's slug for a change of org role
    before: str | None
    after: str | None
    kind: str  # "gained", "lost" or "changed"


class AccessDiff:
    """The changes from one graph to another, sorted by user then project."""

    __slots__ = ("_changes",)

    def __init__(self, changes: Iterable[AccessChange]) -> None:
        self._changes = tuple(changes)

    def __iter__(self) -> Iterator[AccessChange]:
        return iter(self._changes)

    def __len__(self) -> int:
        return len(self._changes)

    def __bool__(self) -> bool:
        return bool(self._changes)

    def __getitem__(self, index: int) -> AccessChange:
        return self._changes[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AccessDiff):
            return NotImplemented
        return self._changes == other._changes

    def __hash__(self) -> int:
        return hash(self._changes)

    def __repr__(self) -> str:
        counts = {k: sum(1 for c in self._changes if c.kind == k) for k in KINDS}
        return "<AccessDiff " + " ".join(f"{k}={n}" for k, n in counts.items()) + ">"

    def filter(self, *, kind: str | None = None, user: str | None = None) -> AccessDiff:
        """The changes of one kind and/or one user."""
        return AccessDiff(
            c
            for c in self._changes
            if (kind is None or c.kind == kind) and (user is None or c.user == user.lower())
        )

    def to_pandas(self) -> pd.DataFrame:
        """The changes as a pandas DataFrame (needs the ``pandas`` extra): ``user``,
        ``project``, ``before``, ``after``, ``kind``. Where the user had (``before``) or has
        (``after``) no role on the project, the cell says :data:`NO_ACCESS`
        (``"no access"``), not a bare ``NaN``."""
        with needs("pandas", "AccessDiff.to_pandas()"):
            import pandas as pd
        rows = [
            (c.user, c.project, c.before or NO_ACCESS, c.after or NO_ACCESS, c.kind)
            for c in self._changes
        ]
        text = "str" if int(pd.__version__.split(".", 1)[0]) >= 3 else object
        frame = pd.DataFrame(rows, columns=list(AccessChange._fields))
        return frame.astype(dict.fromkeys(AccessChange._fields, text))

    def to_markdown(self) -> str:
        """A Markdown table of the changes."""
        return markdown_table(
            _HEADER, ((c.user, c.project, c.before or "-", c.after or "-", c.kind) for c in self)
        )

    def _repr_html_(self) -> str:
        return html_table(
            _HEADER,
            (
                (c.user, c.project, c.before or NO_ACCESS, c.after or NO_ACCESS, c.kind)
                for c in self._changes
            ),
        )
