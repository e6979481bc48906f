"""``Review``: the findings of an access review, with filters and notebook views."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

from accessgraph._core import Finding
from accessgraph.exceptions import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SEVERITIES", "Review"]

SEVERITIES: tuple[str, ...] = ("high", "medium", "low", "info")
"""The severities, most serious first."""

_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}
_COLUMNS = ("rule", "severity", "org", "user", "target", "message", "remediation")


def _cell(value: str | None) -> str:
    return "" if value is None else value.replace("|", "\\|").replace("\n", " ")


class Review(Sequence[Finding]):
    """An access review: findings sorted by severity (high first), then rule, org, user.

    Each :class:`Finding` has ``rule`` (a stable id such as ``expired-access``),
    ``severity`` (``high``, ``medium``, ``low`` or ``info``), ``org``, ``user``,
    ``target``, ``message`` and ``remediation``.
    """

    __slots__ = ("_findings",)

    def __init__(self, findings: Iterable[Finding]) -> None:
        self._findings: tuple[Finding, ...] = tuple(findings)

    def __len__(self) -> int:
        return len(self._findings)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Review: ...
    def __getitem__(self, index: int | slice) -> Finding | Review:
        if isinstance(index, slice):
            return Review(self._findings[index])
        return self._findings[index]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._findings)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Review):
            return NotImplemented
        return self._findings == other._findings

    def __hash__(self) -> int:
        return hash(self._findings)

    def __repr__(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"<Review {len(self._findings)} findings: {counts}>"

    @property
    def counts(self) -> dict[str, int]:
        """The number of findings of each severity, most serious first."""
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self._findings:
            out[f.severity] += 1
        return out

    def filter(
        self,
        severity: str | None = None,
        rule: str | None = None,
        user: str | None = None,
    ) -> Review:
        """The findings at least as serious as ``severity`` (``"medium"`` keeps high and
        medium), of one ``rule`` and/or about one ``user``."""
        if severity is not None and severity not in _RANK:
            raise ValidationError(f"invalid severity `{severity}`: one of {', '.join(SEVERITIES)}")
        floor = _RANK[severity] if severity is not None else 0
        who = user.lower() if user is not None else None
        return Review(
            f
            for f in self._findings
            if _RANK[f.severity] >= floor
            and (rule is None or f.rule == rule)
            and (who is None or f.user == who)
        )

    def to_records(self) -> list[dict[str, str | None]]:
        """The findings as dicts (``rule``, ``severity``, ``org``, ``user``, ``target``,
        ``message``, ``remediation``)."""
        return [{c: getattr(f, c) for c in _COLUMNS} for f in self._findings]

    def to_pandas(self) -> pd.DataFrame:
        """The findings as a pandas DataFrame (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Review.to_pandas() needs pandas: pip install 'accessgraph[pandas]'"
            ) from exc
        return pd.DataFrame(self.to_records(), columns=list(_COLUMNS))

    def to_markdown(self) -> str:
        """A Markdown report: a table of the findings, most serious first."""
        if not self._findings:
            return "No findings.\n"
        lines = [
            "| severity | rule | org | user | target | finding | remediation |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in self._findings:
            cells = (f.severity, f.rule, f.org, f.user, f.target, f.message, f.remediation)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        colours = {"high": "#cf222e", "medium": "#bf8700", "low": "#0969da", "info": "#57606a"}
        summary = ", ".join(f"{n} {s}" for s, n in self.counts.items() if n)
        head = "".join(
            f"<th>{c}</th>"
            for c in ("severity", "rule", "org", "user", "target", "finding", "remediation")
        )
        rows = "".join(
            "<tr>"
            f'<td style="color:{colours[f.severity]}"><strong>{f.severity}</strong></td>'
            f"<td><code>{html.escape(f.rule)}</code></td>"
            + "".join(
                f"<td>{html.escape(v or '')}</td>"
                for v in (f.org, f.user, f.target, f.message, f.remediation)
            )
            + "</tr>"
            for f in self._findings
        )
        caption = f"<caption>Access review: {len(self._findings)} findings"
        caption += f" ({summary})</caption>" if summary else "</caption>"
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
