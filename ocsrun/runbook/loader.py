"""Reading a runbook file safely: bytes → checked text → YAML node tree → plain data.

The C parser composes the node tree; a small constructor turns it into plain JSON-compatible
values. Positions are not copied into the data: the node tree is kept and walked only when a
diagnostic needs a position, so valid files pay nothing for them.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ocsrun import safe_io
from ocsrun.errors import LoadError, Position
from ocsrun.gc_pause import gc_paused
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.yaml11 import FIRST as _YAML11_FIRST
from ocsrun.runbook.yaml11 import yaml11_reading

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_SCALAR_CHARS = 1024 * 1024
MAX_NODES = 250_000  # the bundled runbooks have a few thousand; this stops floods of tiny items

# Python refuses to convert longer digit strings (and the conversion is quadratic below that);
# no runbook or answers file needs a number anywhere near this long.
MAX_NUMBER_CHARS = 100


def _core_loader() -> Any:
    """The fast C loader with YAML 1.2 core-schema scalar resolution (what editors, Ajv and
    check-jsonschema read): `yes`/`no`/`on`/`off`, `1:30`, `1_000`, `0b1` and dates are strings,
    `true`/`false`, `null`/`~`, decimal/`0o`/`0x` integers and plain floats are not. Resolution
    happens per plain scalar in the composer either way, so this costs nothing over YAML 1.1.
    """
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class CoreLoader(base):  # type: ignore[misc]
        yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}
        # Nodes resolved so far, and how many may be: the composer asks for every node's tag
        # (but those with an explicit `!tag`), so counting here bounds the tree as it grows.
        nodes = 0
        # The composer also calls these two for every node, to track path resolvers; there are
        # none (add_path_resolver is never used), so the base methods return at once. Builtins
        # that take the same arguments and do nothing save two Python calls per node.
        descend_resolver = staticmethod(operator.is_)  # (parent node, index)
        ascend_resolver = staticmethod(tuple)  # ()

        def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
            # Resolver.resolve, for the safe loader's case (no path resolvers), plus the count.
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise _NodeLimit
            if kind is ScalarNode:
                if implicit[0]:
                    for tag, pattern in self.yaml_implicit_resolvers.get(value[:1], ()):  # type: ignore[index]
                        if pattern.match(value):  # type: ignore[arg-type]
                            return tag
                return _STR
            return _SEQ if kind is SequenceNode else _MAP

    for tag, pattern, first in CORE_RESOLVERS:
        CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))
    # What makes the no-op path tracking above exact.
    assert not CoreLoader.yaml_path_resolvers
    return CoreLoader


def _uncounted_loader(counting: Any) -> Any:
    """The same loader without the node count, for text already known to be within the
    limit (`_guard_structure`): most files, and the composer asks for every node's tag."""
    resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = counting.yaml_implicit_resolvers

    class UncountedLoader(counting):  # type: ignore[misc]
        def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
            if kind is ScalarNode:
                if implicit[0]:
                    for tag, pattern in resolvers.get(value[:1], ()):  # type: ignore[index]
                        if pattern.match(value):  # type: ignore[arg-type]
                            return tag
                return _STR
            return _SEQ if kind is SequenceNode else _MAP

    return UncountedLoader


