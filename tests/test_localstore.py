"""LocalDirStore: layout, permissions, durability, torn tails, disk full, verify, list."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun.errors import JournalCorrupt, StateError, StorageFull
from ocsrun.store import journal
from ocsrun.store.local import (
    JournalWriter,
    LocalDirStore,
    LocalRunHandle,
    default_state_dir,
    new_run_id,
)
from ocsrun.store.protocol import RunInfo


def make_info(run_id: str | None = None, **changes: object) -> RunInfo:
    fields: dict[str, object] = {
        "run_id": run_id or new_run_id(),
        "runbook_id": "ocs2007/deactivate-edge-server",
        "runbook_title": "Deactivate an Edge Server",
        "runbook_version": "1.0",
        "runbook_path": "runbooks/ocs2007/deactivate-edge-server.yaml",
        "target": "edge01",
        "operator": "alice@ws1",
        "started": "2026-11-25T01:30:00.000000Z",
        "rehearsal": False,
        "params": {"site": "Paris"},
    }
    fields.update(changes)
    return RunInfo(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> LocalDirStore:
    return LocalDirStore(tmp_path / "state")


@pytest.fixture
def run(store: LocalDirStore) -> Iterator[LocalRunHandle]:
    handle = store.create_run(make_info(), b"id: x\nsteps: []\n")
    yield handle
    handle.close()


def journal_path(handle: LocalRunHandle) -> Path:
    return handle.path / "journal.jsonl"


def fill(handle: LocalRunHandle, n: int) -> None:
    for i in range(n):
        handle.append("step.done", {"step": f"s{i}"})


# --- layout and permissions -----------------------------------------------------------


def test_run_directory_layout(store: LocalDirStore) -> None:
    info = make_info()
    with store.create_run(info, b"snap") as handle:
        assert handle.path == store.state_dir / "runs" / info.run_id
        names = sorted(p.name for p in handle.path.iterdir())
        assert names == ["journal.jsonl", "run.json", "snapshot.yaml"]
        assert json.loads((handle.path / "run.json").read_bytes())["run_id"] == info.run_id


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_permissions_do_not_depend_on_umask(store: LocalDirStore, umask: int) -> None:
    old = os.umask(umask)
    try:
        with store.create_run(make_info(), b"snap") as handle:
            fill(handle, 2)
            handle.path.joinpath("journal.jsonl").open("ab").write(b"torn")
        with store.open_run(handle.info.run_id) as reopened:
            reopened.append("x", {})
        lock = store.acquire_lock("rb", "t", handle.info.run_id)
    finally:
        os.umask(old)
    try:
        dirs = [store.state_dir, store.runs_dir, handle.path, store.locks_dir]
        files = [*handle.path.iterdir(), lock.path]
        assert {stat.S_IMODE(d.stat().st_mode) for d in dirs} == {0o700}
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
        assert "journal.torn.1" in {f.name for f in files}
    finally:
        lock.release()


def test_info_and_snapshot_round_trip(store: LocalDirStore) -> None:
    info = make_info(target=None, rehearsal=True, params={"n": 3, "names": ["a", "é"]})
    store.create_run(info, b"\x00bytes \xff as given").close()
    with store.open_run(info.run_id) as handle:
        assert handle.info == info
        assert handle.snapshot() == b"\x00bytes \xff as given"


def test_no_temp_files_left_behind(run: LocalRunHandle) -> None:
    assert not [p for p in run.path.iterdir() if p.name.startswith(".")]


def test_create_twice_is_refused(store: LocalDirStore) -> None:
    info = make_info()
    store.create_run(info, b"").close()
    with pytest.raises(StateError, match="already exists"):
        store.create_run(info, b"")


@pytest.mark.parametrize("run_id", ["20991231T000000Z-000000", "../etc", "a/b", ""])
def test_open_unknown_run_names_it(store: LocalDirStore, run_id: str) -> None:
    with pytest.raises(StateError, match=repr(run_id) if run_id else "not a run id"):
        store.open_run(run_id)
    with pytest.raises(StateError):
        store.verify(run_id)


def test_run_ids_are_sortable_and_unique() -> None:
    ids = [new_run_id() for _ in range(500)]
    assert len(set(ids)) == 500
    first = ids[0]
    assert len(first) == len("20261125T013000Z-3f9a1c") and first[8] == "T" and first[15] == "Z"
    from datetime import UTC, datetime

    early = new_run_id(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    late = new_run_id(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    assert early.startswith("20261125T010000Z-") and early < late


def test_a_process_never_issues_one_run_id_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    # The random part repeating within one second (24 bits: about once in 130 draws of 500).
    draws = iter(["3f9a1c", "3f9a1c", "3f9a1c", "77e0b2"])
    monkeypatch.setattr("secrets.token_hex", lambda _n: next(draws))
    from datetime import UTC, datetime

    second = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert [new_run_id(second), new_run_id(second)] == [
        "20261130T170000Z-3f9a1c",
        "20261130T170000Z-77e0b2",
    ]


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OCSRUN_STATE_DIR", str(tmp_path / "elsewhere"))
    assert default_state_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("OCSRUN_STATE_DIR")
    monkeypatch.chdir(tmp_path)
    assert default_state_dir() == tmp_path / ".ocsrun"


# --- appending and reading ------------------------------------------------------------


class SpyWriter(JournalWriter):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def write(self, fd: int, data: bytes) -> int:
        self.calls.append("write")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self.calls.append("fsync")
        super().fsync(fd)


def test_append_is_one_write_then_fsync(tmp_path: Path) -> None:
    spy = SpyWriter()
    store = LocalDirStore(tmp_path, writer=spy)
    with store.create_run(make_info(), b"") as handle:
        record = handle.append("run.started", {"a": 1})
        assert spy.calls == ["write", "fsync"]
        on_disk = journal_path(handle).read_bytes()
        assert on_disk == journal.encode(record)


def test_records_round_trip_and_continue_after_reopen(store: LocalDirStore) -> None:
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 3)
    with store.open_run(info.run_id) as handle:
        assert handle.last is not None and handle.last.seq == 3
        fill(handle, 2)
        records = list(handle.records())
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert [r.data["step"] for r in records] == ["s0", "s1", "s2", "s0", "s1"]
    assert records[3].prev == records[2].hash
    assert store.verify(info.run_id).ok


def test_records_streams_a_long_journal(run: LocalRunHandle) -> None:
    # Write 10,000 records directly (fast), then read them through the handle.
    prev = journal.GENESIS
    with journal_path(run).open("ab") as out:
        for seq in range(1, 10_001):
            rec = journal.make_record(seq, "step.done", {"i": seq}, prev, operator="u@h")
            out.write(journal.encode(rec))
            prev = rec.hash
    size = journal_path(run).stat().st_size
    tracemalloc.start()
    try:
        seen = 0
        for seen, record in enumerate(run.records(), start=1):
            assert record.seq == seen
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 10_000
    assert peak < size / 10, f"peak {peak} bytes reading a {size}-byte journal"


# --- disk full ------------------------------------------------------------------------


class FullDisk(JournalWriter):
    """Writes part of the data, then fails the way a full disk does."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.failing = True

    def write(self, fd: int, data: bytes) -> int:
        if not self.failing:
            return super().write(fd, data)
        if self.mode == "enospc":
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.mode == "short":
            return os.write(fd, data[:7])
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        if self.failing and self.mode == "eio":
            raise OSError(errno.EIO, "Input/output error")
        super().fsync(fd)


