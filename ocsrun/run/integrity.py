"""What keeps a run honest between sessions: its locks, its first record, its head.

* `LockedHandle` checks every lock the session holds before each journal record, so a lock
  removed or taken over while the run waited for its operator stops the run (LockLost) before
  anything else is done or written.
* `info_mismatches` compares the run record a store keeps beside the journal (`RunInfo`, e.g.
  `run.json`) with the chained `run.started` record, which is the authority: the run record is
  only a cache, and a resume or a verify that finds them apart refuses.
* `abandon` journals, in a crashed run, that `--break-lock` gave its lock to a new run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ocsrun.errors import LockHeld, OcsrunError, StateError
from ocsrun.run import events as ev
from ocsrun.store.protocol import JsonData, Lock, Record, RunHandle, RunInfo, RunStore


class LockedHandle:
    """A RunHandle whose every append first checks that the session's locks are still held."""

    def __init__(self, handle: RunHandle, locks: Sequence[Lock]) -> None:
        self._handle = handle
        self._locks = tuple(locks)

    @property
    def info(self) -> RunInfo:
        return self._handle.info

    def append(self, type: str, data: JsonData) -> Record:
        for held in self._locks:
            held.check()
        return self._handle.append(type, data)

    def records(self) -> Iterator[Record]:
        return self._handle.records()

    def torn_tail(self) -> str | None:
        return self._handle.torn_tail()

    def snapshot(self) -> bytes:
        return self._handle.snapshot()

    def head(self) -> str | None:
        return self._handle.head()

    def close(self) -> None:
        self._handle.close()


def started_facts(info: RunInfo) -> dict[str, Any]:
    """The facts of a run that both the run record and `run.started` state."""
    return {
        "runbook.id": info.runbook_id,
        "runbook.version": info.runbook_version,
        "runbook.title": info.runbook_title,
        "target": info.target,
        "rehearsal": info.rehearsal,
        "params": dict(info.params),
        "chain": info.chain,
    }


def _record_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The facts run.started states. The executor writes every one of them; a fact a record
    lacks cannot have been removed since (that would break the chain), so it is not held."""
    runbook = data.get("runbook")
    runbook = runbook if isinstance(runbook, Mapping) else {}
    facts = {
        f"runbook.{name}": runbook[name] for name in ("id", "version", "title") if name in runbook
    }
    facts.update({name: data[name] for name in ("target", "rehearsal") if name in data})
    if "params" in data:
        params = data["params"]
        facts["params"] = dict(params) if isinstance(params, Mapping) else params
    # Runs started before the chain mode was recorded are plain sha256 chains.
    facts["chain"] = data.get("chain", "sha256")
    return facts


def info_mismatches(
    info: RunInfo, records: Iterable[Record], snapshot: bytes | None = None
) -> list[str]:
    """How the run record differs from the chained `run.started` record; [] when they agree.

    With `snapshot`, its sha256 must be the one `run.started` recorded (runs started before
    that was recorded carry none, and are not held to it).
    """
    first = next(iter(records), None)
    if first is None:
        return []  # a run that crashed before its first record: nothing to compare yet
    if first.type != ev.RUN_STARTED:
        # Not a journal the executor wrote (a store's own test data): nothing to hold the
        # run record to. Removing a real run.started breaks the chain, which verify names.
        return []
    cached, chained = started_facts(info), _record_facts(first.data)
    problems = [
        f"{name}: run record says {cached[name]!r}, run.started says {chained[name]!r}"
        for name in cached
        if name in chained and cached[name] != chained[name]
    ]
    recorded = first.data.get("snapshot_sha256")
    if snapshot is not None and recorded is not None:
        import hashlib

        if hashlib.sha256(snapshot).hexdigest() != recorded:
            problems.append("snapshot: its sha256 is not the one run.started recorded")
    return problems


def check_run_info(handle: RunHandle) -> None:
    """StateError when the run record and the chained run.started disagree (see module)."""
    problems = info_mismatches(handle.info, handle.records(), handle.snapshot())
    if problems:
        raise StateError(
            f"run {handle.info.run_id}: its run record does not match its journal "
            f"({'; '.join(problems)}); the journal is the authority: run "
            f"`ocsrun runs verify {handle.info.run_id}`"
        )


def abandon(store: RunStore, old_run_id: str, new_run_id: str, holder: Mapping[str, Any]) -> bool:
    """Journal in old_run_id that its stale lock went to new_run_id; False if it cannot be.

    The old run is locked, opened and appended to like any session of it; a run that is not
    in this store (a lock file copied from elsewhere) or is busy again is left as it is.
    """
    try:
        held = store.lock_run(old_run_id)
    except (LockHeld, OcsrunError):
        return False
    try:
        handle = store.open_run(old_run_id)
        try:
            handle.append(ev.RUN_ABANDONED, {"broken_by": new_run_id, "holder": dict(holder)})
        finally:
            handle.close()
    except (OcsrunError, OSError):
        return False
    finally:
        held.release()
    return True
