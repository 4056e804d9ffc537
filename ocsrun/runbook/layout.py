"""The canonical layout of a runbook file, as `ocsrun fmt` writes it.

* Indentation: 2 spaces per mapping level; a block sequence's `- ` indented 2 under its key.
* Keys in the order of the format (the order of `properties` in the JSON Schema: `id`, `title`,
  ... for a step); keys the format does not know keep their order, after the known ones.
* Plain strings that YAML 1.1 tools would read as booleans, numbers or dates are quoted
  (`"yes"`, `"1:30"`); where the format wants a boolean or an integer, the YAML 1.2 spelling
  is written instead (`true`, `1000`).
* `key: value` with one space; no trailing spaces; one newline at the end.

Everything else stays as written: comments, blank lines, quoting style, flow or block style,
block scalars. A file already in this layout is left byte for byte as it is: `is_canonical`
decides that on the node tree the validator's fast C loader already built, so `fmt --check` on
a tidy tree costs about what `validate` does; only a file that needs changes goes through the
(much slower) ruamel.yaml round trip.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ocsrun.errors import LoadError, Position
from ocsrun.runbook import loader
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.yaml11 import Reading, yaml11_reading

INDENT = 2  # mapping levels; a sequence's dash sits INDENT under its key, its items 2 further
_TRAILING_SPACE = re.compile(r"[ \t]$", re.MULTILINE)
_DOCUMENT_MARKER = re.compile(r"^(---|\.\.\.)(\s|$)", re.MULTILINE)


# --- what the format says: key order and value types, from the JSON Schema ---------------------


@cache
def _schema() -> dict[str, Any]:
    from ocsrun.runbook.schema import load_schema

    return load_schema()


# The one "the format says nothing here" subschema: look-ups are cached by identity, so every
# subschema handed out must live as long as the cache (the schema's own dicts, or this one).
_NOTHING: dict[str, Any] = {}


def _resolve(sub: Any) -> dict[str, Any]:
    seen = 0
    while isinstance(sub, dict) and "$ref" in sub and seen < 20:
        name = str(sub["$ref"]).rsplit("/", 1)[-1]
        sub = _schema().get("$defs", {}).get(name, _NOTHING)
        seen += 1
    return sub if isinstance(sub, dict) and sub else _NOTHING


def _properties(sub: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every property the subschema declares, its own first, then those of allOf branches."""
    yield from (sub.get("properties") or {}).items()
    for branch in sub.get("allOf") or ():
        for part in ("then", "else"):
            if isinstance(branch, dict) and isinstance(branch.get(part), dict):
                yield from _properties(_resolve(branch[part]))


# Look-ups by subschema identity: the schema is loaded once and never changes, and a file's
# every mapping asks them again.
_ORDERS: dict[int, dict[str, int]] = {}
_CHILDREN: dict[tuple[int, str | int], dict[str, Any]] = {}


def key_order(sub: dict[str, Any]) -> dict[str, int]:
    found = _ORDERS.get(id(sub))
    if found is None:
        found = {}
        for name, _ in _properties(sub):
            found.setdefault(name, len(found))
        _ORDERS[id(sub)] = found
    return found


def child(sub: dict[str, Any], key: str | int) -> dict[str, Any]:
    """The subschema for a mapping's key or a list's item (empty when the format says nothing)."""
    cached = _CHILDREN.get((id(sub), key))
    if cached is None:
        cached = _CHILDREN[(id(sub), key)] = _child(sub, key)
    return cached


def _child(sub: dict[str, Any], key: str | int) -> dict[str, Any]:
    if isinstance(key, int):
        return _resolve(sub.get("items", _NOTHING))
    for name, value in _properties(sub):
        if name == key:
            return _resolve(value)
    additional = sub.get("additionalProperties")
    return _resolve(additional) if isinstance(additional, dict) else _NOTHING


def root_schema() -> dict[str, Any]:
    return _schema()


def wanted_type(sub: dict[str, Any]) -> str | None:
    kind = sub.get("type")
    return kind if isinstance(kind, str) else None


# --- is the file already canonical? (on the C loader's node tree) -----------------------------


def is_canonical(document: loader.Document) -> bool:
    """True when `ocsrun fmt` leaves the file as it is."""
    text = document.text
    if document.yaml11 or not text.endswith("\n") or text.endswith("\n\n"):
        return False
    if _TRAILING_SPACE.search(text) or _DOCUMENT_MARKER.search(text):
        return False
    root = document.root
    if not isinstance(root, MappingNode) or root.flow_style:
        return False
    lines = text.split("\n")
    return _mapping_ok(root, root_schema(), 0, lines)


