"""Record encoding, the hash chain, streaming reads, tail reads and verification."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocsrun.errors import JournalCorrupt
from ocsrun.store import journal, journal_verify, protocol
from ocsrun.store.protocol import Record


def build(n: int, start_data: int = 0) -> list[Record]:
    records: list[Record] = []
    prev = journal.GENESIS
    for i in range(n):
        rec = journal.make_record(
            i + 1, "step.done", {"step": f"s{i + start_data}", "note": "é ü"}, prev, operator="u@h"
        )
        records.append(rec)
        prev = rec.hash
    return records


def lines_of(records: list[Record]) -> list[bytes]:
    return [journal.encode(r) for r in records]


def kinds(lines: list[bytes]) -> list[tuple[str, int | None, int]]:
    _count, problems = journal_verify.verify_lines(lines)
    return [(p.kind, p.seq, p.line) for p in problems]


def test_hash_is_sha256_of_canonical_json_without_hash() -> None:
    rec = build(1)[0]
    body = {
        "seq": 1,
        "ts": rec.ts,
        "operator": "u@h",
        "type": "step.done",
        "data": {"step": "s0", "note": "é ü"},
        "prev": "0" * 64,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert rec.hash == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert rec.prev == "0" * 64


def test_chain_links_each_record_to_the_one_before() -> None:
    records = build(5)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(records):
        assert after.prev == before.hash
        assert journal.computed_hash(after) == after.hash


def test_line_format_keys_in_order_and_utf8() -> None:
    line = journal.encode(build(1)[0])
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert list(json.loads(line)) == ["seq", "ts", "operator", "type", "data", "prev", "hash"]
    assert "é ü".encode() in line
    assert journal.decode(line) == build(1)[0].__class__(**json.loads(line))


def test_timestamp_is_utc_with_microseconds_and_z() -> None:
    ts = protocol.utc_now()
    assert len(ts) == len("2026-11-25T01:30:00.123456Z") and ts.endswith("Z")
    assert ts[10] == "T" and ts[19] == "."


def test_operator_is_user_at_host() -> None:
    user, _, host = protocol.operator_id().partition("@")
    assert user and host


def test_non_json_data_is_refused_before_anything_is_written() -> None:
    with pytest.raises((TypeError, ValueError)):
        journal.make_record(1, "x", {"bad": object()}, journal.GENESIS, operator="u@h")
    with pytest.raises(ValueError):
        journal.make_record(1, "x", {"nan": float("nan")}, journal.GENESIS, operator="u@h")


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b"[1,2]\n",
        b'{"seq":1}\n',
        b'{"seq":1,"seq":2,"ts":"","operator":"","type":"","data":{},"prev":"","hash":""}\n',
        b'{"seq":true,"ts":"","operator":"","type":"","data":{},"prev":"","hash":""}\n',
        b'{"seq":0,"ts":"","operator":"","type":"","data":{},"prev":"","hash":""}\n',
        b"\xff\xfe\n",
    ],
)
def test_decode_rejects_malformed_lines(line: bytes) -> None:
    with pytest.raises(journal.RecordError):
        journal.decode(line)


# --- verification: every tamper kind is detected and named ---------------------------


def test_intact_journal_verifies() -> None:
    count, problems = journal_verify.verify_lines(lines_of(build(6)))
    assert (count, problems) == (6, [])


def test_empty_journal_verifies() -> None:
    assert journal_verify.verify_lines([]) == (0, [])


def test_flipped_byte_is_a_hash_mismatch_at_that_seq() -> None:
    lines = lines_of(build(5))
    lines[2] = lines[2].replace(b'"s2"', b'"s9"')
    assert kinds(lines) == [("hash-mismatch", 3, 3)]


def test_flipped_byte_in_seq_is_reported_once() -> None:
    lines = lines_of(build(5))
    lines[2] = lines[2].replace(b'{"seq":3,', b'{"seq":7,')
    assert kinds(lines) == [("hash-mismatch", 7, 3)]


def test_flipped_byte_in_hash_field_is_reported_once() -> None:
    lines = lines_of(build(5))
    rec = journal.decode(lines[1])
    flipped = ("1" if rec.hash[0] != "1" else "2") + rec.hash[1:]
    lines[1] = lines[1].replace(rec.hash.encode(), flipped.encode())
    assert kinds(lines) == [("hash-mismatch", 2, 2)]


def test_deleted_record_is_a_seq_gap() -> None:
    lines = lines_of(build(6))
    del lines[2]
    assert kinds(lines) == [("seq-gap", 4, 3)]
    _count, problems = journal_verify.verify_lines(lines)
    assert "seq 3 missing" in problems[0].message


def test_deleted_first_record_is_a_seq_gap() -> None:
    lines = lines_of(build(3))
    assert kinds(lines[1:]) == [("seq-gap", 2, 1)]


def test_swapped_records_are_reordered() -> None:
    lines = lines_of(build(6))
    lines[2], lines[3] = lines[3], lines[2]
    assert kinds(lines) == [("reordered", 3, 4)]


def test_duplicated_line_is_a_duplicate_seq() -> None:
    lines = lines_of(build(5))
    lines.insert(3, lines[2])
    assert kinds(lines) == [("duplicate-seq", 3, 4)]
    _count, problems = journal_verify.verify_lines(lines)
    assert "line 3" in problems[0].message


def test_truncated_mid_line_is_only_a_torn_tail() -> None:
    lines = lines_of(build(5))
    lines[-1] = lines[-1][:40]
    count, problems = journal_verify.verify_lines(lines)
    assert count == 4
    assert [(p.kind, p.line) for p in problems] == [("torn-tail", 5)]


def test_unparseable_last_line_with_newline_is_a_torn_tail() -> None:
    lines = [*lines_of(build(3)), b"\x00\x00\x00\n"]
    assert kinds(lines) == [("torn-tail", None, 4)]


def test_bad_json_mid_file_is_named_once() -> None:
    lines = lines_of(build(5))
    lines[1] = b'{"seq":2,"ts":\n'
    assert kinds(lines) == [("bad-json", None, 2)]


def test_replaced_record_with_valid_hash_breaks_the_chain() -> None:
    records = build(4)
    lines = lines_of(records)
    forged = journal.make_record(2, "step.done", {"forged": True}, records[0].hash, operator="x")
    lines[1] = journal.encode(forged)
    assert kinds(lines) == [("chain-break", 3, 3)]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_detected(data: st.DataObject) -> None:
    blob = b"".join(lines_of(build(4)))
    pos = data.draw(st.integers(0, len(blob) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != blob[pos]))
    changed = blob[:pos] + bytes([new]) + blob[pos + 1 :]
    _count, problems = journal_verify.verify_lines(io.BytesIO(changed))
    assert problems, f"byte {pos} changed to {new} went unnoticed"


# --- streaming reads ------------------------------------------------------------------


class CountingStream(io.BytesIO):
    """Counts the lines handed out, to show the reader does not slurp the file."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.handed = 0

    def __next__(self) -> bytes:
        line = super().__next__()
        self.handed += 1
        return line

    def __iter__(self) -> Iterator[bytes]:
        return self


