"""Reading a runbook file safely: bytes → checked text → YAML node tree → plain data.

The C parser composes the node tree; a small constructor turns it into plain JSON-compatible
values (ocsrun.runbook.yaml_values). Positions are not copied into the data: the node tree is
kept and walked only when a diagnostic needs a position, so valid files pay nothing for them.
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
from ocsrun.runbook.diagnostic import Diagnostic

# The scalar resolution and the limits are defined with the value builder; still importable from
# here, where the loader's callers (and the tests) have always found them.
from ocsrun.runbook.yaml_values import CORE_RESOLVERS as CORE_RESOLVERS  # noqa: PLC0414
from ocsrun.runbook.yaml_values import (
    MAP_TAG,
    SEQ_TAG,
    STR_TAG,
    ValueBuilder,
    anchor_error,
    mark_of,
    node_position,
    too_large,
)
from ocsrun.runbook.yaml_values import MAX_DEPTH as MAX_DEPTH  # noqa: PLC0414
from ocsrun.runbook.yaml_values import MAX_NUMBER_CHARS as MAX_NUMBER_CHARS  # noqa: PLC0414
from ocsrun.runbook.yaml_values import MAX_SCALAR_CHARS as MAX_SCALAR_CHARS  # noqa: PLC0414

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 250_000  # the bundled runbooks have a few thousand; this stops floods of tiny items


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
                return STR_TAG
            return SEQ_TAG if kind is SequenceNode else MAP_TAG

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
                return STR_TAG
            return SEQ_TAG if kind is SequenceNode else MAP_TAG

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
            return STR_TAG
        return SEQ_TAG if kind is SequenceNode else MAP_TAG

    return resolve, lambda: count


class _NodeLimit(Exception):
    """Raised inside the composer when the node count passes its limit."""


_Loader: Any = _core_loader()
_UncountedLoader: Any = _uncounted_loader(_Loader)

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
                return node_position(self.path, node)
            key_node, node = found
        if key and key_node is not None:
            return node_position(self.path, key_node)
        return node_position(self.path, node)

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
        return [node_position(self.path, item) for item in node.value]


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
        raise too_large(shown, detail) from None
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
        raise too_large(display, f"file is over the limit of {MAX_FILE_BYTES} bytes")
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
            node_position(display, root),
            rule="not-a-mapping",
        )
    builder = ValueBuilder(text, display, anchors=anchors)
    value = builder.build(root, 1)
    return Document(display, value, text, tuple(builder.diagnostics), root, tuple(builder.yaml11))


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
                line, col = mark_of(event.start_mark)
                raise too_large(display, f"more than {MAX_NODES} nodes", line, col)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line, col = mark_of(event.start_mark)
                raise too_large(display, f"nesting deeper than {MAX_DEPTH} levels", line, col)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


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
                raise anchor_error(display, str(token.value), mark.line, mark.column)
    except yaml.YAMLError:
        return  # composing will report it


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
            raise too_large(display, f"more than {MAX_NODES} nodes")
    return node


def _syntax_error(text: str, display: str, error: yaml.MarkedYAMLError) -> LoadError:
    if "nesting depth" in (error.problem or ""):
        # libyaml >= 0.2.5 (in PyYAML 6.0.4 wheels) refuses nesting past 1,000 levels while
        # scanning ahead, before any node exists: that is our limit too, and the place to
        # name is where our own limit was crossed, not where libyaml gave up.
        line, col = _flow_depth_crossing(text) or mark_of(error.problem_mark)
        return too_large(display, f"nesting deeper than {MAX_DEPTH} levels", line, col)
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
