"""The work a runbook template may do: widths, sizes, time and memory.

Capping a template's output is not enough: `'x'|center(10**9)`, `'%999999999s' % x`,
`lipsum(10**6)` or `range(99999)|map('range')|map('list')|list` spend seconds and gigabytes
inside one filter before any output exists. Three layers bound that work:

- `validate` refuses, statically, the calls that build text or sequences from a number
  (text generators, `range`, widths and counts over `MAX_WIDTH`, wide format specifications):
  the rules use `format_spec_problem` and `MAX_WIDTH` from here.
- At run time every filter, global and call checks its numeric arguments and format strings the
  same way *before* it runs, predicts the size of the amplifying ones (`indent`, `replace`,
  `join`), and checks the size of what it returns.
- What remains (many small steps) runs under a `Budget`: a profile hook that stops the render
  when it has taken more than `MAX_SECONDS` or grown the process by more than `MAX_GROWTH` bytes.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ocsrun.errors import OcsrunError

# A width, count or precision larger than any screen or report needs.
MAX_WIDTH = 10_000
# The longest string or sequence one template step may build (the same as the output cap).
MAX_SIZE = 256 * 1024
# One render or `when:` evaluation: wall time and growth of the process's resident memory.
MAX_SECONDS = 1.0
MAX_GROWTH = 64 * 2**20


class BudgetExceeded(OcsrunError):
    """A template tried to do more work than any runbook needs."""

    exit_code = 1
    rule = "template"


# %-formatting: %[(name)][flags][width][.precision]type — widths and precisions as digits or *.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?")
# str.format: {field:spec}; nested {…} inside a spec come from arguments (checked as numbers).
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")


def format_spec_problem(text: str) -> str | None:
    """Why a %- or {}-format string could build a huge string (a width over the limit)."""
    for match in _PERCENT_SPEC.finditer(text):
        for group in match.groups():
            if group == "*":
                return "a '*' width in a format string"
            if group and int(group) > MAX_WIDTH:
                return f"width {group} in a format string (the limit is {MAX_WIDTH})"
    for spec in _BRACE_SPEC.findall(text):
        for digits in re.findall(r"\d+", spec):
            if int(digits) > MAX_WIDTH:
                return f"width {digits} in a format string (the limit is {MAX_WIDTH})"
    return None


# The deadline of the budget in force (None outside one): every filter, call and `%` checks it,
# so a chain of many small steps stops even where no timer or profile hook can run.
_deadline: list[float] = []


def check_clock(name: str) -> None:
    if _deadline and time.monotonic() > _deadline[-1]:
        raise BudgetExceeded(f"{name}: took more than {MAX_SECONDS:g} s")


def check_numbers(name: str, values: Iterator[Any] | list[Any] | tuple[Any, ...]) -> None:
    """Refuse a call given a number over MAX_WIDTH (a width, count, repetition or precision)."""
    check_clock(name)
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
            raise BudgetExceeded(f"{name}: number {value} is over the limit of {MAX_WIDTH}")


def check_lipsum(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """lipsum(n, html, min, max): n paragraphs of up to `max` words, generated word by word."""
    n = args[0] if args else kwargs.get("n", 5)
    most = args[3] if len(args) > 3 else kwargs.get("max", 100)
    if isinstance(n, int) and isinstance(most, int) and n * most * 8 > MAX_SIZE:
        raise BudgetExceeded(f"lipsum: {n} paragraphs of up to {most} words is over the limit")


def check_size(name: str, value: Any) -> Any:
    """Refuse a result larger than MAX_SIZE (characters or items)."""
    sized = isinstance(value, str | bytes | list | tuple | dict | set | frozenset)
    if sized and len(value) > MAX_SIZE:
        raise BudgetExceeded(f"{name}: a result of {len(value)} items (limit {MAX_SIZE})")
    return value


def check_format(name: str, text: Any) -> None:
    if isinstance(text, str):
        problem = format_spec_problem(text)
        if problem:
            raise BudgetExceeded(f"{name}: {problem}")


# Filters whose extra arguments are values, not widths or counts: a big number there is data.
_NUMERIC_FILTERS = frozenset(
    {"abs", "default", "d", "float", "int", "round", "filesizeformat", "min", "max", "sum"}
)


def _predict(name: str, value: Any, args: tuple[Any, ...]) -> None:
    """The size an amplifying filter would build, refused before it builds it."""
    if name == "indent" and isinstance(value, str):
        width = args[0] if args and isinstance(args[0], int) else 4
        if len(value) + max(width, 0) * (value.count("\n") + 1) > MAX_SIZE:
            raise BudgetExceeded(f"{name}: the result would be over {MAX_SIZE} characters")
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = value.count(old) if old else len(value) + 1
        if len(value) + count * max(len(new) - len(old), 0) > MAX_SIZE:
            raise BudgetExceeded(f"{name}: the result would be over {MAX_SIZE} characters")
    elif name == "format":
        check_format(name, value)


def budgeted_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (a Jinja filter) with its arguments checked first and its result after."""
    from jinja2.utils import _PassArg

    skip = 1 if _PassArg.from_obj(function) is None else 2  # (context,) value, then arguments

    def filtered(*args: Any, **kwargs: Any) -> Any:
        if name not in _NUMERIC_FILTERS:
            check_numbers(name, [*args[skip:], *kwargs.values()])
        if len(args) >= skip:
            _predict(name, args[skip - 1], args[skip:])
        if name == "join" and len(args) >= skip:
            return check_size(name, _join(function, args, kwargs, skip))
        return check_size(name, function(*args, **kwargs))

    filtered.__dict__.update(getattr(function, "__dict__", {}))  # keeps Jinja's pass_arg marker
    filtered.__name__ = getattr(function, "__name__", name)
    return filtered


