"""What every rule sees: the document, its steps in order with the names visible to each, and
small guards. Rules run on the plain data after the schema check and must not trust its shape
(a file with schema errors is still checked), so every access goes through the guards here."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.includes import FragmentCache
from ocsrun.runbook.loader import Document

JsonPath = tuple[str | int, ...]
KIND_KEYS = ("choice", "gate", "for_each", "uses")


@dataclass
class Context:
    document: Document
    file: Path | None = None
    root_dir: Path | None = None
    fragments: FragmentCache = field(default_factory=FragmentCache)
    # Work that several rules share, by name (templates.parsed_templates: each step's templates
    # parsed once for template-syntax and unknown-name).
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _having: dict[str, list[StepRef]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @cached_property
    def steps(self) -> list[StepRef]:
        return walk_steps(self.document.data)

    def having(self, key: str) -> list[StepRef]:
        """The steps that have `key`, in walk order, computed once per key: a rule about one
        key (`when`, `uses`, `for_each`...) has nothing to say about a step without it, and
        most steps have none of them (a check of 25,000 steps walked them all per rule)."""
        found = self._having.get(key)
        if found is None:
            found = self._having[key] = [ref for ref in self.steps if key in ref.step]
        return found

    @cached_property
    def gates(self) -> list[StepRef]:
        """The steps with a gate (a mapping): what the gate rules look at."""
        return [ref for ref in self.having("gate") if isinstance(ref.step["gate"], dict)]

    @cached_property
    def scopes(self) -> dict[JsonPath, list[StepRef]]:
        return scopes(self.steps)

    def error(self, path: JsonPath, message: str, rule: str, *, key: bool = False) -> Diagnostic:
        return Diagnostic(self.document.position(path, key=key), Severity.ERROR, message, rule)

    def warning(self, path: JsonPath, message: str, rule: str, *, key: bool = False) -> Diagnostic:
        return Diagnostic(self.document.position(path, key=key), Severity.WARNING, message, rule)


@dataclass(slots=True)
class StepRef:
    """A step with where it sits: its JSON path, its scope, and the names visible to it.

    Read-only by convention, not frozen: one is made per step, and a frozen dataclass's
    field-by-field set-up was a visible part of checking 25,000 steps.
    """

    path: JsonPath
    step: dict[str, Any]
    index: int
    scope: JsonPath
    # Params, target and loop vars: one set shared by a whole list of steps.
    scope_names: frozenset[str]
    loops: tuple[dict[str, Any], ...]
    # Position in walk (document) order, and every choice var with the position of the first
    # step that declares it (one dict shared by all refs): a choice var is visible to the
    # steps after its step. Copying the names seen so far into every step was quadratic in
    # the number of choices.
    order: int = 0
    choices: dict[str, int] = field(default_factory=dict)

    def visible(self, name: str) -> bool:
        return name in self.scope_names or self.choices.get(name, self.order) < self.order

    @property
    def names(self) -> frozenset[str]:
        """Every name visible to this step."""
        earlier = {name for name, at in self.choices.items() if at < self.order}
        return self.scope_names | earlier


# --- guards -------------------------------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def strings(value: Any) -> list[str]:
    return [item for item in as_list(value) if isinstance(item, str)]


def base_names(data: dict[str, Any]) -> frozenset[str]:
    names = set(as_dict(data.get("params")))
    if "target" in as_dict(data.get("metadata")) or data.get("kind") == "fragment":
        # A fragment runs inside a runbook, which supplies the target.
        names.add("target")
    return frozenset(names)


def walk_steps(data: dict[str, Any]) -> list[StepRef]:
    """Every step in document order, each with the names declared before it."""
    found: list[StepRef] = []
    choices: dict[str, int] = {}
    _walk(as_list(data.get("steps")), ("steps",), base_names(data), choices, (), found=found)
    return found


def _walk(
    steps: list[Any],
    scope: JsonPath,
    names: frozenset[str],
    choices: dict[str, int],
    loops: tuple[dict[str, Any], ...],
    *,
    found: list[StepRef],
) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        path = (*scope, index)
        order = len(found)
        found.append(StepRef(path, step, index, scope, names, loops, order, choices))
        loop = step.get("for_each")
        nested = as_list(loop.get("steps")) if isinstance(loop, dict) else None
        if nested:
            assert isinstance(loop, dict)
            loop_names = {n for n in (as_str(loop.get("var")), "labels") if n}
            _walk(
                nested,
                (*path, "for_each", "steps"),
                names | loop_names,
                choices,
                (*loops, loop),
                found=found,
            )
        choice = step.get("choice")
        var = as_str(choice.get("var")) if isinstance(choice, dict) else None
        if var:
            choices.setdefault(var, order)


def step_id(step: dict[str, Any]) -> str | None:
    return as_str(step.get("id"))


def scopes(refs: list[StepRef]) -> dict[JsonPath, list[StepRef]]:
    scopes: dict[JsonPath, list[StepRef]] = {}
    for ref in refs:
        scopes.setdefault(ref.scope, []).append(ref)
    return scopes
