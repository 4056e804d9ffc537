"""Journal records: encoding, the hash chain and streaming reads (verification: journal_verify).

Pure functions over bytes and files, usable by any run store. A journal is
JSON Lines: one record per line, each line written by a single append. The
`hash` of a record is sha256 over the canonical JSON of every other field, and
`prev` is the hash of the record before (GENESIS for the first), so deleting,
reordering or editing any record breaks the chain at a nameable place.

Sequence numbers start at 1 and every record is exactly one line, so in an
intact journal `seq == line number`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, BinaryIO

from ocsrun.errors import JournalCorrupt

# Defined with the protocol (every store stamps records and lock holders alike); still
# importable from here for the stores built on this module.
from ocsrun.store.protocol import HOST_ENV as HOST_ENV  # noqa: PLC0414
from ocsrun.store.protocol import JsonData, Record
from ocsrun.store.protocol import host_name as host_name  # noqa: PLC0414
from ocsrun.store.protocol import operator_id as operator_id  # noqa: PLC0414
from ocsrun.store.protocol import utc_now as utc_now  # noqa: PLC0414

GENESIS = "0" * 64
FIELDS = ("seq", "ts", "operator", "type", "data", "prev", "hash")
TORN_TAIL_SET_ASIDE = "journal.torn-tail-set-aside"

# Problem kinds reported by `verify_lines` (ocsrun.store.journal_verify).
BAD_JSON = "bad-json"
BAD_RECORD = "bad-record"
HASH_MISMATCH = "hash-mismatch"
CHAIN_BREAK = "chain-break"
SEQ_GAP = "seq-gap"
REORDERED = "reordered"
DUPLICATE_SEQ = "duplicate-seq"
# A line longer than any record: damage (written by something else), never a torn tail.
OVERLONG = "over-long"


class RecordError(ValueError):
    """A line is not a well-formed journal record."""


# json.dumps(value, **options) is JSONEncoder(**options).encode(value): building the encoder
# once instead of for every record gives the same bytes for less.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical(value: Any) -> bytes:
    """The one byte form hashes are computed over."""
    return _CANONICAL.encode(value).encode("utf-8")


def _digest(data: bytes, key: bytes | None) -> str:
    # Keyed: HMAC-SHA256, so nobody without the key can recompute a record's hash
    # (see docs/security.md); unkeyed: plain sha256, which anyone can recompute.
    if key is not None:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def record_hash(body: JsonData, key: bytes | None = None) -> str:
    """sha256 hex (HMAC-SHA256 with `key`) of a record's fields other than `hash`."""
    return _digest(canonical(dict(body)), key)


def computed_hash(record: Record, key: bytes | None = None) -> str:
    # Same bytes as record_hash(body): canonical() sorts the keys. Built directly because this
    # runs for every record on every read (resume reads a journal twice).
    body = {
        "seq": record.seq,
        "ts": record.ts,
        "operator": record.operator,
        "type": record.type,
        "data": record.data,
        "prev": record.prev,
    }
    return _digest(canonical(body), key)


def make_record(
    seq: int,
    type: str,
    data: JsonData,
    prev: str,
    *,
    operator: str,
    ts: str | None = None,
    key: bytes | None = None,
) -> Record:
    stamp = ts if ts is not None else utc_now()
    # Round-trip through JSON so the record holds exactly what a reader will
    # see (tuples become lists, etc.) and non-JSON data fails before any write.
    plain = json.loads(canonical(dict(data)))
    body = {
        "seq": seq,
        "ts": stamp,
        "operator": operator,
        "type": type,
        "data": plain,
        "prev": prev,
    }
    return Record(seq, stamp, operator, type, plain, prev, record_hash(body, key))


def head_of(line: str) -> str | None:
    """The `hash` a stored line claims, None when the line is not a record (verify names it)."""
    try:
        return decode(line.encode("utf-8")).hash
    except (RecordError, UnicodeEncodeError):
        return None


def encode(record: Record) -> bytes:
    """One complete journal line, newline included."""
    line = {name: getattr(record, name) for name in FIELDS}
    return _LINE.encode(line).encode("utf-8") + b"\n"


