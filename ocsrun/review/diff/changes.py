"""The model of a diff: kinds of change (and which are safety-relevant), changes, file diffs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JsonValue = Any


class Kind(StrEnum):
    # safety-relevant
    GATE_REMOVED = "gate-removed"
    GATE_WEAKENED = "gate-weakened"
    GATE_TYPE_CHANGED = "gate-type-changed"
    EXPECT_CHANGED = "expect-changed"
    EVIDENCE_LOOSENED = "evidence-loosened"
    EVIDENCE_CHANGED = "evidence-changed"
    TIME_WINDOW_WIDENED = "time-window-widened"
    OVERRIDE_LOOSENED = "override-loosened"
    ON_FAILURE_CHANGED = "on-failure-changed"
    WARNING_REMOVED = "warning-removed"
    WARNING_SEVERITY_LOWERED = "warning-severity-lowered"
    ORDER_CHANGED = "order-changed"
    ORDER_SHORTENED = "order-shortened"
    STEP_MADE_SKIPPABLE = "step-made-skippable"
    STEP_MOVED_BEFORE_GATE = "step-moved-before-gate"
    CONDITION_CHANGED = "condition-changed"
    COMMAND_CHANGED = "command-changed"
    PARAM_DEFAULT_CHANGED = "param-default-changed"
    # not safety-relevant
    GATE_ADDED = "gate-added"
    GATE_STRENGTHENED = "gate-strengthened"
    GATE_LIMIT_CHANGED = "gate-limit-changed"
    WARNING_ADDED = "warning-added"
    WARNING_SEVERITY_RAISED = "warning-severity-raised"
    STEP_ADDED = "step-added"
    STEP_REMOVED = "step-removed"
    STEP_MOVED = "step-moved"
    STEP_MADE_REQUIRED = "step-made-required"
    STEP_KIND_CHANGED = "step-kind-changed"
    CHOICE_CHANGED = "choice-changed"
    LOOP_CHANGED = "loop-changed"
    FRAGMENT_CHANGED = "fragment-changed"
    PARAM_ADDED = "param-added"
    PARAM_REMOVED = "param-removed"
    PARAM_CHANGED = "param-changed"
    WORDING_CHANGED = "wording-changed"
    METADATA_CHANGED = "metadata-changed"
    WHITESPACE_ONLY = "whitespace-only"
    COMMENT_ONLY = "comment-only"
    FORMATTING_ONLY = "formatting-only"
    RUNBOOK_ADDED = "runbook-added"
    RUNBOOK_REMOVED = "runbook-removed"
    RUNBOOK_RENAMED = "runbook-renamed"

    @property
    def safety(self) -> bool:
        return self in SAFETY_KINDS


SAFETY_KINDS: frozenset[Kind] = frozenset(
    {
        Kind.GATE_REMOVED,
        Kind.GATE_WEAKENED,
        Kind.GATE_TYPE_CHANGED,
        Kind.EXPECT_CHANGED,
        Kind.EVIDENCE_LOOSENED,
        Kind.EVIDENCE_CHANGED,
        Kind.TIME_WINDOW_WIDENED,
        Kind.OVERRIDE_LOOSENED,
        Kind.ON_FAILURE_CHANGED,
        Kind.WARNING_REMOVED,
        Kind.WARNING_SEVERITY_LOWERED,
        Kind.ORDER_CHANGED,
        Kind.ORDER_SHORTENED,
        Kind.STEP_MADE_SKIPPABLE,
        Kind.STEP_MOVED_BEFORE_GATE,
        Kind.CONDITION_CHANGED,
        Kind.COMMAND_CHANGED,
        Kind.PARAM_DEFAULT_CHANGED,
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    path: str  # dotted step path; "" for the runbook itself
    field: str  # what changed, e.g. "gate.evidence.checks[2]"
    summary: str  # one line a reviewer reads first
    old: JsonValue = None
    new: JsonValue = None

    @property
    def safety(self) -> bool:
        return self.kind.safety

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "kind": self.kind.value,
            "safety": self.safety,
            "path": self.path,
            "field": self.field,
            "summary": self.summary,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class FileDiff:
    """The changes to one runbook file between two sides (revisions or paths)."""

    old_path: str | None
    new_path: str | None
    status: str  # modified | added | removed | renamed | unchanged | error
    changes: tuple[Change, ...] = ()
    error: str = ""
    via: tuple[str, ...] = ()  # changed fragment files that make this runbook differ

    @property
    def display(self) -> str:
        if self.status == "renamed" and self.old_path != self.new_path:
            return f"{self.old_path} → {self.new_path}"
        return self.new_path or self.old_path or "?"

    @property
    def safety_count(self) -> int:
        return sum(1 for c in self.changes if c.safety)

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "old_path": self.old_path,
            "new_path": self.new_path,
            "status": self.status,
            "error": self.error or None,
            "via": list(self.via),
            "safety_changes": self.safety_count,
            "changes": [c.as_dict() for c in self.changes],
        }


# --- plain values for old/new ----------------------------------------------


def plain(value: object) -> JsonValue:
    """Model objects as JSON-compatible values, for showing old and new."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "position"
        }
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def quoted(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def clip(text: str, limit: int = 80) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
