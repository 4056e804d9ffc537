"""SIGKILL in the middle of a run, then resume: every step recorded exactly once, chain intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, cli_env, journal_path, journal_records, run_child

from ocsrun.store.local import LocalDirStore

STEPS = 150


def generated_runbook(path: Path, steps: int = STEPS) -> list[str]:
    """A long runbook of action steps and confirm gates; returns the step ids in order."""
    lines = [
        "format: ocsrun/v1",
        "kind: runbook",
        "metadata:",
        "  id: test.exec.crash",
        "  title: Crash test",
        "  version: 1.0.0",
        "  source: {document: ocsrun tests, section: crash}",
        "steps:",
    ]
    ids = []
    for n in range(steps):
        ids.append(f"s{n:03d}")
        lines += [f"  - id: s{n:03d}", f"    title: Step {n}"]
        if n % 3 == 0:
            lines += [f"    gate: {{type: confirm, prompt: 'Step {n} holds.'}}"]
    path.write_text("\n".join(lines) + "\n")
    return ids


ANSWERS = "defaults: {after_step: done, gate: true, acknowledge: true}\n"


def ocsrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocsrun", *args]


def journal_lines(state: Path) -> int:
    runs = state / "runs"
    for run in runs.iterdir() if runs.is_dir() else ():
        journal = run / "journal.jsonl"
        if journal.is_file():
            return journal.read_bytes().count(b"\n")
    return 0


def kill_midway(state: Path, book: Path, answers: Path, after_lines: int) -> str:
    child = subprocess.Popen(
        ocsrun("run", str(book), "--answers", str(answers), "--state-dir", str(state)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=cli_env(state),
    )
    deadline = time.monotonic() + 600  # a hang guard, far above any run on a loaded machine
    # Wait for the condition (enough records written), not for a fixed time.
    while journal_lines(state) < after_lines and child.poll() is None:
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    (run_id,) = os.listdir(state / "runs")
    return run_id


def resume(state: Path, run_id: str, answers: Path) -> subprocess.CompletedProcess[str]:
    return run_child(
        state, "resume", run_id, "--answers", str(answers), "--state-dir", str(state), cwd=ROOT
    )


def assert_complete(state: Path, run_id: str, ids: list[str]) -> None:
    recs = journal_records(state, run_id)
    done = Counter(str(r["data"]["step"]) for r in recs if r["type"] == "step.done")  # type: ignore[index]
    assert set(done) == set(ids)
    assert [step for step, n in done.items() if n != 1] == []
    assert recs[-1]["type"] == "run.finished"
    report = LocalDirStore(state).verify(run_id)
    assert report.ok, report.problems


@pytest.mark.parametrize("after_lines", [40, 171])
def test_sigkill_mid_run_then_resume(tmp_path: Path, after_lines: int) -> None:
    book = tmp_path / "crash.yaml"
    ids = generated_runbook(book)
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    state = tmp_path / "state"
    run_id = kill_midway(state, book, answers, after_lines)
    killed_at = len(journal_records(state, run_id))
    assert 0 < killed_at < 4 * STEPS
    result = resume(state, run_id, answers)
    assert result.returncode == 0, result.stderr
    assert_complete(state, run_id, ids)
    # The killed process left its lock behind; the resume took it back and said so.
    broken = [r for r in journal_records(state, run_id) if r["type"] == "lock.broken"]
    assert [b["data"]["holder"]["run_id"] for b in broken] == [run_id]  # type: ignore[index]


def test_torn_last_line_is_reported_set_aside_and_nothing_earlier_lost(tmp_path: Path) -> None:
    book = tmp_path / "crash.yaml"
    ids = generated_runbook(book, 30)
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    state = tmp_path / "state"
    run_id = kill_midway(state, book, answers, 20)
    journal = journal_path(state, run_id)
    intact = journal.read_bytes()
    # What a crash in the middle of a write leaves: half a record, no newline.
    journal.write_bytes(intact + b'{"seq": 99999, "ts": "2026-11-25T0')
    result = resume(state, run_id, answers)
    assert result.returncode == 0, result.stderr
    assert "torn" in result.stdout
    assert journal.read_bytes().startswith(intact)
    types = [r["type"] for r in journal_records(state, run_id)]
    assert "journal.torn-tail-set-aside" in types
    assert_complete(state, run_id, ids)
