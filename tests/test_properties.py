"""Property: whatever a pull request does to a valid runbook or answers file, every command
ends with a documented exit code and one-line errors, never a traceback.

Hypothesis mutates the valid test runbooks (their data: keys dropped, values replaced by other
types, unknown keys, lists emptied or repeated; and their text: bytes flipped, lines duplicated,
swapped or cut, YAML and Jinja2 syntax inserted) and answers files the same way, then runs
`validate`, `render`, `diff` and `rehearse` through the CLI entry point in this process (the
same `main()` the console script calls: any exception it does not turn into an exit code
escapes here and fails the test). Examples are derandomized and bounded, so CI time is too.

tests/test_properties_hostile.py generates members of each class of hostile input of issue 15
(YAML 1.1 numbers, template bombs, backtracking patterns, invisible characters, include chains,
unusable values) and states what each must come to.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALID = ROOT / "tests" / "data" / "runbooks" / "valid"

# (runbook, answers that rehearse it to the end)
BOOKS = {
    "all-kinds.yaml": """\
target: med01.contoso.com
defaults: {after_step: done, gate: true, acknowledge: true, checklist: all, evidence: "",
           window: override, override_reason: rehearsal}
steps:
  computer-roles: {choice: multiple}
  type-name: {gate: med01.contoso.com}
