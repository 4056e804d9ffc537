"""Run-time parameter values: `--param k=v` text checked against the declared types.

Secret values never appear in an error message, the journal or a report: every
message here names the parameter, never the value, when the param is secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocsrun.errors import ParamError
from ocsrun.run.events import SECRET
from ocsrun.runbook import model as m
from ocsrun.runbook.patterns import PatternTimeout, fullmatch

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def split_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """`["k=v", ...]` → `{k: v}`; a pair without `=` or given twice is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamError(f"--param expects NAME=VALUE, got {_head(pair)!r}")
        if name in out:
            raise ParamError(f"--param {name} given twice")
        out[name] = value
    return out


def _head(text: str) -> str:
    # A malformed pair may be a secret typed without its name; show only the start.
    return text if len(text) <= 12 else text[:12] + "..."


def _shown(param: m.Param, value: object) -> str:
    return SECRET if param.secret else repr(value)


def coerce(param: m.Param, raw: Any) -> m.ParamValue:
    """Command-line text or answers-file data → a value of the param's type."""
    kind = param.type
    if kind == "bool":
        return _bool(param, raw)
    if kind == "int":
        return _int(param, raw)
    if kind == "list":
        return _list(param, raw)
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ParamError(f"param {param.name}: expected text, got {_shown(param, raw)}")
    text = str(raw)
    if kind == "enum" and text not in param.values:
        allowed = ", ".join(param.values)
        raise ParamError(f"param {param.name}: {_shown(param, text)} is not one of: {allowed}")
    if param.pattern is not None and not _fits(param.pattern, text, f"param {param.name}"):
        raise ParamError(
            f"param {param.name}: {_shown(param, _cut(text))} does not match {param.pattern!r}"
        )
    return text


def _fits(pattern: str, text: str, what: str) -> bool:
    """A bounded match (ocsrun.runbook.patterns): a pattern that backtracks is refused, not
    left to hang the start of a run."""
    try:
        return fullmatch(pattern, text)
    except PatternTimeout as error:
        raise ParamError(f"{what}: cannot be checked: {error.message}") from None


def _cut(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "..."


def _bool(param: m.Param, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ParamError(f"param {param.name}: expected true or false, got {_shown(param, raw)}")


def _int(param: m.Param, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ParamError(f"param {param.name}: expected a whole number")
    try:
        value = int(str(raw).strip(), 10)
    except ValueError:
        raise ParamError(
            f"param {param.name}: expected a whole number, got {_shown(param, raw)}"
        ) from None
    if param.min is not None and value < param.min:
        raise ParamError(f"param {param.name}: must be at least {param.min}")
    if param.max is not None and value > param.max:
        raise ParamError(f"param {param.name}: must be at most {param.max}")
    return value


def _list(param: m.Param, raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list | tuple):
        items = [str(v).strip() for v in raw]
    else:
        items = [v.strip() for v in str(raw).split(",")]
    items = [v for v in items if v]
    unknown = [v for v in items if v not in param.values]
    if unknown:
        allowed = ", ".join(param.values)
        raise ParamError(f"param {param.name}: {', '.join(unknown)} not among: {allowed}")
    if len(set(items)) != len(items):
        raise ParamError(f"param {param.name}: an item is given twice")
    if param.min_items is not None and len(items) < param.min_items:
        raise ParamError(
            f"param {param.name}: give at least {param.min_items} of: {allowed_text(param)}"
        )
    return tuple(items)


def allowed_text(param: m.Param) -> str:
    return ", ".join(param.values)


def syntax(param: m.Param) -> str:
    """How to type a value of `param`, shown before it is asked (and by `?`)."""
    kind = param.type
    if kind == "bool":
        return "true or false (also yes/no)"
    if kind == "int":
        low = f" from {param.min}" if param.min is not None else ""
        high = f" to {param.max}" if param.max is not None else ""
        return f"a whole number{low}{high}"
    if kind == "enum":
        return f"one of: {allowed_text(param)}"
    if kind == "list":
        least = param.min_items or 0
        how_many = f"at least {least}" if least else "any number (none is allowed)"
        example = ", ".join(param.values[: max(2, least)])
        return (
            f"{how_many} of: {allowed_text(param)}; separate them with commas "
            f"(e.g. {example}); order does not matter"
        )
    if param.pattern is not None:
        return f"text matching {param.pattern}"
    return "text"


def resolve(
    runbook_params: Iterable[m.Param], given: Mapping[str, Any]
) -> tuple[dict[str, m.ParamValue], list[m.Param]]:
    """Given values checked, defaults filled in; returns (values, params still missing)."""
    declared = {p.name: p for p in runbook_params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise ParamError(f"unknown param {unknown[0]!r} (this runbook declares: {known})")
    values: dict[str, m.ParamValue] = {}
    missing: list[m.Param] = []
    for name, param in declared.items():
        if name in given:
            values[name] = coerce(param, given[name])
        elif param.default is not None:
            values[name] = param.default
        else:
            missing.append(param)
    return values, missing


def redacted(runbook_params: Iterable[m.Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """Values fit for the journal and reports: secrets replaced, tuples as lists."""
    secret = {p.name for p in runbook_params if p.secret}
    return {
        name: SECRET if name in secret else (list(v) if isinstance(v, tuple) else v)
        for name, v in values.items()
    }


def check_target(runbook: m.Runbook, target: str | None) -> str | None:
    """The target is required when the runbook declares one, and must fit its pattern."""
    declared = runbook.metadata.target
    if declared is None:
        return target
    problem = target_problem(declared, target)
    if problem is not None:
        raise ParamError(problem)
    return target


def target_problem(declared: m.Target, target: str | None) -> str | None:
    if not target:
        example = f" (e.g. {declared.example})" if declared.example else ""
        return f"--target is required: {declared.description}{example}"
    if declared.pattern is not None and not _fits(declared.pattern, target, "--target"):
        return f"--target {_cut(target)!r} does not match {declared.pattern!r}"
    return None
