"""unknown-producer: `produced_by` names the step that writes an evidence file.

The file's age is measured against that step's latest start, so it must be an earlier step
of the same list: a later one has not started yet, one elsewhere may never run.
"""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, as_dict, as_str, scopes, step_id

RULE_IDS = ("unknown-producer",)


def evidence_producer(ctx: Context) -> Iterator[Diagnostic]:
    for scope_refs in scopes(ctx.steps).values():
        ids = {step_id(r.step): r.index for r in scope_refs}
        for ref in scope_refs:
            evidence = as_dict(as_dict(ref.step.get("gate")).get("evidence"))
            name = as_str(evidence.get("produced_by"))
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
