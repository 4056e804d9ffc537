"""Where the operator is: the step's number (render's) and how many step screens there are.

The numbers are `render`'s (`runbook.model.step_numbers`), so `12.2.3` on the
screen, in the journal and in a report is the `12.2.3` of the printed runbook.

The totals are the step screens the operator will actually see, worked out from what
is known now: the params (a loop over `roles`), the loop items, the answers to the
choices made so far. The rule that keeps them honest: a total is shown bare (`of 31`)
only when no answer still to come can change it. A `when:` naming a choice not made
yet counts its step as shown and marks the total `at most` (`of at most 31`); a
container whose steps depend on such an answer (a fragment's arguments) counts alone
and marks it `at least`; both give `about`. When an answer then changes the total, the
screen says so, naming the answer. A bare total never changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ocsrun.errors import OcsrunError
from ocsrun.run.containers import fragment_context, item_context, loop_items
from ocsrun.runbook import model as m
from ocsrun.runbook.templating import evaluate, names_in

_ITEM = re.compile(r"\[[^\]]*\]")


def number_of(numbers: Mapping[str, str], path: str) -> str:
    """`deactivate-roles[front-end].wizard` → `10.2` (loop items are not numbered)."""
    return numbers.get(_ITEM.sub("", path), "")


@dataclass
class Plan:
    """The run paths that will get a step screen, in order, as known now."""

    paths: list[str] = field(default_factory=list)
    shrink: bool = False  # a step counted may yet be ruled out by an answer to come
    grow: bool = False  # a container counted alone may yet hold more screens

    @property
    def total(self) -> str:
        """`31`, `at most 31`, `at least 31` or `about 31`."""
        bound = {(True, False): "at most ", (False, True): "at least ", (True, True): "about "}
        return bound.get((self.shrink, self.grow), "") + str(len(self.paths))

    def ordinals(self) -> dict[str, int]:
        return {path: n for n, path in enumerate(self.paths, 1)}


def planned(steps: tuple[m.Step, ...], context: Mapping[str, Any], prefix: str = "") -> Plan:
    plan = Plan()
    _plan(steps, context, prefix, plan)
    return plan


def _plan(steps: tuple[m.Step, ...], context: Mapping[str, Any], prefix: str, plan: Plan) -> None:
    for step in steps:
        path = prefix + step.id
        runs = _may_run(step, context)
        if runs is False:
            continue
        plan.shrink = plan.shrink or runs is None
        plan.paths.append(path)
        try:
            if step.for_each is not None:
                items = loop_items(step, context)
                for n, item in enumerate(items, 1):
                    inner = item_context(step.for_each, context, item, n, len(items))
                    _plan(step.for_each.steps, inner, f"{path}[{item}].", plan)
            elif step.call is not None:
                _plan(step.call.steps, fragment_context(step.call, context, path), path + ".", plan)
        except OcsrunError:
            plan.grow = True  # a template only the run can settle: the container alone


def _may_run(step: m.Step, context: Mapping[str, Any]) -> bool | None:
    """True, False, or None: decided by an answer still to come."""
    if step.when is None:
        return True
    if any(name not in context for name in names_in(step.when)):
        return None
    try:
        return bool(evaluate(step.when, context))
    except OcsrunError:
        return None


def steps_line(steps: tuple[m.Step, ...], plan: Plan) -> str:
    """The pre-flight screen's count."""
    loops = ", loops included" if any(s.for_each is not None for s in steps) else ""
    later = ""
    if plan.shrink or plan.grow:
        later = (
            "; answers to come decide the rest"
            if plan.grow
            else ("; a choice to come may rule some out")
        )
    return f"Steps: {len(steps)} top-level, {plan.total} step screens{loops}{later}"


def total_changed(before: Plan, after: Plan, var: str, value: str) -> str | None:
    """The line that says why the total changed after a choice (None: it did not)."""
    if before.total == after.total:
        return None
    return (
        f"Step screens: {after.total} now (was {before.total}): the answer "
        f"{var} = {value} settles which steps run"
    )
