"""The Jinja subset recognizer against Jinja itself: whenever it accepts a source, Jinja parses
the same source without a finding, reads the same names and gives the same tree. Run on every
template and `when` of the repository's runbooks and test data, on a generated corpus, on
listed edge cases, and on generated sources that mix the subset with what lies outside it."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import jinja2
import pytest
import yaml
from conftest import DATA, ROOT, RUNBOOKS
from hypothesis import event, given, settings

from ocsrun.runbook.rules import jinja, jinja_subset
from ocsrun.runbook.rules.jinja_tree import names_of, template_from_jinja

sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus

CASES = yaml.safe_load((DATA / "jinja_subset" / "cases.yaml").read_text(encoding="utf-8"))


def check_expression(source: str) -> str:
    """'accepted' or 'gave up'; fails when an acceptance is not Jinja's own reading."""
    ours = jinja_subset.expression(source)
    if ours is None:
        return "gave up"
    theirs = jinja.parse_expression_with_jinja(source)  # Jinja's parser, unsafe check, names
    assert theirs.error is None, (source, theirs.error)
    assert theirs.names == names_of(ours), source
    assert theirs.node == ours, source
    assert repr(theirs.node) == repr(ours), source  # Const(True) == Const(1) otherwise
    return "accepted"


def check_template(source: str) -> str:
    ours = jinja_subset.template(source)
    if ours is None:
        return "gave up"
    try:
        tree = jinja.environment().parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise AssertionError(f"accepted {source!r}; Jinja: {error}") from None
    # Converted first: Jinja's code generator (behind `undeclared`) folds constants in place.
    theirs = template_from_jinja(tree)
    assert jinja.unsafe(tree) is None, source
    assert jinja.undeclared(tree, assigns="{%" in source) == names_of(ours), source
    assert theirs == ours, source
    assert repr(theirs) == repr(ours), source
    # And what the rules see: the same finding-free result, whichever path read it.
    assert jinja.parse_template_with_jinja(source) == jinja.Parsed(None, names_of(ours)), source
    return "accepted"


def _strings(root: yaml.Node) -> Iterator[tuple[str, str]]:
    """(key, text) of every string scalar, each YAML node visited once (hostile files alias
    one node exponentially many times)."""
    seen: set[int] = set()
    stack: list[tuple[str, yaml.Node]] = [("", root)]
    while stack:
        key, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend((str(k.value), v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((key, item) for item in node.value)
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            yield key, node.value


def _sources(paths: list[Path]) -> tuple[set[str], set[str]]:
    """Every `when` and every string with a `{` in these YAML files (each string also tried as
    an expression: more sources, and the recognizer must give up on most of them)."""
    whens: set[str] = set()
    templates: set[str] = set()
    for path in paths:
        try:
            documents = list(yaml.compose_all(path.read_text(encoding="utf-8")))
        except Exception:  # hostile test data: not YAML, not UTF-8, too deep
            continue
        for document in documents:
            for key, text in _strings(document) if document is not None else ():
                if key == "when":
                    whens.add(text)
                if "{" in text:
                    templates.add(text)
    return whens, templates


def _yaml_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.y*ml") if p.is_file())


def test_every_source_in_the_repository_and_a_corpus(tmp_path: Path) -> None:
    corpus.generate(tmp_path, 8)
    whens, templates = _sources(_yaml_files(RUNBOOKS, DATA, tmp_path))
    expressions = Counter(check_expression(s) for s in whens | templates)
    outcomes = Counter(check_template(s) for s in templates)
    # The corpus's own `when`s and templates are in the subset (what `validate` is timed on).
    corpus_whens, corpus_templates = _sources(_yaml_files(tmp_path))
    assert corpus_whens
    assert all(jinja_subset.expression(s) is not None for s in corpus_whens)
    assert all(jinja_subset.template(s) is not None for s in corpus_templates)
    assert expressions["accepted"] > 20 and expressions["gave up"] > 20, expressions
    assert outcomes["accepted"] > 20 and outcomes["gave up"] > 5, outcomes


@pytest.mark.parametrize("case", CASES["accept"], ids=[c["source"][:40] for c in CASES["accept"]])
def test_listed_sources_accepted(case: dict[str, Any]) -> None:
    source = case["source"]
    if case["kind"] == "expression":
        assert check_expression(source) == "accepted"
        parsed = jinja.expression(source)
    else:
        assert check_template(source) == "accepted"
        parsed = jinja.template(source)
    assert parsed.error is None
    assert parsed.names == frozenset(case["names"])


@pytest.mark.parametrize(
    "case", CASES["give_up"], ids=[repr(c["source"])[:40] for c in CASES["give_up"]]
)
def test_listed_sources_left_to_jinja(case: dict[str, Any]) -> None:
    source = case["source"]
    if case["kind"] == "expression":
        assert jinja_subset.expression(source) is None
        parsed = jinja.parse_expression(source)
    else:
        assert jinja_subset.template(source) is None
        parsed = jinja.parse_template(source)
    assert (parsed.error is not None) == case["jinja_error"], parsed


# --- generated sources: a grammar that mixes the subset with its neighbours --------------------

_NAMES = ["a", "b", "x_1", "_y", "True", "none", "false", "range", "self", "not", "in", "if"]
_NAMES += ["é", "a\u00e9", "is", "or"]
_LITERALS = ["0", "1", "42", "07", "1.5", "1_0", "0x1", "'s'", '"t"', "'}}'", "'{{ x }}'"]
_LITERALS += ["'a\\'b'", "'a\\nb'", "''", "'_p'", "'é'", "'a' 'b'", "[]", "()", "{}"]
_SPACE = st.sampled_from(["", " ", " ", "  ", "\t", "\n", "\r", "\u00a0"])
_BINARY = ["==", "!=", "<", "<=", ">", ">=", " in ", " not in ", " and ", " or ", "+", "|upper"]
_BINARY += [" is ", "*", "~", " if ", "=", "!", "<>"]


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, _SPACE, st.sampled_from(_BINARY), _SPACE, inner).map("".join),
        st.tuples(st.sampled_from(["not ", "not", "- "]), inner).map("".join),
        inner.map(lambda e: f"({e})"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(inner, st.sampled_from([",]", ", ]", "]"])).map(lambda t: "[" + "".join(t)),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, st.sampled_from([".b", "._c", ".0", ". d", ".not", "[1:2]", "()"])).map(
            "".join
        ),
    )


