"""`ocsrun store copy FROM TO`: runs moved between stores unchanged, chains checked twice.

A run is copied only when its chain verifies where it is (a torn last line alone is allowed:
only intact records are copied), and it counts as copied only when it verifies where it lands
with the same number of records and the same last hash. Records are copied as they are (same
seq, timestamps, operators and hashes), never re-appended, so the copy proves what the
original proves. Only the store protocol is used (RunStore.verify, open_run, run_files,
import_run), so any two kinds of store copy to each other. A run already at the destination
with the same records is left alone; one that differs there is a failure, never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ocsrun.errors import StateError
from ocsrun.store.protocol import TORN_TAIL, RunStore


@dataclass
class CopyResult:
    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already there, same records
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run id, why)

    @property
    def ok(self) -> bool:
        return not self.failed


def copy_runs(source: RunStore, destination: RunStore, run_ids: Sequence[str] = ()) -> CopyResult:
    result = CopyResult()
    wanted = list(run_ids) or [s.info.run_id for s in reversed(source.list_runs())]
    there = {s.info.run_id for s in destination.list_runs()}
    for run_id in wanted:
        try:
            outcome = _copy_one(source, destination, run_id, run_id in there)
        except StateError as error:
            result.failed.append((run_id, error.message))
            continue
        (result.copied if outcome == "copied" else result.present).append(run_id)
    return result


def _copy_one(source: RunStore, destination: RunStore, run_id: str, there: bool) -> str:
    checked = source.verify(run_id)
    problems = [p for p in checked.problems if p.kind != TORN_TAIL]
    if problems:
        raise StateError(
            f"its journal does not verify in {source.location} "
            f"({problems[0].kind} at entry {problems[0].line}); not copied"
        )
    handle = source.open_run(run_id)
    try:
        info = handle.info
        records = list(handle.records())
    finally:
        handle.close()
    if there:
        if _hashes(destination, run_id) == [r.hash for r in records]:
            return "present"
        raise StateError(f"a different run {run_id} is already in {destination.location}")
    destination.import_run(info, source.run_files(run_id), records)
    landed = destination.verify(run_id)
    head = records[-1].hash if records else None
    copied = _hashes(destination, run_id)
    if not landed.ok or len(copied) != len(records) or (copied[-1] if copied else None) != head:
        raise StateError(f"the copy in {destination.location} does not verify")
    return "copied"


def _hashes(store: RunStore, run_id: str) -> list[str]:
    handle = store.open_run(run_id)
    try:
        return [r.hash for r in handle.records()]
    finally:
        handle.close()
