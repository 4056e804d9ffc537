"""param-default: a param's default has its type, is among its values, matches its pattern."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ocsrun.runbook import plain_regex
from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.patterns import PatternTimeout, fullmatch
from ocsrun.runbook.rules.context import Context, as_dict, as_str, strings
from ocsrun.runbook.rules.regexes import compile_pattern

RULE_IDS = ("param-default",)


def param_default(ctx: Context) -> Iterator[Diagnostic]:
    for name, param in as_dict(ctx.data.get("params")).items():
        if not isinstance(param, dict) or "default" not in param:
            continue
        problem = _default_problem(param, param["default"])
        if problem:
            yield ctx.error(
                ("params", name, "default"), f"default of param '{name}' {problem}", "param-default"
            )


def _default_problem(param: dict[str, Any], default: Any) -> str | None:
    kind = param.get("type")
    values = strings(param.get("values"))
    # A secret's default is never echoed, not even in the finding that says it is wrong.
    show: Callable[[Any], str] = (lambda _: "***") if param.get("secret") is True else str
    checks: dict[Any, Callable[[], str | None]] = {
        "string": lambda: _string_problem(param, default, show),
        "enum": lambda: None if default in values else f"'{show(default)}' is not among its values",
        "bool": lambda: None if isinstance(default, bool) else "is not true or false",
        "int": lambda: _int_problem(param, default, show),
        "list": lambda: _list_problem(values, default, show, param.get("min_items")),
    }
    # A type that is a list or mapping is the schema's finding (and unhashable here).
    check = checks.get(kind) if isinstance(kind, str) else None
    return check() if check else None


def _string_problem(param: dict[str, Any], default: Any, show: Callable[[Any], str]) -> str | None:
    if not isinstance(default, str):
        return "is not a string (quote it)"
    pattern = as_str(param.get("pattern"))
    if not pattern or isinstance(compile_pattern(pattern), str):
        return None  # no pattern, or bad-regex says why it cannot be used
    # A plain pattern on a short plain default: the engine's answer without the engine.
    fits = plain_regex.fullmatch(pattern, default)
    if fits is None:
        try:
            fits = fullmatch(pattern, default)
        except PatternTimeout as error:
            return f"cannot be checked: {error.message}"
    return None if fits else f"'{show(default)}' does not match its pattern"


def _int_problem(param: dict[str, Any], default: Any, show: Callable[[Any], str]) -> str | None:
    if isinstance(default, bool) or not isinstance(default, int):
        return "is not an integer"
    low, high = param.get("min"), param.get("max")
    if isinstance(low, int) and default < low:
        return f"{show(default)} is below min {low}"
    if isinstance(high, int) and default > high:
        return f"{show(default)} is above max {high}"
    return None


def _list_problem(
    values: list[str], default: Any, show: Callable[[Any], str], min_items: Any
) -> str | None:
    if not isinstance(default, list):
        return "is not a list"
    wrong = [show(item) for item in default if item not in values]
    if wrong:
        return f"has {', '.join(repr(w) for w in wrong)} not among its values"
    if isinstance(min_items, int) and not isinstance(min_items, bool) and len(default) < min_items:
        return f"has fewer than min_items {min_items} items"
    return None
