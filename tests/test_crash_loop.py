"""kill -9 at randomly chosen points, many times: the journal survives and resume finishes.

A seeded, bounded loop. Each iteration starts `ocsrun run` on a runbook with every step kind
the executor journals (actions, a choice, gates, a for-each), kills it with SIGKILL once the
journal holds a randomly chosen number of records (plus a random sub-millisecond delay), in
some iterations leaves half a record behind as a crash inside a write would, and in some kills
the first `resume` too. After
every kill, `ocsrun runs verify` must pass, at most warning about the torn last line; then
`ocsrun resume` must finish, with every step done exactly once and `runs verify` clean.

The seed is fixed ($OCSRUN_CRASH_SEED overrides it to explore); a failure prints the seed and
the iteration so it can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import cli_env, journal_records, run_child, run_cli

ITERATIONS = int(os.environ.get("OCSRUN_CRASH_ITERATIONS", "100"))
SEED = int(os.environ.get("OCSRUN_CRASH_SEED", "20261125"))
# A hang guard only (a run that never gets going), far above any run on a loaded machine.
DEADLINE_S = 600.0
# Attempts per wanted kill: a run can end before the poller sees its kill point (more often on
# a loaded machine); such a run is checked as finished and another is started instead.
ATTEMPTS_PER_KILL = 4

RUNBOOK = """\
format: ocsrun/v1
kind: runbook
metadata:
  id: test.crash-loop
  title: Crash loop
  version: 1.0.0
  source: {document: ocsrun tests, section: crash loop}
params:
  roles:
    type: list
    values: [a, b, c]
    default: [a, b, c]
steps:
  - id: first
    title: First
  - id: pick
    title: Pick a mode
    choice:
      var: mode
      prompt: Which mode?
      options:
        - {value: safe, label: Safe}
        - {value: fast, label: Fast}
  - id: confirm
    title: Confirm
    gate: {type: confirm, prompt: It holds.}
  - id: each
    title: Each role
    for_each:
      var: role
      over: roles
      order: [a, b, c]
      steps:
        - id: stop
          title: Stop {{ role }}
        - id: check
          title: Check {{ role }}
          gate: {type: confirm, prompt: '{{ role }} is stopped.'}
  - id: items
    title: Items
    gate: {type: checklist, prompt: All done., items: [one, two]}
  - id: middle
    title: Middle
    when: mode == 'safe'
  - id: skipped
    title: Skipped automatically
    when: mode == 'fast'
  - id: s08
    title: Step 8
  - id: s09
    title: Step 9
  - id: s10
    title: Step 10
  - id: last
    title: Last
"""
ANSWERS = """\
defaults: {after_step: done, gate: true, acknowledge: true, checklist: all}
steps:
  pick: {choice: safe}
