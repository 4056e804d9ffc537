"""discrepancy-step: a discrepancy names steps that exist."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, StepRef, as_dict, as_list, step_id

RULE_IDS = ("discrepancy-step",)


def discrepancy_step(ctx: Context) -> Iterator[Diagnostic]:
    discrepancies = as_list(as_dict(ctx.data.get("metadata")).get("discrepancies"))
    if not discrepancies:
        return
    refs = ctx.steps
    known = {i for r in refs if (i := step_id(r.step))} | set(_scoped_ids(refs))
    for d_index, item in enumerate(discrepancies):
        for s_index, named in enumerate(as_list(as_dict(item).get("steps"))):
            if isinstance(named, str) and named not in known:
                yield ctx.error(
                    ("metadata", "discrepancies", d_index, "steps", s_index),
                    f"discrepancy names step '{named}', which does not exist",
                    "discrepancy-step",
                )


def _scoped_ids(refs: list[StepRef]) -> Iterator[str]:
    by_path = {r.path: r for r in refs}
    for ref in refs:
        parts = []
        path = ref.path
        while path in by_path:
            parts.append(step_id(by_path[path].step) or "?")
            path = path[:-3]  # (..., index, "for_each", "steps", index) → the enclosing step
        yield ".".join(reversed(parts))
