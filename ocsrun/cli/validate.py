"""`ocsrun validate PATH... [--format text|json]`."""

from __future__ import annotations

import click

from ocsrun.errors import OcsrunError, exit_code_for

# Kept literal so importing this command does not import the reporters (and yaml, jsonschema).
FORMATS = ("text", "json")


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format; json is a stable, documented object (see ocsrun/reporters.py).",
)
def validate(paths: tuple[str, ...], output_format: str) -> None:
    """Check runbook files (and directories of them) against the schema and the semantic rules.

    Exits 0 when no errors (warnings allowed), 1 when errors were found, 2 on a usage error.
    """
    # Imported here so that loading the command stays cheap (yaml, jsonschema, jinja2 are not).
    from ocsrun.reporters import REPORTERS
    from ocsrun.validation import validate_paths

    context = click.get_current_context()
    try:
        results = validate_paths(paths)
    except OcsrunError as error:
        click.echo(f"ocsrun validate: {error}", err=True)
        context.exit(exit_code_for(error))
        return
    click.echo(REPORTERS[output_format](results), nl=False)
    context.exit(1 if any(r.errors for r in results) else 0)
