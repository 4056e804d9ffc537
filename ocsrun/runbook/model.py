"""The loaded runbook: frozen dataclasses, built once from validated data.

Nothing downstream (executor, render, diff) sees the YAML dicts; they see these.
Fragments are already expanded: a `CallStep` carries the fragment's steps and the
arguments it was called with, so every consumer sees what an operator will see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from ocsrun.errors import Position

ParamValue = str | int | bool | tuple[str, ...]


class Severity(StrEnum):
    CAUTION = "caution"
    WARNING = "warning"
    DANGER = "danger"

    @property
    def rank(self) -> int:
        return {"caution": 0, "warning": 1, "danger": 2}[self.value]


@dataclass(frozen=True, slots=True)
class SourceRef:
    section: str = ""
    step: int | None = None
    quote: str = ""


@dataclass(frozen=True, slots=True)
class RunbookWarning:
    text: str
    severity: Severity
    id: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Literal["string", "enum", "bool", "int", "list"]
    description: str = ""
    values: tuple[str, ...] = ()
    default: ParamValue | None = None
    secret: bool = False
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    min_items: int | None = None  # list only

    @property
    def has_default(self) -> bool:
        return self.default is not None


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    where: str = ""
    limits: str = ""


@dataclass(frozen=True, slots=True)
class Discrepancy:
    id: str
    source_text: str
    issue: str
    safe_reading: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutsideFact:
    text: str
    confirmed: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    description: str
    example: str = ""
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    document: str
    section: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class AppliesTo:
    products: tuple[str, ...] = ()
    editions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Metadata:
    id: str
    title: str
    version: str
    source: Source
    summary: str = ""
    required_groups: tuple[str, ...] = ()
    applies_to: AppliesTo = field(default_factory=AppliesTo)
    target: Target | None = None
    tools: tuple[Tool, ...] = ()
    related: tuple[str, ...] = ()
    discrepancies: tuple[Discrepancy, ...] = ()
    outside_facts: tuple[OutsideFact, ...] = ()


# --- gates -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnFailure:
    action: Literal["retry", "goto", "abort"] = "retry"
    goto: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    days: tuple[str, ...] = ()  # mon..sun; empty = any day
    hours: str | None = None  # "HH:MM-HH:MM", may wrap midnight; None = all day


Otherwise = Literal["refuse", "confirm"]


@dataclass(frozen=True, slots=True)
class EvidenceCheck:
    """A line check (`require`, `forbid`, `each`) or a table column check (`column`).

    Patterns are templates: the run's values are inserted as literal (escaped) text.
    """

    kind: Literal["require", "forbid", "each", "column"]
    pattern: str  # the line regex; "" for a column check
    must: str | None = None  # kind "each" and "column"
    description: str = ""
    column: str = ""  # kind "column": the header name
    min_rows: int = 1  # kind "column": data rows needed at least
    otherwise: Otherwise = "refuse"  # a failure refuses the file, or asks for a confirmation


@dataclass(frozen=True, slots=True)
class Gate:
    """Common part of every gate; `type` says which of the optional parts is set."""

    type: Literal[
        "confirm", "typed_confirmation", "checklist", "time_window", "evidence", "command"
    ]
    prompt: str
    on_failure: OnFailure = field(default_factory=OnFailure)
    valid_for_seconds: int | None = None
    # typed_confirmation
    expect: str | None = None
    # checklist
    items: tuple[str, ...] = ()
    # time_window
    windows: tuple[TimeWindow, ...] = ()
    timezone: str | None = None
    override: Literal["reason", "never"] = "reason"
    # evidence
    evidence_description: str = ""
    max_bytes: int = 10 * 1024 * 1024
    checks: tuple[EvidenceCheck, ...] = ()
    produced_by: str | None = None  # a step id in the same scope: older files are stale
    stale: Otherwise = "refuse"
    reused: Otherwise = "refuse"
    # command
    argv: tuple[str, ...] = ()
    timeout_seconds: float = 30.0
    expect_exit: int = 0
    max_output: int = 64 * 1024


# --- steps -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChoiceOption:
    value: str
    label: str
    reason: bool = False  # picking it asks for a reason, journaled with the answer


@dataclass(frozen=True, slots=True)
class Choice:
    var: str
    prompt: str
    options: tuple[ChoiceOption, ...]


@dataclass(frozen=True, slots=True)
class ForEach:
    var: str
    order: tuple[str, ...]
    steps: tuple[Step, ...]
    over: str | None = None  # a list param
    items: tuple[str, ...] | None = None  # or a literal list
    labels: tuple[tuple[str, str], ...] = ()
    after: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def label(self, item: str) -> str:
        return dict(self.labels).get(item, item)

    def ordered(self, chosen: tuple[str, ...]) -> tuple[str, ...]:
        """The chosen items in the declared order, whatever order they were given in."""
        present = set(chosen)
        return tuple(item for item in self.order if item in present)


@dataclass(frozen=True, slots=True)
class Call:
    """A fragment included with `uses:`; its steps are already loaded."""

    path: str  # as written in the runbook
    fragment_id: str
    fragment_title: str
    args: tuple[tuple[str, str], ...]  # name -> template, as written
    params: tuple[Param, ...]  # the fragment's declared params (for defaults)
    steps: tuple[Step, ...]
    warnings: tuple[RunbookWarning, ...] = ()


StepKind = Literal["action", "choice", "gate", "for_each", "call"]


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    kind: StepKind
    instructions: str = ""
    when: str | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[RunbookWarning, ...] = ()
    required: bool = False
    source: SourceRef | None = None
    not_in_source: str = ""  # why a step the source does not have was added
    choice: Choice | None = None
    gate: Gate | None = None
    for_each: ForEach | None = None
    call: Call | None = None
    position: Position | None = field(default=None, compare=False)
    # Where stale confirmations (valid_for) are asked again; see docs/format.md. Last, and
    # left out of snapshots while False, so runs started before it existed resume unchanged.
    checkpoint: bool = field(default=False, metadata={"omit_default": True})

    @property
    def children(self) -> tuple[Step, ...]:
        if self.for_each is not None:
            return self.for_each.steps
        if self.call is not None:
            return self.call.steps
        return ()

    @property
    def skippable(self) -> bool:
        return not self.required and self.kind != "gate"


@dataclass(frozen=True, slots=True)
class Runbook:
    kind: Literal["runbook", "fragment"]
    metadata: Metadata
    params: tuple[Param, ...]
    warnings: tuple[RunbookWarning, ...]
    steps: tuple[Step, ...]
    path: str = ""

    @property
    def id(self) -> str:
        return self.metadata.id

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


def walk(steps: tuple[Step, ...], prefix: str = "") -> list[tuple[str, Step]]:
    """Every step with its dotted path (`wizard.check-log`), depth first, in order."""
    out: list[tuple[str, Step]] = []
    _walk_into(steps, prefix, out)
    return out


def _walk_into(steps: tuple[Step, ...], prefix: str, out: list[tuple[str, Step]]) -> None:
    # One list for the whole tree: a list per step, copied into its parent's, made a deep
    # tree quadratic and a flat one slow.
    for step in steps:
        path = prefix + step.id
        out.append((path, step))
        if step.for_each is not None or step.call is not None:
            _walk_into(step.children, path + ".", out)


def step_numbers(steps: tuple[Step, ...], prefix: str = "", number: str = "") -> dict[str, str]:
    """Every step's number (`12.2.3`) by dotted path, as `render` prints it and a run shows it.

    One numbering for the rendered runbook, the operator's screen, the journal and the
    reports: a step's position in its parent, joined with dots. Loop items are not numbered
    (`deactivate-roles[front-end].wizard` is numbered as `deactivate-roles.wizard`).
    """
    out: dict[str, str] = {}
    for i, step in enumerate(steps, 1):
        path, num = f"{prefix}{step.id}", f"{number}{i}"
        out[path] = num
        out.update(step_numbers(step.children, path + ".", num + "."))
    return out
