"""Shared fixtures: paths into the repository and a CLI runner that uses main()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
RUNBOOKS = ROOT / "runbooks"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may write run state into the checkout or see a developer's runs.
    monkeypatch.setenv("OCSRUN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CI_FORCE_COLOR", raising=False)


def repo_env() -> dict[str, str]:
    """Environment for subprocesses of the installed console script."""
    env = dict(os.environ)
    env.setdefault("NO_COLOR", "1")
    return env
