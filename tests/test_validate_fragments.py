"""`validate FILE` checks the fragments FILE includes and resolves `related` beyond the files
given (issue 13.6, 15.1); every command that loads a runbook refuses a broken fragment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_main

from ocsrun.runbook.parallel import validate_given
from ocsrun.runbook.validation import validate_paths

BUNDLED = ROOT / "runbooks" / "ocs2007"
HOSTILE = ROOT / "tests" / "data" / "hostile"


def copy_bundled(tmp_path: Path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(BUNDLED, target)
    return target


def test_one_runbook_validates_its_fragments_and_knows_its_siblings() -> None:
    file = BUNDLED / "deactivate-edge-server.yaml"
    results = validate_paths([str(file)])
    assert [Path(r.path).name for r in results] == [
        "deactivate-edge-server.yaml",
        "deactivation-wizard.yaml",
    ]
    assert results[1].path == str(BUNDLED / "fragments" / "deactivation-wizard.yaml")
    # `related: [ocs2007.services-start-stop]` is a sibling file that was not given.
    assert [d for r in results for d in r.diagnostics] == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_broken_fragment_fails_the_runbook_given_alone(tmp_path: Path, jobs: int) -> None:
    tree = copy_bundled(tmp_path)
    fragment = tree / "fragments" / "deactivation-wizard.yaml"
    text = fragment.read_text(encoding="utf-8")
    fragment.write_text(text.replace("goto: run-wizard", "goto: run-wizzard"), encoding="utf-8")
    line = text[: text.index("goto: run-wizard")].count("\n") + 1
    given = [str(tree / name) for name in sorted(p.name for p in tree.glob("*.yaml"))]
    results = validate_given(given, jobs)
    found = [(r.path, d.position.line, d.rule) for r in results for d in r.diagnostics]
    assert found == [(str(fragment), line, "unknown-goto")]


def test_related_resolves_against_the_bundled_catalog(tmp_path: Path) -> None:
    source = (BUNDLED / "deactivate-edge-server.yaml").read_text(encoding="utf-8")
    alone = tmp_path / "alone.yaml"
    alone.write_text(
        source.replace("uses: fragments/", "uses: missing/").replace(
            "    - ocs2007.services-start-stop", "    - ocs2007.services-start-stop\n    - no.such"
        ),
        encoding="utf-8",
    )
    (result,) = validate_paths([str(alone)])
    related = [(d.message, d.rule) for d in result.diagnostics if d.rule == "unknown-related"]
    assert related == [
        (
            "related runbook 'no.such' is not among the files validated, next to them, or bundled",
            "unknown-related",
        )
    ]


@pytest.mark.parametrize("command", ["render", "rehearse", "run"])
def test_commands_that_load_a_runbook_refuse_a_broken_fragment(
    command: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    main = HOSTILE / "editing" / "fragment-unknown-gate-type" / "main.yaml"
    answers = HOSTILE / "fixtures" / "answers.yaml"
    args = [command, str(main)] + (["--answers", str(answers)] if command != "render" else [])
    code, out, err = run_main(capsys, *args)
    assert code == 1, out + err
    where = main.parent / "fragments" / "frag.yaml"
    assert f"{where}:12:13: step 'one' gate: 'type' 'teleport' is not one of" in err


@pytest.mark.parametrize("jobs", [1, 2])
def test_include_findings_name_each_including_file(tmp_path: Path, jobs: int) -> None:
    """References are resolved once per directory in a run (FragmentCache.resolve); a reference
    that does not resolve is still a finding in every file that makes it, at its own line."""
    tree = copy_bundled(tmp_path)
    broken = []
    for file in sorted(tree.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        if "uses: fragments/" in text:
            file.write_text(text.replace("uses: fragments/", "uses: gone/"), encoding="utf-8")
            lines = [n + 1 for n, line in enumerate(text.splitlines()) if "fragments/" in line]
            broken += [(str(file), line, "unknown-include") for line in lines]
    assert len({path for path, _, _ in broken}) >= 2
    results = validate_given([str(tree)], jobs)
    found = [
        (r.path, d.position.line, d.rule)
        for r in results
        for d in r.diagnostics
        if d.rule == "unknown-include"
    ]
    assert found == broken


def test_a_fragment_read_by_the_include_rules_is_reported_under_its_own_name(
    tmp_path: Path,
) -> None:
    """The include rules read each fragment once (under its full path) and its own check
    reuses that reading: its loader findings (a duplicate key, a YAML 1.1 scalar) must still
    name the fragment as the runbook's include reaches it, at their lines."""
    from ocsrun.runbook.validation import validate_runbook_tree

    tree = copy_bundled(tmp_path)
    fragment = tree / "fragments" / "deactivation-wizard.yaml"
    text = fragment.read_text(encoding="utf-8")
    head, rest = text.split("\nsteps:\n", 1)
    fragment.write_text(f"{head}\nx-a: 1\nx-a: 2\nx-b: yes\nsteps:\n{rest}", encoding="utf-8")
    line = head.count("\n") + 2
    runbook = tree / "deactivate-edge-server.yaml"
    results = validate_runbook_tree(runbook, "rb/deactivate-edge-server.yaml")
    assert results[1].path == "rb/fragments/deactivation-wizard.yaml"
    found = [(d.position.path, d.position.line, d.rule) for d in results[1].diagnostics]
    shown = "rb/fragments/deactivation-wizard.yaml"
    assert (shown, line + 1, "duplicate-key") in found, found
    assert (shown, line + 2, "yaml11") in found, found
    assert all(path == shown for path, _, _ in found), found
