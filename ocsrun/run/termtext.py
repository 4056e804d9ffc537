"""The Markdown the runbooks use, for a terminal: bold, code, lists, links, wrapped to width.

Runbook instructions are Markdown (`**Stop**`, `` `ocs-se01` ``, numbered lists).
Printed raw, the operator reads asterisks and backticks at 2 a.m.; this module
renders the subset the runbooks use — paragraphs, `-`/`*`/`1.` lists, `#`
headings, `**bold**`, `*emphasis*`, `` `code` ``, `[text](url)` — wrapped to the
terminal width with list items hanging under their marker. Styled with ANSI
when the operator's terminal takes colour, else plain text with the markers
dropped. Text is cleaned of escape sequences before any style is added, so a
runbook cannot smuggle its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ocsrun.sanitize import clean

_INLINE = re.compile(
    r"\*\*(?P<bold>[^*]+?)\*\*"
    r"|`(?P<code>[^`]+)`"
    r"|\[(?P<link>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?![\w*])"
)
_LIST = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+]|\d{1,3}[.)])\s+(?P<text>.*)$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.*)$")

_STYLES = {"bold": "1", "code": "36", "em": "3", "link": "4", "heading": "1"}


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    style: str = ""  # a key of _STYLES, or ""


def render(text: str, width: int, styled: bool, indent: str = "") -> list[str]:
    """`text` (Markdown) as terminal lines of at most `width` visible characters."""
    out: list[str] = []
    for block in _blocks(clean(text)):
        if block is None:
            if out and out[-1] != "":
                out.append("")
            continue
        first, rest, words = block
        out += _wrap(words, width, indent + first, indent + rest, styled)
    while out and out[-1] == "":
        out.pop()
    return out


def inline(text: str, styled: bool) -> str:
    """One line of Markdown with its inline marks rendered (no wrapping)."""
    return " ".join(_styled(w, styled) for w in _words(clean(text)))


def _blocks(text: str) -> Iterator[tuple[str, str, list[Word]] | None]:
    """Paragraphs and list items as (first-line prefix, continuation prefix, words);
    None for a blank line between blocks."""
    paragraph: list[str] = []
    item: tuple[str, str, list[str]] | None = None

    def flush() -> Iterator[tuple[str, str, list[Word]]]:
        nonlocal paragraph, item
        if paragraph:
            yield "", "", _words(" ".join(paragraph))
            paragraph = []
        if item is not None:
            yield item[0], item[1], _words(" ".join(item[2]))
            item = None

    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            yield from flush()
            yield None
            continue
        listed = _LIST.match(line)
        heading = _HEADING.match(line)
        if listed:
            yield from flush()
            lead = " " * min(len(listed["indent"]), 8) + listed["marker"] + " "
            item = (lead, " " * len(lead), [listed["text"]])
        elif heading:
            yield from flush()
            yield "", "", [Word(w, "heading") for w in heading["text"].split()]
        elif item is not None and raw[:1].isspace():
            item[2].append(line.strip())  # a continuation line of the list item
        else:
            if item is not None:
                yield from flush()
            paragraph.append(line.strip())
    yield from flush()


def _words(text: str) -> list[Word]:
    words: list[Word] = []
    at = 0
    for match in _INLINE.finditer(text):
        words += [Word(w) for w in text[at : match.start()].split()]
        kind = match.lastgroup or ""
        if kind == "url":
            words += [Word(w, "link") for w in match["link"].split()]
            words.append(Word(f"({match['url']})"))
        elif kind == "code":
            # A code span is never broken across lines: a command must copy-paste whole.
            words.append(Word(" ".join(match[kind].split()), kind))
        else:
            # `**`code`**` (bold code): one style is enough, the backticks go
            words += [Word(w, kind) for w in match[kind].replace("`", "").split()]
        at = match.end()
    words += [Word(w) for w in text[at:].split()]
    return _glue(words, text)


def _glue(words: list[Word], text: str) -> list[Word]:
    # "**Stop**." must not wrap between the bold word and its full stop: punctuation that
    # followed a marked span without a space is kept on the same word.
    out: list[Word] = []
    for word in words:
        if out and word.style == "" and word.text[:1] in ".,;:!?)" and len(word.text) <= 2:
            prev = out[-1]
            if prev.style:
                out[-1] = Word(prev.text, prev.style + "+" + word.text)
                continue
        out.append(word)
    return out


def _visible_len(word: Word) -> int:
    return len(word.text) + len(word.style.partition("+")[2])


def _styled(word: Word, styled: bool) -> str:
    style, _, tail = word.style.partition("+")
    if not styled or not style:
        return word.text + tail
    return f"\x1b[{_STYLES[style]}m{word.text}\x1b[0m{tail}"


def _wrap(words: list[Word], width: int, first: str, rest: str, styled: bool) -> list[str]:
    lines: list[str] = []
    current: list[Word] = []
    used = len(first)
    prefix = first
    for word in words:
        size = _visible_len(word)
        if current and used + 1 + size > width:
            lines.append(prefix + " ".join(_styled(w, styled) for w in current))
            prefix, current, used = rest, [], len(rest)
        used += size + (1 if current else 0)
        current.append(word)
    if current or not lines:
        lines.append(prefix + " ".join(_styled(w, styled) for w in current))
    return lines
