"""Generators for the hostile diff cases (cases-diff.yaml): pairs of big runbooks.

Each writes `old-NAME.yaml` and `NAME.yaml` side by side; the `diff-pair` command of
tests/test_hostile.py diffs the first against the second. Generated, never committed (the
biggest pair is about 2 MB). What made `diff` quadratic: aligned step ids compared all against
all (4,000 gates: 20 s), the longest-common-subsequence table (25,000 steps: out of memory),
and scans of one side per item of the other (warnings, checklist items, evidence checks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

HEAD = """\
# yaml-language-server: $schema=../../../schemas/runbook.schema.json
format: ocsrun/v1
kind: runbook
metadata:
  id: hostile.diff-scale
  title: Diff at scale
  version: 1.0.0
  source: {document: Test document, section: Everything}
"""

Generated = tuple[Path, str]


def _gate(number: int) -> str:
    return (
        f"  - {{id: s-{number}, title: Gate {number}, "
        f"gate: {{type: confirm, prompt: Gate {number} holds.}}}}\n"
    )


def _step(number: int, *, gate_every: int) -> str:
    if gate_every and number % gate_every == 0:
        return _gate(number)
    return f"  - {{id: s-{number}, title: Step {number}}}\n"


def _pair(tmp: Path, name: str, old: Iterable[str], new: Iterable[str]) -> Generated:
    (tmp / f"old-{name}").write_text("".join(old), encoding="utf-8")
    (tmp / name).write_text("".join(new), encoding="utf-8")
    return tmp, name


def gates_4000(tmp: Path) -> Generated:
    """4,000 gates on both sides, the same ids; the new side drops the last one."""
    old = [HEAD, "steps:\n", *(_gate(n) for n in range(1, 4001))]
    return _pair(tmp, "gates-4000.yaml", old, old[:-1])


def steps_25000(tmp: Path) -> Generated:
    """25,000 steps (a gate every tenth, about 900 KB), aligned; one gate removed, one reworded."""
    steps = [_step(n, gate_every=10) for n in range(1, 25001)]
    new = [*steps[:12000], "  - {id: s-12001, title: Step 12001 reworded}\n", *steps[12001:]]
    del new[24989]  # s-24990, a gate
    return _pair(tmp, "steps-25000.yaml", [HEAD, "steps:\n", *steps], [HEAD, "steps:\n", *new])


def reversed_3000(tmp: Path) -> Generated:
    """3,000 steps, every other one a gate, in reverse order: millions of step/gate pairs."""
    steps = [_step(n, gate_every=2) for n in range(1, 3001)]
    new = list(reversed(steps))
    return _pair(tmp, "reversed-3000.yaml", [HEAD, "steps:\n", *steps], [HEAD, "steps:\n", *new])


def warnings_5000(tmp: Path) -> Generated:
    """5,000 runbook warnings without ids, matched by text; reversed, and one removed."""
    lines = [f"  - {{severity: caution, text: Caution number {n}.}}\n" for n in range(1, 5001)]
    body = ["steps:\n", "  - {id: only, title: Only step}\n"]
    new = list(reversed(lines))
    del new[0]  # warning 5000
    return _pair(
        tmp,
        "warnings-5000.yaml",
        [HEAD, "warnings:\n", *lines, *body],
        [HEAD, "warnings:\n", *new, *body],
    )


def checklist_5000(tmp: Path) -> Generated:
    """One checklist gate of 5,000 items; reversed, and one removed."""
    items = [f"      - Item number {n} is done\n" for n in range(1, 5001)]
    gate = "  - id: check\n    title: Check\n    gate:\n      type: checklist\n"
    gate += "      prompt: All done.\n      items:\n"
    new = list(reversed(items))
    del new[-1]  # item 1
    return _pair(
        tmp,
        "checklist-5000.yaml",
        [HEAD, "steps:\n", gate, *items],
        [HEAD, "steps:\n", gate, *new],
    )


GENERATORS: dict[str, Callable[[Path], Generated]] = {
    f"diff_{f.__name__}": f
    for f in (gates_4000, steps_25000, reversed_3000, warnings_5000, checklist_5000)
}
