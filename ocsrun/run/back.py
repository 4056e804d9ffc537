"""`back` across scopes: which manual step is the previous one, and what doing it again resets.

The previous manual step is the last action step done (or skipped) before the current one
in walk order, wherever it is: earlier in the same scope, in an earlier item of the loop
being walked (its last manual step), or before the loop or fragment (out of it, level by
level). Going back to it resets it and every step walked after it — later loop items, the
containers on the way, gates passed since — so they are asked again, and a resume replays
the same reset from the journal (`step.retry`'s `reset` list).

Plain functions over the walk's frames and the run state: the executor calls them, they
never ask, print or journal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ocsrun.errors import OcsrunError
from ocsrun.run import events as ev
from ocsrun.run.containers import fragment_context, item_context, loop_items
from ocsrun.run.flow import ActiveGate, Frame
from ocsrun.run.state import RunState
from ocsrun.runbook import model as m

_HEAD = re.compile(r"[.\[]")
_DONE = (ev.STEP_DONE, ev.STEP_SKIPPED)
Scope = tuple[tuple[m.Step, ...], str, Mapping[str, Any]]  # steps, path prefix, context


def previous_manual(frames: list[Frame], state: RunState, choices: Mapping[str, str]) -> str | None:
    """The run path of the manual step done last before the step the innermost frame is at."""
    walk = _Walk(state, choices)
    for depth in range(len(frames) - 1, -1, -1):
        frame = frames[depth]
        found = walk.last_in((frame.steps, frame.prefix, frame.context), frame.index)
        if found is not None:
            return found
        parent = frames[depth - 1] if depth else None
        if parent is None or parent.steps[parent.index].for_each is None:
            continue  # the top, or a fragment: on to the steps before its call
        # An item of a loop: the earlier items, last first, then the steps before the loop.
        container = parent.steps[parent.index]
        items = list(walk.scopes(container, parent.prefix + container.id, parent.context))
        n = int(frame.context.get("loop_index", 1))
        for scope in reversed(items[: n - 1]):
            found = walk.last_in(scope, len(scope[0]))
            if found is not None:
                return found
    return None


def holder(frame: Frame, target: str) -> int | None:
    """The index of the step of `frame` that is `target` or holds it; None: not this scope."""
    return _holder(frame.steps, frame.prefix, target)


def reset_from(
    frame: Frame, at: int, target: str, state: RunState, choices: Mapping[str, str]
) -> list[str]:
    """Every path of the run state walked at or after `target` within `frame` (the step at
    `at` is `target` or a container holding it; such a container is reset too)."""
    walk = _Walk(state, choices)
    scope = (frame.steps, frame.prefix, frame.context)
    return list(dict.fromkeys(walk.after(scope, at, target)))


def still_active(
    active: list[ActiveGate], frame: Frame, at: int, reset: list[str]
) -> list[ActiveGate]:
    """The passed gates that still vouch for what follows after a `back` caught by `frame`:
    those of the scopes around it and of its steps before `at`. Not those of the scopes
    left on the way (their leave_scope never ran), nor those of the reset steps."""
    kept, undone = {frame.prefix + s.id for s in frame.steps[:at]}, set(reset)
    return [
        gate
        for i, gate in enumerate(active)
        if (i < frame.gates or gate.path in kept) and gate.path not in undone
    ]


def _holder(steps: tuple[m.Step, ...], prefix: str, target: str) -> int | None:
    if not target.startswith(prefix):
        return None
    head = _HEAD.split(target[len(prefix) :], maxsplit=1)[0]
    return next((i for i, s in enumerate(steps) if s.id == head), None)


@dataclass(frozen=True, slots=True)
class _Walk:
    state: RunState
    choices: Mapping[str, str]

    def last_in(self, scope: Scope, before: int) -> str | None:
        """The last manual step done among the scope's steps[:before], containers included."""
        steps, prefix, context = scope
        # Backwards from the step itself: usually the step just before (a scope's whole list
        # per step made a long runbook quadratic).
        for index in range(before - 1, -1, -1):
            step = steps[index]
            path = prefix + step.id
            record = self.state.steps.get(path)
            if record is None:
                continue  # never entered
            if step.kind == "action":
                if record.outcome in _DONE:
                    return path
                continue
            for inner in reversed(list(self.scopes(step, path, context))):
                found = self.last_in(inner, len(inner[0]))
                if found is not None:
                    return found
        return None

    def scopes(self, step: m.Step, path: str, context: Mapping[str, Any]) -> Iterable[Scope]:
        """The scopes a container walks, in order: one per loop item, or the fragment's."""
        context = {**context, **self.choices}
        if step.for_each is not None:
            items = loop_items(step, context)
            for n, item in enumerate(items, 1):
                inner = item_context(step.for_each, context, item, n, len(items))
                yield step.for_each.steps, f"{path}[{item}].", inner
        elif step.call is not None:
            try:
                yield step.call.steps, path + ".", fragment_context(step.call, context, path)
            except OcsrunError:
                return  # arguments only the walk could render: nothing inside was done

    def after(self, scope: Scope, at: int, target: str) -> Iterable[str]:
        steps, prefix, context = scope
        head = prefix + steps[at].id
        yield from self.under(tuple(prefix + s.id for s in steps[at + 1 :]))
        if target == head:
            yield from self.under((head,))
            return
        yield head  # a container holding the target is not finished any more
        passed = False  # the target's loop item is behind: later items are reset whole
        for inner in self.scopes(steps[at], head, context):
            if passed:
                yield from (p for p in self.state.steps if p.startswith(inner[1]))
            elif target.startswith(inner[1]):
                passed = True
                index = _holder(inner[0], inner[1], target)
                if index is not None:
                    yield from self.after(inner, index, target)

    def under(self, heads: tuple[str, ...]) -> Iterable[str]:
        """The state's paths that are one of `heads` or inside one."""
        if not heads:
            return
        within = tuple(h + "." for h in heads) + tuple(h + "[" for h in heads)
        yield from (p for p in self.state.steps if p in heads or p.startswith(within))
