"""Role names as ``str`` enums; plain strings work everywhere too."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OrgRole", "ProjectRole"]


class OrgRole(StrEnum):
    """An organization role: ``member`` < ``admin`` < ``owner``."""

    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"


class ProjectRole(StrEnum):
    """A project role: ``viewer`` < ``member`` < ``admin``."""

    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
