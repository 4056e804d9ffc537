"""The run-state seam: journals and locks behind one interface.

A local directory (`ocsrun.store.local.LocalDirStore`) is the default; a shared
database for teams on several workstations will implement the same protocols.
The executor only ever calls `RunHandle.append`; nothing else writes run state.
"""

from __future__ import annotations

import functools
import getpass
import os
import secrets
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

JsonData = Mapping[str, Any]

# The VerifyProblem kind that is only a warning: a crash tore the last entry, nothing else.
TORN_TAIL = "torn-tail"
CHAIN_SHA256 = "sha256"
CHAIN_HMAC = "hmac-sha256"
# A run's status in `runs list` from the type of its last record; any other type: "running".
STATUS_BY_LAST_TYPE = {
    "run.finished": "finished",
    "run.aborted": "aborted",
    "run.interrupted": "interrupted",
    "run.failed": "failed",
    "run.abandoned": "abandoned",
}


def make_run_id(now: datetime | None = None) -> str:
    """A run id: sortable (UTC time to the second) and unique (plus 24 random bits).

    Never the same id twice from one process: 24 bits alone repeat within one second about
    once in 130 draws of 500 (a store's create refuses an id it holds; across processes that is
    the guard)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    if stamp not in _issued:
        _issued.clear()  # only the latest second's ids can come again
        _issued[stamp] = set()
    taken = _issued[stamp]
    while (suffix := secrets.token_hex(3)) in taken:
        pass
    taken.add(suffix)
    return f"{stamp}-{suffix}"


_issued: dict[str, set[str]] = {}


def utc_now() -> str:
    """The timestamp form of every record and run: UTC, microseconds, "Z"."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.cache