def _counting_resolve() -> tuple[
    Callable[[type, str | None, tuple[bool, bool]], str], Callable[[], int]
]:
    """CoreLoader.resolve as a function with its own count, and how to read the count."""
    resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = _Loader.yaml_implicit_resolvers
    get = resolvers.get
    count = 0

    def resolve(kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise _NodeLimit
        if kind is ScalarNode:
            if implicit[0]:
                for tag, pattern in get(value[:1], ()):  # type: ignore[index]
                    if pattern.match(value):  # type: ignore[arg-type]
                        return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    return resolve, lambda: count


class _NodeLimit(Exception):
    """Raised inside the composer when the node count passes its limit."""


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


_Loader: Any = _core_loader()
_UncountedLoader: Any = _uncounted_loader(_Loader)

_STR, _NULL, _BOOL = _TAG + "str", _TAG + "null", _TAG + "bool"
_INT, _FLOAT, _TIMESTAMP = _TAG + "int", _TAG + "float", _TAG + "timestamp"
_SEQ, _MAP = _TAG + "seq", _TAG + "map"
# Tags whose scalar text is kept as a plain string (JSON has no dates; merge keys are inert text
# because aliases are rejected anyway).
_TEXT_TAGS = frozenset({_STR, _TIMESTAMP, _TAG + "merge", _TAG + "value"})

_BOMS = (
    (b"\xef\xbb\xbf", "a UTF-8 byte order mark"),
    (b"\xff\xfe", "a UTF-16 byte order mark"),
    (b"\xfe\xff", "a UTF-16 byte order mark"),
)


# Where an anchor could start a node. Matches inside strings are harmless: the builder only
# rejects a match where a node really starts (an anchored node starts at its `&`). An alias
# always needs an anchor first, so rejecting anchors rejects aliases (and billion laughs) too.
# These patterns are compiled on first use: most runbooks hold no `&` and have no YAML error.
@functools.cache
def _anchor_hint() -> re.Pattern[str]:
    return re.compile(r"&[^\s,\[\]{}]")


_BEFORE_ANCHOR = frozenset(" \t\r\n[{,")


# An anchor after a tag (`!!str &a x`) starts its node at the tag; the scanner finds those.
@functools.cache
def _tagged_anchor() -> re.Pattern[str]:
    return re.compile(r"![^\s]*[ \t]+&")


@functools.cache
def _anchor_name() -> re.Pattern[str]:
    return re.compile(r"&([^\s,\[\]{}]+)")


@functools.cache
def _tab_indent() -> re.Pattern[str]:
    return re.compile(r"^ *\t", re.MULTILINE)


# libyaml's composer recurses on the C stack and crashes somewhere past 20,000 levels. Block
# nesting needs at least one column of indentation (or `- `/`? `) per two levels, flow nesting
# one bracket per level, so text under these bounds cannot get near that.
_SAFE_BRACKETS = 2000
# A line that starts with 1,000 of these: the text's first line, or one after a newline
# (`re.MULTILINE`'s `^` searched every position of the text: 7% of loading a 40-step runbook).
_DEEP_FIRST_LINE = re.compile(r"[ ?-]{1000}")
_DEEP_LINE = re.compile(r"\n[ ?-]{1000}")


@dataclass(frozen=True)
class Document:
    path: str
    data: dict[str, Any]
    text: str
    diagnostics: tuple[Diagnostic, ...]
    # The composed node tree, kept only to find positions on demand.
    root: Node | None = field(default=None, repr=False, compare=False)
    # Plain scalars read as strings that YAML 1.1 would read otherwise (`yes`, `1:30`, dates):
    # where they are and their text, for the yaml11 rule.
    yaml11: tuple[tuple[Position, str], ...] = field(default=(), repr=False, compare=False)

    def shown_as(self, display: str) -> Document:
        """The same document named `display` in its positions (a fragment loaded once under
        its full path, then reported under the name its runbook gives it)."""
        if display == self.path:
            return self

        def moved(position: Position) -> Position:
            return replace(position, path=display) if position.path == self.path else position

        return replace(
            self,
            path=display,
            diagnostics=tuple(replace(d, position=moved(d.position)) for d in self.diagnostics),
            yaml11=tuple((moved(position), text) for position, text in self.yaml11),
        )

    def position(self, path: Sequence[str | int], *, key: bool = False) -> Position:
        """Where the value (or its key) at a JSON path starts; the nearest ancestor if missing."""
        node = self.root
        if node is None:
            return Position(self.path, 1, 1)
        key_node: Node | None = None
        for part in path:
            found = _child(node, part)
            if found is None:
                return _pos(self.path, node)
            key_node, node = found
        if key and key_node is not None:
            return _pos(self.path, key_node)
        return _pos(self.path, node)

    def item_positions(self, path: Sequence[str | int]) -> list[Position]:
        """Where each item of the list at a JSON path starts ([] if there is no list there)."""
        node = self.root
        for part in path:
            found = _child(node, part) if node is not None else None
            if found is None:
                return []
            node = found[1]
        if not isinstance(node, SequenceNode):
            return []
        return [_pos(self.path, item) for item in node.value]


def child_node(node: Node, part: str | int) -> Node | None:
    """The value node under a mapping key or sequence index, or None."""
    found = _child(node, part)
    return found[1] if found is not None else None


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    if isinstance(node, MappingNode) and isinstance(part, str):
        # The last occurrence wins in the data, so search from the end.
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, ScalarNode) and key_node.value == part:
                return key_node, value_node
        return None
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def _pos(path: str, node: Node) -> Position:
    return Position(path, node.start_mark.line + 1, node.start_mark.column + 1)


