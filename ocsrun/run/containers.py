"""Steps that hold steps: `for_each` loops and `uses:` fragment calls.

Split from `executor` so the walker stays one screen of logic. A container is
entered once (`step.started`), runs its children in a scope of their own (loop
variable, or the fragment's arguments), and is done when they all are. On
resume it is re-entered and its finished children pass silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ocsrun.run import events as ev
from ocsrun.run.operator import Screen
from ocsrun.runbook import model as m
from ocsrun.runbook.templating import render

if TYPE_CHECKING:
    from ocsrun.run.executor import Executor, Outcome


def restore_inside(x: Executor, path: str) -> None:
    """Answers given inside a finished for-each or fragment, for later `when:`s."""
    for inner, record in x.state.steps.items():
        inside = inner.startswith((path + ".", path + "["))
        if inside and record.choice is not None and record.outcome == ev.STEP_DONE:
            x.choices[record.choice[0]] = record.choice[1]


def _started(
    x: Executor, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
) -> None:
    # Entered once; a resume inside it, or a goto back into it, does not start it again.
    if x.state.step(path).attempt == 0:
        x.enter(step, path, *position)
    x.operator.show(x.screen(step, path, context, *position))
    x.warnings(step, path, context)


def for_each(
    x: Executor, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
) -> Outcome:
    loop = step.for_each
    assert loop is not None
    _started(x, step, path, context, position)
    chosen = loop.items if loop.items is not None else tuple(context.get(loop.over or "", ()))
    items = loop.ordered(tuple(chosen))
    for n, item in enumerate(items, 1):
        inner = {
            **context,
            loop.var: item,
            "labels": dict(loop.labels),
            "loop_index": n,
            "loop_total": len(items),
        }
        where = f"{loop.var} {n}/{len(items)}: {loop.label(item)}"
        x.operator.show(Screen("info", where))
        x.loops.append(where)
        try:
            x.run_scope(loop.steps, f"{path}[{item}].", inner)
        finally:
            x.loops.pop()
    x.finish(step, path, items=list(items))
    return None


def call(
    x: Executor, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
) -> Outcome:
    from ocsrun.run.params import coerce

    fragment = step.call
    assert fragment is not None
    _started(x, step, path, context, position)
    args = dict(fragment.args)
    # The fragment sees its own params (arguments rendered in the caller's scope, typed as
    # declared, so `click_next: "false"` is False) and the target, nothing else of the caller.
    inner: dict[str, Any] = {"target": context.get("target")}
    for param in fragment.params:
        if param.name in args:
            inner[param.name] = coerce(param, render(args[param.name], context, path))
        elif param.default is not None:
            inner[param.name] = param.default
    for i, warning in enumerate(fragment.warnings, 1):
        x.one_warning(path, warning.id or f"fragment#{i}", warning)
    x.run_scope(fragment.steps, path + ".", inner)
    x.finish(step, path)
    return None
