"""The throwaway PostgreSQL server the team-mode tests run against (tests/pgcluster.py)."""

from __future__ import annotations

import os
import pwd

from pgcluster import PgCluster


def test_server_listens_only_on_its_private_socket(pg_server: PgCluster) -> None:
    assert pg_server.psql("SHOW listen_addresses") == ""
    assert pg_server.psql("SHOW unix_socket_directories") == str(pg_server.socket_dir)
    assert (pg_server.socket_dir / f".s.PGSQL.{pg_server.port}").exists()


def test_server_runs_as_postgres_when_tests_run_as_root(pg_server: PgCluster) -> None:
    owner = pwd.getpwuid(pg_server.data_dir.stat().st_uid).pw_name
    expected = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert owner == expected


def test_each_test_gets_an_empty_database(pg_server: PgCluster, pg_url: str) -> None:
    dbname = pg_url.split("/")[3].split("?", maxsplit=1)[0]
    tables = pg_server.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", dbname)
    assert tables == "0"
