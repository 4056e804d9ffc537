"""step-kind-conflict: a step is at most one of choice, gate, for_each, uses."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import KIND_KEYS, Context

RULE_IDS = ("step-kind-conflict",)


def step_kind_conflict(ctx: Context) -> Iterator[Diagnostic]:
    # A step with two of the kinds has at least one other than gate: only those are looked
    # at (each once, in walk order), not every step.
    candidates = {
        ref.order: ref for key in ("choice", "for_each", "uses") for ref in ctx.having(key)
    }
    for _, ref in sorted(candidates.items()):
        step = ref.step
        if ("choice" in step) + ("gate" in step) + ("for_each" in step) + ("uses" in step) < 2:
            continue  # the common case, without building a list per step
        kinds = [k for k in step if k in KIND_KEYS]  # document order: blame the later one
        if len(kinds) > 1:
            yield ctx.error(
                (*ref.path, kinds[1]),
                f"a step has at most one of choice, gate, for_each, uses; this one has "
                f"{' and '.join(kinds)}",
                "step-kind-conflict",
                key=True,
            )
