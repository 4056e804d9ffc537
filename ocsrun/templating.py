"""Rendering runbook templates and `when:` expressions in Jinja2's immutable sandbox.

A runbook is data from whoever wrote it; its templates must not reach Python
objects, files or the environment. The sandbox refuses attribute tricks
(`__class__`, `mro`), the immutable variant refuses mutating lists/dicts, and
only plain values (str, int, bool, tuples, dicts of those) are put in the
context. StrictUndefined turns a misspelt name into an error instead of an
empty string on a 2 a.m. screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from ocsrun.errors import OcsrunError

if TYPE_CHECKING:
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


def render(template: str, context: Mapping[str, Any], where: str = "") -> str:
    """Render one template; errors name `where` (a step path), never a param's value."""
    if "{" not in template:
        return template  # most text has no template syntax; skip the compile
    from jinja2 import TemplateError as JinjaError

    try:
        out = _environment().from_string(template).render(dict(context))
    except JinjaError as error:
        raise TemplateError(f"{where or 'template'}: {_describe(error)}") from None
    if len(out) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"{where or 'template'}: rendered text exceeds {MAX_OUTPUT_CHARS}")
    return out


def evaluate(expression: str, context: Mapping[str, Any], where: str = "") -> bool:
    """The truth of a `when:` expression."""
    from jinja2 import TemplateError as JinjaError

    try:
        compiled = _environment().compile_expression(expression, undefined_to_none=False)
        return bool(compiled(**dict(context)))
    except JinjaError as error:
        raise TemplateError(f"{where or 'when'}: {_describe(error)}") from None


def names_in(expression: str) -> tuple[str, ...]:
    """The variable names an expression reads (for journaling why a step was skipped)."""
    from jinja2 import meta

    env = _environment()
    try:
        ast = env.parse("{{ " + expression + " }}")
    except Exception:
        return ()
    return tuple(sorted(meta.find_undeclared_variables(ast)))


def _describe(error: Exception) -> str:
    # Jinja messages name variables and attributes, not values; keep the first line only.
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
