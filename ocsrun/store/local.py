"""The default run store: a private directory on this workstation.

Layout (directories 0700, files 0600, whatever the umask)::

    <state>/runs/<run_id>/run.json         RunInfo, written once, atomically
    <state>/runs/<run_id>/snapshot.yaml    the resolved runbook, written once, atomically
    <state>/runs/<run_id>/journal.jsonl    append-only records (see ocsrun.store.journal)
    <state>/runs/<run_id>/journal.torn.<n> torn tails set aside (see below)
    <state>/locks/<key>.lock               one per (runbook, target); see ocsrun.store.lock

How one run's journal is written (appends, fsync, torn tails): see ocsrun.store.local_run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocsrun.errors import JournalCorrupt, StateError, StorageFull, UsageError
from ocsrun.store import journal, journal_verify, lock
from ocsrun.store.cache import RecordCache
from ocsrun.store.local_run import (
    JOURNAL,
    MAX_SNAPSHOT_BYTES,
    MAX_TORN_COPY_BYTES,
    SNAPSHOT,
    TORN_PREFIX,
    JournalWriter,
    LocalRunHandle,
    open_regular,
    read_regular,
    run_key,
    write_atomic,
    write_new_file,
)
from ocsrun.store.protocol import (
    CHAIN_HMAC,
    CHAIN_SHA256,
    STATUS_BY_LAST_TYPE,
    Record,
    RunBrief,
    RunInfo,
    RunSummary,
    VerifyProblem,
    VerifyReport,
    brief_of,
    make_run_id,
    operator_id,
)

STATE_ENV = "OCSRUN_STATE_DIR"
DEFAULT_STATE_DIR = ".ocsrun"
RUN_INFO = "run.json"
# Bounds for the small files of a run, so a planted huge (or sparse) file cannot exhaust memory.
MAX_INFO_BYTES = 1024 * 1024

# A run whose journal ends so is over: `resume` refuses it and nothing appends to it again.
_ENDED = frozenset({"finished", "aborted", "abandoned"})

UNKEYED = "unkeyed"  # a VerifyProblem kind


# A run's files under the names every store uses (`ocsrun store copy`), and back.
_COPY_NAMES = {SNAPSHOT: "snapshot"}
_LOCAL_NAMES = {"snapshot": SNAPSHOT}

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def default_state_dir() -> Path:
    """`$OCSRUN_STATE_DIR` if set, else `.ocsrun` in the working directory."""
    value = os.environ.get(STATE_ENV)
    return Path(value) if value else Path.cwd() / DEFAULT_STATE_DIR


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique (see ocsrun.store.protocol.make_run_id)."""
    return make_run_id(now)


