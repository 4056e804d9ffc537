"""What changed in one step matched on both sides: wording, conditions, kind, choices, loops,
fragment calls (gates in `gates.py`); and steps added or removed."""

from __future__ import annotations

from ocsrun.review.diff.changes import Change, JsonValue, Kind, clip, plain
from ocsrun.review.diff.gates import gate_presence_changes
from ocsrun.review.diff.lists import param_changes, warning_changes
from ocsrun.runbook import model as m


def _step_brief(step: m.Step) -> dict[str, JsonValue]:
    brief: dict[str, JsonValue] = {"id": step.id, "title": step.title, "kind": step.kind}
    if step.gate is not None:
        brief["gate"] = plain(step.gate)
    return brief


def added(path: str, step: m.Step) -> Change:
    kind = Kind.GATE_ADDED if step.kind == "gate" else Kind.STEP_ADDED
    noun = f"{step.gate.type} gate" if step.gate else "step"
    return Change(
        kind, path, "step", f"{noun} `{path}` added: {step.title}", None, _step_brief(step)
    )


def removed(path: str, step: m.Step, *, parent_gone: bool) -> list[Change]:
    out = []
    if step.gate is not None:
        out.append(
            Change(
                Kind.GATE_REMOVED,
                path,
                "step",
                f"gate `{path}` removed ({step.gate.type}: {clip(step.gate.prompt)})",
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
    out += warning_changes(path, "warnings", step.warnings, ())
    if step.call is not None:
        out += warning_changes(path, "fragment.warnings", step.call.warnings, ())
    return out


def step_changes(path: str, a: m.Step, b: m.Step) -> list[Change]:
    if a.for_each is None and a.call is None and a == b:
        # Most steps of a change are untouched: one comparison instead of every check below
        # (not for loops and calls, whose comparison would walk all the steps inside them,
        # again for every level of nesting).
        return []
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
    out += warning_changes(path, "warnings", a.warnings, b.warnings)
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
        return gate_presence_changes(path, a, b)
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
    in_a, in_b = set(a.order), set(b.order)  # membership by set: long orders stay linear
    gone = [x for x in a.order if x not in in_b]
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
    kept_old = [x for x in a.order if x in in_b]
    kept_new = [x for x in b.order if x in in_a]
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
    in_new = set(new)
    gone = [x for x in old if x not in in_new]
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
    out += param_changes(path, "fragment.params", a.params, b.params)
    out += warning_changes(path, "fragment.warnings", a.warnings, b.warnings)
    return out
