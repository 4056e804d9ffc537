"""The bundled runbooks, and turning a RUNBOOK argument into a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocsrun.errors import RunbookNotFound
from ocsrun.runbook import resources


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    section: str
    path: Path

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "section": self.section, "path": str(self.path)}


def _metadata(path: Path) -> dict[str, Any] | None:
    from ocsrun.errors import LoadError
    from ocsrun.runbook.loader import load_document

    try:
        data = load_document(path).data
    except LoadError:
        return None
    if not isinstance(data, dict) or data.get("kind") != "runbook":
        return None
    meta = data.get("metadata")
    return meta if isinstance(meta, dict) else None


def runbook_id(path: Path) -> str | None:
    """The id of the runbook in the file, if it is one (not a fragment) and loads."""
    meta = _metadata(path)
    found = meta.get("id") if meta is not None else None
    return found if isinstance(found, str) else None


def bundled() -> list[Entry]:
    root = resources.runbooks_dir()
    entries = []
    for path in sorted(root.rglob("*.y*ml")):
        meta = _metadata(path)
        if meta is None or not isinstance(meta.get("id"), str):
            continue
        source = meta.get("source")
        if not isinstance(source, dict):
            source = {}
        entries.append(
            Entry(str(meta["id"]), str(meta.get("title", "")), str(source.get("section", "")), path)
        )
    return entries


def resolve(argument: str) -> Path:
    """A path to a runbook file, or the id of a bundled one."""
    path = Path(argument)
    if path.is_file():
        return path
    if path.exists():
        # A FIFO or device would block or never end; a directory is not one runbook.
        raise RunbookNotFound(f"{argument}: not a regular file")
    for entry in bundled():
        if entry.id == argument:
            return entry.path
    if path.suffix in {".yaml", ".yml"} or "/" in argument:
        raise RunbookNotFound(f"no such runbook file: {argument}")
    known = ", ".join(e.id for e in bundled()) or "none"
    raise RunbookNotFound(f"no runbook file or bundled id {argument!r} (bundled: {known})")
