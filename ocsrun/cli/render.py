"""`ocsrun render RUNBOOK... [--format md|html] [--output-dir DIR [--check]]`."""

from __future__ import annotations

from pathlib import Path

import click

from ocsrun.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ocsrun.sanitize import visible

# Literal here so `ocsrun render --help` imports neither jinja2 nor the model builder.
FORMATS = ("md", "html")


@click.command("render")
@click.argument("runbooks", nargs=-1, required=True, metavar="RUNBOOK...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <runbook-id>.md|.html here instead of printing to stdout.",
)
@click.option(
    "--check",
    is_flag=True,
    help="With --output-dir: write nothing; exit 1 listing renders that are stale or missing.",
)
def render(runbooks: tuple[str, ...], fmt: str, output_dir: Path | None, check: bool) -> int:
    """Render runbooks (files, directories or bundled ids) as printable checklists.

    Fragments found in a directory are skipped: they are expanded inside each runbook.

    Output is deterministic, so rendered files can be committed next to the YAML and kept in
    step by CI with --check.
    """
    from ocsrun.review.render import output_name
    from ocsrun.review.render import render as render_runbook
    from ocsrun.runbook.build import load_runbook

    if check and output_dir is None:
        raise UsageError("--check needs --output-dir (the directory of committed renders)")
    rendered: list[tuple[str, str]] = []
    for path, display, from_directory in _files(runbooks):
        model = load_runbook(path, display)
        if from_directory and model.kind == "fragment":
            continue  # rendered inside every runbook that includes it
        rendered.append((output_name(model, fmt), render_runbook(model, fmt)))
    if output_dir is None:
        click.echo("\n".join(text for _, text in rendered), nl=False)
        return EXIT_OK
    if check:
        return _check(output_dir, rendered)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered:
        (output_dir / name).write_bytes(text.encode("utf-8"))
        click.echo(f"wrote {visible(str(output_dir / name))}", err=True)
    return EXIT_OK


def _files(arguments: tuple[str, ...]) -> list[tuple[Path, str, bool]]:
    """(file, name to show, found in a directory) for files, directories and bundled ids."""
    from ocsrun.runbook import catalog

    out: list[tuple[Path, str, bool]] = []
    for argument in arguments:
        given = Path(argument)
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.suffix in {".yaml", ".yml"})
            out += [(p, str(p), True) for p in found if p.is_file()]
        elif given.is_file():
            out.append((given, argument, False))
        elif given.exists():
            raise UsageError(f"{argument}: not a regular file")
        else:
            out.append((catalog.resolve(argument), argument, False))
    return out


def _check(output_dir: Path, rendered: list[tuple[str, str]]) -> int:
    problems = []
    for name, text in rendered:
        path = output_dir / name
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            problems.append(f"{path}: missing")
            continue
        if current != text.encode("utf-8"):
            problems.append(f"{path}: stale")
    for line in problems:
        click.echo(line)
    if problems:
        click.echo(
            f"{len(problems)} of {len(rendered)} renders out of date; "
            f"run `ocsrun render --output-dir {output_dir} ...` and commit the result",
            err=True,
        )
        return EXIT_FINDINGS
    return EXIT_OK
