"""The benchmark corpus generator: deterministic, and its runbooks are valid."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun.runbook.diagnostic import Severity
from ocsrun.runbook.validation import validate_paths

sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*.yaml"))
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    corpus.generate(tmp_path / "a", 6)
    corpus.generate(tmp_path / "b", 6)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")


def test_file_does_not_depend_on_corpus_size(tmp_path: Path) -> None:
    corpus.generate(tmp_path / "small", 3)
    corpus.generate(tmp_path / "large", 8)
    small, large = _snapshot(tmp_path / "small"), _snapshot(tmp_path / "large")
    assert all(large[name] == data for name, data in small.items())


def test_other_seed_other_text(tmp_path: Path) -> None:
    corpus.generate(tmp_path / "a", 2, seed=1)
    corpus.generate(tmp_path / "b", 2, seed=2)
    a, b = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert a.keys() == b.keys()
    assert a["runbook-00000.yaml"] != b["runbook-00000.yaml"]


def test_shaped_like_the_bundled_runbooks(tmp_path: Path) -> None:
    import yaml

    paths = corpus.generate(tmp_path, 3)
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert 35 <= corpus.count_steps(data["steps"]) <= 45
        text = path.read_text(encoding="utf-8")
        for kind in ("choice:", "gate:", "for_each:", "uses:"):
            assert kind in text
        for gate in (
            "confirm",
            "typed_confirmation",
            "checklist",
            "time_window",
            "evidence",
            "command",
        ):
            assert f"type: {gate}\n" in text


def test_corpus_validates_with_no_findings(tmp_path: Path) -> None:
    corpus.generate(tmp_path, 12)
    results = validate_paths([str(tmp_path)])
    assert len(results) == 12 + corpus.FRAGMENTS
    assert [str(d) for r in results for d in r.diagnostics] == []


def test_big_runbook_validates(tmp_path: Path) -> None:
    path = corpus.write_big(tmp_path, 120)
    results = validate_paths([str(path)])
    assert [str(d) for r in results for d in r.diagnostics] == []


@pytest.mark.parametrize("every", [1, 2])
def test_broken_corpus_has_errors(tmp_path: Path, every: int) -> None:
    corpus.generate(tmp_path, 6, broken_every=every)
    results = validate_paths([str(tmp_path)])
    broken = {r.path for r in results if any(d.severity is Severity.ERROR for d in r.diagnostics)}
    expected = {str(tmp_path / f"runbook-{i:05d}.yaml") for i in range(0, 6, every)}
    assert broken == expected


@pytest.mark.parametrize("every", [1, 3])
def test_expected_counts_are_what_validate_reports(tmp_path: Path, every: int) -> None:
    """The benchmark checks every timed run against `corpus.expected`: it must be exact."""
    corpus.generate(tmp_path, 24, broken_every=every)
    results = validate_paths([str(tmp_path)])
    errors = [d for r in results for d in r.diagnostics if d.severity is Severity.ERROR]
    others = [d for r in results for d in r.diagnostics if d.severity is not Severity.ERROR]
    expected = corpus.expected(24, broken_every=every)
    assert len(results) == expected["files"]
    assert len(errors) == expected["errors"]
    assert others == []
    assert sum(1 for r in results if r.diagnostics) == expected["files_with_findings"]
    assert expected["errors"] > 24 // every  # most broken files get both breakages
