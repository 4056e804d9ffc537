"""Time windows in the users' zone (`timezone: ask`, --tz) and `wait` until one opens."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, journal_records, run_main
from test_executor_helpers import Harness, harness, load, with_wizard_logs

from ocsrun.errors import ParamError, ZoneNotGiven
from ocsrun.run import events as ev
from ocsrun.run.executor import Executor
from ocsrun.run.gates import in_window, next_opening, window_zone
from ocsrun.run.operator import Ask, ScriptedOperator, parse_answers
from ocsrun.run.session import settle_zone
from ocsrun.runbook import model as m

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