def _mapping_ok(node: MappingNode, sub: dict[str, Any], indent: int, lines: list[str]) -> bool:
    order = key_order(sub)
    last = -1
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or key.start_mark.column != indent or key.style:
            return False
        rank = order.get(key.value, len(order))
        end = key.end_mark
        if rank < last or end.line != key.start_mark.line or lines[end.line][end.column] != ":":
            return False
        last = rank
        if not _value_ok(key, value, child(sub, key.value), indent, lines):
            return False
    return True


def _one_line_after(key: ScalarNode, value: Node) -> bool:
    """The value is on the key's line, one space after the colon, and ends on that line."""
    start, end = value.start_mark, value.end_mark
    return start.line == key.start_mark.line == end.line and start.column == key.end_mark.column + 2


def _value_ok(
    key: ScalarNode, value: Node, sub: dict[str, Any], indent: int, lines: list[str]
) -> bool:
    if isinstance(value, ScalarNode) and value.style in ("|", ">"):
        ok = _block_scalar_ok(value, indent + INDENT, lines)
    elif isinstance(value, ScalarNode) and value.start_mark.index == value.end_mark.index:
        ok = value.start_mark.line == key.start_mark.line  # `key:` with nothing: null
    elif isinstance(value, ScalarNode) or getattr(value, "flow_style", False):
        ok = _one_line_after(key, value)
    elif value.start_mark.line == key.start_mark.line:
        ok = False
    elif isinstance(value, MappingNode):
        ok = _mapping_ok(value, sub, indent + INDENT, lines)
    else:
        ok = isinstance(value, SequenceNode) and _sequence_ok(value, sub, indent + INDENT, lines)
    return ok


def _sequence_ok(node: SequenceNode, sub: dict[str, Any], dash: int, lines: list[str]) -> bool:
    item_sub = child(sub, 0)
    for item in node.value:
        line = lines[item.start_mark.line]
        if (
            item.start_mark.column != dash + 2
            or line[:dash].strip()
            or line[dash : dash + 2] != "- "
        ):
            return False
        if not _item_ok(item, item_sub, dash, lines):
            return False
    return True


def _item_ok(item: Node, sub: dict[str, Any], dash: int, lines: list[str]) -> bool:
    if isinstance(item, ScalarNode) and item.style in ("|", ">"):
        return _block_scalar_ok(item, dash + 2, lines)
    if isinstance(item, ScalarNode) or getattr(item, "flow_style", False):
        return item.end_mark.line == item.start_mark.line
    # A block sequence directly in a sequence is not in the layout.
    return isinstance(item, MappingNode) and _mapping_ok(item, sub, dash + 2, lines)


def _block_scalar_ok(node: ScalarNode, content_indent: int, lines: list[str]) -> bool:
    """The block scalar's content lines start at content_indent (as ruamel writes them)."""
    for number in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(lines))):
        line = lines[number]
        if line.strip():
            return len(line) - len(line.lstrip(" ")) == content_indent
    return True


def certainly_changes(document: loader.Document) -> bool:
    """True when `fmt` would surely change the file, found without writing it: YAML 1.1
    spellings (quoted or rewritten), a key out of the format's order (moved), a block key or a
    sequence dash in another column than the layout's (re-indented), a missing or doubled final
    newline. `fmt --check` needs no ruamel.yaml round trip for such a file; other differences
    (spacing, multi-line scalars) are left to the writer to decide."""
    text = document.text
    if document.yaml11 or not text.endswith("\n") or text.endswith("\n\n"):
        return True
    root = document.root
    if not isinstance(root, MappingNode) or root.flow_style:
        return False
    return _moved(root, root_schema(), 0, text.split("\n"))


def _moved(node: Node, sub: dict[str, Any], indent: int, lines: list[str]) -> bool:
    """A block collection here (keys at indent, or dashes at indent) is not where fmt puts it."""
    if getattr(node, "flow_style", False):
        return False
    if isinstance(node, MappingNode):
        return _keys_moved(node, sub, indent, lines)
    if isinstance(node, SequenceNode):
        for item in node.value:
            line = lines[item.start_mark.line]
            if line[indent : indent + 2] != "- " or line[:indent].strip():
                return True
            if isinstance(item, MappingNode) and _moved(item, child(sub, 0), indent + 2, lines):
                return True
    return False


def _keys_moved(node: MappingNode, sub: dict[str, Any], indent: int, lines: list[str]) -> bool:
    order, last = key_order(sub), -1
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or key.style:
            return False
        rank = order.get(key.value, len(order))
        if rank < last or key.start_mark.column != indent:
            return True
        last = rank
        below = child(sub, key.value)
        if value.start_mark.line != key.start_mark.line and _moved(value, below, indent + 2, lines):
            return True
    return False


# --- writing the canonical layout (ruamel.yaml) ----------------------------------------------


