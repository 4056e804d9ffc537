"""`ocsrun runs show RUN_ID` and `ocsrun runs report RUN_ID --format md|json`.

Both print what ocsrun.run.views makes of the run's journal; the web view shows the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ocsrun.cli.complete import run_ids

if TYPE_CHECKING:
    from ocsrun.run.timeline import Timeline


from ocsrun.cli.runs import STATE_DIR as _STATE_DIR
from ocsrun.cli.runs import STORE as _STORE


def _timeline(
    ctx: click.Context, run_id: str, state_dir: Path | None, location: str | None
) -> Timeline:
    from ocsrun.cli.runs import store
    from ocsrun.run import views

    return views.load_timeline(store(ctx, state_dir, location), run_id)


@click.command("show")
@click.argument("run_id", shell_complete=run_ids)
@_STATE_DIR
@_STORE
@click.pass_context
def show(ctx: click.Context, run_id: str, state_dir: Path | None, location: str | None) -> int:
    """Timeline of RUN_ID: each step, outcome, duration, who, notes, overrides, evidence."""
    from ocsrun.run import views

    # One write: a long run has thousands of lines.
    click.echo(views.timeline_text(_timeline(ctx, run_id, state_dir, location)))
    return 0


@click.command("report")
@click.argument("run_id", shell_complete=run_ids)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md")
@_STATE_DIR
@_STORE
@click.pass_context
def report(
    ctx: click.Context, run_id: str, fmt: str, state_dir: Path | None, location: str | None
) -> int:
    """A hand-over / change-record document for RUN_ID."""
    from ocsrun.run import views

    timeline = _timeline(ctx, run_id, state_dir, location)
    click.echo(views.report_json(timeline) if fmt == "json" else views.report_markdown(timeline))
    return 0
