"""The store seam: open_store, the protocol's lock and id methods, one safe-read helper."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun import safe_io
from ocsrun.errors import LockHeld, UsageError
from ocsrun.store.local import LocalDirStore
from ocsrun.store.open import open_store, scheme_of

ALLOWED_STORE_MODULES = {"ocsrun.store.protocol", "ocsrun.store.open"}


def _store_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "ocsrun.store":
                found.update(f"ocsrun.store.{alias.name}" for alias in node.names)
            elif node.module.startswith("ocsrun.store"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ocsrun.store"))
    return found


@pytest.mark.parametrize("wing", ["run", "cli"])
def test_run_and_cli_reach_the_store_only_through_protocol_and_open(wing: str) -> None:
    modules = sorted((ROOT / "ocsrun" / wing).glob("*.py"))
    assert modules
    leaks = {
        str(path.relative_to(ROOT)): sorted(_store_imports(path) - ALLOWED_STORE_MODULES)
        for path in modules
    }
    assert {k: v for k, v in leaks.items() if v} == {}


def test_open_store_takes_a_directory_as_text_or_path(tmp_path: Path) -> None:
    for location in (str(tmp_path / "a"), tmp_path / "a"):
        store = open_store(location)
        assert isinstance(store, LocalDirStore)
        assert store.location == str(tmp_path / "a")
        assert store.reopen_args() == ("--state-dir", str(tmp_path / "a"))


def test_open_store_defaults_to_the_state_dir_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCSRUN_STATE_DIR", str(tmp_path / "env"))
    assert open_store().location == str(tmp_path / "env")
    monkeypatch.delenv("OCSRUN_STATE_DIR")
    monkeypatch.chdir(tmp_path)
    assert open_store(None).location == str(tmp_path / ".ocsrun")


def test_an_unknown_url_scheme_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown store 'ftp'://"):
        open_store("ftp://example/runs")
    assert scheme_of("postgresql://u@h/db") == "postgresql"
    assert scheme_of("POSTGRES://h/db") == "postgres"
    assert scheme_of(str(tmp_path)) is None


def test_new_run_ids_come_from_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    ids = {store.new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == len("20261125T010000Z-abcdef") for i in ids)


def test_reclaim_takes_back_only_the_same_runs_stale_lock(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = store.acquire_lock("rb", "t", "run-1")
    assert first.broken is None
    assert first.info.run_id == "run-1"
    # Live holder: never reclaimed, not even by its own run id from another session.
    with pytest.raises(LockHeld, match="still running"):
        store.reclaim_lock("rb", "t", "run-1")
    # Make the holder stale the way a crash does: the flock goes, the file stays.
    assert isinstance(store, LocalDirStore)
    lock_file = next(store.locks_dir.glob("*.lock"))
    content = lock_file.read_bytes()
    first.release()
    lock_file.write_bytes(content)
    with pytest.raises(LockHeld, match="stale"):
        store.reclaim_lock("rb", "t", "run-2")
    again = store.reclaim_lock("rb", "t", "run-1")
    try:
        assert again.broken is not None and again.broken.run_id == "run-1"
    finally:
        again.release()


# --- ocsrun.safe_io ---------------------------------------------------------------------


def test_safe_read_returns_a_small_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert safe_io.read_regular(path, 3) == b"abc"
    with pytest.raises(safe_io.TooLarge) as too_large:
        safe_io.read_regular(path, 2)
    assert too_large.value.size == 3


def test_safe_read_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(safe_io.NotRegularFile):
        safe_io.read_regular(fifo, 10)


def test_safe_read_refuses_a_device_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(safe_io.NotRegularFile):
        safe_io.read_regular("/dev/zero", 10)
    with pytest.raises(safe_io.NotRegularFile):
        safe_io.read_regular(tmp_path, 10)


def test_safe_read_follows_links_only_when_asked(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert safe_io.read_regular(link, 10) == b"x"
    with pytest.raises(safe_io.SymlinkRefused, match="symbolic link"):
        safe_io.read_regular(link, 10, follow_symlinks=False)
    with pytest.raises(FileNotFoundError):
        safe_io.read_regular(tmp_path / "missing", 10, follow_symlinks=False)


def test_no_other_module_opens_files_non_blocking_itself() -> None:
    # The four copies this helper replaced must not come back.
    users = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "ocsrun").rglob("*.py")
        if "O_NONBLOCK" in path.read_text(encoding="utf-8")
    )
    assert set(users) <= {
        "ocsrun/safe_io.py",
        "ocsrun/store/lock.py",  # inspect(): opens only to probe the flock, never reads
    }


def test_postgresql_urls_open_the_team_store_without_connecting() -> None:
    store = open_store("postgresql://ops@db.example/ocsrun")
    assert type(store).__name__ == "PostgresStore"
    assert store.location == "postgresql://ops@db.example/ocsrun"
    assert store.reopen_args() == ("--store", "postgresql://ops@db.example/ocsrun")
    with pytest.raises(UsageError, match="must not contain a password"):
        open_store("postgres://ops:secret@db.example/ocsrun")
