"""The tree of a Jinja expression or template as the rules see it: what jinja_subset's
recognizer builds, and what Jinja's own parse is converted to (`from_jinja`), so the rules that
look inside expressions (unreachable-step) walk one kind of tree whichever parser read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

# --- the tree ---------------------------------------------------------------------------------


class Node:
    """An expression or template part: immutable, equal when of the same class with equal
    fields, shown like a dataclass. Written by hand: fourteen frozen dataclasses took 7 ms to
    define, a fifth of the start-up time this module saves."""

    __slots__: tuple[str, ...] = ()
    _order: ClassVar[tuple[str, ...]] = ()  # the fields in the order __init__ takes them

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._order)

    def _set(self, *values: object) -> None:
        for name, value in zip(self._order, values, strict=True):
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._order)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class Name(Node):
    __slots__ = ("name",)
    _order = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        self._set(name)


class Const(Node):
    # str, int, bool or None from the recognizer; Jinja's parse may give a float too
    __slots__ = ("value",)
    _order = ("value",)
    value: object

    def __init__(self, value: object) -> None:
        self._set(value)


class List(Node):
    __slots__ = ("items",)
    _order = ("items",)
    items: tuple[Node, ...]

    def __init__(self, items: tuple[Node, ...]) -> None:
        self._set(items)


class Tuple(Node):
    """Only from Jinja's parse (`x in ('a', 'b')`): the recognizer gives up on tuples."""

    __slots__ = ("items",)
    _order = ("items",)
    items: tuple[Node, ...]

    def __init__(self, items: tuple[Node, ...]) -> None:
        self._set(items)


class Getitem(Node):
    __slots__ = ("arg", "node")
    _order = ("node", "arg")
    node: Node
    arg: Node

    def __init__(self, node: Node, arg: Node) -> None:
        self._set(node, arg)


class Getattr(Node):
    __slots__ = ("attr", "node")
    _order = ("node", "attr")
    node: Node
    attr: str

    def __init__(self, node: Node, attr: str) -> None:
        self._set(node, attr)


class Operand(Node):
    # op: Jinja's names, eq ne lt lteq gt gteq in notin
    __slots__ = ("expr", "op")
    _order = ("op", "expr")
    op: str
    expr: Node

    def __init__(self, op: str, expr: Node) -> None:
        self._set(op, expr)


class Compare(Node):
    __slots__ = ("expr", "ops")
    _order = ("expr", "ops")
    expr: Node
    ops: tuple[Operand, ...]

    def __init__(self, expr: Node, ops: tuple[Operand, ...]) -> None:
        self._set(expr, ops)


class Not(Node):
    __slots__ = ("node",)
    _order = ("node",)
    node: Node

    def __init__(self, node: Node) -> None:
        self._set(node)


class And(Node):
    __slots__ = ("left", "right")
    _order = ("left", "right")
    left: Node
    right: Node

    def __init__(self, left: Node, right: Node) -> None:
        self._set(left, right)


class Or(Node):
    __slots__ = ("left", "right")
    _order = ("left", "right")
    left: Node
    right: Node

    def __init__(self, left: Node, right: Node) -> None:
        self._set(left, right)


class If(Node):
    __slots__ = ("body", "elifs", "orelse", "test")
    _order = ("test", "body", "elifs", "orelse")
    test: Node
    body: tuple[Node, ...]
    elifs: tuple[If, ...]
    orelse: tuple[Node, ...]

    def __init__(
        self, test: Node, body: tuple[Node, ...], elifs: tuple[If, ...], orelse: tuple[Node, ...]
    ) -> None:
        self._set(test, body, elifs, orelse)


class Template(Node):
    """A template's outputs (`{{ expr }}`) and if blocks in order; its text is left out."""

    __slots__ = ("body",)
    _order = ("body",)
    body: tuple[Node, ...]

    def __init__(self, body: tuple[Node, ...]) -> None:
        self._set(body)


class Other(Node):
    """A part of Jinja's parse outside the subset, opaque (its Jinja node class name)."""

    __slots__ = ("kind",)
    _order = ("kind",)
    kind: str

    def __init__(self, kind: str) -> None:
        self._set(kind)


def names_of(node: Node) -> frozenset[str]:
    """Every name the tree reads (all of them load: the subset has no assignments)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Name):
            found.add(item.name)
        else:
            stack.extend(_children(item))
    return frozenset(found)


def _children(node: Node) -> list[Node]:
    found: list[Node] = []
    for field in _CHILD_FIELDS.get(type(node), ()):
        value = getattr(node, field)
        found.extend(value if isinstance(value, tuple) else (value,))
    return found


# The fields of each node class that hold nodes (one node, or a tuple of them).
_CHILD_FIELDS: dict[type[Node], tuple[str, ...]] = {
    List: ("items",),
    Tuple: ("items",),
    Getitem: ("node", "arg"),
    Getattr: ("node",),
    Operand: ("expr",),
    Compare: ("expr", "ops"),
    Not: ("node",),
    And: ("left", "right"),
    Or: ("left", "right"),
    If: ("test", "body", "elifs", "orelse"),
    Template: ("body",),
}


# --- Jinja's parse, converted ----------------------------------------------------------------


def from_jinja(node: Any) -> Node:
    """Our tree for a node of Jinja's parse of an expression (Other where it leaves the
    subset's shapes). By exact class name: a subclass may mean something else."""
    kind = type(node).__name__
    convert = _FROM_JINJA.get(kind)
    if convert is None or (kind == "Name" and node.ctx != "load"):
        return Other(kind)
    return convert(node)


def _all(items: Any) -> tuple[Node, ...]:
    return tuple(from_jinja(item) for item in items)


_FROM_JINJA: dict[str, Callable[[Any], Node]] = {
    "Name": lambda n: Name(n.name),
    "Const": lambda n: Const(n.value),
    "List": lambda n: List(_all(n.items)),
    "Tuple": lambda n: Tuple(_all(n.items)),
    "Getitem": lambda n: Getitem(from_jinja(n.node), from_jinja(n.arg)),
    "Getattr": lambda n: Getattr(from_jinja(n.node), n.attr),
    "Compare": lambda n: Compare(
        from_jinja(n.expr), tuple(Operand(op.op, from_jinja(op.expr)) for op in n.ops)
    ),
    "Not": lambda n: Not(from_jinja(n.node)),
    "And": lambda n: And(from_jinja(n.left), from_jinja(n.right)),
    "Or": lambda n: Or(from_jinja(n.left), from_jinja(n.right)),
}


def template_from_jinja(tree: Any) -> Template:
    """Our tree for Jinja's parse of a whole template: its outputs' expressions and its if
    blocks (text left out), Other for any other statement."""
    from jinja2 import nodes

    assert isinstance(tree, nodes.Template)
    return Template(_body_from_jinja(tree.body))


def _body_from_jinja(body: list[Any]) -> tuple[Node, ...]:
    from jinja2 import nodes

    found: list[Node] = []
    for node in body:
        if isinstance(node, nodes.Output):
            found.extend(from_jinja(n) for n in node.nodes if not isinstance(n, nodes.TemplateData))
        elif isinstance(node, nodes.If):
            elifs = tuple(
                If(from_jinja(e.test), _body_from_jinja(e.body), (), ()) for e in node.elif_
            )
            found.append(
                If(
                    from_jinja(node.test),
                    _body_from_jinja(node.body),
                    elifs,
                    _body_from_jinja(node.else_),
                )
            )
        else:
            found.append(Other(type(node).__name__))
    return tuple(found)
