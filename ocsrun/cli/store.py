"""`ocsrun store migrate` and `ocsrun store copy FROM TO`: the team store's housekeeping."""

from __future__ import annotations

import click

STORE_HELP = (
    "Where runs are kept: a directory or a postgresql:// URL (default: $OCSRUN_STORE, "
    "else $OCSRUN_STATE_DIR, else .ocsrun here). Passwords come from PGPASSWORD or ~/.pgpass."
)


@click.group("store")
def store() -> None:
    """Create or upgrade the team store's schema; copy runs between stores."""


@store.command("migrate")
@click.option("--store", "location", default=None, metavar="URL", help=STORE_HELP)
@click.option(
    "--operator-role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Grant ROLE what an operator needs and no more (repeatable; see docs/team-mode.md).",
)
def migrate(location: str | None, roles: tuple[str, ...]) -> int:
    """Create or upgrade the ocsrun schema in a PostgreSQL store (run as the schema owner)."""
    from ocsrun.store.open import open_store

    opened = open_store(location)
    done = opened.migrate(roles)
    click.echo("\n".join(done) if done else f"{opened.location}: nothing to migrate")
    return 0


@store.command("copy")
@click.argument("source", metavar="FROM")
@click.argument("destination", metavar="TO")
@click.option(
    "--run", "run_ids", multiple=True, metavar="RUN_ID", help="Copy only these runs (repeatable)."
)
def copy(source: str, destination: str, run_ids: tuple[str, ...]) -> int:
    """Copy runs from FROM to TO (each a directory or a postgresql:// URL), unchanged.

    Each run's chain is verified before (in FROM) and after (in TO). Exit 1 if any run
    could not be copied.
    """
    from ocsrun.errors import EXIT_FINDINGS, EXIT_OK
    from ocsrun.run.copy import copy_runs
    from ocsrun.sanitize import clean_line
    from ocsrun.store.open import open_store

    src, dst = open_store(source), open_store(destination)
    result = copy_runs(src, dst, run_ids)
    for run_id in result.copied:
        click.echo(f"copied {run_id}: chain verified in {src.location} and {dst.location}")
    for run_id in result.present:
        click.echo(f"already there {run_id}: same records in {dst.location}")
    for run_id, why in result.failed:
        click.echo(f"NOT copied {clean_line(run_id, 140)}: {clean_line(why, 300)}")
    total = len(result.copied) + len(result.present) + len(result.failed)
    click.echo(
        f"{len(result.copied)} copied, {len(result.present)} already there, "
        f"{len(result.failed)} failed, of {total}"
    )
    return EXIT_OK if result.ok else EXIT_FINDINGS
