"""The evidence gate at a real terminal (pexpect): a mistyped and a quoted path, a log that
needs an explicit confirmation, and Ctrl-C at the goto question after a failed log (issue 10).
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from conftest import DATA, journal_records
from test_pty import finish, run_id_of, spawn

CONFIRM = DATA / "evidence" / "bound-confirm.yaml"
LOG = (DATA / "evidence" / "logs" / "wizard.html").read_text()


def log(
    where: Path, name: str, server: str = "srv1.example", role: str = "a", result: str = "Success"
) -> Path:
    path = where / name
    path.write_text(LOG.format(server=server, role=role, result=result))
    return path


def of(records: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [r["data"] for r in records if r["type"] == kind]  # type: ignore[misc]


def test_path_reask_and_an_explicit_confirmation_at_the_terminal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    netbios = log(tmp_path, "a log.html", server="SRV1")  # a space in the name, quoted below
    b = log(tmp_path, "b.html", role="b")
    child = spawn(state, "run", str(CONFIRM), "--target", "srv1.example")
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(tmp_path / "missing.html"))
    child.expect("Not a file ocsrun can check: no such file")
    child.expect("Path to the file")
    child.sendline(str(tmp_path))
    child.expect("is a directory")
    child.expect("Path to the file")
    child.sendline(f'"{netbios}"')  # as Windows "Copy as path" gives it
    child.expect("The log names the target")
    child.expect(r"Accept this file anyway\?.*\[y/n\]")
    child.sendline("y")
    child.expect("Why is this file right anyway")
    child.sendline("the log shows the NetBIOS name SRV1")
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(b))
    child.expect("Check passed")
    assert finish(child) == 0
    records = journal_records(state)
    refused = of(records, "gate.input-refused")
    assert [r["step"] for r in refused] == ["roles[a].check-log"] * 2
    assert "no such file" in str(refused[0]["reason"]) and "directory" in str(refused[1]["reason"])
    (overridden,) = of(records, "gate.overridden")
    assert overridden["reason"] == "the log shows the NetBIOS name SRV1"
    assert overridden["path"] == str(netbios) and len(str(overridden["sha256"])) == 64
    assert of(records, "gate.failed") == []


def test_ctrl_c_at_the_goto_question_is_asked_again_on_resume(tmp_path: Path) -> None:
    state = tmp_path / "state"
    failed = log(tmp_path, "failed.html", result="Failure")
    child = spawn(state, "run", str(CONFIRM), "--target", "srv1.example")
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(failed))
    child.expect(r"Check failed \(failure 1\)")
    child.expect("goto / abort")
    child.kill(signal.SIGINT)
    child.expect("ocsrun resume")
    assert finish(child) == 130
    run_id = run_id_of(state)
    a = log(tmp_path, "a.html")  # the wizard is run again: a new log
    b = log(tmp_path, "b.html", role="b")
    resumed = spawn(state, "resume", run_id)
    index = resumed.expect(["goto / abort", "Path to the file"])
    assert index == 0, "the pending question must come first, not the log again"
    resumed.sendline("goto")
    resumed.expect("done / ")  # the wizard step, entered again
    resumed.sendline("done")
    resumed.expect("Path to the file")
    resumed.sendline(str(a))
    resumed.expect("done / ")
    resumed.sendline("done")
    resumed.expect("Path to the file")
    resumed.sendline(str(b))
    assert finish(resumed) == 0
    records = journal_records(state)
    kinds = [r["type"] for r in records]
    resumed_at = kinds.index("run.resumed")
    assert kinds[resumed_at + 1 :].count("gate.failed") == 0
    retry = next(r["data"] for r in records[resumed_at:] if r["type"] == "step.retry")
    assert retry["cause"] == "roles[a].check-log" and retry["step"] == "roles[a].run-wizard"
    assert len(of(records, "gate.passed")) == 2


BOUND = DATA / "evidence" / "bound.yaml"
READERS = DATA / "evidence" / "readers"


def _bad_log(where: Path, kind: str) -> Path:
    if kind in {"header-only", "one-line", "binary", "deep", "latin1"}:
        name = {
            "header-only": "header-only.html",
            "one-line": "one-line.txt",
            "binary": "binary.bin",
            "deep": "deep.html",
            "latin1": "latin1.txt",
        }[kind]
        path = where / name
        path.write_bytes((READERS / name).read_bytes())
        return path
    if kind == "other-server":
        return log(where, "other.html", server="srv2.example")
    path = log(where, "old.html")
    aged = path.stat().st_mtime - 3600
    os.utime(path, (aged, aged))
    return path


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("other-server", "The log names the target"),
        ("stale", "before roles[a].run-wizard started"),
        ("header-only", "no data rows under 'Execution Result'"),
        ("one-line", "no table has a column named 'Execution Result'"),
    ],
)
def test_each_refusal_at_the_terminal(tmp_path: Path, kind: str, shown: str) -> None:
    state = tmp_path / "state"
    bad = _bad_log(tmp_path, kind)
    child = spawn(state, "run", str(BOUND), "--target", "srv1.example")
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(bad))
    child.expect(r"Check failed \(failure 1\)")
    child.expect(re.escape(shown))
    child.expect("goto / abort")
    child.sendline("goto")
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(log(tmp_path, "a.html")))
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(log(tmp_path, "b.html", role="b")))
    assert finish(child) == 0
    records = journal_records(state)
    (failed,) = of(records, "gate.failed")
    assert shown in str(failed["reason"]) and failed["path"] == str(bad)
    assert len(str(failed.get("sha256", ""))) == 64
    assert len(of(records, "gate.passed")) == 2


def test_the_same_log_for_the_second_role_is_refused_at_the_terminal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    both = log(tmp_path, "both.html", role="a b")
    child = spawn(state, "run", str(BOUND), "--target", "srv1.example")
    for answer in ("done", str(both), "done", str(both)):
        child.expect("done / " if answer == "done" else "Path to the file")
        child.sendline(answer)
    child.expect("was already accepted for roles\\[a\\].check-log")
    child.expect("goto / abort")
    child.sendline("abort")
    assert finish(child) == 4
    records = journal_records(state)
    (failed,) = of(records, "gate.failed")
    assert failed["step"] == "roles[b].check-log" and "already accepted" in str(failed["reason"])


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("binary", "binary"),
        ("latin1", "not valid UTF-8 (byte 0xe9 at offset 2)"),
        ("deep", "nested more than 256 elements deep"),
    ],
)
def test_bad_input_is_one_line_and_asked_again_at_the_terminal(
    tmp_path: Path, kind: str, shown: str
) -> None:
    state = tmp_path / "state"
    bad = _bad_log(tmp_path, kind)
    child = spawn(state, "run", str(BOUND), "--target", "srv1.example")
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(bad))
    child.expect("Not a file ocsrun can check: .*" + re.escape(shown))
    child.expect("Path to the file")
    child.sendline(str(log(tmp_path, "a.html")))
    child.expect("done / ")
    child.sendline("done")
    child.expect("Path to the file")
    child.sendline(str(log(tmp_path, "b.html", role="b")))
    assert finish(child) == 0
    assert "Traceback" not in str(child.before)
    records = journal_records(state)
    (refused,) = of(records, "gate.input-refused")
    assert shown in str(refused["reason"]) and "\n" not in str(refused["reason"])
    assert of(records, "gate.failed") == []
