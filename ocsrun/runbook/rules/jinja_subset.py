"""The common subset of Jinja2 that runbooks use, read without importing Jinja.

Most `when:` expressions and templates are names, literals, comparisons, `and`/`or`/`not`,
subscripts and `{% if %}` blocks. Importing Jinja to parse those was a third of the time of
`ocsrun validate one.yaml`. This recognizer reads that subset and nothing else: it either
accepts a source (with the names it reads and a small tree of ours) or gives up (None), and
then Jinja parses it as before, so every finding is still worded by Jinja.

Accepting must imply that Jinja accepts the same source, reads the same names and finds
nothing unsafe in it; tests/test_jinja_subset.py checks that against Jinja on every template of
the repository, a generated corpus and generated sources. So the rule here is to give up at
anything unusual: a token we do not know, a keyword where a name would be, odd whitespace, a
backslash in a string, deep nesting, a long tag.

The tree it builds is jinja_tree's, which Jinja's own parse is converted to as well.
"""

from __future__ import annotations

import re
from functools import cache

from ocsrun.runbook.rules.jinja_tree import (
    And,
    Compare,
    Const,
    Getattr,
    Getitem,
    If,
    List,
    Name,
    Node,
    Not,
    Operand,
    Or,
    Template,
)

# --- the recognizer -----------------------------------------------------------------------------

# Jinja's word operators and conditional keywords: never a name here (Jinja reads some of them
# as names in some places, `a == not`; giving up there costs nothing).
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "elif", "endif"})
# Jinja's globals (their names are left out of a template's names) and names its compiler or
# meta analysis treat specially (`self` is not reported as undeclared in a `{% %}` template).
_SPECIAL = frozenset(
    {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}
    | {"self", "loop", "caller", "varargs", "kwargs", "super"}
)
_TRUE_FALSE_NONE = {"true": True, "True": True, "false": False, "False": False}
_NONE = frozenset({"none", "None"})
_COMPARE = {"==": "eq", "!=": "ne", "<": "lt", "<=": "lteq", ">": "gt", ">=": "gteq"}
# Bounds that keep every tree the recognizer accepts far from Python's recursion limit, in our
# walks and in Jinja's (Jinja reports "nested too deeply" where it would overflow).
MAX_TOKENS = 200
MAX_DEPTH = 24


class _GiveUp(Exception):
    """The source is outside the subset: let Jinja read it."""


@cache
def _token_re() -> re.Pattern[str]:
    # Whitespace is Jinja's `\s`, narrowed to what runbooks hold; a string has no backslash
    # (Jinja decodes escapes) nor line break (Jinja normalises them). A name or number must not
    # run on into a letter, digit, `_` or `.` (Jinja would read a float, `1_000`, `0x1f`, `07`);
    # the check for that is in _tokens.
    return re.compile(
        r"[ \t\n]*(?:"
        r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
        r"|(?P<int>0|[1-9][0-9]*)"
        r"|(?P<str>'[^'\\\n\r]*'|\"[^\"\\\n\r]*\")"
        r"|(?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)"
        r"|(?P<end>-?\}\}|-?%\})"
        r"|(?P<eos>\Z))"
    )


