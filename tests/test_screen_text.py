"""The operator's screen in pieces: Markdown for the terminal, answer matching, param syntax."""

from __future__ import annotations

import pytest

from ocsrun.errors import ParamError
from ocsrun.run.params import coerce, syntax
from ocsrun.run.terminal import _match, colour_wanted
from ocsrun.run.termtext import inline, render
from ocsrun.runbook import model as m

MARKDOWN = """Log on to **`srv1`** with an account in **RTCUniversalServerAdmins**.

1. Expand **Services and Applications**, then a long line that has to be wrapped somewhere.
2. See [the guide](https://example.com/g) and *read* `C:\\logs`.
"""


def test_markdown_plain_drops_markers_and_wraps_under_the_list_marker() -> None:
    lines = render(MARKDOWN, 40, styled=False, indent="  ")
    text = "\n".join(lines)
    assert "**" not in text and "`" not in text and "\x1b" not in text
    assert lines[0] == "  Log on to srv1 with an account in"
    assert all(len(line) <= 40 for line in lines)
    item = lines.index("  1. Expand Services and Applications,")
    assert lines[item + 1].startswith("     then")  # hangs under the text, not the marker
    assert "See the guide\n     (https://example.com/g) and read" in text and "C:\\logs." in text


def test_markdown_styled_uses_ansi_and_keeps_punctuation_on_the_word() -> None:
    lines = render(MARKDOWN, 200, styled=True)
    assert "\x1b[1mRTCUniversalServerAdmins\x1b[0m." in lines[0]
    assert "\x1b[36mC:\\logs\x1b[0m" in "\n".join(lines)


def test_runbook_escapes_are_cleaned_before_styling() -> None:
    assert "\x1b[2J" not in inline("**x** \x1b[2J y", styled=True)
    assert inline("**x** \x1b[2J y", styled=False) == "x y"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("DONE", "done"), ("Abort", "abort"), ("s", "skip"), ("  n ", "note"), ("x", None)],
)
def test_keywords_any_case(raw: str, expected: str | None) -> None:
    assert _match(raw, ["done", "skip", "failed", "retry", "note", "abort"], False) == expected


def test_no_color_empty_means_colour_on(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("NO_COLOR", "")
    assert colour_wanted(Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour_wanted(Tty()) is False


ROLES = m.Param(
    "roles", "list", values=("av", "web", "front-end"), min_items=1, description="roles"
)


def test_list_syntax_is_documented_and_min_items_honoured() -> None:
    assert syntax(ROLES).startswith("at least 1 of: av, web, front-end; separate them with commas")
    assert coerce(ROLES, " front-end , av") == ("front-end", "av")
    with pytest.raises(ParamError, match="give at least 1 of: av, web, front-end"):
        coerce(ROLES, "")
    with pytest.raises(ParamError, match="give at least 1"):
        coerce(ROLES, " , ")
    assert coerce(m.Param("x", "list", values=("a",)), "") == ()  # no min_items: empty is fine
