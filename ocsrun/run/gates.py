"""Evaluating the gates that need more than an answer: time windows, evidence files, commands.

`in_window` is pure (given a datetime). Evidence and commands touch the outside
world and live behind `GateRunner` so the executor's tests inject a fake.

Bounded cost of evidence regexes: the file must be a regular file no larger than
the gate's `max_bytes`, text without NUL bytes; lines longer than
`MAX_LINE_CHARS` are checked on their first `MAX_LINE_CHARS` characters only;
and each check has `CHECK_BUDGET` seconds for the whole file (a timeout fails the
gate). With the `regex` module each search gets what is left of the budget as its
own timeout; without it (it is optional), standard `re` cannot be interrupted, so
the check runs in a forked child that is killed when the budget is spent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from time import monotonic
from typing import Any, Protocol

from ocsrun.runbook import model as m
from ocsrun.sanitize import clean_line

MAX_LINE_CHARS = 4096
REGEX_TIMEOUT = 2.0  # one search, at most
CHECK_BUDGET = 5.0  # one check over the whole file, whatever the engine
DECISIVE_LINES = 20  # lines kept per check as the reason a gate passed or failed
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- time windows ------------------------------------------------------------


def _hhmm(text: str) -> time:
    hours, minutes = text.strip().split(":")
    return time(int(hours), int(minutes))


def in_window(gate: m.Gate, now: datetime) -> bool:
    """Whether `now` (timezone-aware) falls in any of the gate's windows."""
    local = _local(now, gate.timezone)
    return any(_matches(window, local) for window in gate.windows) if gate.windows else True


def _local(now: datetime, zone: str | None) -> datetime:
    if zone is None:
        return now.astimezone()
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(zone))


def _matches(window: m.TimeWindow, local: datetime) -> bool:
    day = DAYS[local.weekday()]
    if window.hours is None:
        return not window.days or day in window.days
    start_text, end_text = window.hours.split("-")
    start, end, clock = _hhmm(start_text), _hhmm(end_text), local.time().replace(tzinfo=None)
    if start <= end:
        return (not window.days or day in window.days) and start <= clock < end
    # Wrapping midnight: the part after midnight belongs to the window that began the day before,
    # so "sat 20:00-06:00" covers Saturday evening and early Sunday.
    if clock >= start:
        return not window.days or day in window.days
    if clock < end:
        yesterday = DAYS[(local.weekday() - 1) % 7]
        return not window.days or yesterday in window.days
    return False


def local_time_text(now: datetime, zone: str | None) -> str:
    local = _local(now, zone)
    return f"{DAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


# --- evidence ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    ok: bool
    path: str
    size: int = 0
    sha256: str = ""
    lines: tuple[str, ...] = ()  # decisive lines, "N: text", for the journal
    failures: tuple[str, ...] = ()  # one line per failed check, for the operator

    def as_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "lines": list(self.lines),
        }


class EvidenceRefused(Exception):
    """The file is not something we read (a FIFO, a device, too large, binary)."""


