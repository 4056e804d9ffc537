"""Semantic diff: every change kind on a case pair, safety classification, formats, git mode."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DATA, run_main

from ocsrun.review.diff import SAFETY_KINDS, Change, FileDiff, Kind, diff_runbooks, strip_comments
from ocsrun.review.diff_format import as_json, as_markdown, as_text
from ocsrun.review.gitrev import compare_paths, compare_revisions
from ocsrun.runbook import model as m
from ocsrun.runbook.build import load_runbook

CASES = DATA / "diff"
BASE = CASES / "base.yaml"

# case file (base.yaml with one edit, see tests/data/diff/make_cases.py) -> kinds reported
EXPECTED: dict[str, set[str]] = {
    # safety-relevant
    "gate-removed": {"gate-removed"},
    "gate-removed-kind": {"gate-removed", "wording-changed"},
    "gate-weakened": {"gate-weakened"},
    "gate-weakened-valid-for": {"gate-weakened"},
    "gate-weakened-abort": {"gate-weakened"},
    "gate-weakened-checklist": {"gate-weakened"},
    "gate-type-changed": {"gate-type-changed"},
    "expect-changed": {"expect-changed"},
    "evidence-loosened": {"evidence-loosened", "fragment-changed"},
    "evidence-changed": {"evidence-changed", "fragment-changed"},
    "time-window-widened": {"time-window-widened"},
    "override-loosened": {"override-loosened"},
    "on-failure-changed": {"on-failure-changed"},
    "warning-removed": {"warning-removed"},
    "warning-severity-lowered": {"warning-severity-lowered"},
    "order-changed": {"order-changed", "loop-changed", "param-changed"},
    "order-changed-after": {"order-changed"},
    "order-shortened": {"order-shortened", "param-changed"},
    "step-made-skippable": {"step-made-skippable"},
    "step-moved-before-gate": {"step-moved-before-gate", "step-moved"},
    "condition-changed": {"condition-changed"},
    "command-changed": {"command-changed"},
    "param-default-changed": {"param-default-changed"},
    # not safety-relevant
    "gate-added": {"gate-added"},
    "gate-strengthened": {"gate-strengthened"},
    "gate-limit-changed": {"gate-limit-changed"},
    "warning-added": {"warning-added"},
    "warning-severity-raised": {"warning-severity-raised"},
    "step-added": {"step-added"},
    "step-removed": {"step-removed"},
    "step-moved": {"step-moved"},
    "step-made-required": {"step-made-required"},
    "step-kind-changed": {"step-kind-changed", "wording-changed"},
    "choice-changed": {"choice-changed"},
    "loop-changed": {"loop-changed"},
    "fragment-changed": {"fragment-changed"},
    "param-added": {"param-added"},
    "param-removed": {"param-removed"},
    "param-changed": {"param-changed"},
    "wording-changed": {"wording-changed"},
    "metadata-changed": {"metadata-changed"},
    "whitespace-only": {"whitespace-only"},
    "comment-only": {"comment-only"},
    "formatting-only": {"formatting-only"},
}
# Reported only for whole files, exercised by the git tests below.
FILE_KINDS = {"runbook-added", "runbook-removed", "runbook-renamed"}
SAFETY = {
    "gate-removed", "gate-weakened", "gate-type-changed", "expect-changed", "evidence-loosened",
    "evidence-changed", "time-window-widened", "override-loosened", "on-failure-changed",
    "warning-removed", "warning-severity-lowered", "order-changed", "order-shortened",
    "step-made-skippable", "step-moved-before-gate", "condition-changed", "command-changed",
    "param-default-changed",
}  # fmt: skip


def kinds(diff: FileDiff) -> set[str]:
    return {c.kind.value for c in diff.changes}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_reports_exactly_the_expected_kinds(case: str) -> None:
    diff = compare_paths(BASE, CASES / f"{case}.yaml")
    assert not diff.error
    assert kinds(diff) == EXPECTED[case]


def test_every_case_file_is_listed() -> None:
    files = {p.stem for p in CASES.glob("*.yaml")} - {"base"}
    assert files == set(EXPECTED)


def test_every_kind_is_covered_by_a_case() -> None:
    covered = set().union(*EXPECTED.values()) | FILE_KINDS
    assert covered == {k.value for k in Kind}


def test_safety_classification() -> None:
    assert {k.value for k in SAFETY_KINDS} == SAFETY
    for case, expected in EXPECTED.items():
        diff = compare_paths(BASE, CASES / f"{case}.yaml")
        assert {c.kind.value for c in diff.changes if c.safety} == expected & SAFETY, case


def test_identical_files_have_no_changes() -> None:
    diff = compare_paths(BASE, BASE)
    assert diff.changes == ()
    assert diff.status == "unchanged"


def _change(case: str, kind: str) -> Change:
    diff = compare_paths(BASE, CASES / f"{case}.yaml")
    return next(c for c in diff.changes if c.kind.value == kind)


def test_changes_carry_old_and_new_values() -> None:
    c = _change("param-default-changed", "param-default-changed")
    assert (c.old, c.new) == ("careful", "fast")
    c = _change("gate-weakened", "gate-weakened")
    assert (c.old, c.new) == ("typed_confirmation", "confirm")
    assert c.path == "confirm-host"
    assert c.summary.endswith("(the operator no longer types `{{ target }}`)")
    c = _change("time-window-widened", "time-window-widened")
    assert c.old == [{"days": ["sat", "sun"], "hours": None}]
    assert c.new == [{"days": ["fri", "sat", "sun"], "hours": None}]
    c = _change("command-changed", "command-changed")
    assert c.new == ["check", "--force", "{{ target }}"]


def test_nested_paths_go_through_loops_and_fragments() -> None:
    c = _change("evidence-loosened", "evidence-loosened")
    assert c.path == "loop.logcheck.check-log"
    assert c.summary == (
        "gate `loop.logcheck.check-log` weakened: evidence check removed (forbid `(?i)fail`)"
    )
    assert c.old == {
        "kind": "forbid",
        "pattern": "(?i)fail",
        "must": None,
        "description": "",
        "column": "",
        "min_rows": 1,
        "otherwise": "refuse",
    }


def test_moved_before_gate_names_the_gate() -> None:
    c = _change("step-moved-before-gate", "step-moved-before-gate")
    assert c.path == "after-window"
    assert "gate `window`" in c.summary


def test_gate_removed_summary_names_the_gate_type() -> None:
    c = _change("gate-removed", "gate-removed")
    assert c.path == "finish"
    assert "confirm" in c.summary


def test_time_window_narrowing_is_not_safety() -> None:
    old = load_runbook(CASES / "time-window-widened.yaml")
    new = load_runbook(BASE)
    changes = diff_runbooks(old, new)
    assert [c.kind for c in changes] == [Kind.GATE_STRENGTHENED]


def test_reverse_of_weakening_is_not_safety() -> None:
    for case in ("gate-weakened", "override-loosened", "gate-weakened-valid-for"):
        changes = diff_runbooks(load_runbook(CASES / f"{case}.yaml"), load_runbook(BASE))
        assert not any(c.safety for c in changes), case


def test_warning_without_id_is_matched_by_text() -> None:
    w1 = m.RunbookWarning("first", m.Severity.WARNING)
    w2 = m.RunbookWarning("second", m.Severity.DANGER)
    new = m.RunbookWarning("inserted", m.Severity.CAUTION)
    rb = load_runbook(BASE)
    old_rb = m.Runbook(rb.kind, rb.metadata, rb.params, (w1, w2), rb.steps)
    new_rb = m.Runbook(rb.kind, rb.metadata, rb.params, (new, w1, w2), rb.steps)
    assert [c.kind for c in diff_runbooks(old_rb, new_rb)] == [Kind.WARNING_ADDED]


def test_strip_comments_keeps_hashes_in_quotes_and_words() -> None:
    text = "a: 'x # y'  # gone\nb: c#d\n# whole line\nc: \"#\" # gone"
    assert strip_comments(text) == "a: 'x # y'  \nb: c#d\n\nc: \"#\" "


# --- formats -------------------------------------------------------------------------


def _diffs(*cases: str) -> list[FileDiff]:
    return [compare_paths(BASE, CASES / f"{c}.yaml") for c in cases]


def test_markdown_first_line_names_the_first_safety_change() -> None:
    text = as_markdown(_diffs("wording-changed", "evidence-loosened"))
    first = text.splitlines()[0]
    assert first.startswith("**⚠ Safety-relevant changes: 1** — gate `loop.logcheck.check-log`")
    assert "evidence check removed (forbid `(?i)fail`)" in first


def test_markdown_layout_table_then_safety_then_others() -> None:
    text = as_markdown(_diffs("wording-changed", "gate-removed"))
    table = text.index("| Runbook file |")
    safety = text.index("### ⚠ Safety-relevant changes")
    other = text.index("### Other changes")
    assert table < safety < other
    assert "**gate-removed** `finish`" in text


def test_markdown_without_safety_changes() -> None:
    first = as_markdown(_diffs("wording-changed")).splitlines()[0]
    assert first.startswith("**✓ No safety-relevant changes** — 1 other")
    assert as_markdown([]).splitlines()[0] == "**✓ No runbook changes**"


def test_markdown_escapes_runbook_text() -> None:
    change = Change(Kind.WORDING_CHANGED, "a", "title", "title <b>*x*</b> | y", "1", "2")
    text = as_markdown([FileDiff("a.yaml", "a.yaml", "modified", (change,))])
    assert "title \\<b\\>\\*x\\*\\</b\\> \\| y" in text


def test_markdown_stays_under_the_comment_limit() -> None:
    long = "x" * 5000
    changes = tuple(
        Change(Kind.WORDING_CHANGED, f"s{i}", "title", f"step `s{i}` reworded", long, long)
        for i in range(30)
    )
    diff = FileDiff("a.yaml", "a.yaml", "modified", changes)
    short = as_markdown([diff], limit=60_000)
    assert len(short) <= 60_000
    assert long not in short  # values dropped first
    assert short.count("**wording-changed**") == 30
    cut = as_markdown([diff], limit=1_000)
    assert len(cut) <= 1_000
    assert cut.startswith("**✓ No safety-relevant changes**")
    assert cut.endswith("*(truncated: run `ocsrun diff` locally for the full list)*\n")


def test_text_format_marks_safety_changes_first() -> None:
    lines = as_text(_diffs("step-moved-before-gate")).splitlines()
    assert lines[1].startswith("  ! step-moved-before-gate:")
    assert lines[-1] == "1 safety-relevant change, 1 other change in 1 file"


def test_json_format_is_complete() -> None:
    data = json.loads(as_json(_diffs("command-changed")))
    assert data["summary"]["safety_changes"] == 1
    change = data["files"][0]["changes"][0]
    assert change["kind"] == "command-changed"
    assert change["safety"] is True
    assert change["old"] == ["check", "{{ target }}"]


def test_cli_fail_on_safety(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("diff", str(BASE))
    code, out, _ = run_main(capsys, *args, str(CASES / "gate-removed.yaml"), "--fail-on", "safety")
    assert code == 1
    assert "gate-removed" in out
    code, _, _ = run_main(capsys, *args, str(CASES / "wording-changed.yaml"), "--fail-on", "safety")
    assert code == 0
    code, _, _ = run_main(capsys, *args, str(CASES / "wording-changed.yaml"), "--fail-on", "any")
    assert code == 1
    code, _, _ = run_main(capsys, *args, str(CASES / "gate-removed.yaml"))
    assert code == 0


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "diff", str(BASE))
    assert code == 2
    assert "OLD and NEW" in err
    code, _, err = run_main(capsys, "diff", str(BASE), "nowhere.yaml")
    assert code == 2


def test_cli_load_error_is_reported_not_fatal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: ocsrun/v1\nkind: runbook\n", encoding="utf-8")
    code, out, _ = run_main(capsys, "diff", str(BASE), str(broken))
    assert code == 0
    assert "error: does not load" in out
    code, _, _ = run_main(capsys, "diff", str(BASE), str(broken), "--fail-on", "safety")
    assert code == 1


# --- git mode ------------------------------------------------------------------------


SMALL = """\
# yaml-language-server: $schema=../schemas/runbook.schema.json
format: ocsrun/v1
kind: runbook
metadata:
  id: test.small
  title: A small unrelated runbook
  version: 0.1.0
  source:
    document: Another document
    section: Elsewhere