@pytest.mark.parametrize("mode", ["enospc", "short", "eio"])
def test_disk_full_leaves_the_journal_byte_identical(tmp_path: Path, mode: str) -> None:
    writer = FullDisk(mode)
    writer.failing = False
    store = LocalDirStore(tmp_path, writer=writer)
    with store.create_run(make_info(), b"") as handle:
        fill(handle, 3)
        before = journal_path(handle).read_bytes()
        writer.failing = True
        with pytest.raises(StorageFull, match="nothing partial was kept") as caught:
            handle.append("step.done", {"big": "x" * 1000})
        assert str(journal_path(handle)) in str(caught.value)
        assert journal_path(handle).read_bytes() == before
        # Space freed: the next record continues the chain with no gap.
        writer.failing = False
        record = handle.append("step.done", {"after": True})
        assert record.seq == 4
        report = store.verify(handle.info.run_id)
        assert report.ok and report.records == 4


# --- torn tails -----------------------------------------------------------------------


def test_torn_tail_is_detected_and_not_touched_by_reading(store: LocalDirStore) -> None:
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 3)
    torn = b'{"seq":4,"ts":"2026-11-25T01:3'
    with journal_path(handle).open("ab") as out:
        out.write(torn)
    before = journal_path(handle).read_bytes()
    with store.open_run(info.run_id) as reopened:
        assert reopened.torn_tail() == torn.decode()
        assert [r.seq for r in reopened.records()] == [1, 2, 3]
        report = store.verify(info.run_id)
        assert [p.kind for p in report.problems] == ["torn-tail"]
        assert report.problems[0].line == 4
    assert journal_path(handle).read_bytes() == before


