"""The pre-commit hooks in .pre-commit-hooks.yaml, run by pre-commit itself (`try-repo`) on a
repository of runbooks: a commit that changes only a fragment, and breaks the runbooks that
include it, must fail the validate hook (issue 13.6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
FRAGMENT = Path("runbooks/ocs2007/fragments/deactivation-wizard.yaml")


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *ident, *args], cwd=repo, env=env, check=True, capture_output=True)


def try_repo(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_COLOR": "never",
    }
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "ocsrun-validate", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_validate_hook_fails_a_fragment_change_that_breaks_an_including_runbook(
    tmp_path: Path,
) -> None:
    if not PRE_COMMIT.exists():
        # pre-commit is in the dev extra; CI installs it, so there this is a failure.
        missing = "pre-commit is not installed (pip install -e '.[dev]')"
        assert os.environ.get("CI") != "true", missing
        pytest.skip(missing)
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "runbooks", repo / "runbooks")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "runbooks")
    home = tmp_path / "pre-commit-home"

    # A new fragment param without a default: every runbook that includes the fragment now
    # misses an argument, while the fragment itself is valid.
    fragment = repo / FRAGMENT
    text = fragment.read_text(encoding="utf-8")
    assert "\nparams:\n" in text
    fragment.write_text(
        text.replace("\nparams:\n", "\nparams:\n  ticket:\n    type: string\n", 1),
        encoding="utf-8",
    )
    git(repo, "add", str(FRAGMENT))
    broken = try_repo(repo, home, "--files", str(FRAGMENT))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    includers = sorted(
        p.relative_to(repo).as_posix()
        for p in (repo / "runbooks").rglob("*.yaml")
        if "uses: fragments/deactivation-wizard.yaml" in p.read_text(encoding="utf-8")
    )
    assert len(includers) >= 2
    for runbook in includers:
        assert f"{runbook}:" in broken.stdout and "[include-args]" in broken.stdout, broken.stdout

    # The fragment put back: the same hook passes.
    fragment.write_text(text, encoding="utf-8")
    git(repo, "add", str(FRAGMENT))
    fixed = try_repo(repo, home, "--files", str(FRAGMENT))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Passed" in fixed.stdout
