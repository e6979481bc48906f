"""``DJANGO_SETTINGS_MODULE`` of the test project, for ``python -m django`` in a subprocess.

``DJANGO_APP_VARIANT`` (environment) picks a misconfiguration:

- ``""``: the clean project of the in-process tests.
- ``broken-views``: views with misspelled actions, a view checking the default org with
  none set, a DRF view without a target, a registry loaded under its title's org, no
  ``AccessGraphBackend``, and a user field unique only case-sensitively.
- ``unknown-key``: a misspelled ``ACCESSGRAPH`` key.
- ``auth-user``: Django's own ``auth.User``, whose email is not unique.
- ``journal``: the journal at ``DJANGO_APP_JOURNAL``.
"""

from __future__ import annotations

import os

from django_app import SEED_REGISTRY, SETTINGS

globals().update(SETTINGS)

_VARIANT = os.environ.get("DJANGO_APP_VARIANT", "")
if _VARIANT == "broken-views":
    ROOT_URLCONF = "django_app.urls_broken"
    ACCESSGRAPH = {"REGISTRY": str(SEED_REGISTRY), "USER_FIELD": "username"}
    AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
elif _VARIANT == "unknown-key":
    ACCESSGRAPH = {"REGISTY": str(SEED_REGISTRY), "ORG": "acme"}
elif _VARIANT == "auth-user":
    AUTH_USER_MODEL = "auth.User"
elif _VARIANT == "journal":
    ACCESSGRAPH = {"JOURNAL": os.environ["DJANGO_APP_JOURNAL"], "DEFAULT_ORG": "acme"}
elif _VARIANT:
    raise ValueError(f"unknown DJANGO_APP_VARIANT `{_VARIANT}`")