def test_next_append_sets_the_torn_tail_aside(store: LocalDirStore) -> None:
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 3)
    clean = journal_path(handle).read_bytes()
    torn = b'{"seq":4,"ts":"\xc3'  # ends inside a UTF-8 sequence
    with journal_path(handle).open("ab") as out:
        out.write(torn)
    with store.open_run(info.run_id) as reopened:
        record = reopened.append("run.resumed", {})
        assert reopened.torn_tail() is not None  # still reported for this session
    copy = handle.path / "journal.torn.1"
    assert copy.read_bytes() == torn
    data = journal_path(handle).read_bytes()
    assert data.startswith(clean)  # nothing acknowledged was touched
    records = [journal.decode(line) for line in data.splitlines(keepends=True)]
    set_aside = records[3]
    assert set_aside.type == "journal.torn-tail-set-aside"
    assert set_aside.data == {
        "file": "journal.torn.1",
        "offset": len(clean),
        "bytes": len(torn),
        "sha256": hashlib.sha256(torn).hexdigest(),
    }
    assert records[4] == record and record.seq == 5
    assert store.verify(info.run_id).ok


def test_set_aside_is_journalled_even_if_the_first_write_fails(tmp_path: Path) -> None:
    writer = FullDisk("enospc")
    writer.failing = False
    store = LocalDirStore(tmp_path, writer=writer)
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 2)
    with journal_path(handle).open("ab") as out:
        out.write(b"torn!")
    with store.open_run(info.run_id) as reopened:
        writer.failing = True
        with pytest.raises(StorageFull):
            reopened.append("run.resumed", {})
        assert (handle.path / "journal.torn.1").read_bytes() == b"torn!"
        writer.failing = False
        reopened.append("run.resumed", {})
        types = [r.type for r in reopened.records()]
    assert types == ["step.done", "step.done", "journal.torn-tail-set-aside", "run.resumed"]
    assert store.verify(info.run_id).ok


def test_each_set_aside_gets_its_own_file(store: LocalDirStore) -> None:
    info = make_info()
    store.create_run(info, b"").close()
    for torn in (b"first", b"second"):
        with (store.runs_dir / info.run_id / "journal.jsonl").open("ab") as out:
            out.write(torn)
        with store.open_run(info.run_id) as handle:
            handle.append("run.resumed", {})
    run_dir = store.runs_dir / info.run_id
    assert (run_dir / "journal.torn.1").read_bytes() == b"first"
    assert (run_dir / "journal.torn.2").read_bytes() == b"second"
    assert store.verify(info.run_id).ok


