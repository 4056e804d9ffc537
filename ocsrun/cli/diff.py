"""`ocsrun diff OLD NEW` and `ocsrun diff --git BASE [HEAD] [PATH...]`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ocsrun.errors import EXIT_FINDINGS, EXIT_OK, UsageError

if TYPE_CHECKING:
    from ocsrun.review.diff import FileDiff

# Literal here so `ocsrun diff --help` imports neither yaml nor the diff engine.
FORMATS = ("text", "md", "json")


@click.command("diff")
@click.argument("args", nargs=-1, metavar="OLD NEW | [HEAD] [PATH...]")
@click.option(
    "--git",
    "base",
    metavar="BASE",
    help="Compare runbooks between git revision BASE and HEAD (default: the working tree).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="md is meant to be posted as a pull-request comment.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["safety", "any", "never"]),
    default="never",
    show_default=True,
    help="Exit 1 when a safety-relevant change (or any change) is present, or a runbook "
    "could not be compared.",
)
def diff(args: tuple[str, ...], base: str | None, fmt: str, fail_on: str) -> int:
    """Semantic diff of runbooks, keyed by step id; flags safety-relevant changes.

    Exit status: 0, or 1 under --fail-on when it applies; 2 on a usage error.
    """
    from ocsrun.review import gitrev
    from ocsrun.review.diff_format import format_diff

    if base is None:
        if len(args) != 2:
            raise UsageError("give OLD and NEW files, or --git BASE [HEAD] [PATH...]")
        files = [gitrev.compare_paths(Path(args[0]), Path(args[1]))]
    else:
        head, paths = _head_and_paths(args)
        files = gitrev.compare_revisions(base, head, paths, Path.cwd())
    click.echo(format_diff(files, fmt), nl=False)
    return _exit_code(files, fail_on)


def _head_and_paths(args: tuple[str, ...]) -> tuple[str | None, list[str]]:
    from ocsrun.review import gitrev

    # A first argument that exists as a path is a path, so `--git main runbooks/` works.
    if args and not Path(args[0]).exists() and gitrev.is_revision(args[0], Path.cwd()):
        return args[0], list(args[1:])
    return None, list(args)


def _exit_code(diffs: Sequence[FileDiff], fail_on: str) -> int:
    if fail_on == "never":
        return EXIT_OK
    if any(d.error for d in diffs):
        return EXIT_FINDINGS  # cannot show it is safe
    if fail_on == "safety":
        return EXIT_FINDINGS if any(d.safety_count for d in diffs) else EXIT_OK
    return EXIT_FINDINGS if any(d.changes for d in diffs) else EXIT_OK
