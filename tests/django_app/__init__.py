"""A small Django project for the Django tests (tests/python/test_django*.py).

In-process tests call :func:`setup` (settings from :data:`SETTINGS`, a test database in
memory); subprocesses run ``python -m django`` with ``DJANGO_SETTINGS_MODULE =
"django_app.settings"``, whose ``DJANGO_APP_VARIANT`` environment variable picks a
misconfiguration (see ``settings.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
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
        "django.contrib.admin",
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "rest_framework",
        "accessgraph.django",
        "django_app",
    ],
    "AUTH_USER_MODEL": "django_app.Account",
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django_app.middleware.header_user",
    ],
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
    "ROOT_URLCONF": "django_app.urls",
    # Ours first: the header middleware's users are not saved, and ModelBackend would
    # query their (absent) rows for checks without an object.
    "AUTHENTICATION_BACKENDS": [
        "accessgraph.django.AccessGraphBackend",
        "django.contrib.auth.backends.ModelBackend",
    ],
    "ACCESSGRAPH": {"REGISTRY": str(SEED_REGISTRY), "ORG": "acme"},
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    },
}


def setup() -> None:
    """Configure Django for this process once, with a test database in memory."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(**SETTINGS)
    django.setup()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def manage(
    *args: str, variant: str = "", env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m django ARGS`` on the test project (``settings.py``, ``variant``)."""
    path = [str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "DJANGO_APP_VARIANT": variant,
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=timeout,
    )