"""
# Every step path that must end up recorded exactly once (done or automatically skipped).
EXPECTED = {
    "first",
    "pick",
    "confirm",
    "each",
    *(f"each[{role}].{step}" for role in "abc" for step in ("stop", "check")),
    "items",
    "middle",
    "skipped",
    "s08",
    "s09",
    "s10",
    "last",
}
FINISHING = {"step.done", "step.auto-skipped", "step.skipped"}


def journal(state: Path) -> Path | None:
    runs = state / "runs"
    found = sorted(runs.glob("*/journal.jsonl")) if runs.is_dir() else []
    return found[0] if found else None


def newlines(state: Path) -> int:
    path = journal(state)
    return path.read_bytes().count(b"\n") if path else 0


def start_and_kill(state: Path, args: list[str], cwd: Path, at: int, rng: random.Random) -> bool:
    """Run `ocsrun ARGS`; SIGKILL once the journal has `at` lines. False if it ended first."""
    errors = state.parent / f"{state.name}.stderr"
    with errors.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "ocsrun", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=cwd,
            env=cli_env(state),
        )
        deadline = time.monotonic() + DEADLINE_S
        while newlines(state) < at and child.poll() is None:
            assert time.monotonic() < deadline, "the run never reached the kill point"
            time.sleep(0.0005)
        # Sometimes a little later, so the kill can land between write and fsync.
        time.sleep(rng.choice((0, 0, 0.0002, 0.0005, 0.001)))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
    child.wait()
    if child.returncode == -signal.SIGKILL:
        return True
    # It ended on its own before the kill: only acceptable if it finished its work.
    assert child.returncode == 0, errors.read_text(errors="replace")
    return False


def tear(path: Path, rng: random.Random) -> None:
    """What a crash inside a write leaves (power loss, a full page cache): half a record."""
    line = path.read_bytes().splitlines()[-1]
    with path.open("ab") as journal:
        journal.write(line[: rng.randint(1, len(line) - 1)])


def check_verify(capsys: pytest.CaptureFixture[str], state: Path, run_id: str, where: str) -> None:
    code, output = run_cli(capsys, "runs", "--state-dir", str(state), "verify", run_id)
    assert "Traceback" not in output, f"{where}: {output}"
    assert code == 0, f"{where}: runs verify failed after a kill:\n{output}"
    problems = [line for line in output.splitlines() if line.startswith("warning:")]
    assert all("torn-tail" in line for line in problems), f"{where}: {output}"
    assert len(problems) <= 1, f"{where}: more than the torn tail reported:\n{output}"


def full_length(tmp: Path) -> int:
    """Records in a run that is never killed: the range kill points are drawn from."""
    state = tmp / "calibrate"
    done = run_child(
        state, "run", "crash.yaml", "--answers", "answers.yaml", cwd=tmp, timeout=DEADLINE_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    path = journal(state)
    assert path is not None
    types = Counter(str(r["type"]) for r in journal_records(state))
    assert types["run.finished"] == 1
    return path.read_bytes().count(b"\n")


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crash.yaml").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    total = full_length(tmp_path)
    rng = random.Random(SEED)
    kills = torn = double = 0
    for iteration in range(ITERATIONS * ATTEMPTS_PER_KILL):
        if kills == ITERATIONS:
            break
        where = f"seed {SEED} iteration {iteration}"
        state = tmp_path / f"state-{iteration}"
        at = rng.randint(1, total - 2)
        killed = start_and_kill(
            state, ["run", "crash.yaml", "--answers", "answers.yaml"], tmp_path, at, rng
        )
        path = journal(state)
        assert path is not None, where
        run_id = path.parent.name
        if killed:
            kills += 1
            # One time in five, also leave half a record behind, as a crash mid-write would.
            if rng.random() < 0.2 and path.read_bytes().endswith(b"\n"):
                tear(path, rng)
            torn += not path.read_bytes().endswith(b"\n")
            check_verify(capsys, state, run_id, where)
            # One time in four, crash the resume as well, somewhere after its first record
            # (unless the kill came after the last record: then there is nothing to resume).
            finished = "run.finished" in {str(r["type"]) for r in journal_records(state)}
            if rng.random() < 0.25 and not finished:
                again = newlines(state) + rng.randint(1, 6)
                if start_and_kill(
                    state, ["resume", run_id, "--answers", "answers.yaml"], tmp_path, again, rng
                ):
                    double += 1
                    check_verify(capsys, state, run_id, where + " (resume killed)")
        ended = "run.finished" in {str(r["type"]) for r in journal_records(state)}
        code, output = run_cli(
            capsys, "resume", run_id, "--answers", "answers.yaml", "--state-dir", str(state)
        )
        assert "Traceback" not in output, f"{where}: {output}"
        if ended:  # killed after its last record: nothing left to do, and it says so
            assert code == 1, f"{where}: {output}"
            assert "finished" in output, f"{where}: {output}"
        else:
            assert code == 0, f"{where}: resume failed:\n{output}"
        recs = journal_records(state)
        finished = Counter(
            str(r["data"]["step"])  # type: ignore[index]
            for r in recs
            if r["type"] in FINISHING
        )
        assert set(finished) == EXPECTED, f"{where}: steps recorded {sorted(finished)}"
        assert [s for s, n in finished.items() if n != 1] == [], f"{where}: {finished}"
        assert [r["type"] for r in recs].count("run.finished") == 1, where
        code, output = run_cli(capsys, "runs", "--state-dir", str(state), "verify", run_id)
        assert code == 0, f"{where}: {output}"
        assert "torn-tail" not in output, f"{where}: the tail was not set aside:\n{output}"
    with capsys.disabled():
        print(
            f"\ncrash loop: {ITERATIONS} iterations, {kills} kills ({double} during resume), "
            f"{torn} left a torn tail, seed {SEED}"
        )
    assert kills == ITERATIONS, f"only {kills} of {ITERATIONS} runs were killed before the end"
    assert torn >= ITERATIONS // 10, "torn tails must be among the crashes checked"
