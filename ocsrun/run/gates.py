"""Evaluating the gates that need more than an answer: time windows and commands.

`in_window` is pure (given a datetime). Evidence files (`ocsrun.run.evidence`) and
commands touch the outside world and live behind `GateRunner` so the executor's
tests inject a fake.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ocsrun.runbook import model as m

if TYPE_CHECKING:
    # Imported when an evidence gate is checked: a session that reaches none pays nothing.
    from ocsrun.run.evidence import EvidenceResult

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- time windows ------------------------------------------------------------


def _hhmm(text: str) -> time:
    hours, minutes = text.strip().split(":")
    return time(int(hours), int(minutes))


# `timezone: ask` on a time_window gate: the window is in the users' zone, which the runbook
# cannot know; the run takes it from --tz (or the answers file) or asks for it at the start.
ASK_ZONE = "ask"


def window_zone(gate: m.Gate, run_zone: str | None) -> str | None:
    """The zone a gate's window is judged in: its own, else the run's (None: this machine's)."""
    if gate.timezone and gate.timezone != ASK_ZONE:
        return gate.timezone
    return run_zone


def zone_label(zone: str | None) -> str:
    """A zone as journaled and shown: never None, so a report says which clock was used."""
    if zone:
        return zone
    return f"local:{datetime.now().astimezone().tzname() or 'unknown'}"


def in_window(gate: m.Gate, now: datetime, zone: str | None = None) -> bool:
    """Whether `now` (timezone-aware) falls in any of the gate's windows, judged in `zone`
    (default: the gate's own zone, else this machine's local time)."""
    local = _local(now, zone if zone is not None else window_zone(gate, None))
    return any(_matches(window, local) for window in gate.windows) if gate.windows else True


def next_opening(gate: m.Gate, now: datetime, zone: str | None) -> datetime | None:
    """When the window next opens after `now` (None when it never does within a week).

    A window opens at the start of one of its entries (their hours, or midnight for a
    day-only entry): those instants over the coming eight days are the only candidates.
    """
    from datetime import timedelta

    local = _local(now, zone)
    candidates = []
    for offset in range(9):
        day = (local + timedelta(days=offset)).date()
        for window in gate.windows:
            start = _hhmm(window.hours.split("-")[0]) if window.hours else time(0, 0)
            at = datetime.combine(day, start, tzinfo=local.tzinfo)
            # A wall-clock time in a zone with DST: normalise through UTC and back.
            at = _local(at, zone)
            if at > now and in_window(gate, at, zone):
                candidates.append(at)
    return min(candidates) if candidates else None


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
    except ValueError:  # a NUL byte in an argument (from a param's value): no program gets it
        return CommandResult(argv, None, "", error="cannot run: an argument holds a NUL byte")
    deadline = time.monotonic() + timeout
    try:
        assert child.stdout is not None
        kept, truncated, timed_out = _drain(child, child.stdout.fileno(), deadline, max_output)
    finally:
        # The group may outlive the leader (a daemonised grandchild still holding the pipe):
        # kill it either way.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    from ocsrun.sanitize import clean

    output = clean(kept.decode("utf-8", errors="replace"))
    code = None if timed_out else child.returncode
    return CommandResult(argv, code, output, timed_out=timed_out, truncated=truncated)


# After the command exits, what it wrote is read for at most this long: a daemon it left
# behind may hold the pipe open (and keep writing) forever.
EXIT_GRACE = 0.2
# How often the command is polled while its output is quiet.
POLL_INTERVAL = 0.05


def _exited(pid: int) -> bool:
    """Whether the command has exited, without reaping it: its pid (the process group's id)
    stays reserved until the group is killed and the command waited for."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _drain(child: Any, fd: int, deadline: float, max_output: int) -> tuple[bytes, bool, bool]:
    """Read a pipe until the command exits (then what is already written, briefly), or the
    deadline, keeping max_output bytes and dropping the rest.

    Returns (kept, truncated, timed_out). A pipe, not a file: a command that writes
    gigabytes costs nothing but the reading, never disk space. Not to the pipe's end: a
    daemon the command started inherits the pipe and would hold it open past the command.
    """
    import selectors
    import time

    kept = bytearray()
    seen = 0
    stop_at: float | None = None  # set when the command has exited
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if stop_at is None and _exited(child.pid):
                stop_at = min(deadline, now + EXIT_GRACE)
            end = deadline if stop_at is None else stop_at
            if now >= end:
                return bytes(kept), seen > max_output, stop_at is None
            wait = min(end - now, POLL_INTERVAL) if stop_at is None else 0.0
            if not selector.select(wait):
                if stop_at is not None:  # exited, and nothing more is waiting in the pipe
                    return bytes(kept), seen > max_output, False
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # every writer closed the pipe; the command may still be running
                while stop_at is None and not _exited(child.pid):
                    if time.monotonic() >= deadline:
                        return bytes(kept), seen > max_output, True
                    time.sleep(POLL_INTERVAL)
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
        from ocsrun.run.evidence import check_evidence

        return check_evidence(gate, path)

    def command(self, gate: m.Gate, argv: tuple[str, ...]) -> CommandResult:
        self.commands_run.append(argv)
        return run_command(argv, gate.timeout_seconds, gate.max_output)
