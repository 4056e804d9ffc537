"""unknown-goto and goto-forward: where a failed gate may send the operator."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, as_dict, as_str, step_id

RULE_IDS = ("unknown-goto", "goto-forward")


def goto_target(ctx: Context) -> Iterator[Diagnostic]:
    """unknown-goto and goto-forward: a gate may only send the operator back, within its scope."""
    if not any(_target(ref.step) for ref in ctx.gates):
        return  # no goto anywhere: no scope needs its ids
    for scope_refs in ctx.scopes.values():
        ids = {step_id(r.step): r.index for r in scope_refs}
        for ref in scope_refs:
            target = _target(ref.step)
            if target is None:
                continue
            path = (*ref.path, "gate", "on_failure", "goto")
            where = ids.get(target)
            if where is None:
                yield ctx.error(
                    path, f"goto '{target}' names no step in this scope", "unknown-goto"
                )
            elif where == ref.index:
                yield ctx.error(
                    path,
                    f"goto '{target}' names this step itself; use action: retry",
                    "unknown-goto",
                )
            elif where > ref.index:
                yield ctx.error(
                    path, f"goto '{target}' jumps forward and would skip steps", "goto-forward"
                )


def _target(step: dict[str, object]) -> str | None:
    return as_str(as_dict(as_dict(step.get("gate")).get("on_failure")).get("goto"))
