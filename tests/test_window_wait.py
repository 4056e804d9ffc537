"""Time windows in the users' zone (`timezone: ask`, --tz) and `wait` until one opens."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pexpect
import pytest
from conftest import DATA, ROOT, cli_env, journal_records, run_child, run_main
from test_executor_helpers import Harness, harness, load, with_wizard_logs

from ocsrun.errors import AnswersError, ParamError, ZoneNotGiven
from ocsrun.run import events as ev
from ocsrun.run.executor import Executor
from ocsrun.run.gates import in_window, next_opening, window_zone
from ocsrun.run.operator import Ask, Screen, ScriptedOperator, parse_answers
from ocsrun.run.session import settle_zone
from ocsrun.runbook import model as m
from ocsrun.runbook.build import load_runbook

ANSWERS = """
defaults: {after_step: done, acknowledge: true, gate: true, checklist: all,
           after_failure: goto}
steps:
  off-peak: {window: [wait]}
"""
PARAMS = {"roles": ("front-end",), "check_services_with_command": False}


def off_peak_gate() -> m.Gate:
    runbook = load("deactivate-se-ee-roles.yaml")
    gate = next(s.gate for _, s in m.walk(runbook.steps) if s.id == "off-peak")
    assert gate is not None
    return gate


def test_bundled_off_peak_window_is_in_the_users_zone() -> None:
    gate = off_peak_gate()
    assert gate.timezone == "ask"
    assert window_zone(gate, "Asia/Tokyo") == "Asia/Tokyo"
    # Wednesday 12:00 UTC is 21:00 in Tokyo: off-peak there, not in London.
    noon = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert in_window(gate, noon, "Asia/Tokyo") and not in_window(gate, noon, "Europe/London")


def test_next_opening_is_the_next_window_start_in_that_zone() -> None:
    gate = off_peak_gate()
    noon = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday
    opening = next_opening(gate, noon, "America/New_York")
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 20:00 EST


class WaitingOperator(ScriptedOperator):
    """Waits by moving the test's clock (no sleeping in a unit test)."""

    def __init__(self, h: Harness, answers: str) -> None:
        answers = with_wizard_logs(answers, h.runbook)
        super().__init__(parse_answers(answers, h.operator.answers.base))
        self.h = h
        self.waits: list[int] = []

    def wait(self, ask: Ask, seconds: int) -> bool:
        self.waits.append(seconds)
        self.h.clock.advance(seconds=seconds)
        return True


def test_wait_journals_the_opening_and_passes_once_open() -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), ANSWERS, params=PARAMS)
    h.clock.now = datetime(2026, 11, 25, 19, 59, 57, tzinfo=UTC)  # Wed 19:59:57 in London (GMT)
    operator = WaitingOperator(h, ANSWERS)
    executor = Executor(
        h.runbook,
        operator,
        h.handle,
        clock=h.clock,
        params=h.params,
        target=h.target,
        gate_runner=h.gates,
        timezone="Europe/London",
    )
    assert executor.run() == "done"
    assert operator.waits == [4]  # 3 seconds to 20:00, rounded up
    (wait,) = h.handle.of(ev.GATE_WAIT)
    assert wait["timezone"] == "Europe/London" and wait["until"].startswith("2026-11-25T20:00")
    passed = next(p for p in h.handle.of(ev.GATE_PASSED) if p["step"] == "off-peak")
    assert passed["window"]["timezone"] == "Europe/London" and passed["waited"] == 4
    assert h.handle.of(ev.RUN_STARTED)[0]["timezone"] == "Europe/London"


def test_without_a_zone_the_journal_names_the_machine_clock() -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), ANSWERS, params=PARAMS)
    h.run()  # Saturday 22:00 UTC: open
    started = h.handle.of(ev.RUN_STARTED)[0]
    assert str(started["timezone"]).startswith("local:")
    passed = next(p for p in h.handle.of(ev.GATE_PASSED) if p["step"] == "off-peak")
    assert str(passed["window"]["timezone"]).startswith("local:")


