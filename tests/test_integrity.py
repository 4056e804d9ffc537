"""Run integrity (issue 11): one writer per run, a journal anchored end to end, no planted files.

Races use real processes released together; tampering edits the files a local store keeps.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, cli_env, journal_path, journal_records, run_child, run_main

from ocsrun.errors import LockHeld
from ocsrun.store import journal
from ocsrun.store.local import LocalDirStore

BOOK = DATA / "integrity" / "side-effect.yaml"
PARTIAL = DATA / "integrity" / "partial.yaml"
FULL = DATA / "integrity" / "full.yaml"
TARGET = "ocs-se01.contoso.com"
HEAD = re.compile(r"^\s*Head: ([0-9a-f]{64})$", re.MULTILINE)

# Imports everything a resume needs, then waits for the start signal: the two racers differ
# only by when the kernel schedules them, not by how long their imports took.
RACER = """
import sys, time
from pathlib import Path
from ocsrun.cli import main
import ocsrun.run.session, ocsrun.run.executor, ocsrun.runbook.build, ocsrun.store.local
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.0005)
main(sys.argv[2:])
"""


def _state() -> Path:
    return Path(os.environ["OCSRUN_STATE_DIR"])


def _interrupted(
    capsys: pytest.CaptureFixture[str], marker: Path, *extra: str, rehearse: bool = False
) -> str:
    """A run of BOOK stopped at its first gate (exit 2); its id."""
    before = set(os.listdir(_state() / "runs")) if (_state() / "runs").exists() else set()
    command = "rehearse" if rehearse else "run"
    code, _, err = run_main(
        capsys,
        command,
        str(BOOK),
        "--target",
        TARGET,
        "--param",
        f"marker={marker}",
        "--answers",
        str(PARTIAL),
        *extra,
    )
    assert code == 2, err
    (run_id,) = set(os.listdir(_state() / "runs")) - before
    return run_id


def _race(state: Path, tmp_path: Path, *argv: str) -> list[subprocess.CompletedProcess[str]]:
    go = tmp_path / "go"
    go.unlink(missing_ok=True)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(state),
        )
        for _ in range(2)
    ]
    go.write_text("go")
    done = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(racer.args, racer.returncode, out, err))
    return done


def _assert_clean_journal(state: Path, run_id: str) -> list[dict[str, object]]:
    records = journal_records(state, run_id)
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(1, len(records) + 1))
    assert LocalDirStore(state).verify(run_id).ok
    return records


# --- 1. one writer per run -------------------------------------------------------------------


@pytest.mark.parametrize("rehearse", [False, True], ids=["run", "rehearsal"])
def test_two_resumes_at_once_exactly_one_proceeds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rehearse: bool
) -> None:
    rounds = 20 if not rehearse else 5
    state = _state()
    held = 0
    for round_no in range(rounds):
        marker = tmp_path / f"marker-{round_no}"
        run_id = _interrupted(capsys, marker, rehearse=rehearse)
        done = _race(state, tmp_path, "resume", run_id, "--answers", str(FULL))
        codes = sorted(d.returncode for d in done)
        # One proceeds; the other exits 3 naming the holder, or (scheduled only after the
        # winner's whole session, which a loaded machine can do) finds the run finished.
        assert codes in ([0, 3], [0, 1]), [(d.returncode, d.stderr) for d in done]
        loser = next(d for d in done if d.returncode != 0)
        held += loser.returncode == 3
        wanted = f"run {run_id} is locked by run {run_id}" if loser.returncode == 3 else "finished"
        assert wanted in loser.stderr
        assert "Traceback" not in loser.stderr + loser.stdout
        assert loser.stderr.count("\n") == 1  # one line
        records = _assert_clean_journal(state, run_id)
        assert [r["type"] for r in records].count("run.resumed") == 1
        assert records[-1]["type"] == "run.finished"
        # The side effect happened once (a rehearsal does not execute the command at all).
        assert (marker.read_text() if marker.exists() else "") == ("" if rehearse else "x")
    # The real runs hold their session 0.3 s in the command: the racers did meet.
    assert rehearse or held > 0


def test_a_lock_removed_during_the_run_stops_it_before_the_next_step(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    locks = _state() / "locks"
    remove = f"import glob, os; [os.remove(p) for p in glob.glob({str(locks)!r} + '/*.lock')]"
    code, out, err = run_main(
        capsys,
        "run",
        str(BOOK),
        "--target",
        TARGET,
        "--param",
        f"marker={marker}",
        "--param",
        f"action={remove}",
        "--answers",
        str(FULL),
    )
    assert code == 3
    assert "was removed while it ran; stopped before the next step" in err
    records = journal_records(_state())
    # The command ran (it removed the locks); nothing was journaled after it: not its
    # result, not an interruption, nothing of the next step.
    assert marker.read_text() == "x"
    assert (records[-1]["type"], records[-1]["data"]["step"]) == ("step.started", "side-effect")
    # The session's end still names the head it left, once, after the start screen's.
    heads = HEAD.findall(out)
    assert len(heads) == 2 and heads[-1] == records[-1]["hash"] and "Run stopped" in out


def test_a_lock_taken_over_during_the_run_stops_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    locks = _state() / "locks"
    # Replace each lock file by another one (a new inode), as a takeover would.
    swap = (
        "import glob, os\n"
        f"for p in glob.glob({str(locks)!r} + '/run-*.lock'):\n"
        "    os.rename(p, p + '.old'); open(p, 'w').write('{}')"
    )
    code, _, err = run_main(
        capsys,
        "run",
        str(BOOK),
        "--target",
        TARGET,
        "--param",
        f"marker={marker}",
        "--param",
        f"action={swap}",
        "--answers",
        str(FULL),
    )
    assert code == 3 and "was taken over" in err


# --- 2. run.started is the authority over run.json -------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("rehearsal", True), ("target", "other.contoso.com"), ("runbook_version", "9.9.9")],
)
def test_edited_run_record_is_refused_by_resume_and_verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, field: str, value: object
) -> None:
    marker = tmp_path / "marker"
    run_id = _interrupted(capsys, marker)
    info_path = _state() / "runs" / run_id / "run.json"
    info = json.loads(info_path.read_text())
    info[field] = value
    info_path.write_text(json.dumps(info))
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(FULL))
    assert code == 1
    assert "its run record does not match its journal" in err
    assert not marker.exists()  # nothing ran
    code, out, _ = run_main(capsys, "runs", "verify", run_id)
    assert code == 1
    assert "run-record-mismatch" in out
    # What the run really was comes from the chain.
    _, report, _ = run_main(capsys, "runs", "report", run_id)
    assert "Change record" in report and "REHEARSAL" not in report


# --- 3. the chain's head ---------------------------------------------------------------------


def _finished_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[str, str]:
    code, out, err = run_main(
        capsys,
        "run",
        str(BOOK),
        "--target",
        TARGET,
        "--param",
        f"marker={tmp_path / 'marker'}",
        "--answers",
        str(FULL),
    )
    assert (code, err) == (0, "")
    heads = HEAD.findall(out)
    # Once at the start (before the first record of a step) and once at the end, never twice.
    assert len(heads) == 2 and heads[0] != heads[1]
    (run_id,) = os.listdir(_state() / "runs")
    return run_id, heads[-1]


def test_head_is_printed_reported_and_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, head = _finished_run(capsys, tmp_path)
    assert journal_records(_state(), run_id)[-1]["hash"] == head
    _, show, _ = run_main(capsys, "runs", "show", run_id)
    assert f"head: {head}" in show
    _, report, _ = run_main(capsys, "runs", "report", run_id)
    assert f"`{head}`" in report
    _, data, _ = run_main(capsys, "runs", "report", run_id, "--format", "json")
    assert json.loads(data)["head"] == head
    assert run_main(capsys, "runs", "verify", run_id, "--head", head)[0] == 0
    assert run_main(capsys, "runs", "verify", run_id, "--head", head.upper())[0] == 0
    code, _, err = run_main(capsys, "runs", "verify", run_id, "--head", "abc")
    assert code == 2 and "64 hexadecimal digits" in err


def test_truncated_journal_fails_verify_against_the_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, head = _finished_run(capsys, tmp_path)
    path = journal_path(_state(), run_id)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))
    # Without the head, a cut-off journal is still an intact chain...
    assert run_main(capsys, "runs", "verify", run_id)[0] == 0
    # ...with the head written down at the end of the session, it is not.
    code, out, _ = run_main(capsys, "runs", "verify", run_id, "--head", head)
    assert code == 1 and "head-mismatch" in out


def _rechain(path: Path, key: bytes | None, edit: dict[str, object] | None = None) -> None:
    """Rewrite a journal's records, editing the first step.done, with every hash recomputed."""
    prev, out, edited = journal.GENESIS, [], False
    for line in path.read_bytes().splitlines():
        record = journal.decode(line)
        data = dict(record.data)
        if edit and record.type == "step.done" and not edited:
            data.update(edit)
            edited = True
        again = journal.make_record(
            record.seq, record.type, data, prev, operator=record.operator, ts=record.ts, key=key
        )
        out.append(journal.encode(again))
        prev = again.hash
    path.write_bytes(b"".join(out))


