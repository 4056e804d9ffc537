"""Team mode: runs, journals and locks in a shared PostgreSQL database.

The same records and hash chain as the local store (each row's `line` is the JSON line a local
journal.jsonl would hold), so `runs verify` means the same thing on both and `ocsrun store copy`
moves runs between them unchanged. Tables: see `ocsrun.store.pg_migrations`.

One connection per store object, shared by the run's lock and its journal: the lock is a
session advisory lock, so it lives exactly as long as the connection that writes the run.
A workstation that crashes or loses its network releases it when the server notices the
session is gone (TCP keepalives are set on both ends). A connection lost mid-run makes the next
append fail with StoreUnavailable: the run stops before the next step, and everything already
acknowledged is committed (each append is its own committed transaction, with
synchronous_commit on, before it returns: the database's fsync).

psycopg is imported only here, and only when a `postgresql://` store is opened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ocsrun.errors import StateError, StoreUnavailable, UsageError
from ocsrun.gc_pause import gc_paused
from ocsrun.store import journal, journal_verify, pg_list, pg_lock, pg_migrations, pg_url
from ocsrun.store.pg_lock import PgLock, lock_key
from ocsrun.store.pg_url import check_url, display_url, is_postgres_url
from ocsrun.store.protocol import (
    JsonData,
    LockInfo,
    Record,
    RunBrief,
    RunInfo,
    RunSummary,
    VerifyProblem,
    VerifyReport,
    make_run_id,
)

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]

SNAPSHOT = "snapshot"
COLUMN_MISMATCH = "column-mismatch"
STORED_HEAD = "stored-head-mismatch"


class PgRunHandle:
    """One run in the database, open for reading and appending over the store's connection."""

    def __init__(self, store: PostgresStore, info: RunInfo, last: Record | None) -> None:
        self._store = store
        self._info = info
        self._last = last
        # The records read to the end before, checked: a second read (resume replays the
        # journal, then looks at run.started again) asks the server only for newer rows.
        self._read: tuple[Record, ...] = ()
        self._snapshot: bytes | None = None

    @property
    def info(self) -> RunInfo:
        return self._info

    @property
    def last(self) -> Record | None:
        return self._last

    def head(self) -> str | None:
        return self._last.hash if self._last is not None else None

    def append(self, type: str, data: JsonData) -> Record:
        last = self._last
        record = journal.make_record(
            last.seq + 1 if last else 1,
            type,
            data,
            last.hash if last else journal.GENESIS,
            operator=journal.operator_id(),
        )
        self._store._insert_record(self._info.run_id, record)
        self._last = record
        return record

    def records(self) -> Iterator[Record]:
        known = self._read
        last = known[-1] if known else None
        # Fetched before the first record is handed out, so a caller appending while it reads
        # (none does) could not make the read chase its own tail.
        lines = self._store._lines_after(self._info.run_id, last.seq if last else 0)
        name = f"{self._store.location} run {self._info.run_id}"
        # All rows are here already: check them in one go, the collector paused (the records
        # are kept, and collecting while they pile up cost more than checking them).
        with gc_paused():
            read = tuple(journal.read_checked(lines, name, last=last, line_no=len(known)))
        self._read = known + read
        yield from self._read

    def torn_tail(self) -> str | None:
        return None  # a row is inserted whole or not at all

    def snapshot(self) -> bytes:
        # Kept once read: run files are never changed (operators may only add them), and a
        # resume asks for it twice.
        if self._snapshot is None:
            self._snapshot = self._store.run_file(self._info.run_id, SNAPSHOT)
        return self._snapshot

    def close(self) -> None:
        """The connection belongs to the store (the lock may outlive the handle)."""

    def __enter__(self) -> PgRunHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresStore:
    """RunStore over a PostgreSQL database (libpq URL; passwords from libpq's own sources)."""

    def __init__(self, url: str) -> None:
        if not is_postgres_url(url):
            raise UsageError(f"not a postgresql:// URL: {display_url(url)}")
        check_url(url)
        self.url = url
        self.location = display_url(url)
        self._conn: Connection | None = None
        self._lost: str | None = None
        self._held: dict[int, PgLock] = {}
        # Set by the first write or lock. A store that only ever read (`runs list`, the web
        # view) connects again after losing its session; one that wrote never does: its run
        # must stop, because its lock went with the session.
        self._wrote = False

    # --- the connection -------------------------------------------------------------

    def connection(self, *, migrate: bool = True) -> Connection:
        if self._lost is not None:
            raise StoreUnavailable(self._lost)
        if self._conn is None:
            psycopg = pg_url.psycopg_module()
            try:
                conn = psycopg.connect(
                    self.url, autocommit=True, application_name="ocsrun", **pg_url.KEEPALIVES
                )
                if not migrate:
                    conn.execute(pg_url.SESSION_SETTINGS)
            except psycopg.Error as error:
                raise StoreUnavailable(
                    f"cannot connect to the run store {self.location}: {pg_url.first_line(error)}"
                ) from None
            self._conn = conn
            if migrate:
                self._call(None, self._check_schema, checked=False)
        return self._conn

    def _check_schema(self, conn: Connection) -> None:
        """The session's settings and the schema's version, in one round trip (each one is a
        wait for the server, and a loaded workstation waits longer for each)."""
        psycopg = pg_url.psycopg_module()
        try:
            have = int(pg_url.last_result(conn.execute(_SETTLE)).fetchone()[0])
        except psycopg.errors.UndefinedTable:
            # A database ocsrun has never used. The failed statement undid the settings too.
            conn.execute(pg_url.SESSION_SETTINGS)
            have = 0
        if have == pg_migrations.LATEST:
            return
        if have > pg_migrations.LATEST:
            raise StateError(f"{self.location}: {pg_migrations.newer_message(have)}")
        if have == 0:
            # A database ocsrun never used: create the schema (under the migration lock).
            psycopg = pg_url.psycopg_module()
            try:
                pg_migrations.migrate(conn)
                return
            except psycopg.errors.InsufficientPrivilege:
                pass
        raise StateError(
            f"{self.location}: the ocsrun schema is at version {have}, this ocsrun needs "
            f"{pg_migrations.LATEST}; run `ocsrun store migrate --store URL` as the schema owner"
        )

    def migrate(self, operator_roles: Sequence[str] = ()) -> list[str]:
        applied = self._call(None, pg_migrations.migrate, checked=False)
        done = [f"applied {m.version}: {m.title}" for m in applied]
        for role in operator_roles:
            self.grant_operator(role)
            done.append(f"granted operator rights to {role}")
        return done

    def grant_operator(self, role: str) -> None:
        """Give `role` an operator's rights (see pg_migrations.operator_grants)."""

        def body(conn: Connection) -> None:
            with conn.transaction():
                for statement in pg_migrations.operator_grants(role):
                    conn.execute(statement.encode())

        self._call(None, body)

    def close(self) -> None:
        for held in list(self._held.values()):
            held.release()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _call(
        self, run_id: str | None, body: Any, *, checked: bool = True, writes: bool = False
    ) -> Any:
        """Run body(connection). A lost connection becomes StoreUnavailable, for good; any
        other database error a StateError naming the store (a UniqueViolation is left to the
        caller, which knows what it means)."""
        psycopg = pg_url.psycopg_module()
        conn = self.connection(migrate=checked)
        self._wrote = self._wrote or writes
        try:
            return body(conn)
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.OperationalError as error:
            if not conn.broken and not conn.closed:
                raise StateError(f"{self.location}: {pg_url.first_line(error)}") from None
            self._held.clear()  # the server ends the session's advisory locks with it
            if not self._wrote:
                self._conn = None  # a reader: the next call connects again
                raise StoreUnavailable(
                    f"lost the connection to the run store {self.location} "
                    f"({pg_url.first_line(error)}); try again"
                ) from None
            resume = f"; resume with: ocsrun resume {run_id} --store {self.location}"
            self._lost = (
                f"lost the connection to the run store {self.location} "
                f"({pg_url.first_line(error)}); the run stopped before its next step; every record "
                f"acknowledged so far is committed{resume if run_id else ''}"
            )
            raise StoreUnavailable(self._lost) from None
        except psycopg.Error as error:
            raise StateError(f"{self.location}: {pg_url.first_line(error)}") from None

    # --- runs -----------------------------------------------------------------------

    def create_run(self, info: RunInfo, snapshot: bytes) -> PgRunHandle:
        self._insert_run(info, {SNAPSHOT: snapshot})
        return PgRunHandle(self, info, None)

    def _insert_run(self, info: RunInfo, files: dict[str, bytes]) -> None:
        psycopg = pg_url.psycopg_module()

        def body(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (
                        info.run_id,
                        info.runbook_id,
                        info.target,
                        info.started,
                        psycopg.types.json.Jsonb(_info_data(info)),
                    ),
                )
                for name, content in files.items():
                    conn.execute(
                        "INSERT INTO ocsrun.run_files (run_id, name, content) VALUES (%s, %s, %s)",
                        (info.run_id, name, content),
                    )

        try:
            self._call(info.run_id, body, writes=True)
        except psycopg.errors.UniqueViolation:
            raise StateError(f"run {info.run_id} already exists in {self.location}") from None

    def open_run(self, run_id: str) -> PgRunHandle:
        # The run record and its last record in one round trip.
        row = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT info, (SELECT line FROM ocsrun.journal WHERE run_id = %s"
                " ORDER BY seq DESC LIMIT 1) FROM ocsrun.runs WHERE run_id = %s",
                (run_id, run_id),
            ).fetchone(),
        )
        if row is None:
            raise StateError(f"no run {run_id!r} in {self.location}")
        info, line = _info_from_data(row[0]), row[1]
        last = None
        if line is not None:
            try:
                last = journal.decode(line.encode("utf-8"))
            except journal.RecordError as error:
                raise StateError(
                    f"{self.location} run {run_id}: last record is damaged ({error}); "
                    f"run `ocsrun runs verify {run_id}`"
                ) from None
        return PgRunHandle(self, info, last)

    def _info(self, run_id: str) -> RunInfo:
        row = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT info FROM ocsrun.runs WHERE run_id = %s", (run_id,)
            ).fetchone(),
        )
        if row is None:
            raise StateError(f"no run {run_id!r} in {self.location}")
        return _info_from_data(row[0])

    def run_file(self, run_id: str, name: str) -> bytes:
        row = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT content FROM ocsrun.run_files WHERE run_id = %s AND name = %s",
                (run_id, name),
            ).fetchone(),
        )
        if row is None:
            raise StateError(f"run {run_id} has no {name} in {self.location}")
        return bytes(row[0])

    def run_files(self, run_id: str) -> dict[str, bytes]:
        rows = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT name, content FROM ocsrun.run_files WHERE run_id = %s ORDER BY name",
                (run_id,),
            ).fetchall(),
        )
        return {str(name): bytes(content) for name, content in rows}

    def _insert_record(self, run_id: str, record: Record) -> None:
        psycopg = pg_url.psycopg_module()
        line = journal.encode(record)[:-1].decode("utf-8")
        try:
            self._call(
                run_id,
                lambda conn: conn.execute(
                    "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (run_id, record.seq, record.type, record.ts, line),
                ),
                writes=True,
            )
        except psycopg.errors.UniqueViolation:
            raise StateError(
                f"run {run_id}: record {record.seq} was already written by another session "
                "(two sessions writing one run); this session stops without writing"
            ) from None

    def _lines_after(self, run_id: str, seq: int) -> list[str]:
        """The journal lines of run_id after record `seq`, in order."""
        rows: list[tuple[str]] = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT line FROM ocsrun.journal WHERE run_id = %s AND seq > %s ORDER BY seq",
                (run_id, seq),
            ).fetchall(),
        )
        return [line for (line,) in rows]

    def _lines(self, run_id: str) -> list[tuple[int, str, str, str]]:
        rows: list[tuple[int, str, str, str]] = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT seq, type, ts, line FROM ocsrun.journal WHERE run_id = %s ORDER BY seq",
                (run_id,),
            ).fetchall(),
        )
        return rows

    def list_runs(self) -> list[RunSummary]:
        # One query over plain columns (see ocsrun.store.pg_list), the collector paused: 10,000
        # runs are 50,000 objects, none in a cycle (see gc_paused).
        with gc_paused():
            rows = self._call(None, lambda conn: conn.execute(pg_list.LIST_QUERY).fetchall())
            return pg_list.summaries(rows)

    def list_briefs(self) -> list[RunBrief]:
        # The text of `runs list`: eight plain columns per run, each row a RunBrief as it is.
        with gc_paused():
            rows = self._call(None, lambda conn: conn.execute(pg_list.BRIEF_QUERY).fetchall())
            return pg_list.briefs(rows)

    def verify(self, run_id: str) -> VerifyReport:
        self._info(run_id)
        rows = self._lines(run_id)
        checked = journal_verify.Verifier()
        for position, (*_, line) in enumerate(rows, start=1):
            # A row is inserted whole or not at all: a last row that is no record is damage,
            # never a write cut off by a crash (the torn tail a file can have).
            checked.feed(position, line.encode("utf-8") + b"\n", is_last=False)
        count, problems = checked.records, checked.finish()
        for position, (seq, type_, ts, line) in enumerate(rows, start=1):
            try:
                record = journal.decode(line.encode("utf-8"))
            except journal.RecordError:
                continue  # reported by verify_lines
            if (record.seq, record.type, record.ts) != (seq, type_, ts):
                problems.append(
                    VerifyProblem(
                        seq,
                        position,
                        COLUMN_MISMATCH,
                        f"row seq {seq} ({type_}, {ts}) does not match its record "
                        f"(seq {record.seq}, {record.type}, {record.ts}): the row was altered",
                    )
                )
        problems.extend(self._head_problems(run_id, rows))
        problems.sort(key=lambda p: (p.line, p.kind))
        return VerifyReport(run_id, count, tuple(problems), checked.head)

    def _head_problems(
        self, run_id: str, rows: list[tuple[int, str, str, str]]
    ) -> list[VerifyProblem]:
        """The rows against the run's head row, which the server wrote with each record: a
        journal whose last records were deleted (by someone who could get past the
        append-only trigger) no longer ends where its head says."""
        found = self._call(
            run_id,
            lambda conn: conn.execute(
                "SELECT records, head FROM ocsrun.run_heads WHERE run_id = %s", (run_id,)
            ).fetchone(),
        )
        last_seq, last_hash = (rows[-1][0], journal.head_of(rows[-1][3])) if rows else (0, None)
        if found is None:
            if not rows:
                return []
            return [
                VerifyProblem(
                    None,
                    0,
                    STORED_HEAD,
                    f"the run has {len(rows)} records but no head row (ocsrun.run_heads): it "
                    "was removed, or records were added past the journal's trigger",
                )
            ]
        records, head = found
        if (records, head) == (last_seq, last_hash):
            return []
        if records > last_seq:
            message = (
                f"the journal ends at seq {last_seq}, but seq {records} was committed "
                f"(head {str(head)[:12]}…): records were removed from its end"
            )
        else:
            message = (
                f"the journal ends at seq {last_seq} ({str(last_hash)[:12]}…), but its head row "
                f"says seq {records} ({str(head)[:12]}…): the journal or its head was changed "
                "past the server's trigger"
            )
        return [VerifyProblem(None, 0, STORED_HEAD, message)]

    def import_run(self, info: RunInfo, files: dict[str, bytes], records: Iterable[Record]) -> None:
        """Add a run recorded elsewhere, records unchanged (`ocsrun store copy`)."""
        psycopg = pg_url.psycopg_module()
        self._insert_run(info, files)
        rows = [
            (info.run_id, r.seq, r.type, r.ts, journal.encode(r)[:-1].decode("utf-8"))
            for r in records
        ]

        def body(conn: Connection) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    rows,
                )

        try:
            self._call(info.run_id, body, writes=True)
        except psycopg.errors.UniqueViolation:
            raise StateError(f"run {info.run_id}: duplicate records while copying") from None

    # --- the rest of the RunStore protocol ------------------------------------------------

    def reopen_args(self) -> tuple[str, ...]:
        return ("--store", self.location)

    def new_run_id(self) -> str:
        return make_run_id()

    def lock_run(self, run_id: str) -> PgLock:
        # A key of its own (no runbook id is empty): one session of a run at a time.
        return self._acquire(lock_key("", run_id), f"run {run_id}", "", run_id, run_id)

    def reclaim_lock(self, runbook_id: str, target: str | None, run_id: str) -> PgLock:
        # An advisory lock dies with its session: there is never a stale one to take back.
        return self.acquire_lock(runbook_id, target, run_id)

    # --- locks ----------------------------------------------------------------------

    def acquire_lock(
        self, runbook_id: str, target: str | None, run_id: str, *, break_lock: bool = False
    ) -> PgLock:
        """One active run per (runbook, normalised target), across every workstation.

        `break_lock` changes nothing here: a session advisory lock is never stale (the
        server drops it with the session), so a held lock always has a live holder.
        """
        what = f"runbook {runbook_id!r}" + (f" on target {target!r}" if target else "")
        return self._acquire(lock_key(runbook_id, target), what, runbook_id, target, run_id)

    def _acquire(
        self, key: int, what: str, runbook_id: str, target: str | None, run_id: str
    ) -> PgLock:
        if key in self._held:
            raise pg_lock.held_error(what, self._held[key].info)
        info = LockInfo(
            run_id=run_id,
            operator=journal.operator_id(),
            host=journal.host_name(),
            pid=os.getpid(),
            started=journal.utc_now(),
        )
        # The lock and its holder row in one round trip (see pg_lock.take_statement).
        statement = pg_lock.take_statement(key, runbook_id, target, run_id, info)
        taken = self._call(
            run_id,
            lambda conn: pg_url.last_result(conn.execute(statement)).fetchone() is not None,
            writes=True,
        )
        if not taken:
            raise pg_lock.held_error(what, self.lock_holder(key))
        held = PgLock(self._held, self._release, key, info)
        self._held[key] = held
        return held

    def lock_holder(self, key: int, *, attempts: int = 40) -> LockInfo | None:
        """Who holds lock `key` now: the holder row whose session holds the advisory lock.

        The winner of a race writes its row just after taking the lock, so a loser may look
        in between: look again briefly before saying the holder is unknown.
        """
        import time

        query, params = pg_lock.holder_query(key)
        for _ in range(attempts):
            row = self._call(None, lambda conn: conn.execute(query, params).fetchone())
            if row is not None:
                return pg_lock.holder_from_row(row)
            time.sleep(0.025)
        return None

    def _release(self, key: int) -> None:
        if self._conn is None or self._conn.broken or self._conn.closed:
            return  # the server released it with the session
        psycopg = pg_url.psycopg_module()
        # A dead session holds nothing; a live one releases at disconnect.
        with contextlib.suppress(psycopg.Error):
            self._conn.execute(pg_lock.release_statement(key))