def test_tz_must_be_a_known_zone() -> None:
    runbook = load("deactivate-se-ee-roles.yaml")
    answers = parse_answers("timezone: Mars/Olympus", Path("."))
    with pytest.raises(ParamError, match="'Mars/Olympus' is not a known IANA time zone"):
        settle_zone(runbook, None, ScriptedOperator(answers), answers)
    assert settle_zone(runbook, "Europe/Paris", ScriptedOperator(answers), answers) == (
        "Europe/Paris"
    )


def test_a_day_only_window_opens_at_midnight() -> None:
    # A window entry that only names days opens at midnight of its first day.
    gate = m.Gate(
        type="time_window",
        prompt="p",
        windows=(m.TimeWindow(days=("sun",)),),
    )
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert next_opening(gate, saturday, "UTC") == saturday + timedelta(hours=12)


def test_an_answers_file_without_a_zone_stops_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`timezone: ask` and nobody to ask: exit 2 with one line, no run created, no guess."""
    example = ROOT / "examples" / "rehearsals" / "deactivate-se-ee-roles.yaml"
    answers = tmp_path / "rehearsals" / "answers.yaml"
    answers.parent.mkdir()
    text = example.read_text(encoding="utf-8")
    answers.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("timezone:")),
        encoding="utf-8",
    )
    # The example's wizard logs are relative to its folder.
    shutil.copytree(ROOT / "examples" / "evidence", tmp_path / "evidence")
    state = tmp_path / "state"
    for command in ("run", "rehearse"):
        code, out, err = run_main(
            capsys, command, "ocs2007.deactivate-se-ee-roles",
            "--answers", str(answers), "--state-dir", str(state),
        )  # fmt: skip
        assert code == 2, out + err
        (line,) = [e for e in err.splitlines() if e.strip()]
        assert "step off-peak: its time window is in the users' time zone" in line
        assert "--tz ZONE" in line and "`timezone: ZONE` in the answers file" in line
        assert "Step " not in out  # nothing of any step was shown
        assert not (state / "runs").exists() or not list((state / "runs").iterdir())
    # The same file with --tz runs (the zone given is what is journaled).
    code, out, err = run_main(
        capsys, "rehearse", "ocs2007.deactivate-se-ee-roles",
        "--answers", str(answers), "--state-dir", str(state), "--tz", "Asia/Tokyo",
    )  # fmt: skip
    assert code == 0, err
    (run_id,) = [p.name for p in (state / "runs").iterdir()]
    started = journal_records(state, run_id)[0]
    assert started["type"] == "run.started" and started["data"]["timezone"] == "Asia/Tokyo"


def test_settle_zone_never_falls_back_to_the_machine_for_an_ask_window() -> None:
    runbook = load("deactivate-se-ee-roles.yaml")
    answers = parse_answers("params: {}", Path("."))
    with pytest.raises(ZoneNotGiven) as raised:
        settle_zone(runbook, None, ScriptedOperator(answers), answers)
    assert raised.value.exit_code == 2


NEVER = DATA / "window" / "never.yaml"


class Recording(ScriptedOperator):
    """Scripted answers; records the answers each action question offered, moves the harness
    clock at `step`'s first question, and stops the first wait (Ctrl-C) if told."""

    def __init__(self, h: Harness, answers: str, move_at: str = "", minutes: float = 0) -> None:
        super().__init__(parse_answers(answers, h.operator.answers.base))
        self.h, self.move_at, self.minutes = h, move_at, minutes
        self.offered: list[tuple[str, str, tuple[str, ...]]] = []
        self.stop_first_wait = False
        self.waits: list[int] = []

    def _move(self, ask: Ask) -> None:
        if ask.step == self.move_at and self.minutes:
            self.h.clock.advance(minutes=self.minutes)
            self.minutes = 0

    def confirm(self, ask: Ask) -> bool:
        self._move(ask)
        return super().confirm(ask)

    def action(self, ask: Ask, actions: tuple[str, ...]) -> str:
        self.offered.append((ask.step, ask.name, actions))
        self._move(ask)
        return super().action(ask, actions)

    def wait(self, ask: Ask, seconds: int) -> bool:
        self.waits.append(seconds)
        if self.stop_first_wait:
            self.stop_first_wait = False
            return False  # Ctrl-C during the countdown
        self.h.clock.advance(seconds=seconds)
        return True


