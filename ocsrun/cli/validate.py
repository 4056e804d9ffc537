"""`ocsrun validate PATH... [--format text|json|github|sarif] [--jobs N]`."""

from __future__ import annotations

import click

# The registry is light (no yaml, jsonschema or jinja2), so --format's choices are its keys.
from ocsrun.review.reporters import REPORTERS


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(tuple(REPORTERS)),
    default="text",
    show_default=True,
    help="text: path:line:col lines; json: a stable object (ocsrun/review/reporters.py); "
    "github: workflow-command annotations; sarif: SARIF 2.1.0 for code scanning.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Processes to validate with; 0 means one per core. Output is identical for any N.",
)
def validate(paths: tuple[str, ...], output_format: str, jobs: int) -> None:
    """Check runbook files (and directories of them) against the schema and the semantic rules.

    Exits 0 when no errors (warnings allowed), 1 when errors were found, 2 on a usage error.
    """
    from ocsrun.cli.validate_run import run

    def echo(text: str, err: bool, newline: bool) -> None:
        click.echo(text, err=err, nl=newline)

    click.get_current_context().exit(run(paths, output_format, jobs, echo))
