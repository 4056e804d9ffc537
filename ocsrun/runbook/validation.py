"""Validating runbook files: loader findings, then the schema, then the semantic rules."""

from __future__ import annotations

import gc
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ocsrun.errors import LoadError, Position, UsageError
from ocsrun.gc_pause import gc_paused
from ocsrun.runbook import rules, schema
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.includes import FragmentCache, uses_refs
from ocsrun.runbook.loader import Document, load_document, load_text
from ocsrun.sanitize import visible

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FileResult:
    path: str
    diagnostics: tuple[Diagnostic, ...]
    document: Document | None

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.WARNING)


def validate_file(
    path: Path,
    display: str | None = None,
    *,
    fragments: FragmentCache | None = None,
    text: bytes | None = None,
) -> FileResult:
    """Validate the file at path; `text`, when given, stands for its content (an edited
    document not saved yet), still placed at path for its includes."""
    with gc_paused():
        return _validate_file(path, display, fragments, text)


def _validate_file(
    path: Path, display: str | None, fragments: FragmentCache | None, text: bytes | None
) -> FileResult:
    shown = display if display is not None else str(path)
    try:
        document = _document(path, shown, fragments, text)
    except LoadError as error:
        position = error.position or Position(shown)
        return FileResult(
            shown, (Diagnostic(position, Severity.ERROR, error.message, error.rule),), None
        )
    found = list(document.diagnostics)
    found += schema.check(document)
    context = rules.Context(document, path, path.parent, fragments or FragmentCache())
    found += rules.check(context)
    if document.yaml11:
        found = rules.yaml11.check(found, document.yaml11)
    return FileResult(shown, sorted_diagnostics(found), document)


def _document(
    path: Path, shown: str, fragments: FragmentCache | None, text: bytes | None
) -> Document:
    if text is not None:
        return load_text(text, shown)
    # A fragment the include rules already read (and followed) is not read and parsed again.
    cached = fragments.loaded.get(path) if fragments is not None else None
    if isinstance(cached, Document):
        return cached.shown_as(shown)
    return load_document(path, shown)


def included_fragments(
    path: Path, document: Document | None, fragments: FragmentCache
) -> frozenset[Path]:
    """Every fragment file (resolved) the file at path reaches through `uses:`, directly or
    through other fragments; a reference that does not resolve is the include rules' finding."""
    if document is None:
        return frozenset()
    text = document.text
    if "uses" not in text and "\\" not in text:
        # No `uses` key can be spelled without those letters in a row, or a double-quoted
        # escape: one scan of the text instead of a walk over every step.
        return frozenset()
    found: set[Path] = set()
    for ref in uses_refs(document.data.get("steps")):
        try:
            target = fragments.resolve(path, path.parent, ref)
        except LoadError:
            continue
        found.add(target)
        found |= fragments.includes(target, path.parent)
    found.discard(fragments.realpath(path))
    return frozenset(found)


def fragment_display(
    target: Path,
    including: Path,
    including_display: str,
    fragments: FragmentCache | None = None,
) -> str:
    """How to name a fragment in findings: next to the name the including file was given by."""
    real = fragments.realpath(including) if fragments is not None else including.resolve()
    try:
        relative = target.relative_to(real.parent)
    except ValueError:
        return str(target)
    return str(Path(including_display).parent / relative)


def validate_runbook_tree(path: Path, display: str | None = None) -> list[FileResult]:
    """The file, then every fragment it includes (each with positions in its own file): what
    every command that loads a runbook checks before using it."""
    shown = display if display is not None else str(path)
    fragments = FragmentCache()
    main = validate_file(path, shown, fragments=fragments)
    results = [main]
    for target in sorted(included_fragments(path, main.document, fragments)):
        display = fragment_display(target, path, shown, fragments)
        results.append(validate_file(target, display, fragments=fragments))
    return results


def validate_edited(path: Path, text: bytes, display: str | None = None) -> list[FileResult]:
    """What `ocsrun validate PATH` reports if the file held `text`: the file, the fragments it
    includes, and `related` ids looked up next to it and among the bundled runbooks."""
    shown = display if display is not None else str(path)
    fragments = FragmentCache()
    main = validate_file(path, shown, fragments=fragments, text=text)
    results = [main]
    for target in sorted(included_fragments(path, main.document, fragments)):
        display = fragment_display(target, path, shown, fragments)
        results.append(validate_file(target, display, fragments=fragments))
    return _with_related(results, [path])


def fragments_not_given(
    given: Sequence[Path], reached: Sequence[tuple[Path, str]]
) -> list[tuple[Path, str]]:
    """The (fragment, display) pairs reached from the given files that are not among them,
    first display wins, sorted by display."""
    seen = {file.resolve() for file in given}
    extra: dict[Path, str] = {}
    for target, display in reached:
        if target not in seen:
            extra.setdefault(target, display)
    return sorted(extra.items(), key=lambda item: item[1])


def warm_up() -> None:
    """Import and compile, now, what validating a file needs: jsonschema-rs's schema check and
    the rules' Jinja environment. The parallel path calls it before forking so every worker
    starts warm. Not jsonschema's validator: valid files never reach it."""
    schema.warm_up()
    rules.warm_up()