class LocalDirStore:
    """RunStore over a local directory (see the module docstring for the layout)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        writer: JournalWriter | None = None,
        cache_reads: bool = False,
        key: bytes | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.runs_dir = self.state_dir / "runs"
        self.locks_dir = self.state_dir / "locks"
        self._writer = writer
        # Whole journals kept in memory: only for a long-lived reader (open_store(long_lived)),
        # since a command reading one big journal once should stream it.
        self._records = RecordCache() if cache_reads else None
        # run id -> (what its files looked like, its summary then); see _cached_summary
        self._summaries: dict[str, tuple[tuple[int, ...], RunSummary]] = {}
        self._key = key  # for keyed journals (HMAC-SHA256); see ocsrun.store.keys

    @property
    def location(self) -> str:
        return str(self.state_dir)

    def reopen_args(self) -> tuple[str, ...]:
        return ("--state-dir", str(self.state_dir.absolute()))

    def new_run_id(self) -> str:
        return new_run_id()

    def _run_dir(self, run_id: str) -> Path:
        if not _RUN_ID.fullmatch(run_id):
            raise StateError(f"{run_id!r} is not a run id (ids look like {new_run_id()})")
        self._check_dirs()
        run_dir = self.runs_dir / run_id
        _refuse_link(run_dir)
        return run_dir

    def _check_dirs(self) -> None:
        """Refuse a state directory others may write to, and links planted for its parts.

        Anyone who can write there can plant files the store would read or append to, or
        remove a lock: run state is only as trustworthy as the directory holding it.
        """
        try:
            mode = os.stat(self.state_dir).st_mode
        except FileNotFoundError:
            return
        except OSError as error:
            raise StateError(
                f"cannot use state directory {self.state_dir}: {error.strerror}"
            ) from None
        if stat.S_ISDIR(mode) and mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise StateError(
                f"state directory {self.state_dir} is writable by others "
                f"(mode {stat.S_IMODE(mode):04o}); run state there cannot be trusted: "
                f"use another directory, or `chmod 700 {self.state_dir}`"
            )
        for part in (self.runs_dir, self.locks_dir):
            _refuse_link(part)

    def create_run(self, info: RunInfo, snapshot: bytes) -> LocalRunHandle:
        run_dir = self._run_dir(info.run_id)
        info = dataclasses.replace(info, chain=CHAIN_HMAC if self._key else CHAIN_SHA256)
        lock.ensure_dir(self.state_dir)
        lock.ensure_dir(self.runs_dir)
        try:
            os.mkdir(run_dir, lock.DIR_MODE)
        except FileExistsError:
            raise StateError(f"run {info.run_id} already exists in {self.runs_dir}") from None
        os.chmod(run_dir, lock.DIR_MODE)
        try:
            write_atomic(run_dir / SNAPSHOT, snapshot)
            write_new_file(run_dir / JOURNAL, b"")
            # run.json last: a run directory without it is an unfinished
            # create, which list_runs skips and open_run refuses.
            write_atomic(run_dir / RUN_INFO, _info_json(info))
            lock.fsync_dir(self.runs_dir)
        except OSError as error:
            raise StorageFull(
                f"could not create run {info.run_id} in {self.runs_dir} ({error.strerror})"
            ) from None
        return LocalRunHandle(run_dir, info, self._writer, self._records, self._key)

    def open_run(self, run_id: str) -> LocalRunHandle:
        run_dir = self._run_dir(run_id)
        info = self._read_info(run_id, run_dir)
        if not (run_dir / JOURNAL).exists():
            raise StateError(f"run {run_id} has no journal ({run_dir / JOURNAL} is missing)")
        if not (run_dir / JOURNAL).is_file():
            raise StateError(f"run {run_id}: {run_dir / JOURNAL} is not a regular file")
        return LocalRunHandle(run_dir, info, self._writer, self._records, self._key)

    def _read_info(self, run_id: str, run_dir: Path) -> RunInfo:
        try:
            raw = read_regular(run_dir / RUN_INFO, MAX_INFO_BYTES)
        except FileNotFoundError:
            raise StateError(f"no run {run_id!r} in {self.runs_dir}") from None
        except OSError as error:
            raise StateError(f"cannot read {run_dir / RUN_INFO}: {error.strerror}") from None
        try:
            return _info_from_json(raw)
        except (ValueError, TypeError, KeyError) as error:
            raise StateError(f"{run_dir / RUN_INFO} is not a valid run record: {error}") from None

    def list_runs(self) -> list[RunSummary]:
        self._check_dirs()
        if not self.runs_dir.is_dir():
            return []
        summaries = []
        seen = set()
        with os.scandir(self.runs_dir) as entries:
            for entry in entries:
                if not _RUN_ID.fullmatch(entry.name) or not entry.is_dir():
                    continue
                seen.add(entry.name)
                summary = self._cached_summary(entry.path, entry.name)
                if summary is not None:
                    summaries.append(summary)
        for gone in self._summaries.keys() - seen:
            del self._summaries[gone]
        summaries.sort(key=lambda s: (s.info.started, s.info.run_id), reverse=True)
        return summaries

    def list_briefs(self) -> list[RunBrief]:
        return [brief_of(summary) for summary in self.list_runs()]

    def _cached_summary(self, run_dir: str, name: str) -> RunSummary | None:
        """A run's summary, read again only when its journal changed.

        A long-lived reader (the web view lists runs every second) would otherwise open two
        files per run each time: 10,000 runs took about 2 s. One lstat per run tells whether
        anything changed: the journal only grows (size, mtime), and run.json, written once and
        last at creation, never changes after a summary could be read. A run that ended
        (finished, aborted) is not looked at again: only tampering could change it, which
        `runs verify` and the run's own page (both read the whole journal) still show.
        """
        cached = self._summaries.get(name)
        if cached is not None and cached[1].status in _ENDED:
            return cached[1]  # ended: resume refuses it, nothing appends to it any more
        try:
            # A plain string path: this runs once per run, every listing.
            journal_stat = os.lstat(os.path.join(run_dir, JOURNAL))
        except OSError:
            return self._summary(Path(run_dir))  # unfinished, or broken: say so, as before
        key = (journal_stat.st_ino, journal_stat.st_size, journal_stat.st_mtime_ns)
        if cached is not None and cached[0] == key:
            return cached[1]
        summary = self._summary(Path(run_dir))
        if summary is not None:
            self._summaries[name] = (key, summary)
        return summary

    def _summary(self, run_dir: Path) -> RunSummary | None:
        # Not a run: someone else's directory, or an unfinished create (run.json not there yet).
        if not _RUN_ID.fullmatch(run_dir.name) or not (run_dir / RUN_INFO).exists():
            return None
        try:
            info = self._read_info(run_dir.name, run_dir)
        except StateError:
            # Listed as damaged, never dropped silently nor breaking the list of the others.
            return RunSummary(_damaged_info(run_dir.name), 0, None, None, "damaged")
        try:
            fd = open_regular(run_dir / JOURNAL)
        except (OSError, StateError):
            return RunSummary(info, 0, None, None, "unknown")
        try:
            last, _torn = journal.read_tail(fd)
        except JournalCorrupt:
            return RunSummary(info, 0, None, None, "damaged")
        finally:
            os.close(fd)
        if last is None:
            return RunSummary(info, 0, None, None, "running")
        status = STATUS_BY_LAST_TYPE.get(last.type, "running")
        # seq == number of records in an intact journal (see ocsrun.store.journal).
        step = last.data.get("step")
        return RunSummary(
            info, last.seq, last.type, last.ts, status, step if isinstance(step, str) else None
        )

    def verify(self, run_id: str) -> VerifyReport:
        run_dir = self._run_dir(run_id)
        info = self._read_info(run_id, run_dir)
        key = run_key(info, self._key)
        path = run_dir / JOURNAL
        try:
            with os.fdopen(open_regular(path), "rb") as stream:
                checked = journal_verify.verify_chain(journal.bounded_lines(stream), key)
        except FileNotFoundError:
            raise StateError(f"run {run_id} has no journal ({path} is missing)") from None
        problems = checked.problems
        problems.extend(self._check_set_asides(run_dir))
        if self._key is not None and key is None:
            problems.append(
                VerifyProblem(
                    None,
                    0,
                    UNKEYED,
                    "a journal key is configured, but this run's chain is not keyed: "
                    "anyone could have recomputed its hashes",
                )
            )
        return VerifyReport(run_id, checked.records, tuple(problems), checked.head)

    def migrate(self, operator_roles: Sequence[str] = ()) -> list[str]:
        """A directory has no schema; roles are a database's idea."""
        if operator_roles:
            raise UsageError(f"{self.state_dir} is a directory: it has no roles to grant")
        return []

    def run_files(self, run_id: str) -> dict[str, bytes]:
        """Every file kept with a run besides run.json and its journal, by relative name.

        For `ocsrun store copy`: the snapshot travels as "snapshot" (its name in every store),
        torn-tail copies and source texts under their own names.
        """
        run_dir = self._run_dir(run_id)
        self._read_info(run_id, run_dir)
        files = {}
        for path in sorted(run_dir.rglob("*")):
            name = path.relative_to(run_dir).as_posix()
            if name in (RUN_INFO, JOURNAL) or path.name.startswith(".") or path.is_dir():
                continue
            files[_COPY_NAMES.get(name, name)] = read_regular(path, MAX_SNAPSHOT_BYTES)
        return files

    def import_run(self, info: RunInfo, files: dict[str, bytes], records: Iterable[Record]) -> None:
        """Add a run recorded elsewhere, records unchanged (`ocsrun store copy`)."""
        run_dir = self._run_dir(info.run_id)
        lock.ensure_dir(self.state_dir)
        lock.ensure_dir(self.runs_dir)
        try:
            os.mkdir(run_dir, lock.DIR_MODE)
        except FileExistsError:
            raise StateError(f"run {info.run_id} already exists in {self.runs_dir}") from None
        try:
            for name, content in files.items():
                local = _LOCAL_NAMES.get(name, name)
                parts = local.split("/")
                if local in (RUN_INFO, JOURNAL) or any(p in ("", ".", "..") for p in parts):
                    raise StateError(f"run {info.run_id}: refusing a kept file named {name!r}")
                path = run_dir.joinpath(*parts)
                for parent in reversed(path.relative_to(run_dir).parents[:-1]):
                    lock.ensure_dir(run_dir / parent)
                write_new_file(path, content)
            write_new_file(run_dir / JOURNAL, b"".join(journal.encode(r) for r in records))
            # run.json last, as in create_run: without it the directory is no run yet.
            write_atomic(run_dir / RUN_INFO, _info_json(info))
            lock.fsync_dir(self.runs_dir)
        except OSError as error:
            raise StorageFull(
                f"could not copy run {info.run_id} into {self.runs_dir} ({error.strerror})"
            ) from None

    def _check_set_asides(self, run_dir: Path) -> list[VerifyProblem]:
        """Each journalled set-aside must still match its copy byte for byte."""
        problems = []
        with os.fdopen(open_regular(run_dir / JOURNAL), "rb") as stream:
            # Bounded lines: a damaged journal's huge line is not read whole here either.
            for line_no, raw in enumerate(journal.bounded_lines(stream), start=1):
                if journal.TORN_TAIL_SET_ASIDE.encode() not in raw:
                    continue  # cheap pre-filter; the real check parses
                problem = _check_set_aside(run_dir, line_no, raw)
                if problem is not None:
                    problems.append(problem)
        return problems

    def acquire_lock(
        self, runbook_id: str, target: str | None, run_id: str, *, break_lock: bool = False
    ) -> lock.FileLock:
        self._check_dirs()
        lock.ensure_dir(self.state_dir)
        return lock.acquire(
            self.locks_dir,
            runbook_id,
            target,
            run_id,
            operator=operator_id(),
            break_lock=break_lock,
        )

    def lock_run(self, run_id: str) -> lock.FileLock:
        self._run_dir(run_id)  # refuses what is not a run id before it names a file
        lock.ensure_dir(self.state_dir)
        return lock.acquire_run(self.locks_dir, run_id, operator=operator_id())

    def reclaim_lock(self, runbook_id: str, target: str | None, run_id: str) -> lock.FileLock:
        self._check_dirs()
        lock.ensure_dir(self.state_dir)
        return lock.acquire(
            self.locks_dir,
            runbook_id,
            target,
            run_id,
            operator=operator_id(),
            reclaim=True,
        )


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise StateError(f"{path} is a symbolic link; state directories are never followed")


