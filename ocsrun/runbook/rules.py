"""Semantic rules: what the JSON Schema cannot say. Each rule is one function with one rule id.

Rules run on the plain data after the schema check. They must not trust its shape (a file with
schema errors is still checked), so every access goes through the small guards below.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from ocsrun.errors import LoadError, Position
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.includes import FragmentCache, resolve_include
from ocsrun.runbook.loader import Document

JsonPath = tuple[str | int, ...]
KIND_KEYS = ("choice", "gate", "for_each", "uses")
MAX_REGEX = 1000
SCHEMA_COMMENT = "# yaml-language-server: $schema="


@dataclass
class Context:
    document: Document
    file: Path | None = None
    root_dir: Path | None = None
    fragments: FragmentCache = field(default_factory=FragmentCache)

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @cached_property
    def steps(self) -> list[StepRef]:
        return walk_steps(self.document.data)

    def error(self, path: JsonPath, message: str, rule: str, *, key: bool = False) -> Diagnostic:
        return Diagnostic(self.document.position(path, key=key), Severity.ERROR, message, rule)

    def warning(self, path: JsonPath, message: str, rule: str, *, key: bool = False) -> Diagnostic:
        return Diagnostic(self.document.position(path, key=key), Severity.WARNING, message, rule)


@dataclass(frozen=True)
class StepRef:
    """A step with where it sits: its JSON path, its scope, and the names visible to it."""

    path: JsonPath
    step: dict[str, Any]
    index: int
    scope: JsonPath
    names: frozenset[str]
    loops: tuple[dict[str, Any], ...]


# --- guards -------------------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: Any) -> list[str]:
    return [item for item in _list(value) if isinstance(item, str)]


# --- Jinja2 -------------------------------------------------------------------------------------
# Parsed once per distinct source text: runbooks repeat the same `when`s and templates a lot.


@dataclass(frozen=True)
class Parsed:
    error: str | None
    names: frozenset[str]
    node: Any = None


_NO_TEMPLATE = Parsed(None, frozenset())


@cache
def _environment() -> Any:
    import jinja2  # imported here, not at the top: CLI start-up must stay fast

    return jinja2.Environment(autoescape=False)


def _undeclared(tree: Any, *, assigns: bool) -> frozenset[str]:
    """Names a parsed template reads without defining them itself (minus Jinja's globals)."""
    from jinja2 import meta, nodes

    if assigns:  # {% for %} / {% set %} define names: let Jinja's own analysis sort them out
        names = set(meta.find_undeclared_variables(tree))
    else:  # outputs only: every loaded name comes from outside, and this walk is much cheaper
        names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    return frozenset(names) - set(_environment().globals)


# `{{ name }}` alone is by far the most common template; it needs no parser. Not right after
# another "{": Jinja's lexer would start at that earlier "{{" (`{{{ x }}}` is a syntax error).
_SIMPLE_OUTPUT = re.compile(r"(?<!\{)\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")
_JINJA_LITERALS = frozenset({"true", "false", "none", "True", "False", "None"})
# `not` alone is an incomplete expression to Jinja's parser, not a name.
_NOT_A_NAME = frozenset({"not"})
# jinja2.Environment().globals, spelled out so the fast path does not import Jinja (a resume or
# a run of a runbook with only plain templates then never loads it); a test keeps it in step.
JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})


# The Jinja2 parser and the tree walks below recurse once per nesting level: a template nested
# past Python's recursion limit is a finding at its own field, not an internal error.
_TOO_DEEP = "nested too deeply (brackets, `not`, filters, attributes or blocks)"


@lru_cache(maxsize=8192)
def _template(source: str) -> Parsed:
    try:
        return _parse_template(source)
    except RecursionError:
        return Parsed(_TOO_DEEP, frozenset())


def _parse_template(source: str) -> Parsed:
    if "{" not in source:
        return _NO_TEMPLATE
    rest = _SIMPLE_OUTPUT.sub("", source)
    if not any(opener in rest for opener in ("{{", "{%", "{#")):
        names = frozenset(_SIMPLE_OUTPUT.findall(source)) - _JINJA_LITERALS
        if not names & _NOT_A_NAME:
            return Parsed(None, names - JINJA_GLOBALS)
    from jinja2 import TemplateSyntaxError

    try:
        tree = _environment().parse(source)
    except TemplateSyntaxError as error:
        return Parsed(f"{error.message} (line {error.lineno})", frozenset())
    unsafe = _unsafe(tree)
    if unsafe:
        return Parsed(unsafe, frozenset())
    return Parsed(None, _undeclared(tree, assigns="{%" in source), tree)


