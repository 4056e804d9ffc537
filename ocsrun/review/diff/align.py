"""Matching steps across two runbooks by dotted path, and what moved.

Steps are matched by path in one pass over each side (dicts, in document order). What moved
within a list is what is not in a longest common subsequence of the matched paths; paths are
unique, so that is a longest increasing subsequence of positions: O(n log n), not the O(n²)
table (25,000 steps took gigabytes). Steps now before a gate they used to follow are found by
a sweep in O(n log n + what is reported), and what is reported is capped (a reordering of
everything against everything is reported in part, with one line saying so).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from ocsrun.review.diff.changes import Change, Kind
from ocsrun.review.diff.steps import added, removed, step_changes
from ocsrun.runbook import model as m

# Pairs (step, gate) looked at by the moved-before-gate sweep before it stops: far above any
# real reordering, far below what a reversal of thousands of steps and gates would produce.
MAX_GATE_PAIRS = 5_000


@dataclass
class StepDiff:
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
                out += step_changes(path, self.old[path], step)
            elif _parent(path) not in self.new or _parent(path) in self.old:
                out.append(added(path, step))
        for path, step in self.old.items():
            if path not in self.new:
                out += removed(
                    path,
                    step,
                    parent_gone=_parent(path) in self.old and _parent(path) not in self.new,
                )
        if [p for p in self.old if p in self.new] != [p for p in self.new if p in self.old]:
            # Only when the steps on both sides are not in the same order (the common case is):
            # then nothing moved within any list, nor past any gate.
            out += self._moves()
            out += self._moved_before_gates()
        return out

    def _moves(self) -> list[Change]:
        # Each list of siblings (one scope per parent path), both sides' matched paths in order.
        old_lists: dict[str, list[str]] = {}
        new_lists: dict[str, list[str]] = {}
        for path in self.old:
            if path in self.new:
                old_lists.setdefault(_parent(path), []).append(path)
        for path in self.new:
            if path in self.old:
                new_lists.setdefault(_parent(path), []).append(path)
        out = []
        for scope in sorted(new_lists):
            a, b = old_lists.get(scope, []), new_lists[scope]
            if a == b:
                continue  # the common case: nothing moved, and no work beyond the comparison
            old_at = {p: i for i, p in enumerate(a)}
            kept = set(_longest_kept(a, b))
            for new_index, path in enumerate(b):
                if path not in kept:
                    out.append(
                        Change(
                            Kind.STEP_MOVED,
                            path,
                            "position",
                            f"step `{path}` moved: position {old_at[path] + 1} → "
                            f"{new_index + 1} in its list",
                            old_at[path] + 1,
                            new_index + 1,
                        )
                    )
        return out

    def _moved_before_gates(self) -> list[Change]:
        """Steps that now come before a gate they used to follow (in walk order).

        A sweep over the steps in their new order keeps the gates still ahead, sorted by old
        position: the ones with an old position before the step's are exactly its pairs.
        """
        common = [p for p in self.new if p in self.old]
        old_at = {p: i for i, p in enumerate(p for p in self.old if p in self.new)}
        if all(old_at[p] == i for i, p in enumerate(common)):
            return []  # the same order on both sides: no step can have passed a gate
        new_at = {p: i for i, p in enumerate(common)}
        ahead = sorted(old_at[p] for p in common if self.old[p].kind == "gate")
        by_old = {old_at[p]: p for p in common}
        out: list[Change] = []
        flagged: set[tuple[str, str]] = set()
        looked = 0
        for step in common:
            if self.old[step].kind == "gate":
                # This gate is no longer ahead of the steps that follow it in the new order.
                del ahead[bisect_left(ahead, old_at[step])]
            before = ahead[: bisect_left(ahead, old_at[step])]
            looked += len(before)
            if looked > MAX_GATE_PAIRS:
                out.append(_too_many(step))
                return out
            for gate in sorted((by_old[i] for i in before), key=new_at.__getitem__):
                if _related(step, gate):
                    continue
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


def _too_many(step: str) -> Change:
    return Change(
        Kind.STEP_MOVED_BEFORE_GATE,
        step,
        "position",
        f"steps from `{step}` on also come before gates they used to follow (more than "
        f"{MAX_GATE_PAIRS} step/gate pairs were compared; the list stops here)",
        None,
        None,
    )


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _longest_kept(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """The longest list of paths in the same relative order on both sides (a subsequence of b).

    a and b hold the same unique paths, so a longest common subsequence is a longest increasing
    subsequence of old positions taken in b's order: O(n log n). Among equally long ones, the
    one that keeps the earliest steps of b (what the quadratic table chose before).
    """
    old_at = {p: i for i, p in enumerate(a)}
    positions = [old_at[p] for p in b]
    # longest[j]: the longest increasing run of positions starting at b[j] (a right-to-left
    # patience sort on negated positions).
    longest = [0] * len(b)
    tails: list[int] = []
    for j in range(len(b) - 1, -1, -1):
        k = bisect_left(tails, -positions[j])
        if k == len(tails):
            tails.append(-positions[j])
        else:
            tails[k] = -positions[j]
        longest[j] = k + 1
    kept: list[str] = []
    needed, last = len(tails), -1
    for j, position in enumerate(positions):
        if needed and longest[j] == needed and position > last:
            kept.append(b[j])
            needed, last = needed - 1, position
    return kept
