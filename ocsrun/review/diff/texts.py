"""Two files that load to the same runbook: what kind of edit it was (whitespace, comments...)."""

from __future__ import annotations

import re

from ocsrun.review.diff.changes import Change, Kind


def diff_texts(old_text: str, new_text: str) -> Change | None:
    """For two files that load to the same runbook: what kind of edit it was (or None)."""
    if old_text == new_text:
        return None
    from ocsrun.errors import LoadError
    from ocsrun.runbook.loader import load_text

    # The runbook loader (YAML 1.2 scalars, its limits), as for the runbooks themselves.
    try:
        old_data = load_text(old_text.encode("utf-8", "surrogateescape"), "<old>").data
        new_data = load_text(new_text.encode("utf-8", "surrogateescape"), "<new>").data
        same_data = old_data == new_data
    except LoadError:
        same_data = False
    if same_data and _squash(old_text) == _squash(new_text):
        return Change(Kind.WHITESPACE_ONLY, "", "file", "whitespace-only change")
    if same_data and _squash(strip_comments(old_text)) == _squash(strip_comments(new_text)):
        return Change(Kind.COMMENT_ONLY, "", "file", "comment-only change")
    return Change(
        Kind.FORMATTING_ONLY,
        "",
        "file",
        "formatting-only change (quoting, layout or defaults written out; same runbook)",
    )


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def strip_comments(text: str) -> str:
    """YAML text without `#` comments; a `#` inside quotes or inside a word is kept."""
    return "\n".join(_strip_line(line) for line in text.splitlines())


def _strip_line(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t:[{,-?"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line
