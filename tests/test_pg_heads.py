"""The PostgreSQL store's run heads (a cut journal is caught), its list, reads and lock words.

Against a real server (tests/pgcluster.py): the head row is written by the server's trigger in
the transaction of each record, so deleting the journal's last rows (possible only past the
append-only trigger) no longer verifies.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import psycopg
import pytest
from conftest import insert_old_run_row, pg_schema_at
from pgcluster import PgCluster

from ocsrun.errors import JournalCorrupt, LockHeld
from ocsrun.run import views
from ocsrun.store import journal, pg_migrations
from ocsrun.store.postgres import STORED_HEAD, PostgresStore
from ocsrun.store.protocol import RunInfo


def info(run_id: str, target: str | None = "pool01") -> RunInfo:
    return RunInfo(
        run_id=run_id,
        runbook_id="rb.test",
        runbook_title="A test",
        runbook_version="1.0",
        runbook_path="/runbooks/test.yaml",
        target=target,
        operator="op@ws1",
        started=journal.utc_now(),
        rehearsal=False,
        params={"pool": "pool01"},
    )


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url)
    yield opened
    opened.close()


def dbname(url: str) -> str:
    return url.split("/")[3].split("?", maxsplit=1)[0]


def four_records(store: PostgresStore, run_id: str = "20261130T100000Z-aaaaaa") -> list[str]:
    handle = store.create_run(info(run_id), b"{}")
    return [handle.append("step.done", {"step": f"s{n}"}).hash for n in range(4)]


def test_each_record_moves_the_head_the_server_keeps(store: PostgresStore) -> None:
    hashes = four_records(store)
    report = store.verify("20261130T100000Z-aaaaaa")
    assert report.ok and report.records == 4 and report.head == hashes[-1]
    row = store.connection().execute("SELECT records, head, last_step FROM ocsrun.run_heads")
    assert row.fetchall() == [(4, hashes[-1], "s3")]
    assert views.verify_run(store, "20261130T100000Z-aaaaaa", hashes[-1]).ok


def test_a_journal_cut_at_its_end_no_longer_verifies(
    pg_server: PgCluster, store: PostgresStore
) -> None:
    hashes = four_records(store)
    # Someone with the owner's rights gets past the append-only trigger and removes the
    # last two records: what remains is still a perfect chain.
    pg_server.psql(
        "ALTER TABLE ocsrun.journal DISABLE TRIGGER journal_append_only;"
        "DELETE FROM ocsrun.journal WHERE seq > 2;",
        dbname(store.url),
    )
    report = store.verify("20261130T100000Z-aaaaaa")
    assert [(p.kind, p.seq) for p in report.problems] == [(STORED_HEAD, None)]
    assert "ends at seq 2, but seq 4 was committed" in report.problems[0].message
    assert hashes[-1][:12] in report.problems[0].message
    view = views.verify_run(store, "20261130T100000Z-aaaaaa")
    assert not view.ok and view.verdict.startswith("FAILED: 1 problem in 2 records")


def test_a_removed_head_row_is_named(pg_server: PgCluster, store: PostgresStore) -> None:
    four_records(store)
    pg_server.psql("DELETE FROM ocsrun.run_heads", dbname(store.url))
    [problem] = store.verify("20261130T100000Z-aaaaaa").problems
    assert problem.kind == STORED_HEAD and "no head row" in problem.message


def test_an_operator_cannot_move_the_head(pg_server: PgCluster, pg_url: str) -> None:
    owner = PostgresStore(pg_url)
    owner.migrate()
    pg_server.psql("DROP ROLE IF EXISTS ocsrun_heads_op; CREATE ROLE ocsrun_heads_op LOGIN")
    owner.grant_operator("ocsrun_heads_op")
    operator = PostgresStore(pg_server.url(dbname(pg_url), "ocsrun_heads_op"))
    try:
        hashes = four_records(operator)  # the trigger writes the head with its owner's rights
        assert operator.verify("20261130T100000Z-aaaaaa").ok
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            operator.connection().execute("UPDATE ocsrun.run_heads SET records = 1")
        [summary] = operator.list_runs()
        assert (summary.records, summary.last_step, summary.status) == (4, "s3", "running")
        assert operator.verify("20261130T100000Z-aaaaaa").head == hashes[-1]
    finally:
        operator.close()
        owner.close()


def test_migration_2_keeps_the_heads_of_runs_recorded_before_it(
    pg_server: PgCluster, pg_url: str
) -> None:
    pg_schema_at(pg_url, 1)
    run = info("20261130T090000Z-bbbbbb")
    prev, lines = journal.GENESIS, []
    for seq, step in enumerate(("a", "b", "c"), start=1):
        record = journal.make_record(seq, "step.done", {"step": step}, prev, operator="op@ws1")
        lines.append(
            (run.run_id, seq, record.type, record.ts, journal.encode(record)[:-1].decode())
        )
        prev = record.hash
    with psycopg.connect(pg_url, autocommit=True) as conn:
        insert_old_run_row(conn, run)
        conn.cursor().executemany(
            "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line) VALUES (%s, %s, %s, %s, %s)",
            lines,
        )
        # A row that is no record (written past ocsrun): the migration still goes through.
        damaged = info("20261130T080000Z-gggggg")
        conn.execute(
            "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info)"
            " VALUES (%s, 'rb', NULL, %s, %s::jsonb)",
            (damaged.run_id, damaged.started, json.dumps(dataclasses.asdict(damaged))),
        )
        conn.execute(
            "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line)"
            " VALUES (%s, 1, 'x', 'y', 'not json')",
            (damaged.run_id,),
        )
    # An operator role granted at version 1 (without the heads table) reads the heads after.
    pg_server.psql("DROP ROLE IF EXISTS ocsrun_v1_op; CREATE ROLE ocsrun_v1_op LOGIN")
    for statement in pg_migrations.operator_grants("ocsrun_v1_op"):
        if "run_heads" not in statement:
            pg_server.psql(statement, dbname(pg_url))
    owner = PostgresStore(pg_url)
    operator = PostgresStore(pg_server.url(dbname(pg_url), "ocsrun_v1_op"))
    try:
        assert owner.migrate() == [
            f"applied {m.version}: {m.title}" for m in pg_migrations.MIGRATIONS[1:]
        ]
        report = operator.verify(run.run_id)
        assert report.ok and report.head == prev
        summary = {s.info.run_id: s for s in operator.list_runs()}[run.run_id]
        assert (summary.records, summary.last_step, summary.info) == (3, "c", run)
        assert [p.kind for p in operator.verify(damaged.run_id).problems] == ["bad-json"]
    finally:
        operator.close()
        owner.close()


def test_the_list_shows_a_run_record_ocsrun_did_not_write_as_damaged(
    pg_server: PgCluster, store: PostgresStore
) -> None:
    no_target = info("20261130T110000Z-cccccc", target=None)
    store.create_run(no_target, b"{}").append("run.started", {})
    store.create_run(info("20261130T100000Z-dddddd"), b"{}")
    pg_server.psql(
        "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info) VALUES"
        " ('20261130T090000Z-eeeeee', 'rb', NULL, '2026-11-30T09:00:00Z', '{\"run_id\": 1}'),"
        " ('20261130T080000Z-ffffff', 'rb', NULL, '2026-11-30T08:00:00Z',"
        '  \'{"runbook_id": "rb", "runbook_title": "t", "runbook_version": "1",'
        '    "runbook_path": "/p", "operator": "o", "started": "s",'
        '    "rehearsal": false, "params": [1]}\')',
        dbname(store.url),
    )
    listed = {s.info.run_id: s for s in store.list_runs()}
    first = listed[no_target.run_id]
    assert (first.info, first.records, first.last_type, first.status) == (
        no_target,
        1,
        "run.started",
        "running",
    )
    assert listed["20261130T100000Z-dddddd"].status == "running"
    assert listed["20261130T100000Z-dddddd"].records == 0
    assert listed["20261130T090000Z-eeeeee"].status == "damaged"
    assert listed["20261130T080000Z-ffffff"].status == "damaged"
    assert "damaged" in views.runs_table(list(listed.values()))


def test_a_second_read_asks_only_for_newer_records_and_an_altered_row_is_refused(
    pg_server: PgCluster, store: PostgresStore
) -> None:
    four_records(store)
    handle = store.open_run("20261130T100000Z-aaaaaa")
    first = list(handle.records())
    assert next(iter(handle.records())) == first[0]  # resume's second look: its first record
    fifth = handle.append("step.done", {"step": "s4"})
    assert list(handle.records()) == [*first, fifth]
    pg_server.psql(
        "ALTER TABLE ocsrun.journal DISABLE TRIGGER journal_append_only;"
        "UPDATE ocsrun.journal SET line = replace(line, '\"s1\"', '\"sX\"') WHERE seq = 2;",
        dbname(store.url),
    )
    fresh = store.open_run("20261130T100000Z-aaaaaa")
    with pytest.raises(JournalCorrupt, match=r"run 20261130T100000Z-aaaaaa:2: seq 2 does not"):
        list(fresh.records())


def test_the_run_lock_names_the_run_and_its_holder(pg_url: str) -> None:
    one, two = PostgresStore(pg_url), PostgresStore(pg_url)
    run_id = "20261130T100000Z-aaaaaa"
    try:
        one.lock_run(run_id)
        # The holder row's commit does not wait for the disk; the session's records still do.
        assert one.connection().execute("SHOW synchronous_commit").fetchone() == ("on",)
        with pytest.raises(LockHeld) as caught:
            two.lock_run(run_id)
        message = str(caught.value)
        assert message.startswith(f"run {run_id} is locked by run {run_id} (operator ")
        assert "runbook ''" not in message
        assert caught.value.holder_run_id == run_id
        one.acquire_lock("rb", "se01", "RUN-1")
        with pytest.raises(LockHeld) as caught:
            two.acquire_lock("rb", "SE01", "RUN-2")
        assert str(caught.value).startswith("runbook 'rb' on target 'SE01' is locked by run RUN-1")
        assert caught.value.holder_run_id == "RUN-1"
        with pytest.raises(LockHeld) as caught:
            one.acquire_lock("rb", "se01", "RUN-3")  # the same session asks again
        assert caught.value.holder_run_id == "RUN-1"
        # The holder row is written as quoted literals: any text survives as it is.
        odd = "it's\\ %s {} ; DROP"
        one.acquire_lock(odd, odd, f"RUN-{odd}")
        with pytest.raises(LockHeld) as caught:
            two.acquire_lock(odd, odd, "RUN-5")
        assert caught.value.holder_run_id == f"RUN-{odd}"
    finally:
        one.close()
        two.close()


def test_the_journal_takes_only_json_objects(store: PostgresStore) -> None:
    four_records(store)
    conn = store.connection()
    for line in ("not json", "[1, 2]"):
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute(
                "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line)"
                " VALUES ('20261130T100000Z-aaaaaa', 5, 'step.done', 'now', %s)",
                (line,),
            )
    assert store.verify("20261130T100000Z-aaaaaa").ok
