"""The rules' `{{ name }}` fast path gives what Jinja's parser gives (findings and names)."""

from __future__ import annotations

import random

import jinja2
import pytest

from ocsrun.runbook.rules import jinja


def _slow(source: str) -> tuple[bool, frozenset[str]]:
    env = jinja.environment()
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError:
        return False, frozenset()
    if jinja.unsafe(tree):
        return False, frozenset()
    return True, jinja.undeclared(tree, assigns="{%" in source)


def _fast(source: str) -> tuple[bool, frozenset[str]]:
    parsed = jinja.parse_template(source)
    return parsed.error is None, parsed.names


def test_globals_constant_matches_jinja() -> None:
    assert frozenset(jinja2.Environment().globals) == jinja.JINJA_GLOBALS


@pytest.mark.parametrize(
    "source",
    [
        "{{ not }}",
        "{{{ x }}}",
        "{{ x }}}",
        "{{ true }}",
        "{{ range }}",
        "a {{ target }} b",
        "{{- x -}}",
        "{{ labels[role] }}",
        "{ {{ x }}",
        "{{x}}{{y}}",
    ],
)
def test_edge_cases(source: str) -> None:
    assert _fast(source) == _slow(source)


def test_fuzzed() -> None:
    rng = random.Random(2026)
    pieces = [
        "{{ target }}",
        "{{x}}",
        "{",
        "}",
        "{{",
        "}}",
        "%",
        "#",
        " ",
        "a",
        "-",
        "\n",
        "{{ not }}",
        "{{ true }}",
        "{{ range }}",
        "{{- y -}}",
    ]
    for _ in range(3000):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 7)))
        if "{" in source:
            assert _fast(source) == _slow(source), repr(source)
