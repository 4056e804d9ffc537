"""Three ways of checking the schema agree, on the data ocsrun's own loader produces.

`schema.check` trusts a "valid" from jsonschema-rs and skips jsonschema, so jsonschema-rs
saying yes where jsonschema finds an error would hide findings. Compared here, per document:

1. jsonschema-rs's `is_valid`,
2. jsonschema's `is_valid` (the reference; it also words the findings),
3. `schema.check` (what validate runs) against `schema.findings` (jsonschema alone, the path
   where jsonschema-rs has no wheel): the same findings, and none exactly when (2) says valid.

Documents: the bundled runbooks, the test runbooks, a generated corpus, seeded mutations of
them (wrong types, missing and unknown keys, bad enum values, empty lists, duplicates) and
values only a YAML file brings (huge integers, .nan, .inf, text ending in a newline).
"""

from __future__ import annotations

import copy
import dataclasses
import random
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator

from ocsrun.errors import LoadError
from ocsrun.runbook import schema
from ocsrun.runbook.loader import Document, load_document, load_text

sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus

ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    10**40,
    -(10**40),
    float("nan"),
    float("inf"),
    "",
    "x",
    "x\n",
    "confirm",
    "goto",
    "ocsrun/v1",
    "ocsrun/v1\n",
    "30m",
    "30m\n",
    "10MiB",
    "Bad Id",
    "good_name\n",
    [],
    ["x"],
    ["a", "a"],
    [1],
    {},
    {"x": 1},
    {"type": "confirm"},
)
KEYS = ("extra", "gate", "goto", "items", "over", "values", "type", "min", "pattern", "expect")
KEYS += ("with", "must", "timeout", "valid_for", "max_size", "window")
MUTATIONS = 800


def _loaded(paths: list[Path]) -> list[Document]:
    documents = []
    for path in paths:
        try:
            documents.append(load_document(path))
        except LoadError:
            continue  # unreadable on purpose (hostile and invalid test data)
    return documents


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    generated = tmp_path_factory.mktemp("corpus")
    corpus.generate(generated, 5)
    paths = sorted((ROOT / "runbooks").rglob("*.yaml"))
    paths += sorted((ROOT / "tests" / "data" / "runbooks").rglob("*.yaml"))
    paths += sorted(generated.rglob("*.yaml"))
    found = _loaded(paths)
    assert len(found) > 20
    return found


@pytest.fixture(scope="module")
def validators() -> tuple[Any, Draft202012Validator]:
    loaded = schema.load_schema()
    return jsonschema_rs.Draft202012Validator(loaded), Draft202012Validator(loaded)


def _three_ways(document: Document, validators: tuple[Any, Draft202012Validator]) -> bool:
    native, reference = validators
    try:
        native_says = bool(native.is_valid(document.data))
    except (ValueError, TypeError, OverflowError):
        native_says = False  # what schema.check does with a value it cannot convert
    reference_says = reference.is_valid(document.data)
    # Never "valid" where jsonschema finds an error (the other way only costs speed).
    assert not native_says or reference_says, document.path
    checked = schema.check(document)
    assert checked == schema.findings(document)
    assert (not checked) == reference_says, (document.path, checked[:3])
    return reference_says


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _places(value, (*path, index))
    return out


def _mutate(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 2)):
        places = [p for p in _places(data) if p]
        if not places:
            break
        path = rng.choice(places)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.randrange(6)
        if action == 0 and isinstance(parent, dict):
            del parent[last]
        elif action == 1 and isinstance(parent, dict):
            parent[rng.choice(KEYS)] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif action == 2 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif action == 3 and isinstance(parent, list):
            parent.clear()
        else:
            parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    return data


def test_agree_on_real_documents(documents: list[Document], validators: Any) -> None:
    verdicts = [_three_ways(document, validators) for document in documents]
    assert any(verdicts)


def test_agree_on_mutations(documents: list[Document], validators: Any) -> None:
    rng = random.Random(20261130)
    valid = invalid = 0
    for _ in range(MUTATIONS):
        base = rng.choice(documents)
        # The node tree stays the original's: positions fall back to the nearest ancestor,
        # which is all a mutated document can ask of it.
        mutated = dataclasses.replace(base, data=_mutate(base.data, rng))
        if _three_ways(mutated, validators):
            valid += 1
        else:
            invalid += 1
    assert valid > 20 and invalid > MUTATIONS // 3


@pytest.mark.parametrize(
    "text",
    [
        "format: ocsrun/v1\nkind: runbook\nmetadata: {id: 1e999}\nsteps: []\n",
        "format: ocsrun/v1\nkind: runbook\nmetadata: {id: .nan}\nsteps: []\n",
        "format: ocsrun/v1\nkind: runbook\nmetadata: {id: " + "9" * 60 + "}\nsteps: []\n",
        "format: ocsrun/v1\nkind: runbook\nmetadata: {id: 0x1f}\nsteps: []\n",
        'format: "ocsrun/v1\\n"\nkind: runbook\nmetadata: {id: a}\nsteps: []\n',
    ],
)
def test_agree_on_yaml_only_values(text: str, validators: Any) -> None:
    document = load_text(text.encode(), "odd.yaml")
    assert not _three_ways(document, validators)


def test_without_jsonschema_rs_jsonschema_alone_answers(
    documents: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where jsonschema-rs has no wheel, the same findings come from jsonschema alone."""
    broken = dataclasses.replace(documents[0], data={**documents[0].data, "kind": "nope"})
    expected = schema.check(broken)
    assert expected
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # import now raises ImportError
    schema._quick_check.cache_clear()
    try:
        assert schema._quick_check() is None
        assert schema.check(broken) == expected
        assert schema.check(documents[0]) == []
    finally:
        monkeypatch.undo()
        schema._quick_check.cache_clear()
    assert schema._quick_check() is not None
