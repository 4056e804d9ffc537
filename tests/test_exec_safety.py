"""Execution safety: what a runbook (or the files and programs it points at) can make happen.

- Templates render in Jinja2's sandbox with StrictUndefined: no Python objects, no files, no
  environment, and no unbounded time or memory.
- Command gates: argv only, a parameter is one whole argument, a minimal environment, a
  timeout that kills the whole process group, output bounded and stripped of control sequences.
- Text from a runbook, an evidence file or a command never drives the operator's terminal.
- Secret params never reach the screen, the journal, a report or an error.
- Evidence files that are huge, binary, a FIFO or a device are refused quickly, not read.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, journal_records, run_cli

TRACEBACK = "Traceback (most recent call last)"
RAW_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")
CANARY_ENV = "OCSRUN_TEST_CANARY"
CANARY_VALUE = "canary-7f3a9c1e-env-value"
SECRET = "S3cr3t-Pa55-b8d21"

HEAD = """\
format: ocsrun/v1
kind: runbook
metadata:
  id: test.safety
  title: Safety
  version: 1.0.0
  source: {document: ocsrun tests, section: safety}
"""
ANSWERS = "defaults: {after_step: done, gate: true, acknowledge: true, after_failure: abort}\n"


# Hang guards only (a missing bound never finishes): far above any run on a loaded machine.
HANG_GUARD_S = 600.0
# A command's timeout also covers its interpreter's start-up; these are tried in turn.
STARTUP_TIMEOUTS = ("2s", "10s", "60s", "300s")


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + _children_cpu_seconds()


def _children_cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CANARY_ENV, CANARY_VALUE)
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    return tmp_path


def state_text(work: Path) -> str:
    """Everything the run store holds, as text: journals, snapshots, info, set-aside tails."""
    parts = []
    for path in sorted((work / "state").rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def run_book(
    capsys: pytest.CaptureFixture[str], work: Path, body: str, *extra: str, command: str = "run"
) -> tuple[int, str]:
    (work / "rb.yaml").write_text(HEAD + body, encoding="utf-8")
    return run_cli(capsys, command, "rb.yaml", "--answers", "answers.yaml", *extra)


# --- the template sandbox ----------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ mode|attr('__class__') }}",
    "{{ '{0.__class__.__base__}'.format(mode) }}",
    "{{ mode.__class__.__base__.__subclasses__() }}",
    "{{ environ }}{{ os }}{{ config }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}{{ os }}",
    "{% extends '/etc/hostname' %}",
    "{% set x = mode.__class__ %}{{ x }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_sandbox_escapes_fail_cleanly_and_reveal_nothing(
    payload: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        "params:\n  mode: {type: string, default: fast}\nsteps:\n"
        f"  - id: one\n    title: One\n    instructions: {json.dumps(payload)}\n"
    )
    code, output = run_book(capsys, work, body, command="rehearse")
    assert code == 1, output
    assert "<class" not in output and "<function" not in output and "<module" not in output
    assert CANARY_VALUE not in output
    assert "root:" not in output  # /etc/passwd
    errors = [line for line in output.splitlines() if line.startswith("ocsrun: error:")]
    assert len(errors) == 1, output
    if (work / "state").exists():
        assert CANARY_VALUE not in state_text(work)


BOMBS = [
    pytest.param("{{ 'x' * 1000000000 }}", id="string-times"),
    pytest.param("{{ 9 ** 9 ** 9 }}", id="power"),
    pytest.param("{{ (range(100000)|list) * 100000 }}", id="list-times"),
    pytest.param(
        "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}",
        id="nested-loops",
    ),
    pytest.param("{{ lipsum(100000, false, 100000, 100000) }}", id="lipsum"),
    pytest.param("{{ range(100000)|join(mode * 100000) }}", id="join-amplify"),
]


@pytest.mark.parametrize("payload", BOMBS)
def test_template_bombs_are_bounded(payload: str, tmp_path: Path) -> None:
    """Work and memory a template can take are bounded (nets: 20 CPU-s, 1 GiB; typical: < 1 s)."""
    book = tmp_path / "rb.yaml"
    book.write_text(
        HEAD + "params:\n  mode: {type: string, default: fast}\nsteps:\n"
        f"  - id: one\n    title: One\n    instructions: {json.dumps(payload)}\n",
        encoding="utf-8",
    )
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    env = cli_env(tmp_path / "state")
    start = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "ocsrun", "rehearse", "rb.yaml", "--answers", "answers.yaml"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    usage = None
    # A hang guard, not a timing: only a template with no bound at all gets anywhere near it.
    while time.monotonic() - start < HANG_GUARD_S:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    else:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        pytest.fail("the template ran for ten minutes: no bound on template work")
    cpu = usage.ru_utime + usage.ru_stime
    assert child.stderr is not None
    err = child.stderr.read().decode("utf-8", errors="replace")
    child.stderr.close()
    assert TRACEBACK not in err
    assert os.waitstatus_to_exitcode(status) == 1, err
    # CPU seconds of the child itself, which other load on the machine does not inflate
    # (benchmarks/ times it); the template budget is about 1 s of work.
    assert cpu < 20, f"{cpu:.1f}s of CPU"
    assert usage.ru_maxrss * 1024 < 1024**3, f"{usage.ru_maxrss // 1024} MiB"


def test_undefined_names_are_errors_not_empty_text(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `when` reads a name the validator cannot see declared only at run time: StrictUndefined.
    body = (
        "params:\n  mode: {type: string, default: fast}\nsteps:\n"
        '  - id: one\n    title: One\n    instructions: "{{ mode.nope }}"\n'
    )
    code, output = run_book(capsys, work, body, command="rehearse")
    assert code == 1, output
    assert "nope" in output


# --- command gates ------------------------------------------------------------------------


def command_step(argv: list[str], *, timeout: str = "30s", extra: str = "") -> str:
    return (
        "  - id: cmd\n    title: Command\n    gate:\n      type: command\n"
        "      prompt: The command succeeds.\n"
        "      on_failure: {action: abort}\n"
        f"      command: {{argv: {json.dumps(argv)}, timeout: {timeout}{extra}}}\n"
    )


def test_a_param_is_one_whole_argument_never_a_shell_string(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "a b; touch pwned $(touch pwned2) `touch pwned3` * | cat > pwned4 'q\" \\n"
    probe = "import json,sys; open('argv.json','w').write(json.dumps(sys.argv[1:]))"
    body = "params:\n  value: {type: string}\nsteps:\n" + command_step(
        [sys.executable, "-c", probe, "{{ value }}", "x{{ value }}y"]
    )
    code, output = run_book(capsys, work, body, "--param", f"value={hostile}")
    assert code == 0, output
    assert json.loads((work / "argv.json").read_text()) == [hostile, f"x{hostile}y"]
    assert not list(work.glob("pwned*"))


def test_commands_get_a_minimal_environment(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probe = "import json,os; open('env.json','w').write(json.dumps(dict(os.environ)))"
    code, output = run_book(capsys, work, "steps:\n" + command_step([sys.executable, "-c", probe]))
    assert code == 0, output
    env = json.loads((work / "env.json").read_text())
    assert CANARY_ENV not in env
    assert set(env) <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "HOME", "TZ", "PWD"}


def test_timeout_kills_the_whole_process_group(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command starts a grandchild that ignores SIGTERM and outlives it unless the group dies.
    probe = (
        "import subprocess,sys,time;"
        "p=subprocess.Popen([sys.executable,'-c',"
        "'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)']);"
        "open('grandchild.pid','w').write(str(p.pid)); time.sleep(300)"
    )
    # The timeout also covers the interpreter's start-up: on a loaded machine 2 s may end the
    # command before it started its grandchild, so try longer timeouts until it did.
    for timeout in STARTUP_TIMEOUTS:
        shutil.rmtree(work / "state", ignore_errors=True)
        code, output = run_book(
            capsys, work, "steps:\n" + command_step([sys.executable, "-c", probe], timeout=timeout)
        )
        if (work / "grandchild.pid").exists():
            break
    assert code == 4, output  # the gate failed with on_failure: abort
    pid = int((work / "grandchild.pid").read_text())
    deadline = time.monotonic() + HANG_GUARD_S  # SIGKILL's delivery is asynchronous
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the grandchild survived the timeout"
    failed = [r for r in journal_records(work / "state") if r["type"] == "gate.failed"]
    assert failed and "timed out" in json.dumps(failed[-1]["data"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; it only waits for its parent to reap it.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_output_is_bounded_and_stripped_of_control_sequences(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = (
        "import sys; sys.stdout.write('\\x1b]0;pwned\\x07\\x1b[2J\\x1b[1A\\rHIDE\\x9b31m' * 10);"
        "sys.stdout.write('z' * 5_000_000); sys.exit(3)"
    )
    code, output = run_book(
        capsys,
        work,
        "steps:\n" + command_step([sys.executable, "-c", probe], extra=", max_output: 4KiB"),
    )
    assert code == 4, output
    assert not RAW_CONTROLS.search(output), repr(output[-2000:])
    journal = state_text(work)
    assert "\\u001b" not in journal and "\\u009b" not in journal and "\x1b" not in journal
    failed = [r for r in journal_records(work / "state") if r["type"] == "gate.failed"]
    assert failed
    assert len(json.dumps(failed[-1]["data"])) < 3 * 4096 + 2000
    assert len(output) < 200_000


# --- text shown to the operator -----------------------------------------------------------


def test_runbook_text_cannot_drive_the_terminal(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = "\\e]0;pwned\\a\\e[2J\\e[1;1H\\rDANGER hidden\\e[8m\\u202egnp.exe\\x9b0m\\x7f"
    evil_title = evil.replace("\\u202e", "")
    body = (
        "warnings:\n"
        f'  - {{id: w, severity: danger, text: "{evil}"}}\n'
        "steps:\n"
        # Titles refuse bidi controls (invisible-char); escape sequences there are shown inert.
        f'  - id: one\n    title: "One {evil_title}"\n    instructions: "{evil}"\n'
        f'    notes: ["{evil}"]\n'
    )
    (work / "answers.yaml").write_text(
        "defaults: {after_step: done, acknowledge: true}\nwarnings: {w: understood}\n",
        encoding="utf-8",
    )
    code, output = run_book(capsys, work, body, command="rehearse")
    assert code == 0, output
    assert not RAW_CONTROLS.search(output), repr(output)
    assert "\u202e" not in output
    assert "DANGER hidden" in output


def test_evidence_lines_cannot_drive_the_terminal(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "log.txt").write_bytes(b"Task one \x1b[2J\x1b]0;x\x07Success\nerror \x1b[8mhidden\r\n")
    body = (
        "steps:\n  - id: ev\n    title: Evidence\n    gate:\n      type: evidence\n"
        "      prompt: The log is clean.\n      on_failure: {action: abort}\n"
        "      evidence: {checks: [{forbid: error}]}\n"
    )
    (work / "answers.yaml").write_text(
        ANSWERS + "steps: {ev: {evidence: log.txt}}\n", encoding="utf-8"
    )
    code, output = run_book(capsys, work, body)
    assert code == 4, output
    assert not RAW_CONTROLS.search(output), repr(output)
    assert "\x1b" not in state_text(work)


# --- evidence files that are not log files ---------------------------------------------------


def _evidence_run(capsys: pytest.CaptureFixture[str], work: Path, given: str) -> tuple[int, str]:
    body = (
        "steps:\n  - id: ev\n    title: Evidence\n    gate:\n      type: evidence\n"
        "      prompt: The log shows success.\n      on_failure: {action: abort}\n"
        "      evidence: {max_bytes: 1MiB, checks: [{require: Success}]}\n"
    )
    # The file that is not a log is asked again (never a gate failure); the next answer is one.
    (work / "good.log").write_text("Success\n", encoding="utf-8")
    answers = json.dumps([given, "good.log"])
    (work / "answers.yaml").write_text(
        ANSWERS + f"steps: {{ev: {{evidence: {answers}}}}}\n", encoding="utf-8"
    )
    return run_book(capsys, work, body)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("huge", "limit"),
        ("binary", "binary"),
        ("fifo", "not a regular file"),
        ("dev-zero", "not a regular file"),
        ("dev-urandom", "not a regular file"),
        ("directory", "is a directory"),
        ("missing", "no such file"),
    ],
)
def test_evidence_that_is_not_a_log_is_refused(
    kind: str, reason: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = {"dev-zero": "/dev/zero", "dev-urandom": "/dev/urandom", "directory": "."}.get(
        kind, f"evidence-{kind}"
    )
    if kind == "huge":
        with (work / given).open("wb") as out:
            out.truncate(50 * 2**20)  # sparse: 50 MiB, over the 1 MiB max_bytes
    elif kind == "binary":
        (work / given).write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) + b"Success")
    elif kind == "fifo":
        os.mkfifo(work / given)
    code, output = _evidence_run(capsys, work, given)
    assert code == 0, output
    assert not RAW_CONTROLS.search(output), repr(output[-500:])
    records = journal_records(work / "state")
    refused = [r for r in records if r["type"] == "gate.input-refused"]
    assert len(refused) == 1, output
    assert reason in refused[0]["data"]["reason"], refused[0]
    assert "\n" not in refused[0]["data"]["reason"]
    assert [r for r in records if r["type"] == "gate.failed"] == []
    assert [r["type"] for r in records if r["type"].startswith("gate.")][-1] == "gate.passed"


def test_catastrophic_regex_on_a_hostile_log_is_bounded(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Validation may refuse the pattern outright; if it lets it through, matching is bounded.
    (work / "log.txt").write_text(("a" * 40 + "!\n") * 2000, encoding="utf-8")
    body = (
        "steps:\n  - id: ev\n    title: Evidence\n    gate:\n      type: evidence\n"
        "      prompt: The log is clean.\n      on_failure: {action: abort}\n"
        "      evidence: {checks: [{forbid: '^(a|aa)+$'}]}\n"
    )
    (work / "answers.yaml").write_text(
        ANSWERS + "steps: {ev: {evidence: log.txt}}\n", encoding="utf-8"
    )
    before = _cpu_seconds()
    code, output = run_book(capsys, work, body)
    # CPU, not wall time: an unbounded match burns CPU; a loaded machine only waits longer.
    assert _cpu_seconds() - before < 20, "a backtracking pattern ran unbounded"
    assert code in {1, 4}, output


# --- secrets ------------------------------------------------------------------------------


SECRET_BOOK = """\
params:
  password:
    type: string
    secret: true
    pattern: '^[A-Za-z0-9-]+$'
  user: {type: string, default: admin}
