"""Invisible and control characters are shown escaped wherever ocsrun prints outside text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocsrun.errors import Position
from ocsrun.sanitize import clean, invisible_chars, invisible_in, visible

HIDDEN = {
    "zero-width space": ("\u200b", "\\u200b"),
    "right-to-left mark": ("\u200f", "\\u200f"),
    "Arabic letter mark": ("\u061c", "\\u061c"),
    "soft hyphen": ("\u00ad", "\\xad"),
    "byte order mark": ("\ufeff", "\\ufeff"),
    "tag letter i": ("\U000e0069", "\\U000e0069"),
    "right-to-left override": ("\u202e", "\\u202e"),
    "first strong isolate": ("\u2068", "\\u2068"),
}


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_invisible_characters_are_shown_escaped(name: str) -> None:
    char, shown = HIDDEN[name]
    assert clean(f"--qui{char}et") == f"--qui{shown}et"
    assert visible(f"a{char}b") == f"a{shown}b"
    assert invisible_in(f"title{char}") == shown


def test_ordinary_text_is_left_alone() -> None:
    text = "Stop the Front End service — Müller's server, 日本語, emoji 🙂\n\tnext"
    assert clean(text) == text
    assert invisible_in(text) is None


def test_visible_keeps_one_line() -> None:
    assert visible("x\n::error::y\r\tz") == "x\\x0a::error::y\\x0d\\x09z"


def test_file_names_in_positions_are_one_line() -> None:
    shown = str(Position("x\n::error file=a.yaml::b\u200b.yaml", 3, 1))
    assert "\n" not in shown and "\u200b" not in shown
    assert shown == "x\\x0a::error file=a.yaml::b\\u200b.yaml:3:1"


@given(st.text())
def test_nothing_invisible_or_controlling_survives(text: str) -> None:
    out = visible(text)
    assert not invisible_chars().search(out)
    assert all(ch >= " " and not "\x7f" <= ch <= "\x9f" for ch in out)
    assert not invisible_chars().search(clean(text))
