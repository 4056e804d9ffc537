"""`runs list` on PostgreSQL: the same lines as the local store for the same runs (damaged
run records included), read from migration 3's columns, which runs recorded before it get too.

Against a real server (tests/pgcluster.py). The runs are made once on a local store and put
into the database as `ocsrun store copy` would (run records ocsrun could not have written go in
by SQL, with the very JSON the local run.json holds), so both stores hold the same runs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import insert_old_run_row, pg_schema_at, run_main

from ocsrun.errors import StateError
from ocsrun.run import views
from ocsrun.store import journal, pg_migrations
from ocsrun.store.local import LocalDirStore
from ocsrun.store.postgres import PostgresStore
from ocsrun.store.protocol import RunInfo, brief_of


def info(n: int, **changed: object) -> RunInfo:
    base = RunInfo(
        run_id=f"20261130T{n:02d}0000Z-{n:06x}",
        runbook_id="ocs2007.deactivate-edge-server",
        runbook_title="Deactivate an Edge Server",
        runbook_version="1.2",
        runbook_path="/runbooks/edge.yaml",
        target=f"edge{n:02d}.contoso.com",
        operator="alice@ws1",
        started=f"2026-11-30T{n:02d}:00:00.000000Z",
        rehearsal=False,
    )
    return dataclasses.replace(base, **changed)  # type: ignore[arg-type]


# (run record, the types of its records): runs as ocsrun writes them, in every state a list
# names, with the values a list must clean or mark.
RUNS: list[tuple[RunInfo, tuple[str, ...]]] = [
    (info(1), ("run.started", "step.done", "run.finished")),
    (info(2, rehearsal=True, params={"pool": "pool01", "n": 3}), ("run.started",)),
    (info(3, target=None), ()),
    (info(4, operator="bob\x1b[31m@ws2", runbook_id="x" * 90), ("run.started", "run.aborted")),
    (info(5, started="2026-11-30T15:00:00.000000Z"), ("run.started", "run.interrupted")),
    # Started at the same instant: the run id decides, in code point order.
    (info(6, started="2026-11-30T15:00:00.000000Z"), ("run.started", "run.failed")),
    (info(7), ("run.started", "run.abandoned")),
    (info(8, chain="sha256"), ("run.started", "step.done")),
]
# Run records ocsrun did not write: each is listed as damaged, after the others, on both stores.
DAMAGED: list[dict[str, object]] = [
    {**dataclasses.asdict(info(20)), "rehearsal": "yes"},
    {**dataclasses.asdict(info(21)), "params": [1]},
    {key: value for key, value in dataclasses.asdict(info(22)).items() if key != "target"},
    {**dataclasses.asdict(info(23)), "runbook_title": None},
    {**dataclasses.asdict(info(24)), "started": 20261130},
    {**dataclasses.asdict(info(25)), "chain": 1},
]


def record_local(state: Path) -> LocalDirStore:
    store = LocalDirStore(state)
    for run, types in RUNS:
        handle = store.create_run(run, b"{}")
        for n, kind in enumerate(types):
            handle.append(kind, {"step": f"s{n}"} if kind == "step.done" else {})
        handle.close()
    for data in DAMAGED:
        # A real run first, then its run.json replaced: as if edited by hand.
        run_id = str(data["run_id"])
        store.create_run(info(1, run_id=run_id), b"{}").close()
        (state / "runs" / run_id / "run.json").write_text(json.dumps(data), encoding="utf-8")
    return store


def same_runs_in(local: LocalDirStore, url: str) -> PostgresStore:
    pg = PostgresStore(url)
    for run, _types in RUNS:
        pg.import_run(run, {"snapshot": b"{}"}, local.open_run(run.run_id).records())
    with psycopg.connect(url, autocommit=True) as conn:
        for data in DAMAGED:
            conn.execute(
                "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info)"
                " VALUES (%s, 'rb', NULL, %s, %s::jsonb)",
                (data["run_id"], str(data["started"]), json.dumps(data)),
            )
    return pg


@pytest.fixture
def stores(tmp_path: Path, pg_url: str) -> Iterator[tuple[LocalDirStore, PostgresStore]]:
    local = record_local(tmp_path / "state")
    pg = same_runs_in(local, pg_url)
    yield local, pg
    pg.close()


def test_both_stores_list_the_same_runs_the_same_way(
    stores: tuple[LocalDirStore, PostgresStore],
) -> None:
    local, pg = stores
    summaries = local.list_runs()
    assert pg.list_runs() == summaries
    assert [s.status for s in summaries] == [
        "failed",  # run 6 before run 5: the same start, the greater run id first
        "interrupted",
        "running",
        "abandoned",
        "aborted",
        "running",
        "running",
        "finished",
        *["damaged"] * len(DAMAGED),
    ]
    assert [s.info.run_id for s in summaries[-len(DAMAGED) :]] == sorted(
        (str(d["run_id"]) for d in DAMAGED), reverse=True
    )
    briefs = [brief_of(s) for s in summaries]
    assert local.list_briefs() == briefs and pg.list_briefs() == briefs
    assert views.runs_table(pg.list_briefs()) == views.runs_table(summaries)


def test_runs_list_prints_the_same_lines_for_both_stores(
    capsys: pytest.CaptureFixture[str], stores: tuple[LocalDirStore, PostgresStore]
) -> None:
    local, pg = stores
    code, from_local, err = run_main(capsys, "runs", "list", "--state-dir", str(local.state_dir))
    assert (code, err) == (0, "")
    code, from_pg, err = run_main(capsys, "runs", "list", "--store", pg.url)
    assert (code, from_pg) == (0, from_local)
    lines = from_pg.splitlines()
    assert len(lines) == 1 + len(RUNS) + len(DAMAGED)
    assert "running (rehearsal)" in lines[-len(DAMAGED) - 2]  # run 2
    assert "\x1b" not in from_pg and " bob@ws2 " in from_pg  # the escape sequence dropped
    assert all(line.split()[1:3] == ["?", "-"] for line in lines[-len(DAMAGED) :])
    code, as_json, _ = run_main(capsys, "runs", "list", "--format", "json", "--store", pg.url)
    assert code == 0 and json.loads(as_json) == [views.summary_data(s) for s in local.list_runs()]


def test_migration_3_gives_runs_recorded_before_it_their_columns(
    tmp_path: Path, pg_url: str
) -> None:
    local = record_local(tmp_path / "state")
    pg_schema_at(pg_url, 2)
    # Rows as an ocsrun of schema version 2 wrote them (it had no list columns).
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for run, _types in RUNS:
            insert_old_run_row(conn, run)
            for record in local.open_run(run.run_id).records():
                line = journal.encode(record)[:-1].decode()
                conn.execute(
                    "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (run.run_id, record.seq, record.type, record.ts, line),
                )
        for data in DAMAGED:
            conn.execute(
                "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info)"
                " VALUES (%s, 'rb', NULL, %s, %s::jsonb)",
                (data["run_id"], str(data["started"]), json.dumps(data)),
            )
    pg = PostgresStore(pg_url)
    try:
        with pytest.raises(StateError, match="at version 2, this ocsrun needs 3"):
            pg.list_runs()  # never upgraded behind the owner's back
        assert pg.migrate() == [f"applied 3: {pg_migrations.MIGRATIONS[2].title}"]
        assert pg.list_runs() == local.list_runs()
        assert pg.list_briefs() == local.list_briefs()
        assert all(pg.verify(run.run_id).ok for run, _types in RUNS)
    finally:
        pg.close()