def test_recomputed_hashes_without_a_key_are_caught_only_by_the_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, head = _finished_run(capsys, tmp_path)
    _rechain(journal_path(_state(), run_id), None, {"step": "forged"})
    assert run_main(capsys, "runs", "verify", run_id)[0] == 0  # see docs/security.md
    code, out, _ = run_main(capsys, "runs", "verify", run_id, "--head", head)
    assert code == 1 and "head-mismatch" in out


KEY = "k" * 32


def test_keyed_chain_cannot_be_recomputed_without_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCSRUN_JOURNAL_KEY", KEY)
    run_id, _head = _finished_run(capsys, tmp_path)
    info = json.loads((_state() / "runs" / run_id / "run.json").read_text())
    assert info["chain"] == "hmac-sha256"
    assert journal_records(_state(), run_id)[0]["data"]["chain"] == "hmac-sha256"
    assert run_main(capsys, "runs", "verify", run_id)[0] == 0
    path = journal_path(_state(), run_id)
    original = path.read_bytes()
    # Recomputed with plain sha256, or with another key: every hash is wrong.
    for key in (None, b"another key of 32 bytes........."):
        _rechain(path, key, {"step": "forged"})
        code, out, _ = run_main(capsys, "runs", "verify", run_id)
        assert code == 1 and "hash-mismatch" in out
        path.write_bytes(original)
    # Recomputed with the key (only its holder can): intact, as it should be.
    _rechain(path, KEY.encode(), None)
    assert run_main(capsys, "runs", "verify", run_id)[0] == 0
    # Without the key, the run cannot be checked or resumed, and says why.
    monkeypatch.delenv("OCSRUN_JOURNAL_KEY")
    code, _, err = run_main(capsys, "runs", "verify", run_id)
    assert code == 1 and "keyed journal" in err and "OCSRUN_JOURNAL_KEY" in err


