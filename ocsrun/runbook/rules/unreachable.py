"""unreachable-step: a `when` that visibly can never be true."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, as_dict, as_list, as_str, strings
from ocsrun.runbook.rules.jinja import expression
from ocsrun.runbook.rules.jinja_tree import And, Compare, Const, List, Name, Node, Operand, Tuple

RULE_IDS = ("unreachable-step",)


def unreachable_step(ctx: Context) -> Iterator[Diagnostic]:
    domains = _value_domains(ctx)
    for ref in ctx.having("when"):
        when = as_str(ref.step.get("when"))
        if when is None:
            continue
        loop_domains = {
            v: set(strings(loop.get("order")))
            for loop in ref.loops
            if (v := as_str(loop.get("var"))) and loop.get("order")
        }
        reason = _impossible(when, {**domains, **loop_domains})
        if reason:
            yield ctx.error(
                (*ref.path, "when"), f"this step can never run: {reason}", "unreachable-step"
            )


def _value_domains(ctx: Context) -> dict[str, set[str]]:
    """The values an enum param or a choice var can take."""
    domains: dict[str, set[str]] = {}
    for name, param in as_dict(ctx.data.get("params")).items():
        if as_dict(param).get("type") == "enum":
            domains[name] = set(strings(param.get("values")))
    for ref in ctx.having("choice"):
        choice = as_dict(ref.step.get("choice"))
        var = as_str(choice.get("var"))
        if var:
            domains[var] = {
                v for o in as_list(choice.get("options")) if (v := as_str(as_dict(o).get("value")))
            }
    return domains


def _impossible(source: str, domains: dict[str, set[str]]) -> str | None:
    node = expression(source).node
    return None if node is None else _never(node, domains)


def _never(node: Node, domains: dict[str, set[str]]) -> str | None:
    """Why an expression can never be true, if it visibly cannot: a part of an `and` chain
    (walked left to right without recursion: Jinja's parse of a long chain is deep) that
    cannot be."""
    stack = [node]
    while stack:
        part = stack.pop()
        if isinstance(part, And):
            stack += (part.right, part.left)
            continue
        if isinstance(part, Const) and not part.value:
            return "the condition is always false"
        if isinstance(part, Compare) and len(part.ops) == 1 and isinstance(part.expr, Name):
            name = part.expr.name
            reason = _never_compared(name, part.ops[0], domains.get(name))
            if reason:
                return reason
    return None


def _never_compared(name: str, operand: Operand, domain: set[str] | None) -> str | None:
    """`name == 'x'` or `name in [...]` where name's known values exclude every literal."""
    if domain is None:
        return None
    values: list[Any] | None = None
    if operand.op == "eq" and isinstance(operand.expr, Const):
        values = [operand.expr.value]
    elif operand.op == "in":
        values = _literal_list(operand.expr)
    if values is None or domain.intersection(values):
        return None
    shown = repr(values[0]) if len(values) == 1 else f"any of {values!r}"
    return f"'{name}' can never be {shown} (it is one of {', '.join(sorted(domain))})"


def _literal_list(node: Node) -> list[Any] | None:
    if isinstance(node, Const) and isinstance(node.value, list | tuple):
        return list(node.value)  # a constant folded into one value
    if isinstance(node, List | Tuple):
        values = [item.value for item in node.items if isinstance(item, Const)]
        return values if len(values) == len(node.items) else None
    return None
