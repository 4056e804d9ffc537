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
    state_dir, location = None, None
    here: click.Context | None = ctx
    while here is not None:
        state_dir = state_dir or here.params.get("state_dir")
        location = location or here.params.get("location") or here.params.get("store")
        here = here.parent
    return (Path(state_dir) if state_dir else None), (str(location) if location else None)