def test_a_downgraded_chain_fails_when_a_key_is_configured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, _head = _finished_run(capsys, tmp_path)  # unkeyed
    monkeypatch.setenv("OCSRUN_JOURNAL_KEY_FILE", str(tmp_path / "key"))
    (tmp_path / "key").write_text(KEY + "\n")
    code, out, _ = run_main(capsys, "runs", "verify", run_id)
    assert code == 1 and "unkeyed" in out
    (tmp_path / "key").write_text("short")
    code, _, err = run_main(capsys, "runs", "verify", run_id)
    assert code == 2 and "at least 16 bytes" in err


# --- 5. one lock key per server --------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "OCS-SE01.contoso.com",
        "ocs-se01.contoso.com.",
        " ocs-se01.contoso.com ",
        "Ocs-Se01.Contoso.COM.",
    ],
)
def test_spellings_of_one_target_share_one_lock(tmp_path: Path, spelling: str) -> None:
    store = LocalDirStore(tmp_path / "state")
    held = store.acquire_lock("rb", TARGET, "run-1")
    try:
        with pytest.raises(LockHeld, match="still running"):
            store.acquire_lock("rb", spelling, "run-2")
    finally:
        held.release()
    assert store.acquire_lock("rb", "ocs-se02.contoso.com", "run-3") is not None


def test_ids_with_a_trailing_newline_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(
        BOOK.read_text().replace(
            "id: test.integrity.side-effect", 'id: "test.integrity.side-effect\\n"'
        )
    )
    code, out, _ = run_main(capsys, "validate", str(book))
    assert code == 1 and "[schema]" in out and ":7:" in out  # the id's line