def test_verify_notices_a_tampered_set_aside_copy(store: LocalDirStore) -> None:
    info = make_info()
    store.create_run(info, b"").close()
    run_dir = store.runs_dir / info.run_id
    (run_dir / "journal.jsonl").write_bytes(b"torn")
    with store.open_run(info.run_id) as handle:
        handle.append("run.resumed", {})
    (run_dir / "journal.torn.1").write_bytes(b"TORN")
    report = store.verify(info.run_id)
    assert [(p.kind, p.seq, p.line) for p in report.problems] == [("torn-copy", 1, 1)]


def test_damage_before_the_tail_refuses_to_resume(store: LocalDirStore) -> None:
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 3)
    path = journal_path(handle)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]) + b"garbage\n" + b"torn")
    with pytest.raises(JournalCorrupt, match="runs verify"):
        store.open_run(info.run_id)


# --- verify through the store -----------------------------------------------------------


def tamper(path: Path, how: str) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    if how == "flip":
        lines[2] = lines[2].replace(b'"s2"', b'"s3"')
    elif how == "delete":
        del lines[2]
    elif how == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif how == "truncate":
        lines[-1] = lines[-1][:25]
    elif how == "duplicate":
        lines.insert(3, lines[2])
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("flip", [("hash-mismatch", 3, 3)]),
        ("delete", [("seq-gap", 4, 3)]),
        ("swap", [("reordered", 3, 4)]),
        ("truncate", [("torn-tail", None, 5)]),
        ("duplicate", [("duplicate-seq", 3, 4)]),
    ],
)
def test_verify_names_each_tamper(
    store: LocalDirStore, how: str, expected: list[tuple[str, int | None, int]]
) -> None:
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 5)
    assert store.verify(info.run_id).ok
    tamper(journal_path(handle), how)
    report = store.verify(info.run_id)
    assert [(p.kind, p.seq, p.line) for p in report.problems] == expected


# --- listing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_type", "status"),
    [
        ("run.finished", "finished"),
        ("run.aborted", "aborted"),
        ("run.interrupted", "interrupted"),
        ("run.failed", "failed"),
        ("step.done", "running"),
        (None, "running"),
    ],
)
def test_list_runs_status(store: LocalDirStore, last_type: str | None, status: str) -> None:
    with store.create_run(make_info(), b"") as handle:
        handle.append("run.started", {})
        if last_type:
            handle.append(last_type, {})
    [summary] = store.list_runs()
    assert summary.status == status
    assert summary.records == (2 if last_type else 1)
    assert summary.last_type == (last_type or "run.started")


def test_list_runs_newest_first_and_skips_strays(store: LocalDirStore) -> None:
    ids = []
    for hour in ("01", "03", "02"):
        info = make_info(started=f"2026-11-25T{hour}:00:00.000000Z")
        store.create_run(info, b"").close()
        ids.append((hour, info.run_id))
    (store.runs_dir / "half-created").mkdir()
    (store.runs_dir / "stray.txt").write_text("x")
    listed = [s.info.run_id for s in store.list_runs()]
    assert listed == [run_id for _hour, run_id in sorted(ids, reverse=True)]


def test_list_runs_reads_only_the_tail(store: LocalDirStore) -> None:
    info = make_info()
    with store.create_run(info, b"") as handle:
        fill(handle, 300)
        handle.append("run.finished", {})
    # Damage the first line: a whole-file read would notice, a tail read does not.
    path = journal_path(handle)
    data = bytearray(path.read_bytes())
    data[0:1] = b"X"
    path.write_bytes(bytes(data))
    [summary] = store.list_runs()
    assert (summary.status, summary.records) == ("finished", 301)


def test_list_runs_ignores_a_torn_tail(store: LocalDirStore) -> None:
    with store.create_run(make_info(), b"") as handle:
        handle.append("run.failed", {})
    journal_path(handle).open("ab").write(b'{"seq":2')
    [summary] = store.list_runs()
    assert (summary.status, summary.records) == ("failed", 1)


