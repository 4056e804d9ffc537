"""The run-state seam: journals and locks behind one interface.

A local directory (`ocsrun.store.local.LocalDirStore`) is the default; a shared
database for teams on several workstations will implement the same protocols.
The executor only ever calls `RunHandle.append`; nothing else writes run state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

JsonData = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Record:
    """One journal line. `hash` covers every other field, `prev` chains to the record before."""

    seq: int
    ts: str  # UTC, ISO 8601 with microseconds and "Z"
    operator: str  # user@host
    type: str  # event type, e.g. "step.done"
    data: JsonData
    prev: str  # hash of the previous record; "0" * 64 for the first
    hash: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a run is about; written once when the run is created."""

    run_id: str
    runbook_id: str
    runbook_title: str
    runbook_version: str
    runbook_path: str
    target: str | None
    operator: str
    started: str
    rehearsal: bool
    params: Mapping[str, Any] = field(default_factory=dict)  # secrets already removed


@dataclass(frozen=True, slots=True)
class RunSummary:
    info: RunInfo
    records: int
    last_type: str | None
    last_ts: str | None
    status: str  # "running" | "finished" | "aborted" | "interrupted" | "failed" | "unknown"


@dataclass(frozen=True, slots=True)
class VerifyProblem:
    seq: int | None  # record sequence number concerned, or None for the file as a whole
    line: int  # 1-based line in the journal file, 0 if not applicable
    kind: str  # "torn-tail", "bad-json", "hash-mismatch", "chain-break", "seq-gap", ...
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    run_id: str
    records: int
    problems: tuple[VerifyProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class LockInfo:
    run_id: str
    operator: str
    host: str
    pid: int
    started: str


class Lock(Protocol):
    def release(self) -> None: ...


class RunHandle(Protocol):
    @property
    def info(self) -> RunInfo: ...

    def append(self, type: str, data: JsonData) -> Record:
        """Write one record durably (flushed and fsync'd) before returning it.

        Raises errors.StorageFull, leaving no partial record, when the write fails.
        """
        ...

    def records(self) -> Iterator[Record]:
        """Every intact record in order; a torn last line is set aside, not returned."""
        ...

    def torn_tail(self) -> str | None:
        """The partial last line left by a crash, if any (already set aside)."""
        ...

    def snapshot(self) -> bytes:
        """The resolved runbook as it was when the run started."""
        ...

    def close(self) -> None: ...


class RunStore(Protocol):
    def create_run(self, info: RunInfo, snapshot: bytes) -> RunHandle: ...

    def open_run(self, run_id: str) -> RunHandle:
        """Raises errors.StateError naming the run id when it does not exist."""
        ...

    def list_runs(self) -> list[RunSummary]: ...

    def verify(self, run_id: str) -> VerifyReport: ...

    def acquire_lock(
        self, runbook_id: str, target: str | None, run_id: str, *, break_lock: bool = False
    ) -> Lock:
        """One active run per (runbook, target).

        Raises errors.LockHeld naming the holder's run id, operator and start time.
        With break_lock, takes over a lock whose process is gone on this host (the
        caller journals that); a live holder is never broken.
        """
        ...
