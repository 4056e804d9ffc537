"""Shell completion (click's): bundled runbook ids for RUNBOOK, run ids for RUN_ID.

Enabled by the shell snippet click prints (docs/completion.md), e.g. for bash
`eval "$(_OCSRUN_COMPLETE=bash_source ocsrun)"`. A completion must never fail the
shell: anything that goes wrong (no store yet, an unreadable runbook) completes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem


def runbook_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Bundled runbook ids, then files and directories (a runbook may be a path)."""
    try:
        from ocsrun.runbook.catalog import bundled

        items: list[Any] = [
            CompletionItem(e.id, help=e.title) for e in bundled() if e.id.startswith(incomplete)
        ]
    except Exception:  # completion must never break the shell
        items = []
    return [*items, CompletionItem(incomplete, type="file")]


def run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Run ids in the store the command line names (--state-dir / --store), else the default."""
    try:
        from ocsrun.store.open import chosen, open_store

        state_dir, location = _store_options(ctx)
        summaries = open_store(chosen(location, state_dir)).list_runs()
    except Exception:  # no store yet, a store that cannot be reached: nothing to offer
        return []
    return [
        CompletionItem(
            s.info.run_id, help=f"{s.status} · {s.info.runbook_id} {s.info.target or ''}"
        )
        for s in summaries
        if s.info.run_id.startswith(incomplete)
    ]


def _store_options(ctx: click.Context) -> tuple[Path | None, str | None]:
    """--state-dir / --store from the whole command line, the words after the cursor included.

    click parses only the words before the one being completed into `ctx.params`, so
    `ocsrun resume <TAB> --state-dir /srv/runs` would list the default store's runs. Bash and
    zsh hand the whole line over in COMP_WORDS (fish only the part before the cursor): an
    option found there wins; what click parsed is the fallback (other shells, tests).
    """
    state_dir, location = _typed_store_options()
    here: click.Context | None = ctx
    while here is not None:
        state_dir = state_dir or here.params.get("state_dir")
        location = location or here.params.get("location") or here.params.get("store")
        here = here.parent
    # The shell has not expanded a `~` typed on the line being completed.
    directory = Path(state_dir).expanduser() if state_dir else None
    return directory, (str(location) if location else None)


def _typed_store_options() -> tuple[str | None, str | None]:
    """The last --state-dir and --store typed on the line being completed (either spelling:
    `--store X` or `--store=X`)."""
    import os

    from click.shell_completion import split_arg_string

    words = split_arg_string(os.environ.get("COMP_WORDS", ""))
    found: dict[str, str] = {}
    for i, word in enumerate(words):
        name, equals, value = word.partition("=")
        if name not in ("--state-dir", "--store"):
            continue
        if not equals:
            value = words[i + 1] if i + 1 < len(words) else ""
        if value and not value.startswith("-"):
            found[name] = value
    return found.get("--state-dir"), found.get("--store")
