"""A runbook file as an editable round-trip document (ruamel.yaml), for programs that change
runbooks: comments, quoting, key order, blank lines and block scalars are kept, so a load and a
save with no edits write the same bytes, and an edit changes only what it touches.

Steps are named by step paths as the journal and answers files write them: ids joined with `.`
through `for_each` steps (`deactivate-roles.wizard`); a `[item]` part is ignored, since a loop's
steps are the same for every item. A path that goes through a `uses:` step names a step in a
fragment: load the fragment to edit it.

The file is first read with the runbook loader's guards (size, encoding, anchors, tags, nesting),
so a document holds nothing the validator would refuse to read.
"""

from __future__ import annotations

import copy
import io
import os
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ocsrun.errors import DocumentError
from ocsrun.runbook.diagnostic import Finding
from ocsrun.runbook.yaml11 import yaml11_reading

_ITEM = re.compile(r"\[[^\]]*\]")


def round_trip_yaml(text: str | None = None) -> Any:
    """A ruamel.yaml round-trip reader/writer set up to reproduce the file's own layout.

    The indentation of mappings and block sequences is guessed from the text (the bundled
    runbooks use 2 and `  - ` under a key); lines are never re-wrapped (a long line stays one
    line); quotes stay as written.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Resolver = _core_resolver()
    yaml.preserve_quotes = True
    yaml.width = 1 << 16
    mapping, sequence, offset = _guess_indent(text or "")
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


@cache
def _core_resolver() -> Any:
    """ruamel.yaml's resolver with the YAML 1.2 core schema, exactly as the runbook loader reads
    plain scalars: ruamel's own 1.2 rules still read dates, `0b1` and `1_000` as non-strings."""
    from ruamel.yaml.resolver import VersionedResolver

    from ocsrun.runbook.loader import CORE_RESOLVERS

    table: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in CORE_RESOLVERS:
        for char in first:
            table.setdefault(char, []).append((tag, re.compile(pattern)))

    class CoreResolver(VersionedResolver):
        @property
        def versioned_resolver(self) -> Any:
            return table

    return CoreResolver


_SEQ_ITEM = re.compile(r"^( *)- ", re.MULTILINE)
_KEY_LINE = re.compile(r"^( *)[^\s#-][^:\n]*:[ \n]", re.MULTILINE)