def test_reader_streams_lazily() -> None:
    stream = CountingStream(b"".join(lines_of(build(10_000))))
    reader = iter(journal.JournalReader(stream))
    first = next(reader)
    assert first.seq == 1
    assert stream.handed <= 2
    assert sum(1 for _ in reader) == 9_999


def test_reader_sets_aside_torn_tail() -> None:
    blob = b"".join(lines_of(build(3))) + b'{"seq":4,"ts":"20'
    reader = journal.JournalReader(io.BytesIO(blob))
    assert [r.seq for r in reader] == [1, 2, 3]
    assert reader.torn is not None
    assert reader.torn.data == b'{"seq":4,"ts":"20'
    assert reader.torn.offset == len(blob) - len(reader.torn.data)


def test_reader_refuses_damage_before_the_last_line() -> None:
    lines = lines_of(build(4))
    lines[1] = b"garbage\n"
    with pytest.raises(JournalCorrupt, match=r"journal.jsonl:2"):
        list(journal.JournalReader(io.BytesIO(b"".join(lines))))


def test_reader_refuses_a_gap() -> None:
    lines = lines_of(build(4))
    del lines[1]
    with pytest.raises(JournalCorrupt, match="expected seq 2"):
        list(journal.JournalReader(io.BytesIO(b"".join(lines))))


KEY = b"a team's journal key, 32 bytes.."


def chain(n: int, key: bytes | None) -> list[Record]:
    records: list[Record] = []
    prev = journal.GENESIS
    for i in range(n):
        data = {"step": f"s{i}", "note": 'é "ü" \\ \t', "n": [i, 1.5, None, True], "z": {"b": 1}}
        rec = journal.make_record(i + 1, "step.done", data, prev, operator="u@h", key=key)
        records.append(rec)
        prev = rec.hash
    return records