def never_executor(h: Harness, operator: ScriptedOperator) -> Executor:
    return Executor(
        h.runbook, operator, h.handle, clock=h.clock, params=h.params, target=h.target,
        gate_runner=h.gates,
    )  # fmt: skip


def test_a_window_closed_before_a_later_step_offers_wait_and_waits() -> None:
    # Opened at 20:59 UTC, the window closes during `first`: before `second` the run stops
    # there, and (override: never) the only answers are wait and abort.
    h = harness(load_runbook(NEVER), "defaults: {after_step: done}", target=None)
    h.clock.now = datetime(2026, 11, 25, 20, 59, tzinfo=UTC)
    operator = Recording(h, "steps: {second: {window: [wait, wait]}}\ndefaults: {after_step: done}",
                         move_at="first", minutes=2)  # fmt: skip
    operator.stop_first_wait = True
    assert never_executor(h, operator).run() == "done"
    windows = [(s, a) for s, n, a in operator.offered if n == "window"]
    assert windows == [("second", ("wait", "abort"))] * 2  # asked again after the Ctrl-C
    # 21:01 to the next day's 20:00 (plus the second rounding up); the first was stopped.
    assert operator.waits == [82741, 82741]
    waits = h.handle.of(ev.GATE_WAIT)
    assert [(w["step"], w["before"], w["timezone"]) for w in waits] == [
        ("window", "second", "UTC")
    ] * 2
    (stopped,) = h.handle.of(ev.GATE_WAIT_STOPPED)
    assert (stopped["step"], stopped["before"]) == ("window", "second")
    again = [p for p in h.handle.of(ev.GATE_PASSED) if p.get("before")]
    assert [(p["step"], p["before"], p["waited"]) for p in again] == [("window", "second", 82741)]
    assert h.done_steps() == ["window", "first", "second"]


def test_a_window_closed_before_a_later_step_may_be_overridden_unless_never() -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), ANSWERS, params=PARAMS)
    h.clock.now = datetime(2026, 11, 27, 5, 50, tzinfo=UTC)  # Friday 05:50, window ends 06:00
    answers = ANSWERS.replace("off-peak: {window: [wait]}", "stop-services: {window: [wait]}")
    operator = Recording(h, with_wizard_logs(answers, h.runbook), "sessions-completed", 20)
    executor = Executor(
        h.runbook, operator, h.handle, clock=h.clock, params=h.params, target=h.target,
        gate_runner=h.gates, timezone="Europe/London",
    )  # fmt: skip
    assert executor.run() == "done"
    windows = [(s, a) for s, n, a in operator.offered if n == "window"]
    assert windows == [("stop-services", ("wait", "override", "abort"))]
    (wait,) = h.handle.of(ev.GATE_WAIT)
    assert (wait["step"], wait["before"]) == ("off-peak", "stop-services")
    # Friday 06:10 in London: the window opens again at 20:00.
    assert wait["until"].startswith("2026-11-27T20:00")


def test_override_never_at_the_gate_offers_wait_and_abort_only() -> None:
    h = harness(load_runbook(NEVER), "defaults: {after_step: done}", target=None)
    h.clock.now = datetime(2026, 11, 25, 19, 59, 58, tzinfo=UTC)
    operator = Recording(h, "steps: {window: {window: override}}")
    with pytest.raises(AnswersError, match="'override' is not one of: wait, abort"):
        never_executor(h, operator).run()
    h = harness(load_runbook(NEVER), "defaults: {after_step: done}", target=None)
    h.clock.now = datetime(2026, 11, 25, 19, 59, 58, tzinfo=UTC)
    operator = Recording(h, "steps: {window: {window: wait}}\ndefaults: {after_step: done}")
    assert never_executor(h, operator).run() == "done"
    assert operator.waits == [3]
    passed = next(p for p in h.handle.of(ev.GATE_PASSED) if p["step"] == "window")
    assert passed["waited"] == 3 and not h.handle.of(ev.GATE_FAILED)


