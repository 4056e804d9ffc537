"""Patterns plain enough to judge without the `regex` engine.

Params' patterns and evidence checks run on the `regex` engine (ocsrun.runbook.patterns), so
`validate` compiles each with it too, and matches a param's default with it. Importing that
engine is a tenth of `validate one.yaml`. Most runbook patterns are plain, though:
`^[a-z0-9.-]+$`, `(?i)\\bfail(ed|ure)?\\b`. For those, two things hold without the engine:

- it compiles them (it accepts all that Python's `re` accepts of this syntax: literals, `.`,
  classes of ASCII characters and ranges, `\\d \\w \\s \\b` and escaped punctuation, groups,
  alternation, `* + ?`, a leading `(?i)`, `^` first and `$` last);
- on a short printable-ASCII text, `re` matches them exactly as it does (their differences are
  in Unicode classes and case folding, fuzzy `{e<=1}` and POSIX `[[:alpha:]]` syntax, nested
  sets, and none of that is in the subset), and quickly: at most two `*`/`+`, each on one
  character, and few `?`/`|`, so backtracking is bounded by a small polynomial in the text's
  length, where the engine would need its timeout.

Anything else is None here, and the engine decides as before; tests/test_plain_regex.py checks
both claims against the engine on generated patterns and texts.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import NamedTuple

MAX_PATTERN = 200
MAX_TEXT = 256
MAX_STARS = 2  # `*` and `+` (each on a single character)
MAX_CHOICES = 6  # `?` and `|`

_LETTERS_DIGITS = frozenset(string.ascii_letters + string.digits)
# Literal outside a class: no `{}` (repeats, or fuzzy matching on the engine), no `\\`, no `[`.
_LITERAL = _LETTERS_DIGITS | frozenset(" !\"#%&',-/:;<=>@_`~")
# Literal inside a class: no `[` (nested sets, POSIX classes), no `&`, `|`, `~` (set operations
# on the engine's version 1), `-` only first or last.
_CLASS_LITERAL = _LETTERS_DIGITS | frozenset(" !\"#%',./:;<=>@_")
_CATEGORIES = frozenset("dDwWsS")
_ESCAPED_PUNCTUATION = frozenset(".\\-/()[]{}*+?|^$ ")
_CLASS_ESCAPES = _CATEGORIES | frozenset(".\\-/[]^")


class Shape(NamedTuple):
    stars: int  # `*` and `+`
    choices: int  # `?` and `|`
    repeated_group: bool  # a `*` or `+` on a group


class _NotPlain(Exception):
    pass


@lru_cache(maxsize=1024)
def shape(pattern: str) -> Shape | None:
    """The plain pattern's counts, or None when it is not plain."""
    if len(pattern) > MAX_PATTERN or not (pattern.isascii() and pattern.isprintable()):
        return None
    try:
        return _Scanner(pattern).scan()
    except _NotPlain:
        return None


def surely_compiles(pattern: str) -> bool:
    """True when the engine compiles this pattern, given that `re` compiled it."""
    return shape(pattern) is not None


def fullmatch(pattern: str, text: str) -> bool | None:
    """Whether all of text matches, as the engine would say, or None when only the engine can
    say (a pattern or text outside what is plain)."""
    found = shape(pattern)
    if (
        found is None
        or found.repeated_group
        or found.stars > MAX_STARS
        or found.choices > MAX_CHOICES
        or len(text) > MAX_TEXT
        or not (text.isascii() and text.isprintable())
    ):
        return None
    return re.fullmatch(pattern, text) is not None


class _Scanner:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = self.start = 0
        self.depth = 0
        self.stars = 0
        self.choices = 0
        self.repeated_group = False

    def scan(self) -> Shape:
        if self.p.startswith("(?i)"):
            self.i = self.start = 4
        # What a quantifier would apply to: "char", "group", or None (nothing, an anchor,
        # `\b`, or something already quantified).
        atom: str | None = None
        while self.i < len(self.p):
            if self.p[self.i] in "*+?":
                self.quantifier(atom)
                atom = None
            else:
                atom = self.item(self.p[self.i])
        if self.depth:
            raise _NotPlain
        return Shape(self.stars, self.choices, self.repeated_group)

    def item(self, c: str) -> str | None:
        """Read one item at self.i; what a quantifier after it would repeat."""
        p = self.p
        if c == "\\":
            escaped = p[self.i + 1 : self.i + 2]
            # Not \B: on an empty text the engine matches it and `re` (before 3.14) does not.
            if escaped not in _CATEGORIES and escaped not in _ESCAPED_PUNCTUATION | {"b"}:
                raise _NotPlain  # \p{..}, \N{..}, back references, \G, \X, \K, \B...
            self.i += 2
            return None if escaped == "b" else "char"  # \b: an assertion
        if c == "[":
            self.char_class()
            return "char"
        if c in "()|":
            return self.structure(c)
        if (c == "^" and self.i == self.start) or (c == "$" and self.i == len(p) - 1):
            self.i += 1
            return None
        if c == "." or c in _LITERAL:
            self.i += 1
            return "char"
        raise _NotPlain

    def structure(self, c: str) -> str | None:
        """A group's start or end, or an alternative's bar (none of them empty)."""
        p = self.p
        if c == "(":
            self.i += 3 if p.startswith("(?:", self.i) else 1
            if p[self.i : self.i + 1] in ("?", ")", "|", ""):
                raise _NotPlain  # other `(?` groups, empty groups and alternatives
            self.depth += 1
            return None
        if c == ")":
            if self.depth == 0 or p[self.i - 1] == "|":
                raise _NotPlain
            self.depth -= 1
            self.i += 1
            return "group"
        if self.i == self.start or p[self.i - 1] in "(|" or p[self.i + 1 : self.i + 2] in ("", ")"):
            raise _NotPlain  # an empty alternative
        self.choices += 1
        self.i += 1
        return None

    def quantifier(self, atom: str | None) -> None:
        c = self.p[self.i]
        if atom is None or self.p[self.i + 1 : self.i + 2] in ("*", "+", "?", "{"):
            raise _NotPlain  # nothing to repeat, lazy or possessive repeats
        if c == "?":
            self.choices += 1
        else:
            self.stars += 1
            self.repeated_group = self.repeated_group or atom == "group"
        self.i += 1

    def char_class(self) -> None:
        p, i = self.p, self.i + 1
        if p[i : i + 1] == "^":
            i += 1
        first = i
        while True:
            c = p[i : i + 1]
            if c == "]" and i > first:
                self.i = i + 1
                return
            if c == "\\":
                if p[i + 1 : i + 2] not in _CLASS_ESCAPES:
                    raise _NotPlain
                i += 2
            elif c == "-" and (i == first or p[i + 1 : i + 2] == "]"):
                i += 1
            elif c and c in _CLASS_LITERAL:
                if p[i + 1 : i + 2] == "-" and p[i + 2 : i + 3] not in ("]", ""):
                    end = p[i + 2]
                    if not _same_kind(c, end) or end < c:
                        raise _NotPlain
                    i += 3
                else:
                    i += 1
            else:
                raise _NotPlain  # `[`, set operations, a leading `]`, the end of the pattern


def _same_kind(low: str, high: str) -> bool:
    return any(
        low in kind and high in kind
        for kind in (string.digits, string.ascii_lowercase, string.ascii_uppercase)
    )
