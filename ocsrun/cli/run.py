"""`ocsrun run`, `ocsrun rehearse`, `ocsrun resume`: parse options, call `ocsrun.run.session`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ocsrun.cli.complete import run_ids, runbook_ids

# No envvar here: ocsrun.store.open reads OCSRUN_STORE and OCSRUN_STATE_DIR (in that order)
# when neither option is given.
_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where runs are kept (default: $OCSRUN_STORE, else $OCSRUN_STATE_DIR, else .ocsrun).",
)
_STORE = click.option(
    "--store",
    default=None,
    metavar="LOCATION",
    help="Where runs are kept: a directory or a postgresql:// URL (no password in it: "
    "PGPASSWORD or ~/.pgpass). Default: $OCSRUN_STORE.",
)
_ANSWERS = click.option(
    "--answers",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Answers file (YAML or JSON, see docs/answers.md) instead of a terminal.",
)


def _run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.argument("runbook", shell_complete=runbook_ids),
            click.option(
                "--param",
                "params",
                multiple=True,
                metavar="NAME=VALUE",
                help="A runbook parameter (repeatable); missing ones are asked.",
            ),
            click.option("--target", default=None, help="The server or pool acted on."),
            click.option(
                "--tz",
                default=None,
                metavar="ZONE",
                help="The users' time zone (IANA, e.g. Europe/Berlin) for time windows the "
                "runbook declares with timezone: ask; asked at a terminal when missing.",
            ),
            _ANSWERS,
            _STATE_DIR,
            _STORE,
            click.option(
                "--break-lock",
                is_flag=True,
                help="Take over a stale lock (its process is gone on this host).",
            ),
        )
    ):
        command = option(command)
    return command


def _start(rehearse: bool, **options: Any) -> int:
    from ocsrun.run.session import RunOptions, start

    _require_utf8(options)
    return start(RunOptions(rehearse=rehearse, **options))


def _require_utf8(options: dict[str, Any]) -> None:
    """Arguments are journaled and shown; bytes that are not UTF-8 would fail both, later.

    Python hands undecodable argv bytes over as lone surrogates; refuse them here, naming
    the option, instead of a traceback when the run record is written.
    """
    from ocsrun.errors import UsageError

    for name, value in options.items():
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if item is None or isinstance(item, bool):
                continue
            try:
                str(item).encode("utf-8")
            except UnicodeEncodeError:
                option = name.replace("_", "-") if name != "params" else "param"
                raise UsageError(f"--{option}: not valid UTF-8 text") from None


@click.command("run")
@_run_options
@click.option("--rehearse", is_flag=True, help="Walk the runbook with no side effects.")
def run(rehearse: bool, **options: Any) -> int:
    """Run RUNBOOK (a path or a bundled runbook id) step by step."""
    return _start(rehearse, **options)


@click.command("rehearse")
@_run_options
def rehearse(**options: Any) -> int:
    """Walk RUNBOOK with no side effects (commands are shown, not run)."""
    return _start(True, **options)


@click.command("resume")
@click.argument("run_id", shell_complete=run_ids)
@click.option(
    "--accept-changes",
    is_flag=True,
    help="Go on although the runbook changed since the run started (journaled).",
)
@_ANSWERS
@_STATE_DIR
@_STORE
def resume(**options: Any) -> int:
    """Continue RUN_ID at its first unfinished step."""
    from ocsrun.run.session import ResumeOptions
    from ocsrun.run.session import resume as resume_run

    return resume_run(ResumeOptions(**options))
