"""Run state rebuilt from the journal, step content hashes, and runbook snapshots.

Resuming never trusts anything but the journal: `replay` folds the records into
the answers given, each step's latest outcome and when each gate last passed.
A snapshot is the canonical JSON dump of the loaded model, so `changes` can say
what changed in terms an operator knows (steps, params, warnings), not bytes. It
also keeps the runbook's source files (see ocsrun.runbook.sources), so a run can
be resumed where its runbook file is gone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocsrun.errors import JournalCorrupt
from ocsrun.run import events as ev
from ocsrun.run.events import damaged_record
from ocsrun.runbook import model as m
from ocsrun.store.protocol import Record

SNAPSHOT_FORMAT = "ocsrun-snapshot/2"  # /2 adds "sources"; /1 snapshots are still read
_READABLE_FORMATS = {"ocsrun-snapshot/1", SNAPSHOT_FORMAT}


# --- canonical dumps and hashes ---------------------------------------------------


def dump(value: Any) -> Any:
    """Plain JSON data for a model object; positions left out (they are not content).

    A secret param's default (written in the runbook, a bad habit) is dumped as "***": the
    snapshot is run state, which never holds a secret. Both sides of a resume comparison are
    dumped alike, so only the secret's own edits go unnoticed; its value is asked again anyway.
    """
    if isinstance(value, m.Param) and value.secret and value.default is not None:
        value = dataclasses.replace(value, default=ev.SECRET)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: dump(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare
            and not (f.metadata.get("omit_default") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, tuple | list):
        return [dump(v) for v in value]
    return value


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(step: m.Step) -> str:
    return _digest(dump(step))


def snapshot_bytes(
    runbook: m.Runbook, sources: Mapping[str, str] | None = None, main: str = ""
) -> bytes:
    """The snapshot of a run: the model's dump, plus its source files when given.

    `sources` maps paths relative to the runbook's directory to their text (secret defaults
    already removed); `main` names the top-level file among them.
    """
    data: dict[str, Any] = {"format": SNAPSHOT_FORMAT, "runbook": dump(runbook)}
    if sources:
        data["sources"] = {"main": main, "files": dict(sources)}
    return json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")


def _snapshot_data(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or data.get("format") not in _READABLE_FORMATS:
        raise ValueError("not an ocsrun snapshot")
    if not isinstance(data.get("runbook"), dict):
        raise ValueError("an ocsrun snapshot without a runbook")
    return data


def load_snapshot(raw: bytes) -> dict[str, Any]:
    runbook: dict[str, Any] = _snapshot_data(raw)["runbook"]
    return runbook


def snapshot_sources(raw: bytes) -> tuple[str, dict[str, str]] | None:
    """(main file, {relative path: text}) kept in a snapshot, or None (older runs)."""
    sources = _snapshot_data(raw).get("sources")
    if not isinstance(sources, dict):
        return None
    main, files = sources.get("main"), sources.get("files")
    if not isinstance(main, str) or not isinstance(files, dict) or main not in files:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return None
    return main, files


def runbook_from_snapshot(run_id: str, raw: bytes, shown: str) -> m.Runbook | None:
    """The runbook rebuilt from the source files a run's snapshot keeps; None when it keeps
    none (started by an older ocsrun, or the runbook held a secret default).

    Written to a private temporary directory and loaded through the ordinary loader, so the
    copy is validated like any file; `shown` is the path its findings name.
    """
    import tempfile
    from pathlib import Path

    from ocsrun.errors import OcsrunError, StateError
    from ocsrun.runbook.build import load_runbook
    from ocsrun.runbook.sources import materialise

    try:
        kept = snapshot_sources(raw)
    except ValueError as error:
        raise StateError(f"run {run_id}: its runbook snapshot is unreadable: {error}") from None
    if kept is None:
        return None
    main, files = kept
    with tempfile.TemporaryDirectory(prefix="ocsrun-runbook-") as tmp:
        try:
            copy = materialise(files, main, Path(tmp))
        except (OSError, ValueError) as error:
            raise StateError(f"run {run_id}: cannot restore its runbook copy: {error}") from None
        try:
            return load_runbook(copy, display=shown)
        except OcsrunError as error:
            raise StateError(
                f"run {run_id}: the runbook copy kept with the run does not load: {error}"
            ) from None


def _step_hashes(steps: Iterable[Mapping[str, Any]], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for step in steps:
        path = prefix + str(step["id"])
        out[path] = _digest(step)
        container = step.get("for_each") or step.get("call")
        if container:
            out.update(_step_hashes(container["steps"], path + "."))
    return out


def changes(old: Mapping[str, Any], new: m.Runbook) -> list[str]:
    """What changed between a snapshot and the runbook now on disk; [] when nothing did."""
    # Where the file was loaded from is not content: a relative path at `run` and an
    # absolute one at `resume` name the same runbook.
    old = {k: v for k, v in old.items() if k != "path"}
    current = {k: v for k, v in dump(new).items() if k != "path"}
    if _digest(old) == _digest(current):
        return []
    lines: list[str] = []
    old_meta, new_meta = old["metadata"], current["metadata"]
    if old_meta["version"] != new_meta["version"]:
        lines.append(f"version {old_meta['version']} -> {new_meta['version']}")
    if old_meta != new_meta and old_meta["version"] == new_meta["version"]:
        lines.append("metadata changed (same version)")
    if old["params"] != current["params"]:
        lines.append("params changed")
    if old["warnings"] != current["warnings"]:
        lines.append("runbook warnings changed")
    before, after = _step_hashes(old["steps"]), _step_hashes(current["steps"])
    lines += [f"step removed: {p}" for p in before if p not in after]
    lines += [f"step added: {p}" for p in after if p not in before]
    lines += [f"step changed: {p}" for p in after if p in before and before[p] != after[p]]
    return lines or ["the runbook changed"]


# --- replay -----------------------------------------------------------------------


@dataclass
class StepState:
    attempt: int = 0  # the latest attempt started
    outcome: str | None = None  # the finishing event of the latest attempt, if any
    hash: str = ""
    choice: tuple[str, str] | None = None  # (var, value)
    gate_passed: str | None = None  # record ts
    overridden: bool = False
    gate_failures: int = 0
    started: str | None = None  # when the latest attempt started (ISO), for evidence freshness
    evidence_sha256: str | None = None  # the evidence file accepted by this step's gate
    pending_failure: bool = False  # gate.failed journaled, its retry/goto/abort not answered
    # The step's own time: seconds spent on it in earlier sessions (interruptions excluded),
    # carried into the attempt a resume starts; `open_since`: this session's start on it.
    spent: float = 0.0
    carried: bool = False
    open_since: str | None = None


@dataclass
class RunState:
    run_id: str = ""
    steps: dict[str, StepState] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    timezone: str | None = None  # the run's zone for windows (run.started), None: local
    rehearsal: bool = False
    acknowledged: set[str] = field(default_factory=set)  # runbook-level warning keys
    started: str | None = None
    last_type: str | None = None
    last_operator: str | None = None  # who wrote the last record (a hand-over is journaled)
    last_ts: str | None = None
    records: int = 0

    def step(self, path: str) -> StepState:
        return self.steps.setdefault(path, StepState())

    @property
    def finished(self) -> bool:
        return self.last_type in {ev.RUN_FINISHED, ev.RUN_ABORTED, ev.RUN_ABANDONED}


def replay(records: Iterable[Record]) -> RunState:
    state = RunState()
    for record in records:
        try:
            if record.type == ev.RUN_RESUMED:
                close_session(state, record.ts)
            _apply(state, record)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # Hash and chain are intact but the data is not what ocsrun writes (another tool,
            # a hand edit re-hashed): resuming from it is not safe. One clear error, no trace.
            raise JournalCorrupt(damaged_record(record, error)) from None
        state.last_type = record.type
        state.last_operator = record.operator
        state.last_ts = record.ts
        state.records += 1
    return state


def _apply(state: RunState, record: Record) -> None:
    data, kind = record.data, record.type
    if kind == ev.RUN_STARTED:
        state.started = record.ts
        state.target = data.get("target")
        zone = data.get("timezone")
        state.timezone = zone if isinstance(zone, str) and not zone.startswith("local:") else None
        state.rehearsal = bool(data.get("rehearsal"))
    elif kind == ev.PARAM_SET:
        state.params[str(data["name"])] = data.get("value")
    elif kind == ev.RUNBOOK_WARNING_ACK:
        state.acknowledged.add(str(data["warning"]))
    elif kind == ev.STEP_STARTED:
        step = state.step(str(data["step"]))
        # An attempt started by a resume goes on with the time of the one interrupted; any
        # other attempt (first, retry, back) starts from zero.
        step.spent = step.spent if step.carried else 0.0
        step.carried, step.open_since = False, record.ts
        step.attempt, step.outcome = int(data["attempt"]), None
        step.gate_passed, step.overridden = None, False
        step.started, step.evidence_sha256 = record.ts, None
        step.pending_failure = False
    elif kind in ev.FINISHING:
        step = state.step(str(data["step"]))
        step.outcome, step.hash = kind, str(data.get("hash", ""))
        step.pending_failure = False
        step.carried, step.open_since = False, None
    elif kind == ev.CHOICE_ANSWERED:
        state.step(str(data["step"])).choice = (str(data["var"]), str(data["value"]))
    elif kind in {ev.GATE_PASSED, ev.GATE_OVERRIDDEN}:
        step = state.step(str(data["step"]))
        step.gate_passed = record.ts
        step.overridden = step.overridden or kind == ev.GATE_OVERRIDDEN
        step.pending_failure = False
        if data.get("type") == "evidence" and data.get("sha256"):
            step.evidence_sha256 = str(data["sha256"])
    elif kind == ev.GATE_FAILED:
        step = state.step(str(data["step"]))
        step.gate_failures += 1
        # A stale check failing again (gate.expired first) is asked on its own; only a gate
        # step that has not finished leaves its question pending.
        step.pending_failure = step.outcome is None
    elif kind == ev.STEP_RETRY:
        for path in data.get("reset", ()):
            state.step(str(path)).outcome = None
            state.step(str(path)).pending_failure = False
            state.step(str(path)).spent, state.step(str(path)).carried = 0.0, False
            state.step(str(path)).open_since = None
        state.step(str(data["step"])).pending_failure = False


def close_session(state: RunState, resumed: str) -> None:
    """At a resume: the time each open step had in the session that ended (up to its last
    record) is kept; the interruption until this resume is not the step's time. A step still
    open goes on from the resume (a leaf is started again there; a loop or fragment is not)."""
    end = state.last_ts
    for step in state.steps.values():
        if step.open_since is None or step.outcome is not None:
            continue
        if end is not None:
            step.spent += max(0.0, (_when(end) - _when(step.open_since)).total_seconds())
        step.carried, step.open_since = True, resumed


def _when(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
