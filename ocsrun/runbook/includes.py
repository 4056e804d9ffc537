"""Fragment includes (`uses:`): where a reference points, and the fragments it loads.

A reference is resolved relative to the including file and must stay inside the directory of
the top-level runbook, so a runbook directory can be reviewed, copied and bundled as a unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ocsrun.errors import LoadError, Position
from ocsrun.runbook.loader import Document, load_document

# Fragments calling fragments: deeper than this is a runbook nobody can review, and each level
# costs a stack frame in the builder, the executor, render and diff.
MAX_INCLUDE_DEPTH = 16


def ref_problem(ref: str) -> str | None:
    """Why a `uses:` reference may not be followed, from its text alone (absolute, or `..`)."""
    posix, windows = PurePosixPath(ref), PureWindowsPath(ref)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ref.startswith(("/", "\\")):
        return f"include '{ref}' is an absolute path; give it relative to this file"
    if ".." in posix.parts or ".." in windows.parts:
        return f"include '{ref}' uses '..'; fragments must stay inside the runbook's directory"
    return None


def resolve_include(including_file: Path, root_dir: Path, ref: str) -> Path:
    """The file a `uses:` reference names; LoadError include-escape / unknown-include otherwise."""
    where = Position(str(including_file))
    problem = ref_problem(ref)
    if problem:
        raise LoadError(problem, where, rule="include-escape")
    candidate = including_file.parent / ref
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise LoadError(f"include '{ref}' does not exist", where, rule="unknown-include") from None
    if not resolved.is_relative_to(root_dir.resolve()):
        raise LoadError(
            f"include '{ref}' resolves outside the runbook's directory",
            where,
            rule="include-escape",
        )
    if not resolved.is_file():
        raise LoadError(f"include '{ref}' is not a file", where, rule="unknown-include")
    return resolved


def uses_refs(steps: Any) -> Iterator[str]:
    """Every `uses:` reference in a list of steps, nested for_each steps included."""
    for step in steps if isinstance(steps, list) else ():
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("uses"), str):
            yield step["uses"]
        loop = step.get("for_each")
        if isinstance(loop, dict):
            yield from uses_refs(loop.get("steps"))


@dataclass
class FragmentCache:
    """Fragments loaded (and their includes followed) once per validation run, however many
    runbooks include them."""

    loaded: dict[Path, Document | LoadError] = field(default_factory=dict)
    reachable: dict[tuple[Path, Path], frozenset[Path]] = field(default_factory=dict)
    chains: dict[tuple[Path, Path], tuple[frozenset[Path], bool]] = field(default_factory=dict)
    # The files each fragment includes directly (its references resolved once: resolving is a
    # realpath, a system call per path component, and chains look at each fragment 16 times).
    targets: dict[tuple[Path, Path], tuple[Path, ...]] = field(default_factory=dict)
    # (directory of the including file, root, reference) -> the file, or (message, rule) of why
    # not: every runbook in a directory makes the same few references.
    resolved: dict[tuple[Path, Path, str], Path | tuple[str, str]] = field(default_factory=dict)
    real: dict[Path, Path] = field(default_factory=dict)

    def direct(self, fragment: Path, root_dir: Path) -> tuple[Path, ...]:
        """The files the fragment's `uses:` name, those that resolve (the others are reported
        where the reference is)."""
        key = (fragment, root_dir)
        if key not in self.targets:
            document = self.get(fragment)
            found: list[Path] = []
            if not isinstance(document, LoadError):
                for ref in uses_refs(document.data.get("steps")):
                    try:
                        found.append(self.resolve(fragment, root_dir, ref))
                    except LoadError:
                        continue
            self.targets[key] = tuple(found)
        return self.targets[key]

    def resolve(self, including_file: Path, root_dir: Path, ref: str) -> Path:
        """`resolve_include`, answered once per directory, root and reference in this run."""
        key = (including_file.parent, root_dir, ref)
        found = self.resolved.get(key)
        if found is None:
            try:
                found = resolve_include(including_file, root_dir, ref)
            except LoadError as error:
                found = (error.message, error.rule)
            self.resolved[key] = found
        if isinstance(found, tuple):
            raise LoadError(found[0], Position(str(including_file)), rule=found[1])
        return found

    def realpath(self, path: Path) -> Path:
        """`path.resolve()`, once per path in this run."""
        found = self.real.get(path)
        if found is None:
            found = self.real[path] = path.resolve()
        return found

    def includes(self, fragment: Path, root_dir: Path) -> frozenset[Path]:
        """Every file the fragment includes, directly or through others (itself, in a cycle)."""
        key = (fragment, root_dir)
        if key not in self.reachable:
            self.reachable[key] = self._follow(fragment, root_dir)
        return self.reachable[key]

    def _follow(self, start: Path, root_dir: Path) -> frozenset[Path]:
        seen: set[Path] = set()
        todo = [start]
        while todo:  # iterative: a long include chain must not exhaust the stack
            current = todo.pop()
            for target in self.direct(current, root_dir):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return frozenset(seen)

    def chain(self, fragment: Path, root_dir: Path) -> tuple[frozenset[Path], bool]:
        """The files reached from `fragment` within MAX_INCLUDE_DEPTH - 1 further levels, and
        whether the chain goes on past them (so that the including file, the fragment and the
        rest exceed MAX_INCLUDE_DEPTH levels; a cycle goes on forever).

        Level by level (the set of files at each depth), so the work per fragment is bounded
        by the depth limit, whatever the shape: a 400-fragment chain costs 400 x 16 look-ups
        for the rules, not 400 x 400."""
        key = (fragment, root_dir)
        if key not in self.chains:
            self.chains[key] = self._levels(fragment, root_dir)
        return self.chains[key]

    def _levels(self, fragment: Path, root_dir: Path) -> tuple[frozenset[Path], bool]:
        reached: set[Path] = set()
        level = {fragment}
        for _ in range(MAX_INCLUDE_DEPTH - 1):
            following: set[Path] = set()
            for current in level:
                following.update(self.direct(current, root_dir))
            if not following:
                return frozenset(reached), False
            reached |= following
            level = following
        return frozenset(reached), True

    def get(self, path: Path) -> Document | LoadError:
        if path not in self.loaded:
            try:
                self.loaded[path] = load_document(path)
            except LoadError as error:
                self.loaded[path] = error
        return self.loaded[path]