def sorted_diagnostics(diagnostics: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Unique by (position, rule, message), printable, in report order."""
    unique = {(d.position, d.rule, d.message): _printable(d) for d in diagnostics}
    return tuple(sorted(unique.values(), key=Diagnostic.sort_key))


# Messages quote keys and values from the file; an escape sequence, a bidi override or an
# invisible character in them must show as text, and a newline must not split a report line.
def _printable(diagnostic: Diagnostic) -> Diagnostic:
    message = visible(diagnostic.message)
    if message == diagnostic.message:
        return diagnostic
    return Diagnostic(diagnostic.position, diagnostic.severity, message, diagnostic.rule)


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given, directories recursed for *.yaml / *.yml (sorted, hidden dirs skipped)."""
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in _walk_dir(path, given):
                found.setdefault(file)
        else:
            _check_file(path, given)
            found.setdefault(path)
    return list(found)


def _check_file(path: Path, shown: str) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"no such file or directory: '{shown}'") from None
    except OSError as error:
        raise UsageError(f"cannot read '{shown}': {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"'{shown}' is not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read '{shown}': permission denied")


def _walk_dir(directory: Path, given: str) -> list[Path]:
    files: list[Path] = []

    def fail(error: OSError) -> None:
        raise UsageError(f"cannot read '{given}': {error.strerror or error}")

    for root, dirs, names in os.walk(directory, onerror=fail):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(root) / n for n in names if n.endswith(SUFFIXES) and not n.startswith(".")]
    for file in files:
        _check_file(file, str(file))
    return sorted(files)


def validate_paths(paths: Sequence[str]) -> list[FileResult]:
    if not paths:
        raise UsageError("no paths given; name runbook files or directories to validate")
    fragments = FragmentCache()
    results = []
    files = expand_paths(paths)
    reached: list[tuple[Path, str]] = []
    with gc_paused_for_batch():
        for file in files:
            result = validate_file(file, str(file), fragments=fragments)
            results.append(result)
            for target in sorted(included_fragments(file, result.document, fragments)):
                reached.append((target, fragment_display(target, file, str(file), fragments)))
            # Every result keeps its document (data and node tree: acyclic, long-lived). Left
            # to the cyclic GC, each collection would walk all earlier documents again, making
            # a large batch quadratic; freezing moves them out of its sight.
            gc.freeze()
        # A fragment is checked wherever a runbook that includes it is, given or not.
        for target, display in fragments_not_given(files, reached):
            results.append(validate_file(target, display, fragments=fragments))
    return _with_related(results, files)


@contextmanager
def gc_paused_for_batch() -> Iterator[None]:
    """No cyclic collection while a batch of files is validated (the caller freezes what is
    left after each file); afterwards the frozen objects are handed back to the collector.

    Pausing it per file (`validate_file`'s gc_paused) is not enough in a batch: the
    allocations made while it was paused still count once it is enabled again, so the first
    allocation after each file started a collection over that whole file's still-live node
    tree (a tenth of the CPU time on 1,000 files). A garbage cycle made meanwhile is kept
    until the next collection after the batch."""
    already_frozen = gc.get_freeze_count()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not already_frozen:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _with_related(results: list[FileResult], files: Sequence[Path]) -> list[FileResult]:
    """unknown-related: needs every file validated together, so it runs after them all."""
    # Only string ids: another type is a schema error (a list id would not even be hashable).
    ids = (d.data["metadata"].get("id") for r in results if (d := r.document) and has_metadata(d))
    known: set[object] = {i for i in ids if isinstance(i, str)}
    wanted = {
        name
        for r in results
        if (d := r.document) and has_metadata(d)
        for name in related_names(d)
        if name not in known
    }
    known |= known_elsewhere(wanted, files)
    updated = []
    for result in results:
        document = result.document
        extra = [] if document is None else list(unknown_related(document, known))
        updated.append(
            FileResult(result.path, sorted_diagnostics([*result.diagnostics, *extra]), document)
            if extra
            else result
        )
    return updated


def related_names(document: Document) -> list[str]:
    related = document.data["metadata"].get("related")
    return [name for name in related if isinstance(name, str)] if isinstance(related, list) else []


def known_elsewhere(names: set[str], files: Sequence[Path]) -> set[str]:
    """Which of `names` are the id of a runbook next to one of `files` (same directory) or of
    a bundled runbook: `validate FILE` must not warn that a sibling it was not given is
    unknown. Looked up only for names the validated files did not provide."""
    if not names:
        return set()
    from ocsrun.runbook import catalog

    found: set[str] = set()
    given = {file.resolve() for file in files}
    for directory in sorted({file.parent for file in files}):
        for candidate in sorted(directory.glob("*.y*ml")):
            if candidate.resolve() in given or not candidate.is_file():
                continue
            runbook_id = catalog.runbook_id(candidate)
            if runbook_id in names:
                found.add(runbook_id)
        if found == names:
            return found
    return found | {entry.id for entry in catalog.bundled() if entry.id in names}


def has_metadata(document: Document) -> bool:
    """The document has a `metadata` mapping (so its id counts for unknown-related)."""
    return isinstance(document.data.get("metadata"), dict)


def unknown_related(document: Document, known: set[object]) -> list[Diagnostic]:
    """One warning per `metadata.related` name not in `known`, in the file's order."""
    if not has_metadata(document):
        return []
    related = document.data["metadata"].get("related")
    found = []
    for index, name in enumerate(related if isinstance(related, list) else []):
        if isinstance(name, str) and name not in known:
            found.append(
                Diagnostic(
                    document.position(["metadata", "related", index]),
                    Severity.WARNING,
                    f"related runbook '{name}' is not among the files validated, next to "
                    "them, or bundled",
                    "unknown-related",
                )
            )
    return found