@lru_cache(maxsize=8192)
def _expression(source: str) -> Parsed:
    try:
        return _parse_expression(source)
    except RecursionError:
        return Parsed(_TOO_DEEP, frozenset())


def _parse_expression(source: str) -> Parsed:
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.parser import Parser

    try:
        parser = Parser(_environment(), source, state="variable")
        expression = parser.parse_expression()
        if not parser.stream.eos:
            return Parsed(
                f"unexpected '{parser.stream.current.value}' after the expression", frozenset()
            )
    except TemplateSyntaxError as error:
        return Parsed(str(error.message), frozenset())
    tree = nodes.Template([nodes.Output([expression])]).set_environment(_environment())
    unsafe = _unsafe(tree)
    if unsafe:
        return Parsed(unsafe, frozenset())
    return Parsed(None, _undeclared(tree, assigns=False), expression)


def _unsafe(tree: Any) -> str | None:
    """What a template uses that runbooks may not: private attributes, and constructs that
    can make rendering explode (huge strings, huge numbers, loops). The run-time sandbox
    refuses most of these too; saying so at validation time names the line."""
    from jinja2 import nodes

    problems: list[str] = []
    for node in tree.find_all(
        (nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.BinExpr, nodes.Stmt)
    ):
        problem = _unsafe_node(node)
        if problem and problem not in problems:
            problems.append(problem)
    return "not allowed in runbook templates: " + "; ".join(problems) if problems else None


def _unsafe_node(node: Any) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr):
        return f"attribute '{node.attr}' (private)" if node.attr.startswith("_") else None
    if isinstance(node, nodes.Getitem):
        key = node.arg.value if isinstance(node.arg, nodes.Const) else None
        return f"item '{key}' (private)" if isinstance(key, str) and key.startswith("_") else None
    if isinstance(node, nodes.Mul | nodes.Pow):
        return f"operator '{node.operator}' (it can build huge values)"
    return _unsafe_construct(node)


def _unsafe_construct(node: Any) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Filter):
        return "the 'attr' filter" if node.name == "attr" else None
    if isinstance(node, nodes.For):
        return "'for' loops (use a for_each step)"
    banned = (
        nodes.Macro,
        nodes.CallBlock,
        nodes.Include,
        nodes.Import,
        nodes.FromImport,
        nodes.Extends,
        nodes.Block,
    )
    return f"'{type(node).__name__.lower()}' statements" if isinstance(node, banned) else None


def _impossible(source: str, domains: dict[str, set[str]]) -> str | None:
    node = _expression(source).node
    return None if node is None else _never(node, domains)


def _never(node: Any, domains: dict[str, set[str]]) -> str | None:
    """Why an expression can never be true, if it visibly cannot."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const) and not node.value:
        return "the condition is always false"
    if isinstance(node, nodes.And):
        return _never(node.left, domains) or _never(node.right, domains)
    if not (
        isinstance(node, nodes.Compare) and len(node.ops) == 1 and isinstance(node.expr, nodes.Name)
    ):
        return None
    return _never_compared(node.expr.name, node.ops[0], domains.get(node.expr.name))


def _never_compared(name: str, operand: Any, domain: set[str] | None) -> str | None:
    """`name == 'x'` or `name in [...]` where name's known values exclude every literal."""
    from jinja2 import nodes

    if domain is None:
        return None
    values: list[Any] | None = None
    if operand.op == "eq" and isinstance(operand.expr, nodes.Const):
        values = [operand.expr.value]
    elif operand.op == "in":
        values = _literal_list(operand.expr)
    if values is None or domain.intersection(values):
        return None
    shown = repr(values[0]) if len(values) == 1 else f"any of {values!r}"
    return f"'{name}' can never be {shown} (it is one of {', '.join(sorted(domain))})"


def _literal_list(node: Any) -> list[Any] | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Const) and isinstance(node.value, list | tuple):
        return list(node.value)  # the parser folds constant lists into one Const
    if isinstance(node, nodes.List | nodes.Tuple):
        values = [item.value for item in node.items if isinstance(item, nodes.Const)]
        return values if len(values) == len(node.items) else None
    return None


