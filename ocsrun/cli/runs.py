"""`ocsrun runs`: list and verify recorded runs (show and report are lazy).

`show` and `report` live in `ocsrun.cli.runs_report` and are imported only
when invoked. Subcommands find the state directory with `state_dir(ctx)`.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ocsrun.store.local import LocalDirStore

REPORT_MODULE = "ocsrun.cli.runs_report"
LAZY_COMMANDS = ("show", "report")  # attribute names in REPORT_MODULE


class RunsGroup(click.Group):
    """Adds `show` and `report` from REPORT_MODULE once that module exists."""

    @staticmethod
    def _report_available() -> bool:
        return importlib.util.find_spec(REPORT_MODULE) is not None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        if self._report_available():
            names.update(LAZY_COMMANDS)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            if not self._report_available():
                return None
            command = getattr(importlib.import_module(REPORT_MODULE), cmd_name, None)
            return command if isinstance(command, click.Command) else None
        return super().get_command(ctx, cmd_name)


def state_dir(ctx: click.Context) -> Path:
    """The state directory chosen on `ocsrun runs` (option, env, or default)."""
    obj = ctx.find_object(dict)
    if obj is not None and isinstance(obj.get("state_dir"), Path):
        return Path(obj["state_dir"])
    from ocsrun.store.local import default_state_dir

    return default_state_dir()


def store(ctx: click.Context) -> LocalDirStore:
    from ocsrun.store.local import LocalDirStore

    return LocalDirStore(state_dir(ctx))


@click.group("runs", cls=RunsGroup)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="OCSRUN_STATE_DIR",
    default=None,
    help="Where runs are kept (default: .ocsrun in the working directory).",
)
@click.pass_context
def runs(ctx: click.Context, state_dir: Path | None) -> None:
    """List, show, verify and report runs."""
    from ocsrun.store.local import default_state_dir

    obj = ctx.ensure_object(dict)
    obj["state_dir"] = state_dir if state_dir is not None else default_state_dir()


@runs.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def list_runs(ctx: click.Context, fmt: str) -> int:
    """List runs, newest first."""
    from ocsrun.run import views

    summaries = store(ctx).list_runs()
    if fmt == "json":
        click.echo(views.runs_json(summaries))
    elif not summaries:
        click.echo(f"no runs in {state_dir(ctx)}")
    else:
        click.echo(views.runs_table(summaries))
    return 0


@runs.command("verify")
@click.argument("run_id")
@click.pass_context
def verify(ctx: click.Context, run_id: str) -> int:
    """Check a run's journal: every hash, the chain, the sequence.

    Exit 0 when intact (a torn last line alone is a warning), 1 otherwise.
    """
    from ocsrun.errors import EXIT_FINDINGS, EXIT_OK
    from ocsrun.run import views

    checked = views.verify_run(store(ctx), run_id)
    click.echo("\n".join(checked.lines))
    return EXIT_OK if checked.ok else EXIT_FINDINGS