EXPRESSIONS = st.recursive(
    st.sampled_from(_NAMES + _LITERALS), _combine, max_leaves=8
) | st.sampled_from(_NAMES + _LITERALS)


def _tag(expr: str, open_: str, close: str) -> str:
    return f"{open_}{expr}{close}"


_OUTPUT = st.builds(
    _tag,
    EXPRESSIONS,
    st.sampled_from(["{{ ", "{{", "{{- ", "{{+ ", "{{{ "]),
    st.sampled_from([" }}", "}}", " -}}", " - }}", " }", " %}", " }}}"]),
)
_TEXT = st.sampled_from(["", "text ", "{", "}", "%", "#", "}}", "%}", "{#c#}", "{ {", "\n", "-"])
# Mostly well-formed, so that acceptances with blocks are frequent too.
_BLOCK_OPEN = st.sampled_from(["{% ", "{% ", "{% ", "{%", "{%- ", "{%+ "])
_BLOCK_CLOSE = st.sampled_from([" %}", " %}", " %}", "%}", " -%}", " }}"])
_TEST = st.one_of(st.sampled_from(["a", "b == 'c'", "not x_1", "a in [1, 2]"]), EXPRESSIONS)


def _block(word: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda o, e, c: f"{o}{word}{e}{c}", _BLOCK_OPEN, _TEST.map(" ".__add__), _BLOCK_CLOSE
    )