def _check_set_aside(run_dir: Path, line_no: int, raw: bytes) -> VerifyProblem | None:
    try:
        record = journal.decode(raw)
    except journal.RecordError:
        return None  # already reported by verify_lines
    if record.type != journal.TORN_TAIL_SET_ASIDE:
        return None
    name = str(record.data.get("file", ""))
    if not name.startswith(TORN_PREFIX) or "/" in name:
        return VerifyProblem(record.seq, line_no, "torn-copy", f"bad set-aside file {name!r}")
    try:
        data = read_regular(run_dir / name, MAX_TORN_COPY_BYTES)
    except (OSError, StateError):
        return VerifyProblem(record.seq, line_no, "torn-copy", f"set-aside copy {name} is missing")
    if hashlib.sha256(data).hexdigest() != record.data.get("sha256"):
        return VerifyProblem(
            record.seq, line_no, "torn-copy", f"set-aside copy {name} does not match its sha256"
        )
    return None


def _info_json(info: RunInfo) -> bytes:
    payload = dataclasses.asdict(info)
    payload["params"] = dict(info.params)
    return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")


# The type each run.json field must have: a run.json written by hand or another tool with a
# number for `started` once broke sorting every run in `runs list`.
_INFO_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "runbook_id": (str,),
    "runbook_title": (str,),
    "runbook_version": (str,),
    "runbook_path": (str,),
    "target": (str, type(None)),
    "operator": (str,),
    "started": (str,),
    "rehearsal": (bool,),
    "params": (dict,),
    "chain": (str,),
}


def _info_from_json(raw: bytes) -> RunInfo:
    obj: Any = json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    names = {f.name for f in dataclasses.fields(RunInfo)}
    for name, kinds in _INFO_TYPES.items():
        if name in obj and not isinstance(obj[name], kinds):
            raise ValueError(f"field {name!r} is a {type(obj[name]).__name__}")
    return RunInfo(**{key: value for key, value in obj.items() if key in names})


def _damaged_info(run_id: str) -> RunInfo:
    """What `runs list` shows for a run whose run.json cannot be read: its id, and `?`."""
    return RunInfo(run_id, "?", "?", "?", "?", None, "?", "", False)


if TYPE_CHECKING:
    from ocsrun.store.protocol import Lock, RunHandle, RunStore

    def _conforms(store: LocalDirStore, handle: LocalRunHandle, held: lock.FileLock) -> None:
        _store: RunStore = store
        _handle: RunHandle = handle
        _lock: Lock = held
