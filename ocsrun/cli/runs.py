"""`ocsrun runs`: list and verify recorded runs (show and report are lazy).

`show` and `report` live in `ocsrun.cli.runs_report` and are imported only
when invoked. Subcommands find the state directory with `state_dir(ctx)`.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ocsrun.store.local import LocalDirStore
    from ocsrun.store.protocol import RunSummary, VerifyReport

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
    summaries = store(ctx).list_runs()
    if fmt == "json":
        import json

        click.echo(json.dumps([_summary_dict(s) for s in summaries], indent=2))
        return 0
    if not summaries:
        click.echo(f"no runs in {state_dir(ctx)}")
        return 0
    _print_table(summaries)
    return 0


_COLUMNS = ("RUN ID", "RUNBOOK", "TARGET", "STATUS", "STARTED", "OPERATOR", "RECORDS")


def _row(summary: RunSummary) -> tuple[str, ...]:
    from ocsrun.sanitize import clean_line

    info = summary.info
    status = summary.status + (" (rehearsal)" if info.rehearsal else "")
    # The target and runbook id came from a command line or a runbook: one inert line each.
    return (
        info.run_id,
        clean_line(info.runbook_id, 80),
        clean_line(info.target or "-", 80),
        status,
        info.started,
        clean_line(info.operator, 80),
        str(summary.records),
    )


def _print_table(summaries: list[RunSummary]) -> None:
    rows = [_COLUMNS, *(_row(s) for s in summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


def _summary_dict(summary: RunSummary) -> dict[str, Any]:
    info = summary.info
    return {
        "run_id": info.run_id,
        "runbook_id": info.runbook_id,
        "runbook_title": info.runbook_title,
        "runbook_version": info.runbook_version,
        "target": info.target,
        "status": summary.status,
        "started": info.started,
        "operator": info.operator,
        "rehearsal": info.rehearsal,
        "records": summary.records,
        "last_type": summary.last_type,
        "last_ts": summary.last_ts,
    }


@runs.command("verify")
@click.argument("run_id")
@click.pass_context
def verify(ctx: click.Context, run_id: str) -> int:
    """Check a run's journal: every hash, the chain, the sequence.

    Exit 0 when intact (a torn last line alone is a warning), 1 otherwise.
    """
    report = store(ctx).verify(run_id)
    return _print_report(report)


def _print_report(report: VerifyReport) -> int:
    from ocsrun.errors import EXIT_FINDINGS, EXIT_OK
    from ocsrun.store.journal import TORN_TAIL

    torn = [p for p in report.problems if p.kind == TORN_TAIL]
    real = [p for p in report.problems if p.kind != TORN_TAIL]
    for problem in report.problems:
        seq = f" seq {problem.seq}:" if problem.seq is not None else ""
        prefix = "warning: " if problem.kind == TORN_TAIL else ""
        click.echo(f"{prefix}journal.jsonl:{problem.line}:{seq} {problem.kind}: {problem.message}")
    if real:
        click.echo(
            f"FAILED: {len(real)} problem{'s' if len(real) != 1 else ''} "
            f"in {report.records} records of run {report.run_id}"
        )
        return EXIT_FINDINGS
    tail = " (ignoring a torn last line)" if torn else ""
    click.echo(f"ok: {report.records} records, chain intact{tail}")
    return EXIT_OK