# What must not follow a number (the empty string, the end of the source, is not in it).
_NUMBER_TAIL = frozenset("0123456789._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _tokens(source: str, pos: int) -> tuple[list[tuple[str, str]], int]:
    """The tokens from pos up to and including the first end token (`}}`, `%}`, with or
    without `-`) or the end of the source, and the position after them."""
    token_re = _token_re()
    found: list[tuple[str, str]] = []
    while True:
        match = token_re.match(source, pos)
        if match is None:
            raise _GiveUp  # a character outside the subset (operator, unicode, backslash...)
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        pos = match.end()
        if kind == "int" and (source[pos : pos + 1] in _NUMBER_TAIL or len(value) > 18):
            raise _GiveUp  # (a huge number: Python's int() refuses past 4,300 digits)
        if kind == "str":
            value = value[1:-1]
            if any(ord(c) < 32 or c == "\x7f" for c in value):
                raise _GiveUp
        found.append((kind, value))
        if kind in ("end", "eos"):
            return found, pos
        if len(found) > MAX_TOKENS:
            raise _GiveUp


class _Parser:
    """Jinja's expression grammar, restricted to the subset: or > and > not > compare >
    postfix (`.attr`, `[expr]`) > primary (name, literal, list, parentheses)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def word(self, word: str) -> bool:
        if self.peek() == ("name", word):
            self.at += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if self.take() != ("op", op):
            raise _GiveUp

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _GiveUp

    def expression(self) -> Node:
        self.nest()
        left = self.conjunction()
        while self.word("or"):
            left = Or(left, self.conjunction())
        self.depth -= 1
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while self.word("and"):
            left = And(left, self.negation())
        return left

    def negation(self) -> Node:
        if self.word("not"):
            self.nest()
            node = Not(self.negation())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        expr = self.postfix()
        ops: list[Operand] = []
        while True:
            kind, value = self.peek()
            if kind == "op" and value in _COMPARE:
                self.at += 1
                ops.append(Operand(_COMPARE[value], self.postfix()))
            elif self.word("in"):
                ops.append(Operand("in", self.postfix()))
            elif self.peek() == ("name", "not") and self.peek(1) == ("name", "in"):
                self.at += 2
                ops.append(Operand("notin", self.postfix()))
            else:
                break
        return Compare(expr, tuple(ops)) if ops else expr

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            token = self.peek()
            if token == ("op", "."):
                self.at += 1
                kind, attr = self.take()
                if kind != "name" or attr in _KEYWORDS or attr.startswith("_"):
                    raise _GiveUp  # `a.0`, `a.not`, private attributes
                node = Getattr(node, attr)
            elif token == ("op", "["):
                self.at += 1
                arg = self.expression()
                self.expect_op("]")
                if isinstance(arg, Const) and str(arg.value).startswith("_"):
                    raise _GiveUp  # a private item: Jinja's unsafe check words it
                node = Getitem(node, arg)
            else:
                return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "name":
            return _name(value)
        if kind == "int":
            return Const(int(value))
        if kind == "str":
            if self.peek()[0] == "str":
                raise _GiveUp  # Jinja joins adjacent strings: `'a' 'b'` is 'ab'
            return Const(value)
        if (kind, value) == ("op", "("):
            node = self.expression()
            self.expect_op(")")
            return node
        if (kind, value) == ("op", "["):
            return self.list_literal()
        raise _GiveUp

    def list_literal(self) -> Node:
        items: list[Node] = []
        if self.peek() == ("op", "]"):
            self.at += 1
            return List(())
        while True:
            items.append(self.expression())
            kind, value = self.take()
            if (kind, value) == ("op", "]"):
                return List(tuple(items))
            if (kind, value) != ("op", ","):
                raise _GiveUp
            if self.peek() == ("op", "]"):
                raise _GiveUp  # a trailing comma: Jinja takes it, we need not


def _name(value: str) -> Node:
    if value in _TRUE_FALSE_NONE:
        return Const(_TRUE_FALSE_NONE[value])
    if value in _NONE:
        return Const(None)
    if value in _KEYWORDS or value in _SPECIAL:
        raise _GiveUp
    return Name(value)


def expression(source: str) -> Node | None:
    """A `when:` expression's tree, or None when it is not plainly in the subset."""
    try:
        tokens, _ = _tokens(source, 0)
        if tokens[-1][0] != "eos":
            return None  # `}}` or `%}`: Jinja's variable state would end there
        parser = _Parser(tokens)
        node = parser.expression()
        return node if parser.peek()[0] == "eos" else None
    except (_GiveUp, RecursionError):
        return None


@cache
def _opener_re() -> re.Pattern[str]:
    return re.compile(r"\{[{%#]")


def template(source: str) -> Template | None:
    """A template's tree, or None when it is not plainly in the subset: text, `{{ expr }}`,
    and `{% if %}`/`{% elif %}`/`{% else %}`/`{% endif %}` blocks properly nested."""
    try:
        return _template(source)
    except (_GiveUp, RecursionError):
        return None


# One open `{% if %}` while its body is read: the If so far, which part is being filled
# ("body", "elif" or "else"), and the parts.
class _OpenIf:
    __slots__ = ("body", "elifs", "orelse", "test")

    def __init__(self, test: Node) -> None:
        self.test = test
        self.body: list[Node] = []
        self.elifs: list[tuple[Node, list[Node]]] = []
        self.orelse: list[Node] | None = None

    def current(self) -> list[Node]:
        if self.orelse is not None:
            return self.orelse
        return self.elifs[-1][1] if self.elifs else self.body

    def close(self) -> If:
        return If(
            self.test,
            tuple(self.body),
            tuple(If(test, tuple(body), (), ()) for test, body in self.elifs),
            tuple(self.orelse or ()),
        )


def _template(source: str) -> Template | None:
    opener = _opener_re()
    top: list[Node] = []
    stack: list[_OpenIf] = []
    pos = 0
    while True:
        # Jinja's lexer: the earliest `{{`, `{%` or `{#` starts a tag, whatever text precedes.
        match = opener.search(source, pos)
        if match is None:
            break
        kind = match.group()
        pos = match.end()
        if kind == "{#":
            raise _GiveUp  # comments: rare, left to Jinja
        if source[pos : pos + 1] == "-":
            pos += 1  # whitespace control: it changes only the text around the tag
        tokens, pos = _tokens(source, pos)
        last = tokens[-1]
        if last[0] != "end" or last[1].lstrip("-") != ("}}" if kind == "{{" else "%}"):
            raise _GiveUp  # unclosed, or closed by the other kind of tag
        parser = _Parser(tokens)
        into = stack[-1].current() if stack else top
        if kind == "{{":
            into.append(parser.expression())
        else:
            _block(parser, stack, top)
        if parser.peek()[0] != "end":
            raise _GiveUp
    if stack:
        raise _GiveUp  # an unclosed if
    return Template(tuple(top))


def _block(parser: _Parser, stack: list[_OpenIf], top: list[Node]) -> None:
    if parser.word("if"):
        if len(stack) >= MAX_DEPTH // 2:
            raise _GiveUp
        stack.append(_OpenIf(parser.expression()))
    elif parser.word("elif"):
        if not stack or stack[-1].orelse is not None:
            raise _GiveUp  # outside an if, or after its else
        stack[-1].elifs.append((parser.expression(), []))
    elif parser.word("else"):
        if not stack or stack[-1].orelse is not None:
            raise _GiveUp
        stack[-1].orelse = []
    elif parser.word("endif"):
        if not stack:
            raise _GiveUp
        closed = stack.pop().close()
        (stack[-1].current() if stack else top).append(closed)
    else:
        raise _GiveUp  # every other statement