# --- walking steps ------------------------------------------------------------------------------


def base_names(data: dict[str, Any]) -> frozenset[str]:
    names = set(_dict(data.get("params")))
    if "target" in _dict(data.get("metadata")) or data.get("kind") == "fragment":
        # A fragment runs inside a runbook, which supplies the target.
        names.add("target")
    return frozenset(names)


def walk_steps(data: dict[str, Any]) -> list[StepRef]:
    """Every step in document order, each with the names declared before it."""
    found: list[StepRef] = []
    _walk(_list(data.get("steps")), ("steps",), base_names(data), set(), (), found=found)
    return found


def _walk(
    steps: list[Any],
    scope: JsonPath,
    names: frozenset[str],
    choices: set[str],
    loops: tuple[dict[str, Any], ...],
    *,
    found: list[StepRef],
) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        path = (*scope, index)
        found.append(StepRef(path, step, index, scope, names | choices, loops))
        loop = _dict(step.get("for_each"))
        nested = _list(loop.get("steps"))
        if nested:
            loop_names = {n for n in (_str(loop.get("var")), "labels") if n}
            _walk(
                nested,
                (*path, "for_each", "steps"),
                names | loop_names,
                choices,
                (*loops, loop),
                found=found,
            )
        var = _str(_dict(step.get("choice")).get("var"))
        if var:
            choices.add(var)


def _step_id(step: dict[str, Any]) -> str | None:
    return _str(step.get("id"))


def _scopes(refs: list[StepRef]) -> dict[JsonPath, list[StepRef]]:
    scopes: dict[JsonPath, list[StepRef]] = {}
    for ref in refs:
        scopes.setdefault(ref.scope, []).append(ref)
    return scopes


# --- the rules ----------------------------------------------------------------------------------


def duplicate_id(ctx: Context) -> Iterator[Diagnostic]:
    for refs in _scopes(ctx.steps).values():
        yield from _duplicates(ctx, [((*r.path, "id"), _step_id(r.step)) for r in refs], "step id")
    warnings: list[tuple[JsonPath, str | None]] = [
        (("warnings", i, "id"), _str(_dict(w).get("id")))
        for i, w in enumerate(_list(ctx.data.get("warnings")))
    ]
    for ref in ctx.steps:
        warnings += [
            ((*ref.path, "warnings", i, "id"), _str(_dict(w).get("id")))
            for i, w in enumerate(_list(ref.step.get("warnings")))
        ]
    yield from _duplicates(ctx, warnings, "warning id")


def _duplicates(
    ctx: Context, items: list[tuple[JsonPath, str | None]], what: str
) -> Iterator[Diagnostic]:
    first: dict[str, JsonPath] = {}
    for path, value in items:
        if value is None:
            continue
        if value in first:
            at = ctx.document.position(first[value])
            yield ctx.error(
                path,
                f"{what} '{value}' is used twice (first at {at.line}:{at.col})",
                "duplicate-id",
            )
        else:
            first[value] = path


