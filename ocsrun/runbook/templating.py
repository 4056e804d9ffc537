"""Rendering runbook templates and `when:` expressions in Jinja2's immutable sandbox.

A runbook is data from whoever wrote it; its templates must not reach Python
objects, files or the environment. The sandbox refuses attribute tricks
(`__class__`, `mro`), the immutable variant refuses mutating lists/dicts, and
only plain values (str, int, bool, tuples, dicts of those) are put in the
context. StrictUndefined turns a misspelt name into an error instead of an
empty string on a 2 a.m. screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from ocsrun.errors import OcsrunError
from ocsrun.runbook import budget

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

# Rendered output is shown on a terminal or written to a journal; cap it so a
# template loop cannot produce gigabytes.
MAX_OUTPUT_CHARS = 256 * 1024


class TemplateError(OcsrunError):
    """A template or `when:` expression failed at run time."""

    exit_code = 1
    rule = "template"


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Budgeted(ImmutableSandboxedEnvironment):
        """Every call, `%` and filter checked against the work budget (ocsrun.runbook.budget)."""

        intercepted_binops = frozenset({"%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "%" and isinstance(left, str):
                budget.check_format("%", left)
                budget.check_numbers("%", right if isinstance(right, tuple) else (right,))
            return budget.check_size(operator, super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            name = getattr(__obj, "__name__", "call")
            budget.check_numbers(name, [*args, *kwargs.values()])
            if name == "generate_lorem_ipsum":
                budget.check_lipsum(args, kwargs)
            target = getattr(__obj, "__wrapped__", __obj)
            if name in ("format", "format_map") and isinstance(
                getattr(target, "__self__", None), str
            ):
                budget.check_format(name, target.__self__)
            result = super().call(__context, __obj, *args, **kwargs)
            return budget.check_size(name, result)

    # autoescape off: output goes to a terminal, not HTML; the terminal
    # operator neutralises control sequences itself.
    environment = Budgeted(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    environment.filters = {
        name: budget.budgeted_filter(name, function)
        for name, function in environment.filters.items()
    }
    return environment


# `{{ name }}` and nothing else: by far the commonest template (`{{ target }}`). Rendered
# without Jinja's compiler, with the same result (str() of the value); anything Jinja would
# read differently goes to the sandbox (see _render_plain).
_PLAIN_NAME = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
_OPENERS = ("{{", "{%", "{#")
# Names Jinja reads as literals or keywords, not as context variables.
_NOT_VARIABLES = frozenset(
    [
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "elif",
        "endif",
        "for",
        "endfor",
        "recursive",
        "block",
        "set",
        "with",
        "import",
        "include",
        "extends",
        "macro",
        "call",
        "raw",
        "filter",
        "from",
        "as",
    ]
)
# Values whose str() is exactly what Jinja outputs (bool is an int).
_PLAIN_VALUES = (str, int, float, tuple, type(None))


def render(template: str, context: Mapping[str, Any], where: str = "") -> str:
    """Render one template; errors name `where` (a step path), never a param's value."""
    if "{" not in template:
        return template  # most text has no template syntax; skip the compile
    simple = _render_plain(template, context, where)
    if simple is not None:
        return simple
    parts: list[str] = []
    size = 0
    try:
        # Streamed so a runaway loop is stopped at the cap, not after filling memory; under a
        # budget of time and memory for the work before any output exists.
        with budget.budget():
            for part in _compiled(template).generate(dict(context)):
                size += len(part)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateError(
                        f"{where or 'template'}: output over {MAX_OUTPUT_CHARS} chars"
                    )
                parts.append(part)
    except TemplateError:
        raise
    except budget.BudgetExceeded as error:
        raise TemplateError(f"{where or 'template'}: {error.message}") from None
    except Exception as error:  # runbook code: any failure is the runbook's, shown in one line
        raise TemplateError(f"{where or 'template'}: {_describe(error)}") from None
    return "".join(parts)


