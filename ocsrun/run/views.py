"""Run views: what `ocsrun runs ...` and the web view show, as plain data and text.

Every function here reads run state only through the store protocol (`RunStore`,
`RunSummary`, `VerifyReport`) and returns data or text; none prints, so the command
line and a web page call the same code and show the same facts. Nothing shown here
can hold a secret: the journal and run records never store one (see ocsrun.run.events).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocsrun.gc_pause import gc_paused
from ocsrun.sanitize import clean, clean_line
from ocsrun.store.protocol import (
    TORN_TAIL,
    Record,
    RunBrief,
    RunStore,
    RunSummary,
    VerifyProblem,
    VerifyReport,
    brief_of,
)
from ocsrun.units import format_duration

if TYPE_CHECKING:
    # Imported where a run is folded: `runs list` never needs the timeline.
    from ocsrun.run.timeline import Timeline
    from ocsrun.runbook.model import Runbook

# --- the run list ---------------------------------------------------------------------

COLUMNS = ("RUN ID", "RUNBOOK", "TARGET", "STATUS", "STARTED", "OPERATOR", "RECORDS")


def summary_data(summary: RunSummary) -> dict[str, Any]:
    """One run of `runs list --format json` and `/api/runs` (a stable shape)."""
    info = summary.info
    return {
        "run_id": info.run_id,
        "runbook_id": info.runbook_id,
        "runbook_title": info.runbook_title,
        "runbook_version": info.runbook_version,
        "target": info.target,
        "status": summary.status,
        "started": info.started,
        "operator": info.operator,
        "rehearsal": info.rehearsal,
        "records": summary.records,
        "last_type": summary.last_type,
        "last_ts": summary.last_ts,
        "last_step": summary.last_step,
    }


def summary_row(run: RunBrief | RunSummary) -> tuple[str, ...]:
    """The cells of one run in the list, in COLUMNS order, each one inert line."""
    brief = run if type(run) is RunBrief else brief_of(run)  # type: ignore[arg-type]
    run_id, runbook_id, target, status, rehearsal, started, operator, records = brief
    # The target and runbook id came from a command line or a runbook: one inert line each.
    return (
        run_id,
        clean_line(runbook_id, 80),
        clean_line(target or "-", 80),
        status + " (rehearsal)" if rehearsal else status,
        started,
        clean_line(operator, 80),
        str(records),
    )


def runs_table(runs: Sequence[RunBrief | RunSummary]) -> str:
    """`runs list` as aligned columns, header first, one line per run (`RunStore.list_briefs`
    gives what it needs; summaries show the same)."""
    with gc_paused():  # a tuple per run, none in a cycle
        rows = [COLUMNS, *map(summary_row, runs)]
        widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
        # One format per line (cells padded as str.ljust does): 10,000 runs are 70,000 cells.
        line = "  ".join(f"{{:<{width}}}" for width in widths).format
        return "\n".join([line(*row).rstrip() for row in rows])


def runs_json(summaries: Iterable[RunSummary]) -> str:
    return json.dumps([summary_data(s) for s in summaries], indent=2)


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list; an empty field matches every run. Text fields match exactly,
    except `text`, a case-insensitive substring of runbook id, target or operator."""

    runbook: str = ""
    target: str = ""
    operator: str = ""
    status: str = ""  # running | finished | aborted | interrupted | failed | unknown
    text: str = ""

    def matches(self, summary: RunSummary) -> bool:
        info = summary.info
        checks = (
            (self.runbook, info.runbook_id),
            (self.target, info.target or ""),
            (self.operator, info.operator),
            (self.status, summary.status),
        )
        if any(wanted and wanted != actual for wanted, actual in checks):
            return False
        if self.text:
            needle = self.text.casefold()
            haystack = (info.runbook_id, info.target or "", info.operator, info.run_id)
            return any(needle in value.casefold() for value in haystack)
        return True


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: tuple[RunSummary, ...]
    total: int  # runs matching the filter
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.runs) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


def list_runs(
    store: RunStore, where: RunFilter | None = None, *, offset: int = 0, limit: int | None = None
) -> RunPage:
    """Runs newest first, filtered, one page of them (`limit` None: all)."""
    runs = store.list_runs()
    found = runs if where is None or where == RunFilter() else [s for s in runs if where.matches(s)]
    offset = max(0, offset)
    end = len(found) if limit is None else offset + max(0, limit)
    return RunPage(tuple(found[offset:end]), len(found), offset, end - offset)


