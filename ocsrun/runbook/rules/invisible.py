"""invisible-char: zero-width, bidirectional and other invisible characters where a reviewer
must see exactly what runs: ids, titles, argv items, `uses` references and patterns.

`--qui\\u200bet` and `--quiet` look identical on a screen and in a pull request; a right-to-left
mark reorders what follows it. Everywhere ocsrun prints text they are shown escaped
(`ocsrun.sanitize`); in these fields they are refused outright.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, JsonPath, as_dict, as_list
from ocsrun.sanitize import invisible_chars, invisible_in

RULE = "invisible-char"
RULE_IDS = (RULE,)


# YAML escapes (in double-quoted strings) that can spell an invisible character the text does
# not hold as such: \xAD, \u200B, \U000E0069, \L and \P (line and paragraph separators).
_ESCAPE = re.compile(r"\\[xuULP]")


def invisible_char(ctx: Context) -> Iterator[Diagnostic]:
    text = ctx.document.text
    # Every invisible character is outside ASCII; isascii() is a C loop that is ~600x faster
    # than the character-class search (which was a tenth of validating a 40-step runbook).
    if (text.isascii() or not invisible_chars().search(text)) and not _ESCAPE.search(text):
        return  # every value comes from this text: none can hold one (one scan, not a walk)
    for path, what, value, key in _fields(ctx):
        found = invisible_in(value)
        if found:
            yield ctx.error(
                path,
                f"{what} holds an invisible or bidirectional character ({found}); "
                "it would read as different text than what runs",
                RULE,
                key=key,
            )


Field = tuple[JsonPath, str, str, bool]


def _fields(ctx: Context) -> Iterator[Field]:
    data = ctx.data
    metadata = as_dict(data.get("metadata"))
    for name in ("id", "title"):
        yield from _text(("metadata", name), f"metadata.{name}", metadata.get(name))
    target = as_dict(metadata.get("target"))
    yield from _text(("metadata", "target", "pattern"), "the target pattern", target.get("pattern"))
    for name, param in as_dict(data.get("params")).items():
        if isinstance(name, str):
            yield from _text(("params", name), "a param name", name, key=True)
        pattern = as_dict(param).get("pattern")
        yield from _text(("params", name, "pattern"), f"param {name!s}'s pattern", pattern)
    for i, warning in enumerate(as_list(data.get("warnings"))):
        yield from _text(("warnings", i, "id"), "a warning id", as_dict(warning).get("id"))
    for ref in ctx.steps:
        yield from _step_fields(ref.path, ref.step)


def _step_fields(path: JsonPath, step: dict[str, Any]) -> Iterator[Field]:
    for name in ("id", "title", "uses"):
        yield from _text((*path, name), f"step {name}", step.get(name))
    for i, warning in enumerate(as_list(step.get("warnings"))):
        warning_id = as_dict(warning).get("id")
        yield from _text((*path, "warnings", i, "id"), "a warning id", warning_id)
    gate = as_dict(step.get("gate"))
    for i, arg in enumerate(as_list(as_dict(gate.get("command")).get("argv"))):
        yield from _text((*path, "gate", "command", "argv", i), "an argv item", arg)
    for i, check in enumerate(as_list(as_dict(gate.get("evidence")).get("checks"))):
        for key in ("require", "forbid", "each", "must"):
            pattern = as_dict(check).get(key)
            where = (*path, "gate", "evidence", "checks", i, key)
            yield from _text(where, f"the evidence pattern '{key}'", pattern)


def _text(path: JsonPath, what: str, value: Any, *, key: bool = False) -> Iterator[Field]:
    if isinstance(value, str):
        yield path, what, value, key
