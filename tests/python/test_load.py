"""``Graph.load`` tells the formats apart: a journal by its header (read from a private
copy, the file untouched), a PostHog members export by its shape, the registry formats
by their extensions; ``format=`` overrides."""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import pytest
from conftest import POSTHOG, small_journal

import accessgraph as ag


def _people(g: ag.Graph) -> list[tuple[str, str]]:
    return [(m.user, m.role) for m in g.members("acme")]


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_a_journal_is_read_whatever_its_name_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    writer = small_journal(path)  # still open: loading takes no lock
    writer.snapshot()
    writer.remove_member("bob@example.com", "acme", actor="jane@example.com")
    before = _files(tmp_path)
    g = ag.Graph.load(path)
    assert g.to_json() == writer.to_json()
    assert (g.journal_path, len(g.audit), g.revision) == (None, 0, 0)
    g.add_member("new@example.com", "acme", actor="jane@example.com")
    assert [e.action for e in g.audit] == ["member.added"]
    assert _files(tmp_path) == before
    assert ag.Graph.load(path, format="journal").to_json() == writer.to_json()


def test_a_torn_journal_loads_without_its_last_record_and_says_which_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "access.journal"
    expected = small_journal(path).to_json()
    complete = path.read_bytes()
    torn = len(complete.splitlines()) + 1
    path.write_bytes(complete + b'{"seq":6,"torn')
    with pytest.warns(ag.JournalRecoveredWarning) as caught:
        g = ag.Graph.load(path)
    (w,) = caught
    assert isinstance(w.message, ag.JournalRecoveredWarning) and w.message.line == torn
    assert str(w.message).startswith(f"{path}: a torn final record at line {torn}")
    assert g.to_json() == expected
    assert path.read_bytes() == complete + b'{"seq":6,"torn'  # not cut off
    with pytest.warns(ag.JournalRecoveredWarning) as opened:
        ag.Graph.open(path)
    assert opened[0].message.line == torn  # type: ignore[union-attr]
    assert path.read_bytes() == complete  # Graph.open cuts it off


def test_a_damaged_journal_names_the_file_not_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    small_journal(path)
    rows = path.read_text().splitlines()
    grant = next(i for i, row in enumerate(rows) if '"role":"viewer"' in row) + 1
    path.write_text(path.read_text().replace('"role":"viewer"', '"role":"admin"'))
    with pytest.raises(ag.JournalError) as info:
        ag.Graph.load(path)
    assert info.value.line == grant == len(rows)
    assert str(path) in str(info.value) and "accessgraph-" not in str(info.value)


def test_a_posthog_export_is_detected_and_needs_its_org(tmp_path: Path) -> None:
    members, prod = POSTHOG / "org_members.json", POSTHOG / "production_explicit_members.json"
    g = ag.Graph.load(members, org="acme", projects={"Production": prod})
    expected = ag.Graph.from_posthog(
        members.read_text(), org="acme", projects={"Production": prod.read_text()}
    )
    assert _people(g) == _people(expected) and _people(g)
    grants = [(x.user, x.target, x.role) for x in g.grants()]
    assert grants == [(x.user, x.target, x.role) for x in expected.grants()] and grants
    with pytest.raises(ag.ValidationError, match="org="):
        ag.Graph.load(members)
    renamed = tmp_path / "members.txt"
    shutil.copyfile(members, renamed)
    forced = ag.Graph.load(renamed, format="posthog", org="acme")
    assert _people(forced) == _people(expected)


