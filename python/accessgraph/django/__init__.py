"""accessgraph for Django: an auth backend, a DRF permission class and a view decorator.

    # settings.py
    INSTALLED_APPS = [..., "accessgraph.django"]
    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "accessgraph.django.AccessGraphBackend",
    ]
    ACCESSGRAPH = {"REGISTRY": BASE_DIR / "access.md", "ORG": "acme"}

    request.user.has_perm("accessgraph.feature_flag:manage", "acme/production")

``HasAccess`` needs Django REST framework and is imported on first use; the rest needs
only Django. See ``docs/django.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    import django  # noqa: F401
except ImportError as exc:  # tested in a subprocess (test_django.py)
    raise ImportError("accessgraph.django needs Django: pip install 'accessgraph[django]'") from exc

from accessgraph.django.backend import AccessGraphBackend
from accessgraph.django.conf import get_graph, override_graph, set_graph
from accessgraph.django.decorators import require_access

if TYPE_CHECKING:
    from accessgraph.django.drf import HasAccess

__all__ = [
    "AccessGraphBackend",
    "HasAccess",
    "get_graph",
    "override_graph",
    "require_access",
    "set_graph",
]


def __getattr__(name: str) -> object:
    if name == "HasAccess":
        try:
            from accessgraph.django.drf import HasAccess
        except ImportError as exc:
            raise ImportError(
                "accessgraph.django.HasAccess needs Django REST framework: "
                "pip install 'accessgraph[django]'"
            ) from exc
        return HasAccess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
