"""The evidence gate through the real CLI with answers files: refusals, confirmations, path
re-asks and what the journal keeps (issue 10).

Runbooks: tests/data/evidence/bound.yaml (every refusal refuses) and bound-confirm.yaml (the
same gate, where a stale or reused log, or one not naming the target, may be confirmed).
Logs are written from tests/data/evidence/logs/wizard.html into the test's directory just
before the run, so they are fresh unless a test ages them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA, run_main

EVIDENCE = DATA / "evidence"
BOUND = EVIDENCE / "bound.yaml"
CONFIRM = EVIDENCE / "bound-confirm.yaml"
TARGET = "srv1.example"


def log(
    where: Path, name: str, *, server: str = TARGET, role: str = "a", result: str = "Success"
) -> str:
    text = (EVIDENCE / "logs" / "wizard.html").read_text()
    (where / name).write_text(text.format(server=server, role=role, result=result))
    return name


def run(
    capsys: pytest.CaptureFixture[str],
    where: Path,
    steps: dict[str, Any],
    runbook: Path = BOUND,
    **defaults: Any,
) -> tuple[int, str, list[dict[str, Any]]]:
    answers = {
        "defaults": {"after_step": "done", "after_failure": "goto", **defaults},
        "steps": steps,
    }
    (where / "answers.yaml").write_text(yaml.safe_dump(answers))
    code, out, err = run_main(
        capsys, "run", str(runbook), "--target", TARGET, "--answers", str(where / "answers.yaml")
    )
    state = Path(os.environ["OCSRUN_STATE_DIR"]) / "runs"
    (run_id,) = os.listdir(state)
    lines = (state / run_id / "journal.jsonl").read_text().splitlines()
    return code, out + err, [json.loads(line) for line in lines]


def only_run() -> str:
    (run_id,) = os.listdir(Path(os.environ["OCSRUN_STATE_DIR"]) / "runs")
    return run_id


def of(records: list[dict[str, Any]], kind: str, step: str | None = None) -> list[dict[str, Any]]:
    return [
        r["data"]
        for r in records
        if r["type"] == kind and (step is None or r["data"].get("step") == step)
    ]


A, B = "roles[a].check-log", "roles[b].check-log"


def test_fresh_logs_bound_to_target_and_role_pass_and_journal_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = log(tmp_path, "a.html"), log(tmp_path, "b.html", role="b")
    code, out, records = run(capsys, tmp_path, {A: {"evidence": a}, B: {"evidence": b}})
    assert code == 0, out
    (passed,) = of(records, "gate.passed", A)
    stat = (tmp_path / a).stat()
    assert passed["size"] == stat.st_size and len(passed["sha256"]) == 64
    assert passed["mtime"].endswith("Z") and passed["reader"] == {
        "kind": "html",
        "encoding": "utf-8",
    }
    assert passed["freshness"]["stale"] is False and passed["freshness"]["enforced"] is True
    assert passed["freshness"]["produced_by"] == "roles[a].run-wizard"
    assert of(records, "gate.failed") == []


def test_a_log_of_another_server_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = log(tmp_path, "other.html", server="srv10.example")
    near = log(tmp_path, "near.html", server=f"old-{TARGET}")  # contains the target's text
    a, b = log(tmp_path, "a.html"), log(tmp_path, "b.html", role="b")
    code, out, records = run(
        capsys, tmp_path, {A: {"evidence": [other, near, a]}, B: {"evidence": b}}
    )
    assert code == 0, out
    failed = of(records, "gate.failed", A)
    assert len(failed) == 2
    assert all("The log names the target" in f["reason"] for f in failed)
    assert [f["path"].rsplit("/", 1)[1] for f in failed] == [other, near]
    assert len(of(records, "gate.passed", A)) == 1


def test_a_log_of_another_role_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = log(tmp_path, "a.html")
    b_wrong, b = log(tmp_path, "b-wrong.html", role="a "), log(tmp_path, "b.html", role="b")
    code, out, records = run(capsys, tmp_path, {A: {"evidence": a}, B: {"evidence": [b_wrong, b]}})
    assert code == 0, out
    (failed,) = of(records, "gate.failed", B)
    assert "The log names the role" in failed["reason"]


def test_a_stale_log_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old, a, b = (
        log(tmp_path, "old.html"),
        log(tmp_path, "a.html"),
        log(tmp_path, "b.html", role="b"),
    )
    hour_ago = time.time() - 3600
    os.utime(tmp_path / old, (hour_ago, hour_ago))
    code, out, records = run(capsys, tmp_path, {A: {"evidence": [old, a]}, B: {"evidence": b}})
    assert code == 0, out
    (failed,) = of(records, "gate.failed", A)
    assert "before roles[a].run-wizard started" in failed["reason"]
    assert failed["freshness"]["stale"] is True
    # A log written within the allowed clock skew before the step started is fresh.
    assert of(records, "gate.passed", A)[0]["freshness"]["stale"] is False


def test_a_log_within_two_minutes_of_skew_is_fresh(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = log(tmp_path, "a.html"), log(tmp_path, "b.html", role="b")
    skewed = time.time() - 90
    os.utime(tmp_path / a, (skewed, skewed))
    code, out, records = run(capsys, tmp_path, {A: {"evidence": a}, B: {"evidence": b}})
    assert code == 0, out
    assert of(records, "gate.failed") == []


def test_the_same_log_for_two_steps_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    both = log(tmp_path, "both.html", role="a b")  # names both roles: only the reuse is wrong
    b = log(tmp_path, "b.html", role="b")
    code, out, records = run(capsys, tmp_path, {A: {"evidence": both}, B: {"evidence": [both, b]}})
    assert code == 0, out
    (failed,) = of(records, "gate.failed", B)
    assert f"was already accepted for {A}" in failed["reason"]
    assert failed["sha256"] == of(records, "gate.passed", A)[0]["sha256"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("header-only.html", "no data rows under 'Execution Result'"),
        ("one-line.txt", "no table has a column named 'Execution Result'"),
    ],
)
def test_logs_without_task_rows_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, why: str
) -> None:
    weak = tmp_path / name
    weak.write_bytes((EVIDENCE / "readers" / name).read_bytes())
    a, b = log(tmp_path, "a.html"), log(tmp_path, "b.html", role="b")
    code, out, records = run(capsys, tmp_path, {A: {"evidence": [name, a]}, B: {"evidence": b}})
    assert code == 0, out
    (failed,) = of(records, "gate.failed", A)
    assert why in failed["reason"]


def test_a_refusal_the_runbook_allows_is_confirmed_with_a_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = log(tmp_path, "other.html", server="SRV1")  # the NetBIOS name, not the FQDN
    b = log(tmp_path, "b.html", role="b")
    code, out, records = run(
        capsys,
        tmp_path,
        {
            A: {"evidence": other, "accept_evidence": True, "accept_reason": "log uses SRV1"},
            B: {"evidence": b},
        },
        runbook=CONFIRM,
    )
    assert code == 0, out
    (overridden,) = of(records, "gate.overridden", A)
    assert overridden["reason"] == "log uses SRV1"
    assert overridden["confirmed"] == ["The log names the target."]
    assert len(overridden["sha256"]) == 64 and overridden["type"] == "evidence"
    assert of(records, "gate.passed", A) == []
    code, shown, _ = run_main(capsys, "runs", "show", only_run())
    assert code == 0 and "evidence confirmed: " in shown and "log uses SRV1" in shown


def test_declining_the_confirmation_fails_the_gate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = log(tmp_path, "a.html")
    aged = time.time() - 3600
    os.utime(tmp_path / a, (aged, aged))
    fresh = log(tmp_path, "a2.html")
    b = log(tmp_path, "b.html", role="b")
    code, out, records = run(
        capsys,
        tmp_path,
        {A: {"evidence": [a, fresh], "accept_evidence": False}, B: {"evidence": b}},
        runbook=CONFIRM,
    )
    assert code == 0, out
    (failed,) = of(records, "gate.failed", A)
    assert failed["reason"].startswith("not confirmed: the file was last modified")


def test_path_typing_reasks_and_never_fails_the_gate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = log(tmp_path, "a.html"), log(tmp_path, "b.html", role="b")
    (tmp_path / "folder").mkdir()
    binary = tmp_path / "bin.log"
    binary.write_bytes(bytes(range(256)))
    deep = tmp_path / "deep.html"
    deep.write_bytes((EVIDENCE / "readers" / "deep.html").read_bytes())
    answers = ["missing.html", "folder", "bin.log", "deep.html", f'"{a}"']
    code, out, records = run(capsys, tmp_path, {A: {"evidence": answers}, B: {"evidence": b}})
    assert code == 0, out
    refused = of(records, "gate.input-refused", A)
    reasons = [r["reason"] for r in refused]
    assert "no such file" in reasons[0] and "is a directory" in reasons[1]
    assert "binary" in reasons[2] and "nested more than 256" in reasons[3]
    assert all("\n" not in r for r in reasons)
    assert of(records, "gate.failed") == []
    assert len(of(records, "gate.passed", A)) == 1
    assert "Not a file ocsrun can check: no such file" in out
    code, shown, _ = run_main(capsys, "runs", "show", only_run())
    assert code == 0 and "file not read, asked again: no such file" in shown


def test_one_unreadable_answer_stops_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, records = run(capsys, tmp_path, {A: {"evidence": "missing.html"}})
    assert code == 2
    assert "'missing.html' is not a readable file" in out and "give a list" in out
    assert records[-1]["type"] == "run.interrupted"
    assert of(records, "gate.failed") == []


def test_rehearsal_journals_the_age_but_does_not_enforce_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = log(tmp_path, "a.html"), log(tmp_path, "b.html", role="b")
    aged = time.time() - 3600
    os.utime(tmp_path / a, (aged, aged))
    answers = {
        "defaults": {"after_step": "done"},
        "steps": {A: {"evidence": a}, B: {"evidence": b}},
    }
    (tmp_path / "answers.yaml").write_text(yaml.safe_dump(answers))
    code, out, err = run_main(
        capsys,
        "rehearse",
        str(BOUND),
        "--target",
        TARGET,
        "--answers",
        str(tmp_path / "answers.yaml"),
    )
    assert code == 0, out + err
    state = Path(os.environ["OCSRUN_STATE_DIR"]) / "runs"
    (run_id,) = os.listdir(state)
    records = [json.loads(x) for x in (state / run_id / "journal.jsonl").read_text().splitlines()]
    (passed,) = of(records, "gate.passed", A)
    assert passed["freshness"] == {**passed["freshness"], "stale": True, "enforced": False}
