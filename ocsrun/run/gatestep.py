"""Gate steps for the executor: asking, checking, failing over, and going stale.

Split from `executor` to keep each file to one job: this one decides whether a
gate holds and what its `on_failure` rule makes of a failure; the executor
decides what comes next. A passed gate stays *active* for the rest of its
scope: before every later step, an expired `valid_for` is asked again and a
time window is checked again (an override given once holds for that gate).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ocsrun.run import events as ev
from ocsrun.run.evidence_gate import evidence_gate
from ocsrun.run.flow import RETRY, ActiveGate, Goto
from ocsrun.run.gates import GateRunner, in_window, window_zone
from ocsrun.run.operator import Ask, Screen
from ocsrun.runbook import model as m
from ocsrun.runbook.templating import names_in, render
from ocsrun.units import format_duration

if TYPE_CHECKING:
    from ocsrun.run.flow import Outcome, StepHost


ZERO = timedelta(0)


class GateChecker:
    def __init__(
        self, host: StepHost, runner: GateRunner, optional_params: tuple[str, ...] = ()
    ) -> None:
        self.x = host
        self.optional_params = optional_params  # bool params off by default (see optional_param)
        self.runner = runner
        # Passed gates later steps rely on, innermost scope last (see `scope_depth`).
        self.active: list[ActiveGate] = []

    # --- active gates follow the walk's scopes ------------------------------------

    def scope_depth(self) -> int:
        return len(self.active)

    def leave_scope(self, depth: int) -> None:
        """Gates passed inside a scope (a for-each item, a fragment) cover that scope only."""
        del self.active[depth:]

    def forget(self, paths: set[str]) -> None:
        """Steps reset by a goto no longer vouch for what follows."""
        self.active = [g for g in self.active if g.path not in paths]

    # --- a gate step ---------------------------------------------------------------

    def gate_step(self, step: m.Step, path: str, context: Mapping[str, Any]) -> Outcome:
        gate = step.gate
        assert gate is not None
        if self.check(step, path, context):
            self.x.finish(step, path)
            now = self.x.now()
            # As replay keeps it: a walk passing this step again after `back` re-activates it.
            self.x.state.step(path).gate_passed = now.isoformat()
            self.activate(path, step, now, self.x.state.step(path).overridden, context)
            return None
        return self.after_failure(step, path, context)

    def after_failure(self, step: m.Step, path: str, context: Mapping[str, Any]) -> Outcome:
        """The failed gate's question: its on_failure action, abort, or (an optional command
        check) skip with a reason. Also asked first on resume when the run stopped at it: the
        journal holds gate.failed and no answer yet (`StepState.pending_failure`)."""
        gate = step.gate
        assert gate is not None
        self.x.state.step(path).pending_failure = False
        rule = gate.on_failure
        message = self.x.shown(rule.message, context, path) if rule.message else "Check failed."
        optional = self.optional_param(step)
        if rule.action == "abort" and optional is None:
            self.x.abort(path, message)
        actions: tuple[str, ...] = tuple(dict.fromkeys((rule.action, "abort")))
        if optional is not None:
            actions += ("skip",)
            message += f" (This check is optional: it runs because {optional} is on; skip it?)"
        action = self.x.operator.action(Ask(path, "after_failure", message), actions)
        if action == "abort":
            self.x.abort(path, "operator chose abort after a failed check")
        if action == "skip":
            reason = self.x.ask_text(Ask(path, "reason", "Why skip this optional check?"))
            self.x.finish(step, path, ev.STEP_SKIPPED, reason=reason, optional=optional)
            return None
        if action == "goto" and rule.goto is not None:
            return Goto(rule.goto)
        self.x.retry(path, cause=path)
        return RETRY

    def optional_param(self, step: m.Step) -> str | None:
        """The param that turned this command gate on, when it is only there because of one:
        its `when:` names a bool param whose default is false."""
        gate = step.gate
        if gate is None or gate.type != "command" or step.when is None:
            return None
        names = set(names_in(step.when))
        return next((name for name in self.optional_params if name in names), None)

    def check(self, step: m.Step, path: str, context: Mapping[str, Any]) -> bool:
        """Ask / evaluate the gate once; journal gate.passed, .overridden or .failed."""
        gate = step.gate
        assert gate is not None
        prompt = self.x.shown(gate.prompt, context, path)
        if gate.type == "evidence":
            ok, raw = evidence_gate(
                self.x, self.runner, step=step, path=path, prompt=prompt, context=context
            )
        else:
            ok, raw = getattr(self, "_" + gate.type)(gate, path, prompt, context)
        # Command output and log lines may echo a secret back: hide it before anyone sees it.
        data = self._hidden(raw)
        if ok == "overridden":
            self.x.step_event(ev.GATE_OVERRIDDEN, path, type=gate.type, **data)
            self.x.state.step(path).overridden = True
            return True
        if ok:
            self.x.step_event(ev.GATE_PASSED, path, type=gate.type, **data)
            self.x.operator.show(
                Screen("result", f"Check passed: step {self.x.number(path)} ({path})", level="ok")
            )
            return True
        record = self.x.state.step(path)
        record.gate_failures += 1
        self.x.step_event(
            ev.GATE_FAILED,
            path,
            type=gate.type,
            failures=record.gate_failures,
            action=gate.on_failure.action,
            **data,
        )
        self.x.operator.show(
            Screen(
                "result",
                f"Check failed (failure {record.gate_failures}): "
                f"step {self.x.number(path)} ({path})",
                str(data.get("reason", "")),
                tuple(data.get("lines", ())),
                level="fail",
            )
        )
        return False

    # --- one method per gate type: (ok, journal data) ---------------------------------

    def _confirm(self, gate: m.Gate, path: str, prompt: str, ctx: Mapping[str, Any]) -> Any:
        yes = self.x.operator.confirm(Ask(path, "gate", prompt))
        return yes, {"answer": "yes"} if yes else {"answer": "no", "reason": "not confirmed"}

    def _typed_confirmation(
        self, gate: m.Gate, path: str, prompt: str, ctx: Mapping[str, Any]
    ) -> Any:
        expected = render(gate.expect or "", ctx, path)
        typed = self.x.operator.type_text(Ask(path, "gate", prompt), self.x.hide(expected))
        if typed.strip() == expected:
            return True, {"typed": self.x.hide(expected)}
        return False, {"reason": "what was typed does not match"}

    def _checklist(self, gate: m.Gate, path: str, prompt: str, ctx: Mapping[str, Any]) -> Any:
        items = tuple(self.x.shown(i, ctx, path) for i in gate.items)
        ticked = set(self.x.operator.checklist(Ask(path, "checklist", prompt), items))
        missing = [i for i in items if i not in ticked]
        if missing:
            return False, {"reason": f"{len(missing)} item(s) not ticked", "lines": missing}
        return True, {"items": len(items)}

    def _time_window(self, gate: m.Gate, path: str, prompt: str, ctx: Mapping[str, Any]) -> Any:
        from ocsrun.run import windowstep

        return windowstep.judge(self.x, gate, path, prompt)

    def _command(self, gate: m.Gate, path: str, prompt: str, ctx: Mapping[str, Any]) -> Any:
        argv = tuple(render(a, ctx, path) for a in gate.argv)
        shown = tuple(self.x.hide(a) for a in argv)
        if self.x.rehearsal:
            self.x.operator.show(
                Screen("info", "Rehearsal: command not run", "", (" ".join(shown),))
            )
            return True, {"rehearsal": True, "executed": False, "argv": list(shown)}
        result = self.runner.command(gate, argv)
        data: dict[str, Any] = {**result.as_data(), "argv": list(shown)}
        ok = result.exit_code == gate.expect_exit
        if not ok:
            why = result.error or ("timed out" if result.timed_out else f"exit {result.exit_code}")
            data["reason"] = f"{why}, expected exit {gate.expect_exit}"
            data["lines"] = result.output.splitlines()[-20:]
        return ok, data

    def _hidden(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.x.hide(value)
        if isinstance(value, dict):
            return {k: self._hidden(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._hidden(v) for v in value]
        return value

    # --- staleness ----------------------------------------------------------------

    def activate(
        self,
        path: str,
        step: m.Step,
        when: datetime,
        overridden: bool,
        context: Mapping[str, Any],
    ) -> None:
        gate = step.gate
        assert gate is not None
        if gate.valid_for_seconds is None and gate.type != "time_window":
            return
        self.active = [g for g in self.active if g.path != path]
        self.active.append(ActiveGate(path, step, when, overridden, dict(context)))

    def recheck_active(self, before: str, *, stale: bool = True) -> None:
        """Before a step: time windows always; `valid_for` only when `stale` (a checkpoint)."""
        for active in list(self.active):
            gate = active.step.gate
            assert gate is not None
            now = self.x.now()
            valid = gate.valid_for_seconds
            age = now - active.passed_at
            # A negative age means the clock was set back between sessions: nobody can say
            # how old the answer is, so it is stale (and journaled as such).
            if stale and valid is not None and (age > timedelta(seconds=valid) or age < ZERO):
                self._expired(active, before, valid)
            elif gate.type == "time_window" and not active.overridden:
                self._window_again(active, before, now)

    def _expired(self, active: ActiveGate, before: str, valid: int) -> None:
        seconds = (self.x.now() - active.passed_at).total_seconds()
        back = {"clock_back": True, "age": round(seconds, 3)} if seconds < 0 else {}
        self.x.record(
            ev.GATE_EXPIRED,
            step=active.path,
            passed=active.passed_at.isoformat(),
            valid_for=valid,
            before=before,
            **back,
        )
        age = (
            "at a later time than now (the clock was set back)"
            if seconds < 0
            else f"{format_duration(seconds)} ago"
        )
        self.x.operator.show(
            Screen(
                "info",
                f"Step {self.x.number(active.path)} · {active.step.title}: answered {age}, "
                f"valid for {format_duration(valid)}; asking again before step "
                f"{self.x.number(before)}",
            )
        )
        while not self.check(active.step, active.path, active.context):
            action = self.x.operator.action(
                Ask(active.path, "after_failure", "The check failed again"), ("retry", "abort")
            )
            if action == "abort":
                self.x.abort(active.path, "a stale check failed")
        active.passed_at = self.x.now()
        active.overridden = self.x.state.step(active.path).overridden

    def _window_again(self, active: ActiveGate, before: str, now: datetime) -> None:
        """A window passed earlier has closed before a later step: the same answers as at the
        gate (wait, override unless `never`, abort), journaled on the gate with `before`."""
        from ocsrun.run import windowstep

        gate = active.step.gate
        assert gate is not None
        if in_window(gate, now, window_zone(gate, self.x.timezone)):
            return
        what = (
            f"The time window of step {self.x.number(active.path)} ({active.path}) has closed "
            f"before step {self.x.number(before)}"
        )
        outcome, data = windowstep.settle(self.x, gate, active.path, what, before=before)
        if outcome == windowstep.CLOSED:
            closed = data["window"]["now"]
            self.x.abort(before, f"the time window of {active.path} closed at {closed}")
        event = ev.GATE_OVERRIDDEN if outcome == windowstep.OVERRIDDEN else ev.GATE_PASSED
        self.x.step_event(event, active.path, type=gate.type, before=before, **data)
        if outcome == windowstep.OVERRIDDEN:
            active.overridden = True
        else:  # waited until it opened again
            active.passed_at = self.x.now()
