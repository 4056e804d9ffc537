"""Plain scalars that YAML 1.1 and YAML 1.2 read differently (the `yaml11` rule, `ocsrun fmt`).

ocsrun reads YAML 1.2 core-schema scalars, as editors (yaml-language-server), Ajv and
check-jsonschema do: `required: yes` is the string "yes". Older tools and YAML 1.1 libraries read
the same text as the boolean true, so a plain `yes`, `off`, `1:30`, `1_000` or `0b101` means two
different things depending on who reads the file. Where the runbook wants a string, the finding says
to quote it; where it wants a boolean or a number, it says which YAML 1.2 spelling to write
(rules/yaml11.py). `ocsrun fmt` does both.

The patterns are the YAML 1.1 type definitions for bool, int, float and timestamp, without the
one-letter booleans (`y`, `n`): the YAML 1.1 libraries in use (libyaml/PyYAML, ruamel.yaml) leave
them strings too, and `values: [x, y]` is ordinary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_BOOLS = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"}
    | {"true", "True", "TRUE", "false", "False", "FALSE"}
)
_TRUE = frozenset({"yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"})


@cache
def _numbers() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The int, float and timestamp patterns, compiled on first use (most plain scalars of a
    runbook are words, which _NUMBER_CHARS rules out first)."""
    int_ = (
        r"[-+]?0b[0-1_]+"
        r"|[-+]?0[0-7_]+"
        r"|[-+]?(?:0|[1-9][0-9_]*)"
        r"|[-+]?0x[0-9a-fA-F_]+"
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
    )
    float_ = (
        r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
        r"|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN)"
    )
    timestamp = (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
        r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
    )
    return (
        ("int", re.compile(int_)),
        ("float", re.compile(float_)),
        ("timestamp", re.compile(timestamp)),
    )


# Every character those three patterns can match: a text with any other is none of them.
_NUMBER_CHARS = frozenset("0123456789-+._: \tbxoabcdefABCDEFinfINFNaTtZ")
# Every YAML 1.1 bool, int, float or timestamp starts with one of these.
FIRST = frozenset("yYnNtTfFoO-+.0123456789")
# Values are worked out for the message only when short: a long sexagesimal number is
# quadratic to convert, which is the very thing the YAML 1.2 reading avoids.
_SHOW_VALUE_CHARS = 24
# A finding quotes the text, but not all of a 1 MB one.
SHOW_TEXT_CHARS = 40


@dataclass(frozen=True)
class Reading:
    kind: str  # "bool", "int", "float" or "timestamp"
    text: str

    @property
    def true(self) -> bool:
        return self.text in _TRUE

    def value(self) -> int | float | None:
        """The number YAML 1.1 reads (None when not a number, or too long to show)."""
        return _value(self)

    def described(self) -> str:
        if self.kind == "bool":
            return f"the boolean {'true' if self.text in _TRUE else 'false'}"
        if self.kind == "timestamp":
            return "a date"
        value = _value(self)
        return "a number" if value is None else f"the number {value}"

    def fix(self, wants: str) -> str:
        """The hint: what to write instead, given what the runbook wants there."""
        if wants == "boolean":
            if self.kind == "bool":
                return f"use {'true' if self.text in _TRUE else 'false'}"
            return "use true or false"
        if wants == "number":
            value = _value(self)
            if value is not None and self.kind == "int":
                return f"write {value}"
            return "write it in plain decimal digits"
        return f'quote it: "{self.text}"' if len(self.text) <= SHOW_TEXT_CHARS else "quote it"


def yaml11_reading(text: str) -> Reading | None:
    """How YAML 1.1 reads a plain scalar that YAML 1.2 reads as a string (None: no difference).

    The caller has already seen YAML 1.2 resolve it to a string, so a match here is a
    difference (1.2's own true/false/null/number forms never get this far).
    """
    if not text or text[0] not in FIRST:
        return None
    if text in _BOOLS:
        return Reading("bool", text)
    if not _NUMBER_CHARS.issuperset(text) or text.count(".") > 1:
        return None  # (a version like 1.0.0: each pattern has at most one dot)
    if "-" in text[1:] and not text[:4].isdigit() and "e" not in text.lower():
        return None  # a `-` past a sign is only in a date or an exponent (20:00-06:00)
    for kind, pattern in _numbers():
        if pattern.fullmatch(text):
            return Reading(kind, text)
    return None


def _value(reading: Reading) -> int | float | None:
    text = reading.text.replace("_", "")
    if len(text) > _SHOW_VALUE_CHARS or reading.kind not in ("int", "float"):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    try:
        if ":" in digits:
            total: float = 0
            for part in digits.split(":"):
                total = total * 60 + (float(part) if "." in part else int(part))
            return sign * total
        if reading.kind == "float":
            return float(text)
        base = {"0b": 2, "0x": 16}.get(digits[:2], 8 if digits[:1] == "0" else 10)
        return sign * int(digits[2:] if base in (2, 16) else digits, base)
    except ValueError:
        return None