def _render_plain(template: str, context: Mapping[str, Any], where: str) -> str | None:
    """The rendered text, or None when Jinja must decide (then it gives the same result or
    error as ever): a literal or keyword name (`{{ true }}`), a name not in the context (a
    Jinja global, or the StrictUndefined error), a value that is not a plain str/int/float/
    tuple/None,
    an opener Jinja would cut at first (`{{{ x }}}`, `{%`, `{#`), or a carriage return
    (Jinja normalises line breaks in template text)."""
    if "\r" in template:
        return None
    out: list[str] = []
    position = 0
    for match in _PLAIN_NAME.finditer(template):
        text = template[position : match.start()]
        if text.endswith("{") or any(opener in text for opener in _OPENERS):
            return None
        name = match.group(1)
        value = context.get(name, _MISSING) if name not in _NOT_VARIABLES else _MISSING
        if value is _MISSING or not isinstance(value, _PLAIN_VALUES):
            return None
        out += [text, str(value)]
        position = match.end()
    rest = template[position:]
    if any(opener in rest for opener in _OPENERS):
        return None
    out.append(rest)
    rendered = "".join(out)
    if len(rendered) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"{where or 'template'}: output over {MAX_OUTPUT_CHARS} chars")
    return rendered


_MISSING = object()


def render_pattern(template: str, context: Mapping[str, Any], where: str = "") -> str:
    """Render a regex template: what each `{{ ... }}` outputs is inserted as literal text.

    A target such as `se01.contoso.com` must match itself, not `se01Xcontoso-com`, and a
    param value can never inject regex syntax. Only the output is escaped: comparisons and
    filters inside the braces see the plain values.
    """
    if "{" not in template:
        return template
    escaped = {
        name: re.escape(str(value))
        for name, value in context.items()
        if isinstance(value, _PLAIN_VALUES) and not isinstance(value, tuple)
    }
    simple = _render_plain(template, escaped, where)
    if simple is not None:
        return simple
    parts: list[str] = []
    size = 0
    try:
        for part in _compiled_pattern(template).generate(dict(context)):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"{where or 'template'}: output over {MAX_OUTPUT_CHARS} chars")
            parts.append(part)
    except TemplateError:
        raise
    except Exception as error:  # runbook code: any failure is the runbook's, shown in one line
        raise TemplateError(f"{where or 'template'}: {_describe(error)}") from None
    return "".join(parts)


@cache
def _pattern_environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=lambda value: re.escape(str(value)),
    )


@lru_cache(maxsize=256)
def _compiled_pattern(template: str) -> Template:
    return _pattern_environment().from_string(template)


@lru_cache(maxsize=1024)
def _compiled(template: str) -> Template:
    # Retries, gotos and for-each items render the same text again: compile it once.
    return _environment().from_string(template)


@lru_cache(maxsize=1024)
def _expression(expression: str) -> Callable[..., Any]:
    return _environment().compile_expression(expression, undefined_to_none=False)


def evaluate(expression: str, context: Mapping[str, Any], where: str = "") -> bool:
    """The truth of a `when:` expression."""
    try:
        with budget.budget():
            return bool(_expression(expression)(**dict(context)))
    except budget.BudgetExceeded as error:
        raise TemplateError(f"{where or 'when'}: {error.message}") from None
    except Exception as error:  # runbook code: any failure is the runbook's
        raise TemplateError(f"{where or 'when'}: {_describe(error)}") from None


def names_in(expression: str) -> tuple[str, ...]:
    """The variable names an expression reads (for journaling why a step was skipped)."""
    from jinja2 import meta

    env = _environment()
    from jinja2 import TemplateSyntaxError

    try:
        ast = env.parse("{{ " + expression + " }}")
    except TemplateSyntaxError:
        return ()
    return tuple(sorted(meta.find_undeclared_variables(ast)))


def _describe(error: Exception) -> str:
    # Jinja messages name variables and attributes, not values; keep the first line only.
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
