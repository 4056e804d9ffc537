"""Neutralising terminal control sequences and invisible characters in text from outside.

Runbook text, params, evidence lines and command output may contain escape
sequences that move the cursor, retitle the window or hide text. Before such
text reaches a terminal or a journal line shown later, escapes are removed and
other control characters made visible (`\\x07`), keeping newlines and tabs.

Invisible and bidirectional characters are made visible the same way (`\\u200b`): a zero-width
space, a right-to-left mark, a soft hyphen or a tag character would otherwise make
`--qui\\u200bet` look exactly like `--quiet` on a screen, in a diff or in a review.
"""

from __future__ import annotations

import re
from functools import cache

# The patterns are compiled on first use, not at import: `validate` of a clean file never needs
# them, and their character classes took 2 ms to compile at every start-up.


# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences,
# and the 8-bit C1 equivalents.
@cache
def _escapes() -> re.Pattern[str]:
    return re.compile(
        r"\x1b\[[0-?]*[ -/]*[@-~]"
        r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
        r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
        r"|\x1b[@-Z\\-_]?"
        r"|\x9b[0-?]*[ -/]*[@-~]"
    )


# Characters that render as nothing (or reorder what follows): soft hyphen, combining grapheme
# joiner, Arabic letter mark, Hangul fillers, Khmer inherent vowels, Mongolian selectors and
# vowel separator, zero-width space/joiners and LRM/RLM, line/paragraph separators and bidi
# embeddings/overrides, word joiner and invisible operators and bidi isolates, BOM (zero-width
# no-break space), interlinear annotations, musical-symbol formatting, and the tag characters.
INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)


@cache
def invisible_chars() -> re.Pattern[str]:
    return re.compile(f"[{INVISIBLE}]")


@cache
def _controls() -> re.Pattern[str]:
    return re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{INVISIBLE}]")


@cache
def _any_control() -> re.Pattern[str]:
    """The same, newlines and tabs included: for what must stay on one line (file names, error
    lines)."""
    return re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{INVISIBLE}]")


def clean(text: str) -> str:
    """Text safe to print: escape sequences dropped, other controls shown as `\\xNN`."""
    text = _escapes().sub("", text.replace("\r\n", "\n"))
    return _controls().sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    return escaped(match.group())


def escaped(char: str) -> str:
    """One character as a visible escape: `\\x0a`, `\\u200b`, `\\U000e0041`."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """Text on one line with every control and invisible character escaped, newlines and tabs
    too, nothing dropped: for file names and error lines, where a newline would start a line
    of its own (a CI log reads `::error ...` at a line start as a workflow command)."""
    return _any_control().sub(_visible, text)


def invisible_in(text: str) -> str | None:
    """The first invisible or bidirectional character in text, escaped, if there is one."""
    found = invisible_chars().search(text)
    return escaped(found.group()) if found else None


def clean_line(text: str, limit: int = 500) -> str:
    """One line for a journal or a report: cleaned, newlines escaped, length capped."""
    if text.isascii() and text.isprintable() and len(text) <= limit:
        return text  # nothing to clean: no control character, escape or invisible one
    text = clean(text).replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= limit else text[:limit] + "..."