""",
    "foreach.yaml": 'defaults: {after_step: done, checklist: all, evidence: ""}\n',
}
RUNBOOK_EXAMPLES = 300
TEXT_EXAMPLES = 300
ANSWERS_EXAMPLES = 200

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The valid runbooks and their fragments, and a state dir, shared by every example.

    In memory when /dev/shm exists: these examples are about input handling, not durability,
    and hundreds of fsync'd journals on a disk would dominate the run time.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        work = Path(tempfile.mkdtemp(prefix="ocsrun-properties-", dir=shm))
    else:
        work = tmp_path_factory.mktemp("properties")
    shutil.copytree(VALID, work / "books")
    for name, answers in BOOKS.items():
        (work / "books" / f"{name}.answers.yaml").write_text(answers, encoding="utf-8")
    yield work
    shutil.rmtree(work, ignore_errors=True)


def all_commands(capsys: pytest.CaptureFixture[str], work: Path, book: str, path: Path) -> None:
    original = work / "books" / book
    answers = work / "books" / f"{book}.answers.yaml"
    state = str(work / "state")
    code, _ = run_cli(capsys, "validate", str(path))
    rendered, output = run_cli(capsys, "render", str(path))
    # What validate accepts, render can show (and what it refuses, render refuses too).
    assert (rendered == 0) == (code == 0), output
    run_cli(capsys, "diff", "--fail-on", "safety", str(original), str(path))
    rehearsed, output = run_cli(
        capsys, "rehearse", str(path), "--answers", str(answers), "--state-dir", state
    )
    if code != 0:
        # What validate refuses, nothing else may run.
        assert rehearsed != 0, output
    else:
        # What validate accepts does not fail at run time: it finishes, or stops for an
        # answer the file lacks (2), or the operator's answers abort it (4).
        assert rehearsed in {0, 2, 4}, output


# --- data mutations -----------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "no",
            "off",
            "{{",
            "{{ x }}",
            "{% for %}",
            "{{ ''.__class__ }}",
            "..",
            "../x.yaml",
            "/etc/passwd",
            "(a+)+$",
            "[",
            "\x1b[2J",
            "1h99m",
            "10GiB",
            "ocsrun/v1",
            "fragment",
            # issue 15, round two: unbounded template work, unbounded patterns, values that
            # fail at run time, invisible characters, escaping includes
            "{{ lipsum(9) }}",
            "{{ mode|center(99999) }}",
            "{{ '%99999s' % mode }}",
            "range(99999)|join|length > 1",
            r"^(\w*\d)*$",
            "(.*){1,32000}[bc]",
            "600h",
            "99999999999999h",
            "Mars/Olympus_Mons",
            "a\x00b",
            "--qui\u200bet",
            "First \u200fstep",
            "../../outside.yaml",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths_in(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths_in(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths_in(value, (*prefix, index))
    return found


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_data(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in paths_in(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = parent_of(data, path), path[-1]
        action = draw(st.sampled_from(["delete", "replace", "unknown-key", "repeat", "empty"]))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(VALUES)
        elif action == "unknown-key" and isinstance(parent[last], dict):
            parent[last][draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
        elif action == "repeat" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif action == "empty":
            parent[last] = type(parent[last])() if isinstance(parent[last], list | dict) else ""
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_mutated_runbook_data(book: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = yaml.safe_load((workdir / "books" / book).read_text(encoding="utf-8"))
    target = workdir / "books" / f"mutant-{book}"

    @settings(SETTINGS, max_examples=RUNBOOK_EXAMPLES // len(BOOKS))
    @given(data=mutated_data(original))
    def check(data: dict[str, Any]) -> None:
        target.write_text(_dump(data), encoding="utf-8")
        all_commands(capsys, workdir, book, target)

    check()


# --- text mutations -----------------------------------------------------------------------

INSERTS = st.sampled_from(
    [
        b"\t",
        b"&a ",
        b"*a ",
        b"<<: *a\n",
        b"{{ ",
        b" }}",
        b"{% if x %}",
        b"- ",
        b": ",
        b"? ",
        b"!!python/object:os.system ",
        b"!!binary ",
        b"\xef\xbb\xbf",
        b"\xff",
        b"\x00",
        b"\x1b[2J",
        b"'",
        b'"',
        b"[",
        b"{",
        b"#",
        b"---\n",
        b"...\n",
        b"%YAML 1.1\n",
        b"id: dup\n",
        b"\r",
    ]
)


@st.composite
def mutated_text(draw: st.DrawFn, original: bytes) -> bytes:
    text = original
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lines = text.splitlines(keepends=True) or [b""]
        action = draw(
            st.sampled_from(["insert", "flip", "cut", "dup-line", "swap-lines", "drop-line"])
        )
        at = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
        if action == "insert":
            text = text[:at] + draw(INSERTS | st.binary(max_size=4)) + text[at:]
        elif action == "flip" and text:
            text = text[:at] + bytes([text[at] ^ draw(st.integers(1, 255))]) + text[at + 1 :]
        elif action == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        else:
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if action == "dup-line":
                lines.insert(i, lines[i])
            elif action == "swap-lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                del lines[i]
            text = b"".join(lines)
    return text


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_mutated_runbook_text(book: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = (workdir / "books" / book).read_bytes()
    target = workdir / "books" / f"mutant-{book}"

    @settings(SETTINGS, max_examples=TEXT_EXAMPLES // len(BOOKS))
    @given(text=mutated_text(original))
    def check(text: bytes) -> None:
        target.write_bytes(text)
        all_commands(capsys, workdir, book, target)

    check()


# --- answers files ------------------------------------------------------------------------


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_mutated_answers(book: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = BOOKS[book].encode()
    answers_data = yaml.safe_load(raw)
    target = workdir / "books" / "mutant-answers.yaml"
    state = str(workdir / "state")

    @settings(SETTINGS, max_examples=ANSWERS_EXAMPLES // len(BOOKS))
    @given(
        mutant=st.one_of(
            mutated_data(answers_data).map(lambda d: _dump(d).encode()),
            mutated_text(raw),
        )
    )
    def check(mutant: bytes) -> None:
        target.write_bytes(mutant)
        for command in ("rehearse", "run"):
            run_cli(
                capsys,
                command,
                str(workdir / "books" / book),
                "--answers",
                str(target),
                "--state-dir",
                state,
            )

    check()


# --- the rules never crash ----------------------------------------------------------------

RULE_EXAMPLES = 400


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_no_mutation_makes_a_rule_crash(book: str, workdir: Path) -> None:
    """Whatever the data, every rule gives findings, never an `internal` one (a rule that
    crashed). In process and without the CLI, so it affords many more examples."""
    from ocsrun.runbook.validation import validate_file

    original = yaml.safe_load((workdir / "books" / book).read_text(encoding="utf-8"))
    target = workdir / "books" / f"rules-{book}"

    @settings(SETTINGS, max_examples=RULE_EXAMPLES // len(BOOKS))
    @given(data=mutated_data(original))
    def check(data: dict[str, Any]) -> None:
        target.write_text(_dump(data), encoding="utf-8")
        result = validate_file(target)
        internal = [d for d in result.diagnostics if d.rule == "internal"]
        assert not internal, f"{internal[0].message}\n{_dump(data)}"

    check()
