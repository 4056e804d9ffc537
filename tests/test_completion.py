"""Shell completion (click's): bundled runbook ids and run ids complete (docs/completion.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, cli_env, run_child


def complete(state: Path, words: str, shell: str = "bash") -> list[str]:
    env = cli_env(state)
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env.update(COMP_WORDS=words, COMP_CWORD=str(cword), _OCSRUN_COMPLETE=f"{shell}_complete")
    done = subprocess.run(
        [sys.executable, "-m", "ocsrun"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bundled_runbook_ids_complete(tmp_path: Path) -> None:
    lines = complete(tmp_path, "ocsrun run ocs2007.deactivate-e")
    assert lines == ["plain,ocs2007.deactivate-edge-server", "file,ocs2007.deactivate-e"]
    assert "plain,ocs2007.services-start-stop" in complete(tmp_path, "ocsrun rehearse ocs")


def test_run_ids_complete_from_the_store(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert complete(state, "ocsrun resume ") == []  # no store yet: nothing, and no error
    answers = ROOT / "examples" / "rehearsals" / "services-start-stop.yaml"
    done = run_child(state, "rehearse", "ocs2007.services-start-stop", "--answers", str(answers))
    assert done.returncode == 0, done.stderr
    (run_id,) = [p.name for p in (state / "runs").iterdir()]
    assert complete(state, "ocsrun resume ") == [f"plain,{run_id}"]
    assert complete(state, f"ocsrun runs show {run_id[:4]}") == [f"plain,{run_id}"]
    assert complete(state, "ocsrun runs report x") == []


def test_the_shell_script_is_what_click_prints(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["_OCSRUN_COMPLETE"] = "bash_source"
    done = subprocess.run(
        [sys.executable, "-m", "ocsrun"], env=env, capture_output=True, text=True, check=False
    )
    assert "_ocsrun_completion()" in done.stdout and "complete " in done.stdout


def test_a_store_typed_after_the_run_id_is_the_one_completed_from(tmp_path: Path) -> None:
    # click parses only the words before the cursor; the store option may come after it.
    default, other = tmp_path / "default", tmp_path / "other"
    answers = ROOT / "examples" / "rehearsals" / "services-start-stop.yaml"
    done = run_child(other, "rehearse", "ocs2007.services-start-stop", "--answers", str(answers))
    assert done.returncode == 0, done.stderr
    (run_id,) = [p.name for p in (other / "runs").iterdir()]
    # The default store (OCSRUN_STATE_DIR) holds no run: only the typed option finds it.
    assert complete(default, "ocsrun resume ") == []
    # The cursor on a started id in the middle of the line (click's split drops an empty
    # word there, so a bare TAB mid-line is not a case any click program completes).
    start = run_id[:4]
    for line in (
        f"ocsrun resume {start} --state-dir {other}",
        f"ocsrun resume {start} --state-dir={other}",
        f"ocsrun runs show {start} --store {other}",
        f"ocsrun runs report {start} --format md --store={other}",
    ):
        assert complete_at(default, line, 2 if "resume" in line else 3) == [f"plain,{run_id}"]
    # Before the run id, as click parses it, still works.
    assert complete(default, f"ocsrun resume --state-dir {other} ") == [f"plain,{run_id}"]
    # A `~` typed on the line is the user's home, as the shell would make it on Enter.
    env_home = {"HOME": str(tmp_path)}
    line = f"ocsrun resume {start} --state-dir ~/other"
    assert complete_at(default, line, 2, env_home) == [f"plain,{run_id}"]


def complete_at(
    state: Path, line: str, cword: int, extra: dict[str, str] | None = None
) -> list[str]:
    """Completion of word `cword` of a whole command line, as bash hands it over."""
    env = {**cli_env(state), **(extra or {})}
    env.update(COMP_WORDS=line, COMP_CWORD=str(cword), _OCSRUN_COMPLETE="bash_complete")
    done = subprocess.run(
        [sys.executable, "-m", "ocsrun"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [item for item in done.stdout.splitlines() if item]
