"""A runbook's source files, kept with a run so the run can be resumed without them.

`collect` reads the top-level file and every fragment it includes (`uses:`, followed through
fragments), keyed by their path relative to the top-level file's directory, with the same
layout the includes rely on. `materialise` writes such a set into a private directory, where
the ordinary loader validates and builds it again: a copy goes through the same door as the
original file, so nothing is trusted because it came from run state.

Run state never holds a secret: the default of a `secret: true` param (a bad habit the rules
already flag) is replaced in the copy by the same "***" the model snapshot shows. A file whose
secret default cannot be removed that way (it also appears elsewhere in the text, through an
anchor for example) makes `collect` return None: that run then needs its original file to
resume, as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from yaml.nodes import Node

from ocsrun import safe_io
from ocsrun.runbook import model as m
from ocsrun.runbook.loader import MAX_FILE_BYTES, Document, child_node, load_text

REDACTED = "***"  # the snapshot's form of a secret default (ocsrun.run.events.SECRET)
_QUOTED_REDACTED = f'"{REDACTED}"'


def collect(path: Path, runbook: m.Runbook) -> dict[str, str] | None:
    """{relative path: text} for the runbook at `path` and its fragments; None if unsafe."""
    files: dict[str, str] = {}
    root = path.parent
    pending = [(PurePosixPath(path.name), runbook.steps)]
    while pending:
        relative, steps = pending.pop()
        key = relative.as_posix()
        if key in files:
            continue
        text = _redacted(safe_io.read_regular(root / relative, MAX_FILE_BYTES), key)
        if text is None:
            return None
        files[key] = text
        pending.extend(
            (relative.parent / call.path, call.steps) for call in _calls(steps) if call.path
        )
    return files


def _calls(steps: Iterable[m.Step]) -> Iterable[m.Call]:
    for step in steps:
        if step.call is not None:
            yield step.call  # its own calls are relative to the fragment: walked from there
        elif step.for_each is not None:
            yield from _calls(step.for_each.steps)


def _redacted(data: bytes, display: str) -> str | None:
    text = data.decode("utf-8")
    document = load_text(data, display)
    secrets = _secret_defaults(document)
    if not secrets:
        return text
    # Replace from the end so earlier offsets stay valid.
    for node, _value in sorted(secrets, key=lambda item: -item[0].start_mark.index):
        start, end = node.start_mark.index, node.end_mark.index
        text = text[:start] + _QUOTED_REDACTED + text[end:]
    # An anchor could carry the value somewhere else: read the copy back, and refuse it if the
    # secret is still one of its values.
    values = {value for _node, value in secrets}
    if values & set(_scalars(load_text(text.encode("utf-8"), display).data)):
        return None
    return text


def _scalars(value: object) -> Iterable[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _scalars(item)
    elif value is not None:
        yield str(value)


def _secret_defaults(document: Document) -> list[tuple[Node, str]]:
    params = document.data.get("params")
    if not isinstance(params, Mapping) or document.root is None:
        return []
    found = []
    for name, spec in params.items():
        if not isinstance(spec, Mapping) or not spec.get("secret") or "default" not in spec:
            continue
        node: Node | None = document.root
        for part in ("params", str(name), "default"):
            node = child_node(node, part) if node is not None else None
        if node is None:
            continue
        value = spec["default"]
        found.append((node, str(value)))
    return found


def materialise(files: Mapping[str, str], main: str, into: Path) -> Path:
    """Write `files` under `into` (an empty private directory); the path of `main` there."""
    for name, text in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"unsafe source path {name!r}")
        target = into.joinpath(*relative.parts)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(text.encode("utf-8"))
    return into.joinpath(*PurePosixPath(main).parts)
