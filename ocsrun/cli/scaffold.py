"""`ocsrun new ID` and `ocsrun init [DIR]`: start a runbook; put the schema where editors look."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new")
@click.argument("runbook_id", metavar="ID")
@click.option(
    "--from",
    "source",
    metavar="RUNBOOK",
    help="Start from a copy of this runbook (a file or a bundled id) instead of a skeleton.",
)
@click.option(
    "--kind",
    type=click.Choice(["runbook", "fragment"]),
    default="runbook",
    show_default=True,
    help="A runbook, or a fragment other runbooks include with `uses:`.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="The file to write (default: ID's last part + .yaml, here). Never overwritten.",
)
def new(runbook_id: str, source: str | None, kind: str, output: str | None) -> None:
    """Write a new runbook (or fragment) that validates, with its schema line.

    The schema line points at the nearest schemas/runbook.schema.json above the new file
    (`ocsrun init` writes one). Exits 0 when the new file validates, 1 when it does not (a copy
    whose fragments are elsewhere), 2 on a usage error (the file exists, a bad id).
    """
    from ocsrun.errors import OcsrunError, UsageError, exit_code_for
    from ocsrun.runbook.catalog import resolve
    from ocsrun.runbook.scaffold import new_file
    from ocsrun.runbook.validation import validate_paths

    context = click.get_current_context()
    target = Path(output) if output else Path(runbook_id.rsplit(".", 1)[-1] + ".yaml")
    try:
        if source is not None and kind != "runbook":
            raise UsageError("--from copies a runbook as it is; --kind does not apply")
        found = new_file(runbook_id, target, kind=kind, source=resolve(source) if source else None)
        results = validate_paths([str(target)])
    except OcsrunError as error:
        click.echo(f"ocsrun new: {error}", err=True)
        context.exit(exit_code_for(error))
    click.echo(f"wrote {target}")
    if not found:
        click.echo(
            "note: no schemas/runbook.schema.json above it yet; run `ocsrun init` so the "
            "schema line resolves in your editor",
            err=True,
        )
    problems = [d for r in results for d in r.diagnostics]
    for diagnostic in problems:
        click.echo(str(diagnostic), err=True)
    context.exit(1 if any(r.errors for r in results) else 0)


@click.command("init")
@click.argument("directory", metavar="[DIR]", default="runbooks", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Set up a runbooks directory for editing (DIR, default `runbooks`).

    Writes the runbook JSON Schema to schemas/runbook.schema.json beside DIR, and maps it onto
    DIR/**/*.yaml in .vscode/settings.json there (the `yaml.schemas` setting of the YAML
    extension; other settings are kept). Running it again refreshes the schema.
    """
    from ocsrun.errors import OcsrunError, exit_code_for
    from ocsrun.runbook.scaffold import init as initialise

    context = click.get_current_context()
    try:
        done = initialise(Path(directory))
    except OcsrunError as error:
        click.echo(f"ocsrun init: {error}", err=True)
        context.exit(exit_code_for(error))
    click.echo(f"wrote {done.schema}")
    click.echo(f"mapped it onto {done.pattern} in {done.settings}")