def _if_block(body: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly well-formed if blocks; sometimes a piece missing or in the wrong order."""
    plain = st.sampled_from(["{% else %}", "{%- else -%}", "{% endif %}", "{% elif %}", ""])
    return st.builds(
        lambda head, b1, elifs, orelse, tail: head + b1 + "".join(elifs) + orelse + tail,
        _block("if"),
        body,
        st.lists(st.builds(str.__add__, _block("elif"), body), max_size=2),
        st.one_of(st.just(""), st.builds(str.__add__, plain, body)),
        st.sampled_from(
            ["{% endif %}", "{%- endif %}", "{% endif -%}", "", "{% endif %}{% endif %}"]
        ),
    )


TEMPLATES = st.recursive(
    st.lists(st.one_of(_TEXT, _OUTPUT), max_size=4).map("".join),
    lambda inner: st.lists(st.one_of(_TEXT, _OUTPUT, _if_block(inner)), max_size=3).map("".join),
    max_leaves=6,
)


def _run(strategy: st.SearchStrategy[str], check: Any, examples: int) -> Counter[str]:
    seen: Counter[str] = Counter()

    @settings(derandomize=True, deadline=None, max_examples=examples, database=None)
    @given(strategy)
    def run(source: str) -> None:
        outcome = check(source)
        event(outcome)
        seen[outcome] += 1

    run()
    return seen


def test_generated_expressions() -> None:
    seen = _run(EXPRESSIONS, check_expression, 1000)
    assert seen["accepted"] >= 100 and seen["gave up"] >= 100, seen


def test_generated_templates() -> None:
    def check(source: str) -> str:
        return check_template(source) + (" with blocks" if "{%" in source else "")

    seen = _run(TEMPLATES, check, 600)
    assert seen["accepted"] >= 50 and seen["accepted with blocks"] >= 20, seen
    assert seen["gave up"] >= 50 and seen["gave up with blocks"] >= 50, seen


def test_globals_are_given_up() -> None:
    # A name the recognizer reads must never be one of Jinja's globals (they are no names).
    assert frozenset(jinja2.Environment().globals) <= jinja_subset._SPECIAL


def test_tree_nodes_are_values() -> None:
    from ocsrun.runbook.rules.jinja_tree import Const, Name

    assert Name("a") == Name("a") and hash(Name("a")) == hash(Name("a"))
    assert Name("a") != Const("a")  # same fields, another class
    assert repr(Const(True)) == "Const(value=True)"
    with pytest.raises(AttributeError):
        Name("a").name = "b"  # type: ignore[misc]


_PROBE = (
    "import sys\nfrom ocsrun.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
    "print(code, 'jinja2' in sys.modules, file=sys.stderr)\n"
)


def _validate_in_child(path: Path) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
    )
    return done.stdout, done.stderr.strip()


def test_validate_imports_jinja_only_when_a_runbook_needs_it(tmp_path: Path) -> None:
    """`validate one.yaml` of a corpus runbook (its `when`s and templates all in the subset)
    never loads Jinja; one template with a filter, and Jinja is loaded to parse it."""
    one = corpus.generate(tmp_path, 1)[0]
    out, err = _validate_in_child(one)
    assert out.endswith("checked: no problems\n") and err == "0 False", (out, err)
    text = one.read_text(encoding="utf-8")
    assert "{{ target }}" in text
    one.write_text(text.replace("{{ target }}", "{{ target|upper }}", 1), encoding="utf-8")
    out, err = _validate_in_child(one)
    assert out.endswith("checked: no problems\n") and err == "0 True", (out, err)


# Every short sequence of tokens from the subset and its neighbours: the corners (a keyword
# where a name would be, an operator with nothing after it, an `if` block closed twice) that
# random generation may miss. Jinja parses only what the recognizer accepts, so this is quick.
_TOKENS = ["a", "b.c", "not", "and", "or", "in", "==", "<", "(", ")", "[", "]", ",", "'s'"]
_TOKENS += ["1", "true", "none", "is", "if", "else", "|", "-", "self", "0"]
_BLOCKS = ["{{ a }}", "{{- b -}}", "{% if a %}", "{%- elif b %}", "{% else -%}", "{% endif %}"]
_BLOCKS += ["x", "{", "}}", "{#", "#}", "{{ a", "%}", "{% if a == 'b' %}", "{% endif %}}"]


def test_every_short_expression() -> None:
    seen: Counter[str] = Counter()
    for size in (1, 2, 3):
        for tokens in itertools.product(_TOKENS, repeat=size):
            seen[check_expression(" ".join(tokens))] += 1
    seen_tight = Counter(check_expression("".join(t)) for t in itertools.product(_TOKENS, repeat=3))
    assert seen["accepted"] >= 200 and seen["gave up"] >= 5000, seen
    assert seen_tight["accepted"] >= 50, seen_tight


def test_every_short_template() -> None:
    seen: Counter[str] = Counter()
    for size in (1, 2, 3, 4):
        for pieces in itertools.product(_BLOCKS, repeat=size):
            seen[check_template("".join(pieces))] += 1
    assert seen["accepted"] >= 1000 and seen["gave up"] >= 10000, seen
