"""The step's own time: interruptions excluded, earlier sessions' time carried by a resume."""

from __future__ import annotations

import pytest
from test_executor import SE, Interrupting
from test_executor_helpers import Clock, harness, load

from ocsrun.errors import Interrupted
from ocsrun.run import events as ev
from ocsrun.run.operator import Screen
from ocsrun.run.state import replay
from ocsrun.store.journal import GENESIS, make_record
from ocsrun.store.protocol import Record
from ocsrun.units import format_duration

GENERIC = """
defaults: {after_step: done, acknowledge: true, gate: true, checklist: all,
           after_failure: goto}
"""


def journal(*entries: tuple[int, str, dict[str, object]]) -> list[Record]:
    """Records at `seconds` after 2026-11-30 10:00:00 UTC."""
    records, prev = [], GENESIS
    for seq, (seconds, kind, data) in enumerate(entries, start=1):
        minute, second = divmod(seconds, 60)
        hour, minute = divmod(minute, 60)
        ts = f"2026-11-30T{10 + hour:02d}:{minute:02d}:{second:02d}.000000Z"
        record = make_record(seq, kind, data, prev, operator="t@h", ts=ts)
        records.append(record)
        prev = record.hash
    return records


def step(kind: str, path: str, attempt: int = 1) -> tuple[str, dict[str, object]]:
    return kind, {"step": path, "attempt": attempt}


def test_a_resume_carries_the_time_of_the_interrupted_attempt_not_the_interruption() -> None:
    state = replay(
        journal(
            (0, ev.RUN_STARTED, {"target": "x"}),
            (10, *step(ev.STEP_STARTED, "loop")),
            (10, *step(ev.STEP_STARTED, "loop.a")),
            (75, ev.RUN_INTERRUPTED, {"reason": "interrupt"}),
            (3600, ev.RUN_RESUMED, {"records": 4}),  # an hour away: not the step's time
            (3601, *step(ev.STEP_STARTED, "loop.a", 2)),
            (3631, ev.RUN_INTERRUPTED, {"reason": "interrupt"}),
            (7200, ev.RUN_RESUMED, {"records": 7}),
        )
    )
    leaf, loop = state.step("loop.a"), state.step("loop")
    # 65 s in the first session and 30 s in the second; the resumed attempt takes them over.
    assert (leaf.spent, leaf.carried) == (95.0, True)
    # The loop is not started again at a resume: it keeps its time from both sessions too.
    assert (loop.spent, loop.carried) == (65.0 + 31.0, True)


def test_a_retry_or_a_finished_step_carries_nothing() -> None:
    state = replay(
        journal(
            (0, ev.RUN_STARTED, {"target": "x"}),
            (0, *step(ev.STEP_STARTED, "a")),
            (50, ev.STEP_RETRY, {"step": "a", "attempt": 1, "reset": ["a"]}),
            (60, *step(ev.STEP_STARTED, "a", 2)),
            (70, *step(ev.STEP_DONE, "a", 2)),
            (70, *step(ev.STEP_STARTED, "b")),
            (80, ev.STEP_RETRY, {"step": "b", "attempt": 1, "reset": ["b"]}),
            (90, ev.RUN_INTERRUPTED, {"reason": "interrupt"}),
            (900, ev.RUN_RESUMED, {"records": 8}),
        )
    )
    assert not state.step("a").carried
    assert (state.step("b").spent, state.step("b").carried) == (0.0, False)


class Screens:
    """Keeps every screen shown; five minutes pass when one whose title holds `slow` is shown."""

    def __init__(self, inner: object, clock: Clock | None = None, slow: str = "") -> None:
        self.inner, self.clock, self.slow = inner, clock, slow
        self.shown: list[Screen] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def show(self, screen: Screen) -> None:
        self.shown.append(screen)
        if self.clock is not None and self.slow and self.slow in screen.title:
            self.clock.advance(minutes=5)
        self.inner.show(screen)  # type: ignore[attr-defined]


def test_the_resumed_step_shows_and_reports_its_own_time_across_the_interruption() -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), GENERIC, params=SE)
    title = next(s.title for s in h.runbook.steps if s.id == "stop-services")
    inner = h.operator
    # Five minutes on the step, then Ctrl-C at its first question.
    slow = Screens(inner, h.clock, slow=title)
    h.operator = Interrupting(slow, "stop-services", KeyboardInterrupt())  # type: ignore[assignment]
    with pytest.raises(Interrupted):
        h.run()
    h.clock.advance(hours=2)  # the night shift goes home; the interruption is not the step's
    screens = Screens(inner)
    h.operator = screens  # type: ignore[assignment]
    h.executor(resume=True).resume()
    shown = next(s for s in screens.shown if s.kind == "step" and title in s.title)
    assert shown.spent == pytest.approx(300.0)
    assert f"Attempt 2 · {format_duration(300.0)} so far" in shown.lines
    number = shown.title.split(" ")[1]
    done = next(s for s in screens.shown if s.title.startswith(f"Step {number} done in"))
    assert done.title == f"Step {number} done in {format_duration(300.0)}"
    assert h.handle.of(ev.RUN_RESUMED)


def test_a_fresh_step_starts_at_zero() -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), GENERIC, params=SE)
    screens = Screens(h.operator)
    h.operator = screens  # type: ignore[assignment]
    h.run()
    assert all(s.spent == 0.0 for s in screens.shown if s.kind == "step")
