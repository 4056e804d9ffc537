"""Output formats for validation results. Each reporter: list of FileResult → text.

REPORTERS is the one registry: its keys are exactly `ocsrun validate --format`'s choices.
This module imports nothing heavy (no yaml, jsonschema or jinja2), so the command can build
its option from the registry itself.

The JSON format is a stable interface (version 1):
    {"version": 1,
     "files": [{"path": str, "diagnostics": [{"line": int, "col": int, "severity": str,
                                                "message": str, "rule": str}]}],
     "summary": {"files": int, "errors": int, "warnings": int, "files_with_problems": int}}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ocsrun.review import ci_formats
from ocsrun.runbook.diagnostic import Diagnostic

if TYPE_CHECKING:
    from ocsrun.runbook.validation import FileResult

Reporter = Callable[[Sequence["FileResult"]], str]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(results: Sequence[FileResult]) -> str:
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    with_problems = sum(1 for r in results if r.diagnostics)
    head = f"{_plural(len(results), 'file')} checked: "
    if not errors and not warnings:
        return head + "no problems"
    counts = [_plural(n, w) for n, w in ((errors, "error"), (warnings, "warning")) if n]
    return head + ", ".join(counts) + f" in {_plural(with_problems, 'file')}"


def text(results: Sequence[FileResult]) -> str:
    diagnostics = sorted((d for r in results for d in r.diagnostics), key=Diagnostic.sort_key)
    lines = [str(d) for d in diagnostics]
    lines.append(summary_line(results))
    return "\n".join(lines) + "\n"


def _diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "line": diagnostic.position.line,
        "col": diagnostic.position.col,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "rule": diagnostic.rule,
    }


def json_report(results: Sequence[FileResult]) -> str:
    files = [
        {"path": r.path, "diagnostics": [_diagnostic_json(d) for d in r.diagnostics]}
        for r in sorted(results, key=lambda r: r.path)
    ]
    summary = {
        "files": len(results),
        "errors": sum(r.errors for r in results),
        "warnings": sum(r.warnings for r in results),
        "files_with_problems": sum(1 for r in results if r.diagnostics),
    }
    return json.dumps({"version": 1, "files": files, "summary": summary}, indent=2) + "\n"


REPORTERS: dict[str, Reporter] = {
    "text": text,  # path:line:col: severity: message [rule], then a summary line
    "json": json_report,  # the stable object above
    "github": ci_formats.github,  # workflow-command annotations
    "sarif": ci_formats.sarif,  # SARIF 2.1.0 for code scanning
}
