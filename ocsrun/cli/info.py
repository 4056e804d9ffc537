"""`ocsrun schema` and `ocsrun list`: what ships with ocsrun."""

from __future__ import annotations

import click

from ocsrun.runbook import catalog, resources


@click.command("schema")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the schema to this file (created or replaced) instead of printing it.",
)
def schema(output: str | None) -> int:
    """Print the runbook JSON Schema, or write it where your editor looks (`--output`)."""
    if output is None:
        click.echo(resources.schema_path().read_text(encoding="utf-8"), nl=False)
        return 0
    from pathlib import Path

    from ocsrun.runbook.scaffold import write_schema

    click.echo(f"wrote {write_schema(Path(output))}")
    return 0


@click.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_runbooks(fmt: str) -> int:
    """List the bundled runbooks: id, title and source section."""
    entries = catalog.bundled()
    if fmt == "json":
        import json

        rows = [e.as_dict() for e in entries]
        click.echo(json.dumps(rows, indent=2))
        return 0
    width = max((len(e.id) for e in entries), default=0)
    for entry in entries:
        click.echo(f"{entry.id:<{width}}  {entry.title}")
        click.echo(f"{'':<{width}}  source: {entry.section}")
    return 0
