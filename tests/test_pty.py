"""`ocsrun run` in a real pseudo-terminal: prompts, colour, Ctrl-C, resume, and the lock."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import DATA, ROOT, journal_records

RUNBOOK = DATA / "exec" / "pty.yaml"
EVIDENCE = ROOT / "tests" / "data" / "evidence"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def spawn(state: Path, *args: str, colour: bool = False) -> pexpect.spawn:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(state.parent),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm",
    }
    if not colour:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ocsrun", *args, "--state-dir", str(state)],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    return child


def start(state: Path, colour: bool = False) -> pexpect.spawn:
    return spawn(state, "run", str(RUNBOOK), "--target", "srv1.example", colour=colour)


def run_id_of(state: Path) -> str:
    (run,) = os.listdir(state / "runs")
    return run


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, child.signalstatus
    return int(child.exitstatus)


def test_full_run_with_a_failed_log_retry_and_show(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = start(state)
    child.expect(r"Run id: (\S+)")
    started_id = child.match.group(1)
    child.expect(r"Head: ([0-9a-f]{64})")
    started_head = child.match.group(1)
    child.expect("DANGER: data-loss")
    child.expect("Type understood to acknowledge")
    child.sendline("nope")  # the wrong word is refused and asked again
    child.expect("Type understood to acknowledge")
    child.sendline("UNDERSTOOD")  # a keyword: any case
    child.expect(r"You are logged on to srv1\.example\. \[y/n\]")
    child.sendline("y")
    child.expect("Your choice")
    child.sendline("left")
    child.expect(r"Step 3 skipped: `way == 'right'` is false")
    child.expect(r"Step 4 · Run the wizard")
    child.expect(r"Screen 3 of 4 · id run-wizard")  # right-only is not among the screens
    child.expect("done / skip / failed / retry / note / abort")
    child.sendline("n")  # note
    child.expect("Note")
    child.sendline("wizard took 3 minutes")
    child.expect("done / skip")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(EVIDENCE / "wizard-failure.log"))
    child.expect(r"Check failed \(failure 1\): step 5 \(check-log\)")
    child.expect("Execution Result: Failure")
    child.expect("Fix the problem and run the wizard again")
    child.expect("goto / abort")
    child.sendline("goto")
    child.expect("Attempt 2")
    child.expect("done / skip")
    child.sendline("d")
    child.expect("Path to the file")
    child.sendline(str(EVIDENCE / "wizard-success.log"))
    child.expect(r"Check passed: step 5 \(check-log\)")
    child.expect("Run done")
    child.expect(r"Run id: (\S+)")
    assert child.match.group(1) == started_id
    child.expect(r"Head: ([0-9a-f]{64})")
    ended_head = child.match.group(1)
    child.expect(r"Report:\s+(ocsrun runs report \S+ --state-dir \S+)")
    report = child.match.group(1)
    assert finish(child) == 0
    records = journal_records(state, started_id)
    # The head shown at the start is the hash of the record before the first warning; at the
    # end, the hash of the last record: what a change ticket quotes to pin the journal.
    assert ended_head == records[-1]["hash"] and records[-1]["type"] == "run.finished"
    assert started_head in [r["hash"] for r in records[:-1]]
    assert report == f"ocsrun runs report {started_id} --state-dir {state}"
    before = child.before or ""
    assert "\x1b[2J" not in before

    run_id = run_id_of(state)
    show = spawn(state, "runs", "show", run_id)
    show.expect(pexpect.EOF)
    text = show.before or ""
    assert f"Run {run_id}: finished" in text
    # The failed log sent the operator back: both steps ran twice.
    assert re.search(r"done\s+\S+\s+x2\s+4 run-wizard", text)
    assert re.search(r"done\s+\S+\s+x2\s+5 check-log", text)
    assert re.search(r"done\s+\S+\s+1 log-on", text)
    assert "note: wizard took 3 minutes" in text
    assert "evidence failed" in text and "evidence passed" in text
    assert "auto-skipped" in text and "way == 'right'" in text


def test_colour_only_on_a_tty_without_no_color(tmp_path: Path) -> None:
    coloured = start(tmp_path / "a", colour=True)
    coloured.expect("Type understood")
    assert ANSI.search(coloured.before or "")
    coloured.sendcontrol("c")
    finish(coloured)
    plain = start(tmp_path / "b", colour=False)
    plain.expect("Type understood")
    assert not ANSI.search(plain.before or "")
    plain.sendcontrol("c")
    finish(plain)


def test_ctrl_c_records_the_interruption_and_names_the_resume_command(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = start(state)
    child.expect("Type understood")
    child.sendline("understood")
    child.expect(r"\[y/n\]")
    child.sendline("y")
    child.expect("Your choice")
    child.sendcontrol("c")
    child.expect(r"ocsrun resume (\S+) --state-dir (\S+)")
    named, where = child.match.group(1), child.match.group(2)
    assert finish(child) == 130
    run_id = run_id_of(state)
    assert (named, where) == (run_id, str(state))
    records = journal_records(state, run_id)
    assert records[-1]["type"] == "run.interrupted"
    assert records[-1]["data"] == {"reason": "interrupt", "step": "path"}

    resumed = spawn(state, "resume", run_id)
    resumed.expect("Your choice")  # the first unfinished step; earlier answers kept
    resumed.sendline("2")
    resumed.expect("Step 3 · Only on the right")
    resumed.expect("done / skip")
    resumed.sendline("done")
    resumed.expect("done / skip")
    resumed.sendline("done")
    resumed.expect("Path to the file")
    resumed.sendline(str(EVIDENCE / "wizard-success.log"))
    resumed.expect("Run done")
    assert finish(resumed) == 0
    done = [r["data"]["step"] for r in journal_records(state, run_id) if r["type"] == "step.done"]  # type: ignore[index]
    assert done == ["log-on", "path", "right-only", "run-wizard", "check-log"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_terminate_or_hangup_is_journaled_like_ctrl_c(tmp_path: Path, sig: int) -> None:
    state = tmp_path / "state"
    child = start(state)
    child.expect("Type understood")
    child.kill(sig)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert journal_records(state, run_id_of(state))[-1]["type"] == "run.interrupted"


def test_end_of_input_at_a_prompt_is_exit_2_not_a_hang(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = start(state)
    child.expect("Type understood")
    child.sendeof()
    child.expect("end of input")
    assert finish(child) == 2
    assert journal_records(state, run_id_of(state))[-1]["data"]["reason"] == "end-of-input"  # type: ignore[index]


def test_concurrent_run_is_refused_then_stale_lock_broken(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = start(state)
    first.expect("Type understood")
    holder = run_id_of(state)
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "defaults: {acknowledge: true, gate: true, after_step: done}\n"
        "steps: {path: {choice: left}, check-log: {evidence: %s}}\n"
        % (EVIDENCE / "wizard-success.log")
    )
    second = spawn(
        state, "run", str(RUNBOOK), "--target", "srv1.example", "--answers", str(answers)
    )
    second.expect(pexpect.EOF)
    assert second.wait() == 3
    assert holder in (second.before or "") and "still running" in (second.before or "")

    os.kill(first.pid, signal.SIGKILL)
    first.expect(pexpect.EOF)
    first.close()
    third = spawn(state, "run", str(RUNBOOK), "--target", "srv1.example", "--answers", str(answers))
    third.expect(pexpect.EOF)
    assert third.wait() == 3 and "stale" in (third.before or "")

    fourth = spawn(
        state,
        "run",
        str(RUNBOOK),
        "--target",
        "srv1.example",
        "--answers",
        str(answers),
        "--break-lock",
    )
    fourth.expect("Run done")
    assert finish(fourth) == 0
    (new,) = set(os.listdir(state / "runs")) - {holder}
    records = journal_records(state, new)
    assert [r["type"] for r in records[:2]] == ["run.started", "lock.broken"]
    broken = [r for r in records if r["type"] == "lock.broken"]
    assert broken[0]["data"]["holder"]["run_id"] == holder  # type: ignore[index]


@pytest.mark.parametrize("word", ["understood"])
def test_runbook_text_escapes_never_reach_the_terminal(tmp_path: Path, word: str) -> None:
    child = start(tmp_path / "state")
    child.expect(f"Type {word}")
    shown = child.before or ""
    assert "This deletes things." in shown and "\x1b[2J" not in shown
    child.sendcontrol("c")
    assert finish(child) == 130


def test_rehearsal_asks_missing_params_and_leaves_evidence_unchecked(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = spawn(state, "rehearse", str(RUNBOOK), "--target", "srv1.example")
    child.expect("REHEARSAL")
    child.expect("Type understood")
    child.sendline("understood")
    child.expect(r"\[y/n\]")
    child.sendline("y")
    child.expect("Your choice")
    child.sendline("left")
    child.expect("done / skip")
    child.sendline("done")
    child.expect(r"Path to the file \(Enter: not checked in a rehearsal\)")
    child.sendline("")
    child.expect("Run rehearsed")
    assert finish(child) == 0
    records = journal_records(state, run_id_of(state))
    passed = [r for r in records if r["type"] == "gate.passed" and r["data"]["step"] == "check-log"]  # type: ignore[index]
    assert passed[0]["data"]["checked"] is False  # type: ignore[index]


def test_missing_param_is_asked_and_checked(tmp_path: Path) -> None:
    child = spawn(
        tmp_path / "state",
        "rehearse",
        "ocs2007.services-start-stop",
        "--target",
        "ocs01.contoso.com",
    )
    child.expect("Value for action")
    child.sendline("reboot")
    child.expect("'reboot' is not one of: stop, start")
    child.expect("Value for action")
    child.sendline("stop")
    child.expect("Param action = stop")
    child.sendcontrol("c")
    assert finish(child) == 130
