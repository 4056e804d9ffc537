"""Run state is read with bounds and never trusted to have the types ocsrun writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocsrun.errors import JournalCorrupt
from ocsrun.run import events as ev
from ocsrun.run.state import replay
from ocsrun.run.timeline import build
from ocsrun.store.journal import (
    GENESIS,
    MAX_RECORD_BYTES,
    bounded_lines,
    encode,
    make_record,
    read_tail,
)
from ocsrun.store.journal_verify import verify_chain
from ocsrun.store.local import _info_from_json
from ocsrun.store.protocol import RunInfo


def test_an_over_long_line_is_cut_and_the_rest_skipped() -> None:
    stream = io.BytesIO(b"{}\n" + b"x" * (MAX_RECORD_BYTES * 3) + b"\nlast\n")
    lines = list(bounded_lines(stream))
    assert [len(line) for line in lines] == [3, MAX_RECORD_BYTES + 2, 5]
    assert all(line.endswith(b"\n") for line in lines)


def test_the_tail_is_not_read_whole(tmp_path: Path) -> None:
    record = make_record(1, "run.started", {}, GENESIS, operator="t")
    path = tmp_path / "journal.jsonl"
    path.write_bytes(encode(record) + b"z" * (MAX_RECORD_BYTES * 4))
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(JournalCorrupt, match="last lines are over"):
            read_tail(fd)
    finally:
        os.close(fd)


def _journal(tmp_path: Path, tail: bytes) -> Path:
    first = make_record(1, "run.started", {}, GENESIS, operator="t")
    second = make_record(2, "step.done", {"step": "a"}, first.hash, operator="t")
    path = tmp_path / "journal.jsonl"
    path.write_bytes(encode(first) + encode(second) + tail)
    return path


def _verify(path: Path) -> list[tuple[int, str]]:
    with path.open("rb") as stream:
        return [(p.line, p.kind) for p in verify_chain(bounded_lines(stream)).problems]


def _tail(path: Path) -> object:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_tail(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("newline", [b"\n", b""])
@pytest.mark.parametrize("extra", [1, 2**20])
def test_a_last_line_too_long_to_be_a_record_is_damage_for_every_reader(
    tmp_path: Path, newline: bytes, extra: int
) -> None:
    """verify and list (read_tail) agree: over the record cap is damage, never a torn tail
    (a crash cuts a record short; it does not make one longer than any record can be)."""
    path = _journal(tmp_path, b"y" * (MAX_RECORD_BYTES + extra) + newline)
    assert _verify(path) == [(3, "over-long")]
    with pytest.raises(JournalCorrupt, match="last line is over 2 MiB"):
        _tail(path)


def test_a_short_cut_last_line_is_still_a_torn_tail(tmp_path: Path) -> None:
    path = _journal(tmp_path, b'{"seq": 3, "ty')
    assert _verify(path) == [(3, "torn-tail")]
    last, torn = _tail(path)  # type: ignore[misc]
    assert last.seq == 2 and torn is not None and torn.data == b'{"seq": 3, "ty'
    # At the cap exactly, still a record-sized line: torn, not over-long.
    path = _journal(tmp_path, b"z" * MAX_RECORD_BYTES)
    assert _verify(path) == [(3, "torn-tail")]


def test_records_with_unexpected_types_are_a_damaged_journal() -> None:
    started = make_record(1, "run.started", {"params": True}, GENESIS, operator="t")
    failed = make_record(2, "gate.failed", {"attempt": []}, started.hash, operator="t")
    with pytest.raises(JournalCorrupt, match=r"seq 2 \(gate\.failed\) holds data of unexpected"):
        replay([started, failed])
    info = RunInfo("r", "b", "t", "1", "p", None, "o", "2026-01-01T00:00:00Z", False)
    with pytest.raises(JournalCorrupt, match=r"seq 1 \(run\.started\) holds data of unexpected"):
        build(info, [started])


@pytest.mark.parametrize(
    "change",
    [{"started": 5}, {"params": [1]}, {"rehearsal": "yes"}, {"target": {"a": 1}}],
)
def test_run_json_with_wrong_types_is_refused(change: dict[str, object]) -> None:
    import json

    good = {
        "run_id": "r",
        "runbook_id": "b",
        "runbook_title": "t",
        "runbook_version": "1",
        "runbook_path": "p",
        "target": None,
        "operator": "o",
        "started": "2026-01-01T00:00:00Z",
        "rehearsal": False,
        "params": {},
    }
    assert _info_from_json(json.dumps(good).encode()).run_id == "r"
    with pytest.raises(ValueError, match="field"):
        _info_from_json(json.dumps({**good, **change}).encode())


EVENT_TYPES = sorted(
    value
    for name, value in vars(ev).items()
    if name.isupper() and isinstance(value, str) and "." in value
)


# Any data of any type under any record type: replay and the timeline give a state or a
# JournalCorrupt naming the record, never another exception.
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["first"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)
_KEYS = st.sampled_from(
    [
        "step",
        "attempt",
        "outcome",
        "index",
        "total",
        "reason",
        "params",
        "values",
        "when",
        "var",
        "value",
        "item",
        "target",
        "warning",
        "name",
        "last",
        "changes",
        "seconds",
    ]
)


@settings(deadline=None, max_examples=300, derandomize=True, database=None)
@given(
    records=st.lists(
        st.tuples(st.sampled_from(EVENT_TYPES), st.dictionaries(_KEYS, _VALUES, max_size=5)),
        min_size=1,
        max_size=5,
    )
)
def test_no_record_data_crashes_replay_or_the_timeline(
    records: list[tuple[str, dict[str, object]]],
) -> None:
    chain = []
    prev = GENESIS
    for seq, (kind, data) in enumerate(records, 1):
        record = make_record(seq, kind, data, prev, operator="t")
        chain.append(record)
        prev = record.hash
    info = RunInfo("r", "b", "t", "1", "p", None, "o", "2026-01-01T00:00:00Z", False)
    for read in (replay, lambda rs: build(info, rs)):
        try:
            read(chain)
        except JournalCorrupt as error:
            assert "holds data of unexpected types" in error.message
