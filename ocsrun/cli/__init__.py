"""The `ocsrun` command line: a thin edge.

Subcommands are imported only when invoked, so `ocsrun --version` and
`ocsrun --help` never pay for jsonschema, jinja2 or the executor. Every
`OcsrunError` becomes one line on stderr and the exit code `errors.exit_code_for`
decides; nothing else in the package prints errors.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from ocsrun import __version__
from ocsrun.errors import EXIT_INTERRUPTED, EXIT_USAGE, OcsrunError, exit_code_for

# name -> (module, attribute, one-line help shown by --help without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("ocsrun.cli.validate", "validate", "Check runbooks against the schema and rules."),
    "list": ("ocsrun.cli.info", "list_runbooks", "List the bundled runbooks."),
    "schema": ("ocsrun.cli.info", "schema", "Print the runbook JSON Schema."),
    "run": ("ocsrun.cli.run", "run", "Run a runbook step by step."),
    "rehearse": ("ocsrun.cli.run", "rehearse", "Walk a runbook with no side effects."),
    "resume": ("ocsrun.cli.run", "resume", "Continue an unfinished run."),
    "runs": ("ocsrun.cli.runs", "runs", "List, show, verify and report runs."),
    "render": ("ocsrun.cli.render", "render", "Render runbooks as Markdown or HTML checklists."),
    "diff": (
        "ocsrun.cli.diff",
        "diff",
        "Semantic diff of runbooks; flags safety-relevant changes.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(COMMANDS[name][0]) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not self._available(cmd_name):
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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ocsrun", message="%(prog)s %(version)s")
def cli() -> None:
    """Schema-validated YAML runbooks, run step by step with a human operator."""


def main(argv: list[str] | None = None) -> Any:
    try:
        # Commands return their exit code; standalone mode would swallow it.
        result = cli.main(args=argv, prog_name="ocsrun", standalone_mode=False)
    except OcsrunError as error:
        click.echo(f"ocsrun: error: {error}", err=True)
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
