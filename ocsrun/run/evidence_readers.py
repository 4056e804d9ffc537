"""Evidence readers: the bytes an operator hands over, turned into lines and tables.

Chosen by content, never by file name: a Windows "Copy as path" of `log.txt` may well
be an HTML page. In order:

1. the encoding: a UTF-8 BOM, a UTF-16 LE or BE BOM, else strict UTF-8 (anything else
   is refused with one line naming the first bad byte: guessing a code page could turn
   "Failure" into something a check does not see);
2. the shape: HTML (a page or a fragment starting with a tag such as `<html>` or
   `<table>`), tab- or comma-separated text with a header row (every line the same
   number of fields), else plain text.

HTML is parsed with the standard library's tokenizer (`html.parser`, which never
recurses); the tree is kept as a stack bounded by `MAX_DEPTH`. Scripts and styles are
dropped, entities decoded. Each table becomes a `Table` (header names + data rows);
a table inside a cell is a table of its own and its text is not part of the outer cell.
Header rows (`<thead>`, rows of `<th>` only, else the first row) never count as rows.

Every document also has `lines`, what the line checks (`require`, `forbid`, `each`)
read: text outside tables line by line, and each data row as one line
`Header: cell | Header: cell`, in document order.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from html.parser import HTMLParser

MAX_DEPTH = 256  # open elements; a real log nests a few dozen at most
MAX_CELLS = 200_000  # cells over all tables; bounded anyway by the byte limit
_HTML_START = re.compile(
    r"\A\s*(?:<!--.*?-->\s*|<\?xml[^>]*>\s*)*"
    r"<(?:!doctype\s+html|html|head|body|table|meta|title|div|p|h[1-6])\b",
    re.IGNORECASE | re.DOTALL,
)
_SPACE = re.compile(r"\s+")


class UnreadableEvidence(Exception):
    """Not something the readers can make sense of; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # data rows only; header rows are never here

    def column(self, name: str) -> int | None:
        """The index of the header named `name` (case and spacing ignored)."""
        wanted = header_key(name)
        for index, header in enumerate(self.headers):
            if header_key(header) == wanted:
                return index
        return None


@dataclass(frozen=True, slots=True)
class EvidenceDocument:
    kind: str  # html | tsv | csv | text
    encoding: str  # utf-8 | utf-8-sig | utf-16-le | utf-16-be
    lines: tuple[str, ...]
    tables: tuple[Table, ...] = ()


def header_key(name: str) -> str:
    return _SPACE.sub(" ", name).strip().casefold()


def read_document(data: bytes) -> EvidenceDocument:
    """The document in `data`; UnreadableEvidence (one line) when it cannot be read."""
    text, encoding = decode(data)
    if _HTML_START.match(text):
        return _html(text, encoding)
    lines = text.splitlines()
    for kind, delimiter in (("tsv", "\t"), ("csv", ",")):
        table = _delimited(lines, delimiter)
        if table is not None:
            return EvidenceDocument(kind, encoding, tuple(row_lines(table)), (table,))
    return EvidenceDocument("text", encoding, tuple(lines))


# --- encodings -------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = _strict(data[3:], "utf-8", "UTF-8"), "utf-8-sig"
    elif data.startswith(b"\xff\xfe\x00\x00") or data.startswith(b"\x00\x00\xfe\xff"):
        raise UnreadableEvidence("it is UTF-32 text; save it as UTF-8 or UTF-16")
    elif data.startswith(b"\xff\xfe"):
        text, encoding = _strict(data[2:], "utf-16-le", "UTF-16 LE"), "utf-16-le"
    elif data.startswith(b"\xfe\xff"):
        text, encoding = _strict(data[2:], "utf-16-be", "UTF-16 BE"), "utf-16-be"
    elif b"\x00" in data:
        raise UnreadableEvidence(
            "it is binary (NUL bytes and no UTF-16 byte-order mark), not a text or HTML log"
        )
    else:
        text, encoding = _strict(data, "utf-8", "UTF-8"), "utf-8"
    if "\x00" in text:
        raise UnreadableEvidence(
            f"it is binary (a NUL character at character {text.index(chr(0))}), "
            "not a text or HTML log"
        )
    return text, encoding