# Same bytes as json.dumps(line, separators=..., ensure_ascii=False, allow_nan=False).
_LINE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise RecordError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _field(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj[name]
    # bool is an int in Python; a seq of `true` is still malformed.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RecordError(f"field {name!r} is not a {kind.__name__}")
    return value


# One decoder for every line: json.loads(..., object_pairs_hook=...) builds a new one per call.
_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)


def parse_json(line: bytes) -> dict[str, Any]:
    """The JSON object on one line, or RecordError."""
    try:
        text = line.decode("utf-8")
        # json.loads refuses a leading BOM with its own message; keep that path for it.
        if text.startswith("\ufeff"):
            obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        else:
            obj = _STRICT.decode(text)
    except UnicodeDecodeError as error:
        raise RecordError(f"not UTF-8 ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise RecordError(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(obj, dict):
        raise RecordError("not a JSON object")
    return obj


_Fields = tuple[int, str, str, str, dict[str, Any], str, str]


def _well_typed(obj: dict[str, Any]) -> _Fields | None:
    """A record's fields in Record's order when each has its type (seq positive), in one
    expression: the common case of every read. None: let the caller take its slow path."""
    get = obj.get
    seq, ts, operator, type_ = get("seq"), get("ts"), get("operator"), get("type")
    data, prev, hash_ = get("data"), get("prev"), get("hash")
    if (
        type(seq) is int
        and seq >= 1
        and type(ts) is str
        and type(operator) is str
        and type(type_) is str
        and type(data) is dict
        and type(prev) is str
        and type(hash_) is str
    ):
        return (seq, ts, operator, type_, data, prev, hash_)
    return None


def to_record(obj: dict[str, Any]) -> Record:
    # A well-formed record at once; anything else takes the field-by-field path below, which
    # names the first problem.
    if len(obj) == len(FIELDS) and (fields := _well_typed(obj)) is not None:
        return Record(*fields)
    return _to_record_checked(obj)


def _to_record_checked(obj: dict[str, Any]) -> Record:
    keys = set(obj)
    if keys != set(FIELDS):
        missing = sorted(set(FIELDS) - keys)
        extra = sorted(keys - set(FIELDS))
        raise RecordError(f"wrong fields (missing {missing}, unexpected {extra})")
    seq = _field(obj, "seq", int)
    if seq < 1:
        raise RecordError(f"seq {seq} is not positive")
    return Record(
        seq=seq,
        ts=_field(obj, "ts", str),
        operator=_field(obj, "operator", str),
        type=_field(obj, "type", str),
        data=_field(obj, "data", dict),
        prev=_field(obj, "prev", str),
        hash=_field(obj, "hash", str),
    )


def decode(line: bytes) -> Record:
    """Parse one line (with or without its newline) into a Record, or RecordError."""
    return to_record(parse_json(line.rstrip(b"\n")))


@dataclass(frozen=True, slots=True)
class TornTail:
    """Bytes after the last intact record that are not a record (a write cut by a crash)."""

    offset: int  # where the torn bytes start in the file
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def is_overlong(raw: bytes) -> bool:
    """Longer than any record can be (bounded_lines keeps one byte over the cap to say so)."""
    return len(raw) - raw.endswith(b"\n") > MAX_RECORD_BYTES


def overlong_message() -> str:
    return (
        f"line is over {MAX_RECORD_BYTES // 2**20} MiB: no record is that long, so it is "
        "damage, not a write cut off by a crash"
    )


def is_torn(raw: bytes, is_last: bool) -> bool:
    """A partial last record left by a crash: short, and not a record. A line too long to be
    a record is damage wherever it is (verify, list, show and resume agree on that)."""
    if is_overlong(raw):
        return False
    if not raw.endswith(b"\n"):
        return True
    if not is_last:
        return False
    try:
        decode(raw)
    except RecordError:
        return True
    return False


class JournalReader:
    """Streams intact records from a journal file, one line in memory at a time.

    Checks each line parses, its hash matches its content, and seq and prev
    continue the chain (journal_verify goes further and names every problem).
    The hash is rechecked here because replay decides which steps are done: a
    record changed on disk (a flipped byte in a step path) would otherwise make
    resume skip or repeat a step. A torn last line ends the iteration and is
    kept in `torn`; anything wrong before it raises JournalCorrupt, because
    resuming from a damaged journal is not safe.
    """

    def __init__(
        self, stream: BinaryIO, name: str = "journal.jsonl", key: bytes | None = None
    ) -> None:
        self._stream = stream
        self._name = name
        self._key = key
        self.torn: TornTail | None = None

    def __iter__(self) -> Iterator[Record]:
        offset = 0
        line_no = 0
        last: Record | None = None
        pending: bytes | None = None
        for raw in bounded_lines(self._stream):
            if pending is not None:
                last = self._accept(pending, line_no, last)
                offset += len(pending)
                yield last
            pending = raw
            line_no += 1
        if pending is None:
            return
        if is_torn(pending, is_last=True):
            self.torn = TornTail(offset, pending)
            return
        yield self._accept(pending, line_no, last)

    def _accept(self, raw: bytes, line_no: int, last: Record | None) -> Record:
        if is_overlong(raw):
            raise JournalCorrupt(
                f"{self._name}:{line_no}: {overlong_message()}; run `ocsrun runs verify`"
            )
        return check_next(raw, line_no, last, self._name, self._key)


def read_checked(
    lines: Iterable[str],
    name: str,
    key: bytes | None = None,
    last: Record | None = None,
    line_no: int = 0,
) -> Iterator[Record]:
    """Records from lines already split (a database's rows, no newlines), checked as
    JournalReader checks a file's; `last`/`line_no`: the record and position they continue."""
    for line in lines:
        line_no += 1
        last = check_next(line, line_no, last, name, key)
        yield last


def check_next(
    line: bytes | str, line_no: int, last: Record | None, name: str, key: bytes | None
) -> Record:
    """The record on `line` if it is intact and continues the chain after `last`, else
    JournalCorrupt naming `name:line_no`."""
    text = line if isinstance(line, str) else _utf8(line)
    record = stored_as_hashed(text, key) if text is not None else None
    if record is None:
        record = _checked_slowly(line, f"{name}:{line_no}", key)
    want_seq = last.seq + 1 if last else 1
    want_prev = last.hash if last else GENESIS
    if record.seq != want_seq or record.prev != want_prev:
        raise JournalCorrupt(
            f"{name}:{line_no}: seq {record.seq} does not continue the chain "
            f"(expected seq {want_seq}); run `ocsrun runs verify`"
        )
    return record


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _checked_slowly(line: bytes | str, where: str, key: bytes | None) -> Record:
    """Decode with every check, then hash the canonical form again: what names a problem."""
    try:
        record = decode(line if isinstance(line, bytes) else line.encode("utf-8"))
    except (RecordError, UnicodeEncodeError) as error:
        raise JournalCorrupt(f"{where}: {error}; run `ocsrun runs verify`") from None
    try:
        actual = computed_hash(record, key)
    except UnicodeEncodeError:
        actual = ""  # a lone surrogate: not something ocsrun wrote
    if actual != record.hash:
        raise JournalCorrupt(
            f"{where}: seq {record.seq} does not match its hash (changed after it was "
            "written); run `ocsrun runs verify`"
        )
    return record


# The plain C decoder (no duplicate-key hook): stored_as_hashed keeps only a record whose hash
# covers the very text it parsed, and ocsrun never writes a duplicate key into that text.
_PLAIN = json.JSONDecoder()


def stored_as_hashed(text: str, key: bytes | None = None) -> Record | None:
    """The record on one line when its stored hash is the hash of that very text; else None.

    A record is hashed over its canonical form (record_hash), and ocsrun stores the data part
    of a line in exactly that form, with the other fields around it in FIELDS order. So the
    hashed bytes can be rebuilt from the line's own text, the data part kept as it stands,
    instead of re-encoding the parsed data: one parse and one sha256 per record. The fields
    around the data are spelled again from the parsed values and must match the text exactly,
    so what the hash covers is what was parsed. Anything else (an edited record, another
    spelling, damage) gives None, and the caller takes the full path, which decides and names
    the problem. The one difference: a line whose hash was computed over a non-canonical
    spelling of its data (keys out of order, a duplicate key, spaces) passes here. ocsrun
    never writes one; whoever could compute that hash could as well have computed it over the
    canonical form (a plain chain), or holds the key (a keyed one). `runs verify` keeps the
    full check and names such a line.
    """
    if text.endswith("\n"):
        text = text.rstrip("\n")
    try:
        obj = _PLAIN.decode(text)
    except ValueError:
        return None
    if type(obj) is not dict or len(obj) != len(FIELDS):
        return None
    fields = _well_typed(obj)
    if fields is None:
        return None
    seq, ts, operator, type_, data, prev, hash_ = fields
    # The strings in plain quotes, not JSON-escaped (escaping was a tenth of this function):
    # a string that needs escaping (a quote, a backslash, a control character) cannot then
    # match the text it was parsed from, so it takes the full path; one that matches is
    # spelled in the text exactly as the canonical form spells it.
    head = f'{{"seq":{seq},"ts":"{ts}","operator":"{operator}","type":"{type_}","data":'
    tail = f',"prev":"{prev}","hash":"{hash_}"}}'
    start, end = len(head), len(text) - len(tail)
    if end - start < 2 or not text.startswith(head) or not text.endswith(tail):
        return None
    body = (
        f'{{"data":{text[start:end]},"operator":"{operator}","prev":"{prev}",'
        f'"seq":{seq},"ts":"{ts}","type":"{type_}"}}'
    )
    try:
        hashed = body.encode("utf-8")
    except UnicodeEncodeError:
        return None
    digest = sha256(hashed).hexdigest() if key is None else _digest(hashed, key)
    return Record(seq, ts, operator, type_, data, prev, hash_) if digest == hash_ else None


# No record ocsrun writes comes near this (command output is capped at 256 KiB by validation);
# readers stop here instead of reading a damaged journal's endless line whole.
MAX_RECORD_BYTES = 2 * 2**20
# read_tail looks at most this far back for the last two whole lines.
MAX_TAIL_BYTES = 3 * MAX_RECORD_BYTES


def read_tail(fd: int, size: int | None = None) -> tuple[Record | None, TornTail | None]:
    """The last intact record and any torn tail, reading backwards from the end.

    Cheap for any journal length: only the final lines are read. Raises
    JournalCorrupt when the line before a torn tail is not a record either.
    """
    if size is None:
        size = os.fstat(fd).st_size
    start, buf = _tail_bytes(fd, size)
    # With start > 0 the first piece may begin mid-line; it is never used below
    # because _tail_bytes reads until enough whole lines are in the buffer.
    pieces = buf.split(b"\n")
    ends = []  # (offset, raw line with its newline) for complete lines
    pos = start
    for piece in pieces[:-1]:
        ends.append((pos, piece + b"\n"))
        pos += len(piece) + 1
    torn: TornTail | None = None
    last_line = pieces[-1] or (ends[-1][1] if ends else b"")
    if is_overlong(last_line):
        raise JournalCorrupt(f"the journal's last {overlong_message()}")
    if pieces[-1]:
        torn = TornTail(pos, pieces[-1])
    elif ends and is_torn(ends[-1][1], is_last=True):
        offset, raw = ends.pop()
        torn = TornTail(offset, raw)
    if start > 0:
        ends = ends[1:]
    if not ends:
        return None, torn
    offset, raw = ends[-1]
    try:
        return decode(raw), torn
    except RecordError as error:
        raise JournalCorrupt(f"record at byte {offset}: {error}") from None


def _tail_bytes(fd: int, size: int) -> tuple[int, bytes]:
    block = 8192
    start = size
    buf = b""
    # Three newlines bound the last two lines even when the final one is torn
    # and the one before it must be set aside as well.
    while start > 0 and buf.count(b"\n") < 4:
        if size - start >= MAX_TAIL_BYTES:
            # A tail without newlines (or with huge lines) is not what ocsrun writes: reading
            # on would read it whole, and one such run would stall `runs list` for all.
            raise JournalCorrupt(
                f"the journal's last lines are over {MAX_TAIL_BYTES // 2**20} MiB "
                "(no record is that long)"
            )
        step = min(block, start, MAX_TAIL_BYTES - (size - start))
        start -= step
        buf = os.pread(fd, step, start) + buf
        block *= 2
    return start, buf


def bounded_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's lines (newline kept), each at most MAX_RECORD_BYTES + 2 bytes.

    A longer line cannot be a record ocsrun wrote, nor a write cut by a crash: it is cut one
    byte past the limit (so readers still see it is over-long) and given a newline, so every
    reader sees a complete line that is not a record (the journal is damaged), and the rest
    of it is skipped a block at a time, never held whole.
    """
    while True:
        line = stream.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            line += b"\n"
        yield line
