"""Loader edge cases: limits, encodings, positions, YAML 1.1 surprises, hostile shapes."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from ocsrun.errors import LoadError
from ocsrun.runbook import loader, yaml_values
from ocsrun.runbook.loader import load_document, load_text

BASE = "format: ocsrun/v1\nkind: runbook\n"


def rule_of(data: bytes) -> str:
    with pytest.raises(LoadError) as caught:
        load_text(data, "f.yaml")
    return caught.value.rule


def error_of(data: bytes) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load_text(data, "f.yaml")
    return caught.value


def test_plain_values_are_json_compatible() -> None:
    doc = load_text(b"a: 1\nb: [x, 2.5, true, null]\nc: {d: e}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", 2.5, True, None], "c": {"d": "e"}}
    assert doc.diagnostics == ()
    assert doc.path == "f.yaml"


def test_dates_and_timestamps_stay_strings() -> None:
    doc = load_text(b"d: 2026-11-25\nt: 2026-11-25T01:02:03Z\n", "f.yaml")
    assert doc.data == {"d": "2026-11-25", "t": "2026-11-25T01:02:03Z"}


def test_scalars_are_read_as_yaml12_core_schema() -> None:
    # What editors, Ajv and check-jsonschema read; the yaml11 rule explains the differences.
    text = (
        b"a: no\nb: 0x10\nc: 20:00\nd: 'no'\ne: 017\nf: 0o17\ng: 1_000\nh: True\n"
        b"i: ~\nj: .inf\nk: 1e3\nl: 0b11\nm: On\n"
    )
    doc = load_text(text, "f.yaml")
    assert doc.data == {
        "a": "no",
        "b": 16,
        "c": "20:00",
        "d": "no",
        "e": 17,
        "f": 15,
        "g": "1_000",
        "h": True,
        "i": None,
        "j": float("inf"),
        "k": 1000.0,
        "l": "0b11",
        "m": "On",
    }
    found = [(p.line, p.col, t) for p, t in doc.yaml11]
    assert found == [(1, 4, "no"), (3, 4, "20:00"), (7, 4, "1_000"), (12, 4, "0b11"), (13, 4, "On")]


def test_explicit_tags_must_have_a_yaml12_form() -> None:
    assert load_text(b"a: !!int 0x1F\nb: !!float 2\n", "f.yaml").data == {"a": 31, "b": 2.0}
    error = error_of(b"a: !!int 1:30\n")
    assert (error.rule, error.message, error.position.line, error.position.col) == (
        "yaml-syntax",
        "'1:30' is not a YAML 1.2 int",
        1,
        4,
    )
    assert rule_of(b"a: !!bool yes\n") == "yaml-syntax"


def test_long_numbers_are_too_large_not_slow() -> None:
    # Python refuses int() past 4,300 digits; YAML 1.1 sexagesimal was quadratic to convert.
    error = error_of(b"a: 1\nb: " + b"9" * 5000 + b"\n")
    assert (error.rule, error.position.line, error.position.col) == ("too-large", 2, 4)
    assert "a number of 5000 characters" in error.message
    sexagesimal = load_text(b"a: 1" + b":0" * 100_000 + b"\n", "f.yaml")
    assert sexagesimal.data["a"].startswith("1:0:0")


def test_non_string_scalar_keys_become_their_text() -> None:
    doc = load_text(b"1: one\nyes: two\n", "f.yaml")
    assert doc.data == {"1": "one", "yes": "two"}


def test_every_duplicate_key_is_reported_with_both_positions() -> None:
    doc = load_text(b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "f.yaml")
    found = [(d.position.line, d.position.col, d.message, d.rule) for d in doc.diagnostics]
    assert found == [
        (4, 3, "duplicate key 'c' (first at 3:3)", "duplicate-key"),
        (5, 1, "duplicate key 'a' (first at 1:1)", "duplicate-key"),
    ]
    assert doc.data["a"] == 3  # the last one wins, as in any YAML reader


def test_position_of_value_key_and_missing_path() -> None:
    doc = load_text(b"steps:\n  - id: a\n    title:   T\n", "f.yaml")
    value = doc.position(["steps", 0, "title"])
    assert (value.path, value.line, value.col) == ("f.yaml", 3, 14)
    key = doc.position(["steps", 0, "title"], key=True)
    assert (key.line, key.col) == (3, 5)
    missing = doc.position(["steps", 0, "nope", 3])
    assert (missing.line, missing.col) == (2, 5)  # the step mapping: nearest existing ancestor
    assert doc.position([]).line == 1


def test_position_follows_the_last_duplicate_like_the_data() -> None:
    doc = load_text(b"a: 1\na: 2\n", "f.yaml")
    assert doc.position(["a"]).line == 2


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "empty-file"),
        (b"# only\n   # comments\n\n", "empty-file"),
        (b"- a\n- b\n", "not-a-mapping"),
        (b"just text\n", "not-a-mapping"),
        (b"a:\n\tb: 1\n", "tab-indent"),
        (b"a: [1, 2\n", "yaml-syntax"),
        (b"a: 1\n---\nb: 2\n", "yaml-syntax"),
        (b"a: !!python/object:os.system x\n", "yaml-syntax"),
        (b"a: !custom x\n", "yaml-syntax"),
        (b"? [a]\n: 1\n", "yaml-syntax"),
        (b"a: &x 1\nb: *x\n", "yaml-alias"),
        (b"a: *undefined\n", "yaml-syntax"),
        (b"a: !!str &x v\n", "yaml-alias"),
        (b"\xef\xbb\xbfa: 1\n", "encoding"),
        (b"\xff\xfea\x00:\x00", "encoding"),
        (b"a: caf\xe9\n", "encoding"),
        (b"a: b\x00c\n", "encoding"),
    ],
)
def test_loader_errors_have_their_rule(data: bytes, rule: str) -> None:
    assert rule_of(data) == rule


def test_tab_indent_points_at_the_tab() -> None:
    error = error_of(b"a:\n  b: 1\n  \tc: 2\n")
    assert error.rule == "tab-indent"
    assert error.position is not None
    assert (error.position.line, error.position.col) == (3, 3)


def test_syntax_error_carries_libyaml_mark() -> None:
    error = error_of(b"a: 1\nb: [x\nc: 2\n")
    assert error.rule == "yaml-syntax"
    assert error.position is not None and error.position.line >= 2


def test_anchor_like_text_inside_strings_is_fine() -> None:
    doc = load_text(b'a: "&x *y"\nb: |\n  &anchor\n  *alias\nc: x & y\nd: "**bold**"\n', "f.yaml")
    assert doc.data["a"] == "&x *y"
    assert doc.data["b"] == "&anchor\n*alias\n"
    assert doc.data["c"] == "x & y"


def test_billion_laughs_is_refused_before_expansion() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 12):
        prev = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([prev] * 9)}]")
    error = error_of(("\n".join(lines) + "\n").encode())
    assert error.rule == "yaml-alias"
    assert error.position is not None and (error.position.line, error.position.col) == (1, 5)


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_deep_flow_nesting_is_refused_without_crashing(depth: int) -> None:
    error = error_of(b"a: " + b"[" * depth + b"]" * depth + b"\n")
    assert error.rule == "too-large"
    assert "nesting deeper than 64" in error.message
    assert error.position is not None and (error.position.line, error.position.col) == (1, 67)


def test_deep_block_nesting_is_refused() -> None:
    text = "".join(f"{'  ' * level}k{level}:\n" for level in range(70)) + "  " * 70 + "end: 1\n"
    assert rule_of(text.encode()) == "too-large"


def test_deep_line_screen_finds_what_a_multiline_search_finds() -> None:
    """`_deep_line` (a first-line match and a search after newlines) says exactly what
    `^[ ?-]{1000}` with re.MULTILINE says, on any line of the text."""
    import re

    multiline = re.compile(r"^[ ?-]{1000}", re.MULTILINE)
    rng = random.Random(7)
    for _ in range(300):
        lines = [
            rng.choice(["a: 1", "", " " * rng.choice([10, 999, 1000, 1200]), "- " * 500])
            + rng.choice(["", "x", "\r"])
            for _ in range(rng.randint(1, 4))
        ]
        text = rng.choice(["", "\n"]) + "\n".join(lines)
        assert loader._deep_line(text) == (multiline.search(text) is not None), repr(text[:40])


def test_nesting_at_the_limit_is_accepted() -> None:
    # The top-level mapping is level 1; 63 more sequences make exactly 64.
    doc = load_text(b"a: " + b"[" * 63 + b"]" * 63 + b"\n", "f.yaml")
    assert "a" in doc.data


def test_node_flood_is_refused() -> None:
    items = ",".join(["1"] * (loader.MAX_NODES + 10))
    error = error_of(f"a: [{items}]\n".encode())
    assert error.rule == "too-large"
    assert "nodes" in error.message


def test_a_node_flood_with_few_separators_is_refused_by_the_counting_composer() -> None:
    # `{a,b}` is five nodes (a mapping, two keys, two nulls) for one comma: the separator count
    # that sends floods to the event walk first does not see this one coming, so the composer's
    # own count must stop it, and the walk then names the place.
    text = "a: [" + "{a,b}," * 60_000 + "]\n"
    assert sum(text.count(s) for s in (",", "\n", "- ", ": ")) < loader.MAX_NODES
    error = error_of(text.encode())
    assert error.rule == "too-large" and f"more than {loader.MAX_NODES} nodes" in error.message
    assert error.position is not None and error.position.line == 1 and error.position.col > 1


def test_long_string_is_refused_with_its_position() -> None:
    data = b"a: 1\nb: " + b"x" * (loader.MAX_SCALAR_CHARS + 1) + b"\n"
    error = error_of(data)
    assert error.rule == "too-large"
    assert error.position is not None and (error.position.line, error.position.col) == (2, 4)


def test_oversized_file_is_refused_from_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(loader.MAX_FILE_BYTES + 1)  # sparse: the size alone must decide
    with pytest.raises(LoadError) as caught:
        load_document(big)
    assert caught.value.rule == "too-large"
    assert "the limit is" in caught.value.message


def test_oversized_text_is_refused() -> None:
    assert rule_of(b"a: 1\n" + b"#" * loader.MAX_FILE_BYTES) == "too-large"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(LoadError) as caught:
        load_document(fifo)
    assert "not a regular file" in caught.value.message


def test_missing_file_is_a_load_error_with_the_display_path(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        load_document(tmp_path / "nope.yaml", display="shown.yaml")
    assert caught.value.position is not None and caught.value.position.path == "shown.yaml"


def test_load_document_keeps_display_path_and_text(tmp_path: Path) -> None:
    file = tmp_path / "r.yaml"
    file.write_text(BASE, encoding="utf-8")
    doc = load_document(file, display="r.yaml")
    assert doc.path == "r.yaml"
    assert doc.text == BASE
    assert doc.data == {"format": "ocsrun/v1", "kind": "runbook"}


def test_random_bytes_never_raise_anything_but_load_error() -> None:
    generator = random.Random(2007)
    pieces = [
        b"a:",
        b" ",
        b"\n",
        b"- ",
        b"[",
        b"]",
        b"{",
        b"}",
        b"&x",
        b"*x",
        b"'",
        b'"',
        b"#",
        b"\t",
        b"\xff",
        b"|",
        b">",
        b"!!",
        b"? ",
        b",",
        b"key",
        b"1",
        b"---",
        b"%YAML 1.1",
    ]
    for _ in range(2000):
        data = b"".join(generator.choice(pieces) for _ in range(generator.randint(0, 40)))
        try:
            doc = load_text(data, "f.yaml")
        except LoadError:
            continue
        assert isinstance(doc.data, dict)


def test_inline_text_scalars_read_as_the_builder_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Collections read most string scalars inline (`_is_text`); the data, the yaml11 findings
    and the duplicate-key findings are those of the scalar-by-scalar reading."""
    rng = random.Random(11)
    scalars = [
        "yes", "'yes'", '"no"', "on", "1:30", "2026-01-02", "1_000", "0b1", "text", "Text",
        "true", "null", "~", "12", "0x1F", "1.5", ".inf", "'-'", "+x", ".x", "-x", "|\n    block",
        "'quoted'", "y", "Off", "a b",
    ]  # fmt: skip
    for _ in range(60):
        lines, items = [], []
        for i in range(rng.randint(1, 8)):
            value = rng.choice(scalars)
            key = rng.choice(["k", f"k{i}"])
            lines.append(f"{key}: {value}")
            items.append(f"  - {value}" if "\n" not in value else "  - plain")
        text = "\n".join([*lines, "seq:", *items]) + "\n"
        fast = load_text(text.encode(), "f.yaml")
        with monkeypatch.context() as patched:
            patched.setattr(yaml_values, "_is_text", lambda node: False)
            slow = load_text(text.encode(), "f.yaml")
        assert (fast.data, fast.diagnostics, fast.yaml11) == (
            slow.data,
            slow.diagnostics,
            slow.yaml11,
        ), text


