"""Run state is read with bounds and never trusted to have the types ocsrun writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ocsrun.errors import JournalCorrupt
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
from ocsrun.store.local import _info_from_json
from ocsrun.store.protocol import RunInfo


def test_an_over_long_line_is_cut_and_the_rest_skipped() -> None:
    stream = io.BytesIO(b"{}\n" + b"x" * (MAX_RECORD_BYTES * 3) + b"\nlast\n")
    lines = list(bounded_lines(stream))
    assert [len(line) for line in lines] == [3, MAX_RECORD_BYTES + 1, 5]
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
