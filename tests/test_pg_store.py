"""The PostgreSQL run store against a real server: schema, journal, locks, roles, passwords."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from pgcluster import PgCluster

from ocsrun.errors import LockHeld, StateError, StoreUnavailable, UsageError
from ocsrun.store import journal, pg_migrations
from ocsrun.store.postgres import PostgresStore, display_url, lock_key
from ocsrun.store.protocol import RunInfo


def info(run_id: str = "20261130T100000Z-aaaaaa", target: str | None = "pool01") -> RunInfo:
    return RunInfo(
        run_id=run_id,
        runbook_id="rb.test",
        runbook_title="A test",
        runbook_version="1.0",
        runbook_path="/runbooks/test.yaml",
        target=target,
        operator=journal.operator_id(),
        started=journal.utc_now(),
        rehearsal=False,
        params={"pool": "pool01", "n": 3},
    )


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url)
    yield opened
    opened.close()


def test_first_use_creates_the_schema_and_migrate_is_idempotent(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        assert store.list_runs() == []
        conn = store.connection()
        assert pg_migrations.current_version(conn) == pg_migrations.LATEST
        assert store.migrate() == []
    finally:
        store.close()


def _migrate(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return len(pg_migrations.migrate(conn))


def test_concurrent_migrations_apply_each_version_once(pg_url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        applied = pool.map(_migrate, [pg_url] * 4)
    assert sorted(applied) == [0, 0, 0, len(pg_migrations.MIGRATIONS)]
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version FROM ocsrun.schema_migrations").fetchall()
    assert [r[0] for r in rows] == [m.version for m in pg_migrations.MIGRATIONS]


def test_records_round_trip_in_the_local_line_format(store: PostgresStore) -> None:
    handle = store.create_run(info(), b'{"format": "snap"}')
    first = handle.append("run.started", {"target": "pool01"})
    second = handle.append("step.done", {"step": "a", "attempt": 1, "note": "é ✓"})
    assert (first.seq, second.seq, second.prev) == (1, 2, first.hash)
    again = store.open_run(handle.info.run_id)
    assert list(again.records()) == [first, second]
    assert again.last == second
    assert again.snapshot() == b'{"format": "snap"}'
    with psycopg.connect(store.url) as conn:
        lines = [r[0] for r in conn.execute("SELECT line FROM ocsrun.journal ORDER BY seq")]
    assert [line.encode() + b"\n" for line in lines] == [
        journal.encode(first),
        journal.encode(second),
    ]
    report = store.verify(handle.info.run_id)
    assert report.ok and report.records == 2
    [summary] = store.list_runs()
    assert (summary.info, summary.records, summary.last_type) == (handle.info, 2, "step.done")


def test_two_writers_can_never_both_append_the_same_record(pg_url: str) -> None:
    one, two = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        handle = one.create_run(info(), b"{}")
        handle.append("run.started", {})
        other = two.open_run(handle.info.run_id)
        handle.append("step.done", {"step": "a"})
        with pytest.raises(StateError, match="already written by another session"):
            other.append("step.done", {"step": "b"})
        assert one.verify(handle.info.run_id).ok
        assert [r.type for r in one.open_run(handle.info.run_id).records()] == [
            "run.started",
            "step.done",
        ]
    finally:
        one.close()
        two.close()


def test_unknown_run_is_a_state_error(store: PostgresStore) -> None:
    with pytest.raises(StateError, match="no run 'nope'"):
        store.open_run("nope")


def test_lock_is_held_per_runbook_and_normalised_target(pg_url: str) -> None:
    one, two = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        held = one.acquire_lock("rb", "SE01.contoso.com.", "RUN-1")
        with pytest.raises(LockHeld) as caught:
            two.acquire_lock("rb", " se01.CONTOSO.com", "RUN-2")
        message = str(caught.value)
        assert "RUN-1" in message and held.info.operator in message
        assert held.info.host in message and held.info.started in message
        other = two.acquire_lock("rb", "se02.contoso.com", "RUN-3")  # another target
        other.release()
        held.release()
        held.release()  # twice is fine
        two.acquire_lock("rb", "se01.contoso.com", "RUN-2").release()
    finally:
        one.close()
        two.close()


def test_a_closed_session_releases_its_lock(pg_url: str) -> None:
    one, two = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        one.acquire_lock("rb", "t", "RUN-1")
        with pytest.raises(LockHeld):
            two.acquire_lock("rb", "t", "RUN-2")
        assert one._conn is not None
        one._conn.close()  # the workstation goes away without releasing anything
        # The server ends the session (and its locks) once it has read the goodbye.
        deadline = time.monotonic() + 30
        while two.lock_holder(lock_key("rb", "t"), attempts=1) is not None:
            assert time.monotonic() < deadline, "the closed session still holds the lock"
            time.sleep(0.01)
        assert two.acquire_lock("rb", "t", "RUN-2").info.run_id == "RUN-2"
    finally:
        two.close()


def test_journal_is_append_only_for_an_operator_role(pg_server: PgCluster, pg_url: str) -> None:
    owner = PostgresStore(pg_url)
    owner.migrate()
    dbname = pg_url.split("/")[3].split("?", maxsplit=1)[0]
    pg_server.psql("DROP ROLE IF EXISTS ocsrun_op; CREATE ROLE ocsrun_op LOGIN")
    for statement in pg_migrations.operator_grants("ocsrun_op"):
        pg_server.psql(statement, dbname)
    operator = PostgresStore(pg_server.url(dbname, "ocsrun_op"))
    try:
        handle = operator.create_run(info(), b"{}")
        handle.append("run.started", {})
        operator.acquire_lock("rb", "t", handle.info.run_id).release()
        assert operator.verify(handle.info.run_id).ok
        conn = operator.connection()
        for statement in (
            "UPDATE ocsrun.journal SET line = 'x'",
            "DELETE FROM ocsrun.journal",
            "TRUNCATE ocsrun.journal",
            "UPDATE ocsrun.runs SET target = 'x'",
            "DELETE FROM ocsrun.run_files",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Even the owner cannot change a record while the trigger is in place.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner.connection().execute("UPDATE ocsrun.journal SET line = 'x'")
        assert operator.verify(handle.info.run_id).ok
    finally:
        operator.close()
        owner.close()


def test_verify_names_an_altered_row(pg_server: PgCluster, store: PostgresStore) -> None:
    handle = store.create_run(info(), b"{}")
    for n in range(3):
        handle.append("step.done", {"step": f"s{n}"})
    dbname = store.url.split("/")[3].split("?", maxsplit=1)[0]
    # Someone with the owner's rights drops the guard and edits history.
    pg_server.psql(
        "ALTER TABLE ocsrun.journal DISABLE TRIGGER journal_append_only;"
        "UPDATE ocsrun.journal SET line = replace(line, 's1', 'sX') WHERE seq = 2;"
        "UPDATE ocsrun.journal SET type = 'step.skipped' WHERE seq = 3",
        dbname,
    )
    report = store.verify(handle.info.run_id)
    kinds = sorted((p.seq, p.kind) for p in report.problems)
    assert kinds == [(2, "hash-mismatch"), (3, "column-mismatch")]


def test_a_password_in_the_url_is_refused(pg_server: PgCluster) -> None:
    url = pg_server.url().replace("postgres@", "postgres:s3cret@")
    with pytest.raises(UsageError, match="must not contain a password") as caught:
        PostgresStore(url)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(UsageError, match="must not contain a password"):
        PostgresStore(pg_server.url() + "&password=s3cret")
    assert "s3cret" not in display_url(url)


def test_password_comes_from_libpq_environment(
    pg_server: PgCluster, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbname = pg_url.split("/")[3].split("?", maxsplit=1)[0]
    pg_server.psql(
        "DROP ROLE IF EXISTS ocsrun_pw; CREATE ROLE ocsrun_pw LOGIN PASSWORD 'pw-7f3a'"
        f"; GRANT ALL ON DATABASE {dbname} TO ocsrun_pw"
    )
    pg_server.psql("GRANT ALL ON SCHEMA public TO ocsrun_pw", dbname)
    url = pg_server.url(dbname, "ocsrun_pw")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(StateError, match="cannot connect"):
        PostgresStore(url).list_runs()
    monkeypatch.setenv("PGPASSWORD", "pw-7f3a")
    store = PostgresStore(url)
    try:
        handle = store.create_run(info(), b"{}")
        handle.append("run.started", {})
        assert [s.info.run_id for s in store.list_runs()] == [handle.info.run_id]
    finally:
        store.close()
    with psycopg.connect(pg_url) as conn:
        dump = str(
            conn.execute("SELECT r.info, j.line FROM ocsrun.runs r, ocsrun.journal j").fetchall()
        )
    assert "pw-7f3a" not in dump


def test_commits_are_durable_and_keepalives_set_whatever_the_database_says(
    pg_server: PgCluster, pg_url: str
) -> None:
    dbname = pg_url.split("/")[3].split("?", maxsplit=1)[0]
    # A database whose default would let a commit return before it is on disk.
    pg_server.psql(f"ALTER DATABASE {dbname} SET synchronous_commit = off")
    store = PostgresStore(pg_url)
    try:
        conn = store.connection()
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert conn.autocommit  # each append is its own committed transaction
        for name in ("tcp_keepalives_idle", "tcp_keepalives_count", "tcp_user_timeout"):
            # Reported as 0 over a Unix socket; what was asked is in the session's settings.
            asked = conn.execute(
                "SELECT reset_val, setting, source FROM pg_settings WHERE name = %s", (name,)
            ).fetchone()
            assert asked is not None and asked[2] == "session", (name, asked)
        params = {p.keyword.decode(): (p.val or b"").decode() for p in conn.pgconn.info if p.val}
        assert params["keepalives"] == "1" and params["keepalives_idle"] == "15"
        assert params["keepalives_count"] == "4" and params["application_name"] == "ocsrun"
    finally:
        store.close()


def test_a_role_without_the_grants_gets_one_clear_error(pg_server: PgCluster, pg_url: str) -> None:
    owner = PostgresStore(pg_url)
    owner.migrate()
    owner.close()
    dbname = pg_url.split("/")[3].split("?", maxsplit=1)[0]
    pg_server.psql("DROP ROLE IF EXISTS ocsrun_nobody; CREATE ROLE ocsrun_nobody LOGIN")
    store = PostgresStore(pg_server.url(dbname, "ocsrun_nobody"))
    try:
        with pytest.raises(StateError, match="permission denied") as caught:
            store.create_run(info(), b"{}")
        assert store.location in str(caught.value)
    finally:
        store.close()


def test_a_reader_connects_again_a_writer_never_does(pg_url: str) -> None:
    writer, reader = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        handle = writer.create_run(info(), b"{}")
        handle.append("run.started", {})
        assert [s.records for s in reader.list_runs()] == [1]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'ocsrun' AND datname = current_database()"
            )
        with pytest.raises(StoreUnavailable, match="try again"):
            reader.list_runs()
        assert [s.records for s in reader.list_runs()] == [1]  # a new session
        with pytest.raises(StoreUnavailable, match="the run stopped before its next step"):
            handle.append("step.done", {"step": "a"})
        with pytest.raises(StoreUnavailable, match="the run stopped"):
            writer.list_runs()  # for good: its lock went with the session
        assert reader.verify(handle.info.run_id).ok
    finally:
        writer.close()
        reader.close()