def operator_id() -> str:
    """`user@host`, as every record names its operator; getuser() fails in containers with no
    passwd entry.

    Cached: the passwd lookup behind getuser() cost more than the rest of making a record.
    User and host do not change within one process.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{host_name()}"


HOST_ENV = "OCSRUN_HOST"


def host_name() -> str:
    """This workstation's name in journals and lock holders: `$OCSRUN_HOST`, else the hostname.

    The variable names a workstation whose hostname says nothing (a container's random one);
    the user part of `operator_id` follows the usual LOGNAME/USER variables the same way.
    """
    return os.environ.get(HOST_ENV) or socket.gethostname()


class Record(NamedTuple):
    """One journal line. `hash` covers every other field, `prev` chains to the record before.

    A tuple, not a frozen dataclass: every read makes one per record (ten thousand for a long
    run's resume, show or verify), and a frozen dataclass's __init__ sets each field through
    object.__setattr__, four times the cost of making the tuple. Immutable all the same.
    """

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
    # How record hashes are made: "sha256" (anyone can recompute them) or "hmac-sha256"
    # (only with the store's key). Set by the store when it creates the run.
    chain: str = "sha256"


@dataclass(frozen=True, slots=True)
class RunSummary:
    info: RunInfo
    records: int
    last_type: str | None
    last_ts: str | None
    # "running" | "finished" | "aborted" | "interrupted" | "failed" | "unknown" | "damaged"
    # (damaged: its run.json or journal tail cannot be read as ocsrun wrote them)
    status: str
    last_step: str | None = None  # where the run is: the step its last record is about, if any


class RunBrief(NamedTuple):
    """A run as the text of `runs list` shows it: a few fields of its RunSummary, no more.

    A tuple, not a frozen dataclass like the rest: a store makes ten thousand of them at a
    time, and a tuple is made from a database row as it stands, where a frozen dataclass's
    __init__ sets each field through object.__setattr__ (a RunSummary with its RunInfo cost
    about ten times as much to make: 31,000 instructions against 2,800). Immutable all the same.
    """

    run_id: str
    runbook_id: str
    target: str | None
    status: str
    rehearsal: bool
    started: str
    operator: str
    records: int


def brief_of(summary: RunSummary) -> RunBrief:
    """The brief of a summary: what `RunStore.list_briefs` gives for the same run."""
    info = summary.info
    return RunBrief(
        info.run_id,
        info.runbook_id,
        info.target,
        summary.status,
        info.rehearsal,
        info.started,
        info.operator,
        summary.records,
    )


@dataclass(frozen=True, slots=True)
class VerifyProblem:
    seq: int | None  # record sequence number concerned, or None for the journal as a whole
    # 1-based position of the entry in the run's journal as stored (a line of the local
    # journal file, a row of a database table), 0 if not applicable.
    line: int
    kind: str  # "torn-tail", "bad-json", "hash-mismatch", "chain-break", "seq-gap", ...
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    run_id: str
    records: int
    problems: tuple[VerifyProblem, ...]
    head: str | None = None  # the last record's hash, to compare with one written down

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
    """A held lock. Releasing it twice is harmless."""

    @property
    def info(self) -> LockInfo:
        """Who holds it: this process."""
        ...

    @property
    def broken(self) -> LockInfo | None:
        """The stale holder this lock took over (with break_lock or reclaim), if any."""
        ...

    def check(self) -> None:
        """Raise errors.LockLost unless this lock is still held by this session.

        Called before every journal record, so a lock removed or taken over while a run
        waits for its operator stops the run before its next step.
        """
        ...

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

    def head(self) -> str | None:
        """The hash of the last intact record (the chain's head), None for an empty journal."""
        ...

    def close(self) -> None: ...


class RunStore(Protocol):
    """Where runs are kept. Built by `ocsrun.store.open.open_store`, never by name elsewhere."""

    @property
    def location(self) -> str:
        """Where the runs are, for messages: a directory, a database URL without secrets."""
        ...

    def reopen_args(self) -> tuple[str, ...]:
        """Command-line options that open this store again (for `ocsrun resume ...` hints)."""
        ...

    def new_run_id(self) -> str:
        """A fresh run id: sortable by start time, unique, safe in file names and URLs."""
        ...

    def create_run(self, info: RunInfo, snapshot: bytes) -> RunHandle: ...

    def open_run(self, run_id: str) -> RunHandle:
        """Raises errors.StateError naming the run id when it does not exist."""
        ...

    def list_runs(self) -> list[RunSummary]:
        """Every run, newest first (started, then run id, in code point order)."""
        ...

    def list_briefs(self) -> list[RunBrief]:
        """`[brief_of(s) for s in list_runs()]`, exactly; a store may read only those fields."""
        ...

    def migrate(self, operator_roles: Sequence[str] = ()) -> list[str]:
        """Create or upgrade what the store needs (a database schema), and grant each of
        operator_roles an operator's rights; one line per thing done. A directory needs
        nothing: [] (and roles mean nothing to it: UsageError)."""
        ...

    def run_files(self, run_id: str) -> dict[str, bytes]:
        """Everything kept with a run besides its RunInfo and journal (the snapshot as
        "snapshot", source texts, set-aside torn tails), by relative name: `ocsrun store copy`."""
        ...

    def import_run(self, info: RunInfo, files: dict[str, bytes], records: Iterable[Record]) -> None:
        """Add a run recorded elsewhere with its records unchanged (`ocsrun store copy`).

        Raises errors.StateError when a run with that id is already here.
        """
        ...

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

    def reclaim_lock(self, runbook_id: str, target: str | None, run_id: str) -> Lock:
        """The lock for resuming run_id: taken, or taken back from run_id's own stale holder.

        A crash leaves the run's lock behind with no live holder; resuming that same run is
        what taking it back means. Raises errors.LockHeld when anyone else holds the lock, or
        when run_id's own earlier session is still alive.
        """
        ...

    def lock_run(self, run_id: str) -> Lock:
        """The run's own lock: one session of a run at a time, real runs and rehearsals alike.

        Taken before the journal is read and held for the whole session. A stale one (its
        session's process is gone) is taken back: only sessions of run_id ever take it.
        Raises errors.LockHeld naming the live holder.
        """
        ...


def normalise_target(target: str | None) -> str:
    """The one spelling of a target in lock keys: host names are case-insensitive, and a
    trailing root dot or surrounding space names the same server."""
    return (target or "").strip().rstrip(".").strip().casefold()
