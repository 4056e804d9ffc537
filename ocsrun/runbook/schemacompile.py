"""A yes/no JSON Schema check compiled once into plain Python closures.

jsonschema's validator re-dispatches every keyword by name, tracks paths and builds error
objects lazily through generators, for every node of every file. Most runbooks are valid, so
`schema.check` asks this compiled predicate first and only runs jsonschema (for its
messages) when the answer is no. The predicate must never say yes where jsonschema would
report an error; where it is unsure (an unusual value type, a keyword it does not know) it
says no, which only costs speed. `compile_schema` refuses schemas that use a keyword outside
the supported subset, so a schema change can never make it silently lax.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never affect validity (annotations and containers handled elsewhere).
_IGNORED = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "then",
        "else",
    }
)
_SUPPORTED = (
    frozenset(
        {
            "type",
            "const",
            "enum",
            "properties",
            "additionalProperties",
            "required",
            "propertyNames",
            "pattern",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "uniqueItems",
            "items",
            "allOf",
            "anyOf",
            "not",
            "if",
            "minimum",
            "maximum",
            "dependentRequired",
            "$ref",
        }
    )
    | _IGNORED
)


class Unsupported(Exception):
    """The schema uses something this compiler does not model; use jsonschema alone."""


def _is_integer(value: Any) -> bool:
    # jsonschema's draft 2020-12 type checker: bools are not integers, 1.0 is.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPE_TESTS: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A predicate that is true only for instances jsonschema finds no error in.

    Raises Unsupported when the schema uses a keyword or a reference form outside the subset.
    """
    return _Compiler(schema).compile(schema)


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        # $ref targets are compiled once and shared; the slot allows recursive schemas.
        self.refs: dict[str, list[Check]] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise Unsupported(f"schema of type {type(schema).__name__}")
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        checks = [check for check in self._keyword_checks(schema) if check is not _always]
        return _all_of(checks)

    def _keyword_checks(self, s: Mapping[str, Any]) -> list[Check]:
        # Cheap, discriminating checks first: a wrong type fails before any descent.
        out: list[Check] = []
        if "type" in s:
            out.append(self._type(s["type"]))
        if "const" in s:
            out.append(_const(s["const"]))
        if "enum" in s:
            out.append(_enum(s["enum"]))
        out.extend(_string_checks(s))
        out.extend(_array_size_checks(s))
        out.extend(_number_checks(s))
        out.extend(self._object_checks(s))
        if "items" in s:
            out.append(_items(self.compile(s["items"])))
        if s.get("uniqueItems") is True:
            out.append(_unique)
        if "$ref" in s:
            out.append(self._ref(s["$ref"]))
        if "allOf" in s:
            out.append(_all_of([self.compile(sub) for sub in s["allOf"]]))
        if "anyOf" in s:
            out.append(_any_of([self.compile(sub) for sub in s["anyOf"]]))
        if "not" in s:
            out.append(_not(self.compile(s["not"])))
        if "if" in s:
            then = self.compile(s["then"]) if "then" in s else _always
            else_ = self.compile(s["else"]) if "else" in s else _always
            out.append(_if(self.compile(s["if"]), then, else_))
        return out

    def _type(self, types: Any) -> Check:
        names = [types] if isinstance(types, str) else list(types)
        try:
            tests = [_TYPE_TESTS[name] for name in names]
        except KeyError as error:
            raise Unsupported(f"type {error}") from None
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(test(v) for test in tests)

    def _object_checks(self, s: Mapping[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "required" in s:
            out.append(_required(tuple(s["required"])))
        if "dependentRequired" in s:
            out.append(_dependent_required(s["dependentRequired"]))
        if "propertyNames" in s:
            out.append(_property_names(self.compile(s["propertyNames"])))
        properties = s.get("properties", {})
        compiled = {name: self.compile(sub) for name, sub in properties.items()}
        extra = s.get("additionalProperties", True)
        if compiled or extra is not True:
            extra_check = None if extra is False else self.compile(extra)
            out.append(_properties(compiled, extra_check, extra is False))
        return out

    def _ref(self, ref: Any) -> Check:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref!r}")
        slot = self.refs.get(ref)
        if slot is None:
            slot = self.refs[ref] = []
            target: Any = self.root
            for escaped in ref[2:].split("/"):
                part = escaped.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise Unsupported(f"$ref {ref!r} not found")
                target = target[part]
            slot.append(self.compile(target))
        if slot:
            return slot[0]
        # A reference back into a schema still being compiled (recursion): look it up at call
        # time, when the slot is filled.
        return lambda v: slot[0](v)  # noqa: PLW0108


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    frozen = tuple(checks)
    return lambda v: all(check(v) for check in frozen)


def _any_of(checks: list[Check]) -> Check:
    frozen = tuple(checks)
    return lambda v: any(check(v) for check in frozen)


def _not(check: Check) -> Check:
    return lambda v: not check(v)


def _if(condition: Check, then: Check, else_: Check) -> Check:
    return lambda v: then(v) if condition(v) else else_(v)


def _plain(value: Any) -> bool:
    """Values whose == matches jsonschema's `equal` (no bool/int confusion, no containers)."""
    return isinstance(value, str) or value is None


def _const(expected: Any) -> Check:
    if not _plain(expected):
        raise Unsupported(f"const {expected!r}")
    if expected is None:
        return lambda v: v is None
    return lambda v: isinstance(v, str) and v == expected


def _enum(values: Any) -> Check:
    if not all(isinstance(value, str) for value in values):
        raise Unsupported(f"enum {values!r}")
    allowed = frozenset(values)
    return lambda v: isinstance(v, str) and v in allowed


def _string_checks(s: Mapping[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "pattern" in s:
        search = re.compile(s["pattern"]).search
        out.append(lambda v: not isinstance(v, str) or search(v) is not None)
    if "minLength" in s:
        low = s["minLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) >= low)
    if "maxLength" in s:
        high = s["maxLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) <= high)
    return out


def _array_size_checks(s: Mapping[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "minItems" in s:
        low = s["minItems"]
        out.append(lambda v: not isinstance(v, list) or len(v) >= low)
    if "maxItems" in s:
        high = s["maxItems"]
        out.append(lambda v: not isinstance(v, list) or len(v) <= high)
    return out


def _number_checks(s: Mapping[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "minimum" in s:
        low = s["minimum"]
        out.append(lambda v: not _is_number(v) or v >= low)
    if "maximum" in s:
        high = s["maximum"]
        out.append(lambda v: not _is_number(v) or v <= high)
    return out


def _unique(value: Any) -> bool:
    if not isinstance(value, list):
        return True
    # Only strings are compared here; anything else is left to jsonschema's own rules.
    if not all(isinstance(item, str) for item in value):
        return False
    return len(set(value)) == len(value)


def _items(check: Check) -> Check:
    return lambda v: not isinstance(v, list) or all(check(item) for item in v)


def _required(names: tuple[str, ...]) -> Check:
    return lambda v: not isinstance(v, dict) or all(name in v for name in names)


def _dependent_required(rules: Mapping[str, Any]) -> Check:
    pairs = tuple((name, tuple(needs)) for name, needs in rules.items())

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        return all(all(n in v for n in needs) for name, needs in pairs if name in v)

    return check


def _property_names(check: Check) -> Check:
    return lambda v: not isinstance(v, dict) or all(check(key) for key in v)


def _properties(compiled: dict[str, Check], extra: Check | None, closed: bool) -> Check:
    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        # One pass over the instance's keys: known keys by their schema, the rest by the
        # additionalProperties rule (False: none allowed).
        for key, value in v.items():
            sub = compiled.get(key)
            if sub is not None:
                if not sub(value):
                    return False
            elif closed or (extra is not None and not extra(value)):
                return False
        return True

    return check
