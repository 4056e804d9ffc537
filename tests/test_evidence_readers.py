"""Evidence readers, chosen by content: HTML, tab/comma-separated text, plain text, in UTF-8
(with or without BOM) and UTF-16 LE/BE with BOM; and the column checks that read their tables.

The reader cases are files under tests/data/evidence/readers/, each declared with what it must
give in cases.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA

from ocsrun.run.evidence import check_evidence
from ocsrun.run.evidence_readers import UnreadableEvidence, read_document
from ocsrun.runbook import model as m

READERS = DATA / "evidence" / "readers"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((READERS / "cases.yaml").read_text())


def test_every_reader_file_has_a_case() -> None:
    files = {p.name for p in READERS.iterdir() if p.name != "cases.yaml"}
    assert files == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reader_case(name: str) -> None:
    case = CASES[name]
    data = (READERS / name).read_bytes()
    if "refused" in case:
        with pytest.raises(UnreadableEvidence) as refused:
            read_document(data)
        assert case["refused"] in str(refused.value)
        assert "\n" not in str(refused.value)  # one line for the operator
        return
    document = read_document(data)
    assert document.kind == case["kind"]
    if "encoding" in case:
        assert document.encoding == case["encoding"]
    if "tables" in case:
        got = [
            {"headers": list(t.headers), "rows": [list(r) for r in t.rows]} for t in document.tables
        ]
        assert got == case["tables"]
    lines = list(document.lines)
    positions = [lines.index(line) for line in case.get("lines", [])]
    assert positions == sorted(positions), lines
    for text in case.get("absent", []):
        assert all(text not in line for line in lines), (text, lines)


COLUMN = m.EvidenceCheck("column", "", "^Success$", column="execution  RESULT")


def gate(*checks: m.EvidenceCheck, max_bytes: int = 4096) -> m.Gate:
    return m.Gate("evidence", "p", max_bytes=max_bytes, checks=checks or (COLUMN,))


@pytest.mark.parametrize(
    ("name", "ok", "why"),
    [
        ("html-header.html", True, ""),
        ("tasks.tsv", True, ""),
        ("tasks.csv", True, ""),
        ("utf16le.csv", True, ""),
        ("utf16be.tsv", True, ""),
        ("utf16le-html.html", True, ""),
        ("html-nested.html", False, "1 of 4 row(s) do not match"),
        ("header-only.html", False, "no data rows under 'execution  RESULT' (header rows are not"),
        ("one-line.txt", False, "no table has a column named"),
        ("utf8-bom.txt", False, "no table has a column named"),
    ],
)
def test_column_check(name: str, ok: bool, why: str) -> None:
    result = check_evidence(gate(), READERS / name)
    assert result.ok is ok, result.failures
    assert not result.unreadable
    if not ok:
        assert why in result.failures[0]
    assert len(result.sha256) == 64 and result.size == (READERS / name).stat().st_size
    assert result.mtime == (READERS / name).stat().st_mtime


def test_a_failed_column_check_shows_the_failing_row_with_its_headers() -> None:
    result = check_evidence(gate(), READERS / "html-nested.html")
    assert result.lines == ("row 4: Action: Remove settings | Execution Result: Failure",)


def test_min_rows_counts_data_rows_only() -> None:
    two = m.EvidenceCheck("column", "", "^Success$", column="Execution Result", min_rows=3)
    result = check_evidence(gate(two), READERS / "tasks.tsv")
    assert not result.ok and "2 data row(s), at least 3 needed" in result.failures[0]


def test_line_checks_read_table_rows_as_named_lines() -> None:
    each = m.EvidenceCheck("each", "(?i)execution result", "Execution Result: Success$")
    assert check_evidence(gate(each), READERS / "html-header.html").ok
    result = check_evidence(gate(each), READERS / "html-nested.html")
    assert not result.ok and any("Remove settings" in line for line in result.lines)


def test_a_confirmable_check_is_kept_apart_from_refusals() -> None:
    named = m.EvidenceCheck("require", "other\\.example", otherwise="confirm")
    result = check_evidence(gate(COLUMN, named), READERS / "html-header.html")
    assert not result.ok and result.failures == () and len(result.confirmable) == 1


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("binary.bin", "binary"),
        ("latin1.txt", "not valid UTF-8"),
        ("utf16-odd.txt", "not valid UTF-16 LE"),
        ("deep.html", "nested more than"),
    ],
)
def test_unreadable_input_is_one_line_and_not_a_check_failure(name: str, why: str) -> None:
    result = check_evidence(gate(), READERS / name)
    assert result.unreadable and not result.ok
    (line,) = result.failures
    assert why in line and str(READERS / name) in line and "\n" not in line


def test_the_byte_limit_holds_for_every_reader(tmp_path: Path) -> None:
    big = tmp_path / "big.html"
    big.write_bytes((READERS / "html-header.html").read_bytes() * 20)
    result = check_evidence(gate(max_bytes=1000), big)
    assert result.unreadable and "over the limit of 1000" in result.failures[0]


def test_a_huge_flat_page_is_read_without_recursion() -> None:
    rows = "".join(f"<tr><td>task {i}</td><td>Success</td></tr>" for i in range(20000))
    page = f"<html><table><tr><th>Task</th><th>Execution Result</th></tr>{rows}</table></html>"
    document = read_document(page.encode())
    assert len(document.tables[0].rows) == 20000
