"""Time in a run (issue 11, problems 4 and 8): a session clock that cannot go back, negative
ages across sessions counted as expired, and staleness asked only at the runbook's checkpoints.

No wall clock is read or changed: every clock here is injected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_executor import GENERIC, SE, Harness
from test_executor_helpers import harness, load
from test_executor_resume import interrupted_at

from ocsrun.run import events as ev
from ocsrun.run.flow import session_clock


class Ticker:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.t = 5000.0

    def __call__(self) -> float:
        return self.t


class Wall:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_session_clock_ignores_a_wall_clock_set_back() -> None:
    wall, tick = Wall(), Ticker()
    now = session_clock(wall, tick)
    first = now()
    wall.now -= timedelta(hours=1)  # someone sets the clock back...
    tick.t += 10  # ...while ten seconds pass
    assert now() - first == timedelta(seconds=10)


class AtStep:
    """At the first question about `step`: move the wall clock and the monotonic clock."""

    def __init__(self, h: Harness, step: str, wall: timedelta, elapsed: float) -> None:
        self.h, self.step, self.wall, self.elapsed, self.moved = h, step, wall, elapsed, False
        self.inner = h.operator

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)
        if name == "show":
            return method

        def ask(ask: object, *args: object) -> object:
            if getattr(ask, "step", None) == self.step and not self.moved:
                self.moved = True
                self.h.clock.now += self.wall
                assert self.h.monotonic is not None
                self.h.monotonic.t += self.elapsed  # type: ignore[attr-defined]
            return method(ask, *args)

        return ask


def _session(wall: timedelta, elapsed: float) -> Harness:
    answers = GENERIC + "steps:\n  sessions-completed: {gate: [true, true]}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.monotonic = Ticker()
    h.operator = AtStep(h, "stop-services", wall, elapsed)  # type: ignore[assignment]
    h.run()
    return h


def test_a_wall_clock_set_back_mid_session_does_not_refresh_a_confirmation() -> None:
    # Sixteen real minutes pass while the wall clock is set back an hour: still stale.
    h = _session(timedelta(hours=-1), 16 * 60)
    expired = h.handle.of(ev.GATE_EXPIRED)
    assert [(e["step"], e["before"]) for e in expired] == [
        ("sessions-completed", "deactivate-roles")
    ]
    assert "clock_back" not in expired[0]


def test_a_wall_clock_set_forward_mid_session_does_not_expire_a_confirmation() -> None:
    # Five real minutes, the wall clock jumps two hours: the answer is five minutes old.
    h = _session(timedelta(hours=2), 5 * 60)
    assert h.handle.of(ev.GATE_EXPIRED) == []


def test_a_negative_age_across_sessions_is_expired_and_journaled() -> None:
    h = interrupted_at("stop-services")
    h.clock.advance(hours=-1)  # the next session's wall clock is an hour behind
    h.resume(GENERIC)
    expired = h.handle.of(ev.GATE_EXPIRED)
    assert [(e["step"], e["before"], e["clock_back"]) for e in expired] == [
        ("sessions-completed", "stop-services", True)
    ]
    assert expired[0]["age"] < 0
    passes = [p for p in h.handle.of(ev.GATE_PASSED) if p["step"] == "sessions-completed"]
    assert len(passes) == 2  # asked again, answered again


def test_staleness_waits_for_the_next_role_never_inside_a_wizard() -> None:
    answers = GENERIC + "steps:\n  sessions-completed: {gate: [true, true]}\n"
    params = {"roles": ("web-components", "front-end"), "check_services_with_command": False}
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=params)
    h.monotonic = Ticker()
    # Twenty minutes pass at the first wizard step of the first role.
    first_wizard = "deactivate-roles[web-components].wizard.run-wizard"
    h.operator = AtStep(h, first_wizard, timedelta(minutes=20), 20 * 60)  # type: ignore[assignment]
    h.run()
    expired = h.handle.of(ev.GATE_EXPIRED)
    # Asked again once, before the next role starts: not before the wizard's later steps.
    assert [(e["step"], e["before"]) for e in expired] == [
        ("sessions-completed", "deactivate-roles[front-end].start-wizard")
    ]


def test_an_unmarked_runbook_checks_before_every_step() -> None:
    # A runbook that marks no checkpoint keeps the earlier behaviour (docs/format.md).
    import dataclasses

    runbook = load("deactivate-se-ee-roles.yaml")
    steps = tuple(dataclasses.replace(s, checkpoint=False) for s in runbook.steps)
    runbook = dataclasses.replace(runbook, steps=steps)
    answers = GENERIC + "steps:\n  sessions-completed: {gate: [true, true]}\n"
    h = harness(runbook, answers, params=SE)
    h.monotonic = Ticker()
    h.operator = AtStep(h, "stop-services", timedelta(0), 16 * 60)  # type: ignore[assignment]
    h.run()
    expired = h.handle.of(ev.GATE_EXPIRED)
    assert [(e["step"], e["before"]) for e in expired] == [
        ("sessions-completed", "open-computer-management")
    ]
