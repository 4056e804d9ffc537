"""`ocsrun fmt` (issue 13.2, 13.4): one canonical layout, comments kept, idempotent, YAML 1.1
spellings fixed; `--check` exits 1 when a file would change."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_main

from ocsrun.runbook import layout
from ocsrun.runbook.loader import load_text
from ocsrun.runbook.validation import validate_file

BUNDLED = sorted((ROOT / "runbooks").rglob("*.yaml"))


def comments(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip().startswith("#"))


def canonical(text: str) -> bool:
    return layout.is_canonical(load_text(text.encode("utf-8"), "f.yaml"))


def untidy(text: str) -> str:
    """The same runbook, laid out differently: 4-space indentation with dashes at 4, `title`
    before `id` in the first step, trailing spaces after `kind`. Same data, same comments."""
    import io

    from ocsrun.runbook.document import round_trip_yaml

    yaml = round_trip_yaml(text)
    data = yaml.load(text)
    first = data["steps"][0]
    first.move_to_end("id")
    for key in [k for k in first if k not in ("title", "id")]:
        first.move_to_end(key)
    yaml.indent(mapping=4, sequence=6, offset=4)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue().replace("\nkind: runbook\n", "\nkind: runbook   \n", 1)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_fmt_on_bundled_runbooks_keeps_comments_and_data_and_is_idempotent(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    once = layout.canonical_text(text)
    assert comments(once) == comments(text)
    assert load_text(once.encode(), "a.yaml").data == load_text(text.encode(), "b.yaml").data
    assert canonical(once) and layout.canonical_text(once) == once
    # The fast check never calls a file tidy that the writer would change.
    assert not canonical(text) or once == text


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_fmt_restores_an_untidy_copy_keeping_comments(path: Path) -> None:
    text = layout.canonical_text(path.read_text(encoding="utf-8"))
    messy = untidy(text)
    assert messy != text and not canonical(messy)
    assert load_text(messy.encode(), "m.yaml").data == load_text(text.encode(), "t.yaml").data
    once = layout.canonical_text(messy)
    # Back to the canonical layout, byte for byte but for the spaces before an end-of-line
    # comment: ruamel.yaml keeps a comment's column, which the 4-space copy had moved.
    assert re.sub(r" +#", " #", once) == re.sub(r" +#", " #", text)
    assert comments(once) == comments(messy)
    assert layout.canonical_text(once) == once


def test_the_bundled_runbooks_are_in_the_canonical_layout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_main(capsys, "fmt", "--check", str(ROOT / "runbooks"))
    assert code == 0, (
        f"{out}run `ocsrun fmt runbooks` (for a new key, list it in the schema's properties "
        "where runbooks write it: that is fmt's key order)"
    )
    assert err.startswith("0 files would be reformatted")


YAML11 = """\
# yaml-language-server: $schema=../schemas/runbook.schema.json
format: ocsrun/v1
kind: runbook
metadata:
  id: t.yaml11
  title: YAML 1.1 spellings
  version: 1.0.0
params:
  fast:
    type: bool
    default: on   # a boolean param
  mode:
    type: enum
    values: [yes, no]
steps:
  - id: a
    title: no
    required: yes
    instructions: Mode {{ mode }}, fast {{ fast }}.
  - id: b
    title: B
    gate:
      type: command
      prompt: P
      command:
        argv: [cmd, 1:30, 2026-01-01]
        expect_exit: 0b1
