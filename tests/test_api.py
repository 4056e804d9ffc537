"""The public API (ocsrun.api, docs/api.md): what it promises and what importing it costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT, cli_env, run_main

from ocsrun import api
from ocsrun.errors import RunbookInvalid, RunbookNotFound, UsageError

INVALID = DATA / "runbooks" / "invalid"
ANSWERS = ROOT / "examples" / "rehearsals"


def test_load_gives_the_frozen_model_by_path_or_bundled_id() -> None:
    by_id = api.load("ocs2007.deactivate-edge-server")
    by_path = api.load(ROOT / "runbooks" / "ocs2007" / "deactivate-edge-server.yaml")
    assert (by_id.metadata, by_id.steps) == (by_path.metadata, by_path.steps)
    assert by_id.metadata.id == "ocs2007.deactivate-edge-server"
    with pytest.raises(AttributeError):
        by_id.metadata.id = "changed"  # type: ignore[misc]


def test_load_refuses_invalid_and_missing_runbooks() -> None:
    invalid = sorted(INVALID.glob("*.yaml"))[0]
    with pytest.raises(RunbookInvalid) as info:
        api.load(invalid)
    assert info.value.diagnostics
    with pytest.raises(RunbookNotFound):
        api.load("no-such-runbook-id")


def test_validate_gives_the_cli_findings_with_positions_and_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    findings = api.validate([INVALID])
    assert findings and all(f.line > 0 and f.rule for f in findings)
    assert {f.severity for f in findings} <= {"error", "warning", "info"}
    code, out, _ = run_main(capsys, "validate", str(INVALID))
    assert code == 1
    assert sorted(out.splitlines()[:-1]) == sorted(str(f) for f in findings)
    assert api.validate(ROOT / "runbooks") == []
    with pytest.raises(UsageError):
        api.validate("no/such/dir")


def test_open_store_and_run_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    store = api.open_store(state)
    assert api.list_runs(store).total == 0
    code, _, _ = run_main(
        capsys,
        "rehearse",
        "ocs2007.deactivate-edge-server",
        "--answers",
        str(ANSWERS / "deactivate-edge-server.yaml"),
        "--state-dir",
        str(state),
    )
    assert code == 0
    page = api.list_runs(store, api.RunFilter(runbook="ocs2007.deactivate-edge-server"))
    assert page.total == 1 and page.runs[0].status == "finished"
    run_id = page.runs[0].info.run_id
    timeline = api.load_timeline(store, run_id)
    assert api.report_markdown(timeline).startswith("# Rehearsal record: ")
    assert api.report_data(timeline)["status"] == "finished"
    assert api.verify_run(store, run_id).ok


HEAVY = ("yaml", "jsonschema", "jinja2", "starlette", "uvicorn", "psycopg")


def _loaded_after(code: str, tmp_path: Path) -> list[str]:
    """The modules of HEAVY (and ocsrun.api) a fresh interpreter has imported after `code`."""
    watched = [*HEAVY, "ocsrun.api"]
    probe = f"{code}\nimport sys\nprint('loaded:', *(m for m in {watched!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1].split()
    assert last[0] == "loaded:", done.stdout
    return last[1:]


def test_version_imports_neither_the_api_nor_its_dependencies(tmp_path: Path) -> None:
    code = (
        "from ocsrun.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as done:\n    assert done.code == 0"
    )
    assert _loaded_after(code, tmp_path) == []
    assert _loaded_after("import ocsrun", tmp_path) == []


def test_importing_the_api_is_cheap(tmp_path: Path) -> None:
    assert _loaded_after("import ocsrun.api", tmp_path) == ["ocsrun.api"]