# --- 6. after a crash: resume, or abandon with --break-lock ----------------------------------

KILLED = """
import os, signal, sys
from pathlib import Path
from ocsrun.store.local import LocalDirStore
store = LocalDirStore(Path(sys.argv[1]))
store.acquire_lock("test.integrity.side-effect", sys.argv[2], sys.argv[3])
store.lock_run(sys.argv[3])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_after_a_crash_run_points_to_resume_and_break_lock_is_journaled_in_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = _state()
    crashed = _interrupted(capsys, tmp_path / "m1")
    # The crashed session's locks stay behind with no process, as after kill -9.
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(state), "OCS-SE01.contoso.com.", crashed],
        env=cli_env(state),
        check=False,
    )
    assert done.returncode == -signal.SIGKILL
    again = [
        "run", str(BOOK), "--target", TARGET, "--param", f"marker={tmp_path / 'm2'}",
        "--answers", str(FULL),
    ]  # fmt: skip
    code, _, err = run_main(capsys, *again)
    assert code == 3
    assert f"locked by run {crashed}" in err and "stale" in err
    assert f"ocsrun resume {crashed} --state-dir {state}" in err
    code, _, err = run_main(capsys, *again, "--break-lock")
    assert (code, err) == (0, "")
    (new,) = set(os.listdir(state / "runs")) - {crashed}
    broken = [r for r in journal_records(state, new) if r["type"] == "lock.broken"]
    assert [b["data"]["holder"]["run_id"] for b in broken] == [crashed]  # type: ignore[index]
    last = journal_records(state, crashed)[-1]
    assert last["type"] == "run.abandoned" and last["data"]["broken_by"] == new  # type: ignore[index]
    _assert_clean_journal(state, crashed)
    code, out, _ = run_main(capsys, "runs", "list")
    assert re.search(rf"{crashed}\s.*abandoned", out)
    code, _, err = run_main(capsys, "resume", crashed, "--answers", str(FULL))
    assert code == 1 and "abandoned" in err


# --- 7. planted files ------------------------------------------------------------------------


def test_a_symlinked_journal_is_not_followed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = _interrupted(capsys, tmp_path / "marker")
    path = journal_path(_state(), run_id)
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)
    before = outside.read_bytes()
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(FULL))
    assert code == 1 and "symbolic link" in err
    assert outside.read_bytes() == before
    assert run_main(capsys, "runs", "verify", run_id)[0] == 1


def test_a_symlinked_run_directory_is_not_followed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = _interrupted(capsys, tmp_path / "marker")
    run_dir = _state() / "runs" / run_id
    elsewhere = tmp_path / "elsewhere"
    run_dir.rename(elsewhere)
    run_dir.symlink_to(elsewhere)
    code, _, err = run_main(capsys, "resume", run_id, "--answers", str(FULL))
    assert code == 1 and "symbolic link" in err


def test_a_planted_lock_symlink_is_never_taken_over(tmp_path: Path) -> None:
    store = LocalDirStore(tmp_path / "state")
    store.acquire_lock("rb", "t", "run-1").release()
    target = tmp_path / "victim"
    target.write_text("keep")
    from ocsrun.store.lock import lock_path

    lock_path(store.locks_dir, "rb", "t").symlink_to(target)
    with pytest.raises(LockHeld):
        store.acquire_lock("rb", "t", "run-2", break_lock=True)
    assert target.read_text() == "keep"


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770])
def test_a_state_directory_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    state = tmp_path / "shared"
    state.mkdir()
    state.chmod(mode)
    run = ("run", str(BOOK), "--target", TARGET, "--param", "marker=m", "--answers", str(FULL))
    for args in (("runs", "list"), run):
        done = run_child(state, *args, "--state-dir", str(state))
        assert done.returncode == 1, done.stderr
        assert "is writable by others" in done.stderr and "chmod 700" in done.stderr
        assert "Traceback" not in done.stderr


def test_new_state_directories_are_private(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = _interrupted(capsys, tmp_path / "marker")
    state = _state()
    for path in (state, state / "runs", state / "locks", state / "runs" / run_id):
        assert path.stat().st_mode & 0o777 == 0o700, path
