"""unknown-include, include-escape, include-cycle, include-depth and include-args: every `uses`."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.errors import LoadError
from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.includes import MAX_INCLUDE_DEPTH
from ocsrun.runbook.loader import Document
from ocsrun.runbook.rules.context import Context, StepRef, as_dict, as_str

RULE_IDS = ("unknown-include", "include-escape", "include-cycle", "include-depth", "include-args")


def include_rules(ctx: Context) -> Iterator[Diagnostic]:
    """unknown-include, include-escape, include-cycle and include-args for every `uses`."""
    if ctx.file is None or ctx.root_dir is None:
        return
    for ref in ctx.having("uses"):
        uses = as_str(ref.step.get("uses"))
        if uses is not None:
            yield from _check_include(ctx, ref, uses)


def _check_include(ctx: Context, ref: StepRef, uses: str) -> Iterator[Diagnostic]:
    assert ctx.file is not None and ctx.root_dir is not None
    path = (*ref.path, "uses")
    try:
        target = ctx.fragments.resolve(ctx.file, ctx.root_dir, uses)
    except LoadError as error:
        yield ctx.error(path, error.message, error.rule)
        return
    fragment = ctx.fragments.get(target)
    if isinstance(fragment, LoadError) or fragment.data.get("kind") != "fragment":
        why = fragment.message if isinstance(fragment, LoadError) else "its kind is not fragment"
        yield ctx.error(
            path, f"include '{uses}' is not a usable fragment: {why}", "unknown-include"
        )
        return
    yield from _include_args(ctx, ref, fragment)
    # Within the depth limit: a cycle shows up there, and past it the chain is refused anyway.
    onward, too_deep = ctx.fragments.chain(target, ctx.root_dir)
    here = ctx.fragments.realpath(ctx.file)
    if target == here or target in onward or here in onward:
        yield ctx.error(
            path, f"include '{uses}' leads back to a file that includes it", "include-cycle"
        )
    elif too_deep:
        yield ctx.error(
            path,
            f"include '{uses}' starts a chain of fragments deeper than {MAX_INCLUDE_DEPTH} levels",
            "include-depth",
        )


def _include_args(ctx: Context, ref: StepRef, fragment: Document) -> Iterator[Diagnostic]:
    params = as_dict(fragment.data.get("params"))
    given = as_dict(ref.step.get("with"))
    for name in given:
        if name not in params:
            yield ctx.error(
                (*ref.path, "with", name),
                f"fragment has no param '{name}'",
                "include-args",
                key=True,
            )
    # Keys are str() here: YAML allows `1:` as a param name (the schema's finding).
    missing = [str(n) for n, p in params.items() if "default" not in as_dict(p) and n not in given]
    if missing:
        where = (*ref.path, "with") if "with" in ref.step else (*ref.path, "uses")
        yield ctx.error(
            where,
            "missing argument(s) for fragment param(s) without default: " + ", ".join(missing),
            "include-args",
            key="with" in ref.step,
        )