def test_arguments_that_do_not_fit_the_format(tmp_path: Path) -> None:
    path = tmp_path / "access.journal"
    small_journal(path)
    snapshot = tmp_path / "acme.json"
    ag.Graph.load(path).save(snapshot)
    with pytest.raises(ag.ValidationError, match="only a Markdown registry or a PostHog"):
        ag.Graph.load(path, org="acme")
    with pytest.raises(ag.ValidationError, match="projects="):
        ag.Graph.load(snapshot, projects={"Prod": snapshot})
    with pytest.raises(ag.ValidationError, match="posthog or journal"):
        ag.Graph.load(snapshot, format="yaml")
    with pytest.raises(ag.ValidationError, match="expected markdown, json or csv"):
        ag.Graph.load(snapshot).save(tmp_path / "x.json", format="journal")
    # A snapshot is not mistaken for an export, nor a missing file for anything.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ag.Graph.load(snapshot).to_json() == snapshot.read_text()
    with pytest.raises(FileNotFoundError):
        ag.Graph.load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "accessgraph", "version": 1, "x": ' + "[" * 3000 + "]" * 3000 + "}",
        '{"format": "accessgraph", "version": 1, "orgs": ' + "[" * 3000 + "]" * 3000 + "}",
        "[" * 3000 + "]" * 3000,
    ],
)
def test_json_nested_too_deep_for_python_is_a_registry_format_error_naming_the_file(
    tmp_path: Path, text: str
) -> None:
    # Telling a PostHog export from a snapshot parsed the file with json.loads, whose
    # RecursionError escaped; the document is read by the core, which reports where —
    # in the document; `load` adds which file, as the command line does.
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.load(path)
    with pytest.raises(ag.RegistryFormatError) as direct:
        ag.Graph.from_json(text)
    assert str(info.value) == f"{path}: {direct.value}"
    assert info.value.path is not None and info.value.path.startswith("$")
    assert info.value.path == direct.value.path
    assert (info.value.line, info.value.column) == (None, None)


def test_a_json_snapshot_that_does_not_fit_names_the_file_and_the_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "accessgraph", "version": 1, "orgs": [{"slug": 5}]}')
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.load(str(path))
    assert str(info.value).startswith(f"{path}: $.orgs[0].slug: invalid type: integer `5`")
    assert info.value.path == "$.orgs[0].slug"


@pytest.mark.parametrize(
    ("name", "data", "line", "column", "byte"),
    [
        (
            "bad.md",
            b"# X Access Registry\n## Owners\n- o@example.com\n"
            b"## Members\n- a@example.com (T\xff)\n",
            5,
            19,
            75,
        ),
        ("bad.md", b"# \xc3\xa9\r\n\xfe", 2, 1, 6),
        ("bad.json", b'{"format": "accessgraph",\n "version": \x81}', 2, 13, 38),
        ("bad.csv", b"user,org,org_role\nb\xc3\xa9\xff@example.com,acme,member\n", 2, 3, 21),
    ],
)
def test_a_file_that_is_not_utf8_is_a_registry_format_error_naming_the_place(
    tmp_path: Path, name: str, data: bytes, line: int, column: int, byte: int
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.load(path)
    assert (info.value.line, info.value.column) == (line, column)
    message = str(info.value)
    assert message.startswith(f"line {line}, column {column}: `{path}` is not UTF-8 text (")
    assert f"at byte {byte})" in message


def test_a_registry_imported_or_tried_that_is_not_utf8_names_the_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(b"# Acme Access Registry\n## Owners\n- j\xffane@example.com\n")
    g = ag.Graph()
    g.add_org("acme", owner="jane@example.com")
    with pytest.raises(ag.RegistryFormatError, match=r"^line 3, column 4: `.*bad.md` is not UTF-8"):
        g.import_registry(path, org="acme")
    with pytest.raises(ag.RegistryFormatError, match="is not UTF-8 text"):
        g.what_if(path)


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("bad.md", "# Acme Access Registry\n## Owners\n- not-an-email\n", 3),
        (
            "bad.csv",
            "user,org,org_role,project,project_role,source,expires,reason\n"
            "nobody,acme,member,,,,,\n",
            2,
        ),
    ],
)
def test_a_document_that_does_not_parse_names_its_file_and_line(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    # Only a JSON snapshot's errors named the file: a Markdown or CSV one said
    # "line 3, column 3: ..." and left the reader to guess which of the files it was.
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ag.RegistryFormatError) as info:
        ag.Graph.load(path)
    assert str(info.value).startswith(f"{path}: line {line}, column "), info.value
    assert info.value.line == line
    if name.endswith(".md"):
        g = ag.Graph()
        g.add_org("acme", owner="jane@example.com")
        with pytest.raises(ag.RegistryFormatError) as imported:
            g.import_registry(path, org="acme")
        assert str(imported.value) == str(info.value)
        assert g.members("acme")[0].user == "jane@example.com"
