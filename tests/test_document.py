"""The editable round-trip document (`api.load_document`, issue 13.1): a no-op load and save is
byte-identical, each edit validates like `ocsrun validate` and diffs as the edit it was, and
comments outside the edited step survive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun import api
from ocsrun.errors import DocumentError, LoadError
from ocsrun.review.diff import Kind, diff_runbooks
from ocsrun.runbook.build import load_runbook

BUNDLED = ROOT / "runbooks"
VALID = ROOT / "tests" / "data" / "runbooks" / "valid"
CORPUS = sorted([*BUNDLED.rglob("*.yaml"), *VALID.rglob("*.yaml")])
SE_EE = "ocs2007/deactivate-se-ee-roles.yaml"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the bundled runbooks, so edits can be saved next to their fragments."""
    shutil.copytree(BUNDLED, tmp_path / "runbooks")
    return tmp_path / "runbooks"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_op_round_trip_is_byte_identical(path: Path, tmp_path: Path) -> None:
    document = api.load_document(path)
    original = path.read_bytes()
    # ruamel.yaml's own output, not a shortcut that hands back the original text:
    assert document.dump().encode("utf-8") == original
    saved = document.save(tmp_path / path.name)
    assert saved.read_bytes() == original


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def edited(tree: Path, edit: str) -> tuple[list[api.Finding], list[tuple[Kind, str]], str]:
    """Apply one edit to a copy of the SE/EE runbook; (findings, diff kinds, saved text)."""
    path = tree / SE_EE
    before = load_runbook(path)
    document = api.load_document(path)
    if edit == "set-title":
        document.set("backup", "title", "Back up the databases, then check the backup")
    elif edit == "set-yaml11-string":
        document.set("backup", "title", "yes")
    elif edit == "make-skippable":
        document.set("open-computer-management", "required", False)
    elif edit == "insert":
        new = {"id": "tell-users", "title": "Tell the users", "instructions": "Send the e-mail."}
        assert document.insert_step("backup", new) == "tell-users"
    elif edit == "insert-nested":
        new = {"id": "note-role", "title": "Note the role", "instructions": "Write it down."}
        path_in_loop = document.insert_step(None, new, into="deactivate-roles")
        assert path_in_loop == "deactivate-roles.note-role"
    elif edit == "remove":
        removed = document.remove_step("open-computer-management")
        assert removed["id"] == "open-computer-management"
    elif edit == "remove-gate":
        assert "gate" in document.remove_step("sessions-completed")
    elif edit == "move":
        moved = document.move_step("open-computer-management", after="stop-services")
        assert moved == "open-computer-management"
    elif edit == "move-later":
        assert document.move_step("stop-services", after="services-stopped-command")
    findings = document.validate()
    document.save()
    after = load_runbook(path)
    kinds = [(change.kind, change.path) for change in diff_runbooks(before, after)]
    return findings, kinds, path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("set-title", [(Kind.WORDING_CHANGED, "backup")]),
        ("set-yaml11-string", [(Kind.WORDING_CHANGED, "backup")]),
        ("make-skippable", [(Kind.STEP_MADE_SKIPPABLE, "open-computer-management")]),
        ("insert", [(Kind.STEP_ADDED, "tell-users")]),
        ("insert-nested", [(Kind.STEP_ADDED, "deactivate-roles.note-role")]),
        ("remove", [(Kind.STEP_REMOVED, "open-computer-management")]),
        ("remove-gate", [(Kind.GATE_REMOVED, "sessions-completed")]),
        # Now ahead of the services-stopped check: the diff says so.
        ("move", [(Kind.STEP_MOVED_BEFORE_GATE, "open-computer-management")]),
        ("move-later", [(Kind.STEP_MOVED, "stop-services")]),
    ],
)
def test_each_edit_validates_and_diffs_as_the_edit_it_was(
    tree: Path, edit: str, expected: list[tuple[Kind, str]]
) -> None:
    original = (tree / SE_EE).read_text(encoding="utf-8")
    findings, kinds, saved = edited(tree, edit)
    assert findings == []
    assert api.validate(tree / SE_EE) == []
    if edit.startswith("move"):
        # A move changes the order of the steps it passes too; every change is a move, and
        # the moved step's is the one expected.
        assert set(expected) <= set(kinds)
        assert {kind for kind, _ in kinds} <= {Kind.STEP_MOVED, Kind.STEP_MOVED_BEFORE_GATE}
    else:
        assert [k for k in kinds if k[0] is not Kind.WARNING_REMOVED] == expected
    # Every comment of the file is still there (the edited steps carry none).
    assert comment_lines(saved) == comment_lines(original)
    if edit == "set-yaml11-string":
        assert 'title: "yes"' in saved  # plain, YAML 1.1 tools would read the boolean true


