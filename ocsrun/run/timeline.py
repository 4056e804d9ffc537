"""A run's journal folded into a per-step timeline (shown by ocsrun.run.views).

Reads records only (never the runbook), so a report can be made from a copied
run directory. Everything shown here came from the journal, which never holds
a secret value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ocsrun.errors import JournalCorrupt
from ocsrun.run import events as ev

# Not from ocsrun.run.state: that one imports the runbook model, which showing a run never needs.
from ocsrun.run.events import damaged_record
from ocsrun.store.protocol import Record, RunInfo
from ocsrun.units import format_duration

STATUS = {
    ev.RUN_FINISHED: "finished",
    ev.RUN_ABORTED: "aborted",
    ev.RUN_INTERRUPTED: "interrupted",
}


@dataclass
class StepLine:
    step: str
    title: str = ""
    number: str = ""  # render's numbering (`10.2.3`), from step.started
    kind: str = ""
    outcome: str = "started"  # done | skipped | auto-skipped | failed | started
    attempts: int = 0
    started: str = ""
    ended: str = ""
    seconds: float | None = None
    operator: str = ""
    reason: str = ""  # skip reason, failure reason, or the `when` that skipped it
    notes: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    answer: str = ""  # choice value
    # What happened to the step that is neither a failure nor a note: a confirmation gone
    # stale and asked again, a wait for a window, a `back` to an earlier step.
    history: list[str] = field(default_factory=list)


@dataclass
class Timeline:
    run_id: str
    runbook: dict[str, Any]
    target: str | None
    rehearsal: bool
    status: str = "running"
    operators: list[str] = field(default_factory=list)
    started: str = ""
    ended: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # run-level: resumes, interruptions, ...
    steps: list[StepLine] = field(default_factory=list)
    head: str = ""  # the last record's hash: write it down to check the journal later

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


def build(info: RunInfo, records: Iterable[Record]) -> Timeline:
    timeline = Timeline(
        run_id=info.run_id,
        runbook={
            "id": info.runbook_id,
            "title": info.runbook_title,
            "version": info.runbook_version,
            "path": info.runbook_path,
        },
        target=info.target,
        rehearsal=info.rehearsal,
        started=info.started,
        params=dict(info.params),
    )
    lines: dict[str, StepLine] = {}
    for record in records:
        try:
            _fold(timeline, lines, record)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise JournalCorrupt(damaged_record(record, error)) from None
    timeline.steps = list(lines.values())
    return timeline


def _line(lines: dict[str, StepLine], record: Record) -> StepLine:
    path = str(record.data.get("step"))
    if path not in lines:
        lines[path] = StepLine(path)
    return lines[path]


def _fold(timeline: Timeline, lines: dict[str, StepLine], record: Record) -> None:
    if record.operator not in timeline.operators:
        timeline.operators.append(record.operator)
    timeline.ended = record.ts
    timeline.head = record.hash
    if record.type in STATUS:
        timeline.status = STATUS[record.type]
        if record.type != ev.RUN_FINISHED:
            _fold_run(timeline, record)  # why and where it stopped, among the run's events
    elif record.type.startswith(("step.", "gate.", "choice.")):
        _fold_step(_line(lines, record), record)
    else:
        _fold_run(timeline, record)


def _fold_started(timeline: Timeline, data: Mapping[str, Any]) -> None:
    # The chained record, not the run record beside it, says what the run is.
    timeline.status = "running"
    timeline.params = dict(data.get("params") or timeline.params)
    timeline.target = data.get("target", timeline.target)
    timeline.rehearsal = bool(data.get("rehearsal", timeline.rehearsal))
    runbook = data.get("runbook")
    if isinstance(runbook, dict):
        for name in ("id", "title", "version"):
            if name in runbook:
                timeline.runbook[name] = runbook[name]


def _fold_run(timeline: Timeline, record: Record) -> None:
    data, kind = record.data, record.type
    if kind == ev.RUN_STARTED:
        _fold_started(timeline, data)
    elif kind == ev.RUNBOOK_WARNING_ACK:
        timeline.warnings.append(f"{data.get('warning')} ({data.get('severity')}) at {record.ts}")
    elif kind == ev.RUN_RESUMED:
        timeline.status = "running"
        last = data.get("last")
        if last not in (None, ev.RUN_INTERRUPTED):
            # No run.interrupted before this resume: the process died without a word.
            timeline.events.append(
                f"{record.ts} found on resume: the previous session ended without an "
                f"interruption record (crash, kill or power loss) after a {last} record"
            )
        timeline.events.append(f"{record.ts} resumed by {record.operator}")
    elif kind == ev.RUN_HANDED_OVER:
        timeline.events.append(
            f"{record.ts} handed over from {data.get('from')} to {data.get('to')}"
        )
    elif kind == ev.RUN_CHANGES_ACCEPTED:
        summary = "; ".join(str(s) for s in data.get("summary", ()))
        timeline.events.append(f"{record.ts} runbook changes accepted: {summary}")
    elif kind == ev.LOCK_BROKEN:
        holder = data.get("holder") or {}
        timeline.events.append(f"{record.ts} stale lock of run {holder.get('run_id')} broken")
    elif kind == ev.RUN_INTERRUPTED:
        reason = str(data.get("reason"))
        how = _INTERRUPTIONS.get(reason, reason)
        if reason == "error" and data.get("error"):
            how = f"{how}: {data.get('error')}"
        timeline.events.append(
            f"{record.ts} interrupted ({how}) at {data.get('step') or 'pre-flight'}"
        )
    elif kind == ev.RUN_ABORTED:
        timeline.events.append(f"{record.ts} aborted at {data.get('step')}: {data.get('reason')}")
    elif kind == "journal.torn-tail-set-aside":
        timeline.events.append(
            f"{record.ts} a torn journal line was set aside ({data.get('file')})"
        )


_STALE = "confirmation went stale"
_INTERRUPTIONS = {
    "interrupt": "Ctrl-C, or the session was closed (SIGTERM/SIGHUP)",
    "end-of-input": "end of input at a prompt",
    "answers": "the answers file had no answer",
    "error": "an error stopped the run",
}


def _fold_step(line: StepLine, record: Record) -> None:
    data, kind = record.data, record.type
    line.operator = record.operator
    if kind == ev.STEP_STARTED:
        line.title = str(data.get("title", line.title))
        line.number = str(data.get("number") or line.number)
        line.kind = str(data.get("kind", line.kind))
        line.attempts = int(data.get("attempt", line.attempts + 1))
        line.started = line.started or record.ts
        line.outcome = "started"
    elif kind in {ev.STEP_DONE, ev.STEP_SKIPPED, ev.STEP_AUTO_SKIPPED}:
        line.outcome = kind.removeprefix("step.")
        line.ended = record.ts
        line.started = line.started or record.ts
        line.seconds = _seconds(line.started, record.ts)
        if kind == ev.STEP_SKIPPED:
            line.reason = str(data.get("reason", ""))
        elif kind == ev.STEP_AUTO_SKIPPED:
            line.reason = f"when: {data.get('when')} (values {data.get('values')})"
    elif kind == ev.STEP_FAILED:
        line.outcome = "failed"
        line.failures.append(f"{record.ts} {data.get('reason', '')}")
    elif kind == ev.STEP_NOTE:
        line.notes.append(str(data.get("text", "")))
    elif kind == ev.CHOICE_ANSWERED:
        line.answer = str(data.get("value", ""))
        if data.get("reason"):
            line.reason = str(data["reason"])
    elif kind == ev.GATE_OVERRIDDEN:
        line.overrides.append(f"{record.ts} {data.get('reason', '')}")
        _fold_gate(line, record)  # an evidence file accepted with a reason is evidence too
    elif kind in {ev.GATE_PASSED, ev.GATE_FAILED}:
        _fold_gate(line, record)
    else:
        _fold_history(line, record)


def _fold_history(line: StepLine, record: Record) -> None:
    data, kind = record.data, record.type
    if kind == ev.GATE_EXPIRED:
        valid = data.get("valid_for")
        valid_text = format_duration(valid) if isinstance(valid, int) else "?"
        before = f", before {data.get('before')}" if data.get("before") else ""
        line.history.append(
            f"{record.ts} {_STALE} (answered {data.get('passed')}, valid for {valid_text}); "
            f"asked again{before}"
        )
    elif kind == ev.GATE_WAIT:
        closed = f"closed before {data['before']}; " if data.get("before") else ""
        line.history.append(
            f"{record.ts} {closed}waited for the window to open at {data.get('until')} "
            f"({data.get('timezone')})"
        )
    elif kind == ev.GATE_WAIT_STOPPED:
        line.history.append(f"{record.ts} stopped waiting for the window")
    elif kind == ev.STEP_BACK:
        line.history.append(f"{record.ts} back: {data.get('to')} done again from here")
    elif kind == ev.GATE_INPUT_REFUSED:
        line.history.append(f"{record.ts} file not read, asked again: {data.get('reason')}")


def _fold_gate(line: StepLine, record: Record) -> None:
    data = record.data
    if record.type == ev.GATE_PASSED:
        if line.history and _STALE in line.history[-1]:
            line.history.append(f"{record.ts} re-confirmed")
        elif data.get("before"):
            line.history.append(f"{record.ts} the window open again before {data['before']}")
    if "sha256" in data:
        results = {ev.GATE_PASSED: "passed", ev.GATE_OVERRIDDEN: "confirmed"}
        line.evidence.append(
            {
                "result": results.get(record.type, "failed"),
                "path": data.get("path"),
                "size": data.get("size"),
                "sha256": data.get("sha256"),
                "mtime": data.get("mtime"),
                "at": record.ts,
            }
        )
    if record.type == ev.GATE_FAILED:
        line.failures.append(
            f"{record.ts} check failed (#{data.get('failures')}): {data.get('reason', '')}"
        )


def _seconds(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((b - a).total_seconds(), 3)
