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
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from typing import Any

from ocsrun.run.evidence_readers import (
    EvidenceDocument,
    UnreadableEvidence,
    read_document,
    row_line,
)
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
    failures: tuple[str, ...] = ()  # one line per failed check that refuses the file
    confirmable: tuple[str, ...] = ()  # failed checks the operator may confirm with a reason
    unreadable: bool = False  # not a file we can read at all: ask for another, not a failure
    mtime: float | None = None  # seconds since the epoch
    kind: str = ""  # html | tsv | csv | text
    encoding: str = ""

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "lines": list(self.lines),
        }
        if self.mtime is not None:
            data["mtime"] = mtime_text(self.mtime)
        if self.kind:
            data["reader"] = {"kind": self.kind, "encoding": self.encoding}
        return data


def typed_path(answer: str) -> str:
    """What the operator meant: spaces and one pair of surrounding quotes off (Windows
    "Copy as path" adds double quotes), `~` expanded."""
    text = answer.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in {'"', "'"}:
        text = text[1:-1].strip()
    return os.path.expanduser(text) if text else ""


def mtime_text(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class EvidenceRefused(Exception):
    """The file is not something we read (a FIFO, a device, too large, binary)."""


def read_evidence(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing anything that is not a small regular file."""
    return read_evidence_with_time(path, max_bytes)[0]


def read_evidence_with_time(path: Path, max_bytes: int) -> tuple[bytes, float]:
    """The file's bytes and its modification time, read through one open descriptor."""
    from ocsrun import safe_io

    try:
        fd = safe_io.open_regular(path)
        try:
            mtime = os.fstat(fd).st_mtime
            data = safe_io.read_fd(fd, path, max_bytes)
        finally:
            os.close(fd)
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
    return data, mtime


def check_evidence(gate: m.Gate, path: Path) -> EvidenceResult:
    """Read the file with the reader its content calls for, then run every check on it.

    The gate's check patterns must already be rendered (`gatestep` binds them to the run).
    """
    try:
        data, mtime = read_evidence_with_time(path, gate.max_bytes)
    except EvidenceRefused as refused:
        return EvidenceResult(False, str(path), failures=(str(refused),), unreadable=True)
    digest = hashlib.sha256(data).hexdigest()
    try:
        document = read_document(data)
    except UnreadableEvidence as unreadable:
        return EvidenceResult(
            False,
            str(path),
            len(data),
            digest,
            failures=(f"{path}: {unreadable}",),
            unreadable=True,
            mtime=mtime,
        )
    passed: list[str] = []
    failed: list[str] = []
    failures: list[str] = []
    confirmable: list[str] = []
    for check in gate.checks:
        try:
            ok, hits, why = _run_check(check, document)
        except TimeoutError:
            ok, hits, why = False, [], "the pattern took too long on this file"
        if not ok:
            label = f"{_label(check).rstrip('.')} — {why}" if why else _label(check)
            (confirmable if check.otherwise == "confirm" else failures).append(label)
        (passed if ok else failed).extend(hits)
    # A failed file is explained by the lines of the checks that failed, not the others.
    decisive = failed if failures or confirmable else passed
    return EvidenceResult(
        not failures and not confirmable,
        str(path),
        len(data),
        digest,
        tuple(dict.fromkeys(decisive)),
        tuple(failures),
        tuple(confirmable),
        mtime=mtime,
        kind=document.kind,
        encoding=document.encoding,
    )


def _label(check: m.EvidenceCheck) -> str:
    if check.description:
        return check.description
    if check.kind == "each":
        return f"every line matching {check.pattern!r} must match {check.must!r}"
    if check.kind == "column":
        return f"every {check.column!r} cell must match {check.must!r}"
    return f"{check.kind} {check.pattern!r}"


Outcome = tuple[bool, list[str], str]  # passed, decisive lines, why it failed ("" if obvious)


def _run_check(check: m.EvidenceCheck, document: EvidenceDocument) -> Outcome:
    """(passed, decisive lines, why); TimeoutError when the check's budget is spent."""
    if _regex_module() is None and hasattr(os, "fork"):
        return _run_check_in_child(check, document, CHECK_BUDGET)
    return _run_check_here(check, document, monotonic() + CHECK_BUDGET)


def _run_check_here(
    check: m.EvidenceCheck, document: EvidenceDocument, deadline: float | None
) -> Outcome:
    """Decisive = what proves the result either way."""
    if check.kind == "column":
        return _column_check(check, document, deadline)
    lines = list(document.lines)
    hits = _hits(_searcher(check.pattern, deadline), lines)
    why = ""
    if check.kind == "require":
        ok = bool(hits)
    elif check.kind == "forbid":
        ok = not hits
    else:
        must = _searcher(check.must or "", deadline)
        bad = [(n, text) for n, text in hits if not must(text)]
        ok = bool(hits) and not bad
        why = "" if hits else "no line to check"
        hits = bad or hits
    return ok, [f"{n}: {clean_line(text)}" for n, text in hits[:DECISIVE_LINES]], why


def _column_check(
    check: m.EvidenceCheck, document: EvidenceDocument, deadline: float | None
) -> Outcome:
    """Every data row's cell in the named column matches `must`; at least `min_rows` rows."""
    must = _searcher(check.must or "", deadline)
    rows: list[tuple[int, str, str]] = []  # (row number, cell, the row as a line)
    number = 0
    for table in document.tables:
        index = table.column(check.column)
        if index is None:
            continue
        for row in table.rows:
            number += 1
            cell = row[index] if index < len(row) else ""
            rows.append((number, cell, row_line(table.headers, row)))
    if not rows:
        if any(t.column(check.column) is not None for t in document.tables):
            why = f"no data rows under {check.column!r} (header rows are not tasks)"
        else:
            why = f"no table has a column named {check.column!r}"
        return check.min_rows == 0, [], why
    bad = [(n, line) for n, cell, line in rows if not must(cell[:MAX_LINE_CHARS])]
    decisive = bad or [(n, line) for n, _, line in rows]
    shown = [f"row {n}: {clean_line(line)}" for n, line in decisive[:DECISIVE_LINES]]
    if len(rows) < check.min_rows:
        return False, shown, f"{len(rows)} data row(s), at least {check.min_rows} needed"
    if bad:
        return False, shown, f"{len(bad)} of {len(rows)} row(s) do not match"
    return True, shown, ""


def _run_check_in_child(
    check: m.EvidenceCheck, document: EvidenceDocument, budget: float
) -> Outcome:
    """The check in a forked child, killed when the budget is spent.

    Standard `re` holds the GIL for a whole match and has no timeout: only another
    process can be stopped in the middle of a catastrophic backtrack. Fork shares the
    document copy-on-write; only the small result comes back, pickled, through a pipe.
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
                outcome: tuple[str, Any] = ("ok", _run_check_here(check, document, None))
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
    ok, decisive, why = value
    return bool(ok), [str(line) for line in decisive], str(why)


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
