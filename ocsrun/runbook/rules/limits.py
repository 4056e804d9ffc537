"""unusable-value: values the schema accepts that a run could not use.

A command timeout of 600 hours, a `valid_for` of a million years, a NUL byte in an argv item or
an unknown time zone all have the right form; each used to fail in the middle of a run. They
are refused here, where the finding names the line, instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.rules.context import Context, as_dict, as_list, as_str

RULE_IDS = ("unusable-value",)

# A command gate longer than a day is a process that hung, not one still working.
MAX_COMMAND_TIMEOUT = 24 * 3600
# An answer older than a month is not "still valid"; beyond this the clock arithmetic overflows.
MAX_VALID_FOR = 31 * 24 * 3600
# The output a command gate keeps (written into the journal).
MAX_OUTPUT = 256 * 2**10
_DIGITS = re.compile(r"\d+")


def unusable_value(ctx: Context) -> Iterator[Diagnostic]:
    for ref in ctx.gates:
        gate = as_dict(ref.step.get("gate"))
        path = (*ref.path, "gate")
        command = as_dict(gate.get("command"))
        problem = _too_long(command.get("timeout"), MAX_COMMAND_TIMEOUT)
        if problem:
            yield ctx.error((*path, "command", "timeout"), f"timeout {problem}", RULE_IDS[0])
        problem = _too_long(gate.get("valid_for"), MAX_VALID_FOR)
        if problem:
            yield ctx.error((*path, "valid_for"), f"valid_for {problem}", RULE_IDS[0])
        problem = _too_big(command.get("max_output"))
        if problem:
            yield ctx.error((*path, "command", "max_output"), problem, RULE_IDS[0])
        for i, arg in enumerate(as_list(command.get("argv"))):
            if isinstance(arg, str) and "\x00" in arg:
                yield ctx.error(
                    (*path, "command", "argv", i),
                    "argv item holds a NUL byte, which no program can receive",
                    RULE_IDS[0],
                )
        zone = as_str(gate.get("timezone"))
        # `ask`: the users' zone, given with --tz or asked when the run starts.
        if zone is not None and zone != "ask" and not _known_zone(zone):
            yield ctx.error(
                (*path, "timezone"),
                f"timezone '{zone}' is not a known IANA time zone (like Europe/Berlin)",
                RULE_IDS[0],
            )


def _too_long(value: Any, limit: int) -> str | None:
    """Why a duration is over `limit` seconds (None when it is within, or not a duration)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    from ocsrun.units import format_duration, parse_duration

    text = str(value)
    if any(len(digits) > 9 for digits in _DIGITS.findall(text)):
        return f"{text[:20]}{'...' if len(text) > 20 else ''} is over the limit of " + (
            format_duration(limit)
        )
    try:
        seconds = parse_duration(value)
    except ValueError:
        return None  # the schema says what is wrong with its form
    if seconds > limit:
        return f"{text} is over the limit of {format_duration(limit)}"
    return None


def _too_big(value: Any) -> str | None:
    """max_output over MAX_OUTPUT: the kept output goes into one journal record, and journal
    readers refuse records near ocsrun.store.journal.MAX_RECORD_BYTES."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    from ocsrun.units import parse_size

    if any(len(digits) > 12 for digits in _DIGITS.findall(str(value))):
        return "max_output is over the limit of 256 KiB"
    try:
        size = parse_size(value)
    except ValueError:
        return None  # the schema's finding
    return f"max_output {value} is over the limit of 256 KiB" if size > MAX_OUTPUT else None


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:  # not found, a path, a NUL byte, a directory: all unknown zones
        return False
    return True
