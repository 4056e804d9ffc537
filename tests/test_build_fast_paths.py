"""The model builder's shortcuts for the commonest shapes build exactly what the general case
builds from the same data (a hostile 25,000-step diff leans on them)."""

from __future__ import annotations

from typing import Any

import pytest

from ocsrun.runbook import build
from ocsrun.runbook.model import Gate


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
