"""A non-editable install finds the schema and bundled runbooks from anywhere.

The wheel is built offline (no build isolation) into a throwaway target
directory, then run from an unrelated working directory with only that
directory on the path, so the checkout cannot be what answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=build,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return target


def run_installed(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # -P keeps the current directory off sys.path; PYTHONPATH puts the install first.
    env = {**os.environ, "PYTHONPATH": str(site), "OCSRUN_STATE_DIR": str(cwd / "state")}
    return subprocess.run(
        [sys.executable, "-P", "-m", "ocsrun", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )


def test_install_carries_one_copy_of_schema_and_runbooks(installed: Path) -> None:
    schema = installed / "ocsrun" / "_schemas" / "runbook.schema.json"
    assert schema.read_bytes() == (ROOT / "schemas" / "runbook.schema.json").read_bytes()
    shipped = sorted(
        p.relative_to(installed / "ocsrun" / "_runbooks").as_posix()
        for p in (installed / "ocsrun" / "_runbooks").rglob("*.yaml")
    )
    in_repo = sorted(
        p.relative_to(ROOT / "runbooks").as_posix() for p in (ROOT / "runbooks").rglob("*.yaml")
    )
    assert shipped == in_repo


def test_installed_cli_works_from_another_directory(installed: Path, tmp_path: Path) -> None:
    listed = run_installed(installed, tmp_path, "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 5
    assert all(str(installed) in row["path"] for row in rows)

    schema = run_installed(installed, tmp_path, "schema")
    assert schema.returncode == 0
    assert json.loads(schema.stdout)["$id"]

    bundled = installed / "ocsrun" / "_runbooks"
    validated = run_installed(installed, tmp_path, "validate", str(bundled))
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_install_carries_every_module(installed: Path) -> None:
    # A subpackage missing from pyproject's `packages` list installs without error and then
    # fails at import time (ocsrun.runbook.rules once did).
    def modules(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))

    # Every module of the source is installed (a stale build/ in a work tree may add old ones).
    missing = set(modules(ROOT / "ocsrun")) - set(modules(installed / "ocsrun"))
    assert missing == set(), sorted(missing)
