"""Validated YAML data → the frozen `Runbook` model, with fragments expanded.

`load_runbook` is the one door commands go through to get a model: it
validates first (all diagnostics, not just the first) and refuses an invalid
file with `RunbookInvalid`, so the builder below may trust the shape it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from ocsrun.errors import Position, RunbookInvalid
from ocsrun.runbook import model as m
from ocsrun.units import parse_duration, parse_size

Data = Mapping[str, Any]
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Where:
    """The file being built and how to find a line in it, for step positions."""

    file: Path
    display: str
    locate: Callable[[JsonPath], Position]
    at: JsonPath = ()
    # Where each item of a list starts, in one walk to the list (Document.item_positions).
    items: Callable[[JsonPath], list[Position]] | None = None

    def __truediv__(self, more: JsonPath) -> _Where:
        return _Where(self.file, self.display, self.locate, self.at + more, self.items)

    def item_positions(self, count: int) -> list[Position]:
        """Where each of the `count` items of the list here starts."""
        found = self.items(self.at) if self.items is not None else []
        if len(found) == count:
            return found
        return [self.locate((*self.at, i)) for i in range(count)]


def load_runbook(path: Path, display: str | None = None) -> m.Runbook:
    """Validate (the file and every fragment it includes) and build; raises RunbookInvalid
    listing every error, the file's own first, each at its place in its own file."""
    from ocsrun.gc_pause import gc_paused

    with gc_paused():
        return _load_runbook(path, display)


def _load_runbook(path: Path, display: str | None) -> m.Runbook:
    from ocsrun.runbook.diagnostic import Severity
    from ocsrun.runbook.validation import validate_runbook_tree

    results = validate_runbook_tree(path, display)
    result = results[0]
    errors = tuple(d for each in results for d in each.diagnostics if d.severity is Severity.ERROR)
    if errors or result.document is None:
        first = errors[0] if errors else None
        count = len(errors)
        summary = f"{count} error{'s' if count != 1 else ''}"
        message = (
            f"{first.message} [{first.rule}] ({summary}; run `ocsrun validate`)"
            if first
            else "invalid"
        )
        raise RunbookInvalid(message, errors, first.position if first else None)
    document = result.document
    where = _Where(path, display or str(path), document.position, (), document.item_positions)
    return _Builder(path, where.display).runbook(document.data, where)


class _Builder:
    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.root_dir = path.resolve().parent

    def runbook(self, data: Data, where: _Where) -> m.Runbook:
        return m.Runbook(
            kind=data["kind"],
            metadata=_metadata(data["metadata"]),
            params=tuple(_param(name, p) for name, p in (data.get("params") or {}).items()),
            warnings=_warnings(data.get("warnings")),
            steps=self.steps(data["steps"], where / ("steps",)),
            path=where.display,
        )

    def steps(self, items: Sequence[Data], where: _Where) -> tuple[m.Step, ...]:
        positions = where.item_positions(len(items))
        return tuple(
            self.step(item, where, i, position)
            for i, (item, position) in enumerate(zip(items, positions, strict=True))
        )

    def step(self, d: Data, where: _Where, index: int, position: Position) -> m.Step:
        if d.keys() <= _PLAIN_STEP_KEYS:
            # The most common step by far (an action with its text): everything else is the
            # default, exactly as below.
            return _plain_step(d["id"], d["title"], d.get("instructions", ""), position)
        kind: m.StepKind = "action"
        choice = gate = for_each = call = None
        if "choice" in d:
            kind, choice = "choice", _choice(d["choice"])
        elif "gate" in d:
            kind, gate = "gate", _gate(d["gate"])
        elif "for_each" in d:
            kind, for_each = "for_each", self.for_each(d["for_each"], where / (index, "for_each"))
        elif "uses" in d:
            kind, call = "call", self.call(d, where.file)
        return m.Step(
            id=d["id"],
            title=d["title"],
            kind=kind,
            instructions=d.get("instructions", ""),
            when=_opt_str(d.get("when")),
            notes=tuple(d.get("notes") or ()),
            warnings=_warnings(d.get("warnings")),
            required=bool(d.get("required", False)) or kind == "gate",
            source=_source_ref(d.get("source")),
            not_in_source=str(d.get("not_in_source") or ""),
            choice=choice,
            gate=gate,
            for_each=for_each,
            call=call,
            position=position,
            checkpoint=bool(d.get("checkpoint", False)),
        )

    def for_each(self, d: Data, where: _Where) -> m.ForEach:
        items = d.get("items")
        return m.ForEach(
            var=d["var"],
            order=tuple(d["order"]),
            steps=self.steps(d["steps"], where / ("steps",)),
            over=d.get("over"),
            items=tuple(items) if items is not None else None,
            labels=tuple((str(k), str(v)) for k, v in (d.get("labels") or {}).items()),
            after=tuple((str(k), tuple(v)) for k, v in (d.get("after") or {}).items()),
        )

    def call(self, d: Data, file: Path) -> m.Call:
        from ocsrun.runbook.includes import resolve_include
        from ocsrun.runbook.loader import load_document

        target = resolve_include(file, self.root_dir, d["uses"])
        display = str(Path(self.display).parent / d["uses"])
        document = load_document(target, display)
        where = _Where(target, display, document.position, (), document.item_positions)
        fragment = self.runbook(document.data, where)
        return m.Call(
            path=d["uses"],
            fragment_id=fragment.metadata.id,
            fragment_title=fragment.metadata.title,
            args=tuple((str(k), str(v)) for k, v in (d.get("with") or {}).items()),
            params=fragment.params,
            steps=fragment.steps,
            warnings=fragment.warnings,
        )


