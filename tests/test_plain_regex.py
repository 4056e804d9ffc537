"""plain_regex against the `regex` engine itself: a pattern it calls plain compiles on the
engine whenever `re` compiles it, and a plain match it answers is the engine's answer. Checked
on every pattern of the repository's runbooks and test data and on generated patterns and texts
that mix the plain syntax with what lies outside it."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
import regex
import yaml
from conftest import DATA, RUNBOOKS
from hypothesis import given, settings

from ocsrun.runbook import plain_regex

PATTERN_KEYS = ("pattern", "require", "forbid", "each", "must")


def _re_compiles(pattern: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and the like
            re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


def check_compile(pattern: str) -> str:
    if not _re_compiles(pattern):
        return "re refuses"
    if not plain_regex.surely_compiles(pattern):
        return "not plain"
    regex.compile(pattern)  # raises if the claim is wrong
    return "plain"


def check_match(pattern: str, text: str) -> str:
    if not _re_compiles(pattern):
        return "re refuses"
    ours = plain_regex.fullmatch(pattern, text)
    if ours is None:
        return "left to the engine"
    theirs = regex.compile(pattern).fullmatch(text, timeout=1.0) is not None
    assert ours == theirs, (pattern, text)
    return "matched" if ours else "not matched"


def _patterns(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        try:
            nodes = list(yaml.compose_all(path.read_text(encoding="utf-8")))
        except Exception:  # hostile test data
            continue
        seen: set[int] = set()
        stack = [n for n in nodes if n is not None]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value in PATTERN_KEYS and isinstance(value, yaml.ScalarNode):
                        yield value.value
                    stack.append(value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)


def test_every_pattern_in_the_repository() -> None:
    files = sorted(p for root in (RUNBOOKS, DATA) for p in root.rglob("*.y*ml"))
    patterns = set(_patterns(files))
    outcomes = Counter(check_compile(p) for p in patterns)
    assert outcomes["plain"] >= 10 and outcomes["not plain"] >= 3, outcomes


@pytest.mark.parametrize(
    "pattern",
    [
        "^[A-Za-z0-9.-]+$",
        "^[a-z]+$",
        "(?i)execution result",
        "(?i)\\bfail(ure|ed|s)?\\b",
        "^(dev|test|prod)$",
        "[-a]\\.\\\\",
        "a\\$",
    ],
)
def test_plain(pattern: str) -> None:
    assert check_compile(pattern) == "plain"


@pytest.mark.parametrize(
    "pattern",
    [
        "[[:alpha:]]",
        "a{2}",
        "(?:ab){e<=1}",
        "\\p{L}",
        "(?P<n>a)(?P=n)",
        "(a)\\1",
        "[a&&b]",
        "[a--b]",
        "[a||b]",
        "[]a]",
        "(?x) a b",
        "é",
        "a**",
        "a*?",
        "a++",
        "a|",
        "()",
        "a\\Z",
        "\\N{BULLET}",
        "\\B",  # the engine matches it on an empty text, `re` does not
        "x" * 201,
    ],
)
def test_not_plain(pattern: str) -> None:
    assert plain_regex.shape(pattern) is None


def test_texts_left_to_the_engine() -> None:
    assert plain_regex.fullmatch("^[a-z]+$", "abc") is True
    assert plain_regex.fullmatch("^[a-z]+$", "ab1") is False
    for text in ("é", "a\tb", "a\n", "a" * 257, "\x1c"):
        assert plain_regex.fullmatch("^.*$", text) is None, text
    # Repeats bounded: a third star, or a star on a group, is the engine's (it has a timeout).
    assert plain_regex.fullmatch("a*b*c*", "abc") is None
    assert plain_regex.fullmatch("(ab)+", "abab") is None


# --- generated patterns: the plain syntax and its neighbours --------------------------------

_ATOMS = ["a", "b", "Z", "0", "9", " ", "-", ".", "_", "#", "&", "~", "'", "é", "{", "}", "]"]
_ATOMS += ["\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "\\b", "\\B", "\\.", "\\-", "\\\\", "\\$"]
_ATOMS += ["\\p{L}", "\\1", "\\A", "\\Z", "\\x41", "\\t", "\\n"]
_CLASSES = ["[a-z]", "[A-Z0-9]", "[^a-c]", "[.-]", "[-a]", "[\\d.]", "[a\\]]", "[[:alpha:]]"]
_CLASSES += ["[a&&b]", "[a--b]", "[z-a]", "[a-Z]", "[]a]", "[^]", "[\\w-z]", "[ _/]"]
_QUANTIFIERS = ["", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "*+", "{e<=1}"]

ATOM = st.one_of(st.sampled_from(_ATOMS), st.sampled_from(_CLASSES))


def _sequence(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    piece = st.tuples(inner, st.sampled_from(_QUANTIFIERS)).map("".join)
    return st.one_of(
        st.lists(piece, min_size=1, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map("|".join),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"(?:{e})"),
        inner.map(lambda e: f"(?P<g>{e})"),
    )


PATTERNS = st.builds(
    lambda flag, start, body, end: flag + start + body + end,
    st.sampled_from(["", "", "(?i)", "(?x)", "(?s)"]),
    st.sampled_from(["", "^", "\\b"]),
    st.recursive(ATOM, _sequence, max_leaves=6),
    st.sampled_from(["", "$", "\\b", "|"]),
)
TEXTS = st.lists(st.sampled_from(list("abzAZ09 -._#&~'\t\né]")), max_size=8).map("".join)


def _run(strategy: st.SearchStrategy[tuple[str, str]], examples: int) -> Counter[str]:
    seen: Counter[str] = Counter()

    @settings(derandomize=True, deadline=None, max_examples=examples, database=None)
    @given(strategy)
    def run(case: tuple[str, str]) -> None:
        pattern, text = case
        seen[check_compile(pattern)] += 1
        seen[check_match(pattern, text)] += 1
        for fixed in ("", "a", "a b"):  # empty and one-word texts: where engines differ most
            seen[check_match(pattern, fixed)] += 1

    run()
    return seen


def test_generated_patterns_and_texts() -> None:
    seen = _run(st.tuples(PATTERNS, TEXTS), 1000)
    assert seen["plain"] >= 100 and seen["not plain"] >= 100, seen
    assert seen["matched"] >= 10 and seen["not matched"] >= 50, seen
    assert seen["left to the engine"] >= 100, seen


# Every pattern of one or two plain pieces (with and without `(?i)`), on small texts: the
# corners (empty text, anchors, assertions next to repeats) that random generation misses.
_PIECES = ["a", "Z", "0", " ", "-", ".", "\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "\\b", "\\B"]
_PIECES += ["[a-z]", "[^a]", "(a|b)", "(?:a)", "\\.", "^", "$"]
_SMALL_TEXTS = ["", "a", "A", "ab", "a b", "0", "-", " ", "."]


def test_every_small_pattern() -> None:
    seen: Counter[str] = Counter()
    for first in _PIECES:
        for second in ["", *_PIECES]:
            for q1 in ("", "*", "+", "?"):
                for q2 in ("", "*", "+", "?") if second else ("",):
                    for flag in ("", "(?i)"):
                        pattern = f"{flag}{first}{q1}{second}{q2}"
                        seen[check_compile(pattern)] += 1
                        for text in _SMALL_TEXTS:
                            seen[check_match(pattern, text)] += 1
    assert seen["plain"] >= 1000 and seen["matched"] >= 1000, seen
