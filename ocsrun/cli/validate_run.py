"""`ocsrun validate` without click: what the command does, shared by the click command
(`ocsrun.cli.validate`) and the plain command lines `ocsrun.cli.main` answers itself.

A save hook or a pre-commit run validates one file at a time, and importing click alone cost
about a sixth of such a run. So `ocsrun validate [--format F] [--jobs N] PATH...` in its plain
forms is read here; anything else (`--help`, `-j2`, `--`, a path that starts with "-", a value
click would refuse, shell completion) goes to click, which words every usage error. Output
goes through `echo`, which writes exactly what `click.echo` would (see `plain_echo`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

Echo = Callable[[str, bool, bool], None]  # (text, to stderr, add a newline)

_VALUED = {"--format": "format", "--jobs": "jobs", "-j": "jobs"}


def parse(args: Sequence[str]) -> tuple[list[str], str, int] | None:
    """(paths, format, jobs) when `args` (after `validate`) are plain paths and at most one
    `--format F` / `--format=F` and one `--jobs N` / `--jobs=N` / `-j N` with values click
    accepts unchanged; None for everything else."""
    from ocsrun.review.reporters import REPORTERS

    if "_OCSRUN_COMPLETE" in os.environ:  # click's shell completion protocol
        return None
    paths: list[str] = []
    given: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("-"):
            paths.append(arg)
            continue
        name, equals, value = arg.partition("=")
        option = _VALUED.get(name)
        if option is None or option in given or (equals and name == "-j"):
            return None
        if not equals:
            if index >= len(args):
                return None
            value = args[index]
            index += 1
        given[option] = value
    output_format = given.get("format", "text")
    jobs = given.get("jobs", "1")
    if not paths or output_format not in REPORTERS or not (jobs.isascii() and jobs.isdigit()):
        return None
    return paths, output_format, int(jobs)


def run(paths: Sequence[str], output_format: str, jobs: int, echo: Echo) -> int:
    """Validate, write the report (or the one-line usage error), return the exit code."""
    from ocsrun.errors import OcsrunError, exit_code_for
    from ocsrun.review.reporters import REPORTERS
    from ocsrun.runbook.parallel import resolve_jobs, validate_given

    try:
        results = validate_given(paths, resolve_jobs(jobs))
    except OcsrunError as error:
        from ocsrun.sanitize import visible

        echo(f"ocsrun validate: {visible(str(error))}", True, True)
        return exit_code_for(error)
    echo(REPORTERS[output_format](list(results)), False, False)
    return 1 if any(r.errors for r in results) else 0


def plain_echo(text: str, err: bool, newline: bool) -> None:
    """What `click.echo(text, err=err, nl=newline)` writes, without importing click for the
    usual case: ASCII text with no escape character is written as it is (click would strip
    ANSI sequences or re-encode a misconfigured stream; for anything else, click does it)."""
    if newline:
        text += "\n"
    if not text.isascii() or "\x1b" in text:
        import click

        click.echo(text, nl=False, err=err)
        return
    stream = sys.stderr if err else sys.stdout
    if text:
        stream.write(text)
    stream.flush()


def main(args: Sequence[str]) -> int | None:
    """The exit code of `ocsrun validate ARGS` answered here; None: click must answer it."""
    parsed = parse(args)
    if parsed is None:
        return None
    from ocsrun.errors import EXIT_INTERRUPTED, EXIT_USAGE, OcsrunError, exit_code_for

    # The same outcomes as ocsrun.cli.group.main gives the click command.
    try:
        return run(*parsed, plain_echo)
    except OcsrunError as error:
        from ocsrun.sanitize import visible

        plain_echo(f"ocsrun: error: {visible(str(error))}", True, True)
        return exit_code_for(error)
    except KeyboardInterrupt:
        plain_echo("\nocsrun: interrupted", True, True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_USAGE
