"""Shared test helpers: paths into the repository, the CLI runners (in this process and as a
`python -m ocsrun` child) and the journal reader. Test modules import these instead of
writing their own."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

    Every call also holds the CLI to its promises: no traceback, a documented exit code, at
    most one error line.
    """
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    raw = exit_info.value.code
    code = raw if isinstance(raw, int) else 0
    assert "Traceback (most recent call last)" not in out + err, out + err
    assert code in DOCUMENTED_EXIT_CODES, (code, out, err)
    errors = [line for line in err.splitlines() if line.startswith("ocsrun")]
    assert len(errors) <= 1, f"{argv}: more than one error line\n{err}"
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


def pg_schema_at(url: str, version: int) -> None:
    """The ocsrun schema as an older ocsrun left it: its first `version` migrations only."""
    import psycopg

    from ocsrun.store import pg_migrations

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ocsrun")
        conn.execute(
            "CREATE TABLE ocsrun.schema_migrations (version integer PRIMARY KEY,"
            " title text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in pg_migrations.MIGRATIONS[:version]:
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO ocsrun.schema_migrations (version, title) VALUES (%s, %s)",
                (migration.version, migration.title),
            )


def insert_old_run_row(conn: Any, info: Any) -> None:
    """A run record's row as ocsrun wrote it before migration 3 (no list columns)."""
    conn.execute(
        "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info)"
        " VALUES (%s, %s, %s, %s, %s::jsonb)",
        (
            info.run_id,
            info.runbook_id,
            info.target,
            info.started,
            json.dumps(dataclasses.asdict(info)),
        ),
    )


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """`run_main` with stdout and stderr together, as an operator reads them."""
    code, out, err = run_main(capsys, *argv)
    return code, out + err


def run_child(
    state: Path, *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m ocsrun ARGS` in a child process: no stdin, `cli_env(state)`, output kept."""
    return subprocess.run(
        [sys.executable, "-m", "ocsrun", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(state),
        timeout=timeout,
        check=False,
    )


def journal_path(state: Path, run_id: str | None = None) -> Path:
    """The local store's journal file of RUN_ID, or of the only run in STATE."""
    if run_id is not None:
        return state / "runs" / run_id / "journal.jsonl"
    (found,) = (state / "runs").glob("*/journal.jsonl")
    return found


def journal_records(state: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    """The journal's records as written on disk, in order (a torn last line is left out:
    the store sets it aside). Reads the file itself, so a test sees exactly what was stored."""
    out = []
    for line in journal_path(state, run_id).read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def free_port() -> int:
    """A TCP port nothing listens on now (the server binds it a moment later)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(
    state: Path, *args: str, host: str = "127.0.0.1", store: str | None = None
) -> Iterator[str]:
    """`ocsrun serve` over STATE (or over STORE, a URL) in a child process; yields its base
    URL once it answers."""
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    where = ["--store", store] if store else ["--state-dir", str(state)]
    argv = ["serve", *where, "--host", host, "--port", str(port), *args]
    child = subprocess.Popen(
        [sys.executable, "-m", "ocsrun", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(state),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # until it answers (any status: a token-guarded server says 401)
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            try:
                urllib.request.urlopen(f"{url}/static/app.js", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline, "ocsrun serve never answered"
                time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stderr:
            child.stderr.close()
