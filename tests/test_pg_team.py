"""Team mode with real processes against a real server: races, crashes, hand-over, lost sessions.

Two workstations are simulated by environment: each process names its host with OCSRUN_HOST
and its user with LOGNAME/USER, as two operators on two machines would appear. The runbook
tests/data/team/hold.yaml holds its lock inside a command gate until the test creates a
release file, so "who holds the lock" is decided by the processes, never by a sleep.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import DATA, cli_env

from ocsrun.store.postgres import PostgresStore, lock_key

TEAM = DATA / "team"
RUNBOOK = TEAM / "hold.yaml"
ANSWERS = TEAM / "answers.yaml"
WORKSTATIONS = (("ws1.contoso.com", "alice"), ("ws2.contoso.com", "bob"))


def workstation_env(tmp_path: Path, host: str, user: str) -> dict[str, str]:
    env = cli_env(tmp_path / f"state-{user}")
    env.update(OCSRUN_HOST=host, LOGNAME=user, USER=user)
    return env


def params(tmp_path: Path, name: str = "") -> list[str]:
    return [
        "--param",
        f"ran={tmp_path / f'ran{name}'}",
        "--param",
        f"release={tmp_path / f'release{name}'}",
    ]


def start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ocsrun", *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    """Wait for a condition a process brings about (a bound against hangs, not a timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def records(url: str, run_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT line FROM ocsrun.journal WHERE run_id = %s ORDER BY seq", (run_id,)
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


def run_ids(url: str) -> list[str]:
    store = PostgresStore(url)
    try:
        return [s.info.run_id for s in store.list_runs()]
    finally:
        store.close()


def verified(url: str, run_id: str) -> bool:
    store = PostgresStore(url)
    try:
        return store.verify(run_id).ok
    finally:
        store.close()


@pytest.fixture
def store_url(pg_url: str) -> Iterator[str]:
    store = PostgresStore(pg_url)
    store.migrate()
    store.close()
    yield pg_url


# --- 10 processes, two workstations, one target, 20 rounds ------------------------------------


def contender(
    url: str, tmp: str, workstation: tuple[str, str], round_: int, sync: tuple[Barrier, Any]
) -> None:
    # A forked child: it becomes a process of workstation `host`, then starts the run.
    host, user = workstation
    gate, results = sync
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (until os._exit)
    os.environ.update(OCSRUN_HOST=host, LOGNAME=user, USER=user)
    from ocsrun.errors import OcsrunError, exit_code_for
    from ocsrun.run.session import RunOptions, start
    from ocsrun.store import journal

    journal.operator_id.cache_clear()
    options = RunOptions(
        runbook=str(RUNBOOK),
        target="POOL01.contoso.com" if user == "alice" else "pool01.contoso.com.",
        params=(f"ran={tmp}/ran{round_}", f"release={tmp}/release{round_}"),
        answers=ANSWERS,
        store=url,
    )
    gate.wait(60)
    try:
        code, message = start(options), ""
    except OcsrunError as error:
        code, message = exit_code_for(error), str(error)
    results.put((host, code, message))
    results.close()
    results.join_thread()  # the queue's feeder thread must finish before os._exit
    os._exit(0)


def test_ten_processes_two_workstations_one_target_exactly_one_runs(
    store_url: str, tmp_path: Path
) -> None:
    from ocsrun.run import executor, session, terminal  # noqa: F401  (imported once, here)
    from ocsrun.runbook.build import load_runbook

    load_runbook(RUNBOOK)  # the forked children inherit the loaded modules and caches
    ctx = multiprocessing.get_context("fork")
    for round_ in range(20):
        gate, results = ctx.Barrier(10), ctx.Queue()
        procs = [
            ctx.Process(
                target=contender,
                args=(store_url, str(tmp_path), WORKSTATIONS[n % 2], round_, (gate, results)),
            )
            for n in range(10)
        ]
        for proc in procs:
            proc.start()
        losers = [results.get(timeout=120) for _ in range(9)]
        # Nine have given up while the winner is still inside its wait gate; let it finish.
        (tmp_path / f"release{round_}").touch()
        winner = results.get(timeout=120)
        for proc in procs:
            proc.join(60)
        assert [p.exitcode for p in procs] == [0] * 10
        assert winner[1] == 0, (round_, winner, losers)
        assert [code for _, code, _ in losers] == [3] * 9, (round_, losers)
        assert (tmp_path / f"ran{round_}").read_text() == "ran\n"  # the gate ran once
        ids = run_ids(store_url)
        assert len(ids) == round_ + 1
        newest = ids[0]
        for _host, _code, message in losers:
            assert newest in message and winner[0] in message, message
        assert verified(store_url, newest)
        assert records(store_url, newest)[-1]["type"] == "run.finished"


# --- kill -9 of the holder, hand-over to the other workstation --------------------------------


def holder_run(
    url: str, tmp_path: Path, runbook: Path = RUNBOOK
) -> tuple[subprocess.Popen[str], str]:
    """A run on ws1 that has entered its wait gate (so it holds the lock): (process, run id)."""
    env = workstation_env(tmp_path, *WORKSTATIONS[0])
    argv = ["run", str(runbook), "--target", "pool01", "--answers", str(ANSWERS)]
    child = start([*argv, *params(tmp_path), "--store", url], env, tmp_path)
    wait_for(lambda: (tmp_path / "ran").exists() or child.poll() is not None, "the wait gate")
    assert child.poll() is None, child.communicate()
    [run_id] = run_ids(url)
    return child, run_id


def lock_released(url: str) -> bool:
    store = PostgresStore(url)
    try:
        return store.lock_holder(lock_key("test.team.hold", "pool01"), attempts=1) is None
    finally:
        store.close()


def test_kill_9_of_the_holder_then_the_other_workstation_resumes(
    store_url: str, tmp_path: Path
) -> None:
    # The runbook exists only on ws1: ws2 resumes from the copy kept with the run.
    ws1_runbook = tmp_path / "ws1-only" / "hold.yaml"
    ws1_runbook.parent.mkdir()
    ws1_runbook.write_bytes(RUNBOOK.read_bytes())
    child, run_id = holder_run(store_url, tmp_path, ws1_runbook)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    ws1_runbook.unlink()
    before = records(store_url, run_id)
    assert before[-1]["type"] == "step.started" and before[-1]["data"]["step"] == "wait"
    wait_for(lambda: lock_released(store_url), "the server to drop the dead session's lock")
    (tmp_path / "release").touch()
    bob = workstation_env(tmp_path, *WORKSTATIONS[1])
    argv = ["resume", run_id, "--store", store_url, "--answers", str(ANSWERS)]
    resumed = start(argv, bob, tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    after = records(store_url, run_id)
    assert after[: len(before)] == before  # nothing recorded was lost or changed
    [handed] = [r for r in after if r["type"] == "run.handed-over"]
    assert handed["data"] == {"from": "alice@ws1.contoso.com", "to": "bob@ws2.contoso.com"}
    assert handed["operator"] == "bob@ws2.contoso.com"
    assert after[-1]["type"] == "run.finished"
    assert verified(store_url, run_id)
    report = subprocess.run(
        [sys.executable, "-m", "ocsrun", "runs", "report", run_id, "--store", store_url],
        env=bob,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert "handed over from alice@ws1.contoso.com to bob@ws2.contoso.com" in report.stdout


# --- the server ends the session mid-run ---------------------------------------------------


def test_server_terminating_the_session_stops_the_run_and_resume_continues(
    store_url: str, tmp_path: Path
) -> None:
    child, run_id = holder_run(store_url, tmp_path)
    before = records(store_url, run_id)
    with psycopg.connect(store_url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'ocsrun' AND datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    assert ended == [(True,)]
    (tmp_path / "release").touch()  # the gate passes; its record cannot be written
    out, err = child.communicate(timeout=120)
    assert child.returncode == 1, out + err
    assert "Traceback" not in err
    assert "lost the connection to the run store" in err
    assert f"ocsrun resume {run_id} --store" in err
    assert "Three" not in out  # stopped before the next step was shown
    assert records(store_url, run_id) == before  # everything acknowledged is there
    assert verified(store_url, run_id)
    env = workstation_env(tmp_path, *WORKSTATIONS[0])
    argv = ["resume", run_id, "--store", store_url, "--answers", str(ANSWERS)]
    resumed = start(argv, env, tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    after = records(store_url, run_id)
    assert after[-1]["type"] == "run.finished"
    assert not [r for r in after if r["type"] == "run.handed-over"]  # same operator
    assert verified(store_url, run_id)


# --- two resumes of one run ----------------------------------------------------------------


def test_two_resumes_of_one_run_exactly_one_proceeds(store_url: str, tmp_path: Path) -> None:
    child, run_id = holder_run(store_url, tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    wait_for(lambda: lock_released(store_url), "the server to drop the dead session's lock")
    (tmp_path / "ran").unlink()
    resumes = [
        start(
            ["resume", run_id, "--store", store_url, "--answers", str(ANSWERS)],
            workstation_env(tmp_path, host, user),
            tmp_path,
        )
        for host, user in WORKSTATIONS
    ]
    # The winner waits in its gate until the loser has given up.
    loser = None
    wait_for(lambda: any(r.poll() is not None for r in resumes), "one resume to give up")
    [loser] = [r for r in resumes if r.poll() is not None]
    (tmp_path / "release").touch()
    outputs = [r.communicate(timeout=120) for r in resumes]
    codes = sorted(r.returncode for r in resumes)
    assert codes == [0, 3], outputs
    _out, loser_err = outputs[resumes.index(loser)]
    assert "is locked by run " + run_id in loser_err and "Traceback" not in loser_err
    assert (tmp_path / "ran").read_text() == "ran\n"  # the side effect happened once
    after = records(store_url, run_id)
    assert [r["seq"] for r in after] == list(range(1, len(after) + 1))
    assert after[-1]["type"] == "run.finished"
    assert verified(store_url, run_id)


def test_runs_commands_work_on_the_team_store(store_url: str, tmp_path: Path) -> None:
    child, run_id = holder_run(store_url, tmp_path)
    (tmp_path / "release").touch()
    child.communicate(timeout=120)
    env = workstation_env(tmp_path, *WORKSTATIONS[1])
    env["OCSRUN_STORE"] = store_url  # the environment instead of --store
    for argv, expect in (
        (["runs", "list"], run_id),
        (["runs", "show", run_id], "wait"),
        (["runs", "verify", run_id], "chain intact"),
        (["runs", "report", run_id, "--format", "json"], '"run_id"'),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ocsrun", *argv],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0 and expect in done.stdout, (argv, done.stdout, done.stderr)
