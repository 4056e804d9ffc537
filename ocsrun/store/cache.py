"""Caches a long-lived reader of the local store keeps (see RecordCache)."""

from __future__ import annotations

import threading

from ocsrun.store.protocol import Record


class RecordCache:
    """The records of the last few journals read whole, by run id and the journal's stat.

    A long-lived reader (the web view, polling a run page every second) would otherwise
    decode and hash-check a 10,000-record journal on every view. Records are frozen, so one
    tuple serves every reader. Locked: the web view reads from several threads.
    """

    def __init__(self, runs: int = 8) -> None:
        self.runs = runs
        self._items: dict[str, tuple[tuple[int, ...], tuple[Record, ...]]] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str) -> tuple[tuple[int, ...], tuple[Record, ...]] | None:
        with self._lock:
            found = self._items.pop(run_id, None)
            if found is not None:
                self._items[run_id] = found  # most recent last
            return found

    def put(self, run_id: str, key: tuple[int, ...], records: tuple[Record, ...]) -> None:
        with self._lock:
            self._items.pop(run_id, None)
            self._items[run_id] = (key, records)
            while len(self._items) > self.runs:
                del self._items[next(iter(self._items))]
