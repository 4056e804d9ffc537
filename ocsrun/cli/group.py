"""The click group behind `ocsrun`: every command line except the plain `--version` and
`--help`, which `ocsrun.cli` answers without importing click.

Subcommands are imported only when invoked (the table is `ocsrun.cli.commands.COMMANDS`). Every
`OcsrunError` becomes one line on stderr and the exit code `errors.exit_code_for` decides;
nothing else in the package prints errors.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from ocsrun import __version__
from ocsrun.cli.commands import COMMANDS, HELP, HELP_OPTION_NAMES, available_commands
from ocsrun.errors import EXIT_INTERRUPTED, EXIT_USAGE, OcsrunError, exit_code_for
from ocsrun.sanitize import visible


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return available_commands()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or importlib.util.find_spec(entry[0]) is None:
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, help=HELP, context_settings={"help_option_names": list(HELP_OPTION_NAMES)}
)
@click.version_option(__version__, prog_name="ocsrun", message="%(prog)s %(version)s")
def cli() -> None:
    pass


def main(argv: list[str] | None = None) -> Any:
    try:
        # Commands return their exit code; standalone mode would swallow it.
        result = cli.main(args=argv, prog_name="ocsrun", standalone_mode=False)
    except OcsrunError as error:
        # One line, whatever a file name or a quoted value holds (see sanitize.visible).
        click.echo(f"ocsrun: error: {visible(str(error))}", err=True)
        sys.exit(exit_code_for(error))
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code if error.exit_code else EXIT_USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("\nocsrun: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(EXIT_USAGE)
    sys.exit(result if isinstance(result, int) else 0)
