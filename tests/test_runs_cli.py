"""`ocsrun runs list|verify` and the lazy show/report registration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import ROOT, journal_path, run_child, run_main

from ocsrun.cli import runs as runs_cli
from ocsrun.cli.runs import runs
from ocsrun.errors import StateError, exit_code_for
from ocsrun.store.local import LocalDirStore, new_run_id
from ocsrun.store.protocol import RunInfo


def make_run(state: Path, *, records: int = 3, last: str | None = None, **changes: object) -> str:
    fields: dict[str, object] = {
        "run_id": new_run_id(),
        "runbook_id": "ocs2007/deactivate-edge-server",
        "runbook_title": "Deactivate an Edge Server",
        "runbook_version": "1.0",
        "runbook_path": "x.yaml",
        "target": "edge01",
        "operator": "alice@ws1",
        "started": "2026-11-25T01:30:00.000000Z",
        "rehearsal": False,
        "params": {},
    }
    fields.update(changes)
    info = RunInfo(**fields)  # type: ignore[arg-type]
    with LocalDirStore(state).create_run(info, b"") as handle:
        for i in range(records):
            handle.append("step.done", {"step": f"s{i}"})
        if last:
            handle.append(last, {})
    return info.run_id


def runs_main(capsys: pytest.CaptureFixture[str], state: Path, *args: str) -> tuple[int, str, str]:
    return run_main(capsys, "runs", "--state-dir", str(state), *args)


def test_list_text_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = make_run(tmp_path, last="run.finished", started="2026-11-25T01:00:00.000000Z")
    second = make_run(tmp_path, records=1, target=None, started="2026-11-25T02:00:00.000000Z")
    code, out, _ = runs_main(capsys, tmp_path, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "RUN", "ID", "RUNBOOK", "TARGET", "STATUS", "STARTED", "OPERATOR", "RECORDS"
    ]  # fmt: skip
    assert lines[1].split() == [
        second, "ocs2007/deactivate-edge-server", "-", "running",
        "2026-11-25T02:00:00.000000Z", "alice@ws1", "1",
    ]  # fmt: skip
    assert lines[2].split()[0] == first and lines[2].split()[3] == "finished"
    assert lines[2].split()[-1] == "4"


def test_list_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = make_run(tmp_path, last="run.aborted")
    [row] = json.loads(runs_main(capsys, tmp_path, "list", "--format", "json")[1])
    assert row["run_id"] == run_id
    assert (row["status"], row["records"], row["last_type"]) == ("aborted", 4, "run.aborted")


def test_list_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = runs_main(capsys, tmp_path / "none", "list")
    assert code == 0 and "no runs in" in out


def test_state_dir_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OCSRUN_STATE_DIR", str(tmp_path))
    run_id = make_run(tmp_path)
    assert run_id in run_main(capsys, "runs", "list")[1]


def test_verify_intact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = make_run(tmp_path, records=5)
    assert runs_main(capsys, tmp_path, "verify", run_id) == (
        0,
        "ok: 5 records, chain intact\n",
        "",
    )


def test_verify_torn_tail_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = make_run(tmp_path, records=2)
    with journal_path(tmp_path, run_id).open("ab") as out:
        out.write(b'{"seq":3')
    code, output, _ = runs_main(capsys, tmp_path, "verify", run_id)
    assert code == 0
    lines = output.splitlines()
    assert lines[0].startswith("warning: entry 3: torn-tail: ")
    assert lines[1].startswith("ok: 2 records, chain intact")


def test_verify_tampered_fails_naming_line_and_seq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = make_run(tmp_path, records=4)
    path = journal_path(tmp_path, run_id)
    path.write_bytes(path.read_bytes().replace(b'"s1"', b'"sX"'))
    code, out, _ = runs_main(capsys, tmp_path, "verify", run_id)
    assert code == 1
    assert out.splitlines()[0].startswith("entry 2: seq 2: hash-mismatch: ")
    assert "FAILED: 1 problem in 4 records" in out


def test_verify_unknown_run_is_a_state_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = runs_main(capsys, tmp_path, "verify", "20261125T000000Z-000000")
    assert (code, out) == (exit_code_for(StateError("x")), "")
    assert err.startswith("ocsrun: error: ") and "20261125T000000Z-000000" in err


def test_verify_via_python_m(tmp_path: Path) -> None:
    run_id = make_run(tmp_path, records=3)
    done = run_child(tmp_path, "runs", "--state-dir", str(tmp_path), "verify", run_id)
    assert (done.returncode, done.stdout) == (0, "ok: 3 records, chain intact\n")

    lines = journal_path(tmp_path, run_id).read_bytes().splitlines(keepends=True)
    journal_path(tmp_path, run_id).write_bytes(lines[0] + lines[2])
    done = run_child(tmp_path, "runs", "--state-dir", str(tmp_path), "verify", run_id)
    assert done.returncode == 1
    assert "entry 2: seq 3: seq-gap: seq 2 missing" in done.stdout
    assert "Traceback" not in done.stderr

    done = run_child(tmp_path, "runs", "--state-dir", str(tmp_path), "verify", "no-such-run")
    assert done.returncode == 1
    assert done.stderr.strip() == f"ocsrun: error: no run 'no-such-run' in {tmp_path / 'runs'}"


def test_importing_runs_cli_is_light() -> None:
    code = (
        "import sys, ocsrun.cli.runs; "
        "print(sorted(m for m in ('ocsrun.cli.runs_report', 'ocsrun.store.local', "
        "'ocsrun.store.journal', 'yaml', 'jsonschema') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"


def test_show_and_report_are_registered_lazily() -> None:
    ctx = click.Context(runs)
    names = runs.list_commands(ctx)
    assert {"list", "verify", "show", "report"} <= set(names)
    show = runs.get_command(ctx, "show")
    assert isinstance(show, click.Command) and show.name == "show"


def test_show_and_report_omitted_when_module_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_cli, "REPORT_MODULE", "ocsrun.cli._not_written_yet")
    ctx = click.Context(runs)
    assert runs.list_commands(ctx) == ["list", "verify"]
    assert runs.get_command(ctx, "show") is None
    assert runs.get_command(ctx, "report") is None
