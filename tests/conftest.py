"""Shared fixtures: paths into the repository and a CLI runner that uses main()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocsrun.cli import main

DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4, 130}

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
RUNBOOKS = ROOT / "runbooks"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may write run state into the checkout or see a developer's runs.
    monkeypatch.setenv("OCSRUN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CI_FORCE_COLOR", raising=False)


def cli_env(state: Path, *pythonpath: str) -> dict[str, str]:
    """Environment for a `python -m ocsrun` child: this checkout first on the path, its own
    state dir, no colour, and none of the caller's OCSRUN_*/PYTHON* settings leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCSRUN_", "PYTHON"))}
    path = os.pathsep.join([*pythonpath, str(ROOT)])
    env.update(PYTHONPATH=path, OCSRUN_STATE_DIR=str(state), NO_COLOR="1")
    return env


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The real CLI entry point in this process: (exit code, stdout, stderr).

    Every call also holds the CLI to its promises: no traceback, a documented exit code.
    """
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    raw = exit_info.value.code
    code = raw if isinstance(raw, int) else 0
    assert "Traceback (most recent call last)" not in out + err, out + err
    assert code in DOCUMENTED_EXIT_CODES, (code, out, err)
    return code, out, err
