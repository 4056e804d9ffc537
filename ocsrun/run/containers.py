"""Steps that hold steps: `for_each` loops and `uses:` fragment calls.

Split from `executor` so the walker stays one screen of logic. A container is
entered once (`step.started`), runs its children in a scope of their own (loop
variable, or the fragment's arguments), and is done when they all are. On
resume it is re-entered and its finished children pass silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ocsrun.runbook import model as m
from ocsrun.runbook.templating import render

if TYPE_CHECKING:
    from ocsrun.run.flow import Outcome, ScopeHost


def loop_items(step: m.Step, context: Mapping[str, Any]) -> tuple[str, ...]:
    """The items a for-each step walks, in the declared order."""
    loop = step.for_each
    assert loop is not None
    chosen = loop.items if loop.items is not None else tuple(context.get(loop.over or "", ()))
    return loop.ordered(tuple(chosen))


def item_context(
    loop: m.ForEach, context: Mapping[str, Any], item: str, n: int, total: int
) -> dict[str, Any]:
    return {
        **context,
        loop.var: item,
        "labels": dict(loop.labels),
        "loop_index": n,
        "loop_total": total,
    }


def for_each(
    x: ScopeHost, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
) -> Outcome:
    loop = step.for_each
    assert loop is not None
    x.open_step(step, path, context, position)
    items = loop_items(step, context)
    for n, item in enumerate(items, 1):
        inner = item_context(loop, context, item, n, len(items))
        where = f"{loop.var} {n}/{len(items)}: {loop.label(item)}"
        x.run_scope(loop.steps, f"{path}[{item}].", inner, where)
    x.finish(step, path, items=list(items))
    return None


def fragment_context(fragment: m.Call, context: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The fragment sees its own params (arguments rendered in the caller's scope, typed as
    declared, so `click_next: "false"` is False) and the target, nothing else of the caller."""
    from ocsrun.run.params import coerce

    args = dict(fragment.args)
    inner: dict[str, Any] = {"target": context.get("target")}
    for param in fragment.params:
        if param.name in args:
            inner[param.name] = coerce(param, render(args[param.name], context, path))
        elif param.default is not None:
            inner[param.name] = param.default
    return inner


def call(
    x: ScopeHost, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
) -> Outcome:
    fragment = step.call
    assert fragment is not None
    x.open_step(step, path, context, position)
    inner = fragment_context(fragment, context, path)
    for i, warning in enumerate(fragment.warnings, 1):
        x.one_warning(path, warning.id or f"fragment#{i}", warning)
    x.run_scope(fragment.steps, path + ".", inner)
    x.finish(step, path)
    return None
