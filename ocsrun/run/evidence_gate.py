"""The evidence gate at run time: asking for the file, binding the checks to the run, and
deciding what a refusal means.

- **Path typing.** Surrounding quotes (Windows "Copy as path") and `~` are removed; a path
  that does not exist, is a directory, cannot be read, or holds something no reader
  understands (binary, an unknown encoding, HTML nested too deep) is asked again with the
  reason, journaled as `gate.input-refused`. It is never a gate failure: a typo must not
  send the operator back to re-run the Deactivation Wizard.
- **Binding.** Check patterns are templates rendered with the run's values inserted as
  literal text (`render_pattern`), so `{{ target }}` matches the server name and nothing
  else.
- **Freshness and reuse.** A file last modified before the latest start of the gate's
  `produced_by` step (with `CLOCK_SKEW` allowed) is stale; a file whose sha256 was already
  accepted for another step of this run is reused. Each is refused or, when the runbook
  says `confirm`, accepted only after an explicit confirmation with a reason
  (`gate.overridden`). A rehearsal produces nothing, so its files' age is journaled but
  not enforced.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocsrun.run import events as ev
from ocsrun.run.operator import Ask, Screen
from ocsrun.runbook import model as m
from ocsrun.runbook.templating import render_pattern

if TYPE_CHECKING:
    from ocsrun.run.evidence import EvidenceResult
    from ocsrun.run.flow import StepHost
    from ocsrun.run.gates import GateRunner

CLOCK_SKEW = timedelta(minutes=2)


def bind(gate: m.Gate, context: Mapping[str, Any], path: str) -> m.Gate:
    """The gate with its check patterns rendered for this run (values as literal text)."""
    checks = tuple(
        dataclasses.replace(
            check,
            pattern=render_pattern(check.pattern, context, path),
            must=None if check.must is None else render_pattern(check.must, context, path),
        )
        for check in gate.checks
    )
    return dataclasses.replace(gate, checks=checks)


def path_problem(path: Path) -> str | None:
    """Why `path` cannot be the evidence file, in one line; None when it may be."""
    try:
        if not path.exists():
            return f"no such file: {path}"
        if path.is_dir():
            return f"{path} is a directory; give the log file itself"
    except OSError as error:  # a name too long, a path through a file
        return f"{path}: {error.strerror or error}"
    if not os.access(path, os.R_OK):
        return f"{path} cannot be read (permission denied)"
    return None


def evidence_gate(
    host: StepHost,
    runner: GateRunner,
    *,
    step: m.Step,
    path: str,
    prompt: str,
    context: Mapping[str, Any],
) -> tuple[bool | str, dict[str, Any]]:
    """(ok, journal data); ok is True, False, or "overridden" (confirmed with a reason)."""
    gate = step.gate
    assert gate is not None
    bound = bind(gate, context, path)
    result = _ask_until_readable(host, runner, bound, path, prompt)
    if result is None:  # a rehearsal without a file
        return True, {"rehearsal": True, "checked": False}
    data: dict[str, Any] = result.as_data()
    refused = list(result.failures)
    confirmable = list(result.confirmable)
    stale = _stale(host, step, path, result, data)
    if stale:
        (confirmable if gate.stale == "confirm" else refused).append(stale)
    reused = _reused(host, path, result)
    if reused:
        (confirmable if gate.reused == "confirm" else refused).append(reused)
    if refused:
        data["reason"] = "; ".join(refused + confirmable)
        return False, data
    if confirmable:
        return _confirm(host, path, result, data, confirmable)
    host.state.step(path).evidence_sha256 = result.sha256
    return True, data


def _ask_until_readable(
    host: StepHost, runner: GateRunner, gate: m.Gate, path: str, prompt: str
) -> EvidenceResult | None:
    # Evidence files are read (ocsrun.run.evidence and its readers) only by a run that reaches
    # an evidence gate: a session that never does pays nothing for them.
    from ocsrun.run.evidence import typed_path

    while True:
        given = typed_path(
            host.operator.file(Ask(path, "evidence", prompt), gate.evidence_description)
        )
        if not given:
            if host.rehearsal:
                return None
            _refuse_input(host, path, "", "no path given")
            continue
        file = Path(given)
        problem = path_problem(file)
        if problem is None:
            result = runner.evidence(gate, file)
            if not result.unreadable:
                return result
            problem = "; ".join(result.failures)
        _refuse_input(host, path, given, problem)


def _refuse_input(host: StepHost, path: str, given: str, reason: str) -> None:
    host.step_event(ev.GATE_INPUT_REFUSED, path, type="evidence", path=given, reason=reason)
    host.operator.show(
        Screen(
            "problem",
            f"Not a file ocsrun can check: {reason}",
            "",
            ("Give the path again (the check has not run; nothing failed).",),
            level="fail",
        )
    )


def _stale(host: StepHost, step: m.Step, path: str, result: EvidenceResult, data: Any) -> str:
    from ocsrun.run.evidence import mtime_text

    gate = step.gate
    if gate is None or gate.produced_by is None or result.mtime is None:
        return ""
    producer = path[: len(path) - len(step.id)] + gate.produced_by
    started = host.state.step(producer).started
    if started is None:
        return ""
    since = datetime.fromisoformat(started.replace("Z", "+00:00"))
    modified = datetime.fromtimestamp(result.mtime, since.tzinfo)
    stale = modified < since - CLOCK_SKEW
    data["freshness"] = {
        "produced_by": producer,
        "started": started,
        "mtime": mtime_text(result.mtime),
        "stale": stale,
        "enforced": not host.rehearsal,
    }
    if not stale or host.rehearsal:
        return ""
    return (
        f"the file was last modified {data['freshness']['mtime']}, before {producer} started "
        f"({started}): it is not from this run"
    )


def _reused(host: StepHost, path: str, result: EvidenceResult) -> str:
    for other, record in host.state.steps.items():
        if (
            other != path
            and record.evidence_sha256 == result.sha256
            and record.outcome == ev.STEP_DONE
        ):
            return f"the same file (sha256 {result.sha256[:12]}…) was already accepted for {other}"
    return ""


def _confirm(
    host: StepHost,
    path: str,
    result: EvidenceResult,
    data: dict[str, Any],
    confirmable: list[str],
) -> tuple[bool | str, dict[str, Any]]:
    host.operator.show(
        Screen(
            "problem",
            "This file does not prove what the check asks for",
            "Accept it only if you know why, and say so: the reason is journaled.",
            tuple(confirmable),
            level="warning",
        )
    )
    ask = Ask(path, "accept_evidence", "Accept this file anyway? " + "; ".join(confirmable))
    if not host.operator.confirm(ask):
        data["reason"] = "not confirmed: " + "; ".join(confirmable)
        return False, data
    reason = host.ask_text(Ask(path, "accept_reason", "Why is this file right anyway?"))
    host.state.step(path).evidence_sha256 = result.sha256
    return "overridden", {**data, "reason": reason, "confirmed": confirmable}