steps:
  - id: login
    title: Log in as {{ user }}
    instructions: Use the password you were given.
"""


def test_secrets_never_reach_screen_journal_report_or_errors(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command prints its arguments and fails: its output must not carry the secret either.
    probe = "import sys; print('login failed for', sys.argv[1:]); sys.exit(1)"
    body = SECRET_BOOK + command_step([sys.executable, "-c", probe, "--pw={{ password }}"])
    code, output = run_book(capsys, work, body, "--param", f"password={SECRET}")
    assert code == 4, output
    seen = [output, state_text(work)]
    (run_id,) = [p.name for p in (work / "state" / "runs").iterdir()]
    for args in (("runs", "show", run_id), ("runs", "report", run_id), ("runs", "list")):
        seen.append(run_cli(capsys, *args)[1])
    seen.append(run_cli(capsys, "runs", "report", run_id, "--format", "json")[1])
    seen.append(run_cli(capsys, "runs", "list", "--format", "json")[1])
    for text in seen:
        assert SECRET not in text
    assert "***" in state_text(work)


def test_a_bad_secret_value_is_not_echoed_in_the_error(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = SECRET + " with spaces;"
    code, output = run_book(capsys, work, SECRET_BOOK, "--param", f"password={bad}")
    assert code == 2, output
    assert "password" in output
    assert SECRET not in output
    if (work / "state").exists():
        assert SECRET not in state_text(work)


def test_a_secret_given_in_an_answers_file_is_not_journaled(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "answers.yaml").write_text(
        ANSWERS + f"params: {{password: {SECRET}}}\n", encoding="utf-8"
    )
    code, output = run_book(capsys, work, SECRET_BOOK)
    assert code == 0, output
    assert SECRET not in output
    assert SECRET not in state_text(work)


# --- review outputs: render and diff ---------------------------------------------------------

UNSAFE_SHOWN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
EVIL = "\\e]0;pwned\\a\\e[2J\\e[8mhidden\\x9b31m\\r\\u202egnp.exe\\u2066x\\x7f"
# Titles refuse bidi controls (rule invisible-char): the title keeps only the escape sequences.
EVIL_TITLE = EVIL.replace("\\u202e", "").replace("\\u2066", "")
REVIEW_BASE = HEAD + "steps:\n  - id: one\n    title: One\n    instructions: Do it.\n"
REVIEW_EVIL = (
    HEAD
    + f'warnings:\n  - {{id: w, severity: danger, text: "Careful {EVIL}"}}\n'
    + f'steps:\n  - id: one\n    title: "One {EVIL_TITLE}"\n    instructions: "Do it {EVIL}"\n'
    + f'    notes: ["{EVIL}"]\n'
)


@pytest.mark.parametrize(
    "args",
    [
        ("render", "evil.yaml"),
        ("render", "--format", "html", "evil.yaml"),
        ("diff", "base.yaml", "evil.yaml"),
        ("diff", "--format", "md", "base.yaml", "evil.yaml"),
        ("diff", "--format", "json", "base.yaml", "evil.yaml"),
    ],
    ids=lambda a: "-".join(a[:3]),
)
def test_review_outputs_cannot_drive_the_terminal(
    args: tuple[str, ...], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "base.yaml").write_text(REVIEW_BASE, encoding="utf-8")
    (work / "evil.yaml").write_text(REVIEW_EVIL, encoding="utf-8")
    code, output = run_cli(capsys, *args)
    assert code == 0, output
    assert not UNSAFE_SHOWN.search(output), repr(output)
    assert "hidden" in output and "gnp.exe" in output  # neutralised, not silently dropped
    if "json" in args:
        json.loads(output)


def test_rendered_files_carry_no_control_sequences(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "evil.yaml").write_text(REVIEW_EVIL, encoding="utf-8")
    for fmt in ("md", "html"):
        code, output = run_cli(
            capsys, "render", "--format", fmt, "--output-dir", "out", "evil.yaml"
        )
        assert code == 0, output
    written = [p.read_text(encoding="utf-8") for p in (work / "out").iterdir()]
    assert len(written) == 2
    for text in written:
        assert not UNSAFE_SHOWN.search(text), repr(text)


def test_a_chatty_command_never_fills_the_disk(tmp_path: Path) -> None:
    """100 MiB of output, max_output 4 KiB: what is kept is bounded, and so is what is stored.

    The run is given a 20 MiB file-size limit (inherited by the command): spooling the whole
    output to a file would hit it and kill the command; reading a pipe and discarding what
    is over max_output does not.
    """
    import resource

    probe = "import sys\nfor _ in range(100): sys.stdout.buffer.write(b'x' * 2**20)\n"
    (tmp_path / "rb.yaml").write_text(
        HEAD + "steps:\n" + command_step([sys.executable, "-c", probe], extra=", max_output: 4KiB"),
        encoding="utf-8",
    )
    (tmp_path / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    env = cli_env(tmp_path / "state")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 2**20, 20 * 2**20))

    result = subprocess.run(
        [sys.executable, "-m", "ocsrun", "run", "rb.yaml", "--answers", "answers.yaml"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
        preexec_fn=limit_file_size,
    )
    assert TRACEBACK not in result.stderr
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    passed = journal_records(tmp_path / "state")
    gate = [r for r in passed if r["type"] == "gate.passed"]
    assert gate and gate[-1]["data"]["truncated"] is True
    assert len(gate[-1]["data"]["output"]) <= 4096


# Patterns that backtrack badly yet have no nested repeat, so a static check lets them through.
SLIPPERY = [
    pytest.param("^(a?){25}a{25}$", "a" * 25, id="optional-repeat"),
    pytest.param("^(.*?,){11}P", "a," * 40, id="lazy-csv"),
]


@pytest.mark.parametrize("engine", ["regex-module", "stdlib-re-only"])
@pytest.mark.parametrize(("pattern", "line"), SLIPPERY)
def test_backtracking_regex_at_run_time_is_bounded(
    pattern: str, line: str, engine: str, tmp_path: Path
) -> None:
    """Whatever engine is installed: a fresh venv has no `regex` module unless it is declared."""
    (tmp_path / "log.txt").write_text((line + "\n") * 200, encoding="utf-8")
    (tmp_path / "rb.yaml").write_text(
        HEAD + "steps:\n  - id: ev\n    title: Evidence\n    gate:\n      type: evidence\n"
        "      prompt: The log is clean.\n      on_failure: {action: abort}\n"
        f"      evidence: {{checks: [{{forbid: {json.dumps(pattern)}}}]}}\n",
        encoding="utf-8",
    )
    (tmp_path / "answers.yaml").write_text(
        ANSWERS + "steps: {ev: {evidence: log.txt}}\n", encoding="utf-8"
    )
    hide: list[str] = []
    if engine == "stdlib-re-only":
        # A module named `regex` that cannot be imported: what a venv without it looks like.
        (tmp_path / "hide").mkdir()
        (tmp_path / "hide" / "regex.py").write_text("raise ImportError('hidden')\n")
        hide.append(str(tmp_path / "hide"))
    env = cli_env(tmp_path / "state", *hide)
    before = _children_cpu_seconds()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ocsrun", "run", "rb.yaml", "--answers", "answers.yaml"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{pattern!r} ran ten minutes on a 200-line log: matching is not bounded")
    # The child's CPU (and its forked checker's), which other load does not inflate.
    assert _children_cpu_seconds() - before < 20
    assert TRACEBACK not in result.stderr
    # Refused by validation (1), or the gate failed on the time bound and the run aborted (4).
    assert result.returncode in {1, 4}, result.stdout[-1000:] + result.stderr


def test_evidence_checks_agree_with_and_without_the_regex_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `regex`, checks run in a forked child: same verdicts and decisive lines."""
    from ocsrun.run import evidence
    from ocsrun.runbook import model as m

    log = tmp_path / "log.txt"
    log.write_text(
        "Task a ... Success\nTask b ... Failure\nnoise\nDeactivation succeeded\n", encoding="utf-8"
    )
    gate = m.Gate(
        "evidence",
        "p",
        checks=(
            m.EvidenceCheck("require", "Deactivation (succeeded|completed)"),
            m.EvidenceCheck("forbid", "(?i)error"),
            m.EvidenceCheck("each", "^Task", must="Success$"),
        ),
    )
    with_module = evidence.check_evidence(gate, log)
    monkeypatch.setattr(evidence, "_regex_module", lambda: None)
    without = evidence.check_evidence(gate, log)
    assert (without.ok, without.lines, without.failures) == (
        with_module.ok,
        with_module.lines,
        with_module.failures,
    )
    assert not without.ok and any("Task b" in line for line in without.lines)


