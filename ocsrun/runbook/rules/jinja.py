"""Jinja2 templates and `when:` expressions as the rules see them: parsed once per distinct
source text (runbooks repeat the same `when`s and templates a lot), with the names each reads
and what it uses that runbooks may not.

Sources in the common subset (jinja_subset) are read without Jinja; Jinja parses the rest, and
words every finding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ocsrun.runbook.rules import jinja_subset
from ocsrun.runbook.rules.jinja_tree import Node, from_jinja, names_of


@dataclass(frozen=True)
class Parsed:
    error: str | None
    names: frozenset[str]
    # Our tree (jinja_tree.Node): a when's expression, or a template the recognizer read
    # (None for a template Jinja parsed: no rule looks inside those).
    node: Node | None = None


NO_TEMPLATE = Parsed(None, frozenset())


@cache
def environment() -> Any:
    import jinja2  # imported here, not at the top: CLI start-up must stay fast

    return jinja2.Environment(autoescape=False)


def undeclared(tree: Any, *, assigns: bool) -> frozenset[str]:
    """Names a parsed template reads without defining them itself (minus Jinja's globals)."""
    from jinja2 import meta, nodes

    if assigns:  # {% for %} / {% set %} define names: let Jinja's own analysis sort them out
        names = set(meta.find_undeclared_variables(tree))
    else:  # outputs only: every loaded name comes from outside, and this walk is much cheaper
        names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    return frozenset(names) - set(environment().globals)


# `{{ name }}` alone is by far the most common template; it needs no parser. Not right after
# another "{": Jinja's lexer would start at that earlier "{{" (`{{{ x }}}` is a syntax error).
# (Compiled on first use, as _output_tag: the recognizer reads most templates without them.)
@cache
def _simple_output() -> re.Pattern[str]:
    return re.compile(r"(?<!\{)\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")


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
def template(source: str) -> Parsed:
    try:
        return parse_template(source)
    except RecursionError:
        return Parsed(_TOO_DEEP, frozenset())


def parse_template(source: str) -> Parsed:
    if "{" not in source:
        return NO_TEMPLATE
    recognized = jinja_subset.template(source)
    if recognized is not None:
        return Parsed(None, names_of(recognized), recognized)
    return parse_template_with_jinja(source)


def parse_template_with_jinja(source: str) -> Parsed:
    """A template outside the recognizer's subset: Jinja's parser, on the whole template or
    tag by tag (below)."""
    rest = _simple_output().sub("", source)
    if not any(opener in rest for opener in ("{{", "{%", "{#")):
        names = frozenset(_simple_output().findall(source)) - _JINJA_LITERALS
        if not names & _NOT_A_NAME:
            return Parsed(None, names - JINJA_GLOBALS)
    tags = _output_tag().findall(source)
    if len(tags) > 1 or (tags and tags[0] != source):
        found = _tags_only(source, tags)
        if found is not None:
            return found
    return _parse_whole(source)


# An output tag whose expression holds no brace and no quote: Jinja's lexer ends it at its first
# `}}` (the only one in it). Not right after another "{", as above.
@cache
def _output_tag() -> re.Pattern[str]:
    return re.compile(r"(?<!\{)\{\{[^{}'\"]*\}\}")


def _tags_only(source: str, tags: list[str]) -> Parsed | None:
    """A template that is text and such output tags only (`For {{ labels[role] }} on ...`),
    parsed tag by tag: each distinct tag once, whatever text surrounds it (runbooks repeat the
    same expressions in many different sentences). None when the text holds any other Jinja
    syntax or a tag has a finding: the whole template is parsed then, so every finding reads
    exactly as Jinja words it (its line number counts from the template's first line).

    Why it equals parsing the whole: without a "{" before a tag or inside one, every `{{`,
    `{%` or `{#` of the source is either the start of one of these tags or left in the text
    between them, which is checked to hold none; so Jinja's lexer meets exactly these tags,
    and lexes each as it would alone. A template of output tags has no assignments, so its
    names and its unsafe constructs are those of its tags together."""
    between = _output_tag().sub("", source)
    if any(opener in between for opener in ("{{", "{%", "{#")):
        return None
    names: set[str] = set()
    for tag in tags:
        parsed = _tag(tag)
        if parsed.error is not None:
            return None
        names |= parsed.names
    return Parsed(None, frozenset(names))


@lru_cache(maxsize=4096)
def _tag(tag: str) -> Parsed:
    return _parse_whole(tag)


def _parse_whole(source: str) -> Parsed:
    from jinja2 import TemplateSyntaxError

    try:
        tree = environment().parse(source)
    except TemplateSyntaxError as error:
        return Parsed(f"{error.message} (line {error.lineno})", frozenset())
    problem = unsafe(tree)
    if problem:
        return Parsed(problem, frozenset())
    return Parsed(None, undeclared(tree, assigns="{%" in source))


@lru_cache(maxsize=8192)
def expression(source: str) -> Parsed:
    try:
        return parse_expression(source)
    except RecursionError:
        return Parsed(_TOO_DEEP, frozenset())


def parse_expression(source: str) -> Parsed:
    recognized = jinja_subset.expression(source)
    if recognized is not None:
        return Parsed(None, names_of(recognized), recognized)
    return parse_expression_with_jinja(source)


def parse_expression_with_jinja(source: str) -> Parsed:
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.parser import Parser

    try:
        parser = Parser(environment(), source, state="variable")
        node = parser.parse_expression()
        if not parser.stream.eos:
            return Parsed(
                f"unexpected '{parser.stream.current.value}' after the expression", frozenset()
            )
    except TemplateSyntaxError as error:
        return Parsed(str(error.message), frozenset())
    tree = nodes.Template([nodes.Output([node])]).set_environment(environment())
    problem = unsafe(tree)
    if problem:
        return Parsed(problem, frozenset())
    names = undeclared(tree, assigns=False)  # (a walk: it folds no constants, unlike codegen)
    try:
        converted = from_jinja(node)
    except RecursionError:  # nesting Jinja's walks survived: no tree for the rules, no finding
        converted = None
    return Parsed(None, names, converted)


def unsafe(tree: Any) -> str | None:
    """What a template uses that runbooks may not: private attributes, and constructs that
    can make rendering explode (huge strings, huge numbers, loops). The run-time sandbox
    refuses most of these too; saying so at validation time names the line."""
    from jinja2 import nodes

    problems: list[str] = []
    for node in tree.find_all(
        (nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call, nodes.BinExpr, nodes.Stmt)
    ):
        problem = _unsafe_node(node) or _unbounded_work(node)
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


# Globals that build text or sequences from a number; `for` loops are refused, so a runbook
# has no use for them, and `range(9999)|map(...)|join` chains multiply their work.
_GENERATORS = {
    "lipsum": "'lipsum' (a text generator)",
    "range": "'range' (it builds sequences; use a for_each step)",
}
# Filters whose extra arguments are data, not widths or counts.
_NUMERIC_FILTERS = frozenset(
    {"abs", "default", "d", "float", "int", "round", "filesizeformat", "min", "max", "sum"}
)


def _unbounded_work(node: Any) -> str | None:
    """A call whose work grows with a number or format width in the template (run time has the
    same limits, from ocsrun.runbook.budget; this names the line before anything runs)."""
    from jinja2 import nodes

    from ocsrun.runbook.budget import MAX_WIDTH, format_spec_problem

    called = node.node if isinstance(node, nodes.Call) else None
    if isinstance(called, nodes.Name) and called.name in _GENERATORS:
        return _GENERATORS[called.name]
    formatted = _format_string(node)
    if formatted is not None:
        problem = format_spec_problem(formatted)
        if problem:
            return problem
    if isinstance(node, nodes.Filter | nodes.Call):
        if isinstance(node, nodes.Filter) and node.name in _NUMERIC_FILTERS:
            return None
        for arg in [*node.args, *(kw.value for kw in node.kwargs)]:
            value = arg.value if isinstance(arg, nodes.Const) else None
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
                return f"number {value} as a width or count (the limit is {MAX_WIDTH})"
    return None


def _format_string(node: Any) -> str | None:
    """The literal format string of `'…' % x`, `'…'|format(x)` or `'…'.format(x)`."""
    from jinja2 import nodes

    target = None
    if isinstance(node, nodes.Mod) or (isinstance(node, nodes.Filter) and node.name == "format"):
        target = node.left if isinstance(node, nodes.Mod) else node.node
    elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        target = node.node.node if node.node.attr in ("format", "format_map") else None
    if isinstance(target, nodes.Const) and isinstance(target.value, str):
        return target.value
    return None


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
