"""Verifying a journal: every record and the whole hash chain, each problem named once.

Used by every run store's `verify` (the local store feeds its file's lines, the team store
its rows'), on top of the record format of ocsrun.store.journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ocsrun.store import journal
from ocsrun.store.protocol import TORN_TAIL, Record, VerifyProblem


@dataclass(slots=True)
class _Seen:
    seq: int
    line: int
    # Stored and recomputed hash (either may be what the next `prev` names);
    # None when the line was unreadable, so the next link cannot be checked.
    hashes: frozenset[str] | None


class Verifier:
    """Checks every record and the whole chain, naming each problem once.

    Feed lines in order with `feed`, then call `finish`. Holds one small entry
    per record (seq -> line), not the records.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self.problems: list[VerifyProblem] = []
        self.records = 0
        self.head: str | None = None  # the stored hash of the last record read
        self._key = key
        self._last: _Seen | None = None
        self._lines: dict[int, int] = {}  # seq -> first line it appeared on
        self._missing: dict[int, int] = {}  # seq skipped -> line where the gap shows

    def _problem(self, seq: int | None, line: int, kind: str, message: str) -> None:
        self.problems.append(VerifyProblem(seq, line, kind, message))

    def feed(self, line: int, raw: bytes, is_last: bool) -> None:
        if journal.is_overlong(raw):
            self._problem(None, line, journal.OVERLONG, journal.overlong_message())
            self._skip_unreadable(line)
            return
        if journal.is_torn(raw, is_last):
            self._problem(
                None,
                line,
                TORN_TAIL,
                f"last line is incomplete ({len(raw)} bytes): a write cut off by a crash; "
                "it is not a record and is set aside on the next append",
            )
            return
        try:
            obj = journal.parse_json(raw.rstrip(b"\n"))
        except journal.RecordError as error:
            self._problem(None, line, journal.BAD_JSON, f"line is not a record: {error}")
            self._skip_unreadable(line)
            return
        try:
            record = journal.to_record(obj)
        except journal.RecordError as error:
            seq = obj.get("seq")
            self._problem(
                seq if isinstance(seq, int) else None, line, journal.BAD_RECORD, str(error)
            )
            self._skip_unreadable(line)
            return
        self.records += 1
        self.head = record.hash
        self._check(line, record)

    def _skip_unreadable(self, line: int) -> None:
        # Assume the damaged line held the next record, so the records after it
        # are not reported again as a gap or a chain break.
        expected_seq = self._last.seq + 1 if self._last else 1
        self._last = _Seen(expected_seq, line, None)

    def _check(self, line: int, record: Record) -> None:
        actual = journal.computed_hash(record, self._key)
        expected_seq = self._last.seq + 1 if self._last else 1
        if actual != record.hash:
            self._problem(
                record.seq,
                line,
                journal.HASH_MISMATCH,
                f"stored hash {record.hash[:12]}… but the content hashes to {actual[:12]}…: "
                "the record was altered",
            )
            # Count it in the position it occupies so one edited byte (even in
            # seq or prev) is reported once, not again as a gap or chain break.
            self._advance(expected_seq, line, frozenset({record.hash, actual}))
            return
        if record.seq in self._lines:
            first = self._lines[record.seq]
            self._problem(
                record.seq,
                line,
                journal.DUPLICATE_SEQ,
                f"seq {record.seq} already appeared on line {first}",
            )
            return
        if record.seq < expected_seq:
            self._out_of_order(line, record)
            return
        self._check_link(line, record, expected_seq)
        self._advance(record.seq, line, frozenset({record.hash}))

    def _out_of_order(self, line: int, record: Record) -> None:
        # A seq lower than expected and never seen fills an earlier gap.
        gap_line = self._missing.pop(record.seq, None)
        after = f" (expected at line {gap_line})" if gap_line else ""
        last_seq = self._last.seq if self._last else 0
        self._problem(
            record.seq,
            line,
            journal.REORDERED,
            f"seq {record.seq} comes after seq {last_seq}{after}: records were reordered",
        )
        self._lines[record.seq] = line

    def _check_link(self, line: int, record: Record, expected_seq: int) -> None:
        if record.seq > expected_seq:
            # Reported at the end unless a later out-of-order line fills it.
            for missing in range(expected_seq, record.seq):
                self._missing[missing] = line
            return
        last_hashes = self._last.hashes if self._last else frozenset({journal.GENESIS})
        if last_hashes is not None and record.prev not in last_hashes:
            before = f"seq {self._last.seq}" if self._last else "the start"
            self._problem(
                record.seq,
                line,
                journal.CHAIN_BREAK,
                f"prev {record.prev[:12]}… is not the hash of {before}: "
                "a record before it was replaced or removed",
            )

    def _advance(self, seq: int, line: int, hashes: frozenset[str] | None) -> None:
        self._lines.setdefault(seq, line)
        self._last = _Seen(seq, line, hashes)

    def finish(self) -> list[VerifyProblem]:
        for run in _runs(sorted(self._missing)):
            line = self._missing[run[0]]
            span = f"seq {run[0]}" if len(run) == 1 else f"seqs {run[0]}-{run[-1]}"
            self._problem(
                run[-1] + 1,
                line,
                journal.SEQ_GAP,
                f"{span} missing before this line: records were deleted",
            )
        self.problems.sort(key=lambda p: (p.line, p.kind))
        self._missing.clear()
        return self.problems


def _runs(numbers: list[int]) -> Iterator[list[int]]:
    run: list[int] = []
    for number in numbers:
        if run and number != run[-1] + 1:
            yield run
            run = []
        run.append(number)
    if run:
        yield run


def verify_lines(lines: Iterable[bytes]) -> tuple[int, list[VerifyProblem]]:
    """Verify a journal given as raw lines (newlines kept). Returns (records, problems)."""
    checked = verify_chain(lines)
    return checked.records, checked.problems


def verify_chain(lines: Iterable[bytes], key: bytes | None = None) -> Verifier:
    """Verify a journal given as raw lines; the finished Verifier holds records, problems
    and the head (the last record's hash). With `key`, hashes are HMAC-SHA256 under it."""
    verifier = Verifier(key)
    line_no = 0
    pending: bytes | None = None
    for raw in lines:
        if pending is not None:
            verifier.feed(line_no, pending, is_last=False)
        pending = raw
        line_no += 1
    if pending is not None:
        verifier.feed(line_no, pending, is_last=True)
    verifier.finish()
    return verifier