def canonical_text(text: str) -> str:
    """The file in the canonical layout (comments and everything else kept)."""
    from ocsrun.runbook.document import round_trip_yaml

    reader = round_trip_yaml(text)
    data = reader.load(text)
    _tidy(data, root_schema())
    writer = round_trip_yaml(None)
    writer.indent(mapping=INDENT, sequence=INDENT + 2, offset=INDENT)
    out = io.StringIO()
    writer.dump(data, out)
    result = _TRAILING_SPACE.sub("", out.getvalue())
    return result.rstrip("\n") + "\n"


def _tidy(data: Any, sub: dict[str, Any], parent: Any = None) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(data, CommentedMap):
        order = key_order(sub)
        known = sorted((k for k in data if k in order), key=lambda k: order[k])
        for key in [*known, *(k for k in list(data) if k not in order)]:
            data.move_to_end(key)
        for key in list(data):
            value = data[key]
            below = child(sub, key)
            if type(value) is str:
                data[key] = _fixed_scalar(value, below, data)
            elif _quoted_lines(value):
                data[key] = _as_block(value)
            else:
                _tidy(value, below, data)
    elif isinstance(data, CommentedSeq):
        below = child(sub, 0)
        for index, value in enumerate(data):
            if type(value) is str:
                data[index] = _fixed_scalar(value, below, parent)
            elif _quoted_lines(value):
                data[index] = _as_block(value)
            else:
                _tidy(value, below, data)


def _quoted_lines(value: Any) -> bool:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    quoted = (DoubleQuotedScalarString, SingleQuotedScalarString)
    return isinstance(value, quoted) and "\n" in value


def _as_block(value: Any) -> Any:
    """A quoted string that holds line breaks, as a `|` block (the layout has no multi-line
    quoted or plain scalars); left as it is when a block could not hold it exactly."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    lines = value.split("\n")
    if any(line != line.rstrip() or "\t" in line for line in lines) or _CONTROL.search(value):
        return value
    if lines[0].startswith(" ") or not value.strip():
        return value  # a block's indentation would be ambiguous
    return LiteralScalarString(value)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _fixed_scalar(value: str, sub: dict[str, Any], owner: Any) -> Any:
    """A plain string as the canonical layout writes it."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if "\n" in value:
        return _as_block(value)
    reading = yaml11_reading(value)
    if reading is None:
        return value
    wants = wanted_type(sub)
    if wants is None and isinstance(owner, dict) and isinstance(owner.get("type"), str):
        wants = {"bool": "boolean", "int": "integer"}.get(owner["type"])  # a param's default
    if wants == "boolean" and reading.kind == "bool":
        return reading.true
    if wants in ("integer", "number") and reading.kind == "int":
        number = _short_int(reading.text)
        if number is not None:
            return number
    return DoubleQuotedScalarString(value)


def _short_int(text: str) -> int | None:
    value = Reading("int", text).value()
    return int(value) if isinstance(value, int | float) and float(value).is_integer() else None


# --- one file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Formatted:
    """What `fmt` makes of one file: its canonical text (None when already canonical), or the
    finding that stops it from being formatted."""

    path: str
    text: str | None = None
    problem: Diagnostic | None = None
    would_change: bool = False  # --check found a sure change without writing the new text

    @property
    def changed(self) -> bool:
        return self.text is not None or self.would_change


def format_file(path: Path, display: str | None = None, *, check: bool = False) -> Formatted:
    shown = display if display is not None else str(path)
    try:
        document = loader.load_document(path, shown)
    except LoadError as error:
        where = error.position or Position(shown)
        return Formatted(
            shown, problem=Diagnostic(where, Severity.ERROR, error.message, error.rule)
        )
    if is_canonical(document):
        return Formatted(shown)
    if check and certainly_changes(document):
        return Formatted(shown, would_change=True)
    text = canonical_text(document.text)
    if text == document.text:
        return Formatted(shown)
    problem = _meaning_changed(document, text, shown)
    return Formatted(shown, problem=problem) if problem else Formatted(shown, text=text)


def _meaning_changed(document: loader.Document, text: str, shown: str) -> Diagnostic | None:
    """A safety net: the new text must load, and to the same data unless YAML 1.1 spellings
    were fixed (those become true/false or numbers on purpose)."""
    try:
        after = loader.load_text(text.encode("utf-8"), shown)
    except LoadError as error:
        message = f"formatting would make the file unreadable ({error.message}); left as it is"
        return Diagnostic(Position(shown, 1, 1), Severity.ERROR, message, "fmt")
    if document.yaml11 or after.data == document.data:
        return None
    message = "formatting would change what the file means; left as it is (please report it)"
    return Diagnostic(Position(shown, 1, 1), Severity.ERROR, message, "fmt")
