"""Totals on the screen (docs/operating.md): bare only when no answer to come can change them.

tests/data/progress/bounds.yaml: a choice, a step only for one answer (`at most`), and a
fragment whose arguments name the answer (`at least`); both together give `about`.
"""

from __future__ import annotations

from conftest import DATA
from test_executor_helpers import harness, load

from ocsrun.run.progress import planned, steps_line, total_changed
from ocsrun.runbook.build import load_runbook

BOUNDS = DATA / "progress" / "bounds.yaml"


def test_a_total_an_answer_to_come_may_change_says_so() -> None:
    runbook = load_runbook(BOUNDS)
    before = planned(runbook.steps, {"target": None})
    assert (before.shrink, before.grow) == (True, True)
    assert before.total == "about 3" and before.paths == ["side", "left-only", "work"]
    after = planned(runbook.steps, {"target": None, "side": "right"})
    assert after.total == "5"  # decided: bare, and the fragment's screens counted
    assert after.paths == ["side", "work", "work.first", "work.second", "work.checked"]
    assert total_changed(before, after, "side", "right") == (
        "Step screens: 5 now (was about 3): the answer side = right settles which steps run"
    )
    assert total_changed(after, after, "side", "right") is None


def test_only_shrinking_is_at_most_and_the_preflight_says_why() -> None:
    runbook = load("deactivate-mediation-server.yaml")
    before = planned(runbook.steps, {"target": "med01.contoso.com"})
    assert before.shrink and not before.grow and before.total == f"at most {len(before.paths)}"
    line = steps_line(runbook.steps, before)
    assert line.endswith(
        f"at most {len(before.paths)} step screens; a choice to come may rule some out"
    )
    chosen = planned(runbook.steps, {"target": "med01.contoso.com", "precaution": "off-peak"})
    assert chosen.total == str(len(chosen.paths)) and len(chosen.paths) < len(before.paths)
    assert "at most" not in steps_line(runbook.steps, chosen)


def test_the_run_shows_the_bound_then_why_it_changed() -> None:
    answers = """
defaults: {after_step: done, gate: true}
steps:
  side: {choice: right}
"""
    h = harness(load_runbook(BOUNDS), answers, target=None)
    assert h.run() == "done"
    shown = [s.title for s in h.operator.transcript] + [
        line for s in h.operator.transcript for line in s.lines
    ]
    assert "Screen 1 of about 3 · id side" in shown
    assert (
        "Step screens: 5 now (was about 3): the answer side = right settles which steps run"
        in shown
    )
    assert "Screen 5 of 5 · id work.checked" in shown
    assert not any("Screen" in s and "of 3" in s for s in shown)
