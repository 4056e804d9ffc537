"""Shared fixtures: paths into the repository and a CLI runner that uses main()."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgcluster import PgCluster, ServerUnavailable

from ocsrun.cli import main

DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4, 130}

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
RUNBOOKS = ROOT / "runbooks"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may write run state into the checkout or see a developer's runs.
    monkeypatch.setenv("OCSRUN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("OCSRUN_STORE", raising=False)
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


# --- a real PostgreSQL server for the team-mode tests ------------------------------------------

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL server for the session (see tests/pgcluster.py).

    Outside CI a machine without the server binaries skips these tests with the reason; in CI
    (CI=true) that is a failure, never a skip: `.ci/run` installs the server package.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    try:
        cluster = PgCluster().start()
    except ServerUnavailable as error:
        _unavailable(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pg_url(pg_server: PgCluster) -> str:
    """A fresh, empty database on the session's server; its libpq URL (superuser, socket)."""
    return pg_server.create_database(f"t{os.getpid()}_{next(_databases)}")
