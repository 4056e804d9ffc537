"""bad-regex: patterns and evidence checks that do not compile, are too long or can backtrack
catastrophically."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from ocsrun.runbook import plain_regex
from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.patterns import compiled as engine_compiled
from ocsrun.runbook.rules.context import Context, JsonPath, as_dict, as_list

RULE_IDS = ("bad-regex",)
MAX_REGEX = 1000
MAX_BOUNDED_REPEAT = 10
_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def bad_regex(ctx: Context) -> Iterator[Diagnostic]:
    for path, pattern in _regexes(ctx):
        # Evidence patterns are templates: a run's value goes in as literal text, like "x".
        problem = compile_pattern(_TEMPLATE_PART.sub("x", pattern) if "checks" in path else pattern)
        if isinstance(problem, str):
            yield ctx.error(path, f"regex {problem}", "bad-regex")


def _regexes(ctx: Context) -> Iterator[tuple[JsonPath, str]]:
    data = ctx.data
    target = as_dict(as_dict(data.get("metadata")).get("target"))
    if isinstance(target.get("pattern"), str):
        yield ("metadata", "target", "pattern"), target["pattern"]
    for name, param in as_dict(data.get("params")).items():
        if isinstance(as_dict(param).get("pattern"), str):
            yield ("params", name, "pattern"), param["pattern"]
    for ref in ctx.gates:
        checks = as_list(as_dict(as_dict(ref.step.get("gate")).get("evidence")).get("checks"))
        for i, check in enumerate(checks):
            for key in ("require", "forbid", "each", "must"):
                if isinstance(as_dict(check).get(key), str):
                    yield (*ref.path, "gate", "evidence", "checks", i, key), check[key]


# Runbooks repeat the same patterns (a fragment's checks in every runbook that uses it, one
# param pattern in many files): each distinct pattern is compiled and screened once.
@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern[str] | str:
    """The compiled regex, or why it is refused."""
    if len(pattern) > MAX_REGEX:
        return f"is {len(pattern)} characters long; the limit is {MAX_REGEX}"
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        return f"does not compile: {error}"
    try:
        # Patterns and evidence checks run on the `regex` engine (bounded matching): it must
        # accept the pattern too (it surely does a plain one, and is not even imported then).
        if not plain_regex.surely_compiles(pattern):
            engine_compiled(pattern)
    except Exception as error:  # regex.error, or the engine's own limits
        return f"does not compile with the run-time regex engine: {error}"
    return _backtracking(pattern) or compiled


def _backtracking(pattern: str) -> str | None:
    """Why a regex could backtrack catastrophically (nested or overlapping repeats), if it can.

    Evidence files are matched line by line on the operator's machine; a pattern like
    `^(a+)+$` would hang the run on one unlucky line.
    """
    try:
        parser = importlib.import_module("re._parser")
        tree = parser.parse(pattern)
    except Exception:  # a private module: if it changes, only this heuristic is lost
        return None
    # The opcodes are re-exported by the parser module.
    return _repeat_problem(tree, parser)


def _repeat_problem(sub: Any, c: Any) -> str | None:
    """Walk the parsed regex; at each unbounded repeat, look at what it repeats."""
    for op, av in sub:
        children: list[Any] = []
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            body = _body(av[2], c)
            # Unbounded, or bounded but large: `(.*){1,32000}x` is as bad as `(.*)*x`.
            if av[1] == c.MAXREPEAT or av[1] > MAX_BOUNDED_REPEAT:
                problem = _repeated_body_problem(body, c)
                if problem:
                    return problem
            children = [av[2]]
        elif op == c.SUBPATTERN:
            children = [av[3]]
        elif op == c.BRANCH:
            children = list(av[1])
        elif op in (c.ASSERT, c.ASSERT_NOT):
            children = [av[1]]
        for child in children:
            problem = _repeat_problem(child, c)
            if problem:
                return problem
    return None


def _body(sub: Any, c: Any) -> list[Any]:
    items = list(sub)
    while len(items) == 1 and items[0][0] == c.SUBPATTERN:
        items = list(items[0][1][3])
    return items


def _repeated_body_problem(body: list[Any], c: Any) -> str | None:
    repeats = [av for op, av in body if op in (c.MAX_REPEAT, c.MIN_REPEAT)]
    # Only repeats, nothing fixed between them: `(a+)+`, `(\w+\s?)+`. A fixed separator, as
    # in `[a-z]+(,[a-z]+)*`, decides where each round starts and keeps matching linear.
    if body and len(repeats) == len(body) and any(av[1] > 1 for av in repeats):
        return "has nested repeats (like (a+)+), which can backtrack catastrophically"
    for op, av in body:
        if op == c.BRANCH:
            firsts = [list(alternative)[:1] for alternative in av[1]]
            if any(a == b for i, a in enumerate(firsts) for b in firsts[i + 1 :]):
                return (
                    "has overlapping alternatives under a repeat (like (a|a)*), which can "
                    "backtrack catastrophically"
                )
    return None