"""


def test_yaml11_spellings_are_found_then_fixed(tmp_path: Path) -> None:
    path = tmp_path / "yaml11.yaml"
    path.write_text(YAML11, encoding="utf-8")
    before = [(d.position.line, d.position.col, d.rule) for d in validate_file(path).diagnostics]
    assert before == [
        (11, 14, "yaml11"),
        (14, 14, "yaml11"),
        (14, 19, "yaml11"),
        (17, 12, "yaml11"),
        (18, 15, "yaml11"),
        (26, 21, "yaml11"),
        (27, 22, "yaml11"),
    ]
    fixed = layout.canonical_text(YAML11)
    assert "    default: true # a boolean param\n" in fixed
    assert '    values: ["yes", "no"]\n' in fixed
    assert '    title: "no"\n' in fixed
    assert "    required: true\n" in fixed
    assert '        argv: [cmd, "1:30", "2026-01-01"]\n' in fixed
    assert "        expect_exit: 1\n" in fixed
    path.write_text(fixed, encoding="utf-8")
    assert validate_file(path).diagnostics == ()
    assert layout.canonical_text(fixed) == fixed


def test_cli_check_fix_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tidy = tmp_path / "a-tidy.yaml"
    tidy.write_text(
        layout.canonical_text(BUNDLED[-1].read_text(encoding="utf-8")), encoding="utf-8"
    )
    messy = tmp_path / "messy.yaml"
    messy.write_text(untidy(tidy.read_text(encoding="utf-8")), encoding="utf-8")
    code, out, err = run_main(capsys, "fmt", "--check", ".")
    assert (code, out) == (1, "would reformat messy.yaml\n")
    assert err == "1 file would be reformatted, 1 left unchanged\n"
    assert messy.read_bytes() != tidy.read_bytes()  # --check changes nothing
    code, out, _ = run_main(capsys, "fmt", ".")
    assert (code, out) == (0, "reformatted messy.yaml\n")
    assert messy.read_bytes() == tidy.read_bytes()
    assert run_main(capsys, "fmt", "--check", ".")[0] == 0


def test_cli_reports_unreadable_files_and_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [\n", encoding="utf-8")
    code, _, err = run_main(capsys, "fmt", "--check", str(broken))
    assert code == 1
    assert f"{broken}:2:1: error: YAML syntax error" in err and "[yaml-syntax]" in err
    assert broken.read_text(encoding="utf-8") == "a: [\n"
    assert run_main(capsys, "fmt")[0] == 2
    assert run_main(capsys, "fmt", str(tmp_path / "missing.yaml"))[0] == 2


def test_multi_line_quoted_and_plain_strings_become_blocks() -> None:
    text = (
        "format: ocsrun/v1\nkind: runbook\nmetadata:\n  id: t.x\n  title: T\n  version: 1.0.0\n"
        "steps:\n  - id: a\n    title: A\n    instructions: 'First line.\n\n\n      Second\n"
        "      line.'\n    notes:\n      - a plain note\n        folded over two lines\n"
    )
    assert not canonical(text)
    fixed = layout.canonical_text(text)
    assert "    instructions: |-\n      First line.\n\n      Second line.\n" in fixed
    assert "      - a plain note folded over two lines\n" in fixed
    before, after = (load_text(t.encode(), "f.yaml").data for t in (text, fixed))
    assert after == before
    assert canonical(fixed) and layout.canonical_text(fixed) == fixed


def test_a_sure_change_found_without_writing_is_a_real_change(tmp_path: Path) -> None:
    # fmt --check skips the ruamel.yaml round trip when the node tree already shows a change:
    # that must never claim a change the writer would not make, nor miss a tidy file.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import corpus

    generated = corpus.generate(tmp_path, 3)
    texts = [p.read_text(encoding="utf-8") for p in [*generated, *BUNDLED]]
    texts += [untidy(layout.canonical_text(t)) for t in texts[-2:]] + [YAML11]
    sure = 0
    for text in texts:
        document = load_text(text.encode("utf-8"), "f.yaml")
        fixed = layout.canonical_text(text)
        if layout.certainly_changes(document):
            sure += 1
            assert fixed != text
        tidy = load_text(fixed.encode("utf-8"), "g.yaml")
        assert not layout.certainly_changes(tidy)
    assert sure >= 6  # the generated (PyYAML layout) files, the untidy copies, YAML11