def _guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the text uses them; 2, 4, 2 if unsure."""
    mapping = 2
    for match in _KEY_LINE.finditer(text):
        width = len(match.group(1))
        if width:
            mapping = width
            break
    offset = 2
    for item in _SEQ_ITEM.finditer(text):
        # The key line above the first block sequence item tells how far the dash is indented.
        before = text.rfind("\n", 0, max(item.start() - 1, 0))
        above = text[before + 1 : item.start()].rstrip("\n")
        if above.rstrip().endswith(":"):
            offset = len(item.group(1)) - (len(above) - len(above.lstrip(" ")))
            break
    offset = max(offset, 0)
    return mapping, offset + 2, offset


def load_document(path: Path) -> Document:
    from ocsrun.runbook.loader import load_document as load_checked

    checked = load_checked(path, str(path))  # LoadError where `ocsrun validate` reports one
    return Document(path, checked.text)


class Document:
    """An open runbook file. Edits change the document in memory; `save` writes it."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self._original = text
        self._yaml = round_trip_yaml(text)
        self._data: Any = self._yaml.load(text)
        self._edited = False

    # --- reading ---------------------------------------------------------------------------

    @property
    def data(self) -> Any:
        """The round-trip data (ruamel's CommentedMap); edit through the methods below."""
        return self._data

    def text(self) -> str:
        """The document as it would be saved."""
        if not self._edited:
            return self._original
        return self.dump()

    def dump(self) -> str:
        """The document written out by ruamel.yaml, even when nothing was edited (a no-op
        dump of every bundled runbook is byte-identical to the file: the tests check it)."""
        out = io.StringIO()
        self._yaml.dump(self._data, out)
        return out.getvalue()

    def step_paths(self) -> list[str]:
        """Every step path in this file, in document order (not into fragments)."""
        return [path for path, _ in _walk(self._data.get("steps"), "")]

    def get(self, step_path: str) -> dict[str, Any]:
        """A plain copy of the step at step_path (changing it changes nothing)."""
        _, index, steps = self._find(step_path)
        return _plain_step(steps[index])

    # --- edits -----------------------------------------------------------------------------

    def set(self, step_path: str, key: str, value: Any) -> None:
        """Set one key of a step (added at the end of the step when new); None removes it.
        Strings that YAML 1.1 would read as something else are written quoted."""
        _, index, steps = self._find(step_path)
        step = steps[index]
        if value is None:
            if key in step:
                del step[key]
        else:
            step[key] = _round_trip_value(value)
        self._edited = True

    def insert_step(
        self, after: str | None, step: Mapping[str, Any], *, into: str | None = None
    ) -> str:
        """Insert a step right after the step at `after`, in the same list; with after=None,
        first in the top-level steps or, with `into`, first in that for_each step's steps.
        Returns the new step's path."""
        if not isinstance(step, Mapping) or not isinstance(step.get("id"), str):
            raise DocumentError("a step to insert is a mapping with a string `id`")
        steps, position, prefix = self._slot(after, into)
        steps.insert(position, _round_trip_value(dict(step)))
        self._edited = True
        return prefix + str(step["id"])

    def remove_step(self, step_path: str) -> dict[str, Any]:
        """Remove the step at step_path; returns it (plain)."""
        _, index, steps = self._find(step_path)
        removed = _plain_step(steps[index])
        del steps[index]
        self._edited = True
        return removed

    def move_step(self, step_path: str, after: str | None, *, into: str | None = None) -> str:
        """Move the step at step_path to just after the step at `after` (or first in the
        top-level list / in `into`'s steps when after is None). Returns its new path."""
        _, index, steps = self._find(step_path)
        moving = steps[index]
        if after is not None and (after == step_path or after.startswith(step_path + ".")):
            raise DocumentError(f"cannot move step '{step_path}' after itself or into itself")
        del steps[index]
        try:
            target, position, prefix = self._slot(after, into)
        except DocumentError:
            steps.insert(index, moving)
            raise
        target.insert(position, moving)
        self._edited = True
        return prefix + str(moving.get("id"))

    # --- checking and saving ---------------------------------------------------------------

    def validate(self) -> list[Finding]:
        """The findings `ocsrun validate FILE` would report if the file held this document
        (its included fragments too), with the same positions."""
        from ocsrun.runbook.validation import validate_edited

        results = validate_edited(self.path, self.text().encode("utf-8"), str(self.path))
        return [Finding.of(d) for result in results for d in result.diagnostics]

    def save(self, path: str | Path | None = None) -> Path:
        """Write the document (to `path`, or where it was loaded from) atomically."""
        target = Path(path) if path is not None else self.path
        data = self.text().encode("utf-8")
        write_atomically(target, data)
        if path is None or target == self.path:
            self._original = data.decode("utf-8")
            self._edited = False
        return target

    # --- finding steps ---------------------------------------------------------------------

    def _find(self, step_path: str) -> tuple[str, int, Any]:
        """(parent path prefix, index, the list holding it) for the step at step_path."""
        parts = [part for part in _ITEM.sub("", step_path).split(".") if part]
        if not parts:
            raise DocumentError("an empty step path names no step")
        steps = self._data.get("steps")
        prefix = ""
        for depth, part in enumerate(parts):
            index = _index_of(steps, part)
            if index is None:
                raise DocumentError(f"no step '{prefix + part}' in {self.path}")
            if depth == len(parts) - 1:
                return prefix, index, steps
            step = steps[index]
            if "uses" in step:
                raise DocumentError(
                    f"step '{prefix + part}' calls the fragment {step['uses']}: load that file "
                    "to edit its steps"
                )
            loop = step.get("for_each")
            if not isinstance(loop, Mapping) or not isinstance(loop.get("steps"), list):
                raise DocumentError(f"step '{prefix + part}' has no nested steps")
            steps = loop["steps"]
            prefix += part + "."
        raise DocumentError(f"no step '{step_path}'")  # not reached: parts is not empty

    def _slot(self, after: str | None, into: str | None) -> tuple[Any, int, str]:
        """(list, index to insert at, path prefix of that list) for an insertion."""
        if after is not None:
            prefix, index, steps = self._find(after)
            return steps, index + 1, prefix
        if into is None:
            steps = self._data.get("steps")
            if not isinstance(steps, list):
                raise DocumentError(f"{self.path} has no list of steps")
            return steps, 0, ""
        prefix, index, steps = self._find(into)
        loop = steps[index].get("for_each")
        if not isinstance(loop, Mapping) or not isinstance(loop.get("steps"), list):
            raise DocumentError(f"step '{into}' is not a for_each step")
        return loop["steps"], 0, f"{prefix}{steps[index]['id']}."


def write_atomically(target: Path, data: bytes) -> None:
    """Replace the file's content at once: a crash leaves the old file or the new one."""
    temporary = target.with_name(f".{target.name}.ocsrun-tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)


def _index_of(steps: Any, step_id: str) -> int | None:
    if not isinstance(steps, list):
        return None
    for index, step in enumerate(steps):
        if isinstance(step, Mapping) and step.get("id") == step_id:
            return index
    return None


def _walk(steps: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for step in steps if isinstance(steps, list) else ():
        if not isinstance(step, Mapping) or not isinstance(step.get("id"), str):
            continue
        path = prefix + step["id"]
        yield path, step
        loop = step.get("for_each")
        if isinstance(loop, Mapping):
            yield from _walk(loop.get("steps"), path + ".")


def _plain(value: Any) -> Any:
    """ruamel's commented containers and scalar types as plain dicts, lists, str, int, float."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for plain in (str, int, float):
        if isinstance(value, plain):
            return plain(value)
    return copy.deepcopy(value)


def _plain_step(value: Any) -> dict[str, Any]:
    plain = _plain(value)
    if not isinstance(plain, dict):
        raise DocumentError("that step is not a mapping")
    return plain


def _round_trip_value(value: Any) -> Any:
    """A value to put into the document: strings YAML 1.1 would read as booleans, numbers or
    dates are double-quoted (plain, they would be the `yaml11` rule's finding); multi-line
    strings become literal blocks."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[str(key)] = _round_trip_value(item)
        return mapping
    if isinstance(value, list | tuple):
        return CommentedSeq(_round_trip_value(item) for item in value)
    if isinstance(value, str) and type(value) is str:
        if "\n" in value:
            return LiteralScalarString(value)
        if yaml11_reading(value) is not None:
            return DoubleQuotedScalarString(value)
    return value
