"""unknown-producer: `produced_by` names the step that writes an evidence file.

The file's age is measured against that step's latest start, so it must be an earlier step
of the same list: a later one has not started yet, one elsewhere may never run.
"""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, as_dict, as_str, step_id

RULE_IDS = ("unknown-producer",)


def evidence_producer(ctx: Context) -> Iterator[Diagnostic]:
    if not any(_producer(ref.step) for ref in ctx.gates):
        return  # no produced_by anywhere: no scope needs its ids
    for scope_refs in ctx.scopes.values():
        ids = {step_id(r.step): r.index for r in scope_refs}
        for ref in scope_refs:
            name = _producer(ref.step)
            if name is None:
                continue
            path = (*ref.path, "gate", "evidence", "produced_by")
            where = ids.get(name)
            if where is None:
                yield ctx.error(
                    path, f"produced_by '{name}' names no step in this scope", "unknown-producer"
                )
            elif where >= ref.index:
                yield ctx.error(
                    path,
                    f"produced_by '{name}' must name an earlier step than this gate",
                    "unknown-producer",
                )


def _producer(step: dict[str, object]) -> str | None:
    return as_str(as_dict(as_dict(step.get("gate")).get("evidence")).get("produced_by"))
