"""Starting points: a new runbook or fragment (`ocsrun new`), and the schema where the user's
editor finds it (`ocsrun init`, `ocsrun schema --output`).

Every runbook starts with `# yaml-language-server: $schema=<path>`; the path must name a schema
file that exists where the user is, not in a checkout of ocsrun. `ocsrun init` writes that file
(`schemas/runbook.schema.json` next to the runbooks directory) and maps it onto every YAML file
under the runbooks directory in `.vscode/settings.json`; `ocsrun new` points its schema line at
the nearest such file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocsrun.errors import UsageError
from ocsrun.runbook.document import write_atomically
from ocsrun.runbook.resources import SCHEMA_FILE, schema_path

SCHEMA_DIR = "schemas"
SCHEMA_LINE = "# yaml-language-server: $schema="
_RUNBOOK_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_VSCODE = Path(".vscode") / "settings.json"


def schema_bytes() -> bytes:
    return schema_path().read_bytes()


def write_schema(target: Path) -> Path:
    """The bundled schema written to target (its directory created), atomically."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, schema_bytes())
    except OSError as error:
        raise UsageError(f"cannot write '{target}': {error.strerror or error}") from None
    return target


# --- ocsrun init ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Initialised:
    schema: Path
    settings: Path
    pattern: str


def init(runbooks_dir: Path) -> Initialised:
    """Write `schemas/runbook.schema.json` beside runbooks_dir and map it, in the workspace's
    `.vscode/settings.json` (the directory holding runbooks_dir), onto `<dir>/**/*.yaml`."""
    workspace = runbooks_dir.resolve().parent
    try:
        runbooks_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create '{runbooks_dir}': {error.strerror or error}") from None
    schema = write_schema(workspace / SCHEMA_DIR / SCHEMA_FILE)
    settings = workspace / _VSCODE
    pattern = f"{runbooks_dir.resolve().name}/**/*.yaml"
    current = _read_settings(settings)
    mapping = current.get("yaml.schemas")
    if mapping is not None and not isinstance(mapping, dict):
        raise UsageError(f"{settings}: 'yaml.schemas' is not an object; add the mapping by hand")
    merged = dict(mapping or {})
    key = f"./{SCHEMA_DIR}/{SCHEMA_FILE}"
    globs = merged.get(key)
    listed = [globs] if isinstance(globs, str) else list(globs or [])
    if pattern not in listed:
        listed.append(pattern)
    merged[key] = listed
    current["yaml.schemas"] = merged
    try:
        settings.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(settings, (json.dumps(current, indent=2) + "\n").encode("utf-8"))
    except OSError as error:
        raise UsageError(f"cannot write '{settings}': {error.strerror or error}") from None
    return Initialised(schema, settings, pattern)


def _read_settings(settings: Path) -> dict[str, Any]:
    if not settings.exists():
        return {}
    try:
        loaded = json.loads(settings.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        # VS Code allows comments in settings.json; rewriting it would drop them.
        raise UsageError(
            f"{settings} is not plain JSON (comments?); add to it by hand: "
            f'"yaml.schemas": {{"./{SCHEMA_DIR}/{SCHEMA_FILE}": ["<runbooks dir>/**/*.yaml"]}}'
        ) from None
    if not isinstance(loaded, dict):
        raise UsageError(f"{settings}: the top level is not an object")
    return loaded


# --- ocsrun new -------------------------------------------------------------------------------


def find_schema(start: Path) -> Path | None:
    """The nearest `schemas/runbook.schema.json` in start or a directory above it."""
    for directory in [start, *start.parents]:
        candidate = directory / SCHEMA_DIR / SCHEMA_FILE
        if candidate.is_file():
            return candidate
    return None


def schema_reference(file: Path) -> tuple[str, bool]:
    """What the new file's schema line names, relative to the file, and whether it exists."""
    folder = file.resolve().parent
    found = find_schema(folder)
    target = found if found is not None else Path.cwd().resolve() / SCHEMA_DIR / SCHEMA_FILE
    return Path(os.path.relpath(target, folder)).as_posix(), found is not None


def skeleton(runbook_id: str, kind: str, schema_ref: str) -> str:
    title = runbook_id.rsplit(".", 1)[-1].replace("-", " ").capitalize()
    lines = [
        f"{SCHEMA_LINE}{schema_ref}",
        "format: ocsrun/v1",
        f"kind: {kind}",
        "metadata:",
        f"  id: {runbook_id}",
        f"  title: {title}",
        "  version: 0.1.0",
        "  summary: What this procedure does, and when to use it.",
        "  source:",
        "    document: The document this procedure comes from",
        "    section: The section it follows",
    ]
    if kind == "runbook":
        lines += [
            "  target:",
            "    description: The server this runbook works on",
            "    example: server01.example.com",
        ]
    lines += [
        "steps:",
        "  - id: first-step",
        "    title: First step",
        "    instructions: What the operator does, in the source's words.",
        "  - id: check",
        "    title: Check the result",
        "    gate:",
        "      type: confirm",
        "      prompt: The first step worked as described.",
    ]
    return "\n".join(lines) + "\n"


def new_file(
    runbook_id: str, output: Path, *, kind: str = "runbook", source: Path | None = None
) -> bool:
    """Write a new runbook (or fragment) at output; True when the schema file was found.

    From scratch it is a skeleton that validates; with `source` it is a copy of that runbook
    with the new id and a schema line that resolves from where the copy is.
    """
    if not _RUNBOOK_ID.match(runbook_id):
        raise UsageError(
            f"'{runbook_id}' is not a runbook id (lower case letters, digits, '.' and '-')"
        )
    if output.exists():
        raise UsageError(f"'{output}' already exists; choose another --output")
    reference, found = schema_reference(output)
    if source is None:
        text = skeleton(runbook_id, kind, reference)
    else:
        text = _copied(source, runbook_id, reference)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise UsageError(f"'{output}' already exists; choose another --output") from None
    except OSError as error:
        raise UsageError(f"cannot write '{output}': {error.strerror or error}") from None
    return found


def _copied(source: Path, runbook_id: str, reference: str) -> str:
    from ocsrun.runbook.document import load_document

    document = load_document(source)
    data = document.data
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        raise UsageError(f"{source}: no metadata mapping to give a new id")
    metadata["id"] = runbook_id
    text = document.dump()
    first, _, rest = text.partition("\n")
    if first.startswith(SCHEMA_LINE):
        return f"{SCHEMA_LINE}{reference}\n{rest}"
    return f"{SCHEMA_LINE}{reference}\n{text}"
