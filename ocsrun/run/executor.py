"""The executor: walks a loaded runbook, asks the Operator, journals every decision.

Pure by design: it never prints, reads the keyboard or touches files itself.
Screens and questions go to the `Operator`; evidence files and commands go
through the `GateRunner`; every decision is appended to the journal (`RunHandle`,
durable before `append` returns) before the walk moves on. Resuming is the same
walk over a `RunState` replayed from the journal: finished steps are passed over
silently (their answers restored) and the walk continues at the first one that
is not finished. Event types are listed in `ocsrun.run.events`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn

from ocsrun.errors import (
    AnswersError,
    Interrupted,
    NoOperatorInput,
    OcsrunError,
    RunAborted,
    RunFailed,
)
from ocsrun.run import containers, manual
from ocsrun.run import events as ev
from ocsrun.run.back import holder
from ocsrun.run.flow import RETRY, Back, Clock, Frame, Goto, Outcome, session_clock, utc_now
from ocsrun.run.gates import GateRunner, LocalGateRunner, zone_label
from ocsrun.run.gatestep import GateChecker
from ocsrun.run.operator import Ask, Operator, Screen
from ocsrun.run.progress import Plan
from ocsrun.run.state import RunState, close_session, content_hash
from ocsrun.runbook import model as m
from ocsrun.runbook.templating import evaluate, names_in, render
from ocsrun.store.protocol import RunHandle
from ocsrun.units import format_duration

DANGER_WORD = "understood"  # typed to acknowledge a danger-level warning


class Executor:
    def __init__(
        self,
        runbook: m.Runbook,
        operator: Operator,
        journal: RunHandle,
        *,
        clock: Clock = utc_now,
        rehearsal: bool = False,
        params: Mapping[str, m.ParamValue] | None = None,
        target: str | None = None,
        gate_runner: GateRunner | None = None,
        state: RunState | None = None,
        resume_command: str = "",
        report_command: str = "",
        timezone: str | None = None,
        started_extra: Mapping[str, Any] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.runbook = runbook
        self.operator = operator
        self.journal = journal
        # Monotonic within the session (see flow.session_clock).
        self.clock = session_clock(clock, monotonic)
        self.rehearsal = rehearsal
        self.params = dict(params or {})
        self.target = target
        self.state = state or RunState()
        self.resume_command = resume_command
        self.report_command = report_command
        self.timezone = timezone or (state.timezone if state is not None else None)
        self.numbers = m.step_numbers(runbook.steps)  # render's numbering, shown and journaled
        self.head = ""  # hash of the last journal record written, shown at start and end
        self.ended = False  # the closing lines (run id, head, report) were shown
        self.step_started: dict[str, datetime] = {}  # this session's entry into each step
        # More facts for run.started, from the session (the snapshot's sha256).
        self.started_extra = dict(started_extra or {})
        self._plan: tuple[tuple[tuple[str, str], ...], Plan, dict[str, int]] | None = None
        self.choices: dict[str, str] = {}
        self._hashes: dict[int, str] = {}
        self.broken_lock: Mapping[str, Any] | None = None  # a stale lock taken over, journaled
        # Longest first, so a secret containing another is hidden whole.
        self.secrets = sorted(
            {str(self.params[p.name]) for p in runbook.params if p.secret and p.name in self.params}
            - {""},
            key=len,
            reverse=True,
        )
        self.frames: list[Frame] = []  # the scopes being walked, innermost last
        self.loops: list[str] = []  # "role 2/4: Web Components Server", shown on nested steps
        self.current: str | None = None
        self.started_at = self.clock()
        # Stale confirmations are asked again only at checkpoints, once a runbook marks any.
        self.checkpoints_marked = _marks_checkpoints(runbook.steps)
        self.loop_marks: list[bool] = []  # enclosing for_each steps: is each a checkpoint?
        self.item_check = False  # the next step that runs starts a checkpointed loop item
        optional = tuple(p.name for p in runbook.params if p.type == "bool" and p.default is False)
        self.gates = GateChecker(self, gate_runner or LocalGateRunner(), optional)

    # --- what step helpers may use (the `flow.ScopeHost` protocol) ----------------

    def now(self) -> datetime:
        return self.clock()

    def hide(self, text: str) -> str:
        """Text with every secret param value replaced by ***, for screens and the journal."""
        for secret in self.secrets:
            text = text.replace(secret, ev.SECRET)
        return text

    def shown(self, template: str, context: Mapping[str, Any], path: str) -> str:
        return self.hide(render(template, context, path))

    def hash_of(self, step: m.Step) -> str:
        # Steps are frozen and live as long as the runbook: hash each once, not per event.
        key = id(step)
        if key not in self._hashes:
            self._hashes[key] = content_hash(step)
        return self._hashes[key]

    # --- the journal -------------------------------------------------------------

    def record(self, event: str, /, **data: Any) -> None:
        self.head = self.journal.append(event, data).hash

    def step_event(self, event: str, path: str, /, **data: Any) -> None:
        self.record(event, step=path, attempt=self.state.step(path).attempt, **data)

    # --- entry points ------------------------------------------------------------

    def run(self) -> str:
        """A new run: pre-flight, then every step. Returns "done" or "rehearsed"."""
        return self._guarded(self._run_new)

    def resume(self, accepted_changes: list[str] | None = None) -> str:
        """Continue a run whose journal was replayed into `state`."""
        return self._guarded(lambda: self._resume(accepted_changes or []))

    def _guarded(self, body: Callable[[], str]) -> str:
        try:
            return body()
        except KeyboardInterrupt:
            self._interrupted("interrupt")
            raise Interrupted(self._resume_text("interrupted")) from None
        except EOFError:
            self._interrupted("end-of-input")
            raise NoOperatorInput(self._resume_text("end of input at a prompt")) from None
        except AnswersError:
            self._interrupted("answers")
            raise
        except RunAborted:
            raise  # already journaled as run.aborted
        except OcsrunError as error:
            # A template failing at run time, the disk filling up: say so in the journal
            # if it still takes a record, so `runs show` tells why the run stopped.
            with contextlib.suppress(OcsrunError, OSError):
                self.record(
                    ev.RUN_INTERRUPTED, reason="error", step=self.current, error=error.message[:300]
                )
            raise
        except Exception as error:
            # A value that slipped past validation (or a bug): the run still stops cleanly,
            # journaled as interrupted so it is never left "running", and the operator gets one
            # line (secrets hidden), not a traceback. Validation is where such values belong.
            message = self.hide(f"{type(error).__name__}: {error}")[:300]
            where = self.current or "pre-flight"
            with contextlib.suppress(OcsrunError, OSError):
                self.record(ev.RUN_INTERRUPTED, reason="error", step=self.current, error=message)
            raise RunFailed(f"{where}: the run stopped: {message}") from error

    def _resume_text(self, what: str) -> str:
        return f"{what}; resume with: {self.resume_command}" if self.resume_command else what

    def _interrupted(self, reason: str) -> None:
        self.record(ev.RUN_INTERRUPTED, reason=reason, step=self.current)

    def _run_new(self) -> str:
        from ocsrun.run.params import redacted

        self.record(
            ev.RUN_STARTED,
            runbook={
                "id": self.runbook.id,
                "title": self.runbook.metadata.title,
                "version": self.runbook.metadata.version,
                "path": self.runbook.path,
            },
            target=self.target,
            params=redacted(self.runbook.params, self.params),
            rehearsal=self.rehearsal,
            steps=len(self.runbook.steps),
            timezone=zone_label(self.timezone),
            **self.started_extra,
        )
        self._journal_broken_lock()
        for name, value in redacted(self.runbook.params, self.params).items():
            self.record(ev.PARAM_SET, name=name, value=value)
        return self._walk()

    def _resume(self, accepted_changes: list[str]) -> str:
        if self.state.started:
            self.started_at = _parse_ts(self.state.started)
        resumed = self.journal.append(
            ev.RUN_RESUMED, {"records": self.state.records, "last": self.state.last_type}
        )
        close_session(self.state, resumed.ts)  # as replay will: steps keep their time so far
        previous = self.state.last_operator
        if previous is not None and previous != resumed.operator:
            # Another operator (often on another workstation) takes the run over: say so.
            self.record(ev.RUN_HANDED_OVER, **{"from": previous, "to": resumed.operator})
        self._journal_broken_lock()
        if accepted_changes:
            self.record(ev.RUN_CHANGES_ACCEPTED, summary=accepted_changes)
        return self._walk()

    def _journal_broken_lock(self) -> None:
        if self.broken_lock is not None:
            self.record(ev.LOCK_BROKEN, holder=dict(self.broken_lock))

    def _walk(self) -> str:
        self.operator.show(self._preflight())
        self._acknowledge_runbook_warnings()
        self.run_scope(self.runbook.steps, "", self._base_context())
        outcome = "rehearsed" if self.rehearsal else "done"
        self.current = None
        self.record(ev.RUN_FINISHED, outcome=outcome)
        self.operator.show(Screen("result", f"Run {outcome}", lines=self.end_lines(), level="ok"))
        return outcome

    def _run_lines(self) -> tuple[str, ...]:
        """The run id and the journal's head hash: what a change ticket quotes."""
        # "Head:" keeps the 64-digit hash on the line of its label on an 80-column terminal.
        return (f"Run id: {self.journal.info.run_id}", f"Head: {self.head}")

    def end_lines(self) -> tuple[str, ...]:
        """What closes every session, once: run id, head, and the report command. Shown by the
        executor when the run ends (done, aborted), by the session otherwise (`ended`)."""
        self.ended = True
        report = (f"Report: `{self.report_command}`",) if self.report_command else ()
        return (*self._run_lines(), *report)

    def plan(self) -> tuple[Plan, dict[str, int]]:
        """The step screens of this run as known now (params, loop items, choices so far),
        with each one's ordinal. Worked out again only when an answer to a choice changed."""
        from ocsrun.run.progress import planned

        key = tuple(sorted(self.choices.items()))
        if self._plan is None or self._plan[0] != key:
            plan = planned(self.runbook.steps, {**self._base_context(), **self.choices})
            self._plan = (key, plan, plan.ordinals())
        return self._plan[1], self._plan[2]

    def number(self, path: str) -> str:
        from ocsrun.run.progress import number_of

        return number_of(self.numbers, path)

    def _base_context(self) -> dict[str, Any]:
        return {**self.params, "target": self.target}

    def _preflight(self) -> Screen:
        from ocsrun.run.params import redacted
        from ocsrun.run.progress import steps_line

        meta = self.runbook.metadata
        params = redacted(self.runbook.params, self.params)
        lines = [
            f"Version: {meta.version}",
            f"Source: {meta.source.document} — {meta.source.section}",
            f"Required groups: {', '.join(meta.required_groups) or 'none stated'}",
            f"Target: {self.target or '(none)'}",
            *(f"Param {k} = {_value_text(v)}" for k, v in params.items()),
            steps_line(self.runbook.steps, self.plan()[0]),
            f"Warnings to acknowledge: {len(self.runbook.warnings)}",
        ]
        lines[:0] = self._run_lines()
        if self.rehearsal:
            lines.insert(0, "REHEARSAL: nothing is executed; the journal is marked as such")
        return Screen("preflight", meta.title, meta.summary, tuple(lines))

    def _acknowledge_runbook_warnings(self) -> None:
        for i, warning in enumerate(self.runbook.warnings, 1):
            key = warning.id or f"#{i}"
            if key in self.state.acknowledged:
                continue
            typed = self.acknowledge("", key, warning)
            self.record(
                ev.RUNBOOK_WARNING_ACK, warning=key, severity=warning.severity.value, typed=typed
            )
            self.state.acknowledged.add(key)

    # --- asking --------------------------------------------------------------------

    def acknowledge(self, step: str, key: str, warning: m.RunbookWarning) -> str | None:
        """Show and acknowledge one warning; danger ones need the word typed. Returns it."""
        self.operator.show(
            Screen(
                "warning",
                f"{warning.severity.value.upper()}: {key}",
                warning.text,
                (f"Source: {warning.source}",) if warning.source else (),
                level=warning.severity.value,
            )
        )
        ask = Ask(step, "warning", warning.text, detail=key)
        if warning.severity is not m.Severity.DANGER:
            if not self.operator.acknowledge(ask, warning):
                self.abort(step, f"warning {key} not acknowledged")
            return None
        for _ in range(3):
            # The word is a keyword (`Understood` at 2 a.m. counts); what a typed_confirmation
            # gate asks for (a server name) is compared exactly, in gatestep.
            if self.operator.type_text(ask, DANGER_WORD).strip().casefold() == DANGER_WORD:
                return DANGER_WORD
            self.operator.show(Screen("problem", f"Type {DANGER_WORD} to go on", level="fail"))
        self.abort(step, f"danger warning {key} not confirmed")

    def ask_text(self, ask: Ask) -> str:
        """Non-empty free text (a reason, a note); three empty answers abort the question."""
        for _ in range(3):
            text = self.operator.text(ask).strip()
            if text:
                return text
            self.operator.show(Screen("problem", f"A {ask.name} is needed", level="fail"))
        raise AnswersError(f"no {ask.name} given for {ask.describe()}")

    def retry(self, path: str, cause: str | None) -> None:
        """Journal that `path` is entered again; its earlier outcome no longer counts."""
        attempt = self.state.step(path).attempt + 1
        self.record(ev.STEP_RETRY, step=path, attempt=attempt, reset=[path], cause=cause)

    def abort(self, step: str, reason: str) -> NoReturn:
        self.record(ev.RUN_ABORTED, step=step or None, reason=reason)
        self.operator.show(
            Screen("result", "Run aborted", reason, lines=self.end_lines(), level="fail")
        )
        raise RunAborted(f"run aborted at {step or 'pre-flight'}: {reason}")

    # --- walking -------------------------------------------------------------------

    def run_scope(
        self,
        steps: tuple[m.Step, ...],
        prefix: str,
        context: Mapping[str, Any],
        where: str | None = None,
    ) -> None:
        """Walk one scope; `where` names a loop item ("role 2/4: …"), shown on its steps."""
        if where is not None:
            self.loops.append(where)  # shown once, on each step header of the item
            self.item_check = bool(self.loop_marks and self.loop_marks[-1])
        frame = Frame(steps, prefix, context, self.gates.scope_depth())
        self.frames.append(frame)
        try:
            while frame.index < len(steps):
                try:
                    outcome = self._step(
                        steps[frame.index], prefix, context, frame.index + 1, len(steps)
                    )
                except Back as back:
                    at = holder(frame, back.target)
                    if at is None:
                        raise  # in a scope around this one: unwind further
                    self._back(frame, at, back.target)
                    frame.index = at
                    continue
                if isinstance(outcome, Goto):
                    at = next(i for i, s in enumerate(steps) if s.id == outcome.target)
                    self._reset(steps[at:], prefix, outcome, steps[at])
                    frame.index = at
                    continue
                frame.index += 1
            self.gates.leave_scope(frame.gates)
        finally:
            self.frames.pop()
            if where is not None:
                self.loops.pop()

    def previous_manual(self, path: str) -> str | None:
        from ocsrun.run.back import previous_manual

        return previous_manual(self.frames, self.state, self.choices)

    def _back(self, frame: Frame, at: int, target: str) -> None:
        """`back` to `target`, held by `frame` at `at`: journal and undo what follows it."""
        from ocsrun.run.back import reset_from, still_active

        paths = reset_from(frame, at, target, self.state, self.choices)
        attempt = self.state.step(target).attempt + 1
        self.record(ev.STEP_RETRY, step=target, attempt=attempt, reset=paths, cause=self.current)
        for path in paths:
            self.state.step(path).outcome = None
        self.gates.active = still_active(self.gates.active, frame, at, paths)
        where = f"Back to step {self.number(target)} ({target})"
        self.operator.show(Screen("info", f"{where}: it and every step after it are asked again"))

    def _reset(self, steps: tuple[m.Step, ...], prefix: str, goto: Goto, target: m.Step) -> None:
        heads = tuple(prefix + s.id for s in steps)
        within = tuple(h + "." for h in heads) + tuple(h + "[" for h in heads)
        paths = [p for p in self.state.steps if p in heads or p.startswith(within)]
        self.record(
            ev.STEP_RETRY,
            step=prefix + target.id,
            attempt=self.state.step(prefix + target.id).attempt + 1,
            reset=paths,
            cause=self.current,
        )
        for path in paths:
            self.state.step(path).outcome = None
        self.gates.forget(set(paths))

    def _step(
        self, step: m.Step, prefix: str, context: Mapping[str, Any], index: int, total: int
    ) -> Outcome:
        path = prefix + step.id
        self.current = path
        # Answers to earlier choices are visible to every later step, nested or not.
        context = {**context, **self.choices}
        if self._already_finished(step, path, context):
            return None
        if step.when is not None and not evaluate(step.when, context, path):
            self._auto_skip(step, path, context)
            return None
        # Only before a step that will run: a skipped step relies on nothing.
        checkpoint = not self.checkpoints_marked or step.checkpoint or self.item_check
        self.item_check = False
        self.gates.recheck_active(path, stale=checkpoint)
        if step.kind == "for_each":
            self.loop_marks.append(step.checkpoint)
            try:
                return containers.for_each(self, step, path, context, (index, total))
            finally:
                self.loop_marks.pop()
        if step.kind == "call":
            return containers.call(self, step, path, context, (index, total))
        while True:
            outcome = self._leaf(step, path, context, index, total)
            if outcome != RETRY:
                return outcome

    def _already_finished(self, step: m.Step, path: str, context: Mapping[str, Any]) -> bool:
        record = self.state.steps.get(path)
        if record is None or record.outcome not in ev.FINISHING:
            return False
        if step.kind in ("for_each", "call"):
            self._restore_inside(path)
            return True
        if record.hash != self.hash_of(step):
            self.operator.show(
                Screen(
                    "info",
                    f"Step {self.number(path)} · {step.title} changed since it was answered; "
                    "asking again",
                )
            )
            return False
        if record.choice is not None:
            self.choices[record.choice[0]] = record.choice[1]
        if record.outcome == ev.STEP_DONE and step.gate is not None and record.gate_passed:
            self.gates.activate(
                path, step, _parse_ts(record.gate_passed), record.overridden, context
            )
        return True

    def _restore_inside(self, path: str) -> None:
        """Answers given inside a finished for-each or fragment, for later `when:`s."""
        for inner, record in self.state.steps.items():
            inside = inner.startswith((path + ".", path + "["))
            if inside and record.choice is not None and record.outcome == ev.STEP_DONE:
                self.choices[record.choice[0]] = record.choice[1]

    def _auto_skip(self, step: m.Step, path: str, context: Mapping[str, Any]) -> None:
        from ocsrun.run.params import redacted

        assert step.when is not None
        values = {n: context[n] for n in names_in(step.when) if n in context}
        self.state.step(path).attempt += 1
        self.step_event(
            ev.STEP_AUTO_SKIPPED,
            path,
            when=step.when,
            values=redacted(self.runbook.params, values),
            hash=self.hash_of(step),
        )
        self.state.step(path).outcome = ev.STEP_AUTO_SKIPPED
        self.state.step(path).hash = self.hash_of(step)
        self.operator.show(
            Screen("info", f"Step {self.number(path)} skipped: `{step.when}` is false ({path})")
        )

    def enter(self, step: m.Step, path: str, index: int, total: int) -> int:
        record = self.state.step(path)
        record.attempt += 1
        record.outcome = None
        self.step_started[path] = self.clock() - timedelta(seconds=self.carried(path))
        record.started, record.evidence_sha256 = self.clock().isoformat(), None
        self.step_event(
            ev.STEP_STARTED,
            path,
            title=step.title,
            kind=step.kind,
            hash=self.hash_of(step),
            index=index,
            total=total,
            number=self.number(path),
        )
        return record.attempt

    def open_step(
        self, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
    ) -> None:
        """Start a container step and show it; entered once (a resume or goto inside it does not
        start it again)."""
        if self.state.step(path).attempt == 0:
            self.enter(step, path, *position)
        if path not in self.step_started:
            self.step_started[path] = self.clock() - timedelta(seconds=self.carried(path))
        self.operator.show(self.screen(step, path, context, *position))
        self.warnings(step, path, context)

    def carried(self, path: str) -> float:
        """The time an interrupted attempt of the step had (earlier sessions), taken over once
        by the attempt a resume starts; 0 for any other attempt."""
        record = self.state.step(path)
        spent = record.spent if record.carried else 0.0
        record.carried, record.spent = False, 0.0
        return spent

    def finish(self, step: m.Step, path: str, event: str = ev.STEP_DONE, **data: Any) -> None:
        self.step_event(event, path, hash=self.hash_of(step), **data)
        # As replay would: a step passed again in this session (an earlier loop item after
        # `back`) is then known finished, not "changed since it was answered".
        self.state.step(path).outcome, self.state.step(path).hash = event, self.hash_of(step)
        started = self.step_started.get(path)
        if started is not None:
            took = format_duration((self.clock() - started).total_seconds())
            what = "done" if event == ev.STEP_DONE else "skipped"
            level = "ok" if event == ev.STEP_DONE else ""
            title = f"Step {self.number(path)} {what} in {took}"
            self.operator.show(Screen("result", title, level=level, ends_step=True))

    def screen(
        self, step: m.Step, path: str, context: Mapping[str, Any], index: int, total: int
    ) -> Screen:
        body = self.shown(step.instructions, context, path)
        attempt = self.state.step(path).attempt
        plan, ordinals = self.plan()
        ordinal = f"{ordinals[path]} of {plan.total}" if path in ordinals else f"of {plan.total}"
        lines = [" · ".join(self.loops)] if self.loops else []
        lines.append(f"Screen {ordinal} · id {path}")
        started = self.step_started.get(path)
        spent = max(0.0, (self.clock() - started).total_seconds()) if started else 0.0
        if attempt > 1:
            # A resumed attempt goes on with the time the interrupted one had: say how much.
            lines.append(
                f"Attempt {attempt}" + (f" · {format_duration(spent)} so far" if spent >= 1 else "")
            )
        lines += [f"Note: {n}" for n in step.notes]
        if step.required:
            lines.append("Required: this step cannot be skipped")
        title = f"Step {self.number(path)} · {self.hide(step.title)}"
        return Screen("step", title, body, tuple(lines), spent=spent)

    def warnings(self, step: m.Step, path: str, context: Mapping[str, Any]) -> None:
        for i, warning in enumerate(step.warnings, 1):
            self.one_warning(path, warning.id or f"#{i}", warning)

    def one_warning(self, path: str, key: str, warning: m.RunbookWarning) -> None:
        typed = self.acknowledge(path, key, warning)
        self.step_event(
            ev.STEP_WARNING_ACK, path, warning=key, severity=warning.severity.value, typed=typed
        )

    def _leaf(
        self, step: m.Step, path: str, context: Mapping[str, Any], index: int, total: int
    ) -> Outcome:
        record = self.state.steps.get(path)
        if step.gate is not None and record is not None and record.pending_failure:
            # Resumed at a failed gate's question: ask it again, do not check the gate again.
            self.operator.show(self.screen(step, path, context, index, total))
            self.operator.show(Screen("info", f"The check {path} failed before the interruption"))
            return self.gates.after_failure(step, path, context)
        self.enter(step, path, index, total)
        self.operator.show(self.screen(step, path, context, index, total))
        self.warnings(step, path, context)
        if step.choice is not None:
            from ocsrun.run.progress import total_changed

            before = self.plan()[0]
            var, value = manual.choice(self, step, path, context)
            self.choices[var] = value
            changed = total_changed(before, self.plan()[0], var, value)
            if changed:
                self.operator.show(Screen("info", changed))
            return None
        if step.gate is not None:
            return self.gates.gate_step(step, path, context)
        return manual.after_step(self, step, path)


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _marks_checkpoints(steps: tuple[m.Step, ...]) -> bool:
    return any(step.checkpoint or _marks_checkpoints(step.children) for step in steps)
