"""Resume is self-contained: the run keeps its runbook's source files (issue 9, seam 6)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import DATA, ROOT, run_main

from ocsrun.run.state import snapshot_sources
from ocsrun.runbook.build import load_runbook
from ocsrun.runbook.sources import collect
from ocsrun.store import journal

NAME = "deactivate-mediation-server"
FULL = ROOT / "examples" / "rehearsals" / f"{NAME}.yaml"


def _state() -> Path:
    return Path(os.environ["OCSRUN_STATE_DIR"])


def _interrupted_rehearsal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[str, Path]:
    """A rehearsal of a copy of a bundled runbook (with its fragment), stopped midway."""
    book = tmp_path / "book"
    shutil.copytree(ROOT / "runbooks" / "ocs2007", book)
    partial = tmp_path / "partial.yaml"
    # Without the default gate answer the run stops at the first gate (exit 2, interrupted).
    partial.write_text(FULL.read_text().replace("\n  gate: true\n", "\n"))
    code, _, err = run_main(
        capsys, "rehearse", str(book / f"{NAME}.yaml"), "--answers", str(partial)
    )
    assert code == 2 and "no answer for" in err
    (run_id,) = os.listdir(_state() / "runs")
    return run_id, book


def _full_answers(tmp_path: Path) -> Path:
    answers = tmp_path / "full.yaml"
    evidence = ROOT / "examples" / "evidence"
    answers.write_text(FULL.read_text().replace("../evidence/", f"{evidence}/"))
    return answers


@pytest.mark.parametrize("how", ["deleted", "moved"])
def test_resume_uses_the_copy_kept_with_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, how: str
) -> None:
    run_id, book = _interrupted_rehearsal(capsys, tmp_path)
    snapshot = (_state() / "runs" / run_id / "snapshot.yaml").read_bytes()
    kept = snapshot_sources(snapshot)
    assert kept is not None
    main, files = kept
    assert main == f"{NAME}.yaml"
    assert set(files) == {main, "fragments/deactivation-wizard.yaml"}
    assert files[main] == (book / main).read_text()
    if how == "deleted":
        shutil.rmtree(book)
    else:
        book.rename(tmp_path / "elsewhere")
    code, out, err = run_main(capsys, "resume", run_id, "--answers", str(_full_answers(tmp_path)))
    assert (code, err) == (0, "")
    assert "going on with the copy kept with the run" in out
    assert "Run rehearsed" in out
    journal = (_state() / "runs" / run_id / "journal.jsonl").read_text().splitlines()
    assert json.loads(journal[-1])["type"] == "run.finished"


def test_a_present_file_is_still_compared_with_the_snapshot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, book = _interrupted_rehearsal(capsys, tmp_path)
    fragment = book / "fragments" / "deactivation-wizard.yaml"
    fragment.write_text(fragment.read_text().replace("title: ", "title: Changed ", 2))
    code, out, err = run_main(capsys, "resume", run_id, "--answers", str(_full_answers(tmp_path)))
    assert code == 1
    assert "changed since run" in err and "--accept-changes" in err
    assert "copy kept with the run" not in out


def test_a_copy_that_does_not_match_the_snapshot_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, book = _interrupted_rehearsal(capsys, tmp_path)
    shutil.rmtree(book)
    path = _state() / "runs" / run_id / "snapshot.yaml"
    data = json.loads(path.read_text())
    name = data["sources"]["main"]
    data["sources"]["files"][name] = data["sources"]["files"][name].replace(
        "title: ", "title: Edited ", 3
    )
    path.write_text(json.dumps(data))
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(_full_answers(tmp_path)))
    assert code == 1
    # run.started recorded the snapshot's sha256: the edit is caught before the copy is used.
    assert "snapshot: its sha256 is not the one run.started recorded" in err


def test_an_old_run_without_a_copy_still_needs_its_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, book = _interrupted_rehearsal(capsys, tmp_path)
    shutil.rmtree(book)
    path = _state() / "runs" / run_id / "snapshot.yaml"
    data = json.loads(path.read_text())
    del data["sources"]
    data["format"] = "ocsrun-snapshot/1"
    path.write_text(json.dumps(data))
    # Older runs recorded no snapshot sha256 in run.started either: rewrite the chain so.
    journal_file = _state() / "runs" / run_id / "journal.jsonl"
    old = [journal.decode(line) for line in journal_file.read_bytes().splitlines()]
    prev, lines = journal.GENESIS, []
    for record in old:
        record_data = {k: v for k, v in record.data.items() if k != "snapshot_sha256"}
        again = journal.make_record(
            record.seq, record.type, record_data, prev, operator=record.operator, ts=record.ts
        )
        lines.append(journal.encode(again))
        prev = again.hash
    journal_file.write_bytes(b"".join(lines))
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(_full_answers(tmp_path)))
    assert code == 1
    assert f"the runbook of run {run_id} is gone" in err and "keeps no copy" in err


def test_a_secret_default_is_not_kept_in_the_copy(tmp_path: Path) -> None:
    source = (DATA / "exec" / "window.yaml").read_text()
    marker = "    secret: true\n"
    assert marker in source
    book = tmp_path / "secret.yaml"
    book.write_text(source.replace(marker, marker + "    default: open-sesame-42\n"))
    files = collect(book, load_runbook(book))
    assert files is not None
    (text,) = files.values()
    assert "open-sesame-42" not in text
    assert 'default: "***"' in text
    # The copy is still a valid runbook that builds to the same model as the snapshot holds.
    copy = tmp_path / "copy" / "secret.yaml"
    copy.parent.mkdir()
    copy.write_text(text)
    assert load_runbook(copy).params[0].default == "***"