def _strict(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex()
        raise UnreadableEvidence(
            f"it is not valid {name} (byte 0x{bad} at offset {error.start}); "
            "save the log as UTF-8 or UTF-16 text"
        ) from None


# --- delimited text ----------------------------------------------------------------------


def _delimited(lines: list[str], delimiter: str) -> Table | None:
    """A table when every non-empty line has the same number (≥ 2) of fields."""
    present = [line for line in lines if line.strip()]
    # A header and at least one row: a single line with a comma is a sentence, not a table.
    if len(present) < 2 or delimiter not in present[0]:
        return None
    try:
        rows = list(csv.reader(present, delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    width = len(rows[0])
    if width < 2 or any(len(row) != width for row in rows):
        return None
    headers = tuple(_SPACE.sub(" ", cell).strip() for cell in rows[0])
    if not all(headers):
        return None  # a header row names every column
    data_rows = [tuple(cell.strip() for cell in row) for row in rows[1:]]
    body = tuple(row for row in data_rows if any(row) and not _repeats_header(row, headers))
    return Table(headers, body)


def _repeats_header(row: tuple[str, ...], headers: tuple[str, ...]) -> bool:
    # Cheap tests first: a data row rarely has the header's width and first cell.
    if not row or len(row) != len(headers) or header_key(row[0]) != header_key(headers[0]):
        return False
    return [header_key(c) for c in row] == [header_key(h) for h in headers]


def row_lines(table: Table) -> list[str]:
    return [row_line(table.headers, row) for row in table.rows]


def row_line(headers: tuple[str, ...], row: tuple[str, ...]) -> str:
    named = []
    for index, cell in enumerate(row):
        header = headers[index] if index < len(headers) else f"column {index + 1}"
        named.append(f"{header}: {cell}")
    return " | ".join(named)


# --- HTML ----------------------------------------------------------------------------------


@dataclass
class _Row:
    cells: list[tuple[str, bool]]  # (text, is_th)
    in_head: bool


@dataclass
class _TableBuild:
    rows: list[_Row]
    at: int  # index in the output where the table's lines go
    row: _Row | None = None
    cell: list[str] | None = None
    cell_is_th: bool = False
    in_head: bool = False


_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl"),
        *("dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4"),
        *("h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section"),
        *("table", "tr", "ul"),
    }
)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
_DROPPED = frozenset({"script", "style", "template", "noscript", "head"})


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.dropping = 0  # inside script/style/head
        self.tables: list[_TableBuild] = []  # open tables, innermost last
        self.finished: list[tuple[int, Table]] = []  # (position, table)
        self.outside: list[str] = [""]  # text outside tables, one entry per line
        self.cells = 0

    # The stack is a counter, not a tree: html.parser does not recurse, and nothing here does.
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self._block(tag)
            return
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise UnreadableEvidence(f"its HTML is nested more than {MAX_DEPTH} elements deep")
        if tag in _DROPPED:
            self.dropping += 1
            return
        if self.dropping:
            return
        if tag == "table":
            # A table in a cell is a table of its own; the outer cell goes on after it.
            self.outside.append("")
            self.tables.append(_TableBuild([], len(self.outside) - 1))
            return
        table = self.tables[-1] if self.tables else None
        if table is not None and tag == "thead":
            table.in_head = True
        elif table is not None and tag in ("tbody", "tfoot"):
            table.in_head = False
        elif table is not None and tag == "tr":
            self._end_row(table)
            table.row = _Row([], table.in_head)
        elif table is not None and tag in ("td", "th"):
            self._end_cell_of(table)
            if table.row is None:
                table.row = _Row([], table.in_head)
            table.cell, table.cell_is_th = [], tag == "th"
        else:
            self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        self.depth = max(0, self.depth - 1)
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping:
            return
        table = self.tables[-1] if self.tables else None
        if table is None:
            self._block(tag)
            return
        if tag == "table":
            self._close_table()
        elif tag == "thead":
            self._end_row(table)
            table.in_head = False
        elif tag == "tr":
            self._end_row(table)
        elif tag in ("td", "th"):
            self._end_cell_of(table)
        else:
            self._block(tag)

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        table = self.tables[-1] if self.tables else None
        if table is not None:
            if table.cell is not None:
                table.cell.append(data)
            return  # text between cells (whitespace, stray words) is not content
        lines = data.split("\n")
        self.outside[-1] += lines[0]
        self.outside.extend(lines[1:])

    def _block(self, tag: str) -> None:
        if tag in _BLOCKS:
            table = self.tables[-1] if self.tables else None
            if table is not None and table.cell is not None:
                table.cell.append(" ")
            elif table is None:
                self.outside.append("")

    def _end_cell_of(self, table: _TableBuild) -> None:
        if table.cell is None:
            return
        if table.row is None:
            table.row = _Row([], table.in_head)
        text = _SPACE.sub(" ", "".join(table.cell)).strip()
        table.row.cells.append((text, table.cell_is_th))
        table.cell = None
        self.cells += 1
        if self.cells > MAX_CELLS:
            raise UnreadableEvidence(f"its HTML has more than {MAX_CELLS} table cells")

    def _end_row(self, table: _TableBuild) -> None:
        self._end_cell_of(table)
        if table.row is not None and table.row.cells:
            table.rows.append(table.row)
        table.row = None

    def _close_table(self) -> None:
        table = self.tables.pop()
        self._end_row(table)
        self.finished.append((table.at, _table(table.rows)))
        if not self.tables:
            self.outside.append("")

    def result(self) -> tuple[list[str], list[Table]]:
        while self.tables:  # an unclosed table still counts, as a browser shows it
            self._close_table()
        tables_at: dict[int, list[Table]] = {}
        for at, table in self.finished:
            tables_at.setdefault(at, []).append(table)
        lines: list[str] = []
        ordered: list[Table] = []
        for index, text in enumerate(self.outside):
            cleaned = _SPACE.sub(" ", text).strip()
            if cleaned:
                lines.append(cleaned)
            # Each table starts a line of its own: outer tables come before their inner ones.
            for table in tables_at.get(index, []):
                ordered.append(table)
                lines.extend(row_lines(table))
        return lines, ordered


def _table(rows: list[_Row]) -> Table:
    head = [r for r in rows if r.in_head]
    body = [r for r in rows if not r.in_head]
    if head:
        header_row = head[-1]
    elif body and all(is_th for _, is_th in body[0].cells):
        header_row, body = body[0], body[1:]
    elif body:
        header_row, body = body[0], body[1:]  # no <th>: the first row names the columns
    else:
        return Table((), ())
    headers = tuple(text for text, _ in header_row.cells)
    data = []
    for row in body:
        cells = tuple(text for text, _ in row.cells)
        all_th = all(is_th for _, is_th in row.cells)
        if not any(cells) or all_th or _repeats_header(cells, headers):
            continue  # a repeated header or an empty spacer row is not a task
        data.append(cells)
    return Table(headers, tuple(data))


def _html(text: str, encoding: str) -> EvidenceDocument:
    builder = _Builder()
    try:
        builder.feed(text)
        builder.close()
    except UnreadableEvidence:
        raise
    except (AssertionError, ValueError, RecursionError) as error:  # malformed markup
        raise UnreadableEvidence(f"its HTML cannot be read ({error})") from None
    lines, tables = builder.result()
    return EvidenceDocument("html", encoding, tuple(lines), tuple(tables))
