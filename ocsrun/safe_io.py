"""Reading files we did not write ourselves: regular files only, never blocking, bounded.

One helper for every place that reads a file a user (or an attacker with write access to a
directory) could have replaced: runbooks and fragments, evidence files named at a gate, the
run store's own files and lock files.

* The open is non-blocking, so a FIFO planted where a file belongs returns at once instead of
  waiting for a writer; the check is made on the open descriptor (`fstat`), so a FIFO or device
  swapped in after a check by name is refused too (a symlink to /dev/zero would otherwise be
  read without end).
* `follow_symlinks=False` refuses a symlink as the last path component (O_NOFOLLOW): the run
  store reads its own files that way, so a link planted in the state directory cannot send a
  read (or a later append) elsewhere.
* At most `limit` bytes are read; one byte more is attempted so a file that grew since the
  `fstat` is still caught.

Errors are `OSError` subclasses (`NotRegularFile`, `TooLarge`, or the system's own), so each
caller words them in its own terms (a load error with a position, a refused evidence file, a
state error) without a second copy of the checks.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# Keeps a descriptor from becoming the controlling terminal when a tty is opened by name.
_BASE_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a directory or a socket, not a regular file."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", str(path))


class SymlinkRefused(OSError):
    """The path is a symbolic link and the caller reads without following links."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.ELOOP, "a symbolic link, not a regular file", str(path))


class TooLarge(OSError):
    """The file is larger than the caller's limit; `size` is None when it grew while read."""

    def __init__(self, path: Path | str, limit: int, size: int | None) -> None:
        what = f"{size} bytes" if size is not None else "grew"
        super().__init__(errno.EFBIG, f"file is over the limit of {limit} bytes ({what})")
        self.path = str(path)
        self.limit = limit
        self.size = size


def open_regular(path: Path | str, *, follow_symlinks: bool = True) -> int:
    """A read-only descriptor on `path`, which must be a regular file.

    Raises FileNotFoundError (and other OSErrors) as the system gives them, SymlinkRefused for
    a link when `follow_symlinks` is False, NotRegularFile for anything but a regular file.
    """
    flags = _BASE_FLAGS if follow_symlinks else _BASE_FLAGS | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP and not follow_symlinks and os.path.islink(path):
            raise SymlinkRefused(path) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_fd(fd: int, path: Path | str, limit: int) -> bytes:
    """At most `limit` bytes from an open regular file; TooLarge beyond that."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise TooLarge(path, limit, size)
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise TooLarge(path, limit, None)
    return b"".join(chunks)


def read_regular(path: Path | str, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see the module docstring)."""
    fd = open_regular(path, follow_symlinks=follow_symlinks)
    try:
        return read_fd(fd, path, limit)
    finally:
        os.close(fd)