def load_document(path: Path, display: str | None = None) -> Document:
    shown = display if display is not None else str(path)
    try:
        data = safe_io.read_regular(path, MAX_FILE_BYTES)
    except safe_io.NotRegularFile:
        raise LoadError("not a regular file", Position(shown), rule="io") from None
    except safe_io.TooLarge as error:
        detail = (
            f"file is {error.size} bytes; the limit is {MAX_FILE_BYTES}"
            if error.size is not None
            else f"file is over the limit of {MAX_FILE_BYTES} bytes"
        )
        raise _too_large(shown, detail) from None
    except OSError as error:
        raise LoadError(
            f"cannot read file: {error.strerror or error}", Position(shown), rule="io"
        ) from None
    return load_text(data, shown)


def load_text(data: bytes, display: str) -> Document:
    with gc_paused():
        return _load_text(data, display)


def _load_text(data: bytes, display: str) -> Document:
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(display, f"file is over the limit of {MAX_FILE_BYTES} bytes")
    text = _decode(data, display)
    walked = _guard_structure(text, display)
    anchors = _anchor_candidates(text, display)
    root = _compose(text, display, counted=walked)
    if root is None:
        raise LoadError(
            "the file is empty (or only comments)", Position(display, 1, 1), rule="empty-file"
        )
    if not isinstance(root, MappingNode):
        raise LoadError(
            "the top level must be a mapping (key: value lines)",
            _pos(display, root),
            rule="not-a-mapping",
        )
    builder = _Builder(text, display, anchors=anchors)
    value = builder.build(root, 1)
    return Document(display, value, text, tuple(builder.diagnostics), root, tuple(builder.yaml11))


def _too_large(display: str, message: str, line: int = 1, col: int = 1) -> LoadError:
    return LoadError(message, Position(display, line, col), rule="too-large")


def _decode(data: bytes, display: str) -> str:
    for bom, what in _BOMS:
        if data.startswith(bom):
            raise LoadError(
                f"file starts with {what}; save it as UTF-8 without BOM",
                Position(display, 1, 1),
                rule="encoding",
            )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(data, nul)
        raise LoadError(
            "file contains NUL bytes (binary data?)", Position(display, line, col), rule="encoding"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, col = _line_col(data, error.start)
        raise LoadError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x})",
            Position(display, line, col),
            rule="encoding",
        ) from None


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _guard_structure(text: str, display: str) -> bool:
    """Refuse very deep nesting and node floods before the C composer builds (or crashes on) them;
    True if the text was walked here (its node count is known to be within the limit).

    The exact depth limit is enforced by the builder; this only has to be cheap and safe. Every
    node takes at least one character, so short texts cannot hold too many. Otherwise the
    composer counts the nodes as it makes them (CoreLoader.resolve), unless the nesting could
    crash it: then the event stream, which libyaml produces iteratively, is walked first.
    """
    shallow = text.count("[") + text.count("{") <= _SAFE_BRACKETS and not _deep_line(text)
    if shallow and len(text) <= MAX_NODES:
        return True
    # A rough count of separators (not a bound: the counting composer stays exact): a text
    # that looks like a flood of tiny nodes is walked first, which refuses it without building
    # a quarter of a million nodes (and their memory) before finding out.
    crowded = sum(text.count(s) for s in (",", "\n", "- ", ": ")) > MAX_NODES
    if (shallow or _parser_limits_nesting()) and not crowded:
        return False
    with contextlib.suppress(yaml.YAMLError):  # composing reports it, with its mark
        _walk_events(text, display)
    return True


def _deep_line(text: str) -> bool:
    return bool(_DEEP_FIRST_LINE.match(text) or _DEEP_LINE.search(text))


@functools.cache
def _parser_limits_nesting() -> bool:
    """Whether the YAML parser refuses deep nesting itself, before composing (libyaml builds
    from 2024 on stop at 1,000 levels, far below where its recursive composer would crash)."""
    deep = "[" * 1100 + "]" * 1100
    try:
        yaml.compose(deep, Loader=_Loader)
    except yaml.YAMLError as error:
        return "nesting depth" in str(error)
    except RecursionError:
        return False  # the pure-Python composer
    return False


