"""The compiled schema predicate agrees with jsonschema on every instance we can think of.

`schema.check` trusts a "valid" from the compiled predicate and skips jsonschema, so a
disagreement in that direction would hide errors. Compared on the generated corpus, the test
runbooks, and thousands of seeded random mutations of them (wrong types, missing and unknown
keys, bad enum values, empty lists, duplicates).
"""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from jsonschema import Draft202012Validator

from ocsrun.runbook.schemacompile import Unsupported, compile_schema

sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus

SCHEMA = json.loads((ROOT / "schemas" / "runbook.schema.json").read_text(encoding="utf-8"))
ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    "",
    "x",
    "confirm",
    "goto",
    "ocsrun/v1",
    "30m",
    "10MiB",
    "Bad Id",
    [],
    ["x"],
    ["a", "a"],
    [1],
    {},
    {"x": 1},
    {"type": "confirm"},
)


def _documents() -> list[Any]:
    docs: list[Any] = []
    for path in sorted((ROOT / "runbooks").rglob("*.yaml")) + sorted(
        (ROOT / "tests" / "data" / "runbooks").rglob("*.yaml")
    ):
        try:
            docs.append(yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
    return docs


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _places(value, (*path, index))
    return out


def _mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    places = [p for p in _places(doc) if p]
    for _ in range(rng.randint(1, 2)):
        if not places:
            break
        path = rng.choice(places)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.randrange(6)
        try:
            if action == 0 and isinstance(parent, dict):
                del parent[last]
            elif action == 1 and isinstance(parent, dict):
                parent[
                    rng.choice(
                        (
                            "extra",
                            "gate",
                            "goto",
                            "items",
                            "over",
                            "values",
                            "type",
                            "min",
                            "pattern",
                            "expect",
                            "with",
                            "must",
                        )
                    )
                ] = rng.choice(ODD_VALUES)
            elif action == 2 and isinstance(parent, list):
                parent.append(copy.deepcopy(parent[last]))
            elif action == 3 and isinstance(parent, list):
                parent.clear()
            else:
                parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
        except (KeyError, IndexError, TypeError):
            continue
        places = [p for p in _places(doc) if p]
    return doc


@pytest.fixture(scope="module")
def check_pair() -> tuple[Any, Draft202012Validator]:
    return compile_schema(SCHEMA), Draft202012Validator(SCHEMA)


def test_agrees_on_real_documents(tmp_path: Path, check_pair: Any) -> None:
    fast, slow = check_pair
    corpus.generate(tmp_path, 5)
    docs = _documents() + [
        yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(tmp_path.rglob("*.yaml"))
    ]
    assert docs
    for doc in docs:
        assert fast(doc) == slow.is_valid(doc)


def test_agrees_on_mutations(tmp_path: Path, check_pair: Any) -> None:
    fast, slow = check_pair
    corpus.generate(tmp_path, 3)
    bases = _documents() + [
        yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(tmp_path.rglob("*.yaml"))
    ]
    rng = random.Random(20261125)
    said_valid = said_invalid = 0
    for _ in range(1500):
        doc = _mutate(rng.choice(bases), rng)
        expected = slow.is_valid(doc)
        # Never "valid" where jsonschema finds an error; the other way only costs speed,
        # but should not happen either for this schema.
        assert fast(doc) == expected, json.dumps(doc)[:400]
        said_valid += expected
        said_invalid += not expected
    assert said_valid > 50 and said_invalid > 500


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "patternProperties": {"^x": {}}},
        {"$ref": "https://example.com/other.json"},
        {"const": 1},
        {"enum": [1, "a"]},
        {"type": "string", "format": "email"},
    ],
)
def test_refuses_what_it_does_not_model(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema)


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "integer"}, True, False),
        ({"type": "integer"}, 2.0, True),
        ({"type": "number"}, False, False),
        ({"const": "a"}, "a", True),
        ({"enum": ["a"]}, 1, False),
        ({"uniqueItems": True}, ["a", "a"], False),
        ({"minimum": 1}, "text", True),
        ({"items": {"type": "string"}}, {"not": "a list"}, True),
    ],
)
def test_jsonschema_semantics(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert compile_schema(schema)(value) is valid
    assert Draft202012Validator(schema).is_valid(value) is valid