def test_an_edit_that_breaks_a_reference_is_found(tree: Path) -> None:
    document = api.load_document(tree / SE_EE)
    document.remove_step("stop-services")  # a discrepancy names it
    found = document.validate()
    assert [(f.rule, f.line) for f in found] == [("discrepancy-step", 68)]


def test_validate_reports_what_ocsrun_validate_reports(tree: Path) -> None:
    path = tree / SE_EE
    document = api.load_document(path)
    document.set("backup", "title", None)
    document.set("off-peak", "when", "nosuch == 'x'")
    found = document.validate()
    assert [f.rule for f in found] == ["schema", "unknown-name"]
    document.save()
    assert api.validate(path) == found


def test_an_unsaved_document_leaves_the_file_alone(tree: Path) -> None:
    path = tree / SE_EE
    before = path.read_bytes()
    document = api.load_document(path)
    document.remove_step("backup")
    assert "id: backup\n" not in document.text()
    assert path.read_bytes() == before


def test_step_paths_are_the_journal_paths() -> None:
    document = api.load_document(BUNDLED / SE_EE)
    paths = document.step_paths()
    assert "deactivate-roles.wizard" in paths
    # A for-each item in brackets names the same step for every item.
    assert document.get("deactivate-roles[front-end].wizard")["uses"].startswith("fragments/")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: d.get("nowhere"), "no step 'nowhere'"),
        (lambda d: d.get("deactivate-roles.wizard.check-log"), "calls the fragment"),
        (lambda d: d.set("backup.deeper", "title", "x"), "has no nested steps"),
        (lambda d: d.insert_step("backup", {"title": "no id"}), "mapping with a string `id`"),
        (lambda d: d.move_step("deactivate-roles", "deactivate-roles.wizard"), "into itself"),
        (lambda d: d.insert_step(None, {"id": "x"}, into="backup"), "not a for_each step"),
    ],
)
def test_edits_that_cannot_be_made_are_document_errors(call: object, message: str) -> None:
    document = api.load_document(BUNDLED / SE_EE)
    with pytest.raises(DocumentError, match=message):
        call(document)  # type: ignore[operator]
    assert document.text() == (BUNDLED / SE_EE).read_text(encoding="utf-8")


def test_a_file_the_validator_cannot_read_is_a_load_error(tmp_path: Path) -> None:
    hostile = tmp_path / "anchors.yaml"
    hostile.write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        api.load_document(hostile)
    assert caught.value.rule == "yaml-alias"


def test_other_indentation_styles_round_trip(tmp_path: Path) -> None:
    text = (
        "format: ocsrun/v1\nkind: runbook\nmetadata:\n    id: t.x\n    title: T\n"
        "    version: 1.0.0\nsteps:\n- id: a  # first\n  title: A\n\n- id: b\n  title: 'B'\n"
    )
    path = tmp_path / "flat.yaml"
    path.write_text(text, encoding="utf-8")
    document = api.load_document(path)
    assert document.dump() == text
    document.set("a", "title", "A2")
    assert document.text() == text.replace("title: A\n", "title: A2\n")
