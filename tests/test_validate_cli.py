"""`ocsrun validate`: output formats, exit codes, usage errors, start-up cost."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import ROOT, run_main

from ocsrun.cli.validate import validate
from ocsrun.errors import Position
from ocsrun.review import reporters
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.validation import FileResult, expand_paths, validate_paths

RUNBOOKS = ROOT / "tests" / "data" / "runbooks"
VALID = RUNBOOKS / "valid"
INVALID = RUNBOOKS / "invalid"
LINE = r"^[^:]+:\d+:\d+: (error|warning): .+ \[[a-z-]+\]$"


def test_valid_directory_exits_0_with_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "validate", str(VALID))
    assert code == 0
    assert out == "3 files checked: no problems\n"
    assert err == ""


def test_errors_exit_1_one_line_each_sorted(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(INVALID / "duplicate-id.yaml"), str(INVALID / "bad-regex.yaml")]
    code, out, _ = run_main(capsys, "validate", *files)
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "2 files checked: 8 errors in 2 files"
    body = lines[:-1]
    assert len(body) == 8
    assert all(re.match(LINE, line) for line in body)
    assert body[0].startswith(str(INVALID / "bad-regex.yaml") + ":15:14: error: ")
    assert body == sorted(
        body, key=lambda line: (line.split(":")[0], *map(int, line.split(":")[1:3]))
    )


def test_warnings_alone_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "validate", str(INVALID / "unknown-related.yaml"))
    assert code == 0
    assert "warning: related runbook 'test.nowhere'" in out
    assert out.splitlines()[-1] == "1 file checked: 1 warning in 1 file"


def test_related_ids_resolve_across_files_validated_together(tmp_path: Path) -> None:
    # Away from its siblings (and not bundled), the related id is unknown; validated together,
    # or given alone next to them, it resolves.
    shutil.copytree(VALID / "fragments", tmp_path / "fragments")
    away = tmp_path / "foreach.yaml"
    away.write_bytes((VALID / "foreach.yaml").read_bytes())
    alone = validate_paths([str(away)])
    together = validate_paths([str(VALID)])
    beside = validate_paths([str(VALID / "foreach.yaml")])
    assert [d.rule for d in alone[0].diagnostics] == ["unknown-related"]
    assert all(not r.diagnostics for r in together)
    assert [d.rule for r in beside for d in r.diagnostics] == []


def test_json_format_is_the_documented_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(
        capsys, "validate", "--format", "json", str(INVALID / "goto-forward.yaml"), str(VALID)
    )
    assert code == 1
    report = json.loads(out)
    assert report["version"] == 1
    assert [f["path"] for f in report["files"]] == sorted(f["path"] for f in report["files"])
    goto = next(f for f in report["files"] if f["path"].endswith("goto-forward.yaml"))
    assert goto["diagnostics"] == [
        {
            "line": 15,
            "col": 40,
            "severity": "error",
            "message": "goto 'b' jumps forward and would skip steps",
            "rule": "goto-forward",
        }
    ]
    assert report["summary"] == {"files": 4, "errors": 1, "warnings": 0, "files_with_problems": 1}


def test_binary_file_is_an_error_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "validate", str(INVALID / "encoding-nul-bytes.yaml"))
    assert code == 1
    assert ":6:12: error: file contains NUL bytes" in out


@pytest.mark.parametrize("args", [[], ["does/not/exist.yaml"], [str(VALID), "nope"]])
def test_usage_errors_exit_2_with_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "validate", *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("ocsrun validate: ")


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_main(capsys, "validate", "--format", "xml", str(VALID))
    assert code == 2


def test_expand_paths_recurses_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "sub/c.yaml", ".hidden/d.yaml", "notes.txt", "sub/.e.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in expand_paths([str(tmp_path)])]
    assert found == ["a.yml", "b.yaml", "sub/c.yaml"]


def test_reporters_summary_wording() -> None:
    def result(path: str, *severities: Severity) -> FileResult:
        diagnostics = tuple(Diagnostic(Position(path, 1, 1), s, "m", "r") for s in severities)
        return FileResult(path, diagnostics, None)

    results = [
        result("a", Severity.ERROR, Severity.ERROR),
        result("b", Severity.WARNING),
        result("c"),
    ]
    assert reporters.summary_line(results) == "3 files checked: 2 errors, 1 warning in 2 files"
    assert reporters.summary_line([result("c")]) == "1 file checked: no problems"


def test_one_registry_gives_the_format_choices_and_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    option = next(p for p in validate.params if p.name == "output_format")
    assert isinstance(option.type, click.Choice)
    assert (
        tuple(option.type.choices)
        == tuple(reporters.REPORTERS)
        == ("text", "json", "github", "sarif")
    )
    results = validate_paths([str(INVALID)])
    for name, reporter in reporters.REPORTERS.items():
        code, out, _ = run_main(capsys, "validate", "--format", name, str(INVALID))
        assert (code, out) == (1, reporter(results)), name


def test_importing_the_command_stays_light() -> None:
    code = (
        "import sys, ocsrun.cli.validate; "
        "print(sorted(m for m in ('jsonschema', 'jinja2', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_a_directory_is_a_usage_error_not_a_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "good.yaml").write_text("a: 1\n", encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.yaml")
    code, out, err = run_main(capsys, "validate", str(tmp_path))
    assert code == 2
    assert out == ""
    assert "is not a regular file" in err


def test_a_file_that_does_not_load_is_reported_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(
        capsys, "validate", "--format", "json", str(INVALID / "tab-indent.yaml")
    )
    assert code == 1
    (entry,) = json.loads(out)["files"]
    assert [(d["line"], d["col"], d["rule"]) for d in entry["diagnostics"]] == [
        (11, 1, "tab-indent")
    ]


@pytest.mark.parametrize(
    ("args", "plain"),
    [
        ([str(VALID)], True),
        ([str(INVALID)], True),
        ([str(INVALID / "bad-regex.yaml"), str(VALID)], True),
        (["--format", "json", str(INVALID)], True),
        (["--format=sarif", str(INVALID)], True),
        ([str(INVALID), "--format", "github"], True),
        (["--jobs", "2", str(INVALID)], True),
        (["-j", "0", str(VALID)], True),
        (["--jobs=1", "--format=text", str(VALID)], True),
        ([str(VALID / "no-such.yaml")], True),  # the command's own usage error
        (["--format", "xml", str(VALID)], False),  # click's usage errors
        (["--jobs", "-1", str(VALID)], False),
        (["--jobs", "x", str(VALID)], False),
        (["--jobs", "+2", str(VALID)], False),  # click reads it as 2
        (["-j2", str(VALID)], False),
        (["--format", "json", "--format", "text", str(VALID)], False),
        (["--", str(VALID)], False),
        (["--help"], False),
        (["--jobs"], False),
        ([], False),
    ],
)
def test_plain_command_lines_are_answered_as_click_answers_them(
    args: list[str], plain: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ocsrun validate ...` without click (ocsrun.cli.validate_run) gives the click command's
    output, error line and exit code, and leaves every other form to click."""
    from ocsrun.cli import validate_run
    from ocsrun.cli.group import main as click_main

    assert (validate_run.parse(args) is not None) == plain
    fast = run_main(capsys, "validate", *args)
    with pytest.raises(SystemExit) as done:
        click_main(["validate", *args])
    out, err = capsys.readouterr()
    assert fast == (done.value.code, out, err)


def test_validating_a_file_imports_no_click() -> None:
    probe = (
        "import sys\nfrom ocsrun.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
        "print(code, 'click' in sys.modules, file=sys.stderr)\n"
    )
    file = str(VALID / sorted(p.name for p in VALID.glob("*.yaml"))[0])
    done = subprocess.run(
        [sys.executable, "-c", probe, "validate", file], capture_output=True, text=True, check=False
    )
    assert done.stdout.endswith(" checked: no problems\n")
    assert done.stderr.strip().splitlines()[-1] == "0 False"
