"""Run views (ocsrun.run.views): the data and text that `runs ...` and the web view show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_main

from ocsrun.run import events as ev
from ocsrun.run import views
from ocsrun.store import journal, journal_verify
from ocsrun.store.local import LocalDirStore, new_run_id
from ocsrun.store.protocol import RunInfo


def record_run(store: LocalDirStore, **changes: object) -> str:
    fields: dict[str, object] = {
        "run_id": new_run_id(),
        "runbook_id": "ocs2007.deactivate-edge-server",
        "runbook_title": "Deactivate | an Edge Server",
        "runbook_version": "1.2",
        "runbook_path": "x.yaml",
        "target": "edge01",
        "operator": "alice@ws1",
        "started": "2026-11-25T01:30:00.000000Z",
        "rehearsal": False,
        "params": {"pool": "p1"},
    }
    fields.update(changes)
    info = RunInfo(**fields)  # type: ignore[arg-type]
    with store.create_run(info, b"") as handle:
        handle.append(ev.RUN_STARTED, {"params": {"pool": "p1"}})
        handle.append(ev.STEP_STARTED, {"step": "stop", "attempt": 1, "title": "Stop"})
        handle.append(ev.STEP_NOTE, {"step": "stop", "attempt": 1, "text": "a|b\x1b[31m"})
        handle.append(
            ev.GATE_PASSED,
            {"step": "stop", "path": "log.txt", "size": 12, "sha256": "ab" * 32},
        )
        handle.append(ev.GATE_OVERRIDDEN, {"step": "stop", "reason": "CAB approved"})
        handle.append(ev.STEP_DONE, {"step": "stop", "attempt": 1})
        handle.append(ev.STEP_SKIPPED, {"step": "backup", "attempt": 1, "reason": "none kept"})
    return info.run_id


@pytest.fixture
def store(tmp_path: Path) -> LocalDirStore:
    return LocalDirStore(tmp_path / "state")


def test_timeline_text_and_report_show_every_fact(store: LocalDirStore) -> None:
    run_id = record_run(store)
    timeline = views.load_timeline(store, run_id)
    text = views.timeline_text(timeline)
    assert f"Run {run_id}: running" in text
    assert "note: a|b" in text and "\x1b" not in text  # no terminal escape gets through
    assert "OVERRIDE:" in text and "CAB approved" in text
    assert f"evidence passed: log.txt 12 bytes sha256 {'ab' * 32}" in text
    assert "reason: none kept" in text

    md = views.report_markdown(timeline)
    assert md.startswith("# Change record: Deactivate \\| an Edge Server\n")
    assert "- **stop**: " in md and "CAB approved" in md
    assert f"`log.txt` 12 bytes, sha256 `{'ab' * 32}`" in md
    data = json.loads(views.report_json(timeline))
    assert data == views.report_data(timeline)
    assert [s["step"] for s in data["steps"]] == ["stop", "backup"]
    assert data["steps"][1]["outcome"] == "skipped"


def test_cli_prints_exactly_the_views(
    store: LocalDirStore, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = record_run(store)
    timeline = views.load_timeline(store, run_id)
    state = str(store.state_dir)
    assert run_main(capsys, "runs", "--state-dir", state, "report", run_id) == (
        0,
        views.report_markdown(timeline) + "\n",
        "",
    )
    assert run_main(capsys, "runs", "--state-dir", state, "show", run_id)[1] == (
        views.timeline_text(timeline) + "\n"
    )
    assert run_main(capsys, "runs", "--state-dir", state, "list")[1] == (
        views.runs_table(store.list_runs()) + "\n"
    )


def test_filter_and_pages(store: LocalDirStore) -> None:
    for n in range(5):
        record_run(store, target=f"edge0{n}", started=f"2026-11-25T01:3{n}:00.000000Z")
    record_run(store, runbook_id="other", operator="bob@ws2")
    page = views.list_runs(
        store, views.RunFilter(runbook="ocs2007.deactivate-edge-server"), limit=2
    )
    assert page.total == 5 and not page.has_previous and page.has_next
    assert [s.info.target for s in page.runs] == ["edge04", "edge03"]  # newest first
    last = views.list_runs(
        store, views.RunFilter(runbook="ocs2007.deactivate-edge-server"), offset=4, limit=2
    )
    assert [s.info.target for s in last.runs] == ["edge00"] and not last.has_next
    assert views.list_runs(store, views.RunFilter(operator="bob@ws2")).total == 1
    assert views.list_runs(store, views.RunFilter(text="EDGE03")).total == 1
    assert views.list_runs(store, views.RunFilter(status="finished")).total == 0
    row = views.summary_data(page.runs[0])
    assert row["target"] == "edge04" and row["records"] == 7 and row["status"] == "running"
    assert row["last_step"] == "backup"  # where the run is: its last record's step


def test_verify_view(store: LocalDirStore) -> None:
    run_id = record_run(store)
    checked = views.verify_run(store, run_id)
    assert checked.ok and checked.lines == ("ok: 7 records, chain intact",)
    path = store.state_dir / "runs" / run_id / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], *lines[2:]]))
    checked = views.verify_run(store, run_id)
    assert not checked.ok
    assert checked.verdict.startswith("FAILED: ") and checked.lines[-1] == checked.verdict
    assert any("seq-gap" in line for line in checked.lines)


def test_torn_tail_kind_matches_the_journal() -> None:
    # views keeps its own copy so it needs no journal import; it must be the kind the
    # verifier reports for a torn last line.
    first = journal.make_record(1, "run.started", {}, journal.GENESIS, operator="o@h")
    lines = [journal.encode(first), b'{"seq": 2, "ts": "2026']
    _count, problems = journal_verify.verify_lines(lines)
    assert [p.kind for p in problems] == [views.TORN_TAIL]