steps:
  - id: only
    title: The only step
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    book = repo / "books"
    (book / "fragments").mkdir(parents=True)
    shutil.copy(BASE, book / "main.yaml")
    shutil.copy(CASES / "fragments" / "check.yaml", book / "fragments" / "check.yaml")
    shutil.copy(CASES / "wording-changed.yaml", book / "other.yaml")
    (repo / "notes.yaml").write_text("not: a runbook\n", encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def test_git_fragment_change_reaches_every_runbook_using_it(repo: Path) -> None:
    fragment = repo / "books" / "fragments" / "check.yaml"
    fragment.write_text(
        fragment.read_text().replace("          - forbid: '(?i)fail'\n", ""), encoding="utf-8"
    )
    diffs = compare_revisions("HEAD", None, [], repo)
    assert [d.new_path for d in diffs] == ["books/main.yaml", "books/other.yaml"]
    for d in diffs:
        assert d.via == ("books/fragments/check.yaml",)
        assert kinds(d) == {"evidence-loosened"}
    first = as_markdown(diffs).splitlines()[0]
    assert first.startswith("**⚠ Safety-relevant changes: 2** — gate `loop.logcheck.check-log`")


def test_git_added_removed_renamed_and_between_commits(repo: Path) -> None:
    git(repo, "mv", "books/other.yaml", "books/renamed.yaml")
    (repo / "books" / "new.yaml").write_text(SMALL, encoding="utf-8")
    (repo / "books" / "main.yaml").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    diffs = {d.display: d for d in compare_revisions("HEAD~1", "HEAD", [], repo)}
    renamed = "books/other.yaml → books/renamed.yaml"
    assert set(diffs) == {"books/main.yaml", "books/new.yaml", renamed}
    assert kinds(diffs["books/main.yaml"]) == {"runbook-removed"}
    assert kinds(diffs["books/new.yaml"]) == {"runbook-added"}
    assert kinds(diffs[renamed]) == {"runbook-renamed"}
    assert all(not d.safety_count for d in diffs.values())


def test_git_whitespace_only_and_untracked(repo: Path) -> None:
    main_yaml = repo / "books" / "main.yaml"
    main_yaml.write_text(main_yaml.read_text() + "\n\n", encoding="utf-8")
    shutil.copy(BASE, repo / "books" / "untracked.yaml")
    diffs = {d.display: d for d in compare_revisions("HEAD", None, ["books"], repo)}
    assert kinds(diffs["books/main.yaml"]) == {"whitespace-only"}
    assert diffs["books/untracked.yaml"].status == "added"


def test_git_runbook_that_no_longer_loads_is_an_error_line(repo: Path) -> None:
    (repo / "books" / "main.yaml").write_text("format: ocsrun/v1\nkind: runbook\nsteps: 3\n")
    diffs = compare_revisions("HEAD", None, [], repo)
    assert len(diffs) == 1
    assert diffs[0].error.startswith("does not load at working tree")
    assert "Could not compare" in as_markdown(diffs)


def test_git_cli_head_argument_and_paths(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    main_yaml = repo / "books" / "main.yaml"
    main_yaml.write_text(main_yaml.read_text().replace("override: never", "override: reason"))
    code, out, _ = run_main(capsys, "diff", "--git", "HEAD", "books", "--format", "md",
                            "--fail-on", "safety")  # fmt: skip
    assert code == 1
    assert out.splitlines()[0] == (
        "**⚠ Safety-relevant changes: 1** — gate `window` weakened: the operator may now "
        "override the window with a reason (was never)"
    )
    git(repo, "commit", "-q", "-am", "loosen")
    code, out, _ = run_main(capsys, "diff", "--git", "HEAD~1", "HEAD", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["safety_changes"] == 1
    code, _, err = run_main(capsys, "diff", "--git", "no-such-rev")
    assert code == 2
    assert "not a git revision" in err


def test_fragment_file_diffs_on_its_own() -> None:
    fragment = CASES / "fragments" / "check.yaml"
    assert compare_paths(fragment, fragment).changes == ()
    diff = compare_paths(fragment, CASES / "fragments" / "check-no-forbid.yaml")
    assert kinds(diff) == {"evidence-loosened"}
    assert diff.changes[0].path == "check-log"


def test_git_fragment_text_only_change_is_reported_on_the_fragment(repo: Path) -> None:
    fragment = repo / "books" / "fragments" / "check.yaml"
    fragment.write_text(fragment.read_text() + "# trailing comment\n", encoding="utf-8")
    diffs = compare_revisions("HEAD", None, [], repo)
    assert [(d.new_path, kinds(d)) for d in diffs] == [
        ("books/fragments/check.yaml", {"comment-only"})
    ]


def test_the_work_tree_side_reads_only_files_of_the_repository(tmp_path: Path) -> None:
    from ocsrun.review.gitrev import Side

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "in.yaml").write_text("format: ocsrun/v1\n", encoding="utf-8")
    (tmp_path / "out.yaml").write_text("format: ocsrun/v1\n", encoding="utf-8")
    (repo / "link.yaml").symlink_to(tmp_path / "out.yaml")
    side = Side(repo, None)
    assert side.text("sub/in.yaml") == "format: ocsrun/v1\n"
    assert side.text("../out.yaml") is None
    assert side.text(str(tmp_path / "out.yaml")) is None
    assert side.text("link.yaml") is None