def read_evidence(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing anything that is not a small regular text file."""
    try:
        # O_NONBLOCK: opening a FIFO must not hang waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise EvidenceRefused(f"cannot open {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EvidenceRefused(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise EvidenceRefused(f"{path} is {info.st_size} bytes, over the limit of {max_bytes}")
        data = _read_at_most(fd, max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise EvidenceRefused(f"{path} grew past the limit of {max_bytes} bytes while read")
    if b"\x00" in data:
        raise EvidenceRefused(f"{path} is binary (contains NUL bytes), not a text log")
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 16, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def check_evidence(gate: m.Gate, path: Path) -> EvidenceResult:
    try:
        data = read_evidence(path, gate.max_bytes)
    except EvidenceRefused as refused:
        return EvidenceResult(False, str(path), failures=(str(refused),))
    digest = hashlib.sha256(data).hexdigest()
    lines = data.decode("utf-8", errors="replace").splitlines()
    passed: list[str] = []
    failed: list[str] = []
    failures: list[str] = []
    for check in gate.checks:
        try:
            ok, hits = _run_check(check, lines)
        except TimeoutError:
            ok, hits = False, []
            failures.append(f"{_label(check)}: the pattern took too long on this file")
        else:
            if not ok:
                failures.append(_label(check))
        (passed if ok else failed).extend(hits)
    # A failed file is explained by the lines of the checks that failed, not the others.
    decisive = failed if failures else passed
    return EvidenceResult(
        not failures,
        str(path),
        len(data),
        digest,
        tuple(dict.fromkeys(decisive)),
        tuple(failures),
    )


def _label(check: m.EvidenceCheck) -> str:
    if check.description:
        return check.description
    if check.kind == "each":
        return f"every line matching {check.pattern!r} must match {check.must!r}"
    return f"{check.kind} {check.pattern!r}"


def _run_check(check: m.EvidenceCheck, lines: list[str]) -> tuple[bool, list[str]]:
    """(passed, decisive lines); TimeoutError when the check's budget is spent."""
    if _regex_module() is None and hasattr(os, "fork"):
        return _run_check_in_child(check, lines, CHECK_BUDGET)
    return _run_check_here(check, lines, monotonic() + CHECK_BUDGET)


def _run_check_here(
    check: m.EvidenceCheck, lines: list[str], deadline: float | None
) -> tuple[bool, list[str]]:
    """(passed, decisive lines). Decisive = what proves the result either way."""
    hits = _hits(_searcher(check.pattern, deadline), lines)
    if check.kind == "require":
        ok = bool(hits)
    elif check.kind == "forbid":
        ok = not hits
    else:
        must = _searcher(check.must or "", deadline)
        bad = [(n, text) for n, text in hits if not must(text)]
        ok = bool(hits) and not bad
        hits = bad or hits
    return ok, [f"{n}: {clean_line(text)}" for n, text in hits[:DECISIVE_LINES]]


def _run_check_in_child(
    check: m.EvidenceCheck, lines: list[str], budget: float
) -> tuple[bool, list[str]]:
    """The check in a forked child, killed when the budget is spent.

    Standard `re` holds the GIL for a whole match and has no timeout: only another
    process can be stopped in the middle of a catastrophic backtrack. Fork shares the
    lines copy-on-write; only the small result comes back, pickled, through a pipe.
    """
    import pickle
    import select
    import signal

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: match, report, and leave without the parent's exit handlers
        status = 0
        try:
            os.close(read_fd)
            try:
                outcome: tuple[str, Any] = ("ok", _run_check_here(check, lines, None))
            except Exception as error:  # reported to the parent, which raises it there
                outcome = ("error", f"{type(error).__name__}: {error}")
            with os.fdopen(write_fd, "wb") as out:
                out.write(pickle.dumps(outcome))
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    chunks: list[bytes] = []
    try:
        deadline = monotonic() + budget
        while True:
            left = deadline - monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                raise TimeoutError(f"evidence check over {budget:g}s")
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        # Killed before it is reaped, so the pid cannot have been reused; a no-op if it ended.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError("the evidence check stopped without a result")
    kind, value = pickle.loads(b"".join(chunks))  # our own child's bytes, nothing external
    if kind == "error":
        raise RuntimeError(str(value))
    ok, decisive = value
    return bool(ok), [str(line) for line in decisive]


def _hits(search: Callable[[str], bool], lines: list[str]) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(lines, 1):
        text = line[:MAX_LINE_CHARS]
        if search(text):
            found.append((number, text))
    return found


def _searcher(pattern: str, deadline: float | None) -> Callable[[str], bool]:
    engine = _regex_module()
    if engine is not None:
        compiled = engine.compile(pattern)

        def search(text: str) -> bool:
            # Each search gets what is left of the check's budget, at most REGEX_TIMEOUT.
            left = REGEX_TIMEOUT if deadline is None else deadline - monotonic()
            if left <= 0:
                raise TimeoutError("evidence check over its budget")
            return compiled.search(text, timeout=min(left, REGEX_TIMEOUT)) is not None

        return search
    import re

    plain = re.compile(pattern)
    return lambda text: plain.search(text) is not None


def _regex_module() -> Any:
    try:
        import importlib

        return importlib.import_module("regex")
    except ImportError:
        return None


# --- commands ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None: could not start, or killed at the timeout
    output: str  # stdout+stderr, bounded and cleaned
    timed_out: bool = False
    error: str = ""  # why it could not start
    truncated: bool = False

    def as_data(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "exit": self.exit_code,
            "timed_out": self.timed_out,
            "error": self.error,
            "output": self.output,
            "truncated": self.truncated,
        }


MINIMAL_ENV_KEYS = ("PATH", "LANG")


def run_command(argv: tuple[str, ...], timeout: float, max_output: int) -> CommandResult:
    """Run argv (no shell) in its own session; kill the whole group at the timeout."""
    import signal
    import subprocess
    import time

    env = {k: os.environ[k] for k in MINIMAL_ENV_KEYS if k in os.environ}
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        return CommandResult(argv, None, "", error=f"cannot run {argv[0]}: {error.strerror}")
    deadline = time.monotonic() + timeout
    try:
        assert child.stdout is not None
        kept, truncated, timed_out = _drain(child.stdout.fileno(), deadline, max_output)
        if not timed_out:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        # The group may outlive the leader (a daemonised grandchild): kill it either way.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    from ocsrun.sanitize import clean

    output = clean(kept.decode("utf-8", errors="replace"))
    code = None if timed_out else child.returncode
    return CommandResult(argv, code, output, timed_out=timed_out, truncated=truncated)


def _drain(fd: int, deadline: float, max_output: int) -> tuple[bytes, bool, bool]:
    """Read a pipe to its end or the deadline, keeping max_output bytes and dropping the rest.

    Returns (kept, truncated, timed_out). A pipe, not a file: a command that writes
    gigabytes costs nothing but the reading, never disk space.
    """
    import selectors
    import time

    kept = bytearray()
    seen = 0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(kept), seen > max_output, True
            if not selector.select(left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return bytes(kept), seen > max_output, False
            seen += len(chunk)
            if len(kept) < max_output:
                kept += chunk[: max_output - len(kept)]


# --- the seam the executor uses -------------------------------------------------


class GateRunner(Protocol):
    def evidence(self, gate: m.Gate, path: Path) -> EvidenceResult: ...

    def command(self, gate: m.Gate, argv: tuple[str, ...]) -> CommandResult: ...


@dataclass
class LocalGateRunner:
    """Reads real files and runs real commands."""

    commands_run: list[tuple[str, ...]] = field(default_factory=list)

    def evidence(self, gate: m.Gate, path: Path) -> EvidenceResult:
        return check_evidence(gate, path)

    def command(self, gate: m.Gate, argv: tuple[str, ...]) -> CommandResult:
        self.commands_run.append(argv)
        return run_command(argv, gate.timeout_seconds, gate.max_output)
