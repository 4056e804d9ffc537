"""One active run per (runbook, target), across processes on this host.

A lock is a file `<locks>/<key>.lock` holding the holder's LockInfo as JSON,
created with O_CREAT|O_EXCL (so exactly one creator wins) and kept under an
`fcntl.flock` for as long as the holder lives. The kernel drops the flock when
the process dies, however it dies, which is what makes a lock *stale*: the file
is still there but nobody holds it.

Every acquire, break and release runs under a short exclusive flock on
`<locks>/.guard`, so deciding "stale" and taking over are one step for all
ocsrun processes sharing the state directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from ocsrun import safe_io
from ocsrun.errors import LockHeld, LockLost
from ocsrun.store.protocol import LockInfo, normalise_target, utc_now

DIR_MODE = 0o700
FILE_MODE = 0o600
# A lock file holds one small JSON object; more than this is not one of ours.
MAX_LOCK_BYTES = 64 * 1024


def lock_key(runbook_id: str, target: str | None) -> str:
    """One key per (runbook, server): the target is normalised (see normalise_target), so
    `OCS-SE01.contoso.com.` and `ocs-se01.contoso.com` are one lock."""
    material = f"{runbook_id}\0{normalise_target(target)}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


def run_lock_path(locks_dir: Path, run_id: str) -> Path:
    """The lock of one run's session (run ids are checked by the store: safe in names)."""
    return locks_dir / f"run-{run_id}.lock"


def lock_path(locks_dir: Path, runbook_id: str, target: str | None) -> Path:
    return locks_dir / f"{lock_key(runbook_id, target)}.lock"


class FileLock:
    """A held lock. `broken` is the stale holder this lock took over, if any."""

    def __init__(self, path: Path, fd: int, info: LockInfo, broken: LockInfo | None = None) -> None:
        self.path = path
        self.info = info
        self.broken = broken
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def check(self) -> None:
        """LockLost unless the lock file at `path` is still the one this session created."""
        fd = self._fd
        if fd is None:
            raise LockLost(f"the lock {self.path} was already released")
        try:
            now = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            raise LockLost(
                f"the lock {self.path} of run {self.info.run_id} was removed while it ran; "
                "stopped before the next step"
            ) from None
        mine = os.fstat(fd)
        if (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
            holder = read_info(self.path)
            by = f" by run {holder.run_id} ({holder.operator})" if holder is not None else ""
            raise LockLost(
                f"the lock {self.path} of run {self.info.run_id} was taken over{by}; "
                "stopped before the next step"
            )

    def release(self) -> None:
        """Remove the lock file and drop the flock. Safe to call twice."""
        fd = self._fd
        if fd is None:
            return
        self._fd = None
        try:
            # Only unlink the file if it is still ours (same inode).
            with _guard(self.path.parent), contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    os.unlink(self.path)
                    fsync_dir(self.path.parent)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(
    locks_dir: Path,
    runbook_id: str,
    target: str | None,
    run_id: str,
    *,
    operator: str,
    break_lock: bool = False,
    reclaim: bool = False,
) -> FileLock:
    """Take the lock for (runbook_id, target) or raise LockHeld.

    With break_lock, a stale lock is renamed aside to `<name>.broken` and taken
    over; the returned lock's `broken` names the old holder. With reclaim, the
    same happens only when the stale holder is run_id itself (a crashed session
    of the run being resumed). A live holder is never broken.
    """
    path = lock_path(locks_dir, runbook_id, target)
    what = f"runbook {runbook_id!r}" + (f" on target {target!r}" if target else "")
    return acquire_at(path, what, run_id, operator=operator, break_lock=break_lock, reclaim=reclaim)


def acquire_run(locks_dir: Path, run_id: str, *, operator: str) -> FileLock:
    """The session lock of run_id; a stale one is taken back (only run_id's sessions take it)."""
    path = run_lock_path(locks_dir, run_id)
    return acquire_at(path, f"run {run_id}", run_id, operator=operator, break_lock=True)


def acquire_at(
    path: Path,
    what: str,
    run_id: str,
    *,
    operator: str,
    break_lock: bool = False,
    reclaim: bool = False,
) -> FileLock:
    locks_dir = path.parent
    ensure_dir(locks_dir)
    broken: LockInfo | None = None
    with _guard(locks_dir):
        try:
            fd = _create(path)
        except FileExistsError:
            holder, stale = inspect(path)
            own = reclaim and holder is not None and holder.run_id == run_id
            if not (stale and (break_lock or own)):
                raise LockHeld(
                    _held_message(what, path, holder, stale),
                    holder_run_id=holder.run_id if holder is not None else None,
                    stale=stale,
                ) from None
            broken = holder
            os.replace(path, path.with_name(path.name + ".broken"))
            fsync_dir(locks_dir)
            fd = _create(path)
        info = LockInfo(
            run_id=run_id,
            operator=operator,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=utc_now(),
        )
        try:
            write_all(fd, json.dumps(dataclasses.asdict(info)).encode("utf-8"))
            os.fsync(fd)
            fsync_dir(locks_dir)
        except OSError:
            os.unlink(path)
            os.close(fd)
            raise
        return FileLock(path, fd, info, broken)


def _create(path: Path) -> int:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    # Never blocks: the file is brand new and the guard keeps others out.
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def read_info(path: Path) -> LockInfo | None:
    """The LockInfo in a lock file, or None when it is missing or unreadable."""
    try:
        raw = json.loads(_read_regular(path))
        return LockInfo(
            run_id=str(raw["run_id"]),
            operator=str(raw["operator"]),
            host=str(raw["host"]),
            pid=int(raw["pid"]),
            started=str(raw["started"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_regular(path: Path) -> bytes:
    """A lock file's bytes; OSError when it is not a small regular file (see ocsrun.safe_io)."""
    return safe_io.read_regular(path, MAX_LOCK_BYTES, follow_symlinks=False)


def inspect(path: Path) -> tuple[LockInfo | None, bool]:
    """(holder, stale) for an existing lock file. Call under the guard."""
    holder = read_info(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        return holder, True
    except OSError:
        # A symlink or something else planted where a lock belongs: not ours to take over.
        return holder, False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        # Someone holds the flock. A holder on this host whose pid is gone can
        # only mean a child inherited the descriptor: the run itself is over.
        dead_here = (
            holder is not None and holder.host == socket.gethostname() and not pid_alive(holder.pid)
        )
        return holder, dead_here
    else:
        return holder, True
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held_message(what: str, path: Path, holder: LockInfo | None, stale: bool) -> str:
    if holder is None:
        who = f"an unreadable lock file {path}"
    else:
        who = (
            f"run {holder.run_id} (operator {holder.operator}, pid {holder.pid} "
            f"on {holder.host}, started {holder.started})"
        )
    if stale:
        return (
            f"{what} is locked by {who}, but that process is gone: the lock is stale; "
            "resume that run, or abandon it with --break-lock"
        )
    return (
        f"{what} is locked by {who}, which is still running; "
        "--break-lock can take over only a stale lock (one whose process is gone)"
    )


@contextlib.contextmanager
def _guard(locks_dir: Path) -> Iterator[None]:
    flags = os.O_CREAT | os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(locks_dir / ".guard", flags, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
