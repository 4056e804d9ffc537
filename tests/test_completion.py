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
