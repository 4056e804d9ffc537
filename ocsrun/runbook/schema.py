"""The runbook JSON Schema: loaded and compiled once, its errors mapped to file positions.

Two validators: jsonschema-rs (native) answers valid / not valid, fast; jsonschema runs only
for a file that is not valid, for its error details (paths, keywords), which become the
findings. Both are imported lazily so that importing the CLI stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocsrun.errors import Position
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.loader import Document, scalar_text

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

RULE = "schema"
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def schema_file() -> Path:
    try:
        from ocsrun.runbook.resources import schema_path

        return schema_path()
    except ImportError:
        return Path(__file__).resolve().parents[2] / "schemas" / "runbook.schema.json"


@cache
def load_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_file().read_text(encoding="utf-8"))
    return loaded


@cache
def validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # here, not at the top: CLI start-up speed

    return Draft202012Validator(load_schema())


@cache
def _quick_check() -> Callable[[Any], bool] | None:
    """jsonschema-rs's yes/no answer, much faster than jsonschema for the common, valid case.

    None where jsonschema-rs is not installed (no wheel for the platform): jsonschema alone then.
    """
    try:
        import jsonschema_rs  # native; here, not at the top: CLI start-up speed
    except ImportError:
        return None
    try:
        is_valid = jsonschema_rs.Draft202012Validator(load_schema()).is_valid
    except Exception:  # its ValidationError, ReferencingError...: any refusal of the schema
        return None  # jsonschema alone is still right, only slower

    def quick(data: Any) -> bool:
        try:
            return bool(is_valid(data))
        except (ValueError, TypeError, OverflowError):
            return False  # a value it cannot convert: jsonschema decides, with its words

    return quick


def warm_up() -> None:
    """Build the yes/no check now (validation.warm_up calls it before forking workers)."""
    _quick_check()


def check(document: Document) -> list[Diagnostic]:
    """Every schema error in the document, each at the key or value it is about."""
    quick = _quick_check()
    if quick is not None and quick(document.data):
        # Yes is trusted (tests/test_schema_differential.py compares both on the loader's own
        # data); no goes to jsonschema, which words the findings and has the last say.
        return []
    return findings(document)


def findings(document: Document) -> list[Diagnostic]:
    """jsonschema's errors as findings: the only path where jsonschema-rs is not installed."""
    found: list[Diagnostic] = []
    for error in validator().iter_errors(document.data):
        found.extend(_diagnostics(document, error))
    unique = {(d.position, d.message): d for d in found}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def _diagnostics(document: Document, error: ValidationError) -> Iterable[Diagnostic]:
    error = _most_specific(error)
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        yield from _unknown_keys(document, error, path)
        return
    if error.validator == "not":
        yield from _forbidden_keys(document, error, path)
        return
    position, message = _describe(document, error, path)
    yield Diagnostic(position, Severity.ERROR, message, RULE)


def _expected(error: ValidationError) -> Any:
    """The keyword's value in the schema (typed loosely by jsonschema)."""
    return error.validator_value


def _most_specific(error: ValidationError) -> ValidationError:
    """For anyOf / oneOf, descend into the alternative that got furthest."""
    from jsonschema.exceptions import best_match

    while error.validator in ("anyOf", "oneOf") and error.context:
        if all(sub.validator == "required" for sub in error.context):
            return error  # "one of these keys is needed": clearer as a single message
        error = best_match(error.context)
    return error


def _unknown_keys(
    document: Document, error: ValidationError, path: list[str | int]
) -> Iterable[Diagnostic]:
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = list(schema.get("properties", {}))
    where = where_text(document.data, path)
    for key in instance if isinstance(instance, dict) else ():
        if key in known:
            continue
        message = f"unknown key '{key}' in {where}"
        import difflib  # only for a finding's suggestion: not at start-up

        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean '{close[0]}'?)"
        yield Diagnostic(document.position([*path, key], key=True), Severity.ERROR, message, RULE)


def _forbidden_keys(
    document: Document, error: ValidationError, path: list[str | int]
) -> Iterable[Diagnostic]:
    """The schema forbids keys as `not: {anyOf: [{required: [k]}, ...]}`; name each one present."""
    forbidden = _expected(error).get("anyOf", [_expected(error)])
    names = [k for alternative in forbidden for k in alternative.get("required", ())]
    instance = error.instance if isinstance(error.instance, dict) else {}
    for name in names:
        if name in instance:
            position = document.position([*path, name], key=True)
            yield Diagnostic(
                position, Severity.ERROR, _not_allowed(document.data, [*path, name]), RULE
            )