@settings(max_examples=200, deadline=None)
@given(st.data(), st.booleans())
def test_reader_lets_no_changed_byte_through(data: st.DataObject, keyed: bool) -> None:
    # The reader checks each record's hash over its stored text (stored_as_hashed); a change
    # anywhere must still stop it, or at most leave a torn last line set aside.
    key = KEY if keyed else None
    records = chain(4, key)
    blob = b"".join(lines_of(records))
    pos = data.draw(st.integers(0, len(blob) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != blob[pos]))
    changed = blob[:pos] + bytes([new]) + blob[pos + 1 :]
    reader = journal.JournalReader(io.BytesIO(changed), key=key)
    try:
        read = list(reader)
    except JournalCorrupt:
        return
    assert read == records[: len(read)], f"byte {pos} changed to {new} was read as a record"
    assert len(read) < 4 and reader.torn is not None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=4), st.text(min_size=1), st.booleans())
def test_the_text_hash_agrees_with_the_canonical_hash(
    data: dict[str, object], kind: str, keyed: bool
) -> None:
    key = KEY if keyed else None
    record = journal.make_record(1, kind, data, journal.GENESIS, operator="ü@h", key=key)
    line = journal.encode(record)
    # Strings that JSON must escape take the full check; every other record the text check.
    plain = json.dumps(kind, ensure_ascii=False) == f'"{kind}"'
    assert journal.stored_as_hashed(line.decode("utf-8"), key) == (record if plain else None)
    assert journal.stored_as_hashed(line.decode("utf-8"), None if keyed else KEY) is None
    assert list(journal.JournalReader(io.BytesIO(line), key=key)) == [record]


def test_a_record_in_another_spelling_is_read_by_the_full_check() -> None:
    records = build(3)
    lines = lines_of(records)
    # Same record, same canonical hash, spelled with spaces and its keys in another order.
    respelled = json.dumps(dict(reversed(json.loads(lines[1]).items()))).encode() + b"\n"
    assert journal.stored_as_hashed(respelled.decode()) is None
    lines[1] = respelled
    assert list(journal.JournalReader(io.BytesIO(b"".join(lines)))) == records
    assert kinds(lines) == []


def test_an_edited_record_is_refused_whatever_path_reads_it() -> None:
    records = build(3)
    lines = lines_of(records)
    lines[1] = lines[1].replace(b'"s1"', b'"sX"')
    assert journal.stored_as_hashed(lines[1].decode()) is None
    with pytest.raises(JournalCorrupt, match=r"journal\.jsonl:2: seq 2 does not match its hash"):
        list(journal.JournalReader(io.BytesIO(b"".join(lines))))
    rows = [line.decode().rstrip("\n") for line in lines]
    with pytest.raises(JournalCorrupt, match="db run x:2: seq 2 does not match its hash"):
        list(journal.read_checked(rows, "db run x"))


def test_a_hash_over_a_non_canonical_spelling_is_named_by_verify() -> None:
    # The one line the reader's text check takes and the full check does not: a hash computed
    # over the line's own (non-canonical) data text. ocsrun never writes one; verify names it.
    records = build(2)
    body = {k: v for k, v in json.loads(lines_of(records)[1]).items() if k != "hash"}
    spelled = '{"step": "s1", "note": "é ü"}'  # spaces: not the canonical form
    text = (
        f'{{"data":{spelled},"operator":"u@h","prev":"{records[0].hash}","seq":2,'
        f'"ts":"{body["ts"]}","type":"step.done"}}'
    )
    forged_hash = hashlib.sha256(text.encode()).hexdigest()
    line = (
        f'{{"seq":2,"ts":"{body["ts"]}","operator":"u@h","type":"step.done","data":{spelled},'
        f'"prev":"{records[0].hash}","hash":"{forged_hash}"}}\n'
    ).encode()
    assert journal.stored_as_hashed(line.decode()) is not None
    assert kinds([lines_of(records)[0], line]) == [("hash-mismatch", 2, 2)]


# --- tail reads -----------------------------------------------------------------------


def tail_of(tmp_path: Path, blob: bytes) -> tuple[Record | None, journal.TornTail | None]:
    path = tmp_path / "j"
    path.write_bytes(blob)
    fd = os.open(path, os.O_RDONLY)
    try:
        return journal.read_tail(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 200])
@pytest.mark.parametrize("torn", [b"", b'{"seq', b"\x00" * 9000, b"oops\n"])
def test_read_tail_matches_a_full_read(tmp_path: Path, n: int, torn: bytes) -> None:
    blob = b"".join(lines_of(build(n))) + torn
    last, tail = tail_of(tmp_path, blob)
    reader = journal.JournalReader(io.BytesIO(blob))
    records = list(reader)
    assert last == (records[-1] if records else None)
    assert tail == reader.torn
    if torn:
        assert tail is not None and tail.data == torn


def test_read_tail_refuses_two_bad_lines(tmp_path: Path) -> None:
    blob = b"".join(lines_of(build(3))) + b"bad\n" + b"torn"
    with pytest.raises(JournalCorrupt):
        tail_of(tmp_path, blob)