def step_kind_conflict(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.steps:
        kinds = [k for k in ref.step if k in KIND_KEYS]  # document order: blame the later one
        if len(kinds) > 1:
            yield ctx.error(
                (*ref.path, kinds[1]),
                f"a step has at most one of choice, gate, for_each, uses; this one has "
                f"{' and '.join(kinds)}",
                "step-kind-conflict",
                key=True,
            )


def goto_target(ctx: Context) -> Iterator[Diagnostic]:
    """unknown-goto and goto-forward: a gate may only send the operator back, within its scope."""
    for scope_refs in _scopes(ctx.steps).values():
        ids = {_step_id(r.step): r.index for r in scope_refs}
        for ref in scope_refs:
            target = _str(_dict(_dict(ref.step.get("gate")).get("on_failure")).get("goto"))
            if target is None:
                continue
            path = (*ref.path, "gate", "on_failure", "goto")
            where = ids.get(target)
            if where is None:
                yield ctx.error(
                    path, f"goto '{target}' names no step in this scope", "unknown-goto"
                )
            elif where == ref.index:
                yield ctx.error(
                    path,
                    f"goto '{target}' names this step itself; use action: retry",
                    "unknown-goto",
                )
            elif where > ref.index:
                yield ctx.error(
                    path, f"goto '{target}' jumps forward and would skip steps", "goto-forward"
                )


def when_syntax(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.steps:
        when = _str(ref.step.get("when"))
        if when is None:
            continue
        problem = _expression(when).error
        if problem:
            yield ctx.error(
                (*ref.path, "when"), f"`when` is not a valid expression: {problem}", "when-syntax"
            )


def template_fields(ref: StepRef) -> Iterator[tuple[JsonPath, str]]:
    """Every template a step holds, with its path: exactly the fields the executor renders
    (instructions, choice prompt, gate prompt, expect, checklist items, argv, on-failure
    message, `with` values), so a name that validates is a name that renders."""
    step, path = ref.step, ref.path
    if isinstance(step.get("instructions"), str):
        yield (*path, "instructions"), step["instructions"]
    choice = _dict(step.get("choice"))
    if isinstance(choice.get("prompt"), str):
        yield (*path, "choice", "prompt"), choice["prompt"]
    gate = _dict(step.get("gate"))
    for key in ("prompt", "expect"):
        if isinstance(gate.get(key), str):
            yield (*path, "gate", key), gate[key]
    for i, item in enumerate(_list(gate.get("items"))):
        if isinstance(item, str):
            yield (*path, "gate", "items", i), item
    for i, arg in enumerate(_list(_dict(gate.get("command")).get("argv"))):
        if isinstance(arg, str):
            yield (*path, "gate", "command", "argv", i), arg
    message = _dict(gate.get("on_failure")).get("message")
    if isinstance(message, str):
        yield (*path, "gate", "on_failure", "message"), message
    for name, value in _dict(step.get("with")).items():
        if isinstance(value, str):
            yield (*path, "with", name), value


def template_syntax(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.steps:
        for path, source in template_fields(ref):
            problem = _template(source).error
            if problem:
                yield ctx.error(path, f"not a valid template: {problem}", "template-syntax")


def unknown_name(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.steps:
        sources = list(template_fields(ref))
        when = _str(ref.step.get("when"))
        parsed = [(path, _template(source)) for path, source in sources]
        if when is not None:
            parsed.append(((*ref.path, "when"), _expression(when)))
        for path, result in parsed:
            for name in sorted(result.names - ref.names):
                yield ctx.error(
                    path,
                    f"'{name}' is not declared before this step (params, target, "
                    "earlier choice vars, loop vars)",
                    "unknown-name",
                )


def unreachable_step(ctx: Context) -> Iterator[Diagnostic]:
    domains = _value_domains(ctx)
    for ref in ctx.steps:
        when = _str(ref.step.get("when"))
        if when is None:
            continue
        loop_domains = {
            v: set(_strings(loop.get("order")))
            for loop in ref.loops
            if (v := _str(loop.get("var"))) and loop.get("order")
        }
        reason = _impossible(when, {**domains, **loop_domains})
        if reason:
            yield ctx.error(
                (*ref.path, "when"), f"this step can never run: {reason}", "unreachable-step"
            )


def _value_domains(ctx: Context) -> dict[str, set[str]]:
    """The values an enum param or a choice var can take."""
    domains: dict[str, set[str]] = {}
    for name, param in _dict(ctx.data.get("params")).items():
        if _dict(param).get("type") == "enum":
            domains[name] = set(_strings(param.get("values")))
    for ref in ctx.steps:
        choice = _dict(ref.step.get("choice"))
        var = _str(choice.get("var"))
        if var:
            domains[var] = {
                v for o in _list(choice.get("options")) if (v := _str(_dict(o).get("value")))
            }
    return domains


def param_default(ctx: Context) -> Iterator[Diagnostic]:
    for name, param in _dict(ctx.data.get("params")).items():
        if not isinstance(param, dict) or "default" not in param:
            continue
        problem = _default_problem(param, param["default"])
        if problem:
            yield ctx.error(
                ("params", name, "default"), f"default of param '{name}' {problem}", "param-default"
            )


def _default_problem(param: dict[str, Any], default: Any) -> str | None:
    kind = param.get("type")
    values = _strings(param.get("values"))
    # A secret's default is never echoed, not even in the finding that says it is wrong.
    show: Callable[[Any], str] = (lambda _: "***") if param.get("secret") is True else str
    checks: dict[Any, Callable[[], str | None]] = {
        "string": lambda: _string_problem(param, default, show),
        "enum": lambda: None if default in values else f"'{show(default)}' is not among its values",
        "bool": lambda: None if isinstance(default, bool) else "is not true or false",
        "int": lambda: _int_problem(param, default, show),
        "list": lambda: _list_problem(values, default, show),
    }
    check = checks.get(kind)
    return check() if check else None


def _string_problem(param: dict[str, Any], default: Any, show: Callable[[Any], str]) -> str | None:
    if not isinstance(default, str):
        return "is not a string (quote it)"
    pattern = _str(param.get("pattern"))
    compiled = _compile(pattern) if pattern else None
    if compiled is not None and not isinstance(compiled, str) and not compiled.fullmatch(default):
        return f"'{show(default)}' does not match its pattern"
    return None


def _int_problem(param: dict[str, Any], default: Any, show: Callable[[Any], str]) -> str | None:
    if isinstance(default, bool) or not isinstance(default, int):
        return "is not an integer"
    low, high = param.get("min"), param.get("max")
    if isinstance(low, int) and default < low:
        return f"{show(default)} is below min {low}"
    if isinstance(high, int) and default > high:
        return f"{show(default)} is above max {high}"
    return None


def _list_problem(values: list[str], default: Any, show: Callable[[Any], str]) -> str | None:
    if not isinstance(default, list):
        return "is not a list"
    wrong = [show(item) for item in default if item not in values]
    return f"has {', '.join(repr(w) for w in wrong)} not among its values" if wrong else None


def bad_regex(ctx: Context) -> Iterator[Diagnostic]:
    for path, pattern in _regexes(ctx.data):
        problem = _compile(pattern)
        if isinstance(problem, str):
            yield ctx.error(path, f"regex {problem}", "bad-regex")


def _regexes(data: dict[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    target = _dict(_dict(data.get("metadata")).get("target"))
    if isinstance(target.get("pattern"), str):
        yield ("metadata", "target", "pattern"), target["pattern"]
    for name, param in _dict(data.get("params")).items():
        if isinstance(_dict(param).get("pattern"), str):
            yield ("params", name, "pattern"), param["pattern"]
    for ref in walk_steps(data):
        checks = _list(_dict(_dict(ref.step.get("gate")).get("evidence")).get("checks"))
        for i, check in enumerate(checks):
            for key in ("require", "forbid", "each", "must"):
                if isinstance(_dict(check).get(key), str):
                    yield (*ref.path, "gate", "evidence", "checks", i, key), check[key]


def _compile(pattern: str) -> re.Pattern[str] | str:
    """The compiled regex, or why it is refused."""
    if len(pattern) > MAX_REGEX:
        return f"is {len(pattern)} characters long; the limit is {MAX_REGEX}"
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        return f"does not compile: {error}"
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
            if av[1] == c.MAXREPEAT:
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


def discrepancy_step(ctx: Context) -> Iterator[Diagnostic]:
    refs = ctx.steps
    known = {i for r in refs if (i := _step_id(r.step))} | set(_scoped_ids(refs))
    for d_index, item in enumerate(_list(_dict(ctx.data.get("metadata")).get("discrepancies"))):
        for s_index, step_id in enumerate(_list(_dict(item).get("steps"))):
            if isinstance(step_id, str) and step_id not in known:
                yield ctx.error(
                    ("metadata", "discrepancies", d_index, "steps", s_index),
                    f"discrepancy names step '{step_id}', which does not exist",
                    "discrepancy-step",
                )


def _scoped_ids(refs: list[StepRef]) -> Iterator[str]:
    by_path = {r.path: r for r in refs}
    for ref in refs:
        parts = []
        path = ref.path
        while path in by_path:
            parts.append(_step_id(by_path[path].step) or "?")
            path = path[:-3]  # (..., index, "for_each", "steps", index) → the enclosing step
        yield ".".join(reversed(parts))


def missing_schema_comment(ctx: Context) -> Iterator[Diagnostic]:
    first_line = ctx.document.text.split("\n", 1)[0]
    if not first_line.startswith(SCHEMA_COMMENT):
        yield Diagnostic(
            Position(ctx.document.path, 1, 1),
            Severity.WARNING,
            f"the first line should be '{SCHEMA_COMMENT}<path to runbook.schema.json>' "
            "so editors can check this file",
            "missing-schema-comment",
        )


# --- for_each -----------------------------------------------------------------------------------


def foreach_rules(ctx: Context) -> Iterator[Diagnostic]:
    """foreach-over, foreach-unknown-item and foreach-order, which share their look-ups."""
    params = _dict(ctx.data.get("params"))
    for ref in ctx.steps:
        loop = ref.step.get("for_each")
        if not isinstance(loop, dict) or not isinstance(loop.get("order"), list):
            continue
        path = (*ref.path, "for_each")
        order = _strings(loop["order"])
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
    over = _str(loop.get("over"))
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
    for name in _dict(loop.get("labels")):
        if name not in rank:
            yield ctx.error(
                (*path, "labels", name),
                f"label for '{name}', which is not in order",
                "foreach-unknown-item",
                key=True,
            )
    for name, before in _dict(loop.get("after")).items():
        if name not in rank:
            yield ctx.error(
                (*path, "after", name),
                f"'after' names '{name}', which is not in order",
                "foreach-unknown-item",
                key=True,
            )
            continue
        for i, other in enumerate(_list(before)):
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
    params = _dict(ctx.data.get("params"))
    for ref in ctx.steps:
        over = _str(_dict(ref.step.get("for_each")).get("over"))
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


# --- includes -----------------------------------------------------------------------------------


def include_rules(ctx: Context) -> Iterator[Diagnostic]:
    """unknown-include, include-escape, include-cycle and include-args for every `uses`."""
    if ctx.file is None or ctx.root_dir is None:
        return
    for ref in ctx.steps:
        uses = _str(ref.step.get("uses"))
        if uses is not None:
            yield from _check_include(ctx, ref, uses)


def _check_include(ctx: Context, ref: StepRef, uses: str) -> Iterator[Diagnostic]:
    assert ctx.file is not None and ctx.root_dir is not None
    path = (*ref.path, "uses")
    try:
        target = resolve_include(ctx.file, ctx.root_dir, uses)
    except LoadError as error:
        yield ctx.error(path, error.message, error.rule)
        return
    fragment = ctx.fragments.get(target)
    if isinstance(fragment, LoadError) or fragment.data.get("kind") != "fragment":
        why = fragment.message if isinstance(fragment, LoadError) else "its kind is not fragment"
        yield ctx.error(
            path, f"include '{uses}' is not a usable fragment: {why}", "unknown-include"
        )
        return
    yield from _include_args(ctx, ref, fragment)
    onward = ctx.fragments.includes(target, ctx.root_dir)
    if target == ctx.file.resolve() or target in onward or ctx.file.resolve() in onward:
        yield ctx.error(
            path, f"include '{uses}' leads back to a file that includes it", "include-cycle"
        )


def _include_args(ctx: Context, ref: StepRef, fragment: Document) -> Iterator[Diagnostic]:
    params = _dict(fragment.data.get("params"))
    given = _dict(ref.step.get("with"))
    for name in given:
        if name not in params:
            yield ctx.error(
                (*ref.path, "with", name),
                f"fragment has no param '{name}'",
                "include-args",
                key=True,
            )
    missing = [n for n, p in params.items() if "default" not in _dict(p) and n not in given]
    if missing:
        where = (*ref.path, "with") if "with" in ref.step else (*ref.path, "uses")
        yield ctx.error(
            where,
            "missing argument(s) for fragment param(s) without default: " + ", ".join(missing),
            "include-args",
            key="with" in ref.step,
        )


RULES: tuple[Callable[[Context], Iterable[Diagnostic]], ...] = (
    missing_schema_comment,
    duplicate_id,
    step_kind_conflict,
    goto_target,
    when_syntax,
    template_syntax,
    unknown_name,
    unreachable_step,
    param_default,
    bad_regex,
    discrepancy_step,
    foreach_rules,
    foreach_over,
    include_rules,
)


def check(ctx: Context) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for rule in RULES:
        try:
            found.extend(rule(ctx))
        except Exception as error:
            found.append(
                Diagnostic(
                    Position(ctx.document.path, 1, 1),
                    Severity.ERROR,
                    f"internal error in rule {rule.__name__}: {error!r}",
                    "internal",
                )
            )
    return found
