"""The system checks: every id, in process (override_settings) and from `manage.py check`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django_app import SEED_REGISTRY, manage, setup

import accessgraph as ag

setup()

from django.core.checks import run_checks  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.test import override_settings  # noqa: E402

from accessgraph.django import get_graph, override_graph  # noqa: E402
from accessgraph.django.checks import TAG, follows_other_processes  # noqa: E402

REGISTRY = {"REGISTRY": str(SEED_REGISTRY), "ORG": "acme"}


def ids(**settings: Any) -> dict[str, str]:
    """``{id: message}`` of the accessgraph checks under ``settings``."""
    with override_settings(**settings):
        return {m.id or "": str(m) for m in run_checks(tags=[TAG])}


def test_the_test_project_is_clean() -> None:
    assert ids() == {}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (None, "settings.ACCESSGRAPH is not set"),
        (
            {"REGISTY": "access.md", "ORG": "acme"},
            "unknown key `REGISTY` (did you mean `REGISTRY`?)",
        ),
        ({}, "names no graph"),
        ({"REGISTRY": "a.md", "JOURNAL": "a.journal"}, "both REGISTRY and JOURNAL"),
        ({"REGISTRY": "a.md", "UNKNOWN_ACTION": "ignore"}, "`ignore`: expected"),
    ],
)
def test_e001_the_shape_of_the_setting(setting: object, message: str) -> None:
    found = ids(ACCESSGRAPH=setting)
    assert list(found) == ["accessgraph.E001"]
    assert message in found["accessgraph.E001"]


def test_e002_a_registry_that_does_not_load(tmp_path: Path) -> None:
    bad = tmp_path / "access.md"
    bad.write_text("# Acme Access Registry\n## Owners\n- not-an-email\n", encoding="utf-8")
    found = ids(ACCESSGRAPH={"REGISTRY": str(bad), "ORG": "acme"})
    assert list(found) == ["accessgraph.E002"]
    assert re.search(r"access.md` does not load: .*line 3", found["accessgraph.E002"])
    missing = ids(ACCESSGRAPH={"REGISTRY": str(tmp_path / "nope.md"), "ORG": "acme"})
    assert "is not a file" in missing["accessgraph.E002"]


def test_e002_a_journal_that_does_not_open(tmp_path: Path) -> None:
    journal = tmp_path / "access.journal"
    journal.write_text("not a journal\n")
    found = ids(ACCESSGRAPH={"JOURNAL": str(journal)})
    assert "does not open" in found["accessgraph.E002"]


def test_e003_a_user_field_that_is_not_unique() -> None:
    setting = {**REGISTRY, "USER_FIELD": "first_name"}
    found = ids(ACCESSGRAPH=setting)
    assert list(found) == ["accessgraph.E003"]
    assert "`first_name` of django_app.Account is not unique" in found["accessgraph.E003"]
    # ... and the app refuses to answer with it, rather than trusting it
    with override_settings(ACCESSGRAPH=setting), pytest.raises(ImproperlyConfigured, match="E003"):
        get_graph()


def test_e003_a_user_field_that_is_no_field() -> None:
    found = ids(ACCESSGRAPH={**REGISTRY, "USER_FIELD": "emial"})
    assert (
        "`emial` is not a field of django_app.Account (did you mean `email`?)"
        in found["accessgraph.E003"]
    )


def test_w002_a_user_field_unique_only_as_written() -> None:
    found = ids(ACCESSGRAPH={**REGISTRY, "USER_FIELD": "username"})
    assert list(found) == ["accessgraph.W002"]
    assert "`OWNER@ACME.COM` and `owner@acme.com` may be two accounts" in found["accessgraph.W002"]
    assert 'UniqueConstraint(Lower("username")' in found["accessgraph.W002"]


def test_e005_an_org_the_graph_does_not_have() -> None:
    found = ids(ACCESSGRAPH={**REGISTRY, "DEFAULT_ORG": "acmee"})
    assert list(found) == ["accessgraph.E005"]
    assert (
        "`acmee`, which the graph does not have (did you mean `acme`?)" in found["accessgraph.E005"]
    )


def test_e005_is_quiet_for_a_new_journal(tmp_path: Path) -> None:
    ag.Graph.open(tmp_path / "new.journal")
    found = ids(ACCESSGRAPH={"JOURNAL": str(tmp_path / "new.journal"), "ORG": "acme"})
    assert "accessgraph.E005" not in found


def test_w001_the_backend_is_missing() -> None:
    backends = ["django.contrib.auth.backends.ModelBackend"]
    found = ids(AUTHENTICATION_BACKENDS=backends)
    assert list(found) == ["accessgraph.W001"]
    assert "is not in settings.AUTHENTICATION_BACKENDS" in found["accessgraph.W001"]
    subclass = ["django_app.backends.Backend"]
    assert ids(AUTHENTICATION_BACKENDS=subclass) == {}  # a subclass counts


def test_w003_is_quiet_for_a_file_journal_which_follows_itself(tmp_path: Path) -> None:
    journal = tmp_path / "access.journal"
    seeded = ag.Graph.open(journal)
    seeded.add_org("acme", owner="jane@example.com")
    assert seeded.follows_journal is True
    assert follows_other_processes(seeded) is True
    assert ids(ACCESSGRAPH={"JOURNAL": str(journal), "ORG": "acme"}) == {}


def test_w003_names_a_graph_that_does_not_follow_its_file_journal() -> None:
    class Stale:
        journal_url = None
        journal_path = "/srv/access.journal"
        follows_journal = False

    assert follows_other_processes(Stale()) is False  # type: ignore[arg-type]


def test_follows_other_processes_reads_the_url() -> None:
    class Shared:
        journal_path = None

        def __init__(self, url: str | None) -> None:
            self.journal_url = url

    assert follows_other_processes(Shared("postgresql://db/x?graph=main")) is True  # type: ignore[arg-type]
    assert follows_other_processes(Shared("postgresql://db/x?follow=off")) is False  # type: ignore[arg-type]
    assert follows_other_processes(Shared(None)) is None  # type: ignore[arg-type]


def test_injected_graph_is_checked(acme: ag.Graph) -> None:
    acme.define_action("report:export")
    with override_graph(acme):
        assert ids() == {}


# --- `manage.py check` in a subprocess ----------------------------------------------------


def test_manage_py_check_on_the_clean_project() -> None:
    result = manage("check")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_manage_py_check_reports_the_views() -> None:
    result = manage("check", variant="broken-views")
    assert result.returncode == 1, result.stderr
    out = result.stderr
    expected = {
        "E004": [
            "django_app.urls_broken.misspelled: (accessgraph.E004) `insight:veiw` is not an "
            "accessgraph action (did you mean `insight:view`?)",
            "django_app.urls_broken.MisspelledApi: (accessgraph.E004) `dashbord:view` is not "
            "an accessgraph action (did you mean `dashboard:view`?)",
        ],
        "E006": ["django_app.urls_broken.needs_default_org: require_access() without a target"],
        "E007": [
            "django_app.urls_broken.NoTargetApi has access_target = None and does not check "
            "per object"
        ],
        "W001": ["AccessGraphBackend is not in settings.AUTHENTICATION_BACKENDS"],
        "W002": ["`username` of django_app.Account is unique only as written"],
        "W004": [
            "the target `acme/{project}` names org `acme`, which the graph does not have: "
            "it has `posthog`"
        ],
    }
    for check, texts in expected.items():
        assert f"(accessgraph.{check})" in out, check
        for text in texts:
            assert text in out, text
    assert "accessgraph.E00" in out and "SystemCheckError" in out


def test_manage_py_check_stops_at_a_bad_setting() -> None:
    result = manage("check", variant="unknown-key")
    assert result.returncode == 1
    assert (
        "ConfigError: accessgraph.E001: settings.ACCESSGRAPH has unknown key "
        "`REGISTY` (did you mean `REGISTRY`?)"
    ) in result.stderr


def test_djangos_own_user_model_is_refused_at_start_up() -> None:
    # auth.User's email is not unique: an account registered as OWNER@ACME.COM (or a
    # second owner@acme.com) would get the owner's access. The app does not start.
    result = manage("check", variant="auth-user")
    assert result.returncode == 1
    assert (
        "accessgraph.E003: settings.ACCESSGRAPH['USER_FIELD'] `email` of auth.User is not unique"
        in (result.stderr)
    )


def test_manage_py_check_is_quiet_for_a_file_journal(tmp_path: Path) -> None:
    journal = tmp_path / "access.journal"
    ag.Graph.open(journal).add_org("acme", owner="jane@example.com")
    result = manage("check", variant="journal", env={"DJANGO_APP_JOURNAL": str(journal)})
    assert result.returncode == 0, result.stderr
    assert "W003" not in result.stderr + result.stdout
    assert "no issues" in result.stdout