def _describe(
    document: Document, error: ValidationError, path: list[str | int]
) -> tuple[Position, str]:
    where = where_text(document.data, path[:-1] if path else path)
    validator_name = error.validator
    if "propertyNames" in error.schema_path:
        name = str(error.instance)
        return (
            document.position([*path, name], key=True),
            f"'{name}' is not a valid name (lower "
            "case letters, digits and underscores, not starting with a digit)",
        )
    if validator_name in ("required", "dependentRequired", "anyOf", "oneOf"):
        owner = where_text(document.data, path)
        return document.position(path, key=True), f"{owner}: {_required_message(error)}"
    label = _label(path)
    if validator_name == "type":
        return document.position(path), f"{where}: {_type_message(document, error, path, label)}"
    return document.position(path), f"{where}: {label}{_value_message(error)}"


def _label(path: Sequence[str | int]) -> str:
    if path and isinstance(path[-1], str):
        return f"'{path[-1]}' "
    return ""


def _required_message(error: ValidationError) -> str:
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        text = f"'{missing}' is required"
        if "else" in error.schema_path and missing == "items":
            return "'over' or 'items' is required"
        kind = error.instance.get("type") if isinstance(error.instance, dict) else None
        if "then" in error.schema_path and isinstance(kind, str):
            text += f" for type {kind}"
        return text
    if error.validator == "dependentRequired":
        return error.message.replace("is a dependency of", "is needed with")
    keys = sorted({str(k) for sub in error.context for k in _expected(sub)})
    return "needs one of " + ", ".join(f"'{k}'" for k in keys)


def _not_allowed(data: Any, path: list[str | int]) -> str:
    name = path[-1] if path else "?"
    parent = _at(data, path[:-1])
    where = where_text(data, path[:-1])
    if isinstance(parent, dict) and isinstance(parent.get("type"), str):
        return f"{where}: '{name}' is not allowed for type {parent['type']}"
    if isinstance(parent, dict) and isinstance(parent.get("action"), str):
        return f"{where}: '{name}' is not allowed for action {parent['action']}"
    return f"{where}: '{name}' is not allowed together with the other keys here"


def _type_message(
    document: Document, error: ValidationError, path: list[str | int], label: str
) -> str:
    expected = _expected(error)
    names = [expected] if isinstance(expected, str) else list(expected)
    want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    raw = scalar_text(document, path)
    value = error.instance
    if "string" in names and raw is not None:
        if isinstance(value, bool):
            return f"{label}'{raw}' was read as the boolean {str(value).lower()}; quote it"
        if value is None:
            return (
                f"{label}'{raw}' was read as null; quote it"
                if raw
                else f"{label}is empty; expected {want}"
            )
        if isinstance(value, int | float):
            return f"{label}'{raw}' was read as the number {value}; quote it"
    return f"{label}expected {want}, got {_kind_of(value)}"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    for python_type, name in (
        (str, "string"),
        (int, "integer"),
        (float, "number"),
        (list, "array"),
        (dict, "object"),
    ):
        if isinstance(value, python_type):
            return _TYPE_NAMES[name]
    return "null"


def _value_message(error: ValidationError) -> str:
    value, expected = error.instance, _expected(error)
    name = error.validator
    if name == "enum":
        text = f"'{value}' is not one of " + ", ".join(str(v) for v in expected)
        import difflib

        close = difflib.get_close_matches(str(value), [str(v) for v in expected], n=1, cutoff=0.6)
        return text + (f" (did you mean '{close[0]}'?)" if close else "")
    messages = {
        "const": f"must be '{expected}', not '{value}'",
        "pattern": f"'{value}' does not have the required form ({expected})",
        "uniqueItems": "has repeated entries",
    }
    if name in ("minItems", "minLength") and expected == 1:
        return "must not be empty"
    return messages.get(str(name), error.message)


def where_text(data: Any, path: Sequence[str | int]) -> str:
    """A short human name for the place at path: "step 'x' gate", "metadata.target", "param 'p'"."""
    name = "the top level"
    rest: list[str] = []
    node = data
    for index, part in enumerate(path):
        child = _step_child(node, part)
        if child is not None and index > 0 and path[index - 1] == "steps":
            name, rest = f"step '{child}'", []
        elif index == 1 and path[0] == "params":
            name, rest = f"param '{part}'", []
        elif isinstance(part, int) and rest:
            rest[-1] += f"[{part}]"
        elif isinstance(part, str) and part != "steps":
            rest.append(part)
        node = node[part] if _has(node, part) else None
    if not rest:
        return name
    joined = ".".join(rest)
    return joined if name == "the top level" else f"{name} {joined}"


def _step_child(node: Any, part: str | int) -> str | None:
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        step = node[part]
        if isinstance(step, dict):
            return str(step.get("id", f"#{part + 1}"))
    return None


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _at(data: Any, path: Sequence[str | int]) -> Any:
    node = data
    for part in path:
        if not _has(node, part):
            return None
        node = node[part]
    return node