def test_uncounted_loader_resolves_as_the_counting_one() -> None:
    counting, uncounted = loader._Loader(""), loader._UncountedLoader("")
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    for value in ["", "~", "null", "true", "False", "12", "-3", "0o7", "0x1f", "1e3", ".nan",
                  ".inf", "-.inf", "yes", "1:30", "text", "nULL", "0b1", "+", "."]:  # fmt: skip
        for implicit in ((True, False), (False, True)):
            want = counting.resolve(ScalarNode, value, implicit)
            assert uncounted.resolve(ScalarNode, value, implicit) == want, value
    for kind in (SequenceNode, MappingNode):
        assert uncounted.resolve(kind, None, True) == counting.resolve(kind, None, True)


def test_counting_resolve_resolves_as_the_loader_and_counts_every_node() -> None:
    counting = loader._Loader("")
    resolve, count = loader._counting_resolve()
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    asked = 0
    for value in ["", "~", "null", "true", "False", "12", "-3", "0o7", "0x1f", "1e3", ".nan",
                  ".inf", "-.inf", "yes", "1:30", "text", "nULL", "0b1", "+", "."]:  # fmt: skip
        for implicit in ((True, False), (False, True)):
            assert resolve(ScalarNode, value, implicit) == counting.resolve(
                ScalarNode, value, implicit
            ), value
            asked += 1
    for kind in (SequenceNode, MappingNode):
        assert resolve(kind, None, (True, False)) == counting.resolve(kind, None, (True, False))
        asked += 1
    assert count() == asked
