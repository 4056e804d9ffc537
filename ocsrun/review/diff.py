"""Semantic diff of two runbooks: what changed for the operator, and whether it is safety-relevant.

Steps are matched by their dotted path (`deactivate-roles.wizard.check-log`), never by line, so
re-wrapping text or reordering keys is not a change to the procedure. Every change gets a `Kind`;
`Kind.safety` says which ones a second reviewer must look at. Pure: models and texts in, changes
out; loading files and reading git revisions happen elsewhere.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ocsrun.run.events import SECRET
from ocsrun.runbook import model as m

JsonValue = Any


class Kind(StrEnum):
    # safety-relevant
    GATE_REMOVED = "gate-removed"
    GATE_WEAKENED = "gate-weakened"
    GATE_TYPE_CHANGED = "gate-type-changed"
    EXPECT_CHANGED = "expect-changed"
    EVIDENCE_LOOSENED = "evidence-loosened"
    EVIDENCE_CHANGED = "evidence-changed"
    TIME_WINDOW_WIDENED = "time-window-widened"
    OVERRIDE_LOOSENED = "override-loosened"
    ON_FAILURE_CHANGED = "on-failure-changed"
    WARNING_REMOVED = "warning-removed"
    WARNING_SEVERITY_LOWERED = "warning-severity-lowered"
    ORDER_CHANGED = "order-changed"
    ORDER_SHORTENED = "order-shortened"
    STEP_MADE_SKIPPABLE = "step-made-skippable"
    STEP_MOVED_BEFORE_GATE = "step-moved-before-gate"
    CONDITION_CHANGED = "condition-changed"
    COMMAND_CHANGED = "command-changed"
    PARAM_DEFAULT_CHANGED = "param-default-changed"
    # not safety-relevant
    GATE_ADDED = "gate-added"
    GATE_STRENGTHENED = "gate-strengthened"
    GATE_LIMIT_CHANGED = "gate-limit-changed"
    WARNING_ADDED = "warning-added"
    WARNING_SEVERITY_RAISED = "warning-severity-raised"
    STEP_ADDED = "step-added"
    STEP_REMOVED = "step-removed"
    STEP_MOVED = "step-moved"
    STEP_MADE_REQUIRED = "step-made-required"
    STEP_KIND_CHANGED = "step-kind-changed"
    CHOICE_CHANGED = "choice-changed"
    LOOP_CHANGED = "loop-changed"
    FRAGMENT_CHANGED = "fragment-changed"
    PARAM_ADDED = "param-added"
    PARAM_REMOVED = "param-removed"
    PARAM_CHANGED = "param-changed"
    WORDING_CHANGED = "wording-changed"
    METADATA_CHANGED = "metadata-changed"
    WHITESPACE_ONLY = "whitespace-only"
    COMMENT_ONLY = "comment-only"
    FORMATTING_ONLY = "formatting-only"
    RUNBOOK_ADDED = "runbook-added"
    RUNBOOK_REMOVED = "runbook-removed"
    RUNBOOK_RENAMED = "runbook-renamed"

    @property
    def safety(self) -> bool:
        return self in SAFETY_KINDS


SAFETY_KINDS: frozenset[Kind] = frozenset(
    {
        Kind.GATE_REMOVED,
        Kind.GATE_WEAKENED,
        Kind.GATE_TYPE_CHANGED,
        Kind.EXPECT_CHANGED,
        Kind.EVIDENCE_LOOSENED,
        Kind.EVIDENCE_CHANGED,
        Kind.TIME_WINDOW_WIDENED,
        Kind.OVERRIDE_LOOSENED,
        Kind.ON_FAILURE_CHANGED,
        Kind.WARNING_REMOVED,
        Kind.WARNING_SEVERITY_LOWERED,
        Kind.ORDER_CHANGED,
        Kind.ORDER_SHORTENED,
        Kind.STEP_MADE_SKIPPABLE,
        Kind.STEP_MOVED_BEFORE_GATE,
        Kind.CONDITION_CHANGED,
        Kind.COMMAND_CHANGED,
        Kind.PARAM_DEFAULT_CHANGED,
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    path: str  # dotted step path; "" for the runbook itself
    field: str  # what changed, e.g. "gate.evidence.checks[2]"
    summary: str  # one line a reviewer reads first
    old: JsonValue = None
    new: JsonValue = None

    @property
    def safety(self) -> bool:
        return self.kind.safety

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "kind": self.kind.value,
            "safety": self.safety,
            "path": self.path,
            "field": self.field,
            "summary": self.summary,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class FileDiff:
    """The changes to one runbook file between two sides (revisions or paths)."""

    old_path: str | None
    new_path: str | None
    status: str  # modified | added | removed | renamed | unchanged | error
    changes: tuple[Change, ...] = ()
    error: str = ""
    via: tuple[str, ...] = ()  # changed fragment files that make this runbook differ

    @property
    def display(self) -> str:
        if self.status == "renamed" and self.old_path != self.new_path:
            return f"{self.old_path} → {self.new_path}"
        return self.new_path or self.old_path or "?"

    @property
    def safety_count(self) -> int:
        return sum(1 for c in self.changes if c.safety)

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "old_path": self.old_path,
            "new_path": self.new_path,
            "status": self.status,
            "error": self.error or None,
            "via": list(self.via),
            "safety_changes": self.safety_count,
            "changes": [c.as_dict() for c in self.changes],
        }


# --- plain values for old/new ----------------------------------------------


def plain(value: object) -> JsonValue:
    """Model objects as JSON-compatible values, for showing old and new."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "position"
        }
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def _q(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# --- entry points -------------------------------------------------------------


def diff_runbooks(old: m.Runbook, new: m.Runbook) -> list[Change]:
    """Every semantic change from `old` to `new`, in document order."""
    out: list[Change] = []
    out += _metadata_changes(old.metadata, new.metadata)
    out += _param_changes("", "params", old.params, new.params)
    out += _warning_changes("", "warnings", old.warnings, new.warnings)
    out += _StepDiff(old.steps, new.steps).changes()
    return out


def diff_texts(old_text: str, new_text: str) -> Change | None:
    """For two files that load to the same runbook: what kind of edit it was (or None)."""
    if old_text == new_text:
        return None
    from ocsrun.errors import LoadError
    from ocsrun.runbook.loader import load_text

    # The runbook loader (YAML 1.2 scalars, its limits), as for the runbooks themselves.
    try:
        old_data = load_text(old_text.encode("utf-8", "surrogateescape"), "<old>").data
        new_data = load_text(new_text.encode("utf-8", "surrogateescape"), "<new>").data
        same_data = old_data == new_data
    except LoadError:
        same_data = False
    if same_data and _squash(old_text) == _squash(new_text):
        return Change(Kind.WHITESPACE_ONLY, "", "file", "whitespace-only change")
    if same_data and _squash(strip_comments(old_text)) == _squash(strip_comments(new_text)):
        return Change(Kind.COMMENT_ONLY, "", "file", "comment-only change")
    return Change(
        Kind.FORMATTING_ONLY,
        "",
        "file",
        "formatting-only change (quoting, layout or defaults written out; same runbook)",
    )


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def strip_comments(text: str) -> str:
    """YAML text without `#` comments; a `#` inside quotes or inside a word is kept."""
    return "\n".join(_strip_line(line) for line in text.splitlines())


def _strip_line(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t:[{,-?"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


# --- metadata and params ------------------------------------------------------

_METADATA_FIELDS = (
    "id",
    "title",
    "version",
    "summary",
    "source",
    "required_groups",
    "applies_to",
    "target",
    "tools",
    "related",
    "outside_facts",
)


def _metadata_changes(a: m.Metadata, b: m.Metadata) -> list[Change]:
    out = []
    for name in _METADATA_FIELDS:
        old, new = getattr(a, name), getattr(b, name)
        if old != new:
            out.append(
                Change(
                    Kind.METADATA_CHANGED,
                    "",
                    f"metadata.{name}",
                    f"metadata `{name}` changed",
                    plain(old),
                    plain(new),
                )
            )
    out += _keyed_changes(
        "",
        "metadata.discrepancies",
        a.discrepancies,
        b.discrepancies,
        key=lambda d: d.id,
        noun="discrepancy",
        kinds=(Kind.METADATA_CHANGED, Kind.METADATA_CHANGED, Kind.METADATA_CHANGED),
    )
    return out


def _keyed_changes(
    path: str,
    field_name: str,
    old: Sequence[Any],
    new: Sequence[Any],
    *,
    key: Callable[[Any], str],
    noun: str,
    kinds: tuple[Kind, Kind, Kind],  # removed, added, changed
) -> list[Change]:
    removed_kind, added_kind, changed_kind = kinds
    a = {key(x): x for x in old}
    b = {key(x): x for x in new}
    out = []
    for k, x in a.items():
        f = f"{field_name}[{k}]"
        if k not in b:
            out.append(Change(removed_kind, path, f, f"{noun} `{k}` removed", plain(x), None))
        elif b[k] != x:
            out.append(
                Change(changed_kind, path, f, f"{noun} `{k}` changed", plain(x), plain(b[k]))
            )
    for k, x in b.items():
        if k not in a:
            out.append(
                Change(
                    added_kind, path, f"{field_name}[{k}]", f"{noun} `{k}` added", None, plain(x)
                )
            )
    return out


def _shown_param(p: m.Param) -> JsonValue:
    """A param as a diff shows it: a secret's default is never echoed (a PR comment is public)."""
    return plain(dataclasses.replace(p, default=SECRET) if p.secret and p.has_default else p)


def _shown_default(p: m.Param) -> JsonValue:
    return SECRET if p.secret and p.has_default else plain(p.default)


def _param_changes(
    path: str, field_name: str, old: Sequence[m.Param], new: Sequence[m.Param]
) -> list[Change]:
    a = {p.name: p for p in old}
    b = {p.name: p for p in new}
    where = f" of `{path}`" if path else ""
    out = []
    for name, p in a.items():
        f = f"{field_name}.{name}"
        if name not in b:
            out.append(
                Change(
                    Kind.PARAM_REMOVED, path, f, f"param `{name}`{where} removed", _shown_param(p)
                )
            )
            continue
        q = b[name]
        if p.default != q.default:
            out.append(
                Change(
                    Kind.PARAM_DEFAULT_CHANGED,
                    path,
                    f + ".default",
                    f"param `{name}`{where} default changed: {_q(_shown_default(p))} → "
                    f"{_q(_shown_default(q))}",
                    _shown_default(p),
                    _shown_default(q),
                )
            )
        if dataclasses.replace(p, default=q.default) != q:
            out.append(
                Change(
                    Kind.PARAM_CHANGED,
                    path,
                    f,
                    f"param `{name}`{where} changed",
                    _shown_param(p),
                    _shown_param(q),
                )
            )
    for name, q in b.items():
        if name not in a:
            out.append(
                Change(
                    Kind.PARAM_ADDED,
                    path,
                    f"{field_name}.{name}",
                    f"param `{name}`{where} added",
                    None,
                    _shown_param(q),
                )
            )
    return out


# --- warnings -----------------------------------------------------------------


def _pair_warnings(
    old: Sequence[m.RunbookWarning], new: Sequence[m.RunbookWarning]
) -> tuple[dict[str, m.RunbookWarning], dict[str, m.RunbookWarning]]:
    """Key warnings so the same warning has the same key on both sides.

    Warnings with ids are keyed by id. Those without are matched by identical text first,
    then the rest in order, so inserting one does not make every later one look changed.
    """
    a = {w.id: w for w in old if w.id}
    b = {w.id: w for w in new if w.id}
    old_free = [(i, w) for i, w in enumerate(old) if not w.id]
    new_free = [(j, w) for j, w in enumerate(new) if not w.id]
    for i, w in list(old_free):
        twin = next(((j, v) for j, v in new_free if v.text == w.text), None)
        if twin is not None:
            a[f"#{i + 1}"], b[f"#{i + 1}"] = w, twin[1]
            old_free.remove((i, w))
            new_free.remove(twin)
    for (i, w), (_, v) in zip(old_free, new_free, strict=False):
        a[f"#{i + 1}"], b[f"#{i + 1}"] = w, v
    paired = min(len(old_free), len(new_free))
    for i, w in old_free[paired:]:
        a[f"#{i + 1}"] = w
    for j, v in new_free[paired:]:
        b[f"#new-{j + 1}"] = v
    return a, b


def _warning_changes(
    path: str, field_name: str, old: Sequence[m.RunbookWarning], new: Sequence[m.RunbookWarning]
) -> list[Change]:
    a, b = _pair_warnings(old, new)
    scope = f"step `{path}`" if path else "runbook"
    out = []
    for k, w in a.items():
        f = f"{field_name}[{k}]"
        name = f"{w.severity.value} warning `{w.id}`" if w.id else f"{w.severity.value} warning"
        if k not in b:
            out.append(
                Change(
                    Kind.WARNING_REMOVED,
                    path,
                    f,
                    f"{name} removed from {scope}: {_clip(w.text)}",
                    plain(w),
                )
            )
            continue
        out += _one_warning_changes((path, f, name, scope), w, b[k])
    for k, w in b.items():
        if k not in a:
            out.append(
                Change(
                    Kind.WARNING_ADDED,
                    path,
                    f"{field_name}[{k}]",
                    f"{w.severity.value} warning added to {scope}",
                    None,
                    plain(w),
                )
            )
    return out


def _one_warning_changes(
    where: tuple[str, str, str, str], w: m.RunbookWarning, v: m.RunbookWarning
) -> list[Change]:
    path, f, name, scope = where
    out = []
    if v.severity.rank < w.severity.rank:
        out.append(
            Change(
                Kind.WARNING_SEVERITY_LOWERED,
                path,
                f + ".severity",
                f"{name} on {scope} lowered: {w.severity.value} → {v.severity.value}",
                w.severity.value,
                v.severity.value,
            )
        )
    elif v.severity.rank > w.severity.rank:
        out.append(
            Change(
                Kind.WARNING_SEVERITY_RAISED,
                path,
                f + ".severity",
                f"{name} on {scope} raised: {w.severity.value} → {v.severity.value}",
                w.severity.value,
                v.severity.value,
            )
        )
    if (w.text, w.source) != (v.text, v.source):
        out.append(
            Change(
                Kind.WORDING_CHANGED,
                path,
                f,
                f"{name} on {scope} reworded",
                {"text": w.text, "source": w.source},
                {"text": v.text, "source": v.source},
            )
        )
    return out


def _clip(text: str, limit: int = 80) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


# --- steps --------------------------------------------------------------------


@dataclass
class _StepDiff:
    old_steps: tuple[m.Step, ...]
    new_steps: tuple[m.Step, ...]
    old: dict[str, m.Step] = field(init=False)
    new: dict[str, m.Step] = field(init=False)

    def __post_init__(self) -> None:
        self.old = dict(m.walk(self.old_steps))
        self.new = dict(m.walk(self.new_steps))

    def changes(self) -> list[Change]:
        out: list[Change] = []
        for path, step in self.new.items():
            if path in self.old:
                out += _step_changes(path, self.old[path], step)
            elif _parent(path) not in self.new or _parent(path) in self.old:
                out.append(_added(path, step))
        for path, step in self.old.items():
            if path not in self.new:
                out += _removed(
                    path,
                    step,
                    parent_gone=_parent(path) in self.old and _parent(path) not in self.new,
                )
        out += self._moves()
        out += self._moved_before_gates()
        return out

    def _moves(self) -> list[Change]:
        out = []
        for scope in sorted({_parent(p) for p in self.new if p in self.old}):
            a = [p for p in self.old if _parent(p) == scope and p in self.new]
            b = [p for p in self.new if _parent(p) == scope and p in self.old]
            kept = set(_lcs(a, b))
            for path in b:
                if path not in kept:
                    out.append(
                        Change(
                            Kind.STEP_MOVED,
                            path,
                            "position",
                            f"step `{path}` moved: position {a.index(path) + 1} → "
                            f"{b.index(path) + 1} in its list",
                            a.index(path) + 1,
                            b.index(path) + 1,
                        )
                    )
        return out

    def _moved_before_gates(self) -> list[Change]:
        common = [p for p in self.new if p in self.old]
        old_at = {p: i for i, p in enumerate(p for p in self.old if p in self.new)}
        new_at = {p: i for i, p in enumerate(common)}
        gates = [p for p in common if self.old[p].kind == "gate"]
        out = []
        flagged: set[tuple[str, str]] = set()
        for step in common:
            for gate in gates:
                if _related(step, gate):
                    continue
                if old_at[gate] < old_at[step] and new_at[step] < new_at[gate]:
                    flagged.add((step, gate))
                    if (_parent(step), gate) in flagged:
                        continue  # the enclosing step already says it
                    out.append(
                        Change(
                            Kind.STEP_MOVED_BEFORE_GATE,
                            step,
                            "position",
                            f"step `{step}` now comes before gate `{gate}` (it used to follow it)",
                            f"after {gate}",
                            f"before {gate}",
                        )
                    )
        return out


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _lcs(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """Longest common subsequence: the steps that kept their relative order."""
    n, k = len(a), len(b)
    table = [[0] * (k + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(k - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
            )
    out, i, j = [], 0, 0
    while i < n and j < k:
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def _step_brief(step: m.Step) -> dict[str, JsonValue]:
    brief: dict[str, JsonValue] = {"id": step.id, "title": step.title, "kind": step.kind}
    if step.gate is not None:
        brief["gate"] = plain(step.gate)
    return brief


def _added(path: str, step: m.Step) -> Change:
    kind = Kind.GATE_ADDED if step.kind == "gate" else Kind.STEP_ADDED
    noun = f"{step.gate.type} gate" if step.gate else "step"
    return Change(
        kind, path, "step", f"{noun} `{path}` added: {step.title}", None, _step_brief(step)
    )


def _removed(path: str, step: m.Step, *, parent_gone: bool) -> list[Change]:
    out = []
    if step.gate is not None:
        out.append(
            Change(
                Kind.GATE_REMOVED,
                path,
                "step",
                f"gate `{path}` removed ({step.gate.type}: {_clip(step.gate.prompt)})",
                _step_brief(step),
            )
        )
    elif not parent_gone:
        out.append(
            Change(
                Kind.STEP_REMOVED,
                path,
                "step",
                f"step `{path}` removed: {step.title}",
                _step_brief(step),
            )
        )
    # A step's warnings go with it; losing one is the same hazard as deleting it in place.
    out += _warning_changes(path, "warnings", step.warnings, ())
    if step.call is not None:
        out += _warning_changes(path, "fragment.warnings", step.call.warnings, ())
    return out


def _step_changes(path: str, a: m.Step, b: m.Step) -> list[Change]:
    out: list[Change] = []
    for name in ("title", "instructions", "notes"):
        old, new = getattr(a, name), getattr(b, name)
        if old != new:
            out.append(
                Change(
                    Kind.WORDING_CHANGED,
                    path,
                    name,
                    f"step `{path}` {name} reworded",
                    plain(old),
                    plain(new),
                )
            )
    if a.source != b.source:
        out.append(
            Change(
                Kind.METADATA_CHANGED,
                path,
                "source",
                f"step `{path}` source citation changed",
                plain(a.source),
                plain(b.source),
            )
        )
    if a.when != b.when:
        out.append(_condition_change(path, a.when, b.when))
    out += _required_changes(path, a, b)
    out += _warning_changes(path, "warnings", a.warnings, b.warnings)
    out += _kind_changes(path, a, b)
    return out


def _condition_change(path: str, old: str | None, new: str | None) -> Change:
    if old is None:
        text = f"step `{path}` now runs only when `{new}`"
    elif new is None:
        text = f"step `{path}` now always runs (was only when `{old}`)"
    else:
        text = f"step `{path}` condition changed: `{old}` → `{new}`"
    return Change(Kind.CONDITION_CHANGED, path, "when", text, old, new)


def _required_changes(path: str, a: m.Step, b: m.Step) -> list[Change]:
    if a.kind == "gate" or b.kind == "gate" or a.required == b.required:
        return []
    if a.required:
        return [
            Change(
                Kind.STEP_MADE_SKIPPABLE,
                path,
                "required",
                f"step `{path}` made skippable (was required)",
                True,
                False,
            )
        ]
    return [
        Change(
            Kind.STEP_MADE_REQUIRED, path, "required", f"step `{path}` made required", False, True
        )
    ]


def _kind_changes(path: str, a: m.Step, b: m.Step) -> list[Change]:
    if a.gate is not None or b.gate is not None:
        return _gate_presence_changes(path, a, b)
    if a.kind != b.kind:
        return [
            Change(
                Kind.STEP_KIND_CHANGED,
                path,
                "kind",
                f"step `{path}` changed from {a.kind} to {b.kind}",
                a.kind,
                b.kind,
            )
        ]
    if a.choice is not None and b.choice is not None:
        return _choice_changes(path, a.choice, b.choice)
    if a.for_each is not None and b.for_each is not None:
        return _loop_changes(path, a.for_each, b.for_each)
    if a.call is not None and b.call is not None:
        return _call_changes(path, a.call, b.call)
    return []


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _gate_presence_changes(path: str, a: m.Step, b: m.Step) -> list[Change]:
    if a.gate is not None and b.gate is not None:
        return _GateDiff(path, a.gate, b.gate).changes()
    if a.gate is not None:
        summary = (
            f"gate `{path}` removed: the step is now {_a(b.kind)} step ({a.gate.type} gate "
            f"'{_clip(a.gate.prompt)}' no longer checked)"
        )
        return [Change(Kind.GATE_REMOVED, path, "gate", summary, plain(a.gate), None)]
    assert b.gate is not None
    summary = f"{b.gate.type} gate added on step `{path}`"
    return [Change(Kind.GATE_ADDED, path, "gate", summary, None, plain(b.gate))]


# --- gates --------------------------------------------------------------------

# How much a gate type proves, for telling weakening from strengthening. time_window is
# about *when*, not *what*, so it is not comparable with the others.
_GATE_STRENGTH = {
    "confirm": 1,
    "checklist": 2,
    "typed_confirmation": 3,
    "evidence": 4,
    "command": 4,
}
_FAILURE_STRENGTH = {"retry": 0, "goto": 0, "abort": 1}


@dataclass
class _GateDiff:
    path: str
    a: m.Gate
    b: m.Gate
    out: list[Change] = field(default_factory=list)

    def add(self, kind: Kind, f: str, detail: str, old: JsonValue, new: JsonValue) -> None:
        if kind.safety and kind is not Kind.GATE_TYPE_CHANGED:
            verb = {
                Kind.COMMAND_CHANGED: "command changed",
                Kind.EXPECT_CHANGED: "expected confirmation changed",
                Kind.ON_FAILURE_CHANGED: "failure handling changed",
                Kind.EVIDENCE_CHANGED: "evidence check changed",
            }.get(kind, "weakened")
            summary = f"gate `{self.path}` {verb}: {detail}"
        elif kind is Kind.GATE_STRENGTHENED:
            summary = f"gate `{self.path}` strengthened: {detail}"
        else:
            summary = f"gate `{self.path}`: {detail}"
        self.out.append(Change(kind, self.path, f"gate.{f}", summary, old, new))

    def changes(self) -> list[Change]:
        a, b = self.a, self.b
        if a.type != b.type:
            self._type_change()
        if a.prompt != b.prompt:
            self.add(Kind.WORDING_CHANGED, "prompt", "what must hold reworded", a.prompt, b.prompt)
        self._on_failure()
        self._valid_for()
        if a.type == b.type:
            handler = getattr(self, f"_{a.type}", None)
            if handler is not None:
                handler()
        return self.out

    def _type_change(self) -> None:
        a, b = self.a.type, self.b.type
        ra, rb = _GATE_STRENGTH.get(a), _GATE_STRENGTH.get(b)
        detail = f"type `{a}` → `{b}`" + _what_is_lost(self.a, self.b)
        if ra is not None and rb is not None and rb < ra:
            self.add(Kind.GATE_WEAKENED, "type", detail, a, b)
        elif ra is not None and rb is not None and rb > ra:
            self.add(Kind.GATE_STRENGTHENED, "type", detail, a, b)
        else:
            self.add(Kind.GATE_TYPE_CHANGED, "type", f"gate {detail}", a, b)

    def _on_failure(self) -> None:
        fa, fb = self.a.on_failure, self.b.on_failure
        if (fa.action, fa.goto) != (fb.action, fb.goto):
            old = fa.action + (f" {fa.goto}" if fa.goto else "")
            new = fb.action + (f" {fb.goto}" if fb.goto else "")
            if _FAILURE_STRENGTH[fb.action] < _FAILURE_STRENGTH[fa.action]:
                self.add(
                    Kind.GATE_WEAKENED,
                    "on_failure",
                    f"on failure no longer aborts ({old} → {new})",
                    plain(fa),
                    plain(fb),
                )
            elif _FAILURE_STRENGTH[fb.action] > _FAILURE_STRENGTH[fa.action]:
                self.add(
                    Kind.GATE_STRENGTHENED,
                    "on_failure",
                    f"on failure now aborts ({old} → {new})",
                    plain(fa),
                    plain(fb),
                )
            else:
                self.add(
                    Kind.ON_FAILURE_CHANGED, "on_failure", f"{old} → {new}", plain(fa), plain(fb)
                )
        if fa.message != fb.message:
            self.add(
                Kind.WORDING_CHANGED,
                "on_failure.message",
                "failure message reworded",
                fa.message,
                fb.message,
            )

    def _valid_for(self) -> None:
        va, vb = self.a.valid_for_seconds, self.b.valid_for_seconds
        if va == vb:
            return
        old, new = _duration(va), _duration(vb)
        if va is not None and (vb is None or vb > va):
            self.add(
                Kind.GATE_WEAKENED,
                "valid_for",
                f"answer stays valid longer ({old} → {new})",
                va,
                vb,
            )
        else:
            self.add(
                Kind.GATE_STRENGTHENED,
                "valid_for",
                f"answer goes stale sooner ({old} → {new})",
                va,
                vb,
            )

    def _typed_confirmation(self) -> None:
        if self.a.expect != self.b.expect:
            self.add(
                Kind.EXPECT_CHANGED,
                "expect",
                f"operator must type {_q(self.b.expect)} (was {_q(self.a.expect)})",
                self.a.expect,
                self.b.expect,
            )

    def _checklist(self) -> None:
        a, b = self.a.items, self.b.items
        for item in a:
            if item not in b:
                self.add(
                    Kind.GATE_WEAKENED,
                    "items",
                    f"checklist item removed ('{_clip(item)}')",
                    item,
                    None,
                )
        for item in b:
            if item not in a:
                self.add(
                    Kind.GATE_STRENGTHENED,
                    "items",
                    f"checklist item added ('{_clip(item)}')",
                    None,
                    item,
                )

    def _time_window(self) -> None:
        a, b = self.a, self.b
        old_slots, new_slots = _slots(a.windows), _slots(b.windows)
        windows_old, windows_new = plain(a.windows), plain(b.windows)
        if new_slots - old_slots:
            self.add(
                Kind.TIME_WINDOW_WIDENED,
                "windows",
                f"time window widened ({_windows_text(a.windows)} → {_windows_text(b.windows)})",
                windows_old,
                windows_new,
            )
        elif old_slots - new_slots:
            self.add(
                Kind.GATE_STRENGTHENED,
                "windows",
                f"time window narrowed ({_windows_text(a.windows)} → {_windows_text(b.windows)})",
                windows_old,
                windows_new,
            )
        elif a.windows != b.windows:
            self.add(
                Kind.METADATA_CHANGED,
                "windows",
                "time windows rewritten (same times)",
                windows_old,
                windows_new,
            )
        if a.timezone != b.timezone:
            # Another zone shifts the window: times it refused before now pass.
            self.add(
                Kind.TIME_WINDOW_WIDENED,
                "timezone",
                f"time window moved to another timezone ({a.timezone or 'local'} → "
                f"{b.timezone or 'local'})",
                a.timezone,
                b.timezone,
            )
        if a.override != b.override:
            if b.override == "reason":
                self.add(
                    Kind.OVERRIDE_LOOSENED,
                    "override",
                    "the operator may now override the window with a reason (was never)",
                    a.override,
                    b.override,
                )
            else:
                self.add(
                    Kind.GATE_STRENGTHENED,
                    "override",
                    "the window can no longer be overridden",
                    a.override,
                    b.override,
                )

    def _evidence(self) -> None:
        a, b = self.a, self.b
        if a.evidence_description != b.evidence_description:
            self.add(
                Kind.WORDING_CHANGED,
                "evidence.description",
                "evidence description reworded",
                a.evidence_description,
                b.evidence_description,
            )
        if a.max_bytes != b.max_bytes:
            self.add(
                Kind.GATE_LIMIT_CHANGED,
                "evidence.max_bytes",
                f"evidence size limit {a.max_bytes} → {b.max_bytes} bytes",
                a.max_bytes,
                b.max_bytes,
            )
        self._evidence_binding()
        self._checks(list(a.checks), list(b.checks))

    def _evidence_binding(self) -> None:
        """produced_by, stale and reused: losing one, or refuse → confirm, accepts more files."""
        a, b = self.a, self.b
        if a.produced_by != b.produced_by:
            loosened = b.produced_by is None
            self.add(
                Kind.EVIDENCE_LOOSENED if loosened else Kind.EVIDENCE_CHANGED,
                "evidence.produced_by",
                f"evidence freshness measured from {a.produced_by or 'nothing'} → "
                f"{b.produced_by or 'nothing (any old file passes)'}",
                a.produced_by,
                b.produced_by,
            )
        for name in ("stale", "reused"):
            old, new = getattr(a, name), getattr(b, name)
            if old != new:
                self.add(
                    Kind.EVIDENCE_LOOSENED if new == "confirm" else Kind.GATE_STRENGTHENED,
                    f"evidence.{name}",
                    f"a {name} evidence file: {old} → {new}",
                    old,
                    new,
                )

    def _checks(self, old: list[m.EvidenceCheck], new: list[m.EvidenceCheck]) -> None:
        def sig(c: m.EvidenceCheck) -> tuple[object, ...]:
            return (c.kind, c.pattern, c.must, c.column, c.min_rows, c.otherwise)

        for c in list(old):
            twin = next((d for d in new if sig(d) == sig(c)), None)
            if twin is not None:
                old.remove(c)
                new.remove(twin)
                if twin.description != c.description:
                    self.add(
                        Kind.WORDING_CHANGED,
                        "evidence.checks",
                        f"evidence check description reworded ({_check_text(c)})",
                        c.description,
                        twin.description,
                    )
        for c in list(old):
            twin = next((d for d in new if d.kind == c.kind), None)
            if twin is None:
                self.add(
                    Kind.EVIDENCE_LOOSENED,
                    "evidence.checks",
                    f"evidence check removed ({_check_text(c)})",
                    plain(c),
                    None,
                )
                continue
            new.remove(twin)
            # Whether one regex accepts more than another is undecidable in general, so any
            # rewrite of a check is shown to the second reviewer.
            self.add(
                Kind.EVIDENCE_CHANGED,
                "evidence.checks",
                f"{_check_text(c)} → {_check_text(twin)} (may accept more)",
                plain(c),
                plain(twin),
            )
        for d in new:
            self.add(
                Kind.GATE_STRENGTHENED,
                "evidence.checks",
                f"evidence check added ({_check_text(d)})",
                None,
                plain(d),
            )

    def _command(self) -> None:
        a, b = self.a, self.b
        if a.argv != b.argv:
            self.add(
                Kind.COMMAND_CHANGED,
                "command.argv",
                f"{_argv_text(a.argv)} → {_argv_text(b.argv)}",
                list(a.argv),
                list(b.argv),
            )
        if a.expect_exit != b.expect_exit:
            self.add(
                Kind.COMMAND_CHANGED,
                "command.expect_exit",
                f"expected exit status {a.expect_exit} → {b.expect_exit}",
                a.expect_exit,
                b.expect_exit,
            )
        for name, label in (("timeout_seconds", "timeout"), ("max_output", "output limit")):
            old, new = getattr(a, name), getattr(b, name)
            if old != new:
                self.add(
                    Kind.GATE_LIMIT_CHANGED,
                    f"command.{name}",
                    f"command {label} {old} → {new}",
                    old,
                    new,
                )


def _what_is_lost(a: m.Gate, b: m.Gate) -> str:
    """What the old gate type checked that the new one does not, for the reviewer's first line."""
    if a.type == "typed_confirmation" and b.type != "typed_confirmation" and a.expect:
        return f" (the operator no longer types {_code(a.expect)})"
    if a.type == "evidence" and b.type != "evidence" and a.checks:
        return f" ({len(a.checks)} evidence checks no longer run)"
    if a.type == "command" and b.type != "command" and a.argv:
        return f" (command {_code(_argv_text(a.argv))} no longer run)"
    if a.type == "checklist" and b.type != "checklist" and a.items:
        return f" ({len(a.items)} checklist items no longer ticked)"
    return ""


def _check_text(c: m.EvidenceCheck) -> str:
    confirm = " (or confirmed)" if c.otherwise == "confirm" else ""
    if c.kind == "column":
        return f"column {_code(c.column)} must {_code(c.must or '')}, {c.min_rows}+ rows{confirm}"
    return _line_check_text(c) + confirm


def _line_check_text(c: m.EvidenceCheck) -> str:
    if c.kind == "each":
        return f"each {_code(c.pattern)} must {_code(c.must or '')}"
    return f"{c.kind} {_code(c.pattern)}"


def _code(text: str) -> str:
    ticks = "``" if "`" in text else "`"
    return f"{ticks}{text}{ticks}"


def _argv_text(argv: Iterable[str]) -> str:
    return _clip(" ".join(argv), 60)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "never stale"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _slots(windows: Sequence[m.TimeWindow]) -> frozenset[int]:
    """The minutes of the week a set of windows lets through (no windows: all of them)."""
    if not windows:
        return frozenset(range(7 * 1440))
    out: set[int] = set()
    for w in windows:
        days = [_DAYS.index(d) for d in w.days if d in _DAYS] if w.days else range(7)
        minutes = _minutes(w.hours)
        for day in days:
            out.update(day * 1440 + minute for minute in minutes)
    return frozenset(out)


def _minutes(hours: str | None) -> range | list[int]:
    if not hours:
        return range(1440)
    match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", hours.strip())
    if not match:
        return range(1440)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start <= end:
        return range(start, end)
    return [*range(start, 1440), *range(end)]


def _windows_text(windows: Sequence[m.TimeWindow]) -> str:
    if not windows:
        return "any time"
    parts = []
    for w in windows:
        days = ", ".join(w.days) if w.days else "any day"
        parts.append(f"{days} {w.hours}" if w.hours else f"{days} (all day)")
    return " or ".join(parts)


# --- choices, loops, calls ----------------------------------------------------


def _choice_changes(path: str, a: m.Choice, b: m.Choice) -> list[Change]:
    out = []
    if a.var != b.var:
        out.append(
            Change(
                Kind.CHOICE_CHANGED,
                path,
                "choice.var",
                f"choice `{path}` variable renamed: {a.var} → {b.var}",
                a.var,
                b.var,
            )
        )
    if a.prompt != b.prompt:
        out.append(
            Change(
                Kind.WORDING_CHANGED,
                path,
                "choice.prompt",
                f"choice `{path}` prompt reworded",
                a.prompt,
                b.prompt,
            )
        )
    old = {o.value: o.label for o in a.options}
    new = {o.value: o.label for o in b.options}
    if list(old) != list(new):
        out.append(
            Change(
                Kind.CHOICE_CHANGED,
                path,
                "choice.options",
                f"choice `{path}` options changed: {', '.join(old)} → {', '.join(new)}",
                list(old),
                list(new),
            )
        )
    relabelled = {v: (old[v], new[v]) for v in old if v in new and old[v] != new[v]}
    for value, (x, y) in relabelled.items():
        out.append(
            Change(
                Kind.WORDING_CHANGED,
                path,
                f"choice.options[{value}].label",
                f"choice `{path}` option `{value}` relabelled",
                x,
                y,
            )
        )
    return out


def _loop_changes(path: str, a: m.ForEach, b: m.ForEach) -> list[Change]:
    out = []
    gone = [x for x in a.order if x not in b.order]
    if gone:
        out.append(
            Change(
                Kind.ORDER_SHORTENED,
                path,
                "for_each.order",
                f"ordered list `{path}` shortened: {', '.join(gone)} no longer in the order",
                list(a.order),
                list(b.order),
            )
        )
    kept_old = [x for x in a.order if x in b.order]
    kept_new = [x for x in b.order if x in a.order]
    if kept_old != kept_new:
        out.append(
            Change(
                Kind.ORDER_CHANGED,
                path,
                "for_each.order",
                f"ordered list `{path}` reordered: {' → '.join(a.order)}  became  "
                f"{' → '.join(b.order)}",
                list(a.order),
                list(b.order),
            )
        )
    if a.order != b.order and not gone and kept_old == kept_new:
        out.append(
            Change(
                Kind.LOOP_CHANGED,
                path,
                "for_each.order",
                f"ordered list `{path}` extended",
                list(a.order),
                list(b.order),
            )
        )
    out += _loop_items(path, a, b)
    out += _loop_after(path, a, b)
    for name in ("var", "over"):
        if getattr(a, name) != getattr(b, name):
            out.append(
                Change(
                    Kind.LOOP_CHANGED,
                    path,
                    f"for_each.{name}",
                    f"loop `{path}` {name} changed",
                    getattr(a, name),
                    getattr(b, name),
                )
            )
    if a.labels != b.labels:
        out.append(
            Change(
                Kind.WORDING_CHANGED,
                path,
                "for_each.labels",
                f"loop `{path}` labels changed",
                dict(a.labels),
                dict(b.labels),
            )
        )
    return out


def _loop_items(path: str, a: m.ForEach, b: m.ForEach) -> list[Change]:
    if a.items == b.items:
        return []
    old, new = list(a.items or ()), list(b.items or ())
    gone = [x for x in old if x not in new]
    if a.items is not None and b.items is not None and gone:
        return [
            Change(
                Kind.ORDER_SHORTENED,
                path,
                "for_each.items",
                f"list `{path}` shortened: {', '.join(gone)} no longer done",
                old,
                new,
            )
        ]
    return [
        Change(
            Kind.LOOP_CHANGED,
            path,
            "for_each.items",
            f"loop `{path}` items changed",
            plain(a.items),
            plain(b.items),
        )
    ]


def _loop_after(path: str, a: m.ForEach, b: m.ForEach) -> list[Change]:
    old = {(k, d) for k, deps in a.after for d in deps}
    new = {(k, d) for k, deps in b.after for d in deps}
    out = []
    for k, d in sorted(old - new):
        out.append(
            Change(
                Kind.ORDER_CHANGED,
                path,
                "for_each.after",
                f"loop `{path}`: {k} no longer has to wait for {d}",
                [k, d],
                None,
            )
        )
    for k, d in sorted(new - old):
        out.append(
            Change(
                Kind.LOOP_CHANGED,
                path,
                "for_each.after",
                f"loop `{path}`: {k} now waits for {d}",
                None,
                [k, d],
            )
        )
    return out


def _call_changes(path: str, a: m.Call, b: m.Call) -> list[Change]:
    out = []
    if (a.path, a.fragment_id) != (b.path, b.fragment_id):
        out.append(
            Change(
                Kind.FRAGMENT_CHANGED,
                path,
                "uses",
                f"step `{path}` now includes {b.path} (was {a.path})",
                a.path,
                b.path,
            )
        )
    old, new = dict(a.args), dict(b.args)
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            out.append(
                Change(
                    Kind.WORDING_CHANGED,
                    path,
                    f"with.{name}",
                    f"argument `{name}` passed to fragment `{path}` changed",
                    old.get(name),
                    new.get(name),
                )
            )
    out += _param_changes(path, "fragment.params", a.params, b.params)
    out += _warning_changes(path, "fragment.warnings", a.warnings, b.warnings)
    return out
