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

    # autoescape off: output goes to a terminal, not HTML; the terminal
    # operator neutralises control sequences itself.
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


# `{{ name }}` and nothing else: by far the commonest template (`{{ target }}`). Rendered
# without Jinja's compiler, with the same result (str() of the value, a missing name an
# error); anything else goes to the sandbox.
_PLAIN_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


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
        # Streamed so a runaway loop is stopped at the cap, not after filling memory.
        for part in _compiled(template).generate(dict(context)):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"{where or 'template'}: output over {MAX_OUTPUT_CHARS} chars")
            parts.append(part)
    except TemplateError:
        raise
    except Exception as error:  # runbook code: any failure is the runbook's, shown in one line
        raise TemplateError(f"{where or 'template'}: {_describe(error)}") from None
    return "".join(parts)


def _render_plain(template: str, context: Mapping[str, Any], where: str) -> str | None:
    if "{%" in template or "{#" in template:
        return None
    pieces = _PLAIN_NAME.split(template)
    texts, names = pieces[::2], pieces[1::2]
    if any("{{" in text for text in texts):
        return None
    out = [texts[0]]
    for name, text in zip(names, texts[1:], strict=True):
        if name not in context:
            raise TemplateError(f"{where or 'template'}: '{name}' is undefined")
        out += [str(context[name]), text]
    return "".join(out)


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
        return bool(_expression(expression)(**dict(context)))
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
