"""diff at scale: the near-linear alignment gives what the quadratic one gave.

The subsequence of steps that kept their order and the steps now before a gate are compared,
on seeded random reorderings, with the straightforward quadratic definitions; and big aligned
runbooks are diffed to exactly their one change (hostile sizes run through the CLI in
tests/data/hostile/cases-diff.yaml).
"""

from __future__ import annotations

import random

import pytest

from ocsrun.review.diff import Kind, diff_runbooks
from ocsrun.review.diff.align import MAX_GATE_PAIRS, StepDiff, _longest_kept
from ocsrun.runbook import model as m


def _reference_lcs(a: list[str], b: list[str]) -> list[str]:
    """The table-based longest common subsequence diff used before (keeps b's earliest)."""
    n, k = len(a), len(b)
    table = [[0] * (k + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(k - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
            )
    out, i, j = [], 0, 0
    while i < n and j < k:
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


@pytest.mark.parametrize("seed", range(300))
def test_kept_order_is_the_reference_lcs(seed: int) -> None:
    rng = random.Random(seed)
    a = [f"s{i}" for i in range(rng.randint(0, 30))]
    b = list(a)
    for _ in range(rng.randint(0, 4)):
        if len(b) > 1:
            item = b.pop(rng.randrange(len(b)))
            b.insert(rng.randrange(len(b) + 1), item)
    if rng.random() < 0.2:
        rng.shuffle(b)
    assert _longest_kept(a, b) == _reference_lcs(a, b)


def _step(name: str, gate: bool) -> m.Step:
    if gate:
        confirm = m.Gate(type="confirm", prompt="ok")
        return m.Step(id=name, title=name.upper(), kind="gate", gate=confirm)
    return m.Step(id=name, title=name.upper(), kind="action")


def _reference_before_gates(old: list[m.Step], new: list[m.Step]) -> set[tuple[str, str]]:
    old_at = {s.id: i for i, s in enumerate(old)}
    new_at = {s.id: i for i, s in enumerate(new)}
    gates = [s.id for s in old if s.gate is not None]
    return {
        (step, gate)
        for step in new_at
        for gate in gates
        if step != gate and old_at[gate] < old_at[step] and new_at[step] < new_at[gate]
    }


@pytest.mark.parametrize("seed", range(200))
def test_steps_moved_before_gates_are_the_reference_pairs(seed: int) -> None:
    rng = random.Random(seed)
    old = [_step(f"s{i}", rng.random() < 0.3) for i in range(rng.randint(1, 25))]
    new = list(old)
    for _ in range(rng.randint(1, 3)):
        item = new.pop(rng.randrange(len(new)))
        new.insert(rng.randrange(len(new) + 1), item)
    found = StepDiff(tuple(old), tuple(new)).changes()
    pairs = {
        (c.path, str(c.new).removeprefix("before "))
        for c in found
        if c.kind is Kind.STEP_MOVED_BEFORE_GATE
    }
    assert pairs == _reference_before_gates(old, new)


def _runbook(steps: list[m.Step]) -> m.Runbook:
    metadata = m.Metadata(
        id="scale", title="Scale", version="1.0.0", source=m.Source(document="d", section="s")
    )
    return m.Runbook(kind="runbook", metadata=metadata, params=(), warnings=(), steps=tuple(steps))


def test_a_big_aligned_diff_is_exactly_its_one_change() -> None:
    steps = [_step(f"s{i}", i % 10 == 0) for i in range(20_000)]
    changed = list(steps)
    changed[12_345] = m.Step(id="s12345", title="Reworded", kind="action")
    changes = diff_runbooks(_runbook(steps), _runbook(changed))
    assert [(c.kind, c.path, c.field) for c in changes] == [
        (Kind.WORDING_CHANGED, "s12345", "title")
    ]


def test_a_total_reversal_is_reported_in_part_with_a_line_saying_so() -> None:
    steps = [_step(f"s{i}", i % 2 == 0) for i in range(1_000)]
    changes = diff_runbooks(_runbook(steps), _runbook(list(reversed(steps))))
    before = [c for c in changes if c.kind is Kind.STEP_MOVED_BEFORE_GATE]
    assert 0 < len(before) <= MAX_GATE_PAIRS + 1
    assert "the list stops here" in before[-1].summary
    moved = [c for c in changes if c.kind is Kind.STEP_MOVED]
    assert len(moved) == len(steps) - 1  # one step keeps its place; every other one moved