# --- one run --------------------------------------------------------------------------


def load_timeline(store: RunStore, run_id: str) -> Timeline:
    """Fold RUN_ID's journal into its timeline (raises StateError for an unknown run)."""
    from ocsrun.run.timeline import build

    handle = store.open_run(run_id)
    try:
        return build(handle.info, handle.records())
    finally:
        handle.close()


def timeline_text(timeline: Timeline) -> str:
    """`runs show`: a header, then one line per step with its details indented below."""
    t = timeline
    head = [
        f"Run {t.run_id}{' (REHEARSAL)' if t.rehearsal else ''}: {t.status}",
        f"Runbook: {t.runbook['id']} {t.runbook['version']} — {t.runbook['title']}",
        f"Target: {t.target or '-'}   Operators: {', '.join(t.operators) or '-'}",
        f"Started: {t.started}   Last record: {t.ended or '-'}",
        f"head: {t.head or '-'}",
    ]
    head += [f"Param {k} = {v}" for k, v in t.params.items()]
    head += [f"Warning acknowledged: {w}" for w in t.warnings]
    head += [f"Event: {e}" for e in t.events]
    body = []
    for s in t.steps:
        took = format_duration(s.seconds) if s.seconds is not None else "-"
        tries = f" x{s.attempts}" if s.attempts > 1 else ""
        number = f"{s.number} " if s.number else ""
        body.append(f"{s.outcome:<12} {took:>7}{tries:<4} {number}{s.step}  [{s.operator}]")
        extra = [f"answer: {s.answer}"] if s.answer else []
        extra += [f"reason: {s.reason}"] if s.reason else []
        extra += [f"note: {n}" for n in s.notes]
        extra += [f"OVERRIDE: {o}" for o in s.overrides]
        extra += [f"failure: {f}" for f in s.failures]
        extra += s.history
        extra += [
            f"evidence {e['result']}: {e['path']} {e['size']} bytes sha256 {e['sha256']}"
            for e in s.evidence
        ]
        body += [f"{'':>26}{x}" for x in extra]
    # Journal values came from operators and runbooks: no terminal escapes get through.
    return clean("\n".join([*head, "", *body]))


def report_data(timeline: Timeline) -> dict[str, Any]:
    """`runs report --format json` and `/api/runs/{id}`."""
    return timeline.as_data()


def report_json(timeline: Timeline) -> str:
    return json.dumps(report_data(timeline), indent=2, ensure_ascii=False)


def _cell(text: object) -> str:
    return clean_line(str(text), 300).replace("|", "\\|")


