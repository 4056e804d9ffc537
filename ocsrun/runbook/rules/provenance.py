"""source-conflict: a step cites the source and also says it is not in it."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context

RULE_IDS = ("source-conflict",)


def source_conflict(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.having("not_in_source"):
        if "source" in ref.step and "not_in_source" in ref.step:
            # Blame the citation: a step added by the runbook must not borrow the source's words.
            yield ctx.error(
                (*ref.path, "source"),
                "a step marked not_in_source cites nothing; remove `source` or `not_in_source`",
                "source-conflict",
                key=True,
            )
