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
    assert len(errors) == 10
    assert any(line.startswith("::error::") and "more" in line for line in out.splitlines())
