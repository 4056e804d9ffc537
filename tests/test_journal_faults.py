"""Journal faults, end to end: a real run's journal damaged on disk, then `ocsrun runs verify`.

Each kind of damage must be detected and named (with its line and sequence number) by the
command an auditor runs, with the documented exit code and no traceback; a full disk must stop
the run with one clear line and leave no partial record behind. Lock races between two real
processes are here too: two runs started at the same moment on one runbook and target.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import cli_env, journal_path, journal_records, run_cli

from ocsrun.store.local import JournalWriter

RUNBOOK = """\
format: ocsrun/v1
kind: runbook
metadata:
  id: test.journal-faults
  title: Journal faults
  version: 1.0.0
  source: {document: ocsrun tests, section: journal faults}
  target: {description: host}
steps:
  - id: one
    title: One
  - id: two
    title: Two
    gate: {type: confirm, prompt: It holds.}
  - id: three
    title: Three
  - id: four
    title: Four
  - id: five
    title: Five
"""
ANSWERS = "defaults: {after_step: done, gate: true, acknowledge: true}\n"


@pytest.fixture
def finished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A finished run of RUNBOOK: (its journal, its run id)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rb.yaml").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    code, output = run_cli(capsys, "run", "rb.yaml", "--target", "h1", "--answers", "answers.yaml")
    assert code == 0, output
    journal = journal_path(tmp_path / "state")
    return journal, journal.parent.name


def verify(capsys: pytest.CaptureFixture[str], run_id: str) -> tuple[int, str]:
    return run_cli(capsys, "runs", "verify", run_id)


def lines_of(journal: Path) -> list[bytes]:
    return journal.read_bytes().splitlines(keepends=True)


def test_an_intact_journal_verifies(
    finished_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    journal, run_id = finished_run
    code, output = verify(capsys, run_id)
    assert code == 0
    assert f"ok: {len(lines_of(journal))} records, chain intact" in output


def test_truncated_tail_is_named_and_only_a_warning(
    finished_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    journal, run_id = finished_run
    lines = lines_of(journal)
    journal.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    code, output = verify(capsys, run_id)
    assert code == 0, output
    assert f"entry {len(lines)}:" in output
    assert "torn-tail" in output
    assert "ignoring a torn last line" in output


def _flip_digit(line: bytes) -> bytes:
    """One byte changed inside the timestamp: still valid JSON, so only the hash can tell."""
    record = json.loads(line)
    stamp = record["ts"].encode()
    at = line.index(stamp) + stamp.index(b":") + 2  # a minutes digit
    flipped = b"1" if line[at : at + 1] != b"1" else b"2"
    return line[:at] + flipped + line[at + 1 :]


Damage = Callable[[list[bytes]], list[bytes]]
FAULTS: dict[str, tuple[Damage, str, int]] = {
    # name: (damage, kind verify must name, 1-based line where it must say it is)
    "flipped-byte": (lambda ls: [*ls[:3], _flip_digit(ls[3]), *ls[4:]], "hash-mismatch", 4),
    "record-deleted": (lambda ls: ls[:3] + ls[4:], "seq-gap", 4),
    "records-reordered": (lambda ls: [*ls[:3], ls[4], ls[3], *ls[5:]], "reordered", 5),
    "record-duplicated": (lambda ls: [*ls[:4], ls[3], *ls[4:]], "duplicate-seq", 5),
    "garbage-line": (lambda ls: [*ls[:2], b"\x00\xff not json\n", *ls[2:]], "bad-json", 3),
    "first-record-deleted": (lambda ls: ls[1:], "seq-gap", 1),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_detected_and_named(
    fault: str, finished_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    damage, kind, line = FAULTS[fault]
    journal, run_id = finished_run
    journal.write_bytes(b"".join(damage(lines_of(journal))))
    code, output = verify(capsys, run_id)
    assert code == 1, output
    named = [row for row in output.splitlines() if kind in row]
    assert named, f"{kind} not named:\n{output}"
    assert any(row.startswith(f"entry {line}:") for row in named), output
    assert "FAILED" in output
    assert "\x00" not in output and "\x1b" not in output


def test_resume_refuses_a_journal_damaged_before_its_tail(
    finished_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    journal, run_id = finished_run
    lines = lines_of(journal)
    # Damage an unfinished run: drop run.finished, then flip a byte in the middle.
    journal.write_bytes(b"".join([*lines[:3], _flip_digit(lines[3]), *lines[4:-1]]))
    code, output = run_cli(capsys, "resume", run_id, "--answers", "answers.yaml")
    assert code == 1, output
    assert len(output.strip().splitlines()) == 1, output
    assert run_id in output or "journal" in output


def test_a_missing_journal_is_one_line_not_a_traceback(
    finished_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    journal, run_id = finished_run
    journal.unlink()
    code, output = verify(capsys, run_id)
    assert code == 1, output
    assert "journal" in output


# --- disk full ----------------------------------------------------------------------------


def test_disk_full_stops_the_run_with_one_clear_line_and_no_partial_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rb.yaml").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    real_write = JournalWriter.write
    calls = {"n": 0}

    def fill_up(self: JournalWriter, fd: int, data: bytes) -> int:
        # The sixth record finds the disk full after half of it reached the file.
        calls["n"] += 1
        if calls["n"] >= 6:
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, fd, data)

    monkeypatch.setattr(JournalWriter, "write", fill_up)
    code, output = run_cli(capsys, "run", "rb.yaml", "--target", "h1", "--answers", "answers.yaml")
    assert code == 1, output
    errors = [row for row in output.splitlines() if row.startswith("ocsrun: error:")]
    assert len(errors) == 1, output
    assert "No space left on device" in errors[0]
    journal = journal_path(tmp_path / "state")
    data = journal.read_bytes()
    assert data.endswith(b"\n"), "a partial record was left behind"
    assert data.count(b"\n") == 5
    monkeypatch.setattr(JournalWriter, "write", real_write)
    code, output = verify(capsys, journal.parent.name)
    assert code == 0, output
    assert "torn-tail" not in output
    # Space freed: the run resumes and finishes, each step done once.
    code, output = run_cli(capsys, "resume", journal.parent.name, "--answers", "answers.yaml")
    assert code == 0, output
    records = journal_records(tmp_path / "state")
    done = [r["data"]["step"] for r in records if r["type"] == "step.done"]
    assert sorted(done) == sorted(["one", "two", "three", "four", "five"])


# --- the lock, between real processes -------------------------------------------------------

SLOW_RUNBOOK = RUNBOOK.replace(
    "  - id: three\n",
    "  - id: wait\n    title: Wait\n    gate:\n      type: command\n      prompt: Slept.\n"
    "      command: {argv: [sleep, '4'], timeout: 30s}\n  - id: three\n",
)


def test_two_runs_started_at_once_exactly_one_runs(tmp_path: Path) -> None:
    (tmp_path / "rb.yaml").write_text(SLOW_RUNBOOK, encoding="utf-8")
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    env = cli_env(tmp_path / "state")
    argv = [sys.executable, "-m", "ocsrun", "run", "rb.yaml", "--target", "h1"]
    children = [
        subprocess.Popen(
            [*argv, "--answers", "answers.yaml"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(child.wait(timeout=60), *child.communicate()) for child in children]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    (loser,) = [err for code, _, err in results if code == 3]
    assert "Traceback" not in loser
    assert len(loser.strip().splitlines()) == 1, loser
    runs = list((tmp_path / "state" / "runs").glob("*/journal.jsonl"))
    finished = [j for j in runs if b'"run.finished"' in j.read_bytes()]
    assert len(finished) == 1


# --- things planted in the state directory ---------------------------------------------------


def _plant(run_dir: Path, name: str, kind: str) -> None:
    target = run_dir / name
    target.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
@pytest.mark.parametrize("name", ["journal.jsonl", "run.json", "snapshot.yaml"])
def test_planted_non_files_never_hang_a_command(
    name: str, kind: str, finished_run: tuple[Path, str]
) -> None:
    """A FIFO or a device where a run file should be: one line and an exit code, at once."""
    journal, run_id = finished_run
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-1]))  # unfinished, so resume has work to do
    state = journal.parent.parent.parent
    _plant(journal.parent, name, kind)
    env = cli_env(state)
    commands = [
        ["runs", "verify", run_id],
        ["runs", "show", run_id],
        ["runs", "report", run_id],
        ["runs", "list"],
        ["resume", run_id, "--answers", "answers.yaml"],
    ]
    for args in commands:
        result = subprocess.run(
            [sys.executable, "-m", "ocsrun", *args],
            cwd=state.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        where = f"{args[:2]} with {name} a {kind}"
        assert "Traceback" not in result.stderr, f"{where}: {result.stderr}"
        assert result.returncode in {0, 1}, f"{where}: {result.stderr}"
        assert len(result.stderr.strip().splitlines()) <= 1, f"{where}: {result.stderr}"
        # Each command that needs the planted file says what is wrong with it.
        needs = {
            "journal.jsonl": {"verify", "show", "report", "resume"},
            "run.json": {"verify", "show", "report", "resume"},
            "snapshot.yaml": {"resume"},
        }[name]
        if {args[0], args[1]} & needs:
            assert result.returncode == 1, f"{where}: {result.stdout}{result.stderr}"
            assert "not a regular file" in result.stderr, f"{where}: {result.stderr}"
        if args == ["runs", "list"]:
            assert result.returncode == 0, f"{where}: {result.stderr}"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_planted_lock_file_never_hangs_a_run(kind: str, tmp_path: Path) -> None:
    from ocsrun.store.lock import lock_path

    (tmp_path / "rb.yaml").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(ANSWERS, encoding="utf-8")
    locks = tmp_path / "state" / "locks"
    locks.mkdir(parents=True)
    planted = lock_path(locks, "test.journal-faults", "h1")
    if kind == "fifo":
        os.mkfifo(planted)
    else:
        planted.symlink_to("/dev/zero")
    env = cli_env(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "ocsrun", "run", "rb.yaml", "--target", "h1", "--answers", "a.yaml"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode in {1, 3}, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
