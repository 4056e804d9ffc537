"""Validating many files on several cores (`ocsrun validate --jobs N`).

Files are cut into contiguous chunks and validated in a process pool; results come back in
the order of `paths`, exactly as the serial loop produces them, so the report is the same
byte for byte whatever N is. Two details keep it fast:

* The parent imports and compiles everything heavy (jsonschema, the compiled schema check,
  Jinja2) *before* the pool starts, and the pool forks where the platform allows, so each
  worker starts warm instead of paying the imports again.
* Workers send back only paths and diagnostics, never the parsed document (its YAML node tree
  would cost more to pickle than to validate). `unknown-related` needs every file's id, so the
  workers send each file's id and related ids, and the parent applies the rule at the end,
  as the serial path does.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.includes import FragmentCache
from ocsrun.runbook.validation import (
    FileResult,
    expand_paths,
    fragment_display,
    fragments_not_given,
    gc_paused_for_batch,
    has_metadata,
    included_fragments,
    known_elsewhere,
    sorted_diagnostics,
    unknown_related,
    validate_file,
    validate_paths,
    warm_up,
)

# Below this many files per worker, starting the pool costs more than it saves.
MIN_FILES_PER_JOB = 8
# Small chunks, so the last one to finish leaves the other cores idle only briefly (a chunk of
# 60 files kept a core waiting ~0.4 s); a round trip per chunk costs well under a millisecond.
FILES_PER_CHUNK = 8
MIN_CHUNKS_PER_JOB = 4


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a worker sends back for one file."""

    result: FileResult  # document dropped
    has_id: bool  # the file has a metadata mapping (so its id counts, whatever it is)
    runbook_id: Any  # metadata.id as found, possibly None or not a string
    # (related name, the warning to add if no validated file has that id), in file order
    related: tuple[tuple[str, Diagnostic], ...]
    # (fragment, how to name it) for every fragment the file includes, directly or not
    fragments: tuple[tuple[Path, str], ...] = ()


def resolve_jobs(jobs: int) -> int:
    """0 or less means one job per core."""
    return jobs if jobs > 0 else os.cpu_count() or 1


def validate_parallel(paths: list[Path], jobs: int) -> list[FileResult]:
    """Validate `paths` (already expanded) with up to `jobs` processes, in `paths` order.

    The results equal `validation.validate_paths` on the same files, except that `document`
    is always None: keeping 1,000 parsed documents (text, data and YAML node tree) alive until
    the end would cost hundreds of MiB.
    """
    jobs = min(resolve_jobs(jobs), len(paths) // MIN_FILES_PER_JOB)
    if jobs <= 1:
        return _serial(paths)
    warm_up()
    chunks = _chunks(paths, max(jobs * MIN_CHUNKS_PER_JOB, len(paths) // FILES_PER_CHUNK))
    # Imported only here: one job (a save hook's single file) does not pay for them.
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
        outcomes = [outcome for chunk in pool.map(_validate_chunk, chunks) for outcome in chunk]
    return _apply_related(_with_fragments(outcomes, paths, FragmentCache()), paths)


def validate_given(given: Sequence[str], jobs: int = 1) -> list[FileResult]:
    """`validation.validate_paths` (same path checks, same usage errors) with `jobs` processes.

    The command line calls this for every `--jobs` value: even with one job it keeps memory
    flat, because no parsed document outlives its file.
    """
    if not given:
        return validate_paths(given)  # raises its "no paths given" usage error
    return validate_parallel(expand_paths(given), jobs)


def _serial(paths: Sequence[Path]) -> list[FileResult]:
    fragments = FragmentCache()
    outcomes = _validate_each(paths, fragments)
    return _apply_related(_with_fragments(outcomes, paths, fragments), paths)


def _with_fragments(
    outcomes: list[_Outcome], paths: Sequence[Path], fragments: FragmentCache
) -> list[_Outcome]:
    """The outcomes, then one for each included fragment that was not among the paths (a
    fragment is checked wherever a runbook that includes it is)."""
    reached = [pair for outcome in outcomes for pair in outcome.fragments]
    extra = fragments_not_given(paths, reached)
    if not extra:
        return outcomes
    more = [
        _outcome(validate_file(target, display, fragments=fragments)) for target, display in extra
    ]
    return outcomes + more


def _validate_each(paths: Sequence[Path], fragments: FragmentCache) -> list[_Outcome]:
    """Validate in order. Each document is dropped as soon as its file is done (only its id and
    related names are kept), so memory stays flat however many files are validated."""
    out = []
    with gc_paused_for_batch():
        for path in paths:
            out.append(_validate_one(path, fragments))
            # A file's node tree lives long enough to reach the oldest GC generation, so full
            # collections come every few files, and each one walked every long-lived object
            # (imported modules, the compiled schema, rule caches): 47 full collections and a
            # third of the CPU time on 1,000 files. Freezing moves what exists now out of the
            # collector's sight; garbage is still freed by reference counting.
            gc.freeze()
    return out


def _validate_one(path: Path, fragments: FragmentCache) -> _Outcome:
    result = validate_file(path, str(path), fragments=fragments)
    reached = tuple(
        (target, fragment_display(target, path, str(path), fragments))
        for target in sorted(included_fragments(path, result.document, fragments))
    )
    return _outcome(result, reached)


def _chunks(paths: Sequence[Path], count: int) -> list[list[Path]]:
    """`count` contiguous, nearly equal slices (none empty), in order."""
    count = max(1, min(count, len(paths)))
    size, extra = divmod(len(paths), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(list(paths[start:end]))
        start = end
    return out


def _context() -> Any:
    # fork shares the parent's already-imported, already-compiled modules with the workers;
    # where it is not available (Windows, macOS default) the platform default still works.
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


# One fragment cache per worker process, kept across its chunks: fragments are shared by many
# runbooks, so each worker loads each fragment once.
_worker_fragments: FragmentCache | None = None


def _validate_chunk(paths: list[Path]) -> list[_Outcome]:
    global _worker_fragments  # noqa: PLW0603  (per-process cache, see above)
    if _worker_fragments is None:
        _worker_fragments = FragmentCache()
    return _validate_each(paths, _worker_fragments)


def _outcome(result: FileResult, fragments: tuple[tuple[Path, str], ...] = ()) -> _Outcome:
    document = result.document
    light = FileResult(result.path, result.diagnostics, None)
    if document is None or not has_metadata(document):
        return _Outcome(light, False, None, (), fragments)
    metadata = document.data["metadata"]
    related = metadata.get("related")
    names = [name for name in related if isinstance(name, str)] if isinstance(related, list) else []
    # With no known ids, the rule warns about every name; keep each warning with its name so
    # the parent can drop the ones another file's id satisfies.
    warnings = unknown_related(document, set())
    pairs = tuple(zip(names, warnings, strict=True))
    return _Outcome(light, True, metadata.get("id"), pairs, fragments)


def _apply_related(outcomes: list[_Outcome], paths: Sequence[Path]) -> list[FileResult]:
    # Only a string id can equal a related name (an id of another type is a schema error,
    # and may not even be hashable).
    known = {o.runbook_id for o in outcomes if o.has_id and isinstance(o.runbook_id, str)}
    wanted = {name for o in outcomes for name, _ in o.related if name not in known}
    known |= known_elsewhere(wanted, paths)
    results = []
    for outcome in outcomes:
        extra = [warning for name, warning in outcome.related if name not in known]
        result = outcome.result
        if extra:
            result = FileResult(
                result.path, sorted_diagnostics([*result.diagnostics, *extra]), None
            )
        results.append(result)
    return results
