"""foreach-over, foreach-unknown-item and foreach-order: a for_each loop's lists and order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, JsonPath, as_dict, as_list, as_str, strings

RULE_IDS = ("foreach-over", "foreach-unknown-item", "foreach-order")


def foreach_rules(ctx: Context) -> Iterator[Diagnostic]:
    """foreach-over, foreach-unknown-item and foreach-order, which share their look-ups."""
    params = as_dict(ctx.data.get("params"))
    for ref in ctx.having("for_each"):
        loop = ref.step.get("for_each")
        if not isinstance(loop, dict) or not isinstance(loop.get("order"), list):
            continue
        path = (*ref.path, "for_each")
        order = strings(loop["order"])
        yield from _order_duplicates(ctx, path, order)
        for list_path, items in _loop_lists(ctx, path, loop, params):
            yield from _check_sequence(ctx, list_path, items, order)
        yield from _labels_and_after(ctx, path, loop, order)


def _order_duplicates(ctx: Context, path: JsonPath, order: list[str]) -> Iterator[Diagnostic]:
    seen: set[str] = set()
    for i, item in enumerate(order):
        if item in seen:
            yield ctx.error(
                (*path, "order", i), f"'{item}' appears twice in order", "foreach-order"
            )
        seen.add(item)


def _loop_lists(
    ctx: Context, path: JsonPath, loop: dict[str, Any], params: dict[str, Any]
) -> Iterator[tuple[JsonPath, list[Any]]]:
    """Lists whose items must follow `order`: literal items, or the list param's values/default."""
    if isinstance(loop.get("items"), list):
        yield (*path, "items"), loop["items"]
    over = as_str(loop.get("over"))
    if over is None:
        return
    param = params.get(over)
    if not isinstance(param, dict) or param.get("type") != "list":
        return  # reported by foreach_over
    for key in ("values", "default"):
        if isinstance(param.get(key), list):
            yield ("params", over, key), param[key]


def _check_sequence(
    ctx: Context, path: JsonPath, items: list[Any], order: list[str]
) -> Iterator[Diagnostic]:
    rank = {item: i for i, item in reversed(list(enumerate(order)))}
    last = -1
    for i, item in enumerate(items):
        if not isinstance(item, str):
            continue  # a list or mapping as an item is the schema's finding (and unhashable)
        if item not in rank:
            yield ctx.error(
                (*path, i), f"'{item}' is not in the for_each order", "foreach-unknown-item"
            )
            continue
        if rank[item] < last:
            yield ctx.error(
                (*path, i),
                f"'{item}' is listed after '{order[last]}', which order puts later",
                "foreach-order",
            )
        last = max(last, rank[item])


def _labels_and_after(
    ctx: Context, path: JsonPath, loop: dict[str, Any], order: list[str]
) -> Iterator[Diagnostic]:
    rank = {item: i for i, item in reversed(list(enumerate(order)))}
    for name in as_dict(loop.get("labels")):
        if name not in rank:
            yield ctx.error(
                (*path, "labels", name),
                f"label for '{name}', which is not in order",
                "foreach-unknown-item",
                key=True,
            )
    for name, before in as_dict(loop.get("after")).items():
        if name not in rank:
            yield ctx.error(
                (*path, "after", name),
                f"'after' names '{name}', which is not in order",
                "foreach-unknown-item",
                key=True,
            )
            continue
        for i, other in enumerate(as_list(before)):
            if not isinstance(other, str):
                continue  # the schema's finding
            if other not in rank:
                yield ctx.error(
                    (*path, "after", name, i), f"'{other}' is not in order", "foreach-unknown-item"
                )
            elif rank[other] > rank[name]:
                yield ctx.error(
                    (*path, "after", name, i),
                    f"'{name}' must come after '{other}', but order puts it first",
                    "foreach-order",
                )


def foreach_over(ctx: Context) -> Iterator[Diagnostic]:
    params = as_dict(ctx.data.get("params"))
    for ref in ctx.having("for_each"):
        over = as_str(as_dict(ref.step.get("for_each")).get("over"))
        if over is None:
            continue
        param = params.get(over)
        if not isinstance(param, dict):
            yield ctx.error(
                (*ref.path, "for_each", "over"), f"'{over}' is not a declared param", "foreach-over"
            )
        elif param.get("type") != "list":
            yield ctx.error(
                (*ref.path, "for_each", "over"),
                f"param '{over}' is of type {param.get('type')}, not list",
                "foreach-over",
            )
