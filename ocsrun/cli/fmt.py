"""`ocsrun fmt [--check] PATH...`: rewrite runbook files in the canonical layout."""

from __future__ import annotations

import click


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; list the files fmt would change and exit 1 if there are any.",
)
def fmt(paths: tuple[str, ...], check: bool) -> None:
    """Write runbook files (and directories of them) in the canonical layout: 2-space
    indentation, keys in the format's order, YAML 1.1 spellings (yes, on, 1:30) quoted or
    written as YAML 1.2. Comments, blank lines and quoting style are kept; formatting twice
    changes nothing the second time.

    Exits 0 when nothing needs (or needed) a change, 1 with --check when a file would change or
    when a file cannot be read as YAML, 2 on a usage error.
    """
    from ocsrun.errors import OcsrunError, UsageError, exit_code_for
    from ocsrun.runbook.document import write_atomically
    from ocsrun.runbook.layout import format_file
    from ocsrun.runbook.validation import expand_paths

    context = click.get_current_context()
    try:
        if not paths:
            raise UsageError("no paths given; name runbook files or directories to format")
        files = expand_paths(paths)
    except OcsrunError as error:
        click.echo(f"ocsrun fmt: {error}", err=True)
        context.exit(exit_code_for(error))
    changed = problems = 0
    for file in files:
        outcome = format_file(file, str(file), check=check)
        if outcome.problem is not None:
            problems += 1
            click.echo(str(outcome.problem), err=True)
        elif outcome.changed:
            changed += 1
            if check:
                click.echo(f"would reformat {outcome.path}")
            elif outcome.text is not None:
                write_atomically(file, outcome.text.encode("utf-8"))
                click.echo(f"reformatted {outcome.path}")
    click.echo(_summary(len(files), changed, problems, check), err=True)
    context.exit(1 if problems or (check and changed) else 0)


def _summary(total: int, changed: int, problems: int, check: bool) -> str:
    verb = "would be reformatted" if check else "reformatted"
    unchanged = total - changed - problems
    parts = [f"{changed} file{'s' if changed != 1 else ''} {verb}"]
    parts.append(f"{unchanged} left unchanged")
    if problems:
        parts.append(f"{problems} could not be read")
    return ", ".join(parts)