def _flow_depth_crossing(text: str) -> tuple[int, int] | None:
    """1-based line and column of the bracket that opens level MAX_DEPTH + 1, if any.

    Counts the top-level block collection (if the document is not flow style) as level 1, as
    the builder does; flow collections nested inside deeper block levels are placed a few
    brackets late, which is still on the offending run of brackets.
    """
    first = text.lstrip()
    depth = 0 if first[:1] in ("[", "{") else 1
    line, col = 1, 0
    for char in text:
        col += 1
        if char == "\n":
            line, col = line + 1, 0
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


def _walk_events(text: str, display: str) -> None:
    """Count depth and nodes on the event stream, which libyaml produces iteratively."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                line, col = _mark(event.start_mark)
                raise _too_large(display, f"more than {MAX_NODES} nodes", line, col)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line, col = _mark(event.start_mark)
                raise _too_large(display, f"nesting deeper than {MAX_DEPTH} levels", line, col)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _anchor_candidates(text: str, display: str) -> frozenset[tuple[int, int]]:
    """0-based (line, column) of every `&` that might start an anchored node."""
    if "&" not in text:
        return frozenset()
    if _tagged_anchor().search(text):
        _scan_anchors(text, display)
    found = set()
    for match in _anchor_hint().finditer(text):
        offset = match.start()
        if offset and text[offset - 1] not in _BEFORE_ANCHOR:
            continue
        line = text.count("\n", 0, offset)
        found.add((line, offset - (text.rfind("\n", 0, offset) + 1)))
    return frozenset(found)


def _scan_anchors(text: str, display: str) -> None:
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if isinstance(token, yaml.AnchorToken):
                mark = token.start_mark
                raise _anchor_error(display, str(token.value), mark.line, mark.column)
    except yaml.YAMLError:
        return  # composing will report it


def _anchor_error(display: str, name: str, line: int, column: int) -> LoadError:
    return LoadError(
        f"YAML anchor '{name}' is not allowed (nor aliases); use a fragment (`uses:`) instead",
        Position(display, line + 1, column + 1),
        rule="yaml-alias",
    )


def _compose(text: str, display: str, *, counted: bool) -> Node | None:
    """The node tree. The composer counts nodes and stops past the limit (memory stays
    bounded). Nodes with an explicit `!tag` are not counted there: when they could make up
    the difference, or the count ran over, the event walk decides and names the place.
    `counted`: the node count is already known to be within the limit (the text was walked)."""
    loader = (_UncountedLoader if counted else _Loader)(text)
    if not counted:
        # The same resolution and count as CoreLoader.resolve, as a closure on the instance:
        # the composer asks once per node, and a local count is cheaper than an attribute.
        loader.resolve, resolved = _counting_resolve()
    try:
        node: Node | None = loader.get_single_node()
    except _NodeLimit:
        node = None
    except yaml.MarkedYAMLError as error:
        if "nesting depth" in (error.problem or ""):
            # The parser's own limit (1,000 levels): the walk names where ours (64) was crossed.
            with contextlib.suppress(yaml.YAMLError):
                _walk_events(text, display)
        raise _syntax_error(text, display, error) from None
    except yaml.YAMLError as error:
        raise LoadError(f"YAML error: {error}", Position(display, 1, 1)) from None
    finally:
        loader.dispose()
    nodes = 0 if counted else resolved()
    over = nodes > MAX_NODES
    if over or (not counted and nodes + text.count("!") > MAX_NODES):
        with contextlib.suppress(yaml.YAMLError):
            _walk_events(text, display)  # raises too-large, with the position
        if over:
            raise _too_large(display, f"more than {MAX_NODES} nodes")
    return node


def _syntax_error(text: str, display: str, error: yaml.MarkedYAMLError) -> LoadError:
    if "nesting depth" in (error.problem or ""):
        # libyaml >= 0.2.5 (in PyYAML 6.0.4 wheels) refuses nesting past 1,000 levels while
        # scanning ahead, before any node exists: that is our limit too, and the place to
        # name is where our own limit was crossed, not where libyaml gave up.
        line, col = _flow_depth_crossing(text) or _mark(error.problem_mark)
        return _too_large(display, f"nesting deeper than {MAX_DEPTH} levels", line, col)
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else 1
    col = mark.column + 1 if mark else 1
    tab = _tab_indent().search(text)
    if tab is not None:
        tab_line = text.count("\n", 0, tab.start()) + 1
        if tab_line <= line:
            return LoadError(
                "tab character in indentation; indent with spaces",
                Position(display, tab_line, tab.end() - tab.start()),
                rule="tab-indent",
            )
    message = error.problem or error.context or "invalid YAML"
    return LoadError(
        f"YAML syntax error: {message}", Position(display, line, col), rule="yaml-syntax"
    )


class _Builder:
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
            line, col = _mark(node.start_mark)
            raise _too_large(self.display, f"nesting deeper than {MAX_DEPTH} levels", line, col)
        if isinstance(node, SequenceNode):
            self._check_tag(node, _SEQ)
            if self.plain:
                return [
                    child.value if _is_text(child) else self.build(child, depth + 1)
                    for child in node.value
                ]
            return [self.build(child, depth + 1) for child in node.value]
        self._check_tag(node, _MAP)
        return self.mapping(node, depth)

    def _check_anchor(self, node: Node) -> None:
        mark = node.start_mark
        if (mark.line, mark.column) in self.anchors:
            name = self._anchor_name(mark.index)
            raise _anchor_error(self.display, name, mark.line, mark.column)

    def _anchor_name(self, index: int) -> str:
        match = _anchor_name().match(self.text, index)
        return match.group(1) if match else "?"

    def mapping(self, node: Node, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise LoadError(
                    "a mapping key must be a plain scalar",
                    _pos(self.display, key_node),
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
                _pos(self.display, key_node),
                Severity.ERROR,
                f"duplicate key '{key_node.value}' (first at {at})",
                "duplicate-key",
            )
        )

    def scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if self.check_length and len(text) > MAX_SCALAR_CHARS:
            mark = node.start_mark
            raise _too_large(
                self.display,
                f"a string of {len(text)} characters; the limit is {MAX_SCALAR_CHARS}",
                mark.line + 1,
                mark.column + 1,
            )
        if tag in _TEXT_TAGS:
            if (
                not node.style
                and text[:1] in _YAML11_FIRST
                and tag == _STR
                and yaml11_reading(text) is not None
            ):
                self.yaml11.append((_pos(self.display, node), text))
            return text
        if tag == _BOOL and text in _BOOLS:
            return _BOOLS[text]
        if tag == _NULL and text in _NULLS:
            return None
        if tag in (_INT, _FLOAT):
            if len(text) > MAX_NUMBER_CHARS:
                raise _too_large(
                    self.display,
                    f"a number of {len(text)} characters; the limit is {MAX_NUMBER_CHARS}",
                    *_mark(node.start_mark),
                )
            value = _number(tag, text)
            if value is not None:
                return value
        if tag in (_BOOL, _NULL, _INT, _FLOAT):
            # Only an explicit tag gets here (`!!int 1:30`): YAML 1.2 has no such form.
            kind = tag.rsplit(":", 1)[-1]
            raise LoadError(
                f"'{text}' is not a YAML 1.2 {kind}", _pos(self.display, node), rule="yaml-syntax"
            )
        raise LoadError(
            f"unsupported YAML tag '{tag}'", _pos(self.display, node), rule="yaml-syntax"
        )

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise LoadError(
                f"unsupported YAML tag '{node.tag}'", _pos(self.display, node), rule="yaml-syntax"
            )


def _is_text(node: Node) -> bool:
    """A string scalar whose value is its text as it is: what `_Builder.scalar` returns for it
    without a finding (quoted or block style, or plain text YAML 1.1 would not read otherwise
    either; see the yaml11 check there)."""
    return (
        node.__class__ is ScalarNode
        and node.tag == _STR
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


def scalar_text(document: Document, path: Sequence[str | int]) -> str | None:
    """The original text of a plain (unquoted) scalar at path, if that is what is there."""
    node = document.root
    for part in path:
        if node is None:
            return None
        found = _child(node, part)
        if found is None:
            return None
        node = found[1]
    if isinstance(node, ScalarNode) and not node.style:
        return str(node.value)
    return None
