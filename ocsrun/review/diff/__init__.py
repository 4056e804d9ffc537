"""Semantic diff of two runbooks: what changed for the operator, and whether it is safety-relevant.

Steps are matched by their dotted path (`deactivate-roles.wizard.check-log`), never by line, so
re-wrapping text or reordering keys is not a change to the procedure. Every change gets a `Kind`;
`Kind.safety` says which ones a second reviewer must look at. Pure: models and texts in, changes
out; loading files and reading git revisions happen elsewhere.

The package, by concern: `changes` (the model: kinds, changes, file diffs), `align` (matching
steps across the sides, moves), `steps` and `gates` (what changed in a matched step or gate),
`lists` (metadata, params, warnings), `texts` (edits that leave the runbook the same).
"""

from __future__ import annotations

from ocsrun.review.diff.align import StepDiff
from ocsrun.review.diff.changes import SAFETY_KINDS, Change, FileDiff, JsonValue, Kind, plain
from ocsrun.review.diff.lists import metadata_changes, param_changes, warning_changes
from ocsrun.review.diff.texts import diff_texts, strip_comments
from ocsrun.runbook import model as m

__all__ = [
    "SAFETY_KINDS",
    "Change",
    "FileDiff",
    "JsonValue",
    "Kind",
    "diff_runbooks",
    "diff_texts",
    "plain",
    "strip_comments",
]


def diff_runbooks(old: m.Runbook, new: m.Runbook) -> list[Change]:
    """Every semantic change from `old` to `new`, in document order."""
    out: list[Change] = []
    out += metadata_changes(old.metadata, new.metadata)
    out += param_changes("", "params", old.params, new.params)
    out += warning_changes("", "warnings", old.warnings, new.warnings)
    out += StepDiff(old.steps, new.steps).changes()
    return out
