"""What changed in a gate, and whether it got weaker: the safety-relevant classifier."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ocsrun.review.diff.changes import Change, JsonValue, Kind, clip, plain, quoted
from ocsrun.runbook import model as m


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def gate_presence_changes(path: str, a: m.Step, b: m.Step) -> list[Change]:
    if a.gate is not None and b.gate is not None:
        return _GateDiff(path, a.gate, b.gate).changes()
    if a.gate is not None:
        summary = (
            f"gate `{path}` removed: the step is now {_a(b.kind)} step ({a.gate.type} gate "
            f"'{clip(a.gate.prompt)}' no longer checked)"
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
                f"operator must type {quoted(self.b.expect)} (was {quoted(self.a.expect)})",
                self.a.expect,
                self.b.expect,
            )

    def _checklist(self) -> None:
        a, b = self.a.items, self.b.items
        in_a, in_b = set(a), set(b)  # membership by set: long checklists are not quadratic
        for item in a:
            if item not in in_b:
                self.add(
                    Kind.GATE_WEAKENED,
                    "items",
                    f"checklist item removed ('{clip(item)}')",
                    item,
                    None,
                )
        for item in b:
            if item not in in_a:
                self.add(
                    Kind.GATE_STRENGTHENED,
                    "items",
                    f"checklist item added ('{clip(item)}')",
                    None,
                    item,
                )

    def _time_window(self) -> None:
        a, b = self.a, self.b
        old_slots, new_slots = _slots(a.windows), _slots(b.windows)
        windows_old, windows_new = plain(a.windows), plain(b.windows)
        if new_slots & ~old_slots:
            self.add(
                Kind.TIME_WINDOW_WIDENED,
                "windows",
                f"time window widened ({_windows_text(a.windows)} → {_windows_text(b.windows)})",
                windows_old,
                windows_new,
            )
        elif old_slots & ~new_slots:
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
        # Matched through dicts of queues (the same pairs a scan of `new` per check gave, in
        # the same order): a gate with thousands of checks is not quadratic.
        def sig(c: m.EvidenceCheck) -> tuple[object, ...]:
            return (c.kind, c.pattern, c.must, c.column, c.min_rows, c.otherwise)

        same: dict[tuple[object, ...], deque[int]] = {}
        for j, d in enumerate(new):
            same.setdefault(sig(d), deque()).append(j)
        left_old, used = [], set()
        for c in old:
            twins = same.get(sig(c))
            if not twins:
                left_old.append(c)
                continue
            twin = new[twins.popleft()]
            used.add(id(twin))
            if twin.description != c.description:
                self.add(
                    Kind.WORDING_CHANGED,
                    "evidence.checks",
                    f"evidence check description reworded ({_check_text(c)})",
                    c.description,
                    twin.description,
                )
        left_new = [d for d in new if id(d) not in used]
        by_kind: dict[str, deque[m.EvidenceCheck]] = {}
        for d in left_new:
            by_kind.setdefault(d.kind, deque()).append(d)
        for c in left_old:
            candidates = by_kind.get(c.kind)
            if not candidates:
                self.add(
                    Kind.EVIDENCE_LOOSENED,
                    "evidence.checks",
                    f"evidence check removed ({_check_text(c)})",
                    plain(c),
                    None,
                )
                continue
            twin = candidates.popleft()
            used.add(id(twin))
            # Whether one regex accepts more than another is undecidable in general, so any
            # rewrite of a check is shown to the second reviewer.
            self.add(
                Kind.EVIDENCE_CHANGED,
                "evidence.checks",
                f"{_check_text(c)} → {_check_text(twin)} (may accept more)",
                plain(c),
                plain(twin),
            )
        for d in left_new:
            if id(d) in used:
                continue
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
    return clip(" ".join(argv), 60)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "never stale"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _slots(windows: Sequence[m.TimeWindow]) -> int:
    """The minutes of the week a set of windows lets through, as bits (no windows: all).

    Bit masks, not sets of minutes: a few big-integer operations per window and day, so a gate
    with thousands of windows costs milliseconds.
    """
    if not windows:
        return _WEEK
    out = 0
    for w in windows:
        days = [_DAYS.index(d) for d in w.days if d in _DAYS] if w.days else range(7)
        day_mask = _minutes(w.hours)
        for day in days:
            out |= day_mask << (day * 1440)
    return out


_WEEK = (1 << (7 * 1440)) - 1


def _span(start: int, end: int) -> int:
    return ((1 << (end - start)) - 1) << start


def _minutes(hours: str | None) -> int:
    """The minutes of one day that `HH:MM-HH:MM` covers, as bits (past midnight: both ends)."""
    if not hours:
        return _span(0, 1440)
    match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", hours.strip())
    if not match:
        return _span(0, 1440)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = min(h1 * 60 + m1, 1440), min(h2 * 60 + m2, 1440)
    if start <= end:
        return _span(start, end)
    return _span(start, 1440) | _span(0, end)


def _windows_text(windows: Sequence[m.TimeWindow]) -> str:
    if not windows:
        return "any time"
    parts = []
    for w in windows:
        days = ", ".join(w.days) if w.days else "any day"
        parts.append(f"{days} {w.hours}" if w.hours else f"{days} (all day)")
    return " or ".join(parts)