def test_list_runs_again_sees_what_changed_since(store: LocalDirStore) -> None:
    """The same store listing again (as the web view does every second) reads a run's files
    again only when they changed, and always shows the current state."""
    first = store.create_run(make_info(started="2026-11-25T01:00:00.000000Z"), b"")
    first.append("step.done", {"step": "a"})
    assert [(s.records, s.status) for s in store.list_runs()] == [(1, "running")]
    assert store.list_runs() == store.list_runs()  # unchanged: the same answer
    first.append("run.finished", {})
    second = store.create_run(make_info(started="2026-11-25T02:00:00.000000Z"), b"")
    listed = store.list_runs()
    assert [(s.info.run_id, s.records, s.status) for s in listed] == [
        (second.info.run_id, 0, "running"),
        (first.info.run_id, 2, "finished"),
    ]
    first.close()
    second.close()
    shutil.rmtree(first.path)
    assert [s.info.run_id for s in store.list_runs()] == [second.info.run_id]
    # A journal put back as it was before (shorter, an old mtime) is noticed too.
    data = journal_path(second).read_bytes()
    with second:
        second.append("step.done", {"step": "b"})
    listed_once = store.list_runs()[0]
    assert listed_once.records == 1
    journal_path(second).write_bytes(data)
    os.utime(journal_path(second), ns=(1, 1))
    assert store.list_runs()[0].records == 0


def test_records_read_again_only_when_the_journal_changed(tmp_path: Path) -> None:
    store = LocalDirStore(tmp_path / "state", cache_reads=True)  # as `ocsrun serve` opens it
    with store.create_run(make_info(), b"") as handle:
        fill(handle, 3)
        first = list(store.open_run(handle.info.run_id).records())
        again = list(store.open_run(handle.info.run_id).records())
        assert again == first and all(a is b for a, b in zip(again, first, strict=True))
        handle.append("run.finished", {})
        after = list(store.open_run(handle.info.run_id).records())
    assert [r.type for r in after] == ["step.done"] * 3 + ["run.finished"]
    # Changed behind the store's back (same size, another mtime): read again, and refused.
    path = journal_path(handle)
    path.write_bytes(path.read_bytes().replace(b'"s1"', b'"sX"'))
    os.utime(path, ns=(1, 1))
    with pytest.raises(JournalCorrupt):
        list(store.open_run(handle.info.run_id).records())


def test_list_runs_on_a_missing_state_dir(tmp_path: Path) -> None:
    assert LocalDirStore(tmp_path / "nothing").list_runs() == []


# --- durability under SIGKILL ---------------------------------------------------------

CHILD = """
import sys
from pathlib import Path
from ocsrun.store.local import LocalDirStore
store = LocalDirStore(Path(sys.argv[1]))
handle = store.open_run(sys.argv[2])
handle.append("run.resumed", {})
print("ready", flush=True)
i = 0
while True:
    i += 1
    record = handle.append("step.done", {"i": i, "pad": "x" * (i % 300)})
    print(record.seq, flush=True)  # acknowledged: must survive the kill
"""


@pytest.mark.slow
def test_sigkill_mid_append_loses_nothing_acknowledged(store: LocalDirStore) -> None:
    rng = random.Random(20261125)
    info = make_info()
    store.create_run(info, b"").close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _round in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(store.state_dir), info.run_id],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait()
        acknowledged = [int(line) for line in child.stdout.read().split(b"\n") if line]
        report = store.verify(info.run_id)
        assert {p.kind for p in report.problems} <= {"torn-tail"}, report.problems
        with store.open_run(info.run_id) as handle:
            seqs = [r.seq for r in handle.records()]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) == report.records
        if acknowledged:
            assert acknowledged[-1] <= len(seqs), "an acknowledged record was lost"
    with store.open_run(info.run_id) as handle:
        types = [r.type for r in handle.records()]
    assert types.count("run.resumed") == 20
