"""Neutralising terminal control sequences in text that came from outside.

Runbook text, params, evidence lines and command output may contain escape
sequences that move the cursor, retitle the window or hide text. Before such
text reaches a terminal or a journal line shown later, escapes are removed and
other control characters made visible (`\\x07`), keeping newlines and tabs.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences,
# and the 8-bit C1 equivalents.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Text safe to print: escape sequences dropped, other controls shown as `\\xNN`."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    return _CONTROLS.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_line(text: str, limit: int = 500) -> str:
    """One line for a journal or a report: cleaned, newlines escaped, length capped."""
    text = clean(text).replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= limit else text[:limit] + "..."