def test_a_scripted_wait_says_how_long_in_its_log() -> None:
    shown: list[Screen] = []
    operator = ScriptedOperator(parse_answers("{}", Path(".")), display=shown.append)
    assert operator.wait(Ask("off-peak", "wait", "Waiting for the window to open at X"), 0)
    assert [s.title for s in shown] == ["Waiting for the window to open at X: waiting 0s"]


def spawn_at(state: Path, now: str, *args: str) -> pexpect.spawn:
    """`ocsrun ARGS` at a real terminal, its clock standing at `now` (then running on)."""
    env = {**cli_env(state), "TERM": "dumb", "LANG": "C.UTF-8", "OCSRUN_TEST_NOW": now}
    return pexpect.spawn(
        sys.executable, ["-m", "ocsrun", *args, "--state-dir", str(state)], cwd=str(ROOT),
        env=env, encoding="utf-8", timeout=60, dimensions=(50, 100),
    )  # fmt: skip


def test_at_a_terminal_never_offers_wait_and_a_ctrl_c_stops_only_the_wait(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = spawn_at(state, "2026-11-25T19:59:54+00:00", "run", str(NEVER))
    child.expect(r"Run id: (\S+)")
    run_id = child.match.group(1)
    child.expect(
        r"Outside the time window \(wed 2026-11-25 19:59 UTC; it opens wed 2026-11-25 20:00"
    )
    child.expect(r"wait / abort \(\? explains\)")
    child.sendline("?")
    child.expect(r"wait: wait here until the window opens")
    child.expect(r"abort: stop the run here")
    child.expect(r"wait / abort \(\? explains\)")
    assert "override" not in (child.before or "")
    child.sendline("W")
    child.expect(r"Window opens in 0:00:0\d \(Ctrl-C stops waiting\)")
    child.sendcontrol("c")
    child.expect("Stopped waiting for the window")
    child.expect(r"wait / abort \(\? explains\)")  # asked again, the run goes on
    child.sendline("wait")
    child.expect("The window is open")
    for _ in range(2):
        child.expect(r"done / [^\r\n]*\(\? explains\)")
        child.sendline("done")
    child.expect("Run done")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    types = [r["type"] for r in journal_records(state, run_id)]
    assert types.count("gate.wait") == 2 and types.count("gate.wait-stopped") == 1
    assert "gate.overridden" not in types and "gate.failed" not in types


def test_at_a_terminal_a_window_closed_at_resume_offers_wait(tmp_path: Path) -> None:
    # Passed at 20:30; the run is interrupted; resumed the next evening just before the
    # window opens again, it stops before the next step and offers to wait.
    state = tmp_path / "state"
    child = spawn_at(state, "2026-11-25T20:30:00+00:00", "run", str(NEVER))
    child.expect(r"Run id: (\S+)")
    run_id = child.match.group(1)
    child.expect(r"Check passed: step 1")
    child.expect(r"done / [^\r\n]*\(\? explains\)")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130

    child = spawn_at(state, "2026-11-26T19:59:55+00:00", "resume", run_id)
    child.expect(r"The time window of step 1 \(window\) has closed before step 2")
    child.expect(r"wait / abort \(\? explains\)")
    child.sendline("wait")
    child.expect(r"Window opens in 0:00:0\d")
    child.expect("The window is open")
    for _ in range(2):
        child.expect(r"done / [^\r\n]*\(\? explains\)")
        child.sendline("done")
    child.expect("Run done")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    records = journal_records(state, run_id)
    (wait,) = [r["data"] for r in records if r["type"] == "gate.wait"]
    assert (wait["step"], wait["before"]) == ("window", "first")
    again = [r["data"] for r in records if r["type"] == "gate.passed" and r["data"].get("before")]
    assert [(p["step"], p["before"]) for p in again] == [("window", "first")]
    # `runs show` tells it as what it was.
    show = run_child(state, "runs", "show", run_id)
    assert "closed before first; waited for the window to open at 2026-11-26T20:00" in show.stdout
    assert "the window open again before first" in show.stdout
