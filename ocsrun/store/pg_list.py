"""`runs list` on the PostgreSQL store: its two queries and what their rows become.

Both read plain columns only: the run record's fields as migration 3 keeps them next to
`info` (stored generated columns, computed by the server when a row is written) and each run's
head as the journal's trigger keeps it (migration 2). The server works out each run's status
from its last record's type, as the local store names it, and `damaged` for a run record
ocsrun did not write (`info_ok` not true: the local store's check of run.json). Rows come in
the local store's order: newest first by the run record's start (a damaged one's being ""),
then run id, in code point order (no locale's rules to apply per pair). So for the same runs
both stores list the same summaries, and the same lines.
"""

from __future__ import annotations

import json
from typing import Any

from ocsrun.store.protocol import STATUS_BY_LAST_TYPE, RunBrief, RunInfo, RunSummary, brief_of

DAMAGED = "damaged"
_STATUS = (
    f"CASE WHEN r.info_ok IS NOT TRUE THEN '{DAMAGED}'"
    + "".join(f" WHEN h.last_type = '{t}' THEN '{s}'" for t, s in STATUS_BY_LAST_TYPE.items())
    + " ELSE 'running' END"
)
_RUNS_AND_HEADS = (
    " FROM ocsrun.runs r LEFT JOIN ocsrun.run_heads h ON h.run_id = r.run_id"
    " ORDER BY (CASE WHEN r.info_ok THEN r.info_started ELSE '' END) COLLATE \"C\" DESC,"
    ' r.run_id COLLATE "C" DESC'
)
# RunInfo's fields in its order, then RunSummary's (status before the last step, as there).
LIST_QUERY = (
    "SELECT r.run_id, r.info_runbook_id, r.info_title, r.info_version, r.info_path,"
    " r.info_target, r.info_operator, r.info_started, r.info_rehearsal, r.info_params,"
    f" r.info_chain, coalesce(h.records, 0), h.last_type, h.last_ts, {_STATUS}, h.last_step"
    + _RUNS_AND_HEADS
)
# RunBrief's fields, in its order.
BRIEF_QUERY = (
    f"SELECT r.run_id, r.info_runbook_id, r.info_target, {_STATUS}, r.info_rehearsal,"
    " r.info_started, r.info_operator, coalesce(h.records, 0)" + _RUNS_AND_HEADS
)


def summaries(rows: list[tuple[Any, ...]]) -> list[RunSummary]:
    """LIST_QUERY's rows as summaries: each row only becomes its two objects."""
    decode = json.JSONDecoder().decode
    found: list[RunSummary] = []
    append = found.append
    for row in rows:
        run_id, runbook_id, title, version, path, target, operator, started = row[:8]
        rehearsal, params, chain, records, last_type, last_ts, status, step = row[8:]
        if status == DAMAGED:
            # Listed as damaged, never dropped silently nor breaking the list of the others.
            append(RunSummary(damaged_info(run_id), 0, None, None, DAMAGED))
            continue
        # Params: the JSON text of an object, NULL when the run has none.
        values = {} if params is None else decode(params)
        info = RunInfo(
            run_id,
            runbook_id,
            title,
            version,
            path,
            target,
            operator,
            started,
            rehearsal,
            values,
            chain,
        )
        append(RunSummary(info, records, last_type, last_ts, status, step))
    return found


def briefs(rows: list[tuple[Any, ...]]) -> list[RunBrief]:
    """BRIEF_QUERY's rows as briefs: a row is a brief as it stands (a damaged run's aside)."""
    make = RunBrief._make
    return [make(row) if row[3] != DAMAGED else damaged_brief(row[0]) for row in rows]


def damaged_info(run_id: str) -> RunInfo:
    """What `runs list` shows of a run whose run record is not what ocsrun writes."""
    return RunInfo(run_id, "?", "?", "?", "?", None, "?", "", False)


def damaged_brief(run_id: str) -> RunBrief:
    return brief_of(RunSummary(damaged_info(run_id), 0, None, None, DAMAGED))
