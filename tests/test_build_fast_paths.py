"""The model builder's shortcuts for the commonest shapes build exactly what the general case
builds from the same data (a hostile 25,000-step diff leans on them)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from ocsrun.errors import Position
from ocsrun.runbook import build
from ocsrun.runbook.model import Gate, Step
from ocsrun.runbook.validation import validate_runbook_tree


@pytest.mark.parametrize(
    "gate",
    [
        {"type": "confirm", "prompt": "Holds?"},
        {"type": "command", "prompt": "Run it."},
        {"type": "checklist", "prompt": "All of them."},
    ],
)
def test_a_gate_with_only_type_and_prompt_is_the_general_gate(gate: dict[str, Any]) -> None:
    fast = build._gate(gate)
    # An empty `on_failure` reads as absent, and sends the same data down the general path.
    general = build._gate({**gate, "on_failure": {}})
    assert fast == general
    assert isinstance(fast, Gate)
    # repr too: equality alone would take 30 for 30.0 (a float field built as an int).
    assert repr(fast) == repr(general)


@pytest.mark.parametrize("instructions", ["", "Do it.\n"])
def test_a_plain_step_is_the_step_init_makes(instructions: str) -> None:
    position = Position("f.yaml", 3, 5)
    fast = build._plain_step("s-1", "Step 1", instructions, position)
    made = Step("s-1", "Step 1", "action", instructions, position=position)
    assert type(fast) is Step
    assert fast == made
    # repr shows every field, position included (which equality leaves out).
    assert repr(fast) == repr(made)
    with pytest.raises(AttributeError):
        fast.title = "changed"  # type: ignore[misc]


def test_a_uses_key_spelled_with_an_escape_still_includes_its_fragment(tmp_path: Path) -> None:
    """included_fragments skips its walk when the text has no `uses`; an escaped key has none."""
    fragment = ROOT / "runbooks" / "ocs2007" / "fragments" / "deactivation-wizard.yaml"
    shutil.copy(fragment, tmp_path / "frag.yaml")
    path = tmp_path / "main.yaml"
    path.write_text(
        "format: ocsrun/v1\nkind: runbook\nmetadata:\n  id: t.escaped\n  title: Escaped\n"
        "  version: 1.0.0\n  source: {document: D, section: S}\nsteps:\n"
        '  - {id: s-1, title: Step 1, "u\\x73es": frag.yaml}\n',
        encoding="utf-8",
    )
    assert "uses" not in path.read_text(encoding="utf-8")
    found = validate_runbook_tree(path)
    assert [r.path for r in found] == [str(path), str(tmp_path / "frag.yaml")]
