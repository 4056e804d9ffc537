"""Typed errors a user can cause, each carrying where it happened.

Exit codes are decided here and only here (`exit_code_for`), so every command
maps the same failure to the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1  # validation errors, failed verification, a run that ended failed
EXIT_USAGE = 2  # bad arguments, unreadable input, no terminal and no answers file
EXIT_LOCKED = 3  # another run holds the lock for this runbook and target
EXIT_ABORTED = 4  # the operator aborted the run
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a file. Lines and columns are 1-based; 0 means unknown."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        from ocsrun.sanitize import visible

        # A file name may hold a newline (and then `::error ...`, which a CI log would run as a
        # workflow command) or invisible characters: shown escaped, on one line.
        path = visible(self.path)
        if self.line and self.col:
            return f"{path}:{self.line}:{self.col}"
        if self.line:
            return f"{path}:{self.line}"
        return path


class OcsrunError(Exception):
    """Base of every error a user can cause. Printed as one line, never a traceback."""

    exit_code = EXIT_USAGE
    rule = "error"

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is not None:
            return f"{self.position}: {self.message}"
        return self.message


class UsageError(OcsrunError):
    """Bad arguments or an unreadable path."""


class LoadError(OcsrunError):
    """A file could not be read as a YAML document we accept."""

    exit_code = EXIT_FINDINGS

    def __init__(self, message: str, position: Position | None = None, rule: str = "yaml-syntax"):
        super().__init__(message, position)
        self.rule = rule


class RunbookInvalid(OcsrunError):
    """A runbook failed validation; carries the diagnostics."""

    exit_code = EXIT_FINDINGS
    rule = "invalid"

    def __init__(
        self, message: str, diagnostics: tuple[object, ...] = (), position: Position | None = None
    ):
        super().__init__(message, position)
        self.diagnostics = diagnostics


class DocumentError(UsageError):
    """An edit of a runbook document that cannot be made: no step at that path, a step path
    that goes into a fragment, a step that is not a mapping."""


class RunbookNotFound(UsageError):
    """Neither a path nor a bundled runbook id."""


class ParamError(UsageError):
    """A --param value does not fit its declared type."""


class AnswersError(UsageError):
    """An answers file is malformed or has no answer for a question asked."""


class ZoneNotGiven(AnswersError):
    """A run without a terminal needs the users' time zone (a `timezone: ask` window) and
    neither --tz nor the answers file gives it: never guessed from this machine's clock."""


class NoOperatorInput(UsageError):
    """No terminal and no answers file, or end of input at a prompt."""


class StateError(OcsrunError):
    """A run directory or journal is missing, unreadable or inconsistent."""

    exit_code = EXIT_FINDINGS


class JournalCorrupt(StateError):
    """The journal's hash chain or records do not verify."""


class LockHeld(OcsrunError):
    """Another run (or session of the same run) holds a lock.

    `holder_run_id` names the holding run when known; `stale` says its process is gone, so
    the caller can point to `ocsrun resume` for that run instead of a new one.
    """

    exit_code = EXIT_LOCKED

    def __init__(
        self, message: str, *, holder_run_id: str | None = None, stale: bool = False
    ) -> None:
        super().__init__(message)
        self.holder_run_id = holder_run_id
        self.stale = stale


class LockLost(OcsrunError):
    """A lock this session held was removed or taken over: the run stops before its next step."""

    exit_code = EXIT_LOCKED


class SnapshotMismatch(OcsrunError):
    """The runbook on disk changed since the run started."""

    exit_code = EXIT_FINDINGS


class RunAborted(OcsrunError):
    """The operator chose to abort."""

    exit_code = EXIT_ABORTED


class Interrupted(OcsrunError):
    """Ctrl-C at a prompt."""

    exit_code = EXIT_INTERRUPTED


class RunFailed(OcsrunError):
    """A run stopped on a failure no check foresaw; journaled, so it is not left running."""

    exit_code = EXIT_FINDINGS


class StorageFull(StateError):
    """Writing a journal record failed (disk full, I/O error); nothing partial was kept."""


class StoreUnavailable(StateError):
    """The run store cannot be reached, or the connection to it was lost mid-run."""


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, OcsrunError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_USAGE
