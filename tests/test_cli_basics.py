"""The CLI's front door: version, help, schema, list, error mapping."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_main

from ocsrun import __version__
from ocsrun.cli import COMMANDS


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--version")
    assert code == 0
    assert out.strip() == f"ocsrun {__version__}"


def test_help_lists_every_available_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--help")
    assert code == 0
    for name in ("validate", "list", "schema"):
        assert name in out


@pytest.mark.parametrize("columns", ["80", "200", "60", "40"])
def test_fast_help_is_clicks_help(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ocsrun --help` is written without click; it must be the page click would write."""
    import click

    from ocsrun.cli import help_text
    from ocsrun.cli.group import cli

    monkeypatch.setenv("COLUMNS", columns)
    ours = help_text()
    with click.Context(cli, info_name="ocsrun", **cli.context_settings) as context:
        theirs = cli.get_help(context) + "\n"
    if ours is None:  # a narrow terminal: click wraps, so click writes it
        assert int(columns) < 80
    else:
        assert ours == theirs
    assert columns != "80" or ours is not None


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_import_nothing_heavy(argv: list[str]) -> None:
    probe = (
        "import sys\nfrom ocsrun.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
        "heavy = ('click', 'jsonschema', 'jsonschema_rs', 'jinja2', 'yaml', 'dataclasses')\n"
        "print(code, [m for m in heavy if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "80"},
    )
    assert done.stderr.strip() == "0 []"
    assert done.stdout.startswith("ocsrun " if argv == ["--version"] else "Usage: ocsrun")


def test_version_with_other_arguments_goes_to_click(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--version", "validate")
    assert code == 0
    assert out.strip() == f"ocsrun {__version__}"


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "no-such-command")
    assert code == 2
    assert "No such command" in err
    assert "Traceback" not in err


def test_schema_prints_the_2020_12_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("https://")


def test_list_shows_the_five_bundled_runbooks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "list", "--format", "json")
    assert code == 0
    ids = {row["id"] for row in json.loads(out)}
    assert ids == {
        "ocs2007.services-start-stop",
        "ocs2007.deactivate-se-ee-roles",
        "ocs2007.deactivate-mediation-server",
        "ocs2007.deactivate-archiving-cdr-server",
        "ocs2007.deactivate-edge-server",
    }
    assert all(row["section"] for row in json.loads(out))


def test_list_text_names_source_sections(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "list")
    assert code == 0
    assert "source: Deactivating a Mediation Server" in out


def test_every_registered_command_module_exists() -> None:
    import importlib.util

    missing = [
        name
        for name, (module, _, _) in COMMANDS.items()
        if importlib.util.find_spec(module) is None
    ]
    assert missing == []


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ocsrun", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"ocsrun {__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("ocsrun")
    if not script.exists():
        found = shutil.which("ocsrun")
        assert found is not None, "install the project (pip install -e '.[dev]') first"
        script = Path(found)
    done = subprocess.run(
        [str(script), "validate", "runbooks"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


INVALID = ROOT / "tests" / "data" / "runbooks" / "invalid"


def test_validate_jobs_output_is_identical_to_serial(capsys: pytest.CaptureFixture[str]) -> None:
    serial = run_main(capsys, "validate", str(INVALID))
    parallel = run_main(capsys, "validate", "--jobs", "2", str(INVALID))
    assert serial[0] == parallel[0] == 1
    assert serial[1] == parallel[1]
    assert serial[1].count("\n") > 50


def test_validate_sarif_is_valid_sarif_2_1_0(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    code, out, _ = run_main(capsys, "validate", "--format", "sarif", str(INVALID))
    assert code == 1
    log = json.loads(out)
    schema = json.loads((ROOT / "tests" / "data" / "sarif" / "sarif-2.1.0.schema.json").read_text())
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    assert results and all(r["ruleId"] for r in results)


def test_validate_github_annotations_are_capped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "validate", "--format", "github", str(INVALID))
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::error file=")]
    assert len(errors) == 9  # GitHub's 10 per level, the "more not shown" line included
    more = [line for line in out.splitlines() if line.startswith("::error::")]
    assert len(more) == 1 and "more" in more[0]
