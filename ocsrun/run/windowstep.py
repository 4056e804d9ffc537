"""A time_window gate at run time: judged in the right zone, and waited for on request.

The zone is the gate's own (`timezone: Europe/Berlin`), or, for `timezone: ask` or
none, the run's (`--tz`, the answers file, or asked at the start; else this
machine's), and it is journaled with every window record, never as None. Outside
the window the operator may `wait` (a countdown until the window opens; Ctrl-C
stops the wait and asks again), `override` with a reason (unless the runbook says
`override: never`) or `abort`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocsrun.run import events as ev
from ocsrun.run.gates import in_window, local_time_text, next_opening, window_zone, zone_label
from ocsrun.run.operator import Ask, Screen
from ocsrun.runbook import model as m

if TYPE_CHECKING:
    from ocsrun.run.flow import StepHost


def judge(x: StepHost, gate: m.Gate, path: str, prompt: str) -> tuple[Any, dict[str, Any]]:
    """(True | False | "overridden", journal data) for a time_window gate."""
    zone = window_zone(gate, x.timezone)
    waited = 0
    while True:
        now = x.now()
        window = {"now": local_time_text(now, zone), "timezone": zone_label(zone)}
        if in_window(gate, now, zone):
            return True, {"window": window, **({"waited": waited} if waited else {})}
        if gate.override == "never":
            return False, {"reason": f"outside the window at {window['now']}", "window": window}
        opening = next_opening(gate, now, zone)
        opens = f"; it opens {local_time_text(opening, zone)}" if opening else ""
        choices = ("wait", "override", "abort") if opening else ("override", "abort")
        ask = Ask(path, "window", f"Outside the time window ({window['now']}{opens}). {prompt}")
        action = x.operator.action(ask, choices)
        if action == "abort":
            x.abort(path, "outside the time window")
        if action == "override":
            reason = x.ask_text(Ask(path, "override_reason", "Reason for overriding the window"))
            return "overridden", {"reason": reason, "window": window}
        assert opening is not None
        seconds = max(0, int((opening - now).total_seconds()) + 1)
        x.step_event(
            ev.GATE_WAIT,
            path,
            until=opening.isoformat(),
            seconds=seconds,
            timezone=window["timezone"],
        )
        done = x.operator.wait(
            Ask(
                path, "wait", f"Waiting for the window to open at {local_time_text(opening, zone)}"
            ),
            seconds,
        )
        if done:
            waited += seconds
        else:
            x.step_event(ev.GATE_WAIT_STOPPED, path, reason="stopped by the operator")
            x.operator.show(Screen("info", "Stopped waiting for the window"))
