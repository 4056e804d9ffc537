"""The journal's event vocabulary: every record type the executor appends.

Each record's `data` always carries what a reader needs without the runbook at hand.
Step events carry `step` (dotted path, with the for-each item in brackets, e.g.
`deactivate-roles[web-components].wizard.check-log`) and `attempt` (1 on first
entry, +1 each time the step is entered again after a retry or a goto).

Run level
  run.started                 runbook {id, title, version, path}, target, params (secrets "***"),
                              rehearsal, steps (count of top-level steps), timezone (for
                              windows that do not name one: --tz, asked, or local:NAME),
                              snapshot_sha256 (the run's snapshot: model and source files),
                              chain (sha256 | hmac-sha256); the authority over the run record
                              (run.json) kept beside the journal
  run.resumed                 records (how many were replayed), last (the last record's type)
  run.handed-over             from (operator of the record before this session), to (this session's
                              operator): another operator, often on another workstation, continues
  run.changes-accepted        summary: list of lines describing what changed in the runbook
  (journal.torn-tail-set-aside is written by the store, not the executor: see ocsrun.store.local)
  lock.broken                 holder: {run_id, operator, host, pid, started}
  runbook.warning.acknowledged  warning (id or index), severity, typed (danger: the word typed)
  param.set                   name, value ("***" for secrets), source: arg | prompt | default
  run.interrupted             reason: interrupt | end-of-input, step (where, or null)
  run.aborted                 step, reason
  run.finished                outcome: done | rehearsed
  run.abandoned               broken_by (the run that took over its stale lock), holder (the lock
                              holder it had); written into the crashed run by `run --break-lock`

Steps
  step.started                step, attempt, title, kind, hash (sha256 of the step's content),
                              index/total (position in its scope), item (for-each item or null)
  step.warning.acknowledged   step, attempt, warning, severity, typed
  step.auto-skipped           step, attempt, when (expression), values (names it uses → values)
  step.skipped                step, attempt, reason
  step.done                   step, attempt, hash
  step.failed                 step, attempt, reason
  step.retry                  step (the step entered again), attempt (its new attempt),
                              reset (paths whose earlier outcome no longer counts), cause
  step.note                   step, attempt, text
  step.back                   step (where `back` was answered), attempt, to (the path of the
                              earlier manual step done again, perhaps in an earlier loop item
                              or before the loop or fragment; a step.retry resetting it and
                              every step walked after it comes next)
  choice.answered             step, attempt, var, value

Gates
  gate.passed                 step, attempt, type, plus per type: evidence {path, size, sha256,
                              mtime, reader {kind, encoding}, lines, freshness {produced_by,
                              started, mtime, stale, enforced}}; command {argv, exit, output
                              (bounded)}; typed; items;
                              window {now, timezone}; rehearsal: true when not executed
  gate.failed                 step, attempt, type, failures (n-th failure of this gate), reason,
                              lines (the decisive lines), action (retry | goto | abort)
  gate.overridden             step, attempt, type, reason; evidence: the file's data as for
                              gate.passed plus confirmed (the refusals the operator accepted)
  gate.input-refused          step, attempt, type (evidence), path (as typed, cleaned), reason:
                              the file could not be read at all and was asked for again
                              (missing, a directory, unreadable, binary, bad encoding)
  gate.wait                   step, attempt, until (when the window opens), seconds, timezone
  gate.wait-stopped           step, attempt, reason (Ctrl-C during the countdown)
  gate.expired                step (the gate), passed (when it passed), valid_for, before (the step
                              about to run, or null at resume); clock_back: true and age (seconds,
                              negative) when the answer seems to come from the future
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocsrun.store.protocol import Record

RUN_STARTED = "run.started"
RUN_RESUMED = "run.resumed"
RUN_CHANGES_ACCEPTED = "run.changes-accepted"
RUN_HANDED_OVER = "run.handed-over"
LOCK_BROKEN = "lock.broken"
RUNBOOK_WARNING_ACK = "runbook.warning.acknowledged"
PARAM_SET = "param.set"
RUN_INTERRUPTED = "run.interrupted"
RUN_ABORTED = "run.aborted"
RUN_FINISHED = "run.finished"
RUN_ABANDONED = "run.abandoned"

STEP_STARTED = "step.started"
STEP_WARNING_ACK = "step.warning.acknowledged"
STEP_AUTO_SKIPPED = "step.auto-skipped"
STEP_SKIPPED = "step.skipped"
STEP_DONE = "step.done"
STEP_FAILED = "step.failed"
STEP_RETRY = "step.retry"
STEP_NOTE = "step.note"
STEP_BACK = "step.back"
CHOICE_ANSWERED = "choice.answered"

GATE_PASSED = "gate.passed"
GATE_FAILED = "gate.failed"
GATE_OVERRIDDEN = "gate.overridden"
GATE_EXPIRED = "gate.expired"
GATE_WAIT = "gate.wait"
GATE_WAIT_STOPPED = "gate.wait-stopped"
GATE_INPUT_REFUSED = "gate.input-refused"

# Outcomes that finish a step: it is not run again on resume (unless reset or changed).
FINISHING = frozenset({STEP_DONE, STEP_SKIPPED, STEP_AUTO_SKIPPED})

SECRET = "***"


def damaged_record(record: Record, error: Exception) -> str:
    """The message for a record whose data is not what the executor writes (intact hash)."""
    what = f"{type(error).__name__}: {error}"[:120]
    return (
        f"journal record seq {record.seq} ({record.type[:40]}) holds data of unexpected types "
        f"({what}); the run is damaged: run `ocsrun runs verify`"
    )