def _join(function: Callable[..., Any], args: tuple[Any, ...], kwargs: Any, skip: int) -> Any:
    """`join`, its size added up from the items before the string is built."""
    items = args[skip - 1]
    if isinstance(items, str | bytes | dict):
        return function(*args, **kwargs)
    listed = []
    for item in items:
        listed.append(item)
        if len(listed) > MAX_SIZE:
            raise BudgetExceeded(f"join: more than {MAX_SIZE} items")
    separator = args[skip] if len(args) > skip else kwargs.get("d", "")
    total = len(str(separator)) * max(len(listed) - 1, 0)
    total += sum(len(item) if isinstance(item, str) else 24 for item in listed)
    if total > MAX_SIZE:
        raise BudgetExceeded(f"join: the result would be over {MAX_SIZE} characters")
    return function(*args[: skip - 1], listed, *args[skip:], **kwargs)


# --- time and memory ------------------------------------------------------------------------


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident() -> int:
    """This process's resident memory in bytes (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def budget(seconds: float = MAX_SECONDS, growth: int = MAX_GROWTH) -> Iterator[None]:
    """Stop the code run inside after `seconds`, or once the process has grown by `growth`.

    On the main thread a 20 ms interval timer (SIGALRM) checks the clock and the memory, at no
    cost per call; elsewhere (or when a timer is already set) a profile hook does, on every
    32nd call event. Neither interrupts one long C call, which is why the arguments of every
    call are bounded before it starts.
    """
    deadline = time.monotonic() + seconds
    # Measured from the first check, not before the render: reading /proc costs more than
    # most renders (~0.1 ms), and what one call can allocate before then is bounded anyway.
    ceiling: int | None = None

    def over() -> str | None:
        nonlocal ceiling
        if time.monotonic() > deadline:
            return f"took more than {seconds:g} s"
        resident = _resident()
        if ceiling is None:
            ceiling = resident + growth
        elif resident and resident > ceiling:
            return f"used more than {growth // 2**20} MiB"
        return None

    _deadline.append(deadline)
    try:
        if _can_use_timer():
            with _timer(over):
                yield
        else:
            with _profiled(over):
                yield
    finally:
        _deadline.pop()


def _can_use_timer() -> bool:
    import signal
    import threading

    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )


@contextmanager
def _timer(over: Callable[[], str | None]) -> Iterator[None]:
    import signal

    def tick(signum: int, frame: FrameType | None) -> None:
        problem = over()
        if problem:
            # The timer keeps running: a raise that lands in a finalizer or a gc callback is
            # swallowed there, and the next tick raises again in the render's own code.
            raise BudgetExceeded(problem)

    previous = signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    try:
        yield
    finally:
        # A tick may still land here (the timer keeps running until it is stopped): it must
        # not skip the stopping, nor replace the exception already on its way out.
        while True:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except BudgetExceeded:
                continue


@contextmanager
def _profiled(over: Callable[[], str | None]) -> Iterator[None]:
    events = 0
    previous = sys.getprofile()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal events
        events += 1
        if events & 31:
            return
        problem = over()
        if problem:
            sys.setprofile(None)
            raise BudgetExceeded(problem)

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)
