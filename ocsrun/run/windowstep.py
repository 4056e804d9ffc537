"""A time_window gate at run time: judged in the right zone, and waited for on request.

The zone is the gate's own (`timezone: Europe/Berlin`), or, for `timezone: ask` or
none, the run's (`--tz`, the answers file, or asked at the start; else this
machine's), and it is journaled with every window record, never as None. Wherever
the run stops because of a window — its gate step, or a window passed earlier that
has closed before a later step — the operator may `wait` (a countdown until the
window opens; Ctrl-C stops the wait and asks again), `override` with a reason
(unless the runbook says `override: never`) or `abort`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocsrun.run import events as ev
from ocsrun.run.gates import in_window, local_time_text, next_opening, window_zone, zone_label
from ocsrun.run.operator import Ask, Screen
from ocsrun.runbook import model as m

if TYPE_CHECKING:
    from ocsrun.run.flow import StepHost

OPEN, OVERRIDDEN, CLOSED = "open", "overridden", "closed"


def judge(x: StepHost, gate: m.Gate, path: str, prompt: str) -> tuple[Any, dict[str, Any]]:
    """(True | False | "overridden", journal data) for a time_window gate."""
    outcome, data = settle(x, gate, path, "Outside the time window", prompt=prompt)
    return {OPEN: True, OVERRIDDEN: "overridden"}.get(outcome, False), data


def settle(
    x: StepHost, gate: m.Gate, path: str, what: str, *, prompt: str = "", before: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Ask until the window is open or overridden: (OPEN | OVERRIDDEN | CLOSED, journal data).

    CLOSED only when nothing may be done: `override: never` and no opening within a week.
    `before` names the later step a re-check is for: the questions are asked there (an
    answers file answers them under that step), journaled on the gate with `before`.
    """
    at = before or path
    zone = window_zone(gate, x.timezone)
    waited = 0
    later = {"before": before} if before else {}
    while True:
        now = x.now()
        window = {"now": local_time_text(now, zone), "timezone": zone_label(zone)}
        if in_window(gate, now, zone):
            return OPEN, {"window": window, **({"waited": waited} if waited else {})}
        opening = next_opening(gate, now, zone)
        choices = (
            *(("wait",) if opening else ()),
            *(("override",) if gate.override != "never" else ()),
            "abort",
        )
        if choices == ("abort",):
            return CLOSED, {"reason": f"outside the window at {window['now']}", "window": window}
        opens = f"; it opens {local_time_text(opening, zone)}" if opening else ""
        ask = Ask(at, "window", f"{what} ({window['now']}{opens}). {prompt}".strip())
        action = x.operator.action(ask, choices)
        if action == "abort":
            x.abort(at, "outside the time window")
        if action == "override":
            reason = x.ask_text(Ask(at, "override_reason", "Reason for overriding the window"))
            return OVERRIDDEN, {"reason": reason, "window": window}
        assert opening is not None
        seconds = max(0, int((opening - now).total_seconds()) + 1)
        x.step_event(
            ev.GATE_WAIT,
            path,
            until=opening.isoformat(),
            seconds=seconds,
            timezone=window["timezone"],
            **later,
        )
        done = x.operator.wait(
            Ask(at, "wait", f"Waiting for the window to open at {local_time_text(opening, zone)}"),
            seconds,
        )
        if done:
            waited += seconds
        else:
            x.step_event(ev.GATE_WAIT_STOPPED, path, reason="stopped by the operator", **later)
            x.operator.show(Screen("info", "Stopped waiting for the window"))
