"""`ocsrun store copy`: local runs into PostgreSQL and back, chains verified on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, run_main
from pgcluster import PgCluster

from ocsrun.run.copy import copy_runs
from ocsrun.store.local import LocalDirStore
from ocsrun.store.postgres import PostgresStore, display_url

REHEARSALS = {
    "ocs2007.deactivate-mediation-server": ("med01.contoso.com", "deactivate-mediation-server"),
    "ocs2007.deactivate-edge-server": ("edge01.contoso.com", "deactivate-edge-server"),
}


def local_runs(capsys: pytest.CaptureFixture[str], state: Path) -> list[str]:
    for runbook, (target, answers) in REHEARSALS.items():
        code, _out, err = run_main(
            capsys,
            "rehearse",
            runbook,
            "--target",
            target,
            "--answers",
            str(ROOT / "examples" / "rehearsals" / f"{answers}.yaml"),
            "--state-dir",
            str(state),
        )
        assert code == 0, err
    return sorted(s.info.run_id for s in LocalDirStore(state).list_runs())


def journal_bytes(state: Path, run_id: str) -> bytes:
    return (state / "runs" / run_id / "journal.jsonl").read_bytes()


def test_local_runs_into_postgres_and_back_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_url: str
) -> None:
    state = tmp_path / "ws1"
    run_ids = local_runs(capsys, state)
    local, pg = LocalDirStore(state), PostgresStore(pg_url)
    try:
        result = copy_runs(local, pg)
        assert (sorted(result.copied), result.present, result.failed) == (run_ids, [], [])
        for run_id in run_ids:
            report = pg.verify(run_id)
            assert report.ok and report.records > 10
            assert pg.open_run(run_id).snapshot() == local.open_run(run_id).snapshot()
        assert [s.info for s in pg.list_runs()] == [s.info for s in local.list_runs()]
        # A second copy finds the same records there and leaves them alone.
        again = copy_runs(local, pg)
        assert (again.copied, sorted(again.present)) == ([], run_ids)
        back = LocalDirStore(tmp_path / "ws2")
        assert sorted(copy_runs(pg, back).copied) == run_ids
        for run_id in run_ids:
            assert journal_bytes(tmp_path / "ws2", run_id) == journal_bytes(state, run_id)
            assert back.verify(run_id).ok
    finally:
        pg.close()


def test_a_run_that_does_not_verify_is_not_copied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_url: str
) -> None:
    state = tmp_path / "ws1"
    tampered, intact = local_runs(capsys, state)
    path = state / "runs" / tampered / "journal.jsonl"
    data = path.read_bytes()
    assert b'"attempt":1' in data
    path.write_bytes(data.replace(b'"attempt":1', b'"attempt":2', 1))
    pg = PostgresStore(pg_url)
    try:
        result = copy_runs(LocalDirStore(state), pg)
        assert result.copied == [intact]
        [(run_id, why)] = result.failed
        assert run_id == tampered and "does not verify" in why
        assert [s.info.run_id for s in pg.list_runs()] == [intact]
    finally:
        pg.close()


def test_a_different_run_with_the_same_id_is_never_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_url: str
) -> None:
    state = tmp_path / "ws1"
    first, _second = local_runs(capsys, state)
    pg = PostgresStore(pg_url)
    try:
        assert copy_runs(LocalDirStore(state), pg, [first]).copied == [first]
        handle = pg.open_run(first)
        handle.append("step.note", {"step": "x", "attempt": 1, "text": "written in the database"})
        result = copy_runs(LocalDirStore(state), pg, [first])
        assert result.failed == [(first, f"a different run {first} is already in {pg.location}")]
        assert pg.verify(first).ok
    finally:
        pg.close()


def test_store_commands_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_server: PgCluster, pg_url: str
) -> None:
    pg_server.psql("DROP ROLE IF EXISTS ocsrun_cli_op; CREATE ROLE ocsrun_cli_op")
    code, out, _ = run_main(
        capsys, "store", "migrate", "--store", pg_url, "--operator-role", "ocsrun_cli_op"
    )
    assert code == 0
    assert out.splitlines() == [
        "applied 1: runs, journal records, run files, lock holders",
        "applied 2: run heads: each run's record count and last hash, kept by the server",
        "applied 3: the run record's fields as columns, for runs list",
        "granted operator rights to ocsrun_cli_op",
    ]
    code, out, _ = run_main(capsys, "store", "migrate", "--store", pg_url)
    assert (code, out.strip()) == (0, f"{display_url(pg_url)}: nothing to migrate")
    state = tmp_path / "ws1"
    run_ids = local_runs(capsys, state)
    code, out, _ = run_main(capsys, "store", "copy", str(state), pg_url)
    assert code == 0 and out.splitlines()[-1] == "2 copied, 0 already there, 0 failed, of 2"
    code, out, _ = run_main(capsys, "runs", "list", "--store", pg_url)
    assert code == 0 and all(run_id in out for run_id in run_ids)
    code, out, _ = run_main(capsys, "runs", "verify", run_ids[0], "--store", pg_url)
    assert code == 0 and "chain intact" in out


def test_store_options_are_checked(
    capsys: pytest.CaptureFixture[str], pg_server: PgCluster
) -> None:
    secret_url = pg_server.url().replace("postgres@", "postgres:hunter2@")
    for argv in (
        ("runs", "list", "--store", secret_url),
        ("store", "migrate", "--store", secret_url),
        ("resume", "RUN", "--store", secret_url),
    ):
        code, out, err = run_main(capsys, *argv)
        assert code == 2 and "must not contain a password" in err, (argv, err)
        assert "hunter2" not in out + err
    code, _out, err = run_main(capsys, "runs", "list", "--store", "x", "--state-dir", "y")
    assert code == 2 and "give --store or --state-dir, not both" in err
    code, _out, err = run_main(capsys, "runs", "list", "--store", "mysql://h/db")
    assert code == 2 and "unknown store" in err
