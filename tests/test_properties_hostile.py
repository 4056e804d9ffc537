"""Properties for the classes of hostile input of issue 15 (tests/test_properties.py mutates
valid runbooks at random; here each class gets its own generator, so every example is a member
of the class and the property says what must come of it):

- YAML 1.1 sexagesimal-looking scalars and integers past Python's 4,300-digit limit, in
  runbooks and answers files: read as strings (never converted) or refused with a typed error;
- template bombs in instructions and `when:`: refused by validation, or stopped by the render
  budget (a TemplateError), output bounded;
- backtracking target and param patterns: a `bad-regex` finding, or matched with a bound;
- invisible and bidirectional characters in ids, titles and argv: an `invisible-char` finding,
  and never a raw one in any output;
- include chains of any depth: `include-depth` exactly when deeper than the limit (and
  `include-cycle` for a loop), never a RecursionError;
- values the schema accepts that a run could not use (timeouts, `valid_for`, NUL in argv,
  unknown time zones): `unusable-value` exactly when unusable.

Nothing here may end in an `internal` finding or an exception other than the typed one.
Examples are few and derandomized (CI runs the same ones every time).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ocsrun.errors import LoadError
from ocsrun.runbook import patterns, templating
from ocsrun.runbook.includes import MAX_INCLUDE_DEPTH
from ocsrun.runbook.loader import MAX_NUMBER_CHARS, load_text
from ocsrun.runbook.rules.limits import MAX_COMMAND_TIMEOUT, MAX_VALID_FOR
from ocsrun.runbook.validation import FileResult, validate_file, validate_runbook_tree
from ocsrun.sanitize import INVISIBLE

BASE = (ROOT / "tests" / "data" / "hostile" / "fixtures" / "base.yaml").read_text(encoding="utf-8")
FIRST_TITLE = "    title: First step\n"
RAW_INVISIBLE = re.compile(f"[{INVISIBLE}]")

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def work() -> Iterator[Path]:
    """A directory for one test's files, in memory where possible (many small writes)."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() else None
    path = Path(tempfile.mkdtemp(prefix="ocsrun-hostile-props-", dir=parent))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def with_second_step(body: str) -> str:
    """The base runbook with a second step whose body (indented under `- id: second`) is given."""
    return BASE + body


