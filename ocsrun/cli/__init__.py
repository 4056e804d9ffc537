"""The `ocsrun` command line: a thin edge.

`ocsrun --version` and `ocsrun --help` are answered here, without importing click (its import
alone costs more than the interpreter's start-up): the help text is built from the same
command table the click group uses (`ocsrun.cli.group`), and `tests/test_cli_basics.py`
checks it equals click's own. So are the plain `ocsrun validate` command lines
(`ocsrun.cli.validate_run`, the same code the click command runs). Every other command line
goes to the click group, which imports a subcommand's module only when it is invoked.
"""

from __future__ import annotations

import os
import sys

from ocsrun import __version__
from ocsrun.cli.commands import COMMANDS, HELP, HELP_OPTION_NAMES, available_commands

__all__ = ["COMMANDS", "HELP", "HELP_OPTION_NAMES", "available_commands", "help_text", "main"]

_OPTIONS = (
    ("--version", "Show the version and exit."),
    ("-h, --help", "Show this message and exit."),
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    text = None
    if args == ["--version"]:
        text = f"ocsrun {__version__}\n"
    elif len(args) == 1 and args[0] in HELP_OPTION_NAMES:
        text = help_text()
    elif args[:1] == ["validate"]:
        # The plain `validate` command lines, without importing click (ocsrun.cli.validate_run).
        from ocsrun.cli.validate_run import main as validate_main

        code = validate_main(args[1:])
        if code is not None:
            sys.exit(code)
    if text is not None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            sys.exit(2)  # as the click path does (errors.EXIT_USAGE)
        sys.exit(0)
    from ocsrun.cli.group import main as click_main

    click_main(argv)


def help_text() -> str | None:
    """click's --help page for the group, laid out as click lays it out; None where click would
    wrap a line (a narrow terminal), so click writes it."""
    width = max(min(_columns(), 80) - 2, 50)
    rows = [(name, COMMANDS[name][2]) for name in available_commands()]
    lines = ["Usage: ocsrun [OPTIONS] COMMAND [ARGS]...", "", "  " + HELP, ""]
    for title, table in (("Options", _OPTIONS), ("Commands", rows)):
        if not table:
            continue
        first = max(len(name) for name, _ in table)
        lines.append(f"{title}:")
        lines += [f"  {name.ljust(first)}  {what}".rstrip() for name, what in table]
        lines.append("")
    if any(len(line) > width for line in lines):
        return None
    return "\n".join(lines[:-1]) + "\n"


def _columns() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


def __getattr__(name: str) -> object:
    # `ocsrun.cli.cli` (the click group) is still reachable, imported on first use.
    if name == "cli":
        from ocsrun.cli.group import cli

        return cli
    raise AttributeError(name)
