"""Render: snapshots of every bundled runbook, determinism, escaping, --output-dir and --check.

Snapshots live in tests/data/render/. After an intended change to the templates or a runbook,
regenerate them with `OCSRUN_UPDATE_SNAPSHOTS=1 pytest tests/test_render.py` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import DATA, RUNBOOKS, run_main

from ocsrun.review.render import build_view, md_block, md_text, render, show_template
from ocsrun.runbook import model as m
from ocsrun.runbook.build import load_runbook

SNAPSHOTS = DATA / "render"
BUNDLED = sorted(p for p in (RUNBOOKS / "ocs2007").glob("*.yaml"))
UPDATE = os.environ.get("OCSRUN_UPDATE_SNAPSHOTS") == "1"


def test_every_bundled_runbook_has_snapshots() -> None:
    assert len(BUNDLED) >= 5
    expected = {load_runbook(p).id + ext for p in BUNDLED for ext in (".md", ".html")}
    if UPDATE:
        return
    found = {p.name for p in SNAPSHOTS.glob("*.*") if p.suffix in {".md", ".html"}}
    assert found - {"README.md"} == expected


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_snapshot(path: Path, fmt: str) -> None:
    runbook = load_runbook(path, f"runbooks/ocs2007/{path.name}")
    text = render(runbook, fmt)
    snapshot = SNAPSHOTS / f"{runbook.id}.{fmt}"
    if UPDATE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        snapshot.write_bytes(text.encode("utf-8"))
    assert text == snapshot.read_bytes().decode("utf-8")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_render_is_deterministic(path: Path) -> None:
    first = render(load_runbook(path), "md")
    assert render(load_runbook(path), "md") == first


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_checklist_is_complete(path: Path) -> None:
    """Every step, gate, warning, discrepancy and citation of the model shows in the output."""
    runbook = load_runbook(path)
    text = render(runbook, "md")
    for step_path, step in m.walk(runbook.steps):
        assert f"`{step_path}`" in text
        if step.gate is not None:
            assert md_text(step.gate.prompt) in text
        for warning in step.warnings:
            assert md_text(warning.text) in text
        if step.source is not None and step.source.quote:
            assert md_text(step.source.quote) in text
    for warning in runbook.warnings:
        assert md_text(warning.text) in text
    for discrepancy in runbook.metadata.discrepancies:
        assert f"`{discrepancy.id}`" in text
        assert md_text(discrepancy.source_text) in text
    gates = sum(1 for _, s in m.walk(runbook.steps) if s.gate is not None)
    assert text.count("> **GATE — ") == gates


def test_steps_are_numbered_through_loops_and_fragments() -> None:
    runbook = load_runbook(RUNBOOKS / "ocs2007" / "deactivate-se-ee-roles.yaml")
    view = build_view(runbook)
    loop = next(s for s in view.steps if s.step.for_each is not None)
    wizard = next(c for c in loop.children if c.step.call is not None)
    assert [c.number for c in wizard.children] == [f"{wizard.number}.{i}" for i in (1, 2, 3)]
    assert all("fragments/deactivation-wizard.yaml" in c.origin for c in wizard.children)


def test_for_each_lists_items_in_declared_order() -> None:
    runbook = load_runbook(RUNBOOKS / "ocs2007" / "deactivate-se-ee-roles.yaml")
    text = render(runbook, "md")
    positions = [
        text.index(label)
        for label in ("1. A/V Conferencing Server", "2. Web Conferencing Server",
                      "3. Web Components Server", "4. Front End Server")
    ]  # fmt: skip
    assert positions == sorted(positions)


def test_choice_lists_its_branches() -> None:
    runbook = load_runbook(RUNBOOKS / "ocs2007" / "services-start-stop.yaml")
    text = render(runbook, "md")
    # The branches steer steps inside the later Stop/Start loop: they are named with their paths.
    assert "(`single`)\n  - then step 6.1 `act.single-role`" in text
    assert "(`multiple`)\n  - then step 6.2 `act.multiple-roles`" in text


def test_templates_shown_as_placeholders() -> None:
    assert show_template("On {{ target }} {% if a == 'b' %}x{% else %}y{% endif %}") == (
        "On ⟨target⟩ [if a == 'b':]x[otherwise:]y[end if]"
    )


def _hostile(runbook: m.Runbook) -> m.Runbook:
    evil = "<script>alert(1)</script> | # *x* [l](j:x)"
    meta = dataclasses.replace(runbook.metadata, title=evil, summary=evil)
    first = dataclasses.replace(runbook.steps[0], title=evil, instructions=f"# {evil}\n")
    return dataclasses.replace(runbook, metadata=meta, steps=(first, *runbook.steps[1:]))


def test_html_is_escaped() -> None:
    runbook = _hostile(load_runbook(RUNBOOKS / "ocs2007" / "services-start-stop.yaml"))
    html = render(runbook, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.append(tag)

    parser = Parser()
    parser.feed(html)
    assert "script" not in parser.tags


def test_markdown_runbook_text_cannot_break_structure() -> None:
    runbook = _hostile(load_runbook(RUNBOOKS / "ocs2007" / "services-start-stop.yaml"))
    text = render(runbook, "md")
    assert text.startswith("# \\<script\\>alert(1)\\</script\\> \\| \\# \\*x\\* \\[l\\](j:x)\n")
    assert re.search(r"(?<!\\)<script", text) is None  # only escaped, never raw HTML
    assert "\n# " not in text.split("\n", 1)[1]  # no heading injected by instructions
    assert md_block("# not a heading\n<b>x</b> `<ok>`") == "\\# not a heading\n\\<b>x\\</b> `<ok>`"


def test_cli_stdout_output_dir_and_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_main(capsys, "render", "ocs2007.services-start-stop")
    assert code == 0
    assert out.startswith("# Stop, start or restart Office Communications Server 2007 services\n")

    target = tmp_path / "rendered"
    books = [str(p) for p in BUNDLED]
    code, _, _ = run_main(capsys, "render", *books, "--output-dir", str(target))
    assert code == 0
    assert len(list(target.glob("*.md"))) == len(BUNDLED)
    code, out, _ = run_main(capsys, "render", *books, "--output-dir", str(target), "--check")
    assert (code, out) == (0, "")

    stale = target / "ocs2007.services-start-stop.md"
    stale.write_text(stale.read_text() + "edited\n")
    (target / "ocs2007.deactivate-edge-server.md").unlink()
    code, out, err = run_main(capsys, "render", *books, "--output-dir", str(target), "--check")
    assert code == 1
    assert f"{stale}: stale" in out
    assert "ocs2007.deactivate-edge-server.md: missing" in out
    assert "2 of 5 renders out of date" in err


def test_cli_html_and_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_main(capsys, "render", "ocs2007.deactivate-edge-server", "--format", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    code, _, err = run_main(capsys, "render", "ocs2007.deactivate-edge-server", "--check")
    assert code == 2
    assert "--output-dir" in err
    code, _, _ = run_main(capsys, "render", str(tmp_path / "missing.yaml"))
    assert code == 2


def test_cli_directory_skips_fragments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run_main(capsys, "render", str(RUNBOOKS), "--output-dir", str(tmp_path))
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(load_runbook(p).id + ".md" for p in BUNDLED)
