"""A throwaway PostgreSQL server for the tests and benchmarks: the real thing, never a mock.

`PgCluster.start()` runs the distribution's `initdb` and `pg_ctl` (Debian keeps them in
/usr/lib/postgresql/<version>/bin, off PATH, and may ship no `pg_config --bindir`), puts the
cluster in a fresh temporary directory and makes it listen on a Unix socket in that directory
only (`listen_addresses=''`: no TCP port is opened, nothing else on the machine can reach it).
PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
`postgres` system user (the temporary directory is handed to it; `runuser`, else `su`).

`stop()` stops the server at once and removes the directory. The tests start one cluster for
the whole session (`pg_server` in conftest.py); each test gets its own database.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
BINDIR_ENV = "OCSRUN_TEST_PG_BINDIR"
# Libpq variables from the developer's shell would point the tests at another server.
LIBPQ_ENV = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
)


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or the server would not start)."""


def find_bindir() -> Path:
    """The directory holding `initdb` and `pg_ctl`; the newest version when several exist."""
    override = os.environ.get(BINDIR_ENV)
    candidates = [override] if override else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        bindir = Path(candidate)
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise ServerUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on "
        f"PATH; install the `postgresql` package (or set {BINDIR_ENV})"
    )


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@dataclass
class PgCluster:
    """One server: `url(dbname)` is a libpq URL reaching it over its private socket."""

    fsync: bool = False  # the tests do not need crash safety of the test server itself
    bindir: Path = field(default_factory=find_bindir)
    root: Path | None = None
    port: int = 5432  # only names the socket file: nothing listens on TCP
    _as_postgres: bool = False

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        query = urllib.parse.urlencode({"host": str(self.socket_dir), "port": str(self.port)})
        return f"postgresql://{urllib.parse.quote(user)}@/{urllib.parse.quote(dbname)}?{query}"

    def _run(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if self._as_postgres:
            runuser = shutil.which("runuser")
            if runuser:
                argv = [runuser, "-u", SUPERUSER, "--", *argv]
            else:
                import shlex

                argv = ["su", SUPERUSER, "-s", "/bin/sh", "-c", shlex.join(argv)]
        env = {k: v for k, v in os.environ.items() if k not in LIBPQ_ENV}
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            argv,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )

    def start(self) -> PgCluster:
        self.root = Path(tempfile.mkdtemp(prefix="ocsrun-pg-"))
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            self._as_postgres = True
            entry = pwd.getpwnam(SUPERUSER)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        init = self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        if init.returncode != 0:
            self.stop()
            raise ServerUnavailable(f"initdb failed:\n{init.stdout}{init.stderr}")
        self._write_hba()
        self._write_conf()
        started = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if started.returncode != 0:
            log = self.log()
            self.stop()
            raise ServerUnavailable(f"pg_ctl start failed:\n{started.stdout}{started.stderr}{log}")
        return self

    def _write_conf(self) -> None:
        # In the configuration file, not on pg_ctl's command line, so that a benchmark can
        # change fsync with ALTER SYSTEM and a reload (command-line settings win over both).
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "port": str(self.port),
            "fsync": "on" if self.fsync else "off",
            "max_connections": "60",
            "shared_buffers": "'32MB'",
        }
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# ocsrun tests\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _write_hba(self) -> None:
        # Role `ocsrun_pw` must give a password (the tests of "passwords never in argv" use it);
        # every other role on the private socket is trusted.
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text("local all ocsrun_pw scram-sha-256\nlocal all all trust\n", encoding="utf-8")

    def log(self) -> str:
        if self.root is None:
            return ""
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(encoding="utf-8", errors="replace")
        return ""

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"]
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def psql(self, sql: str, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        """Run SQL with the server's own psql (as the caller, over the socket); its output."""
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.url(dbname, user),
                "-c",
                sql,
            ],
            env={k: v for k, v in os.environ.items() if k not in LIBPQ_ENV},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        """A fresh, empty database; its URL (as the superuser)."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)
