"""`ocsrun init`, `ocsrun new` and `ocsrun schema --output` (issue 13.3, 13.5): the schema where
the user's editor finds it, and new files that validate with a schema line that resolves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_main

from ocsrun.runbook import layout
from ocsrun.runbook.loader import load_document
from ocsrun.runbook.validation import validate_paths

SCHEMA = ROOT / "schemas" / "runbook.schema.json"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def schema_line_target(file: Path) -> Path:
    first = file.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    return (file.parent / first.split("=", 1)[1]).resolve()


def test_init_writes_the_schema_and_the_editor_mapping(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = workspace / ".vscode" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"editor.tabSize": 2}', encoding="utf-8")
    code, out, _ = run_main(capsys, "init")
    assert code == 0
    assert (workspace / "schemas" / "runbook.schema.json").read_bytes() == SCHEMA.read_bytes()
    assert json.loads(settings.read_text(encoding="utf-8")) == {
        "editor.tabSize": 2,
        "yaml.schemas": {"./schemas/runbook.schema.json": ["runbooks/**/*.yaml"]},
    }
    assert (workspace / "runbooks").is_dir()
    assert "runbooks/**/*.yaml" in out
    # Again, for another directory: both globs, nothing duplicated.
    assert run_main(capsys, "init", "procedures")[0] == 0
    assert run_main(capsys, "init")[0] == 0
    mapping = json.loads(settings.read_text(encoding="utf-8"))["yaml.schemas"]
    assert mapping == {
        "./schemas/runbook.schema.json": ["runbooks/**/*.yaml", "procedures/**/*.yaml"]
    }


def test_init_leaves_a_settings_file_with_comments_alone(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = workspace / ".vscode" / "settings.json"
    settings.parent.mkdir()
    text = '{\n  // mine\n  "editor.tabSize": 2\n}\n'
    settings.write_text(text, encoding="utf-8")
    code, _, err = run_main(capsys, "init")
    assert code == 2
    assert "not plain JSON" in err and '"yaml.schemas"' in err
    assert settings.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("kind", ["runbook", "fragment"])
def test_new_writes_a_skeleton_that_validates_and_is_canonical(
    workspace: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    assert run_main(capsys, "init")[0] == 0
    target = workspace / "runbooks" / "web" / "restart-web-tier.yaml"
    code, out, err = run_main(
        capsys, "new", "example.restart-web-tier", "--kind", kind, "-o", str(target)
    )
    assert (code, err) == (0, "")
    assert out == f"wrote {target}\n"
    assert schema_line_target(target) == (workspace / "schemas" / "runbook.schema.json")
    assert [d for r in validate_paths([str(target)]) for d in r.diagnostics] == []
    document = load_document(target)
    assert document.data["kind"] == kind
    assert document.data["metadata"]["id"] == "example.restart-web-tier"
    assert layout.is_canonical(document)


def test_new_from_a_runbook_copies_it_with_the_new_id(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ROOT / "tests" / "data" / "runbooks" / "valid" / "foreach.yaml"
    (workspace / "fragments").mkdir()
    (workspace / "fragments" / "wizard.yaml").write_bytes(
        (source.parent / "fragments" / "wizard.yaml").read_bytes()
    )
    code, out, err = run_main(capsys, "new", "test.copy", "--from", str(source))
    assert code == 0, err
    copy = workspace / "copy.yaml"
    assert out == "wrote copy.yaml\n"
    assert "run `ocsrun init`" in err  # no schemas/ above it: said, not failed
    text, original = copy.read_text(encoding="utf-8"), source.read_text(encoding="utf-8")
    assert "  id: test.copy\n" in text
    assert text.splitlines()[1:] == [
        line.replace("id: test.foreach", "id: test.copy") for line in original.splitlines()[1:]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new", "Bad_Id"], "is not a runbook id"),
        (["new", "x.exists", "-o", "exists.yaml"], "already exists"),
        (["new", "x.y", "--from", "no-such.yaml"], "no such runbook file"),
        (
            ["new", "x.y", "--from", "ocs2007.deactivate-edge-server", "--kind", "fragment"],
            "--kind",
        ),
    ],
)
def test_new_usage_errors(
    workspace: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (workspace / "exists.yaml").write_text("keep", encoding="utf-8")
    code, _, err = run_main(capsys, *args)
    assert code == 2
    assert message in err
    assert (workspace / "exists.yaml").read_text(encoding="utf-8") == "keep"


def test_schema_output_writes_the_schema(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = workspace / "deep" / "dir" / "runbook.schema.json"
    code, out, _ = run_main(capsys, "schema", "--output", str(target))
    assert (code, out) == (0, f"wrote {target}\n")
    assert target.read_bytes() == SCHEMA.read_bytes()
    code, out, _ = run_main(capsys, "schema")
    assert code == 0 and json.loads(out)["$id"]
