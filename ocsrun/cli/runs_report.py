"""`ocsrun runs show RUN_ID` and `ocsrun runs report RUN_ID --format md|json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ocsrun.run.timeline import Timeline


_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where runs are kept (also accepted before the subcommand, on `ocsrun runs`).",
)


def _timeline(ctx: click.Context, run_id: str, state_dir: Path | None) -> Timeline:
    from ocsrun.cli.runs import store
    from ocsrun.run import timeline
    from ocsrun.store.local import LocalDirStore

    runs = LocalDirStore(state_dir) if state_dir is not None else store(ctx)
    handle = runs.open_run(run_id)
    try:
        return timeline.build(handle.info, handle.records())
    finally:
        handle.close()


@click.command("show")
@click.argument("run_id")
@_STATE_DIR
@click.pass_context
def show(ctx: click.Context, run_id: str, state_dir: Path | None) -> int:
    """Timeline of RUN_ID: each step, outcome, duration, who, notes, overrides, evidence."""
    from ocsrun.run.timeline import text_lines
    from ocsrun.sanitize import clean

    # One write: a long run has thousands of lines.
    click.echo(clean("\n".join(text_lines(_timeline(ctx, run_id, state_dir)))))
    return 0


@click.command("report")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md")
@_STATE_DIR
@click.pass_context
def report(ctx: click.Context, run_id: str, fmt: str, state_dir: Path | None) -> int:
    """A hand-over / change-record document for RUN_ID."""
    timeline = _timeline(ctx, run_id, state_dir)
    if fmt == "json":
        click.echo(json.dumps(timeline.as_data(), indent=2, ensure_ascii=False))
    else:
        click.echo(markdown(timeline))
    return 0


def _cell(text: object) -> str:
    from ocsrun.sanitize import clean_line

    return clean_line(str(text), 300).replace("|", "\\|")


def markdown(t: Timeline) -> str:
    from ocsrun.units import format_duration

    kind = "Rehearsal record" if t.rehearsal else "Change record"
    out = [
        f"# {kind}: {_cell(t.runbook['title'])}",
        "",
        f"- Run: `{t.run_id}` — **{t.status}**",
        f"- Runbook: `{_cell(t.runbook['id'])}` version {_cell(t.runbook['version'])}",
        f"- Target: `{_cell(t.target or '-')}`",
        f"- Operators: {', '.join(_cell(o) for o in t.operators) or '-'}",
        f"- Started: {t.started}; last record: {t.ended or '-'}",
    ]
    if t.rehearsal:
        out.append("- **REHEARSAL: nothing was executed.**")
    out += ["", "## Parameters", ""]
    out += [f"- `{_cell(k)}` = `{_cell(v)}`" for k, v in t.params.items()] or ["- none"]
    overrides = [(s.step, o) for s in t.steps for o in s.overrides]
    out += ["", "## Overrides", ""]
    out += [f"- **{_cell(step)}**: {_cell(o)}" for step, o in overrides] or ["- none"]
    out += ["", "## Warnings acknowledged", ""]
    out += [f"- {_cell(w)}" for w in t.warnings] or ["- none"]
    out += [
        "",
        "## Steps",
        "",
        "| step | outcome | attempts | duration | operator | details |",
        "|---|---|---|---|---|---|",
    ]
    for s in t.steps:
        took = format_duration(s.seconds) if s.seconds is not None else "-"
        details = [f"answer {s.answer}"] if s.answer else []
        details += [s.reason] if s.reason else []
        details += [f"note: {n}" for n in s.notes] + [f"failure: {f}" for f in s.failures]
        out.append(
            f"| `{_cell(s.step)}` | {s.outcome} | {s.attempts} | {took} | "
            f"{_cell(s.operator)} | {'<br>'.join(_cell(d) for d in details)} |"
        )
    evidence = [(s.step, e) for s in t.steps for e in s.evidence]
    out += ["", "## Evidence", ""]
    out += [
        f"- `{_cell(step)}` {e['result']}: `{_cell(e['path'])}` {e['size']} bytes, "
        f"sha256 `{e['sha256']}` ({e['at']})"
        for step, e in evidence
    ] or ["- none"]
    out += ["", "## Run events", ""]
    out += [f"- {_cell(e)}" for e in t.events] or ["- none"]
    return "\n".join(out) + "\n"
