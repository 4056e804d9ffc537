"""Parsing --param values against declared types; secrets never shown."""

from __future__ import annotations

import pytest

from ocsrun.errors import ParamError
from ocsrun.run.params import check_target, coerce, redacted, resolve, split_assignments
from ocsrun.runbook import model as m

ROLES = m.Param("roles", "list", values=("av", "web", "fe"))
SECRET = m.Param("password", "string", secret=True, pattern="^[a-z]+$")


def test_split_assignments_keeps_equals_in_values() -> None:
    assert split_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}


@pytest.mark.parametrize("bad", ["novalue", "=x"])
def test_split_assignments_rejects_malformed(bad: str) -> None:
    with pytest.raises(ParamError):
        split_assignments([bad])


def test_split_assignments_rejects_duplicates() -> None:
    with pytest.raises(ParamError, match="twice"):
        split_assignments(["a=1", "a=2"])


@pytest.mark.parametrize(
    ("param", "raw", "expected"),
    [
        (m.Param("b", "bool"), "yes", True),
        (m.Param("b", "bool"), "False", False),
        (m.Param("b", "bool"), True, True),
        (m.Param("n", "int", min=1, max=5), "3", 3),
        (m.Param("e", "enum", values=("stop", "start")), "stop", "stop"),
        (ROLES, "fe, av", ("fe", "av")),
        (ROLES, ["web"], ("web",)),
        (m.Param("s", "string", pattern="^[A-Z]+$"), "RTCSRV", "RTCSRV"),
    ],
)
def test_coerce_accepts(param: m.Param, raw: object, expected: object) -> None:
    assert coerce(param, raw) == expected


@pytest.mark.parametrize(
    ("param", "raw"),
    [
        (m.Param("b", "bool"), "maybe"),
        (m.Param("n", "int", min=1, max=5), "9"),
        (m.Param("n", "int", min=1, max=5), "0"),
        (m.Param("n", "int"), "3.5"),
        (m.Param("n", "int"), True),
        (m.Param("e", "enum", values=("stop", "start")), "restart"),
        (ROLES, "fe,xx"),
        (ROLES, "fe,fe"),
        (m.Param("s", "string", pattern="^[A-Z]+$"), "rtc srv"),
    ],
)
def test_coerce_rejects(param: m.Param, raw: object) -> None:
    with pytest.raises(ParamError, match=param.name):
        coerce(param, raw)


def test_secret_value_never_in_error_message() -> None:
    with pytest.raises(ParamError) as caught:
        coerce(SECRET, "Hunter2-Secret")
    assert "Hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def test_resolve_fills_defaults_and_lists_missing() -> None:
    params = (m.Param("a", "enum", values=("x", "y")), m.Param("b", "bool", default=False))
    values, missing = resolve(params, {})
    assert values == {"b": False}
    assert [p.name for p in missing] == ["a"]


def test_resolve_rejects_unknown_names() -> None:
    with pytest.raises(ParamError, match="unknown param 'zzz'"):
        resolve((ROLES,), {"zzz": "1"})


def test_redacted_hides_secrets_and_lists_tuples() -> None:
    out = redacted((ROLES, SECRET), {"roles": ("av",), "password": "abc"})
    assert out == {"roles": ["av"], "password": "***"}


def _runbook(target: m.Target | None) -> m.Runbook:
    meta = m.Metadata("t", "T", "1", m.Source("d", "s"), target=target)
    return m.Runbook("runbook", meta, (), (), ())


def test_target_required_when_declared() -> None:
    rb = _runbook(m.Target("FQDN", "a.b.c", r"^[a-z.]+$"))
    with pytest.raises(ParamError, match="--target is required"):
        check_target(rb, None)
    with pytest.raises(ParamError, match="does not match"):
        check_target(rb, "bad\x1b[2J")
    assert check_target(rb, "a.b.c") == "a.b.c"


def test_target_optional_when_not_declared() -> None:
    assert check_target(_runbook(None), None) is None


def test_patterns_are_matched_with_a_bound() -> None:
    from ocsrun.runbook.patterns import MAX_SUBJECT, PatternTimeout, fullmatch

    # Minutes in plain `re`; the bounded engine answers at once.
    assert fullmatch(r"^(\w*\d)*$", "1" * 64 + "!") is False
    assert fullmatch(r"^[a-z0-9.-]+$", "med01.contoso.com") is True
    with pytest.raises(PatternTimeout, match="the limit is"):
        fullmatch(r"^.*$", "x" * (MAX_SUBJECT + 1))
