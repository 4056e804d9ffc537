"""Where the operator is: the step's number (render's) and how many step screens there are.

The numbers are `render`'s (`runbook.model.step_numbers`), so `12.2.3` on the
screen, in the journal and in a report is the `12.2.3` of the printed runbook.
The totals are the step screens the operator will actually see: known only once
the params (a loop over `roles`) and the answers to earlier choices are, so the
plan is worked out again from the current context each time it is shown. A
`when:` that cannot be decided yet (it names a choice still to come) counts as
shown; one already false does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ocsrun.errors import OcsrunError
from ocsrun.run.containers import fragment_context, item_context, loop_items
from ocsrun.runbook import model as m
from ocsrun.runbook.templating import evaluate, names_in

_ITEM = re.compile(r"\[[^\]]*\]")


def number_of(numbers: Mapping[str, str], path: str) -> str:
    """`deactivate-roles[front-end].wizard` → `10.2` (loop items are not numbered)."""
    return numbers.get(_ITEM.sub("", path), "")


def planned(steps: tuple[m.Step, ...], context: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The run paths that will get a step screen, in order, given what is known now."""
    out: list[str] = []
    for step in steps:
        path = prefix + step.id
        if not _may_run(step, context):
            continue
        out.append(path)
        try:
            if step.for_each is not None:
                items = loop_items(step, context)
                for n, item in enumerate(items, 1):
                    inner = item_context(step.for_each, context, item, n, len(items))
                    out += planned(step.for_each.steps, inner, f"{path}[{item}].")
            elif step.call is not None:
                inner = fragment_context(step.call, context, path)
                out += planned(step.call.steps, inner, path + ".")
        except OcsrunError:
            continue  # a template only the run can settle: count the container alone
    return out


def _may_run(step: m.Step, context: Mapping[str, Any]) -> bool:
    if step.when is None:
        return True
    if any(name not in context for name in names_in(step.when)):
        return True  # decided by a choice still to come
    try:
        return evaluate(step.when, context)
    except OcsrunError:
        return True
