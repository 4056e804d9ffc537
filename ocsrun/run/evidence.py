"""Evidence gates: reading the operator's file safely and running the runbook's checks on it.

Split from `gates` so that evidence (files, readers, checks) and commands (processes) can
change independently.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

from ocsrun.runbook import model as m
from ocsrun.sanitize import clean_line

MAX_LINE_CHARS = 4096
REGEX_TIMEOUT = 2.0  # one search, at most
CHECK_BUDGET = 5.0  # one check over the whole file, whatever the engine
DECISIVE_LINES = 20  # lines kept per check as the reason a gate passed or failed


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
    from ocsrun import safe_io

    try:
        data = safe_io.read_regular(path, max_bytes)
    except safe_io.NotRegularFile:
        raise EvidenceRefused(f"{path} is not a regular file") from None
    except safe_io.TooLarge as error:
        if error.size is None:
            raise EvidenceRefused(
                f"{path} grew past the limit of {max_bytes} bytes while read"
            ) from None
        raise EvidenceRefused(
            f"{path} is {error.size} bytes, over the limit of {max_bytes}"
        ) from None
    except OSError as error:
        raise EvidenceRefused(f"cannot open {path}: {error.strerror}") from None
    except ValueError:  # a NUL byte in the path: no file can have that name
        raise EvidenceRefused("cannot open the file: its path holds a NUL byte") from None
    if b"\x00" in data:
        raise EvidenceRefused(f"{path} is binary (contains NUL bytes), not a text log")
    return data


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
