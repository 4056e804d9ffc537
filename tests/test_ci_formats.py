"""CI output formats: GitHub workflow commands and SARIF 2.1.0 (checked against the schema)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jsonschema
import pytest
from conftest import DATA, ROOT

from ocsrun.errors import Position
from ocsrun.review.ci_formats import GITHUB_CAP, github, sarif
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.rule_catalog import RULES, WARNING_RULES
from ocsrun.runbook.validation import FileResult, validate_paths

SCHEMA = DATA / "sarif" / "sarif-2.1.0.schema.json"


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def result(path: str, *diagnostics: Diagnostic) -> FileResult:
    return FileResult(path, diagnostics, None)


def diag(
    severity: Severity, rule: str = "schema", line: int = 3, col: int = 5, message: str = "bad"
) -> Diagnostic:
    return Diagnostic(Position("books/a.yaml", line, col), severity, message, rule)


def validate_sarif(text: str) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(text)
    jsonschema.validate(log, schema())
    return log


# --- rule catalog ----------------------------------------------------------------------


def test_catalog_covers_every_rule_in_the_format_doc() -> None:
    doc = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Semantic rules") :]
    rules = set(re.findall(r"^\| `([a-z-]+)` \|", section, re.MULTILINE))
    assert len(rules) > 20
    assert rules <= set(RULES)
    assert set(RULES) >= WARNING_RULES
    for rule, (short, help_text) in RULES.items():
        assert short and help_text, rule


def test_catalog_covers_rules_the_validator_reports() -> None:
    found = {d.rule for r in validate_paths([str(DATA / "runbooks" / "invalid")]) for d in
             r.diagnostics}  # fmt: skip
    assert found - set(RULES) == set()


# --- GitHub ---------------------------------------------------------------------------


def test_github_annotation_format_and_escaping() -> None:
    d = Diagnostic(
        Position("dir,1/a:b.yaml", 4, 2), Severity.ERROR, "50% wrong\r\nsecond line", "bad-regex"
    )
    lines = github([result("dir,1/a:b.yaml", d)]).splitlines()
    assert lines[0] == (
        "::error file=dir%2C1/a%3Ab.yaml,line=4,col=2,"
        "title=ocsrun bad-regex%3A Regex does not compile or is too long"
        "::50%25 wrong%0D%0Asecond line"
    )
    assert lines[1] == "ocsrun validate: 1 file checked, 1 error, 0 warnings"


def test_github_levels_and_unknown_positions() -> None:
    out = github(
        [
            result(
                "books/a.yaml",
                diag(Severity.INFO, line=0, col=0),
                diag(Severity.WARNING, "missing-schema-comment", col=0),
            )
        ]
    ).splitlines()
    assert out[0].startswith("::warning file=books/a.yaml,line=3,title=")
    assert out[1].startswith("::notice file=books/a.yaml,title=")


def test_github_most_severe_first_and_capped_per_level() -> None:
    errors = [diag(Severity.ERROR, line=i) for i in range(1, 15)]
    warnings = [diag(Severity.WARNING, "unknown-related", line=i) for i in range(1, 4)]
    out = github([result("books/a.yaml", *warnings, *errors)]).splitlines()
    annotated = [line for line in out if line.startswith("::error file=")]
    # GitHub's limit counts the "more not shown" line: 9 annotations and it make 10.
    assert len(annotated) == GITHUB_CAP - 1
    assert [int(re.search(r"line=(\d+)", a).group(1)) for a in annotated] == list(range(1, 10))  # type: ignore[union-attr]
    assert out[GITHUB_CAP - 1] == "::error::5 more errors not shown; run ocsrun validate locally"
    assert len([line for line in out if line.startswith("::error")]) == GITHUB_CAP
    assert all(line.startswith("::warning file=") for line in out[GITHUB_CAP : GITHUB_CAP + 3])
    assert "ocsrun validate: 1 file checked, 14 errors, 3 warnings" in out
    # the ones not annotated are still in the log, as plain text
    assert out[-5:] == [f"  books/a.yaml:{i}:5: error: bad [schema]" for i in range(10, 15)]
    assert out[-6] == "Not annotated:"


def test_github_clean_run_is_just_the_summary() -> None:
    assert (
        github([result("books/a.yaml")])
        == "ocsrun validate: 1 file checked, 0 errors, 0 warnings\n"
    )


# --- SARIF -----------------------------------------------------------------------------


def test_sarif_empty_run_is_valid() -> None:
    log = validate_sarif(sarif([]))
    assert log["version"] == "2.1.0"
    assert log["$schema"]
    assert len(log["runs"]) == 1
    assert log["runs"][0]["results"] == []


def test_sarif_rules_and_results() -> None:
    text = sarif(
        [
            result(
                "books/a.yaml",
                diag(Severity.ERROR, "duplicate-id", 7, 9, "step id 'a' twice"),
                diag(Severity.WARNING, "missing-schema-comment", 1, 1),
                diag(Severity.INFO, "custom-rule", 0, 0),
            )
        ]
    )
    log = validate_sarif(text)
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ocsrun"
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert ids[: len(RULES)] == list(RULES)
    assert "custom-rule" in ids
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
    assert rules[ids.index("missing-schema-comment")]["defaultConfiguration"]["level"] == "warning"
    assert rules[ids.index("duplicate-id")]["defaultConfiguration"]["level"] == "error"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    dup = by_rule["duplicate-id"]
    assert ids[dup["ruleIndex"]] == "duplicate-id"
    assert dup["level"] == "error"
    assert dup["message"]["text"] == "step id 'a' twice"
    location = dup["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "books/a.yaml"
    assert location["region"] == {"startLine": 7, "startColumn": 9}
    assert by_rule["missing-schema-comment"]["level"] == "warning"
    assert by_rule["custom-rule"]["level"] == "note"
    assert "region" not in by_rule["custom-rule"]["locations"][0]["physicalLocation"]


def test_sarif_uri_is_relative_and_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    absolute = str(ROOT / "books dir" / "a.yaml")
    d = Diagnostic(Position(absolute, 2, 1), Severity.ERROR, "x", "schema")
    log = validate_sarif(sarif([result(absolute, d)]))
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "books%20dir/a.yaml"


def test_sarif_of_the_invalid_corpus_is_schema_valid() -> None:
    results = validate_paths([str(DATA / "runbooks" / "invalid")])
    log = validate_sarif(sarif(results))
    count = sum(len(r.diagnostics) for r in results)
    assert count > 0
    assert len(log["runs"][0]["results"]) == count


def test_sarif_is_deterministic() -> None:
    results = validate_paths([str(DATA / "runbooks" / "invalid")])
    assert sarif(results) == sarif(list(reversed(results)))
