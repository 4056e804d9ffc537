"""Test doubles for the executor: an in-memory run store, a settable clock, a fake gate runner.

Kept in a test module (no tests of its own) so the executor tests share one copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import ROOT

from ocsrun.run.evidence import EvidenceResult, check_evidence
from ocsrun.run.executor import Executor
from ocsrun.run.gates import CommandResult
from ocsrun.run.operator import ScriptedOperator, parse_answers
from ocsrun.run.state import replay
from ocsrun.runbook import model as m
from ocsrun.store.protocol import JsonData, Record, RunInfo

EVIDENCE = ROOT / "tests" / "data" / "evidence"
# One wizard log per role for the target "ocs01.contoso.com": a log accepted for one step is
# refused for another (same sha256), so every check-log step gets its own.
WIZARD_LOGS = {
    "ocs2007.deactivate-mediation-server": "mediation",
    "ocs2007.deactivate-edge-server": "edge",
    "ocs2007.deactivate-archiving-cdr-server": "archiving-cdr",
}
RUNBOOKS = ROOT / "runbooks" / "ocs2007"


class Clock:
    """A clock the test moves by hand; starts Saturday 2026-11-28 22:00 UTC (off-peak)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 28, 22, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class MemoryHandle:
    info: RunInfo
    clock: Clock
    saved: list[Record] = field(default_factory=list)
    snap: bytes = b""

    def append(self, type: str, data: JsonData) -> Record:
        # A real store serialises to JSON; do the same so non-JSON data fails here too.
        payload = json.loads(json.dumps(data))
        prev = self.saved[-1].hash if self.saved else "0" * 64
        body = json.dumps([len(self.saved), type, payload, prev], sort_keys=True)
        record = Record(
            seq=len(self.saved),
            ts=self.clock().isoformat().replace("+00:00", "Z"),
            operator="tester@host",
            type=type,
            data=payload,
            prev=prev,
            hash=hashlib.sha256(body.encode()).hexdigest(),
        )
        self.saved.append(record)
        return record

    def records(self) -> Iterator[Record]:
        return iter(list(self.saved))

    def torn_tail(self) -> str | None:
        return None

    def snapshot(self) -> bytes:
        return self.snap

    def close(self) -> None:
        pass

    def types(self) -> list[str]:
        return [r.type for r in self.saved]

    def of(self, type: str) -> list[Mapping[str, Any]]:
        return [r.data for r in self.saved if r.type == type]


@dataclass
class FakeGates:
    """Evidence is checked for real (files under tests/data); commands are scripted."""

    exits: list[int] = field(default_factory=list)
    ran: list[tuple[str, ...]] = field(default_factory=list)

    def evidence(self, gate: m.Gate, path: Path) -> EvidenceResult:
        return check_evidence(gate, path)

    def command(self, gate: m.Gate, argv: tuple[str, ...]) -> CommandResult:
        self.ran.append(argv)
        code = self.exits.pop(0) if self.exits else 0
        return CommandResult(argv, code, f"exit {code}\n")


def info(runbook: m.Runbook, target: str | None = None, rehearsal: bool = False) -> RunInfo:
    return RunInfo(
        run_id="run-1",
        runbook_id=runbook.id,
        runbook_title=runbook.metadata.title,
        runbook_version=runbook.metadata.version,
        runbook_path=runbook.path,
        target=target,
        operator="tester@host",
        started="2026-11-28T22:00:00Z",
        rehearsal=rehearsal,
    )


@dataclass
class Harness:
    runbook: m.Runbook
    operator: ScriptedOperator
    handle: MemoryHandle
    clock: Clock
    gates: FakeGates
    params: dict[str, Any]
    target: str | None
    rehearsal: bool = False
    # A monotonic clock for the session (None: the harness clock drives elapsed time too).
    monotonic: Callable[[], float] | None = None

    def executor(self, resume: bool = False) -> Executor:
        return Executor(
            self.runbook,
            self.operator,
            self.handle,
            clock=self.clock,
            rehearsal=self.rehearsal,
            params=self.params,
            target=self.target,
            gate_runner=self.gates,
            state=replay(self.handle.records()) if resume else None,
            resume_command="ocsrun resume run-1",
            monotonic=self.monotonic,
        )

    def run(self) -> str:
        return self.executor().run()

    def resume(self, answers: str | None = None) -> str:
        if answers is not None:
            answers = with_wizard_logs(answers, self.runbook)
            self.operator = ScriptedOperator(parse_answers(answers, EVIDENCE))
        return self.executor(resume=True).resume()

    def done_steps(self) -> list[str]:
        return [str(d["step"]) for d in self.handle.of("step.done")]


def harness(
    runbook: m.Runbook,
    answers: str,
    *,
    params: dict[str, Any] | None = None,
    target: str | None = "ocs01.contoso.com",
    rehearsal: bool = False,
    exits: list[int] | None = None,
) -> Harness:
    clock = Clock()
    operator = ScriptedOperator(parse_answers(with_wizard_logs(answers, runbook), EVIDENCE))
    handle = MemoryHandle(info(runbook, target, rehearsal), clock)
    return Harness(
        runbook,
        operator,
        handle,
        clock,
        FakeGates(list(exits or [])),
        dict(params or {}),
        target,
        rehearsal,
    )


def with_wizard_logs(answers: str, runbook: m.Runbook) -> str:
    """The answers plus, for every evidence step they give no file for, that role's log."""
    import yaml

    data = yaml.safe_load(answers) or {}
    if "evidence" in (data.get("defaults") or {}):
        return answers
    steps = data.setdefault("steps", {}) or {}
    data["steps"] = steps

    def given(path: str) -> bool:
        return "evidence" in (steps.get(path) or {})

    for path, step in m.walk(runbook.steps):
        if step.gate is None or step.gate.type != "evidence" or given(path):
            continue
        head, _, rest = path.partition(".")
        loop = next((s.for_each for s in runbook.steps if s.id == head and s.for_each), None)
        if loop is not None:
            for item in loop.order:
                inner = f"{head}[{item}].{rest}"
                if not given(inner):
                    steps.setdefault(inner, {})["evidence"] = f"ocs01/{item}.html"
        elif runbook.id in WIZARD_LOGS:
            steps.setdefault(path, {})["evidence"] = f"ocs01/{WIZARD_LOGS[runbook.id]}.html"
    return str(yaml.safe_dump(data, sort_keys=False))


def load(name: str) -> m.Runbook:
    """A bundled runbook, built without the validator (the builder trusts its input)."""
    from ocsrun.runbook.build import load_runbook

    return load_runbook(RUNBOOKS / name)


def build(data: dict[str, Any], where: Path | None = None) -> m.Runbook:
    """A runbook from a plain dict, through the real builder (no validation)."""
    from ocsrun.errors import Position
    from ocsrun.runbook.build import _Builder, _Where

    path = where or ROOT / "tests" / "data" / "exec" / "inline.yaml"
    located = _Where(path, str(path), lambda _p: Position(str(path)))
    return _Builder(path, str(path)).runbook(data, located)


def runbook_dict(steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "format": "ocsrun/v1",
        "kind": "runbook",
        "metadata": {
            "id": "test.inline",
            "title": "Inline test runbook",
            "version": "1.0.0",
            "source": {"document": "tests", "section": "inline"},
        },
        "params": extra.pop("params", {}),
        "warnings": extra.pop("warnings", []),
        "steps": steps,
        **extra,
    }
