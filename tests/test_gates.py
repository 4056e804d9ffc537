"""Gate evaluation: time windows (pure), evidence files, command checks."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ocsrun.run.evidence import check_evidence
from ocsrun.run.gates import in_window, run_command
from ocsrun.runbook import model as m

EVIDENCE = Path(__file__).parent.parent / "tests" / "data" / "evidence"

# --- time windows --------------------------------------------------------------------

WEEKEND_NIGHTS = m.Gate(
    "time_window",
    "off-peak",
    windows=(m.TimeWindow(("sat", "sun"), "20:00-06:00"),),
    timezone="UTC",
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        ("2026-11-28T21:00", True),  # Saturday evening
        ("2026-11-29T05:59", True),  # early Sunday, window began Saturday
        ("2026-11-30T05:00", True),  # early Monday, window began Sunday
        ("2026-11-29T06:00", False),  # end is exclusive
        ("2026-11-28T19:59", False),
        ("2026-11-28T02:00", False),  # early Saturday: began Friday, Friday not listed
        ("2026-11-25T22:00", False),  # Wednesday night
    ],
)
def test_wrapping_window(when: str, inside: bool) -> None:
    assert in_window(WEEKEND_NIGHTS, at(when)) is inside


def test_days_only_and_hours_only_windows() -> None:
    gate = m.Gate(
        "time_window",
        "p",
        windows=(m.TimeWindow(("sun",)), m.TimeWindow((), "01:00-02:00")),
        timezone="UTC",
    )
    assert in_window(gate, at("2026-11-29T12:00"))  # any Sunday time
    assert in_window(gate, at("2026-11-25T01:30"))  # any day 01:00-02:00
    assert not in_window(gate, at("2026-11-25T12:00"))


def test_timezone_is_applied() -> None:
    gate = m.Gate(
        "time_window",
        "p",
        windows=(m.TimeWindow((), "20:00-23:00"),),
        timezone="America/New_York",
    )
    assert in_window(gate, at("2026-11-26T02:00"))  # 21:00 in New York
    assert not in_window(gate, at("2026-11-25T21:00"))  # 16:00 in New York


# --- evidence --------------------------------------------------------------------------

WIZARD = m.Gate(
    "evidence",
    "log",
    max_bytes=4096,
    checks=(
        m.EvidenceCheck("require", "(?i)execution result", description="has results"),
        m.EvidenceCheck(
            "each", "(?i)execution result", r"(?i)execution result\W*success\b", "all success"
        ),
        m.EvidenceCheck("forbid", r"(?i)\bfail(ure|ed|s)?\b", description="no failure"),
    ),
)


def test_success_log_passes_with_hash_and_lines() -> None:
    result = check_evidence(WIZARD, EVIDENCE / "wizard-success.log")
    assert result.ok
    data = (EVIDENCE / "wizard-success.log").read_bytes()
    assert result.size == len(data)
    import hashlib

    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert all("Success" in line for line in result.lines)


def test_failure_log_fails_on_the_failure_line_only() -> None:
    result = check_evidence(WIZARD, EVIDENCE / "wizard-failure.log")
    assert not result.ok
    assert result.failures == ("all success", "no failure")
    assert len(result.lines) == 1 and "Failure" in result.lines[0]
    assert result.lines[0].startswith("5: ")


def test_empty_log_fails_the_require_check() -> None:
    result = check_evidence(WIZARD, EVIDENCE / "wizard-empty.log")
    assert not result.ok
    assert "has results" in result.failures


def test_refuses_directory_fifo_missing_binary_and_oversize(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    binary = tmp_path / "bin.log"
    binary.write_bytes(b"Execution Result: Success\x00\x01")
    big = tmp_path / "big.log"
    big.write_text("Execution Result: Success\n" * 500)
    cases = {
        tmp_path: "not a regular file",
        fifo: "not a regular file",
        tmp_path / "missing.log": "cannot open",
        binary: "binary",
        big: "over the limit",
    }
    for path, why in cases.items():
        result = check_evidence(WIZARD, path)
        assert not result.ok, path
        assert why in result.failures[0], (path, result.failures)


def test_control_sequences_in_decisive_lines_are_neutralised(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("Task x ... Execution Result: Failure \x1b[2J\x1b]0;owned\x07\n")
    result = check_evidence(WIZARD, log)
    assert not result.ok
    assert "\x1b" not in "".join(result.lines) and "\x07" not in "".join(result.lines)


def test_catastrophic_pattern_is_stopped(tmp_path: Path) -> None:
    pytest.importorskip("regex")
    gate = m.Gate("evidence", "p", checks=(m.EvidenceCheck("require", "(a+)+$"),))
    log = tmp_path / "log"
    log.write_text("a" * 4000 + "!\n")
    result = check_evidence(gate, log)
    assert not result.ok
    assert "too long" in result.failures[0]


# --- commands ----------------------------------------------------------------------------

PY = sys.executable


def test_command_exit_code_and_output() -> None:
    result = run_command((PY, "-c", "print('hello'); raise SystemExit(3)"), 10, 1024)
    assert result.exit_code == 3
    assert result.output.strip() == "hello"


def test_command_gets_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCSRUN_SECRET_TOKEN", "leak")
    code = "import json, os; print(json.dumps(sorted(os.environ)))"
    result = run_command((PY, "-c", code), 10, 4096)
    assert "OCSRUN_SECRET_TOKEN" not in result.output
    assert set(json.loads(result.output)) <= {"PATH", "LANG", "LC_CTYPE"}


def test_command_arguments_are_not_shell_interpreted(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = run_command((PY, "-c", "import sys; print(sys.argv[1])", f"; touch {marker}"), 10, 99)
    assert result.exit_code == 0
    assert not marker.exists()


# A command's timeout also covers its interpreter's start-up; these are tried in turn.
STARTUP_TIMEOUTS = (3.0, 10.0, 60.0, 300.0)


def test_command_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid));"
        "time.sleep(60)"
    )
    # The timeout also covers the interpreter's start-up: on a loaded machine 3 s may end the
    # command before it started its grandchild, so try longer ones until it did.
    for timeout in STARTUP_TIMEOUTS:
        result = run_command((PY, "-c", code), timeout, 1024)
        if pidfile.exists():
            break
    assert result.timed_out and result.exit_code is None
    grandchild = int(pidfile.read_text())
    # SIGKILL went to the whole group; delivery is asynchronous, so wait (a hang guard, not a
    # timing) for the grandchild to be gone or a zombie awaiting init.
    deadline = time.monotonic() + 600
    while (state := _proc_state(grandchild)) not in {"gone", "Z"}:
        assert time.monotonic() < deadline, f"grandchild {grandchild} still {state}"
        time.sleep(0.01)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


def test_command_output_is_bounded_and_cleaned() -> None:
    code = "import sys; sys.stdout.write('\\x1b[31mred\\x1b[0m' + 'x' * 100000)"
    result = run_command((PY, "-c", code), 10, 1000)
    assert result.truncated
    assert len(result.output) <= 1000
    assert "\x1b" not in result.output and result.output.startswith("red")


def test_command_that_cannot_start() -> None:
    result = run_command(("/nonexistent/ocsrun-test-binary",), 5, 100)
    assert result.exit_code is None and "cannot run" in result.error


def test_a_flood_of_output_is_read_and_dropped_not_stored() -> None:
    flood = "import sys\nfor _ in range(64): sys.stdout.buffer.write(b'y' * 2**20)\n"
    result = run_command((PY, "-c", flood), 30, 100)
    assert result.exit_code == 0 and result.truncated
    assert result.output == "y" * 100


def test_a_daemon_holding_the_output_open_ends_the_gate_at_the_commands_exit(
    tmp_path: Path,
) -> None:
    # The leader exits at once, but a grandchild keeps stdout open (and writes on): the gate
    # ends with the leader's exit code, not as "timed out" after the whole timeout, and the
    # grandchild (same process group) is killed.
    pidfile = tmp_path / "daemon.pid"
    daemon = "import time\nwhile True: print('noise', flush=True); time.sleep(0.01)"
    code = (
        "import subprocess, sys;"
        f"p = subprocess.Popen([sys.executable, '-c', {daemon!r}]);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid));"
        "print('started', flush=True); sys.exit(3)"
    )
    result = run_command((PY, "-c", code), 120.0, 100_000)
    assert not result.timed_out and result.exit_code == 3
    assert result.output.startswith("started")
    daemon_pid = int(pidfile.read_text())
    deadline = time.monotonic() + 600  # a hang guard: SIGKILL's delivery is asynchronous
    while (state := _proc_state(daemon_pid)) not in {"gone", "Z"}:
        assert time.monotonic() < deadline, f"daemon {daemon_pid} still {state}"
        time.sleep(0.01)


def test_output_written_just_before_exit_is_kept() -> None:
    code = "import sys; sys.stdout.write('z' * 300000); sys.exit(0)"
    result = run_command((PY, "-c", code), 60, 1_000_000)
    assert result.exit_code == 0 and result.output == "z" * 300000


def test_a_command_that_closes_its_output_and_runs_on_times_out() -> None:
    code = "import os, time; os.close(1); time.sleep(60)"
    result = run_command((PY, "-c", code), 1.0, 100)
    assert result.timed_out and result.exit_code is None