def dq(value: str) -> str:
    """A YAML double-quoted scalar holding exactly `value` (escapes for what is not printable)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\U{ord(c):08x}" for c in escaped) + '"'


def findings(result: FileResult, rule: str) -> list[str]:
    return [d.message for d in result.diagnostics if d.rule == rule]


def no_internal(result: FileResult) -> None:
    internal = [d.message for d in result.diagnostics if d.rule == "internal"]
    assert not internal, internal


# --- YAML 1.1 numbers: sexagesimal and huge integers -----------------------------------------


@st.composite
def sexagesimal(draw: st.DrawFn) -> str:
    """`1:30`, `-190:20:30.15`, and the same with thousands of groups (YAML 1.1 converts those
    in quadratic time; YAML 1.2 reads a string)."""
    sign = draw(st.sampled_from(["", "-", "+"]))
    head = draw(st.from_regex(r"[1-9][0-9_]{0,3}", fullmatch=True))
    groups = draw(st.lists(st.from_regex(r"[0-5]?[0-9]", fullmatch=True), min_size=1, max_size=3))
    repeat = draw(st.sampled_from([1, 2, 10, 1000, 30_000]))
    fraction = draw(st.sampled_from(["", ".", ".5", ".25_5"]))
    return sign + head + "".join(f":{g}" for g in groups) * repeat + fraction


@st.composite
def huge_integer(draw: st.DrawFn) -> str:
    """Integers past Python's 4,300-digit conversion limit, in the forms YAML reads as ints."""
    digits = draw(st.integers(min_value=4_301, max_value=40_000))
    prefix = draw(st.sampled_from(["", "-", "+", "0x", "0o"]))
    alphabet = "01234567" if prefix == "0o" else "123456789"
    pattern = draw(st.text(alphabet=alphabet, min_size=1, max_size=5))
    return prefix + (pattern * (digits // len(pattern) + 1))[:digits]


# Where a scalar goes: a field that wants a string, a number or a boolean.
PLACES = {
    "title": lambda v: BASE.replace(FIRST_TITLE, f"    title: {v}\n"),
    "note": lambda v: BASE.replace(FIRST_TITLE, f"{FIRST_TITLE}    notes: [{v}]\n"),
    "expect_exit": lambda v: with_second_step(
        "    gate:\n      type: command\n      prompt: P\n"
        f"      command:\n        argv: [/bin/true]\n        expect_exit: {v}\n"
    ),
    "required": lambda v: BASE.replace(FIRST_TITLE, f"{FIRST_TITLE}    required: {v}\n"),
}


@SETTINGS
@given(value=sexagesimal(), place=st.sampled_from(sorted(PLACES)))
def test_sexagesimal_scalars_stay_strings_with_a_finding(value: str, place: str) -> None:
    event(f"{len(value) // 1000 * 1000}+ characters")
    text = PLACES[place](value)
    document = load_text(text.encode(), "rb.yaml")  # no LoadError: the text is fine YAML 1.2
    line = text.splitlines().index(next(x for x in text.splitlines() if value in x)) + 1
    assert any(value == scalar for _, scalar in document.yaml11)
    result = _validate_text(text)
    no_internal(result)
    # Read as a string (not converted: no number comes of it), and flagged where it is.
    yaml11 = [d for d in result.diagnostics if d.rule == "yaml11"]
    assert yaml11 and all(d.position.line == line for d in yaml11), result.diagnostics
    assert "YAML 1.1" in yaml11[0].message


@SETTINGS
@given(value=huge_integer(), place=st.sampled_from(sorted(PLACES)))
def test_huge_integers_are_refused_before_conversion(value: str, place: str) -> None:
    text = PLACES[place](value)
    with pytest.raises(LoadError) as refused:
        load_text(text.encode(), "rb.yaml")
    assert refused.value.rule == "too-large"
    assert f"a number of {len(value)} characters; the limit is {MAX_NUMBER_CHARS}" in (
        refused.value.message
    )
    assert refused.value.position is not None and refused.value.position.line > 1


ANSWER_PLACES = {
    "after_step": lambda v: f"defaults:\n  after_step: {v}\n",
    "param": lambda v: f"params:\n  mode: {v}\n",
    "target": lambda v: f"target: {v}\n",
    "step": lambda v: f"steps:\n  first: {{after_step: {v}}}\n",
}


@SETTINGS
@given(
    value=st.one_of(sexagesimal(), huge_integer()),
    place=st.sampled_from(sorted(ANSWER_PLACES)),
)
def test_answers_files_read_yaml11_numbers_as_text_or_refuse_them(
    value: str, place: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ocsrun.run.operator import AnswersError, parse_answers

    text = ANSWER_PLACES[place](value)
    try:
        answers = parse_answers(text, work)
    except AnswersError as error:
        event("refused")
        # Only a number too long to convert is refused, and the error says so.
        assert value.lstrip("+-").replace("_", "").isalnum() and ":" not in value
        assert "a number of" in error.message
    else:
        event("kept as text")
        assert ":" in value  # sexagesimal: kept as the text it is
        found = {
            "after_step": answers.defaults.get("after_step"),
            "param": answers.params.get("mode"),
            "target": answers.target,
            "step": answers.steps.get("first", {}).get("after_step"),
        }[place]
        assert found == value and isinstance(found, str)
    # Through the CLI: a documented exit code, one error line, no traceback (run_cli).
    (work / "answers.yaml").write_text(text, encoding="utf-8")
    (work / "rb.yaml").write_text(BASE, encoding="utf-8")
    code, _ = run_cli(
        capsys,
        "rehearse",
        str(work / "rb.yaml"),
        "--answers",
        str(work / "answers.yaml"),
        "--state-dir",
        str(work / "state"),
    )
    assert code in {0, 1, 2}


def _validate_text(text: str) -> FileResult:
    with tempfile.TemporaryDirectory(prefix="ocsrun-prop-") as folder:
        path = Path(folder) / "rb.yaml"
        path.write_text(text, encoding="utf-8")
        return validate_file(path)


# --- template bombs ---------------------------------------------------------------------------

# Small, just under the static width limit (budget.MAX_WIDTH: what validation lets through,
# so the render budget must hold), and far over it.
NUMBERS = st.sampled_from([3, 99, 9_999, 9_999, 9_999, 10_001, 10**6, 10**9, 2**31])
BOMBS = [
    "lipsum({n})",
    "lipsum({n}, false, {n}, {n})",
    "range({n})|join",
    "range({n})|map('string')|join(',')",
    "range({n})|map('range')|map('list')|list",
    "'x' * {n}",
    "('x' * {n})|length",
    "'%{n}s' % mode",
    "'%.{n}f' % 1.5",
    "'{{:{n}}}'.format(mode)",
    "mode|center({n})",
    "mode|indent({n})",
    "mode|wordwrap({n})",
    "mode|truncate({n})",
    "(mode ~ ' ') * {n}",
    "[mode] * {n}",
    "{n} ** {n}",
    "cycler(*range({n})).next()",
    "range({n})|batch(2)|list|length",
    "range({n})|sum",
    "(range({n})|list)[-1]",
    "mode|replace('', mode * {n})",
    "dict(a={n})|dictsort|list",
]
# Each call under the static limits, the result far over them: for the run-time checks.
RUNTIME_BOMBS = [
    "('%{n}s' % mode)|replace(' ', '%{n}s' % mode)",
    "(mode|center({n}))|replace(' ', mode|center({n}))|length",
    "mode|center({n})|list|join(mode|center({n}))",
    "(mode|center({n}) ~ '\\n')|indent({n})|indent({n})",
    "mode|center({n})|wordwrap(1)|replace('\\n', mode|center({n}))",
]


@st.composite
def template_bomb(draw: st.DrawFn) -> str:
    atoms = st.sampled_from(BOMBS) | st.sampled_from(RUNTIME_BOMBS)
    count = draw(st.sampled_from([1, 1, 2]))
    parts = [draw(atoms).replace("{n}", str(draw(NUMBERS))) for _ in range(count)]
    joiner = draw(st.sampled_from([" ~ ", " + ", ", "]))
    expression = joiner.join(f"({p})" for p in parts)
    return f"[{expression}]" if joiner == ", " else expression


@settings(SETTINGS, max_examples=40)
@given(bomb=template_bomb(), where=st.sampled_from(["instructions", "when"]))
def test_template_bombs_are_refused_or_stopped(bomb: str, where: str) -> None:
    context = {"mode": "fast", "target": "host01"}
    if where == "instructions":
        source = "Then {{ " + bomb + " }} done."
        line = f"    instructions: '{source.replace(chr(39), chr(39) * 2)}'\n"
    else:
        source = f"({bomb})|string|length > 0"
        line = f"    when: '{source.replace(chr(39), chr(39) * 2)}'\n"
    text = BASE.replace("    instructions: Work in {{ mode }} mode.\n", line)
    assert line in text
    result = _validate_text(text)
    no_internal(result)
    if result.errors:
        event("refused by validation")
        # Refused: by the template rules, at the field.
        rules = {d.rule for d in result.diagnostics}
        assert rules & {"template-syntax", "when-syntax", "unknown-name"}, result.diagnostics
        return
    # Accepted: rendering it is bounded (the budget stops it with a TemplateError).
    try:
        if where == "instructions":
            rendered = templating.render(source, context, "steps.first")
            assert len(rendered) <= templating.MAX_OUTPUT_CHARS
        else:
            assert templating.evaluate(source, context, "steps.first") in {True, False}
        event("rendered within the budget")
    except templating.TemplateError as error:
        event("stopped at render")
        assert error.message.startswith("steps.first: "), error.message


# --- backtracking patterns ----------------------------------------------------------------------


@st.composite
def backtracking_pattern(draw: st.DrawFn) -> str:
    atom = draw(
        st.sampled_from([r"\w", r"\d", ".", "a", "1", "[a-z0-9]", r"\w*\d", "a|a", "1|11", r"\s*"])
    )
    inner = draw(st.sampled_from(["*", "+", "{1,9}", "{2,}", "", "?"]))
    outer = draw(st.sampled_from(["*", "+", "{1,32000}", "{0,99}", "{2}", "?"]))
    tail = draw(st.sampled_from(["$", "!", "", "[bc]", r"\d$"]))
    group = f"({atom}{inner}){outer}"
    if draw(st.booleans()):
        group = f"({group}){draw(st.sampled_from(['*', '+', '{1,3}']))}"
    return f"^{group}{tail}"


@SETTINGS
@given(pattern=backtracking_pattern(), where=st.sampled_from(["target", "param"]))
def test_backtracking_patterns_get_a_finding_or_a_bounded_match(pattern: str, where: str) -> None:
    quoted = "'" + pattern.replace("'", "''") + "'"
    if where == "target":
        text = BASE.replace(
            "    section: Everything\n",
            f"    section: Everything\n  target:\n    description: T\n    pattern: {quoted}\n",
        )
    else:
        text = BASE.replace(
            "params:\n",
            f"params:\n  host:\n    type: string\n    default: x\n    pattern: {quoted}\n",
        )
    result = _validate_text(text)  # validate matches a param's default: bounded too
    no_internal(result)
    if findings(result, "bad-regex"):
        event("bad-regex")
        return
    for subject in ("1" * 64 + "!", "a" * 64 + "!", "a1" * 32):
        try:
            matched = patterns.fullmatch(pattern, subject, timeout=0.2)
        except patterns.PatternTimeout as error:
            event("match timed out")
            assert "took more than" in error.message
        else:
            event("matched within the bound")
            assert matched in {True, False}


# --- invisible and bidirectional characters ----------------------------------------------------


def _class_members(ranges: str) -> list[str]:
    """The characters of a regex character class body such as `a-c\u200b` (no escapes)."""
    out, i = [], 0
    while i < len(ranges):
        if i + 2 < len(ranges) and ranges[i + 1] == "-":
            out += [chr(c) for c in range(ord(ranges[i]), ord(ranges[i + 2]) + 1)]
            i += 3
        else:
            out.append(ranges[i])
            i += 1
    return out


# Line and paragraph separators excluded: YAML breaks lines at them.
INVISIBLES = sorted(set(_class_members(INVISIBLE)) - {"\u2028", "\u2029"})


@st.composite
def hidden(draw: st.DrawFn, visible: str) -> str:
    at = draw(st.integers(0, len(visible)))
    return visible[:at] + draw(st.sampled_from(INVISIBLES)) + visible[at:]


FIELDS = {
    "step id": lambda v: BASE.replace("  - id: first\n", f'  - id: "{v}"\n'),
    "step title": lambda v: BASE.replace(FIRST_TITLE, f'    title: "{v}"\n'),
    "runbook title": lambda v: BASE.replace("  title: Base runbook\n", f'  title: "{v}"\n'),
    "argv item": lambda v: with_second_step(
        "    gate:\n      type: command\n      prompt: P\n"
        f'      command:\n        argv: [/bin/echo, "{v}"]\n'
    ),
}


@settings(SETTINGS, max_examples=20)
@given(
    field=st.sampled_from(sorted(FIELDS)),
    value=st.sampled_from(["first", "--quiet", "Base runbook"]).flatmap(hidden),
)
def test_invisible_characters_are_flagged_and_never_printed_raw(
    field: str, value: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = work / "rb.yaml"
    # Written as the raw character (what a pull request holds), in a double-quoted scalar.
    path.write_text(FIELDS[field](value), encoding="utf-8")
    (work / "base.yaml").write_text(BASE, encoding="utf-8")
    code, output = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert "[invisible-char]" in output, output
    assert not RAW_INVISIBLE.search(output), repr(output)
    for argv in (("render", str(path)), ("diff", str(work / "base.yaml"), str(path))):
        _, output = run_cli(capsys, *argv)
        assert not RAW_INVISIBLE.search(output), repr(output)


# --- include chains ----------------------------------------------------------------------------


def _fragment(number: int, calls: str | None) -> str:
    call = f"  - id: next\n    title: Next\n    uses: {calls}\n" if calls else ""
    return (
        "# yaml-language-server: $schema=../../../schemas/runbook.schema.json\n"
        f"format: ocsrun/v1\nkind: fragment\nmetadata:\n  id: chain.f{number}\n"
        f"  title: Fragment {number}\n  version: 1.0.0\nsteps:\n  - id: s\n    title: Step\n" + call
    )


@settings(SETTINGS, max_examples=15)
@given(depth=st.integers(1, 3 * MAX_INCLUDE_DEPTH), loops=st.booleans())
def test_include_chains_get_include_depth_exactly_past_the_limit(
    depth: int, loops: bool, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(tempfile.mkdtemp(dir=work))
    main = folder / "main.yaml"
    main.write_text(BASE + "  - id: call\n    title: Call\n    uses: f/f0.yaml\n", "utf-8")
    (folder / "f").mkdir()
    for i in range(depth):
        following = f"f{i + 1}.yaml" if i < depth - 1 else ("f0.yaml" if loops else None)
        (folder / "f" / f"f{i}.yaml").write_text(_fragment(i, following), encoding="utf-8")
    results = validate_runbook_tree(main)
    for result in results:
        no_internal(result)
    own = results[0]
    cycle = findings(own, "include-cycle")
    too_deep = findings(own, "include-depth")
    # The runbook counts as a level: with `depth` fragments below it, depth + 1 levels.
    levels = depth + 1
    if loops and levels <= MAX_INCLUDE_DEPTH:
        assert cycle and not too_deep, own.diagnostics  # the loop closes within the limit
    elif not loops:
        assert bool(too_deep) == (levels > MAX_INCLUDE_DEPTH), (depth, own.diagnostics)
        assert not cycle
    else:
        assert too_deep or cycle, own.diagnostics
    # Every command that loads it: refused when any of that is found, never a RecursionError.
    refused = bool(cycle or too_deep)
    event("cycle" if cycle else "too deep" if too_deep else "within the limit")
    code, output = run_cli(
        capsys,
        "rehearse",
        str(main),
        "--answers",
        str(ROOT / "tests" / "data" / "hostile" / "fixtures" / "answers.yaml"),
        "--state-dir",
        str(work / "state"),
    )
    assert (code == 1) == refused, output
    if refused:
        assert "include-" in output


# --- values that validate but a run could not use ---------------------------------------------


@st.composite
def duration(draw: st.DrawFn) -> tuple[str, int | None]:
    """A duration as a runbook writes it, and its seconds (None: more digits than any use)."""
    parts = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["h", "m", "s"]),
                st.one_of(st.integers(0, 10**6), st.integers(10**6, 10**12), st.just(10**40)),
            ),
            min_size=1,
            max_size=3,
            unique_by=lambda part: part[0],
        )
    )
    parts.sort(key=lambda part: "hms".index(part[0]))
    text = "".join(f"{number}{unit}" for unit, number in parts)
    if any(len(str(number)) > 9 for _, number in parts):
        return text, None
    return text, sum(number * {"h": 3600, "m": 60, "s": 1}[unit] for unit, number in parts)


@SETTINGS
@given(value=duration(), field=st.sampled_from(["timeout", "valid_for"]))
def test_durations_over_their_limit_are_unusable_values(
    value: tuple[str, int | None], field: str
) -> None:
    text_value, seconds = value
    if field == "timeout":
        body = (
            "    gate:\n      type: command\n      prompt: P\n"
            f"      command:\n        argv: [/bin/true]\n        timeout: {text_value}\n"
        )
        limit = MAX_COMMAND_TIMEOUT
    else:
        body = f"    gate:\n      type: confirm\n      prompt: P\n      valid_for: {text_value}\n"
        limit = MAX_VALID_FOR
    result = _validate_text(with_second_step(body))
    no_internal(result)
    unusable = findings(result, "unusable-value")
    event("unusable" if unusable else "usable")
    assert bool(unusable) == (seconds is None or seconds > limit), (text_value, unusable)
    if unusable:
        assert f"{field} " in unusable[0] and "is over the limit" in unusable[0]


ZONES = sorted(zoneinfo.available_timezones())


@SETTINGS
@given(
    zone=st.one_of(
        st.sampled_from(ZONES).map(lambda z: (z, True)),
        st.text(min_size=1, max_size=12).map(lambda t: (f"Mars/{t}@", False)),
        st.text(max_size=12).map(lambda t: (t + "\x00", False)),
        st.sampled_from(["../../etc/passwd", "/etc/localtime", "Europe/", "UTC\\n"]).map(
            lambda t: (t, False)
        ),
    )
)
def test_unknown_time_zones_are_unusable_values(zone: tuple[str, bool]) -> None:
    name, known = zone
    quoted = dq(name)
    body = (
        "    gate:\n      type: time_window\n      prompt: P\n"
        f"      timezone: {quoted}\n      windows:\n        - {{days: [mon]}}\n"
    )
    result = _validate_text(with_second_step(body))
    no_internal(result)
    unusable = findings(result, "unusable-value")
    event("unknown zone" if unusable else "known zone")
    assert bool(unusable) == (not known), (name, result.diagnostics)


@SETTINGS
@given(arg=st.text(max_size=8), at=st.integers(0, 8))
def test_nul_in_argv_is_an_unusable_value(arg: str, at: int) -> None:
    item = dq(arg[:at] + "\x00" + arg[at:])
    body = (
        "    gate:\n      type: command\n      prompt: P\n"
        f"      command:\n        argv: [/bin/echo, {item}]\n"
    )
    result = _validate_text(with_second_step(body))
    no_internal(result)
    assert any("NUL byte" in m for m in findings(result, "unusable-value")), result.diagnostics
