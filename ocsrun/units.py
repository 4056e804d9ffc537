"""Durations ("1h30m") and sizes ("64KiB") as runbooks write them."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_SIZE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB)?$")
_SIZE_FACTORS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def parse_duration(text: str | int | float) -> int:
    """Seconds in a duration; a bare number is seconds."""
    if isinstance(text, int | float):
        return int(text)
    match = _DURATION.match(text.strip())
    if match and any(len(g) > 9 for g in match.groups() if g):
        # Far beyond any use, and int() of thousands of digits raises (or takes long).
        raise ValueError(f"not a usable duration: {text[:20]!r}... (too many digits)")
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1h30m)")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_size(text: str | int) -> int:
    """Bytes in a size; a bare number is bytes."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 4096, 64KiB, 10MiB)")
    return int(match.group(1)) * _SIZE_FACTORS[match.group(2)]


def format_duration(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
