"""duplicate-id: step ids unique in their list scope, warning ids unique in the runbook."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import (
    Context,
    JsonPath,
    as_dict,
    as_list,
    as_str,
)

RULE_IDS = ("duplicate-id",)


def duplicate_id(ctx: Context) -> Iterator[Diagnostic]:
    for refs in ctx.scopes.values():
        # Paths are only made for the ids seen twice: most lists have none.
        # step_id, inline: this runs once per step.
        ids = [i if isinstance(i := r.step.get("id"), str) else None for r in refs]
        if len(set(ids)) + ids.count(None) - (None in ids) < len(ids):
            yield from _duplicates(
                ctx, [((*r.path, "id"), i) for r, i in zip(refs, ids, strict=True)], "step id"
            )
    warnings: list[tuple[JsonPath, str | None]] = [
        (("warnings", i, "id"), as_str(as_dict(w).get("id")))
        for i, w in enumerate(as_list(ctx.data.get("warnings")))
    ]
    for ref in ctx.having("warnings"):
        if not ref.step.get("warnings"):
            continue
        warnings += [
            ((*ref.path, "warnings", i, "id"), as_str(as_dict(w).get("id")))
            for i, w in enumerate(as_list(ref.step.get("warnings")))
        ]
    yield from _duplicates(ctx, warnings, "warning id")


def _duplicates(
    ctx: Context, items: list[tuple[JsonPath, str | None]], what: str
) -> Iterator[Diagnostic]:
    first: dict[str, JsonPath] = {}
    for path, value in items:
        if value is None:
            continue
        if value in first:
            at = ctx.document.position(first[value])
            yield ctx.error(
                path,
                f"{what} '{value}' is used twice (first at {at.line}:{at.col})",
                "duplicate-id",
            )
        else:
            first[value] = path
