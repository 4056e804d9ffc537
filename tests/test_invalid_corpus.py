"""The runbook corpus: every invalid file yields exactly the diagnostics it declares.

Each file in tests/data/runbooks/invalid/ declares its expected diagnostics in its leading
comment lines, one per line: `# expect: LINE:COL RULE`. Files that cannot carry a comment
(binary, wrong encoding) have a sidecar `NAME.expect` with lines `LINE:COL RULE`.

Include targets live in `invalid/includes/`, which this test skips: they are exercised through
the runbooks that include them (include-cycle, include-args, unknown-include, include-escape),
and some are deliberately broken. Include targets in `valid/fragments/` must be valid on their
own and are checked with the other valid files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun.runbook.diagnostic import Severity
from ocsrun.runbook.validation import validate_paths

RUNBOOKS = ROOT / "tests" / "data" / "runbooks"
INVALID = RUNBOOKS / "invalid"
VALID = RUNBOOKS / "valid"
SKIPPED_DIRS = {"includes"}
EXPECT = re.compile(r"^#\s*expect:\s*(\d+):(\d+)\s+([a-z0-9-]+)\s*$")
SIDECAR = re.compile(r"^(\d+):(\d+)\s+([a-z0-9-]+)$")

Expected = set[tuple[int, int, str]]


def invalid_cases() -> list[Path]:
    return sorted(
        p
        for p in INVALID.rglob("*.yaml")
        if not SKIPPED_DIRS.intersection(p.relative_to(INVALID).parts[:-1])
    )


def expected_for(path: Path) -> Expected:
    sidecar = path.with_suffix(".expect")
    if sidecar.exists():
        lines = sidecar.read_text(encoding="utf-8").splitlines()
        matches = [SIDECAR.match(line.strip()) for line in lines if line.strip()]
    else:
        leading = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            leading.append(line)
        matches = [EXPECT.match(line) for line in leading if "expect:" in line]
    assert all(matches), f"{path.name}: malformed expect line"
    return {(int(m.group(1)), int(m.group(2)), m.group(3)) for m in matches if m}


@pytest.mark.parametrize("path", invalid_cases(), ids=lambda p: p.name)
def test_invalid_file_yields_exactly_its_declared_diagnostics(path: Path) -> None:
    expected = expected_for(path)
    assert expected, f"{path.name} declares no expected diagnostics"
    result = validate_paths([str(path)])[0]  # then the fragments it includes
    produced = {(d.position.line, d.position.col, d.rule) for d in result.diagnostics}
    assert produced == expected, "\n".join(str(d) for d in result.diagnostics)


def test_corpus_is_large_enough() -> None:
    assert len(invalid_cases()) >= 35


def _documented_rules() -> set[str]:
    text = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    table = text.split("## Semantic rules", 1)[1]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.MULTILINE))


def test_every_documented_rule_has_an_invalid_case() -> None:
    covered = {rule for path in invalid_cases() for (_, _, rule) in expected_for(path)}
    documented = _documented_rules()
    assert len(documented) >= 25
    assert documented - covered == set()


def test_valid_files_produce_no_diagnostics_at_all() -> None:
    results = validate_paths([str(VALID)])
    assert len(results) >= 3
    problems = [str(d) for r in results for d in r.diagnostics]
    assert problems == []


@pytest.mark.parametrize("path", sorted(VALID.rglob("*.yaml")), ids=lambda p: p.name)
def test_each_valid_file_alone_has_no_errors(path: Path) -> None:
    result = validate_paths([str(path)])[0]  # then the fragments it includes
    errors = [str(d) for d in result.diagnostics if d.severity is Severity.ERROR]
    assert errors == []
    assert result.document is not None
