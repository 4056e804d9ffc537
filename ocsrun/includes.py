"""Fragment includes (`uses:`): where a reference points, and the fragments it loads.

A reference is resolved relative to the including file and must stay inside the directory of
the top-level runbook, so a runbook directory can be reviewed, copied and bundled as a unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from ocsrun.errors import LoadError, Position
from ocsrun.loader import Document, load_document


def resolve_include(including_file: Path, root_dir: Path, ref: str) -> Path:
    """The file a `uses:` reference names; LoadError include-escape / unknown-include otherwise."""
    where = Position(str(including_file))
    posix, windows = PurePosixPath(ref), PureWindowsPath(ref)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ref.startswith(("/", "\\")):
        raise LoadError(
            f"include '{ref}' is an absolute path; give it relative to this file",
            where,
            rule="include-escape",
        )
    if ".." in posix.parts or ".." in windows.parts:
        raise LoadError(
            f"include '{ref}' uses '..'; fragments must stay inside the runbook's directory",
            where,
            rule="include-escape",
        )
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


@dataclass
class FragmentCache:
    """Fragments loaded once per validation run, however many runbooks include them."""

    loaded: dict[Path, Document | LoadError] = field(default_factory=dict)

    def get(self, path: Path) -> Document | LoadError:
        if path not in self.loaded:
            try:
                self.loaded[path] = load_document(path)
            except LoadError as error:
                self.loaded[path] = error
        return self.loaded[path]
