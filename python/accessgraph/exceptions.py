"""The exceptions accessgraph raises (SPEC 6.1).

The Rust core maps each of its errors to one of these classes in a single place
(``src/bindings/errors.rs``); they are defined here so that they pickle, subclass the
usual built-ins (``ValueError``, ``KeyError``) and carry their extra attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accessgraph._core import Decision

__all__ = [
    "AccessGraphError",
    "AuditIntegrityError",
    "ConflictError",
    "JournalError",
    "JournalRecoveredWarning",
    "JournalUnavailableError",
    "NotFoundError",
    "PermissionDenied",
    "ReadOnlyGraphError",
    "RegistryFormatError",
    "UnknownActionError",
    "ValidationError",
]


class AccessGraphError(Exception):
    """Base class of every accessgraph error."""


class ValidationError(AccessGraphError, ValueError):
    """Bad input: an identifier, email, role, date or argument that does not fit."""


class UnknownActionError(ValidationError):
    """An action that is not in the catalogue (a typo must be loud)."""


class RegistryFormatError(ValidationError):
    """A registry document that does not parse; ``line``/``column`` or ``path`` say where."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.path = path


class NotFoundError(AccessGraphError, KeyError):
    """An unknown org, project, user, resource, grant, key or request."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a sentence reads better unquoted.
        return str(self.args[0]) if self.args else ""


class ConflictError(AccessGraphError):
    """The request is well-formed but the graph's state forbids it."""


class ReadOnlyGraphError(ConflictError):
    """A mutation on a read-only graph (an ``as_of`` view)."""


class PermissionDenied(AccessGraphError):
    """The actor lacks the authority; ``decision`` says why."""

    def __init__(self, message: str, decision: Decision | None = None) -> None:
        super().__init__(message)
        self.decision = decision


class AuditIntegrityError(AccessGraphError):
    """The audit chain does not verify; ``seq`` is the first bad event."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class JournalError(AccessGraphError):
    """A damaged journal; ``line`` is the first bad line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class JournalUnavailableError(JournalError):
    """The shared journal (PostgreSQL) cannot be reached: the mutation was not
    acknowledged. Checks go on from memory and the process reconnects by itself; retry
    later. (If the connection was lost during the commit itself, the change may have been
    committed after all: the message says so, and the graph picks it up on reconnecting.)"""


class JournalRecoveredWarning(RuntimeWarning):
    """A torn final journal line (a crash mid-write) was cut off (``Graph.open``) or left
    out (``Graph.load``); ``line`` is its line number."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line
