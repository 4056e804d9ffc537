"""Target and param `pattern`s, matched with a bound.

Standard `re` backtracks without limit and cannot be interrupted: `^(\\w*\\d)*$` takes
minutes on a 30-character target, a hang before the run even starts (or during `validate`,
which checks each default against its pattern). Patterns are matched with the `regex` engine,
as evidence checks are (`ocsrun.run.evidence`), with a timeout; the `bad-regex` rule screens
the obvious cases statically and compiles every pattern with the same engine.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ocsrun.errors import OcsrunError

PATTERN_TIMEOUT = 1.0  # seconds for one match: far more than any sane pattern needs
MAX_SUBJECT = 4096  # characters matched at most: a target or param value, not a document


class PatternTimeout(OcsrunError):
    """A pattern could not be matched within its time bound."""

    exit_code = 2


@lru_cache(maxsize=256)
def compiled(pattern: str) -> Any:
    """The pattern compiled by the run-time engine (regex.error when it does not compile)."""
    import importlib

    # imported here, not at the top: CLI start-up must stay fast (no stubs: typed Any)
    regex: Any = importlib.import_module("regex")

    return regex.compile(pattern)


def fullmatch(pattern: str, text: str, timeout: float = PATTERN_TIMEOUT) -> bool:
    """Whether all of `text` matches; PatternTimeout when the engine needs longer than
    `timeout`, or the text is longer than anything a pattern should be asked to judge."""
    if len(text) > MAX_SUBJECT:
        raise PatternTimeout(f"a value of {len(text)} characters (the limit is {MAX_SUBJECT})")
    try:
        return compiled(pattern).fullmatch(text, timeout=timeout) is not None
    except TimeoutError:
        raise PatternTimeout(
            f"its pattern {pattern!r} took more than {timeout:g} s to match (it backtracks)"
        ) from None
