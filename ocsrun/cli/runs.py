"""`ocsrun runs`: list and verify recorded runs (show and report are lazy).

`show` and `report` live in `ocsrun.cli.runs_report` and are imported only
when invoked. Subcommands get the run store with `store(ctx, state_dir)`.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ocsrun.cli.complete import run_ids

if TYPE_CHECKING:
    from ocsrun.store.protocol import RunStore

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


# Accepted on `ocsrun runs` and again after each subcommand (the later one wins), so the
# form `ocsrun resume` prints and the form a user types both work.
STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where runs are kept (default: $OCSRUN_STATE_DIR, else .ocsrun here).",
)


STORE = click.option(
    "--store",
    "location",
    default=None,
    metavar="LOCATION",
    help="Where runs are kept: a directory or a postgresql:// URL (default: $OCSRUN_STORE).",
)


def store(
    ctx: click.Context, state_dir: Path | None = None, location: str | None = None
) -> RunStore:
    """The run store chosen after the subcommand, else on `ocsrun runs`, else the default."""
    from ocsrun.store.open import chosen, open_store

    if state_dir is None and location is None:
        obj = ctx.find_object(dict)
        if obj is not None:
            state_dir, location = obj.get("state_dir"), obj.get("location")
    return open_store(chosen(location, state_dir))


@click.group("runs", cls=RunsGroup)
@STATE_DIR
@STORE
@click.pass_context
def runs(ctx: click.Context, state_dir: Path | None, location: str | None) -> None:
    """List, show, verify and report runs."""
    obj = ctx.ensure_object(dict)
    obj["state_dir"] = state_dir
    obj["location"] = location


@runs.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@STATE_DIR
@STORE
@click.pass_context
def list_runs(ctx: click.Context, fmt: str, state_dir: Path | None, location: str | None) -> int:
    """List runs, newest first."""
    from ocsrun.run import views

    runs = store(ctx, state_dir, location)
    if fmt == "json":
        click.echo(views.runs_json(runs.list_runs()))
        return 0
    # The table shows a few fields of each run: a store reads only those (list_briefs).
    briefs = runs.list_briefs()
    click.echo(views.runs_table(briefs) if briefs else f"no runs in {runs.location}")
    return 0


@runs.command("verify")
@click.argument("run_id", shell_complete=run_ids)
@click.option(
    "--head",
    "head",
    default=None,
    metavar="HASH",
    help="Also fail unless the journal ends exactly at HASH (the head printed at session end).",
)
@STATE_DIR
@STORE
@click.pass_context
def verify(
    ctx: click.Context,
    run_id: str,
    head: str | None,
    state_dir: Path | None,
    location: str | None,
) -> int:
    """Check a run's journal: every hash, the chain, the sequence.

    Exit 0 when intact (a torn last line alone is a warning), 1 otherwise.
    """
    from ocsrun.errors import EXIT_FINDINGS, EXIT_OK
    from ocsrun.run import views

    if head is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", head):
        from ocsrun.errors import UsageError

        raise UsageError(f"--head {head!r}: a head is 64 hexadecimal digits")
    checked = views.verify_run(store(ctx, state_dir, location), run_id, head)
    click.echo("\n".join(checked.lines))
    return EXIT_OK if checked.ok else EXIT_FINDINGS