_PLAIN_STEP_KEYS = frozenset({"id", "title", "instructions"})


def _plain_step_maker() -> Callable[[str, str, str, Position], m.Step]:
    """What `m.Step(id, title, "action", instructions, position=position)` makes, made by
    setting its slots directly: a frozen dataclass's __init__ sets each of its 16 fields with
    object.__setattr__, and that was a tenth of loading 25,000 plain steps. The other fields
    get the values __init__ gives them (read from an instance it made), so the two cannot
    drift apart; Step has no __post_init__ to skip."""
    assert not hasattr(m.Step, "__post_init__")
    defaults = m.Step("", "", "action")
    own = ("id", "title", "kind", "instructions", "position")
    rest = tuple(
        (getattr(m.Step, f.name).__set__, getattr(defaults, f.name))
        for f in fields(m.Step)
        if f.name not in own
    )
    set_id, set_title, set_kind, set_instructions, set_position = (
        getattr(m.Step, name).__set__ for name in own
    )
    new = object.__new__
    step_class = m.Step

    def plain_step(id: str, title: str, instructions: str, position: Position) -> m.Step:
        step = new(step_class)
        set_id(step, id)
        set_title(step, title)
        set_kind(step, "action")
        set_instructions(step, instructions)
        set_position(step, position)
        for setter, value in rest:
            setter(step, value)
        return step

    return plain_step


_plain_step = _plain_step_maker()
_PLAIN_GATE_KEYS = frozenset({"type", "prompt"})


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def _metadata(d: Data) -> m.Metadata:
    source = d.get("source") or {}
    applies = d.get("applies_to") or {}
    target = d.get("target")
    return m.Metadata(
        id=d["id"],
        title=d["title"],
        version=str(d["version"]),
        source=m.Source(
            source.get("document", ""), source.get("section", ""), source.get("url", "")
        ),
        summary=d.get("summary", ""),
        required_groups=_strs(d.get("required_groups")),
        applies_to=m.AppliesTo(
            _strs(applies.get("products")),
            _strs(applies.get("editions")),
            _strs(applies.get("roles")),
        ),
        target=m.Target(
            target.get("description", ""), target.get("example", ""), target.get("pattern")
        )
        if target
        else None,
        tools=tuple(
            m.Tool(t["name"], t.get("where", ""), t.get("limits", "")) for t in d.get("tools") or ()
        ),
        related=_strs(d.get("related")),
        discrepancies=tuple(
            m.Discrepancy(
                x["id"], x["source_text"], x["issue"], x["safe_reading"], _strs(x.get("steps"))
            )
            for x in d.get("discrepancies") or ()
        ),
        outside_facts=tuple(
            m.OutsideFact(f["text"], bool(f.get("confirmed", False)), f.get("note", ""))
            for f in d.get("outside_facts") or ()
        ),
    )