def report_markdown(t: Timeline) -> str:
    """The hand-over / change-record document (`runs report --format md`)."""
    kind = "Rehearsal record" if t.rehearsal else "Change record"
    out = [
        f"# {kind}: {_cell(t.runbook['title'])}",
        "",
        f"- Run: `{t.run_id}` — **{t.status}**",
        f"- Runbook: `{_cell(t.runbook['id'])}` version {_cell(t.runbook['version'])}",
        f"- Target: `{_cell(t.target or '-')}`",
        f"- Operators: {', '.join(_cell(o) for o in t.operators) or '-'}",
        f"- Started: {t.started}; last record: {t.ended or '-'}",
        f"- Journal head: `{t.head or '-'}` (check later: `ocsrun runs verify {t.run_id} "
        f"--head {t.head or 'HASH'}`)",
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
        details += s.history
        out.append(
            f"| {_cell(s.number)} `{_cell(s.step)}` | {s.outcome} | {s.attempts} | {took} | "
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


@dataclass(frozen=True, slots=True)
class RunDetail:
    """One run for a page: its timeline, how many records, the head of its hash chain (the
    last record's hash, "" when none) and the verdict of a full journal check."""

    timeline: Timeline
    records: int
    head: str
    verify: VerifyView

    def as_data(self) -> dict[str, Any]:
        return {
            "run": report_data(self.timeline),
            "records": self.records,
            "head": self.head,
            "verify": {"ok": self.verify.ok, "lines": list(self.verify.lines)},
        }


def run_detail(
    store: RunStore,
    run_id: str,
    verified: MutableMapping[tuple[str, str], VerifyView] | None = None,
) -> RunDetail:
    """RUN_ID's timeline, head hash and journal check. `verified` (the caller's, kept between
    calls) remembers the check of a chain by its head: an unchanged journal is not checked
    again on every page view, a journal with one more record is."""
    from ocsrun.run.timeline import build

    handle = store.open_run(run_id)
    last: list[Record] = []
    count = 0

    def counted(records: Iterable[Record]) -> Iterator[Record]:
        nonlocal count
        for record in records:
            count += 1
            if last:
                last[0] = record
            else:
                last.append(record)
            yield record

    try:
        timeline = build(handle.info, counted(handle.records()))
    finally:
        handle.close()
    head = last[0].hash if last else ""
    key = (run_id, f"{count}:{head}")
    checked = verified.get(key) if verified is not None else None
    if checked is None:
        checked = verify_run(store, run_id)
        if verified is not None:
            verified[key] = checked
    return RunDetail(timeline, count, head, checked)


# --- verify ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyView:
    """A journal check, told: `ok` is False only for real problems (a torn tail warns)."""

    ok: bool
    lines: tuple[str, ...]  # one per problem, then the verdict
    verdict: str  # the last line: "ok: ..." or "FAILED: ..."


def verify_view(report: VerifyReport) -> VerifyView:
    torn = [p for p in report.problems if p.kind == TORN_TAIL]
    real = [p for p in report.problems if p.kind != TORN_TAIL]
    lines = []
    for problem in report.problems:
        seq = f" seq {problem.seq}:" if problem.seq is not None else ""
        prefix = "warning: " if problem.kind == TORN_TAIL else ""
        # Entries are numbered as the store keeps them (lines of a file, rows of a table):
        # no file is named, since not every store has one.
        where = (f"entry {problem.line}:" if problem.line else "journal:") + seq
        lines.append(f"{prefix}{where} {problem.kind}: {problem.message}")
    if real:
        # One line that says it all (run, entry, reason) for a log that keeps only the last.
        first = real[0]
        where = f"entry {first.line}" if first.line else "the journal"
        verdict = (
            f"FAILED: {len(real)} problem{'s' if len(real) != 1 else ''} "
            f"in {report.records} records of run {report.run_id} "
            f"(first: {where}, {first.kind})"
        )
    else:
        tail = " (ignoring a torn last line)" if torn else ""
        verdict = f"ok: {report.records} records, chain intact{tail}"
    return VerifyView(not real, (*lines, verdict), verdict)


def verify_run(store: RunStore, run_id: str, head: str | None = None) -> VerifyView:
    """Check RUN_ID's journal, its run record against run.started, and (given) its head."""
    report = store.verify(run_id)
    extra = list(_run_record_problems(store, run_id))
    last = report.head
    if head is not None:
        if last is None:
            last = _head_of(store, run_id)
        if last != head.lower():
            extra.append(
                VerifyProblem(
                    None,
                    0,
                    "head-mismatch",
                    f"the journal ends at {last or 'no record'}, not at the head written down "
                    f"({head}): records were removed or rewritten after it",
                )
            )
    if extra:
        report = VerifyReport(report.run_id, report.records, (*report.problems, *extra), last)
    return verify_view(report)


def _run_record_problems(store: RunStore, run_id: str) -> Iterable[VerifyProblem]:
    """The run record (a cache) against the chained run.started (the authority)."""
    from ocsrun.errors import OcsrunError
    from ocsrun.run.integrity import info_mismatches

    try:
        handle = store.open_run(run_id)
    except OcsrunError:
        return []  # a damaged journal: the store's own check names the damage
    try:
        found = info_mismatches(handle.info, handle.records(), handle.snapshot())
    except OcsrunError:
        return []
    finally:
        handle.close()
    return [VerifyProblem(1, 1, "run-record-mismatch", problem) for problem in found]


def _head_of(store: RunStore, run_id: str) -> str | None:
    from ocsrun.errors import OcsrunError

    try:
        handle = store.open_run(run_id)
    except OcsrunError:
        return None
    try:
        return handle.head()
    finally:
        handle.close()


# --- the runbook a run used -----------------------------------------------------------


def runbook_of_run(store: RunStore, run_id: str) -> Runbook | None:
    """The runbook as RUN_ID used it, rebuilt from the source files its snapshot keeps and
    validated like any file; None when the run keeps no copy (started by an older ocsrun)."""
    from ocsrun.run.state import runbook_from_snapshot

    handle = store.open_run(run_id)
    try:
        snapshot, shown = handle.snapshot(), handle.info.runbook_path
    finally:
        handle.close()
    return runbook_from_snapshot(run_id, snapshot, shown)
