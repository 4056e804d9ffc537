"""The Operator: the one place a run asks a human (or a script) for a decision.

The executor never prints or reads; it shows `Screen`s and asks `Ask`s. Two
implementations: `TerminalOperator` (ocsrun.run.terminal) and `ScriptedOperator`
here, fed from an answers file (docs/answers.md) for rehearsals, tests and
automation. An answer missing from the file is an `AnswersError` naming the
question, never a guess.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ocsrun.errors import AnswersError, OcsrunError
from ocsrun.runbook import model as m

if TYPE_CHECKING:
    from ocsrun.runbook.loader import Document


@dataclass(frozen=True, slots=True)
class Ask:
    """One question. `step` is the step path ("" for run level), `name` the kind of question."""

    step: str
    name: str  # gate | choice | after_step | after_failure | reason | note | window |
    #            override_reason | warning | param | evidence
    prompt: str
    detail: str = ""  # warning id, param name
    secret: bool = False  # never echo the answer
    hint: str = ""  # how to answer (a param's syntax, a target's example), shown up front

    def describe(self) -> str:
        where = self.step or "run"
        return f"{where}: {self.name}" + (f" {self.detail}" if self.detail else "")


@dataclass(frozen=True, slots=True)
class Screen:
    """Something to show. `body` is Markdown from the runbook (already rendered)."""

    kind: str  # preflight | step | info | result | problem
    title: str
    body: str = ""
    lines: tuple[str, ...] = ()
    level: str = ""  # caution | warning | danger | ok | fail, for colour only
    # A "step" screen starts the step's own clock on a terminal (each prompt then shows the
    # time spent on the step); a screen with ends_step (the step's result) stops it.
    ends_step: bool = False
    # On a "step" screen: the step's own time so far (a resumed attempt goes on with the time
    # of the one interrupted), where its clock starts.
    spent: float = 0.0


class Operator(Protocol):
    def show(self, screen: Screen) -> None: ...

    def acknowledge(self, ask: Ask, warning: m.RunbookWarning) -> bool:
        """True once the operator has read a caution/warning; False to stop the run."""
        ...

    def type_text(self, ask: Ask, expected: str) -> str:
        """What the operator typed (a danger warning's word, a typed confirmation)."""
        ...

    def confirm(self, ask: Ask) -> bool: ...

    def checklist(self, ask: Ask, items: tuple[str, ...]) -> tuple[str, ...]:
        """The items the operator ticked."""
        ...

    def choose(self, ask: Ask, options: tuple[tuple[str, str], ...]) -> str:
        """One of the option values (value, label)."""
        ...

    def file(self, ask: Ask, description: str) -> str:
        """A path to an evidence file ("" in a rehearsal = not checked)."""
        ...

    def text(self, ask: Ask) -> str:
        """Free text: a reason, a note, a param value."""
        ...

    def action(self, ask: Ask, actions: tuple[str, ...]) -> str:
        """One of `actions` (after a step, after a failure, at a closed window)."""
        ...

    def wait(self, ask: Ask, seconds: int) -> bool:
        """Wait `seconds` (for a window to open); False when the operator stopped waiting."""
        ...


# --- answers files ---------------------------------------------------------------

_ITEM = re.compile(r"\[[^\]]*\]")
_KNOWN_TOP = frozenset(
    {"defaults", "steps", "warnings", "params", "target", "operator", "timezone"}
)


@dataclass
class Answers:
    """A parsed answers file; see docs/answers.md."""

    base: Path
    defaults: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    timezone: str | None = None  # the users' zone for `timezone: ask` windows (like --tz)


def load_answers(path: Path) -> Answers:
    """Read an answers file with the same guards as a runbook: a regular file, at most
    5 MiB, UTF-8 without NUL bytes, no anchors or aliases, no tags, bounded nesting."""
    from ocsrun.errors import LoadError
    from ocsrun.runbook.loader import load_document

    try:
        document = load_document(path, str(path))
    except LoadError as error:
        return _empty_or_fail(error, path.parent)
    return _from_document(document, path.parent, str(path))


def parse_answers(text: str, base: Path, display: str = "answers") -> Answers:
    """An answers file given as text (same rules as `load_answers`)."""
    from ocsrun.errors import LoadError
    from ocsrun.runbook.loader import load_text

    try:
        document = load_text(text.encode("utf-8"), display)
    except LoadError as error:
        return _empty_or_fail(error, base)
    return _from_document(document, base, display)


def _empty_or_fail(error: OcsrunError, base: Path) -> Answers:
    if getattr(error, "rule", "") == "empty-file":
        return Answers(base=base)
    prefix = "not valid YAML/JSON: " if getattr(error, "rule", "") == "yaml-syntax" else ""
    raise AnswersError(f"answers file: {prefix}{error}") from None


def _from_document(document: Document, base: Path, display: str) -> Answers:
    from ocsrun.runbook.diagnostic import Severity

    problems = [d for d in document.diagnostics if d.severity is Severity.ERROR]
    if problems:
        raise AnswersError(f"answers file: {problems[0].position}: {problems[0].message}")
    return _answers(document.data, base, display)


def _answers(data: Any, base: Path, display: str) -> Answers:
    if not isinstance(data, dict):
        raise AnswersError(f"{display}: the top level must be a mapping")
    unknown = sorted(set(data) - _KNOWN_TOP)
    if unknown:
        raise AnswersError(f"{display}: unknown key {unknown[0]!r}")
    steps = _mapping(data, "steps", display)
    for key, value in steps.items():
        if not isinstance(value, dict):
            raise AnswersError(f"{display}: steps.{key} must be a mapping of answers")
    target = data.get("target")
    zone = data.get("timezone")
    return Answers(
        timezone=None if zone is None else str(zone),
        base=base,
        defaults=_mapping(data, "defaults", display),
        steps={str(k): dict(v) for k, v in steps.items()},
        warnings=_mapping(data, "warnings", display),
        params=_mapping(data, "params", display),
        target=None if target is None else str(target),
    )


def _mapping(data: Mapping[str, Any], key: str, display: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise AnswersError(f"{display}: {key} must be a mapping")
    return {str(k): v for k, v in value.items()}


# --- the scripted operator -------------------------------------------------------

_MISSING = object()
MAX_SAME_QUESTION = 50


class ScriptedOperator:
    """Answers from an `Answers`; what it was shown is kept in `transcript`."""

    def __init__(self, answers: Answers, display: Callable[[Screen], None] | None = None) -> None:
        self.answers = answers
        self.display = display
        self.transcript: list[Screen] = []
        self.asked: list[Ask] = []
        self._used: dict[tuple[str, str, str], int] = {}
        self._asked: dict[tuple[str, str], int] = {}

    # Lookup: exact step path, then the path without for-each items, then defaults.
    def _lookup(self, ask: Ask, key: str | None = None) -> Any:
        name = key or ask.name
        for scope in (ask.step, _ITEM.sub("", ask.step)):
            entry = self.answers.steps.get(scope)
            if entry is not None and name in entry:
                return self._next(scope, name, entry[name], ask)
        if name in self.answers.defaults:
            return self._next("*", name, self.answers.defaults[name], ask)
        return _MISSING

    def _next(self, scope: str, name: str, value: Any, ask: Ask) -> Any:
        if not isinstance(value, list) or name == "checklist":
            # A list runs out; one answer given again and again to a question that keeps
            # coming back (a gate that keeps failing) would loop for ever: stop instead.
            times = self._asked.get((ask.step, name), 0) + 1
            self._asked[(ask.step, name)] = times
            if times > MAX_SAME_QUESTION:
                raise AnswersError(
                    f"answers: {ask.describe()} asked {MAX_SAME_QUESTION} times with the same "
                    "answer; the answers never get past it"
                )
            return value
        count = self._used.get((scope, name, ask.step), 0)
        if count >= len(value):
            raise AnswersError(
                f"answers: no answer left for {ask.describe()} (all {len(value)} used)"
            )
        self._used[(scope, name, ask.step)] = count + 1
        return value[count]

    def _need(self, ask: Ask, key: str | None = None) -> Any:
        self.asked.append(ask)
        value = self._lookup(ask, key)
        if value is _MISSING:
            raise AnswersError(f"answers: no answer for {ask.describe()} ({ask.prompt[:80]})")
        return value

    def show(self, screen: Screen) -> None:
        self.transcript.append(screen)
        if self.display is not None:
            self.display(screen)

    def _warning_answer(self, ask: Ask) -> Any:
        self.asked.append(ask)
        if not ask.step and ask.detail in self.answers.warnings:
            return self.answers.warnings[ask.detail]
        entry = self.answers.steps.get(ask.step) or self.answers.steps.get(_ITEM.sub("", ask.step))
        nested = (entry or {}).get("warnings")
        if isinstance(nested, dict) and ask.detail in nested:
            return nested[ask.detail]
        value = self.answers.defaults.get("acknowledge", _MISSING)
        if value is _MISSING:
            raise AnswersError(f"answers: no answer for {ask.describe()}")
        return value

    def acknowledge(self, ask: Ask, warning: m.RunbookWarning) -> bool:
        return self._warning_answer(ask) is True

    def type_text(self, ask: Ask, expected: str) -> str:
        if ask.name == "warning":
            value = self._warning_answer(ask)
            return expected if value is True else str(value)
        return str(self._need(ask))

    def confirm(self, ask: Ask) -> bool:
        value = self._need(ask)
        if not isinstance(value, bool):
            raise AnswersError(f"answers: {ask.describe()} expects true or false")
        return value

    def checklist(self, ask: Ask, items: tuple[str, ...]) -> tuple[str, ...]:
        value = self._need(ask)
        if value is True or value == "all":
            return items
        if value is False or value == "none":
            return ()
        if isinstance(value, list):
            return tuple(str(v) for v in value)
        raise AnswersError(f"answers: {ask.describe()} expects all, none or a list of items")

    def choose(self, ask: Ask, options: tuple[tuple[str, str], ...]) -> str:
        value = str(self._need(ask))
        if value not in {v for v, _ in options}:
            allowed = ", ".join(v for v, _ in options)
            raise AnswersError(f"answers: {ask.describe()}: {value!r} is not one of: {allowed}")
        return value

    def file(self, ask: Ask, description: str) -> str:
        from ocsrun.run.evidence import typed_path

        value = typed_path(str(self._need(ask)))
        if value == "":
            return ""
        if "\x00" in value:
            raise AnswersError(f"answers: {ask.describe()}: the path holds a NUL byte")
        path = self.answers.base / value
        # A file that cannot be read is asked for again (docs/answers.md): a list gives its
        # next answer; a single answer would come back unchanged, so stop here and say why.
        if not self._is_list(ask) and not (path.is_file() and os.access(path, os.R_OK)):
            raise AnswersError(
                f"answers: {ask.describe()}: {value!r} is not a readable file "
                f"(from {self.answers.base}); give a list to try another"
            )
        return str(path.resolve())

    def _is_list(self, ask: Ask) -> bool:
        for scope in (ask.step, _ITEM.sub("", ask.step)):
            entry = self.answers.steps.get(scope)
            if entry is not None and ask.name in entry:
                return isinstance(entry[ask.name], list)
        return isinstance(self.answers.defaults.get(ask.name), list)

    def text(self, ask: Ask) -> str:
        if ask.name == "param":
            if ask.detail in self.answers.params:
                value = self.answers.params[ask.detail]
                # A list in the file is typed the way a person would: comma-separated
                # (str() would give "['a', 'b']", which no list param accepts).
                if isinstance(value, list | tuple):
                    return ",".join(str(item) for item in value)
                return str(value)
            raise AnswersError(f"answers: no value for param {ask.detail}")
        return str(self._need(ask))

    def action(self, ask: Ask, actions: tuple[str, ...]) -> str:
        value = str(self._need(ask))
        if value not in actions:
            raise AnswersError(
                f"answers: {ask.describe()}: {value!r} is not one of: {', '.join(actions)}"
            )
        return value

    def wait(self, ask: Ask, seconds: int) -> bool:
        """An answers file that says `window: wait` waits, really (automation at the window),
        and says so in its log: how long first, then a line every WAIT_REPORT seconds. The
        wait is bounded by the window's next opening (at most a week ahead, see
        gates.next_opening); Ctrl-C or SIGTERM interrupts the run, journaled and resumable."""
        import time

        from ocsrun.units import format_duration

        self.asked.append(ask)
        self.show(Screen("info", f"{ask.prompt}: waiting {format_duration(seconds)}"))
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, WAIT_REPORT))
            rest = end - time.monotonic()
            if rest > 0:
                self.show(Screen("info", f"  {format_duration(rest)} to wait"))
        return True


WAIT_REPORT = 600  # seconds between the lines a scripted wait writes to its log
