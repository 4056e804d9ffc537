"""`ocsrun run / rehearse / resume / runs show / runs report` through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT, journal_path, journal_records, run_main

from ocsrun.review.render import StepView, build_view
from ocsrun.runbook.build import load_runbook
from ocsrun.store.local import LocalDirStore


def render_number(runbook: str, path: str) -> str:
    """The step's number as `ocsrun render` prints it."""
    view = build_view(load_runbook(ROOT / "runbooks" / "ocs2007" / runbook))
    return next(s.number for s in _all(view.steps) if s.path == path)


def _all(steps: tuple[StepView, ...]) -> list[StepView]:
    out = []
    for step in steps:
        out += [step, *_all(step.children)]
    return out


ANSWERS = ROOT / "examples" / "rehearsals"
BUNDLED = [
    "deactivate-se-ee-roles",
    "deactivate-mediation-server",
    "deactivate-archiving-cdr-server",
    "deactivate-edge-server",
    "services-start-stop",
]


def state_dir() -> Path:
    return Path(os.environ["OCSRUN_STATE_DIR"])


def only_run() -> str:
    runs = [r.info.run_id for r in LocalDirStore(state_dir()).list_runs()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("name", BUNDLED)
def test_rehearse_each_bundled_runbook_with_its_answers(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, err = run_main(
        capsys, "rehearse", f"ocs2007.{name}", "--answers", str(ANSWERS / f"{name}.yaml")
    )
    assert (code, err) == (0, "")
    assert "REHEARSAL" in out and "Run rehearsed" in out
    run_id = only_run()
    recs = journal_records(state_dir(), run_id)
    assert recs[0]["type"] == "run.started" and recs[0]["data"]["rehearsal"] is True  # type: ignore[index]
    assert recs[-1]["type"] == "run.finished"
    assert LocalDirStore(state_dir()).verify(run_id).ok


def test_run_show_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A real run refuses logs older than the wizard step: copy the samples, so they are new.
    for folder in ("rehearsals", "evidence"):
        shutil.copytree(ANSWERS.parent / folder, tmp_path / folder, copy_function=shutil.copy)
    code, _, err = run_main(
        capsys,
        "run",
        "ocs2007.deactivate-se-ee-roles",
        "--answers",
        str(tmp_path / "rehearsals" / "deactivate-se-ee-roles.yaml"),
    )
    assert (code, err) == (0, "")
    run_id = only_run()
    code, out, _ = run_main(capsys, "runs", "show", run_id)
    assert code == 0
    assert f"Run {run_id}: finished" in out
    assert "x2" in out  # the Web Components wizard ran twice
    assert "evidence failed" in out and "evidence passed" in out
    code, out, _ = run_main(capsys, "runs", "report", run_id, "--format", "json")
    report = json.loads(out)
    assert report["status"] == "finished" and report["target"] == "ocs-se01.contoso.com"
    steps = {s["step"]: s for s in report["steps"]}
    check = steps["deactivate-roles[web-components].wizard.check-log"]
    assert [e["result"] for e in check["evidence"]] == ["failed", "passed"]
    assert all(len(e["sha256"]) == 64 for e in check["evidence"])
    code, out, _ = run_main(capsys, "runs", "report", run_id, "--format", "md")
    assert out.startswith("# Change record: ")
    number = render_number("deactivate-se-ee-roles.yaml", "deactivate-roles.wizard.check-log")
    assert f"| {number} `deactivate-roles[front-end].wizard.check-log` | done |" in out


def test_override_and_secret_in_journal_and_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "params: {token: sesame}\n"
        "defaults: {after_step: done}\n"
        "steps: {closed: {window: override, override_reason: approved by CAB CHG-77}}\n"
    )
    code, out, err = run_main(
        capsys, "run", str(DATA / "exec" / "window.yaml"), "--answers", str(answers)
    )
    assert (code, err) == (0, "")
    run_id = only_run()
    journal = journal_path(state_dir(), run_id).read_text()
    assert "sesame" not in journal and "sesame" not in out
    passed = [r for r in journal_records(state_dir(), run_id) if r["type"] == "gate.passed"]
    assert passed[0]["data"]["argv"][-1] == "***"  # type: ignore[index]
    _, report, _ = run_main(capsys, "runs", "report", run_id)
    assert "approved by CAB CHG-77" in report.split("## Overrides")[1].split("##")[0]
    assert "sesame" not in report and "`token` = `***`" in report


def test_no_terminal_and_no_answers_is_refused_at_once() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocsrun",
            "run",
            "ocs2007.services-start-stop",
            "--target",
            "ocs01.contoso.com",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not a terminal" in result.stderr and "--answers" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_target_and_bad_params_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    edge = str(ANSWERS / "deactivate-edge-server.yaml")
    code, _, err = run_main(
        capsys,
        "run",
        "ocs2007.deactivate-edge-server",
        "--answers",
        edge,
        "--target",
        "bad target!",
    )
    assert code == 2 and "does not match" in err
    answers = str(ANSWERS / "services-start-stop.yaml")
    code, _, err = run_main(
        capsys,
        "run",
        "ocs2007.services-start-stop",
        "--answers",
        answers,
        "--param",
        "action=reboot",
    )
    assert code == 2 and "'reboot' is not one of: stop, start, restart" in err
    code, _, err = run_main(
        capsys, "run", "ocs2007.services-start-stop", "--answers", answers, "--param", "nope=1"
    )
    assert code == 2 and "unknown param 'nope'" in err
    assert LocalDirStore(state_dir()).list_runs() == []


def test_missing_answer_exits_2_naming_the_question(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "target: ocs01.contoso.com\nparams: {action: stop}\ndefaults: {acknowledge: true}\n"
    )
    code, _, err = run_main(capsys, "run", "ocs2007.services-start-stop", "--answers", str(answers))
    assert code == 2
    assert "no answer for product-version: gate" in err
    assert journal_records(state_dir(), only_run())[-1]["type"] == "run.interrupted"


def test_resume_refuses_a_changed_runbook_unless_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    book = tmp_path / "book.yaml"
    source = (ROOT / "runbooks" / "ocs2007" / "services-start-stop.yaml").read_text()
    book.write_text(source)
    partial = tmp_path / "partial.yaml"
    partial.write_text(
        "target: ocs01.contoso.com\nparams: {action: stop}\n"
        "defaults: {acknowledge: true, after_step: done}\n"
        "steps: {log-on: {gate: true}, product-version: {gate: true},"
        " confirm-server: {gate: ocs01.contoso.com}}\n"
    )
    code, _, err = run_main(capsys, "run", str(book), "--answers", str(partial))
    assert code == 2 and "roles-on-computer: choice" in err
    run_id = only_run()
    book.write_text(
        source.replace(
            "title: Open Computer Management", "title: Open Computer Management (as administrator)"
        )
    )
    full = ANSWERS / "services-start-stop.yaml"
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(full))
    assert code == 1
    assert "step changed: open-computer-management" in err and "--accept-changes" in err
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(full), "--accept-changes")
    assert (code, err) == (0, "")
    recs = journal_records(state_dir(), run_id)
    types = [r["type"] for r in recs]
    assert "run.changes-accepted" in types and types[-1] == "run.finished"
    done = [r["data"]["step"] for r in recs if r["type"] == "step.done"]  # type: ignore[index]
    # Unchanged steps are not asked again; the changed one (done before) is.
    assert done.count("log-on") == 1 and done.count("open-computer-management") == 2
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(full))
    assert code == 1 and "finished" in err


