"""yaml11_reading's character checks before its patterns (they let a start-up skip compiling
them) never change its answer: compared with the patterns alone on generated scalars."""

from __future__ import annotations

from collections import Counter

import hypothesis.strategies as st
from hypothesis import given, settings

from ocsrun.runbook import yaml11


def _patterns_only(text: str) -> yaml11.Reading | None:
    if not text or text[0] not in yaml11.FIRST:
        return None
    if text in yaml11._BOOLS:
        return yaml11.Reading("bool", text)
    for kind, pattern in yaml11._numbers():
        if pattern.fullmatch(text):
            return yaml11.Reading(kind, text)
    return None


# The characters of YAML 1.1 numbers and dates, and a few that are in none of them.
_PIECES = [*"0123456789-+._: \tbxoeEaAfFiInNtTZz", "2001-12-14", "1:30", ".inf", "0x", "m", "00"]
_PIECES += ["1.5", ".5", "e+5", "2001-12-14 21:59:43", "-05:00", "2001-1-2t1:02:03", "Z"]
SCALARS = st.one_of(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3).map("".join),
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join),
)


def test_same_reading_as_the_patterns_alone() -> None:
    kinds: Counter[str] = Counter()

    @settings(derandomize=True, deadline=None, max_examples=1500, database=None)
    @given(SCALARS)
    def check(text: str) -> None:
        reading = yaml11.yaml11_reading(text)
        assert reading == _patterns_only(text)
        kinds[reading.kind if reading else "none"] += 1

    check()
    assert min(kinds[k] for k in ("int", "float", "timestamp", "none")) >= 5, kinds


def test_examples() -> None:
    for text in ("1.0.0", "20:00-06:00", "2001-12-14", "2001-12-14 21:59:43.10 -5", "1e-5"):
        assert yaml11.yaml11_reading(text) == _patterns_only(text), text
    assert yaml11.yaml11_reading("2001-12-14") == yaml11.Reading("timestamp", "2001-12-14")
    assert yaml11.yaml11_reading("1.0.0") is None
