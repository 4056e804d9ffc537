"""Validation results for CI: GitHub workflow commands and SARIF 2.1.0 for code scanning.

Both take the same `FileResult` list as the other reporters and return text; the validate
command chooses one with `--format github|sarif`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ocsrun import __version__
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.rule_catalog import RULES, WARNING_RULES, describe

if TYPE_CHECKING:  # the module stays light: `validate` imports it with the reporter registry
    from ocsrun.runbook.validation import FileResult

# GitHub shows at most this many annotations of each level per step and drops the rest; the
# "N more not shown" line is one of them, so with more findings than this, one fewer is shown.
GITHUB_CAP = 10
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://ocsrun.dev"

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _diagnostics(results: Sequence[FileResult]) -> list[Diagnostic]:
    found = [d for r in results for d in r.diagnostics]
    return sorted(found, key=lambda d: (d.severity.rank, *d.sort_key()))


# --- GitHub workflow commands ------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(d: Diagnostic) -> str:
    p = d.position
    props = [f"file={_escape_property(_relative(p.path))}"]
    if p.line:
        props.append(f"line={p.line}")
        if p.col:
            props.append(f"col={p.col}")
    props.append(f"title={_escape_property(f'ocsrun {d.rule}: {describe(d.rule)[0]}')}")
    return f"::{_COMMANDS[d.severity]} {','.join(props)}::{_escape_data(d.message)}"


def github(results: Sequence[FileResult]) -> str:
    """Workflow commands: the most severe findings as annotations, then a plain summary.

    Past GITHUB_CAP findings of one level, GITHUB_CAP - 1 are annotated and the rest summarised
    in one more command (GITHUB_CAP in all) and listed in plain text, so nothing is lost.
    """
    lines: list[str] = []
    hidden: list[Diagnostic] = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        level = [d for d in _diagnostics(results) if d.severity is severity]
        shown = level if len(level) <= GITHUB_CAP else level[: GITHUB_CAP - 1]
        lines += [_annotation(d) for d in shown]
        rest = level[len(shown) :]
        if rest:
            hidden += rest
            noun = _COMMANDS[severity] + ("s" if len(rest) != 1 else "")
            lines.append(
                f"::{_COMMANDS[severity]}::{len(rest)} more {noun} not shown; "
                "run ocsrun validate locally"
            )
    lines.append(_summary(results))
    if hidden:
        lines.append("Not annotated:")
        lines += [f"  {d}" for d in hidden]
    return "\n".join(lines) + "\n"


def _summary(results: Sequence[FileResult]) -> str:
    errors = sum(1 for r in results for d in r.diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for r in results for d in r.diagnostics if d.severity is Severity.WARNING)
    return (
        f"ocsrun validate: {len(results)} file{'s' if len(results) != 1 else ''} checked, "
        f"{errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


# --- SARIF 2.1.0 ------------------------------------------------------------------------


def _relative(path: str) -> str:
    """Paths as the repository sees them: relative to the working directory, `/`-separated."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.relative_to(Path.cwd())
        except ValueError:
            return candidate.as_posix()
    return PurePosixPath(*candidate.parts).as_posix() if candidate.parts else path


def _rule_ids(diagnostics: Sequence[Diagnostic]) -> list[str]:
    extra = sorted({d.rule for d in diagnostics} - set(RULES))
    return [*RULES, *extra]


def _rule(rule_id: str) -> dict[str, Any]:
    short, help_text = describe(rule_id)
    level = "warning" if rule_id in WARNING_RULES else "error"
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": short},
        "fullDescription": {"text": f"{short}. {help_text}"},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": level},
    }


def _result(d: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": quote(_relative(d.position.path), safe="/._-~")}
    }
    if d.position.line:
        region: dict[str, int] = {"startLine": d.position.line}
        if d.position.col:
            region["startColumn"] = d.position.col
        physical["region"] = region
    return {
        "ruleId": d.rule,
        "ruleIndex": index[d.rule],
        "level": _SARIF_LEVELS[d.severity],
        "message": {"text": d.message},
        "locations": [{"physicalLocation": physical}],
    }


def sarif(results: Sequence[FileResult]) -> str:
    """One SARIF 2.1.0 log with one run, every catalogued rule, and a result per finding."""
    diagnostics = sorted((d for r in results for d in r.diagnostics), key=lambda d: d.sort_key())
    rule_ids = _rule_ids(diagnostics)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ocsrun",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rule_id) for rule_id in rule_ids],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(d, index) for d in diagnostics],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
