"""The public Python API of ocsrun (documented in docs/api.md).

    from ocsrun import api

    runbook = api.load("runbooks/ocs2007/deactivate-edge-server.yaml")   # the frozen model
    findings = api.validate(["runbooks"])                                # positions + rule ids
    store = api.open_store(".ocsrun")                                    # a RunStore
    page = api.list_runs(store, api.RunFilter(status="running"), limit=50)
    print(api.report_markdown(api.load_timeline(store, page.runs[0].info.run_id)))

Only what is named in `__all__` is promised; everything else in the package may move.
Importing this module is cheap: the YAML loader, jsonschema and Jinja are imported by the
functions that need them, the first time they are called. `ocsrun --version` does not import
this module at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocsrun.errors import DocumentError, OcsrunError
from ocsrun.run.timeline import StepLine, Timeline
from ocsrun.run.views import (
    RunDetail,
    RunFilter,
    RunPage,
    VerifyView,
    list_runs,
    load_timeline,
    report_data,
    report_json,
    report_markdown,
    run_detail,
    runbook_of_run,
    summary_data,
    timeline_text,
    verify_run,
)
from ocsrun.runbook.diagnostic import Finding
from ocsrun.store.protocol import Record, RunInfo, RunStore, RunSummary

if TYPE_CHECKING:
    from ocsrun.runbook.document import Document
    from ocsrun.runbook.model import Runbook

__all__ = [
    "Document",
    "DocumentError",
    "Finding",
    "OcsrunError",
    "Record",
    "RunDetail",
    "RunFilter",
    "RunInfo",
    "RunPage",
    "RunStore",
    "RunSummary",
    "StepLine",
    "Timeline",
    "VerifyView",
    "list_runs",
    "load",
    "load_document",
    "load_timeline",
    "open_store",
    "report_data",
    "report_json",
    "report_markdown",
    "run_detail",
    "runbook_of_run",
    "summary_data",
    "timeline_text",
    "validate",
    "verify_run",
]


def load(path: str | Path) -> Runbook:
    """The runbook at `path` (or a bundled runbook's id) as the frozen model.

    Raises `ocsrun.errors.RunbookInvalid` (its `.diagnostics` list every error) when the file
    does not validate, `RunbookNotFound` when there is no such file or id.
    """
    from ocsrun.runbook.build import load_runbook
    from ocsrun.runbook.catalog import resolve

    return load_runbook(resolve(str(path)))


def load_document(path: str | Path) -> Document:
    """The runbook or fragment file at `path` as an editable round-trip document: comments,
    quoting, key order and blank lines are kept, so saving with no edits writes the same bytes.

    The file is read with the same guards as `ocsrun validate` (size, encoding, no anchors or
    aliases, no tags, bounded nesting) and raises `ocsrun.errors.LoadError` where it would
    report one. See `ocsrun.runbook.document.Document` for the edits.
    """
    from ocsrun.runbook.document import load_document as load_round_trip

    return load_round_trip(Path(path))


def validate(paths: str | Path | Iterable[str | Path]) -> list[Finding]:
    """Every finding in the runbook files and directories given, as `ocsrun validate` reports
    them (same checks, same order). Raises `ocsrun.errors.UsageError` for a path that is not
    there or cannot be read."""
    from ocsrun.runbook.parallel import validate_given

    given = [str(paths)] if isinstance(paths, str | Path) else [str(p) for p in paths]
    results = validate_given(given, 1)
    return [Finding.of(d) for result in results for d in result.diagnostics]


def open_store(location: str | Path | None = None) -> RunStore:
    """The run store at `location`: a state directory, or a `postgresql://` URL where the
    team store is installed; None means `$OCSRUN_STATE_DIR` or `.ocsrun` here."""
    from ocsrun.store.open import open_store as open_location

    return open_location(location)


def __getattr__(name: str) -> Any:
    # `api.Document` without importing ruamel.yaml when `ocsrun.api` is imported.
    if name == "Document":
        from ocsrun.runbook.document import Document

        return Document
    raise AttributeError(f"module 'ocsrun.api' has no attribute {name!r}")