HOLDER = """
import sys
from pathlib import Path
from ocsrun.store.local import LocalDirStore
held = LocalDirStore(Path(sys.argv[1])).acquire_lock(
    "ocs2007.services-start-stop", "ocs01.contoso.com", "other-run-1")
print("held", flush=True)
sys.stdin.readline()
held.release()
"""


def test_lock_refuses_a_second_run_with_the_holders_details(
    capsys: pytest.CaptureFixture[str],
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, _, err = run_main(
            capsys,
            "run",
            "ocs2007.services-start-stop",
            "--answers",
            str(ANSWERS / "services-start-stop.yaml"),
        )
        # --break-lock never takes a live holder's lock.
        code2, _, err2 = run_main(
            capsys,
            "run",
            "ocs2007.services-start-stop",
            "--break-lock",
            "--answers",
            str(ANSWERS / "services-start-stop.yaml"),
        )
    finally:
        assert holder.stdin is not None
        holder.communicate("\n", timeout=30)
    assert code == 3 and code2 == 3
    assert "other-run-1" in err and "operator" in err and "started" in err
    assert "still running" in err2
    assert LocalDirStore(state_dir()).list_runs() == []  # nothing was created for a refused run
    # Released: now it runs.
    code, _, _ = run_main(
        capsys,
        "run",
        "ocs2007.services-start-stop",
        "--answers",
        str(ANSWERS / "services-start-stop.yaml"),
    )
    assert code == 0