def open_url(location: str) -> PostgresStore:
    """The factory `ocsrun.store.open` calls for postgresql:// locations."""
    return PostgresStore(location)


# The session's settings, then the schema's version (UndefinedTable: a database never used).
_SETTLE = (
    pg_url.SESSION_SETTINGS + "; SELECT coalesce(max(version), 0) FROM ocsrun.schema_migrations"
)


def _info_data(info: RunInfo) -> dict[str, Any]:
    data = dataclasses.asdict(info)
    data["params"] = dict(info.params)
    return data


_INFO_FIELDS = frozenset(f.name for f in dataclasses.fields(RunInfo))


def _info_from_data(data: Any) -> RunInfo:
    if not isinstance(data, dict):
        raise StateError("a run record in the database is not a JSON object")
    try:
        if data.keys() <= _INFO_FIELDS:
            return RunInfo(**data)
        return RunInfo(**{k: v for k, v in data.items() if k in _INFO_FIELDS})
    except TypeError as error:
        raise StateError(f"a run record in the database is incomplete: {error}") from None


if TYPE_CHECKING:
    from ocsrun.store.protocol import Lock, RunHandle, RunStore

    def _conforms(store: PostgresStore, handle: PgRunHandle, held: PgLock) -> None:
        _store: RunStore = store
        _handle: RunHandle = handle
        _lock: Lock = held
