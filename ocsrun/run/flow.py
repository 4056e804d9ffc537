"""What the executor and its step helpers share: outcomes, active gates, and the host protocols.

The step helpers (`manual`, `gatestep`, `containers`) used to import the executor
and reach into its attributes; the executor imported them back. Now they depend
on this module only: a step helper is handed a `StepHost` (a `ScopeHost` for steps
that hold steps), the few things a step may do — journal, finish, retry, abort,
ask for text, hide secrets — and nothing of how the walk is kept. The executor is
the one implementation; imports run executor → helpers → flow, never back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

if TYPE_CHECKING:
    from ocsrun.run.operator import Ask, Operator
    from ocsrun.run.state import RunState
    from ocsrun.runbook import model as m

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def session_clock(wall: Clock, monotonic: Callable[[], float] | None = None) -> Clock:
    """The wall clock read once, at the start of a session, then moved on by `monotonic`.

    Within a session it never goes backwards: a wall clock set back (by hand, by NTP) does not
    make a stale confirmation young again or a duration negative. Ages across sessions compare
    wall times, and a negative one counts as expired (see gatestep). Without `monotonic`, a
    wall clock other than the real one (a test's) also drives the elapsed time.
    """
    start = wall()
    if monotonic is None:
        if wall is not utc_now:
            return wall
        monotonic = time.monotonic
    tick = monotonic
    origin = tick()

    def now() -> datetime:
        return start + timedelta(seconds=tick() - origin)

    return now


@dataclass(frozen=True, slots=True)
class Goto:
    """Go back to an earlier step of the same scope (a gate's on_failure)."""

    target: str


class Back(Exception):
    """`back` was answered: the walk unwinds to the scope that holds `target` (a run path,
    perhaps in an earlier loop item or before the loop or fragment being walked) and goes on
    from there; `target` and every step after it are done again (see `ocsrun.run.back`)."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


@dataclass
class Frame:
    """One scope being walked: its steps, path prefix and context, and the step it is at."""

    steps: tuple[m.Step, ...]
    prefix: str
    context: Mapping[str, Any]
    gates: int  # how many gates were active when the scope was entered
    index: int = 0


RETRY = "retry"
# What a step hands back to the walk: go on (None), enter it again (RETRY), or go back (Goto).
Outcome = Goto | str | None


@dataclass
class ActiveGate:
    """A passed gate the following steps rely on (re-checked before each of them)."""

    path: str
    step: m.Step
    passed_at: datetime
    overridden: bool
    context: Mapping[str, Any]


class StepHost(Protocol):
    """What a step helper may use of the run: the operator, the state, the journal."""

    @property
    def operator(self) -> Operator: ...

    @property
    def state(self) -> RunState: ...

    @property
    def rehearsal(self) -> bool: ...

    @property
    def timezone(self) -> str | None:
        """The run's zone for windows that do not name one (None: this machine's)."""
        ...

    def now(self) -> datetime: ...

    def number(self, path: str) -> str:
        """The step's number as `render` prints it (`10.2.3`)."""
        ...

    def hide(self, text: str) -> str: ...

    def shown(self, template: str, context: Mapping[str, Any], path: str) -> str: ...

    def record(self, event: str, /, **data: Any) -> None: ...

    def step_event(self, event: str, path: str, /, **data: Any) -> None: ...

    def finish(self, step: m.Step, path: str, event: str = ..., **data: Any) -> None: ...

    def retry(self, path: str, cause: str | None) -> None: ...

    def abort(self, step: str, reason: str) -> NoReturn: ...

    def ask_text(self, ask: Ask) -> str: ...

    def previous_manual(self, path: str) -> str | None:
        """The run path of the manual step done last before `path`, in this scope or before
        it (an earlier loop item, the steps before a loop or fragment), for `back`."""
        ...


class ScopeHost(StepHost, Protocol):
    """A `StepHost` that can also open a step and walk a nested scope (loops, fragments)."""

    def open_step(
        self, step: m.Step, path: str, context: Mapping[str, Any], position: tuple[int, int]
    ) -> None: ...

    def one_warning(self, path: str, key: str, warning: m.RunbookWarning) -> None: ...

    def run_scope(
        self,
        steps: tuple[m.Step, ...],
        prefix: str,
        context: Mapping[str, Any],
        where: str | None = None,
    ) -> None: ...
