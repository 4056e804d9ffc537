"""Run locks: one active run per (runbook, target); stale locks; the start-up race."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun.errors import EXIT_LOCKED, LockHeld, exit_code_for
from ocsrun.store import lock
from ocsrun.store.local import LocalDirStore


@pytest.fixture
def store(tmp_path: Path) -> LocalDirStore:
    return LocalDirStore(tmp_path / "state")


def test_lock_file_name_and_content(store: LocalDirStore) -> None:
    held = store.acquire_lock("ocs2007/edge", "edge01", "RUN-1")
    try:
        digest = hashlib.sha256(b"ocs2007/edge\0edge01").hexdigest()[:16]
        assert held.path == store.locks_dir / f"{digest}.lock"
        content = json.loads(held.path.read_bytes())
        assert content == {
            "run_id": "RUN-1",
            "operator": held.info.operator,
            "host": held.info.host,
            "pid": os.getpid(),
            "started": held.info.started,
        }
        assert held.broken is None
    finally:
        held.release()
    assert not held.path.exists()


def test_held_lock_names_the_holder(store: LocalDirStore) -> None:
    held = store.acquire_lock("rb", "t1", "RUN-1")
    try:
        with pytest.raises(LockHeld) as caught:
            store.acquire_lock("rb", "t1", "RUN-2")
        message = str(caught.value)
        assert "RUN-1" in message
        assert held.info.operator in message
        assert held.info.started in message
        assert "--break-lock can take over only a stale lock" in message
        assert exit_code_for(caught.value) == EXIT_LOCKED
    finally:
        held.release()


def test_other_targets_and_runbooks_are_independent(store: LocalDirStore) -> None:
    locks = [
        store.acquire_lock("rb", "t1", "A"),
        store.acquire_lock("rb", "t2", "B"),
        store.acquire_lock("rb2", "t1", "C"),
        store.acquire_lock("rb", None, "D"),
    ]
    assert len({held.path for held in locks}) == 4
    for held in locks:
        held.release()


def test_live_lock_is_never_broken(store: LocalDirStore) -> None:
    held = store.acquire_lock("rb", "t1", "RUN-1")
    before = held.path.read_bytes()
    try:
        with pytest.raises(LockHeld, match="still running"):
            store.acquire_lock("rb", "t1", "RUN-2", break_lock=True)
        assert held.path.read_bytes() == before
        assert not list(store.locks_dir.glob("*.broken"))
    finally:
        held.release()


def test_release_is_idempotent_and_frees_the_lock(store: LocalDirStore) -> None:
    held = store.acquire_lock("rb", "t", "A")
    held.release()
    held.release()
    again = store.acquire_lock("rb", "t", "B")
    assert again.info.run_id == "B"
    again.release()


def test_release_never_removes_a_newer_holders_file(store: LocalDirStore) -> None:
    old = store.acquire_lock("rb", "t", "OLD")
    # Someone moved OLD's file aside and took the lock (as a break would).
    os.replace(old.path, old.path.with_name(old.path.name + ".broken"))
    new = store.acquire_lock("rb", "t", "NEW")
    old.release()
    assert json.loads(new.path.read_bytes())["run_id"] == "NEW"
    new.release()


HOLDER = """
import sys, time
from pathlib import Path
from ocsrun.store.local import LocalDirStore
held = LocalDirStore(Path(sys.argv[1])).acquire_lock("rb", "t1", sys.argv[2])
print("held", flush=True)
time.sleep(60)
"""


def spawn_holder(store: LocalDirStore, run_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store.state_dir), run_id],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"held\n"
    return child


def test_lock_held_by_another_live_process_is_not_broken(store: LocalDirStore) -> None:
    child = spawn_holder(store, "CHILD-RUN")
    try:
        with pytest.raises(LockHeld, match=r"CHILD-RUN.*still running"):
            store.acquire_lock("rb", "t1", "MINE", break_lock=True)
    finally:
        child.kill()
        child.wait()


def test_stale_lock_after_sigkill_can_be_broken(store: LocalDirStore) -> None:
    child = spawn_holder(store, "DEAD-RUN")
    child.send_signal(signal.SIGKILL)
    child.wait()
    path = lock.lock_path(store.locks_dir, "rb", "t1")
    old_bytes = path.read_bytes()
    with pytest.raises(LockHeld, match=r"DEAD-RUN.*stale.*--break-lock"):
        store.acquire_lock("rb", "t1", "MINE")
    taken = store.acquire_lock("rb", "t1", "MINE", break_lock=True)
    try:
        assert taken.broken is not None
        assert taken.broken.run_id == "DEAD-RUN"
        assert taken.broken.pid == child.pid
        assert path.with_name(path.name + ".broken").read_bytes() == old_bytes
        assert json.loads(path.read_bytes())["run_id"] == "MINE"
    finally:
        taken.release()


def test_unreadable_lock_file_without_holder_is_stale(store: LocalDirStore) -> None:
    store.locks_dir.mkdir(parents=True)
    path = lock.lock_path(store.locks_dir, "rb", "t1")
    path.write_bytes(b"")  # a holder killed between create and write
    with pytest.raises(LockHeld, match="unreadable lock file"):
        store.acquire_lock("rb", "t1", "MINE")
    taken = store.acquire_lock("rb", "t1", "MINE", break_lock=True)
    assert taken.broken is None
    taken.release()


def test_pid_alive() -> None:
    assert lock.pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not lock.pid_alive(child.pid)
    assert not lock.pid_alive(0)


# --- the start-up race ----------------------------------------------------------------


def contender(
    state_dir: str, key: str, name: str, break_lock: bool, barriers: tuple[Barrier, Barrier]
) -> None:
    start, done = barriers
    store = LocalDirStore(Path(state_dir))
    start.wait()
    try:
        held = store.acquire_lock(key, "t", name, break_lock=break_lock)
    except LockHeld:
        done.wait(10)
        os._exit(1)
    # Hold it until the other contender has tried too.
    done.wait(10)
    held.release()
    os._exit(0)


def race(state_dir: Path, key: str, break_lock: bool = False) -> list[int]:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    done = ctx.Barrier(2)
    procs = [
        ctx.Process(
            target=contender, args=(str(state_dir), key, f"R{i}", break_lock, (start, done))
        )
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    return sorted(-99 if proc.exitcode is None else proc.exitcode for proc in procs)


def test_simultaneous_starts_exactly_one_wins(store: LocalDirStore) -> None:
    for round_ in range(20):
        assert race(store.state_dir, f"rb-{round_}") == [0, 1], f"round {round_}"


def test_simultaneous_breakers_exactly_one_wins(store: LocalDirStore) -> None:
    store.locks_dir.mkdir(parents=True)
    for round_ in range(20):
        key = f"rb-{round_}"
        # A stale lock: a holder that is gone (flock free, pid not running).
        stale = {"run_id": "GONE", "operator": "x@y", "host": "h", "pid": 0, "started": "t"}
        lock.lock_path(store.locks_dir, key, "t").write_text(json.dumps(stale))
        assert race(store.state_dir, key, break_lock=True) == [0, 1], f"round {round_}"
