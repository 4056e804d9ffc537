"""The runbook JSON Schema itself, and how its errors are mapped to positions and messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator

from ocsrun.runbook import schema
from ocsrun.runbook.loader import load_text

SCHEMA_FILE = ROOT / "schemas" / "runbook.schema.json"
HEAD = """format: ocsrun/v1
kind: runbook
metadata:
  id: test.schema
  title: Schema
  version: 1.0.0
"""


def raw_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def subschemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in the document, with a JSON-pointer-like path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in ("properties", "$defs", "dependentSchemas") and isinstance(value, dict):
                for name, child in value.items():
                    yield from subschemas(child, f"{path}/{key}/{name}")
            elif isinstance(value, dict | list) and key not in ("examples", "enum", "const"):
                yield from subschemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from subschemas(child, f"{path}/{index}")


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and "description" not in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_schema_is_valid_2020_12() -> None:
    document = raw_schema()
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == "https://ocsrun.dev/schemas/runbook/v1.json"


def conditional(path: str) -> bool:
    """Inside an if/then/else: a condition on keys declared elsewhere, not a declaration."""
    return any(part in path.split("/") for part in ("if", "then", "else", "not"))


def test_every_property_has_a_description() -> None:
    document = raw_schema()
    missing = [
        f"{path}/properties/{name}"
        for path, node in subschemas(document)
        if not conditional(path)
        for name, prop in node.get("properties", {}).items()
        if isinstance(prop, dict) and not resolve(document, prop).get("description")
    ]
    assert missing == []
    declared = [
        p for p, node in subschemas(document) if "properties" in node and not conditional(p)
    ]
    assert len(declared) >= 15


def test_every_object_with_properties_is_closed() -> None:
    # Only conditional fragments (if/then/else) may list properties without closing them, and
    # `properties: {name: true}` next to `required: [name]` declares nothing: Ajv's strict mode
    # wants every required name defined in the same subschema.
    open_objects = [
        path
        for path, node in subschemas(raw_schema())
        if "properties" in node
        and node.get("additionalProperties") is not False
        and not conditional(path)
        and not all(value is True for value in node["properties"].values())
    ]
    assert open_objects == []


@pytest.mark.parametrize(
    "pointer",
    [
        "#/properties/format",
        "#/properties/kind",
        "#/$defs/runbookId",
        "#/$defs/stepId",
        "#/$defs/duration",
        "#/$defs/gate/properties/type",
        "#/$defs/step/properties/when",
    ],
)
def test_key_fields_have_examples(pointer: str) -> None:
    node: Any = raw_schema()
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    assert node.get("examples")


def test_gate_types_match_the_format_document() -> None:
    gate_types = set(raw_schema()["$defs"]["gate"]["properties"]["type"]["enum"])
    assert gate_types == {
        "confirm",
        "typed_confirmation",
        "checklist",
        "time_window",
        "evidence",
        "command",
    }


def test_the_validator_is_compiled_once() -> None:
    assert schema.validator() is schema.validator()


def messages(text: str) -> list[tuple[int, int, str]]:
    document = load_text(text.encode(), "f.yaml")
    return [(d.position.line, d.position.col, d.message) for d in schema.check(document)]


def test_valid_minimal_runbook_has_no_schema_errors() -> None:
    assert messages(HEAD + "steps:\n  - id: a\n    title: A\n") == []


def test_unknown_key_points_at_the_key_and_suggests() -> None:
    found = messages(HEAD + "steps:\n  - id: a\n    title: A\n    titel: B\n")
    assert found == [(10, 5, "unknown key 'titel' in step 'a' (did you mean 'title'?)")]


def test_unknown_key_without_close_match_has_no_suggestion() -> None:
    found = messages(HEAD + "steps:\n  - id: a\n    title: A\n    colour: red\n")
    assert found == [(10, 5, "unknown key 'colour' in step 'a'")]


def test_required_key_for_a_gate_type() -> None:
    text = (
        HEAD + "steps:\n  - id: x\n    title: X\n    gate:\n      type: typed_confirmation\n"
        "      prompt: P\n"
    )
    assert messages(text) == [
        (10, 5, "step 'x' gate: 'expect' is required for type typed_confirmation")
    ]


def test_key_of_another_gate_type_is_named() -> None:
    text = (
        HEAD + "steps:\n  - id: x\n    title: X\n    gate:\n      type: confirm\n"
        "      prompt: P\n      items: [a]\n"
    )
    assert messages(text) == [(13, 7, "step 'x' gate: 'items' is not allowed for type confirm")]


def test_yaml12_boolean_where_a_string_is_wanted_gets_a_quote_it_hint() -> None:
    text = HEAD + "steps:\n  - id: x\n    title: true\n"
    assert messages(text) == [
        (9, 12, "step 'x': 'title' 'true' was read as the boolean true; quote it")
    ]


def test_quoted_wrong_type_gets_the_plain_type_message() -> None:
    text = HEAD + "steps:\n  - id: x\n    title: A\n    required: 'yes'\n"
    assert messages(text) == [(10, 15, "step 'x': 'required' expected a boolean, got a string")]


def test_enum_typo_points_at_the_value() -> None:
    text = (
        HEAD + "steps:\n  - id: x\n    title: X\n    gate:\n      type: confrim\n      prompt: P\n"
    )
    found = messages(text)
    assert [(line, col) for line, col, _ in found] == [(11, 13)]
    assert any("did you mean 'confirm'?" in message for _, _, message in found)


def test_all_errors_are_reported() -> None:
    text = "format: ocsrun/v2\nkind: book\nmetadata: {id: x, title: T, version: '1'}\n"
    found = messages(text)
    assert len(found) == 4  # format, kind, version, missing steps
    assert found == sorted(found)


def test_bad_param_name_points_at_the_name() -> None:
    text = HEAD + "params:\n  Bad: {type: string}\nsteps:\n  - id: x\n    title: X\n"
    found = messages(text)
    assert [(line, col) for line, col, _ in found] == [(8, 3)]
    assert "'Bad' is not a valid name" in found[0][2]
