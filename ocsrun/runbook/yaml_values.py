"""From composed YAML nodes to plain values: YAML 1.2 core-schema scalars, the tags allowed,
and the checks made while building (duplicate keys, anchors, nesting, long strings and numbers).

The loader (ocsrun.runbook.loader) composes the node tree with the C parser and hands it to
ValueBuilder; the position and error helpers here are shared with it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from ocsrun.errors import LoadError, Position
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.yaml11 import FIRST as _YAML11_FIRST
from ocsrun.runbook.yaml11 import yaml11_reading

MAX_DEPTH = 64
MAX_SCALAR_CHARS = 1024 * 1024
# Python refuses to convert longer digit strings (and the conversion is quadratic below that);
# no runbook or answers file needs a number anywhere near this long.
MAX_NUMBER_CHARS = 100

_TAG = "tag:yaml.org,2002:"
_CORE_INT = r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
_CORE_FLOAT = (
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
CORE_RESOLVERS = (
    (_TAG + "null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_TAG + "bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_TAG + "int", f"^(?:{_CORE_INT})$", "-+0123456789"),
    (_TAG + "float", f"^(?:{_CORE_FLOAT})$", "-+0123456789."),
)
CORE_INT = re.compile(f"(?:{_CORE_INT})")


@functools.cache
def _core_float() -> re.Pattern[str]:  # compiled on first use: most runbooks have no float
    return re.compile(f"(?:{_CORE_FLOAT})")


STR_TAG, _NULL, _BOOL = _TAG + "str", _TAG + "null", _TAG + "bool"
_INT, _FLOAT, _TIMESTAMP = _TAG + "int", _TAG + "float", _TAG + "timestamp"
SEQ_TAG, MAP_TAG = _TAG + "seq", _TAG + "map"
# Tags whose scalar text is kept as a plain string (JSON has no dates; merge keys are inert text
# because aliases are rejected anyway).
_TEXT_TAGS = frozenset({STR_TAG, _TIMESTAMP, _TAG + "merge", _TAG + "value"})


@functools.cache
def _anchor_name_pattern() -> re.Pattern[str]:
    return re.compile(r"&([^\s,\[\]{}]+)")


def node_position(path: str, node: Node) -> Position:
    return Position(path, node.start_mark.line + 1, node.start_mark.column + 1)


def too_large(display: str, message: str, line: int = 1, col: int = 1) -> LoadError:
    return LoadError(message, Position(display, line, col), rule="too-large")


def mark_of(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def anchor_error(display: str, name: str, line: int, column: int) -> LoadError:
    return LoadError(
        f"YAML anchor '{name}' is not allowed (nor aliases); use a fragment (`uses:`) instead",
        Position(display, line + 1, column + 1),
        rule="yaml-alias",
    )


class ValueBuilder:
    """Turns composed nodes into plain values; records duplicate keys instead of failing."""

    def __init__(self, text: str, display: str, *, anchors: frozenset[tuple[int, int]]) -> None:
        self.text = text
        self.display = display
        # No scalar can be longer than the whole text: skip the per-scalar check when short.
        self.check_length = len(text) > MAX_SCALAR_CHARS
        self.anchors = anchors
        # Neither check applies (no anchor candidates, a text shorter than the scalar limit):
        # most scalars are then read inline by their collection (`_is_text`).
        self.plain = not anchors and not self.check_length
        self.diagnostics: list[Diagnostic] = []
        self.yaml11: list[tuple[Position, str]] = []

    def build(self, node: Node, depth: int) -> Any:
        """The plain value of node; depth is the nesting level of the collection it is in."""
        if self.anchors:
            self._check_anchor(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if depth > MAX_DEPTH:
            line, col = mark_of(node.start_mark)
            raise too_large(self.display, f"nesting deeper than {MAX_DEPTH} levels", line, col)
        if isinstance(node, SequenceNode):
            self._check_tag(node, SEQ_TAG)
            if self.plain:
                return [
                    child.value if _is_text(child) else self.build(child, depth + 1)
                    for child in node.value
                ]
            return [self.build(child, depth + 1) for child in node.value]
        self._check_tag(node, MAP_TAG)
        return self.mapping(node, depth)

    def _check_anchor(self, node: Node) -> None:
        mark = node.start_mark
        if (mark.line, mark.column) in self.anchors:
            name = self._anchor_name(mark.index)
            raise anchor_error(self.display, name, mark.line, mark.column)

    def _anchor_name(self, index: int) -> str:
        match = _anchor_name_pattern().match(self.text, index)
        return match.group(1) if match else "?"

    def mapping(self, node: Node, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise LoadError(
                    "a mapping key must be a plain scalar",
                    node_position(self.display, key_node),
                    rule="yaml-syntax",
                )
            if self.anchors:
                self._check_anchor(key_node)
            key = key_node.value
            if key in result:
                self._duplicate(node, key_node)
            if self.plain and _is_text(value_node):
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, depth + 1)
        return result

    def _duplicate(self, node: Node, key_node: ScalarNode) -> None:
        first = next(
            k for k, _ in node.value if isinstance(k, ScalarNode) and k.value == key_node.value
        )
        at = f"{first.start_mark.line + 1}:{first.start_mark.column + 1}"
        self.diagnostics.append(
            Diagnostic(
                node_position(self.display, key_node),
                Severity.ERROR,
                f"duplicate key '{key_node.value}' (first at {at})",
                "duplicate-key",
            )
        )

    def scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if self.check_length and len(text) > MAX_SCALAR_CHARS:
            mark = node.start_mark
            raise too_large(
                self.display,
                f"a string of {len(text)} characters; the limit is {MAX_SCALAR_CHARS}",
                mark.line + 1,
                mark.column + 1,
            )
        if tag in _TEXT_TAGS:
            if (
                not node.style
                and text[:1] in _YAML11_FIRST
                and tag == STR_TAG
                and yaml11_reading(text) is not None
            ):
                self.yaml11.append((node_position(self.display, node), text))
            return text
        if tag == _BOOL and text in _BOOLS:
            return _BOOLS[text]
        if tag == _NULL and text in _NULLS:
            return None
        if tag in (_INT, _FLOAT):
            if len(text) > MAX_NUMBER_CHARS:
                raise too_large(
                    self.display,
                    f"a number of {len(text)} characters; the limit is {MAX_NUMBER_CHARS}",
                    *mark_of(node.start_mark),
                )
            value = _number(tag, text)
            if value is not None:
                return value
        if tag in (_BOOL, _NULL, _INT, _FLOAT):
            # Only an explicit tag gets here (`!!int 1:30`): YAML 1.2 has no such form.
            kind = tag.rsplit(":", 1)[-1]
            raise LoadError(
                f"'{text}' is not a YAML 1.2 {kind}",
                node_position(self.display, node),
                rule="yaml-syntax",
            )
        raise LoadError(
            f"unsupported YAML tag '{tag}'", node_position(self.display, node), rule="yaml-syntax"
        )

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise LoadError(
                f"unsupported YAML tag '{node.tag}'",
                node_position(self.display, node),
                rule="yaml-syntax",
            )


def _is_text(node: Node) -> bool:
    """A string scalar whose value is its text as it is: what `_Builder.scalar` returns for it
    without a finding (quoted or block style, or plain text YAML 1.1 would not read otherwise
    either; see the yaml11 check there)."""
    return (
        node.__class__ is ScalarNode
        and node.tag == STR_TAG
        and bool(node.style or node.value[:1] not in _YAML11_FIRST)
    )


_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"~", "null", "Null", "NULL", ""})


def _number(tag: str, text: str) -> int | float | None:
    """The YAML 1.2 core-schema value of a number's text; None if it has no such form.

    Linear in the text: no YAML 1.1 sexagesimal (`1:0:0:...`), and the length is capped first.
    """
    if tag == _INT:
        if CORE_INT.fullmatch(text) is None:
            return None
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text if base == 10 else text[2:], base)
    if _core_float().fullmatch(text) is None:
        return None
    # float() reads "inf", "-inf" and "nan" in any case: drop YAML's leading dot for them.
    return float(text.replace(".", "", 1) if text.lower().endswith(("inf", "nan")) else text)
