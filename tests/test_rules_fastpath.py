"""The rules' fast paths give what Jinja's parser gives (findings and names): `{{ name }}`
without the parser, and text with output tags parsed tag by tag."""

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
        "For {{ labels[role] }} on {{ target }}",
        "{{ a, b }} and {{ c }}",
        "x {{ a._b }} y",
        "x {{ a * 2 }} y {{ b }}",
        "x {{ a[ }} y",
        "x {{ a %} y",
        "x {{% a }} y {{ b }}",
        "x {{ a -}} y\n{{- b }}",
        "{ {{ a.b }} }",
        "{{ a.b }}{% if c %}{{ d }}{% endif %}",
        "{{ a.b }} {# c #}",
        "{{ a.b }}}} {{ c }}",
        "{{ range(3) }} {{ x }}",
        "line\n{{ a.b }}\n{{ c | upper }}\n{{ (d }}",
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


def test_fuzzed_tags() -> None:
    """Text mixed with output tags of every kind: valid, unsafe, broken, quoted, braced."""
    rng = random.Random(2027)
    pieces = [
        "{{ labels[role] }}",
        "{{ a.b }}",
        "{{ x|upper }}",
        "{{ a._b }}",
        "{{ a, b }}",
        "{{ x * 2 }}",
        "{{ range(3) }}",
        "{{ lipsum() }}",
        "{{ [ }}",
        "{{ ( }}",
        "{{ a %}",
        "{{% a }}",
        "{{ 'q' }}",
        "{{ x -}}",
        "{{- x }}",
        "{{ not x }}",
        "{{ x if y else z }}",
        "{{ '}}' }}",
        "{{ {} }}",
        "{#",
        "#}",
        "{%",
        "%}",
        "{",
        "}",
        "'",
        "text ",
        "\n",
    ]
    for _ in range(4000):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        assert _fast(source) == _slow(source), repr(source)


def test_tags_parsed_once_each() -> None:
    """Text around a tag does not make it parse again: the tag's own parse is reused (tags
    outside the subset that jinja_subset reads without Jinja: a filter)."""
    jinja.template.cache_clear()
    jinja._tag.cache_clear()
    for word in ("alpha", "beta", "gamma"):
        parsed = jinja.template(f"For **{{{{ labels[role]|e }}}}** on {word}: {{{{ target }}}}.")
        assert parsed.error is None
        assert parsed.names == {"labels", "role", "target"}
    info = jinja._tag.cache_info()
    assert (info.misses, info.hits) == (2, 4)
