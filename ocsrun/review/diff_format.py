"""Showing a runbook diff: plain text for a terminal, Markdown for a PR comment, JSON for tools.

The Markdown's first line is what a reviewer sees in a notification, so it says whether a
safety-relevant change is present and names the first one; the table and details follow.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

from ocsrun.review.diff import Change, FileDiff, JsonValue
from ocsrun.sanitize import INVISIBLE, clean, visible

FORMATS = ("text", "md", "json")


def format_diff(files: Sequence[FileDiff], fmt: str) -> str:
    # Old and new values are runbook text from a pull request: shown on a terminal or posted as
    # a comment, their escape sequences must not rewrite the screen or hide a safety line.
    if fmt == "json":
        return _json_inert(as_json(files))
    if fmt == "md":
        return clean(as_markdown(files))
    return clean(as_text(files))


# json.dumps escapes C0 controls but, with ensure_ascii off, leaves C1 controls and bidi
# overrides raw. As \uXXXX escapes they are the same JSON value, and inert when printed.
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{INVISIBLE}]")


def _json_inert(text: str) -> str:
    return _JSON_UNSAFE.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # JSON spells astral characters as a pair
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def _counts(files: Sequence[FileDiff]) -> tuple[int, int, int]:
    safety = sum(f.safety_count for f in files)
    other = sum(len(f.changes) for f in files) - safety
    errors = sum(1 for f in files if f.error)
    return safety, other, errors


def _safety_first(changes: Sequence[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: not c.safety)  # stable: document order within each


# --- JSON ------------------------------------------------------------------------


def as_json(files: Sequence[FileDiff]) -> str:
    safety, other, errors = _counts(files)
    kinds = Counter(c.kind.value for f in files for c in f.changes)
    document: dict[str, JsonValue] = {
        "summary": {
            "files": len(files),
            "safety_changes": safety,
            "other_changes": other,
            "errors": errors,
            "kinds": dict(sorted(kinds.items())),
        },
        "files": [f.as_dict() for f in files],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- text ------------------------------------------------------------------------


def as_text(files: Sequence[FileDiff]) -> str:
    lines: list[str] = []
    for f in files:
        lines.append(_file_heading(f))
        if f.error:
            lines.append(f"  error: {visible(f.error)}")
        for c in _safety_first(f.changes):
            mark = "!" if c.safety else " "
            lines.append(f"  {mark} {c.kind.value}: {c.summary}")
            if c.old is not None or c.new is not None:
                lines.append(f"      old: {_text_value(c.old)}")
                lines.append(f"      new: {_text_value(c.new)}")
    safety, other, errors = _counts(files)
    lines.append(_totals(len(files), safety, other, errors))
    return "\n".join(lines) + "\n"


def _file_heading(f: FileDiff) -> str:
    # File names on one line (a newline in one must not start a line of its own in a CI log).
    via = f" (via {', '.join(visible(v) for v in f.via)})" if f.via else ""
    safety = f.safety_count
    counts = f"{safety} safety-relevant, {len(f.changes) - safety} other"
    return f"{visible(f.display)}: {f.status}{via} — {counts}"


def _text_value(value: JsonValue) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split()) if len(text) <= 200 else " ".join(text.split())[:199] + "…"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _totals(files: int, safety: int, other: int, errors: int) -> str:
    text = (
        f"{_plural(safety, 'safety-relevant change')}, {_plural(other, 'other change')} "
        f"in {_plural(files, 'file')}"
    )
    if errors:
        text += f"; {_plural(errors, 'file')} could not be compared"
    return text


# --- Markdown --------------------------------------------------------------------


# GitHub refuses comments over 65,536 characters; keep well under it.
MAX_COMMENT_CHARS = 60_000


def as_markdown(files: Sequence[FileDiff], limit: int = MAX_COMMENT_CHARS) -> str:
    """The PR comment; values are dropped, then the tail cut, if it would be too long."""
    text = _markdown(files, values=True)
    if len(text) <= limit:
        return text
    text = _markdown(files, values=False)
    if len(text) <= limit:
        return text
    note = "\n\n*(truncated: run `ocsrun diff` locally for the full list)*\n"
    cut = text[: limit - len(note)]
    return cut[: cut.rfind("\n")] + note


def _markdown(files: Sequence[FileDiff], *, values: bool) -> str:
    lines = [_headline(files), ""]
    if files:
        lines += _table(files)
    safety_files = [f for f in files if f.safety_count]
    if safety_files:
        lines += ["", "### ⚠ Safety-relevant changes", ""]
        for f in safety_files:
            lines += _md_changes(f, [c for c in f.changes if c.safety], values)
    errors = [f for f in files if f.error]
    if errors:
        lines += ["", "### Could not compare", ""]
        lines += [f"- {_code(f.display)}: {_md_escape(f.error)}" for f in errors]
    other_files = [f for f in files if any(not c.safety for c in f.changes)]
    if other_files:
        count = sum(1 for f in other_files for c in f.changes if not c.safety)
        lines += [
            "",
            "### Other changes",
            "",
            "<details>",
            f"<summary>{count} other change"
            f"{'s' if count != 1 else ''} (wording, metadata, additions)</summary>",
            "",
        ]
        for f in other_files:
            lines += _md_changes(f, [c for c in f.changes if not c.safety], values)
        lines += ["</details>"]
    return "\n".join(lines).rstrip("\n") + "\n"


def _headline(files: Sequence[FileDiff]) -> str:
    safety, other, errors = _counts(files)
    if safety:
        found = [c for f in files for c in f.changes if c.safety]
        first = found[0]
        if safety > 1 and len({_identity(c) for c in found}) == 1:
            more = f" (the same change in {safety} runbooks, through a shared fragment)"
        else:
            more = f" (and {safety - 1} more)" if safety > 1 else ""
        return f"**⚠ Safety-relevant changes: {safety}** — {_md_escape(first.summary)}{more}"
    if errors:
        return (
            f"**⚠ {errors} runbook file{'s' if errors != 1 else ''} could not be compared** — "
            "review them by hand; no safety-relevant change among the others"
        )
    if other:
        kinds = Counter(c.kind.value for f in files for c in f.changes)
        listed = ", ".join(f"{k} (x{n})" for k, n in sorted(kinds.items()))
        return f"**✓ No safety-relevant changes** — {other} other: {listed}"
    return "**✓ No runbook changes**"


def _identity(c: Change) -> str:
    """A change regardless of where the fragment that carries it is included."""
    return json.dumps([c.kind.value, c.field, c.old, c.new], sort_keys=True)


def _table(files: Sequence[FileDiff]) -> list[str]:
    rows = ["| Runbook file | Status | Safety-relevant | Other |", "|---|---|---:|---:|"]
    for f in sorted(files, key=lambda f: -f.safety_count):
        status = f.status + (f" (via {', '.join(visible(v) for v in f.via)})" if f.via else "")
        status += ", not compared" if f.error else ""
        safety = f.safety_count
        mark = f"**{safety}** ⚠" if safety else "0"
        name = _code(f.display, in_table=True)
        rows.append(f"| {name} | {_cell(status)} | {mark} | {len(f.changes) - safety} |")
    return rows


def _md_changes(f: FileDiff, changes: Sequence[Change], values: bool) -> list[str]:
    lines = [f"#### {_code(f.display)}", ""]
    for c in changes:
        where = f" {_code(c.path)}" if c.path else ""
        lines.append(f"- **{c.kind.value}**{where} — {_md_escape(c.summary)}")
        if values and (c.old is not None or c.new is not None):
            lines += _md_value("old", c.old)
            lines += _md_value("new", c.new)
    lines.append("")
    return lines


def _md_value(label: str, value: JsonValue) -> list[str]:
    if value is None:
        return [f"  - {label}: *(none)*"]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if "\n" not in text and len(text) <= 120:
        return [f"  - {label}: {_code(text)}"]
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    body = text if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return [
        f"  - {label}:",
        f"    {fence}",
        *[f"    {line}" for line in body.splitlines()],
        f"    {fence}",
    ]


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code(text: str, *, in_table: bool = False) -> str:
    """An inline code span that survives backticks (and, in a table, pipes) in the text."""
    text = " ".join(text.split())
    if in_table:
        text = text.replace("|", "\\|")
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_MD_SPECIAL = re.compile(r"([\\*_\[\]<>|~#!])")


def _md_escape(text: str) -> str:
    """Escape Markdown outside `code spans`, so runbook text (regexes!) cannot break layout."""
    parts = re.split(r"(`[^`]*`)", " ".join(text.split()))
    return "".join(
        part if part.startswith("`") else _MD_SPECIAL.sub(r"\\\1", part) for part in parts
    )


def _cell(text: str) -> str:
    return _md_escape(text).replace("`", "\\`")
