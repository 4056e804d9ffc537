"""One run's directory in the local store: its journal, written and read.

The journal is only ever appended to, one record per `os.write`, fsync'd before
`append` returns. It is modified in exactly two other ways, both of which keep
every byte that was ever acknowledged:

* a failed write is truncated back to the length before that write, removing
  only its own partial bytes (nothing of it was acknowledged);
* a torn last line left by a crash is first copied to `journal.torn.<n>`
  (fsync'd), then cut off, and a `journal.torn-tail-set-aside` record naming
  the copy, its length and sha256 is the first record appended after it.

Also the file primitives the store uses for a run's other files: regular files only (never a
link, a FIFO or a device), created 0600 and fsync'd, written whole or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ocsrun import safe_io
from ocsrun.errors import JournalCorrupt, StateError, StorageFull
from ocsrun.store import journal, lock
from ocsrun.store.cache import RecordCache
from ocsrun.store.protocol import CHAIN_HMAC, CHAIN_SHA256, JsonData, Record, RunInfo, operator_id

JOURNAL = "journal.jsonl"
SNAPSHOT = "snapshot.yaml"
TORN_PREFIX = "journal.torn."
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
MAX_TORN_COPY_BYTES = 64 * 1024 * 1024


class JournalWriter:
    """The two system calls an append makes; tests replace them to simulate a full disk."""

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)


class LocalRunHandle:
    """One run's directory, open for reading and appending."""

    def __init__(
        self,
        run_dir: Path,
        info: RunInfo,
        writer: JournalWriter | None = None,
        read_cache: RecordCache | None = None,
        key: bytes | None = None,
    ) -> None:
        self._dir = run_dir
        self._read_cache = read_cache
        self._info = info
        self._key = run_key(info, key)
        self._writer = writer or JournalWriter()
        self._journal = run_dir / JOURNAL
        self._fd: int | None = None
        self._last: Record | None = None
        self._torn: journal.TornTail | None = None
        self._found_torn: journal.TornTail | None = None
        # Set aside but not yet journalled (the write of the event failed).
        self._pending_event: dict[str, Any] | None = None
        self._load_tail()

    @property
    def info(self) -> RunInfo:
        return self._info

    @property
    def path(self) -> Path:
        return self._dir

    @property
    def last(self) -> Record | None:
        """The last intact record (read from the end of the journal, not the whole file)."""
        return self._last

    def head(self) -> str | None:
        return self._last.hash if self._last is not None else None

    def _open_fd(self) -> int:
        if self._fd is None:
            flags = os.O_APPEND | os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            self._fd = os.open(self._journal, flags, lock.FILE_MODE)
        return self._fd

    def _load_tail(self) -> None:
        fd = open_regular(self._journal)
        try:
            self._last, self._torn = journal.read_tail(fd)
        except JournalCorrupt as error:
            raise JournalCorrupt(
                f"{self._journal}: {error}; run `ocsrun runs verify {self._info.run_id}`"
            ) from None
        finally:
            os.close(fd)
        if self._torn is not None:
            self._found_torn = self._torn

    def append(self, type: str, data: JsonData) -> Record:
        if self._torn is not None:
            self._set_aside_torn_tail(self._torn)
        if self._pending_event is not None:
            self._append(journal.TORN_TAIL_SET_ASIDE, self._pending_event)
            self._pending_event = None
        return self._append(type, data)

    def _append(self, type: str, data: JsonData) -> Record:
        last = self._last
        record = journal.make_record(
            last.seq + 1 if last else 1,
            type,
            data,
            last.hash if last else journal.GENESIS,
            operator=operator_id(),
            key=self._key,
        )
        self._write_line(journal.encode(record))
        self._last = record
        return record

    def _write_line(self, line: bytes) -> None:
        fd = self._open_fd()
        before = os.fstat(fd).st_size
        try:
            written = self._writer.write(fd, line)
            if written != len(line):
                # Short writes to a regular file mean the disk filled up.
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(line)} bytes)")
            self._writer.fsync(fd)
        except OSError as error:
            self._undo_write(fd, before, error)

    def _undo_write(self, fd: int, before: int, error: OSError) -> None:
        reason = error.strerror or str(error)
        try:
            os.ftruncate(fd, before)
            os.fsync(fd)
        except OSError as undo:
            # What is on disk is now unknown: re-read the tail so a leftover
            # partial line is treated as a torn tail by the next append.
            with contextlib.suppress(JournalCorrupt, OSError):
                self._load_tail()
            raise StorageFull(
                f"could not write a journal record to {self._journal} ({reason}), and could "
                f"not remove the partial write ({undo.strerror}); free space, then resume "
                "(the partial line is set aside as a torn tail)"
            ) from None
        raise StorageFull(
            f"could not write a journal record to {self._journal} ({reason}); nothing "
            "partial was kept; free space, then resume the run"
        ) from None

    def _set_aside_torn_tail(self, torn: journal.TornTail) -> None:
        copy = self._save_torn_copy(torn)
        fd = self._open_fd()
        # The only cut ever made into an existing journal: the bytes are
        # already safe in `copy`, and they were never a complete record.
        try:
            os.ftruncate(fd, torn.offset)
            os.fsync(fd)
        except OSError as error:
            raise StorageFull(
                f"could not cut the torn tail off {self._journal} ({error.strerror}); "
                f"it is saved in {copy}"
            ) from None
        self._torn = None
        self._pending_event = {
            "file": copy.name,
            "offset": torn.offset,
            "bytes": len(torn.data),
            "sha256": torn.sha256,
        }

    def _save_torn_copy(self, torn: journal.TornTail) -> Path:
        n = 1
        while (self._dir / f"{TORN_PREFIX}{n}").exists():
            n += 1
        path = self._dir / f"{TORN_PREFIX}{n}"
        try:
            write_new_file(path, torn.data)
        except OSError as error:
            path.unlink(missing_ok=True)
            raise StorageFull(
                f"could not set aside the torn tail of {self._journal} to {path} "
                f"({error.strerror}); free space, then resume the run"
            ) from None
        return path

    def records(self) -> Iterator[Record]:
        with os.fdopen(open_regular(self._journal), "rb") as stream:
            cache = self._read_cache
            if cache is None:
                yield from journal.JournalReader(stream, name=str(self._journal), key=self._key)
                return
            # The journal only grows: the same inode, size and mtime mean the same records.
            st = os.fstat(stream.fileno())
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            cached = cache.get(self._info.run_id)
            if cached is not None and cached[0] == key:
                yield from cached[1]
                return
            read = []
            for record in journal.JournalReader(stream, name=str(self._journal), key=self._key):
                read.append(record)
                yield record
            cache.put(self._info.run_id, key, tuple(read))  # only once read to the end

    def torn_tail(self) -> str | None:
        """The torn last line found when the run was opened, if any.

        It is not returned by `records()`; the next `append` moves it to
        `journal.torn.<n>` and journals that. Stays reported for the life of
        this handle so a resume can tell the operator about it.
        """
        return self._found_torn.text() if self._found_torn else None

    def snapshot(self) -> bytes:
        return read_regular(self._dir / SNAPSHOT, MAX_SNAPSHOT_BYTES)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LocalRunHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_key(info: RunInfo, key: bytes | None) -> bytes | None:
    """The key a run's records are hashed with: None for a plain chain."""
    if info.chain == CHAIN_SHA256:
        return None
    if info.chain != CHAIN_HMAC:
        raise StateError(f"run {info.run_id}: unknown journal chain {info.chain!r}")
    if key is None:
        raise StateError(
            f"run {info.run_id} has a keyed journal (HMAC-SHA256): set OCSRUN_JOURNAL_KEY "
            "or OCSRUN_JOURNAL_KEY_FILE to the key it was written with"
        )
    return key


def open_regular(path: Path) -> int:
    """A read-only fd on path, which must be a regular file and not a symlink (StateError).

    See ocsrun.safe_io: a FIFO, a device or a link planted in the state directory is refused
    instead of blocking, streaming forever or sending the read elsewhere. Missing files raise
    FileNotFoundError for the caller to word.
    """
    try:
        return safe_io.open_regular(path, follow_symlinks=False)
    except (safe_io.NotRegularFile, safe_io.SymlinkRefused) as error:
        raise StateError(f"{path} is {error.strerror}") from None


def read_regular(path: Path, limit: int) -> bytes:
    fd = open_regular(path)
    try:
        return safe_io.read_fd(fd, path, limit)
    except safe_io.TooLarge:
        raise StateError(f"{path} is larger than {limit} bytes") from None
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes) -> None:
    """Create `path` (must not exist) with mode 0600 and `data`, fsync'd."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, lock.FILE_MODE)
    try:
        os.fchmod(fd, lock.FILE_MODE)
        lock.write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    lock.fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """All of `data` at `path` or nothing: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write_new_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    lock.fsync_dir(path.parent)