# --- command-line text ----------------------------------------------------------------------

PARAM_BOOK = HEAD + (
    "params:\n  note: {type: string}\nsteps:\n"
    '  - id: one\n    title: One\n    instructions: "Note: {{ note }}"\n'
)


@pytest.mark.parametrize(
    "extra",
    [
        [b"--target", b"h\x9bost"],
        [b"--param", b"note=caf\xe9"],
        [b"--param", b"n\xffote=x"],
    ],
    ids=["target", "param-value", "param-name"],
)
def test_arguments_that_are_not_utf8_are_a_usage_error(extra: list[bytes], tmp_path: Path) -> None:
    (tmp_path / "rb.yaml").write_text(PARAM_BOOK, encoding="utf-8")
    (tmp_path / "answers.yaml").write_text(ANSWERS + "params: {note: x}\n", encoding="utf-8")
    env = cli_env(tmp_path / "state")
    argv = [sys.executable.encode(), b"-m", b"ocsrun", b"rehearse", b"rb.yaml"]
    argv += [b"--answers", b"answers.yaml", *extra]
    result = subprocess.run(
        argv,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    err = result.stderr.decode("utf-8", errors="replace")
    assert TRACEBACK not in err, err
    assert result.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "UTF-8" in err


def test_escape_sequences_in_arguments_never_reach_the_terminal(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = "x\x1b]0;pwned\x07\x1b[2Jy\rz\u202e"
    (work / "rb.yaml").write_text(PARAM_BOOK, encoding="utf-8")
    code, output = run_cli(
        capsys, "rehearse", "rb.yaml", "--answers", "answers.yaml",
        "--param", f"note={evil}", "--target", f"host{evil}",
    )  # fmt: skip
    assert code == 0, output
    (run_id,) = [p.name for p in (work / "state" / "runs").iterdir()]
    outputs = [output]
    for args in (("runs", "list"), ("runs", "show", run_id), ("runs", "report", run_id)):
        outputs.append(run_cli(capsys, *args)[1])
    outputs.append(run_cli(capsys, "runs", "report", run_id, "--format", "md")[1])
    for text in outputs:
        assert not UNSAFE_SHOWN.search(text), repr(text)


# --- secret defaults written in a runbook ----------------------------------------------------

OLD_DEFAULT, NEW_DEFAULT = "Hunter2-Old-Default", "Hunter3-New-Default"


def secret_default_book(password: str, pin: str, codes: str, pattern: str) -> str:
    return HEAD + (
        "params:\n"
        f"  password: {{type: string, secret: true, pattern: '{pattern}', default: {password}}}\n"
        f"  pin: {{type: enum, values: [a, b], secret: true, default: {pin}}}\n"
        f"  codes: {{type: list, values: [a, b], secret: true, default: [{codes}]}}\n"
        "steps:\n  - id: one\n    title: One\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "bad.yaml"),
        ("validate", "--format", "json", "bad.yaml"),
        ("render", "bad.yaml"),
        ("rehearse", "bad.yaml", "--answers", "answers.yaml"),
        ("diff", "old.yaml", "new.yaml"),
        ("diff", "--format", "md", "old.yaml", "new.yaml"),
        ("diff", "--format", "json", "old.yaml", "new.yaml"),
        ("diff", "--format", "md", "new.yaml", "bad.yaml"),
    ],
    ids=lambda a: "-".join(a[:3]),
)
def test_secret_defaults_are_never_shown(
    args: tuple[str, ...], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret's default written in the runbook (a bad habit) is still not echoed."""
    ok = "^[A-Za-z0-9-]+$"
    (work / "old.yaml").write_text(secret_default_book(OLD_DEFAULT, "a", "a", ok))
    (work / "new.yaml").write_text(secret_default_book(NEW_DEFAULT, "b", "b", ok))
    # Every default wrong for its param: the errors must not quote them either.
    bad = secret_default_book(OLD_DEFAULT, OLD_DEFAULT, OLD_DEFAULT, "^[0-9]+$")
    (work / "bad.yaml").write_text(bad)
    code, output = run_cli(capsys, *args)
    assert code in {0, 1}, output
    assert OLD_DEFAULT not in output and NEW_DEFAULT not in output, output
    if args[0] == "diff" and "bad.yaml" not in args:
        assert "password" in output  # the change is still reported, without the values


def test_a_secret_default_is_not_kept_in_the_run_state(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run keeps a snapshot of the runbook to notice edits before a resume: not its secrets."""
    (work / "rb.yaml").write_text(
        secret_default_book(OLD_DEFAULT, "a", "a", "^[A-Za-z0-9-]+$"), encoding="utf-8"
    )
    (work / "stop.yaml").write_text("defaults: {}\n", encoding="utf-8")
    code, output = run_cli(capsys, "run", "rb.yaml", "--answers", "stop.yaml")
    assert code == 2, output  # stopped at its first question, resumable
    assert OLD_DEFAULT not in state_text(work)
    (run_id,) = [p.name for p in (work / "state" / "runs").iterdir()]
    # Secrets are not journaled, so a resume asks for them again.
    again = "params: {password: Typed-Again-1, pin: a, codes: [a]}\n"
    (work / "again.yaml").write_text(ANSWERS + again)
    code, output = run_cli(capsys, "resume", run_id, "--answers", "again.yaml")
    assert code == 0, output  # an unchanged runbook is not reported as changed
    for secret in (OLD_DEFAULT, "Typed-Again-1"):
        assert secret not in state_text(work) and secret not in output
