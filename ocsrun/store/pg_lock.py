"""The team store's run locks: keys, the held lock, the holder rows and their statements.

A run lock is a session advisory lock keyed on (runbook id, normalised target), so it lives
exactly as long as the database session of the run that took it; the holder row beside it
only answers "held by whom" for the others (see PostgresStore._acquire).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ocsrun.errors import LockHeld, LockLost
from ocsrun.store import pg_url
from ocsrun.store.protocol import LockInfo


def normalise_target(target: str | None) -> str:
    """Host names are case-insensitive and may carry a root dot: one key for every spelling."""
    return (target or "").strip().rstrip(".").lower()


def lock_key(runbook_id: str, target: str | None) -> int:
    """The advisory lock key (signed 64 bits) for (runbook id, normalised target)."""
    material = f"ocsrun.run-lock\0{runbook_id}\0{normalise_target(target)}".encode()
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big", signed=True)


class PgLock:
    """A held run lock: the advisory lock of the store's session plus its holder row.

    `held` is the store's table of the locks its session holds (emptied when the session is
    lost), `unlock` what gives one up on the server."""

    def __init__(
        self, held: dict[int, PgLock], unlock: Callable[[int], None], key: int, info: LockInfo
    ) -> None:
        self._held = held
        self._unlock = unlock
        self.key = key
        self.info = info
        self.broken: LockInfo | None = None  # an advisory lock is never stale: nothing to break

    @property
    def held(self) -> bool:
        return self.key in self._held

    def check(self) -> None:
        # The advisory lock lives as long as the session: a lost connection ends both (and
        # the next append says so); a released one is no longer ours.
        if not self.held:
            raise LockLost(f"the run lock of run {self.info.run_id} is no longer held")

    def release(self) -> None:
        """Give the lock up; safe to call twice and after the connection is gone."""
        if self._held.pop(self.key, None) is None:
            return
        self._unlock(self.key)

    def __enter__(self) -> PgLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Lock holder rows are bookkeeping for the "held by" message, not run state: a crash that
# loses one loses the session's advisory lock with it (and a row counts only while its session
# holds the lock). So their commits do not wait for the disk (4 ms each here); every journal
# record's still does. Each is one round trip: several statements in one string (values as
# quoted literals, no parameters) run as one transaction, and all of it is undone on an error
# (but a session advisory lock taken is the session's until released: PgLock.release, or the
# session's end). Taking the lock is the row's condition: a row comes back when it was taken.
_HOLDER_WRITE = (
    "SET LOCAL synchronous_commit = off;"
    " INSERT INTO ocsrun.lock_holders (lock_key, runbook_id, target, run_id,"
    " operator, host, pid, started, backend_pid)"
    " SELECT {}, {}, {}, {}, {}, {}, {}, {}, pg_backend_pid() WHERE pg_try_advisory_lock({})"
    " ON CONFLICT (lock_key) DO UPDATE SET runbook_id = EXCLUDED.runbook_id,"
    " target = EXCLUDED.target, run_id = EXCLUDED.run_id,"
    " operator = EXCLUDED.operator, host = EXCLUDED.host, pid = EXCLUDED.pid,"
    " started = EXCLUDED.started, backend_pid = EXCLUDED.backend_pid"
    " RETURNING lock_key"
)
_HOLDER_RELEASE = (
    "SET LOCAL synchronous_commit = off;"
    " DELETE FROM ocsrun.lock_holders WHERE lock_key = {0} AND backend_pid = pg_backend_pid();"
    " SELECT pg_advisory_unlock({0})"
)
# The holder row of lock %s counts only while its session holds the advisory lock.
_HOLDER_QUERY = (
    "SELECT h.run_id, h.operator, h.host, h.pid, h.started FROM ocsrun.lock_holders h"
    " JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    " AND l.pid = h.backend_pid AND l.classid::bigint = %s AND l.objid::bigint = %s"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " WHERE h.lock_key = %s"
)


def take_statement(
    key: int, runbook_id: str, target: str | None, run_id: str, info: LockInfo
) -> Any:
    """Try the lock and, only when taken, write its holder row; a row comes back if taken."""
    sql = pg_url.psycopg_module().sql
    values = (key, runbook_id, target, run_id, info.operator, info.host, info.pid, info.started)
    return sql.SQL(_HOLDER_WRITE).format(*(sql.Literal(v) for v in (*values, key)))


def release_statement(key: int) -> Any:
    sql = pg_url.psycopg_module().sql
    return sql.SQL(_HOLDER_RELEASE).format(sql.Literal(key))


def holder_query(key: int) -> tuple[str, tuple[int, int, int]]:
    """The holder query and its parameters (pg_locks splits a bigint key in two halves)."""
    return _HOLDER_QUERY, ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF, key)


def holder_from_row(row: tuple[Any, ...]) -> LockInfo:
    return LockInfo(str(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]))


def held_error(what: str, holder: LockInfo | None) -> LockHeld:
    if holder is None:
        who = "another session (its holder record is not readable)"
    else:
        who = (
            f"run {holder.run_id} (operator {holder.operator} on {holder.host}, pid "
            f"{holder.pid}, since {holder.started})"
        )
    return LockHeld(
        f"{what} is locked by {who}, whose database session is alive; the lock is released "
        "when that run ends or its workstation's session is gone",
        holder_run_id=holder.run_id if holder is not None else None,
    )