def _param(name: str, d: Data) -> m.Param:
    default = d.get("default")
    if isinstance(default, list):
        default = tuple(str(v) for v in default)
    return m.Param(
        name=name,
        type=d["type"],
        description=d.get("description", ""),
        values=_strs(d.get("values")),
        default=cast("m.ParamValue | None", default),
        secret=bool(d.get("secret", False)),
        pattern=d.get("pattern"),
        min=d.get("min"),
        max=d.get("max"),
        min_items=d.get("min_items"),
    )


def _warnings(items: Any) -> tuple[m.RunbookWarning, ...]:
    if not items:
        return ()  # most steps have none
    return tuple(
        m.RunbookWarning(
            text=w["text"],
            severity=m.Severity(w["severity"]),
            id=w.get("id", ""),
            source=w.get("source", ""),
        )
        for w in items or ()
    )


def _source_ref(d: Any) -> m.SourceRef | None:
    if not d:
        return None
    return m.SourceRef(d.get("section", ""), d.get("step"), d.get("quote", ""))


def _choice(d: Data) -> m.Choice:
    options = tuple(
        m.ChoiceOption(str(o["value"]), o.get("label", str(o["value"])), o.get("reason") is True)
        for o in d["options"]
    )
    return m.Choice(var=d["var"], prompt=d["prompt"], options=options)


def _gate(d: Data) -> m.Gate:
    if d.keys() <= _PLAIN_GATE_KEYS:
        # A gate with only its type and prompt (most confirm gates): every other field is the
        # default, exactly what the general case below builds from absent keys.
        return m.Gate(d["type"], d["prompt"])
    failure = d.get("on_failure") or {}
    evidence = d.get("evidence") or {}
    command = d.get("command") or {}
    valid_for = d.get("valid_for")
    return m.Gate(
        type=d["type"],
        prompt=d["prompt"],
        on_failure=m.OnFailure(
            failure.get("action", "retry"), failure.get("goto"), failure.get("message", "")
        ),
        valid_for_seconds=parse_duration(valid_for) if valid_for is not None else None,
        expect=_opt_str(d.get("expect")),
        items=_strs(d.get("items")),
        windows=tuple(
            m.TimeWindow(_strs(w.get("days")), w.get("hours")) for w in d.get("windows") or ()
        ),
        timezone=d.get("timezone"),
        override=d.get("override", "reason"),
        evidence_description=evidence.get("description", ""),
        max_bytes=parse_size(evidence.get("max_bytes", 10 * 1024 * 1024)),
        checks=tuple(_check(c) for c in evidence.get("checks") or ()),
        produced_by=evidence.get("produced_by"),
        stale=evidence.get("stale", "refuse"),
        reused=evidence.get("reused", "refuse"),
        argv=_strs(command.get("argv")),
        timeout_seconds=float(parse_duration(command.get("timeout", 30))),
        expect_exit=int(command.get("expect_exit", 0)),
        max_output=parse_size(command.get("max_output", 64 * 1024)),
    )


def _check(d: Data) -> m.EvidenceCheck:
    description = d.get("description", "")
    otherwise = d.get("otherwise", "refuse")
    if "column" in d:
        return m.EvidenceCheck(
            "column",
            "",
            d["must"],
            description,
            column=d["column"],
            min_rows=int(d.get("min_rows", 1)),
            otherwise=otherwise,
        )
    if "each" in d:
        return m.EvidenceCheck("each", d["each"], d["must"], description, otherwise=otherwise)
    if "forbid" in d:
        return m.EvidenceCheck("forbid", d["forbid"], None, description, otherwise=otherwise)
    return m.EvidenceCheck("require", d["require"], None, description, otherwise=otherwise)
