"""A tiny Django project for tests/python/test_django.py (no database tables needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEED_REGISTRY = REPO / "examples" / "seed_registry.md"

SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": "accessgraph-tests-only",
    "ALLOWED_HOSTS": ["testserver"],
    "USE_TZ": True,
    "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    "INSTALLED_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "accessgraph.django",
    ],
    "MIDDLEWARE": ["django_app.middleware.header_user"],
    "ROOT_URLCONF": "django_app.urls",
    # Only ours: ModelBackend would query the (absent) tables for the unsaved test users.
    "AUTHENTICATION_BACKENDS": ["accessgraph.django.AccessGraphBackend"],
    "ACCESSGRAPH": {"REGISTRY": str(SEED_REGISTRY), "ORG": "acme"},
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    },
}


def setup() -> None:
    """Configure Django for this process once (the other test modules never look)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**SETTINGS)
        django.setup()
