"""when-syntax, template-syntax and unknown-name: the Jinja2 a step holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, JsonPath, StepRef, as_dict, as_list, as_str
from ocsrun.runbook.rules.jinja import NO_TEMPLATE, Parsed, expression, template

RULE_IDS = ("when-syntax", "template-syntax", "unknown-name")


def when_syntax(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.having("when"):
        when = as_str(ref.step.get("when"))
        if when is None:
            continue
        problem = expression(when).error
        if problem:
            yield ctx.error(
                (*ref.path, "when"), f"`when` is not a valid expression: {problem}", "when-syntax"
            )


def template_fields(ref: StepRef) -> Iterator[tuple[JsonPath, str]]:
    """Every template a step holds, with its path: exactly the fields the executor renders
    (instructions, choice prompt, gate prompt, expect, checklist items, argv, on-failure
    message, evidence check patterns, `with` values), so a name that validates is a name
    that renders."""
    step, path = ref.step, ref.path
    if isinstance(step.get("instructions"), str):
        yield (*path, "instructions"), step["instructions"]
    choice = as_dict(step.get("choice"))
    if isinstance(choice.get("prompt"), str):
        yield (*path, "choice", "prompt"), choice["prompt"]
    gate = as_dict(step.get("gate"))
    for key in ("prompt", "expect"):
        if isinstance(gate.get(key), str):
            yield (*path, "gate", key), gate[key]
    for i, item in enumerate(as_list(gate.get("items"))):
        if isinstance(item, str):
            yield (*path, "gate", "items", i), item
    for i, arg in enumerate(as_list(as_dict(gate.get("command")).get("argv"))):
        if isinstance(arg, str):
            yield (*path, "gate", "command", "argv", i), arg
    message = as_dict(gate.get("on_failure")).get("message")
    if isinstance(message, str):
        yield (*path, "gate", "on_failure", "message"), message
    yield from _evidence_patterns(as_dict(gate.get("evidence")), (*path, "gate", "evidence"))
    for name, value in as_dict(step.get("with")).items():
        if isinstance(value, str):
            yield (*path, "with", name), value


def _evidence_patterns(evidence: dict[str, Any], path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    for i, check in enumerate(as_list(evidence.get("checks"))):
        for key in ("require", "forbid", "each", "must"):
            if isinstance(as_dict(check).get(key), str):
                yield (*path, "checks", i, key), check[key]


# What can make a field a template: Jinja's openers, or YAML escapes and line continuations
# (double-quoted strings) that could spell one out of text that does not hold it as such.
# Two patterns, each with a literal first character the regex engine can skip ahead to: one
# alternation of both scanned a 1 MB runbook seven times slower.
_TEMPLATE_HINT = re.compile(r"\{[{%#]")


@cache
def _escape_hint() -> re.Pattern[str]:  # compiled on first use: most texts have a template
    return re.compile(r"\\(?:x7[bB]|u007[bB]|U0000007[bB]|\r?\n)")


def _may_hold_templates(ctx: Context) -> bool:
    """False when no field of the file can hold Jinja syntax: a text with none of it checks
    in one scan instead of a walk over every field (template_fields' strings all come from
    this text, and one without `{{`, `{%` or `{#` has no names and no syntax to get wrong)."""
    text = ctx.document.text
    return _TEMPLATE_HINT.search(text) is not None or _escape_hint().search(text) is not None


def parsed_templates(ctx: Context) -> list[tuple[StepRef, list[tuple[JsonPath, Parsed]]]]:
    """Every step with its templates parsed, computed once per file for both rules below."""
    found = ctx.memo.get("templates")
    if found is None:
        if _may_hold_templates(ctx):
            found = [
                (ref, [(path, _parse(source)) for path, source in template_fields(ref)])
                for ref in ctx.steps
            ]
        else:
            found = []  # no field holds Jinja syntax: nothing to parse (one scan, no walk)
        ctx.memo["templates"] = found
    return found


def _parse(source: str) -> Parsed:
    # Most text holds no template at all: no cache look-up (nor cache room) for it.
    return template(source) if "{" in source else NO_TEMPLATE


def template_syntax(ctx: Context) -> Iterator[Diagnostic]:
    for _, parsed in parsed_templates(ctx):
        for path, result in parsed:
            if result.error:
                yield ctx.error(path, f"not a valid template: {result.error}", "template-syntax")


def unknown_name(ctx: Context) -> Iterator[Diagnostic]:
    templates = dict((id(ref), parsed) for ref, parsed in parsed_templates(ctx))
    # Without templates, only a step's `when` has names to check.
    for ref in ctx.steps if templates else ctx.having("when"):
        parsed = list(templates.get(id(ref), ()))
        when = as_str(ref.step.get("when"))
        if when is not None:
            parsed.append(((*ref.path, "when"), expression(when)))
        for path, result in parsed:
            # ref.visible: one look-up, not the set of every name visible (see StepRef).
            for name in sorted(n for n in result.names if not ref.visible(n)):
                yield ctx.error(
                    path,
                    f"'{name}' is not declared before this step (params, target, "
                    "earlier choice vars, loop vars)",
                    "unknown-name",
                )
