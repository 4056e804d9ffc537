"""The command table: every `ocsrun` subcommand, its module and its one-line help.

Its own module so that both `ocsrun.cli` (which answers --version and --help without click)
and the click group (`ocsrun.cli.group`) read it without importing each other.
"""

from __future__ import annotations

# name -> (module, attribute, one-line help shown by --help without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("ocsrun.cli.validate", "validate", "Check runbooks against the schema and rules."),
    "fmt": ("ocsrun.cli.fmt", "fmt", "Rewrite runbooks in the canonical layout."),
    "init": ("ocsrun.cli.scaffold", "init", "Write the schema and the editor mapping."),
    "list": ("ocsrun.cli.info", "list_runbooks", "List the bundled runbooks."),
    "new": ("ocsrun.cli.scaffold", "new", "Start a new runbook or fragment."),
    "schema": ("ocsrun.cli.info", "schema", "Print (or write) the runbook JSON Schema."),
    "run": ("ocsrun.cli.run", "run", "Run a runbook step by step."),
    "rehearse": ("ocsrun.cli.run", "rehearse", "Walk a runbook with no side effects."),
    "resume": ("ocsrun.cli.run", "resume", "Continue an unfinished run."),
    "runs": ("ocsrun.cli.runs", "runs", "List, show, verify and report runs."),
    "store": ("ocsrun.cli.store", "store", "Migrate the team store's schema; copy runs."),
    "render": ("ocsrun.cli.render", "render", "Render runbooks as Markdown or HTML checklists."),
    "serve": ("ocsrun.cli.serve", "serve", "Serve a read-only web view of runs."),
    "diff": (
        "ocsrun.cli.diff",
        "diff",
        "Semantic diff of runbooks; flags safety-relevant changes.",
    ),
}
HELP = "Schema-validated YAML runbooks, run step by step with a human operator."
HELP_OPTION_NAMES = ("-h", "--help")


def available_commands() -> list[str]:
    """The table's commands whose module is installed, sorted (what --help lists)."""
    import importlib.util  # here: `ocsrun validate FILE` reads the table without it

    return sorted(name for name in COMMANDS if importlib.util.find_spec(COMMANDS[name][0]))
