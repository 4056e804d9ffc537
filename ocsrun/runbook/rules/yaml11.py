"""yaml11: a plain scalar read as a string here that YAML 1.1 tools read as a boolean or number.

Unlike the other rules it runs after them: what the schema (or a rule) already said about the
same value decides the hint, so it takes their findings and returns the list with its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from ocsrun.errors import Position
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.yaml11 import SHOW_TEXT_CHARS, yaml11_reading

RULE_IDS = ("yaml11",)
RULE = "yaml11"


# What a finding already at a scalar's position says the runbook wants there.
_WANTS = (
    ("expected a boolean", "boolean"),
    ("expected an integer", "number"),
    ("expected a number", "number"),
    ("is not true or false", "boolean"),  # param-default, for a bool param
    ("is not an integer", "number"),
)
# The findings a yaml11 finding with its fix replaces (they say the same thing less helpfully).
_REPLACED = frozenset({"schema", "param-default"})


def check(found: Iterable[Diagnostic], scalars: Iterable[tuple[Position, str]]) -> list[Diagnostic]:
    """The findings so far, with one `yaml11` finding per plain scalar YAML 1.1 reads otherwise.

    Where the schema already refused the string because it wants a boolean or a number there,
    the yaml11 finding (with its fix) replaces that schema finding; where some other finding is
    at the scalar, that one stands alone; where nothing objected, the runbook takes a string.
    """
    result = list(found)
    at: dict[tuple[int, int], list[Diagnostic]] = {}
    for diagnostic in result:
        at.setdefault((diagnostic.position.line, diagnostic.position.col), []).append(diagnostic)
    for position, text in scalars:
        reading = yaml11_reading(text)
        if reading is None:
            continue
        here = at.get((position.line, position.col), [])
        wants = next(
            (want for d in here for phrase, want in _WANTS if phrase in d.message),
            None,
        )
        if wants is None and (here or reading.kind == "timestamp"):
            continue  # another finding explains it; a date read as text is what was meant
        if wants is not None:
            result = [d for d in result if not (d in here and d.rule in _REPLACED)]
        shown = text if len(text) <= SHOW_TEXT_CHARS else text[:SHOW_TEXT_CHARS] + "..."
        message = (
            f"'{shown}' is YAML 1.1 for {reading.described()}; YAML 1.2 (and ocsrun) read "
            f"a string; {reading.fix(wants or 'string')}"
        )
        result.append(Diagnostic(position, Severity.ERROR, message, RULE))
    return result
