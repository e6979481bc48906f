"""File names the package refuses before it opens anything: the bottom of the Python
package's layers (it imports only the exceptions), so that every module that takes a path
(``_formats``, ``postgres``, the audit and review exports) can call it."""

from __future__ import annotations

import os

from accessgraph.exceptions import ValidationError


def check_path(path: str | os.PathLike[str], field: str = "path") -> None:
    """Refuse a ``path`` that no file can have: a str holding a lone surrogate the file
    system's encoding cannot carry is a ``ValidationError`` naming ``field``, the
    character and its position, where ``open`` raises a bare ``UnicodeEncodeError``. (The
    surrogates ``surrogateescape`` decoding leaves for undecodable bytes name real files,
    and pass.) Anything that is not a path is left to the call that opens it."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError as e:
        raise ValidationError(
            f"{field} is not a valid file name: it holds the lone surrogate "
            f"{e.object[e.start]!r} at position {e.start}"
        ) from None
    except TypeError:
        return
