"""Hostile input: every case in tests/data/hostile/cases.yaml, through the real CLI.

Each case names an input (a committed file, or a generator below for what must not be
committed: big files, deep nesting, FIFOs, devices, symlinks), the commands to run it
through, and what must come out: the documented exit code, and one output line that holds
the position, the rule id and a fragment of the message. Every run is a subprocess with a
timeout; its CPU time and peak memory (ru_maxrss from wait4, taken by a small spawner so the
figure is the case's own: tests/hostile_spawn.py) are checked against generous safety nets
only. The real limits live in the code; these nets catch a limit that is missing.

Every run's wall time, CPU time and peak RSS, with the worst time and memory and the case
names, are written to `hostile-report.txt` in pytest's base temp directory (or
$OCSRUN_HOSTILE_REPORT); the worst figures are printed at the end of the session (with -s).
The goal is every case under 2 s and 200 MB on the CI machine: a report figure, not an
assertion (a loaded machine only waits; the CPU net below catches a missing limit).
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, cli_env
from hostile_diff import GENERATORS as DIFF_GENERATORS

from ocsrun.sanitize import INVISIBLE

HOSTILE = ROOT / "tests" / "data" / "hostile"
FIXTURES = HOSTILE / "fixtures"
CASES_FILE = HOSTILE / "cases.yaml"
SPAWNER = ROOT / "tests" / "hostile_spawn.py"
# Further case files, one per round of hostile input (same format; names unique across all).
CASES_FILES = (CASES_FILE, *sorted(HOSTILE.glob("cases-*.yaml")))

# Safety nets, far above what any case needs; the code's own limits must hold well below.
CPU_LIMIT_S = 20.0
RSS_LIMIT_BYTES = 1024**3
# A hang guard (a case blocked forever), not a timing: far above any run on a loaded machine.
KILL_AFTER_S = 600.0
# Address-space cap on each child, so a case whose limit is missing fails (MemoryError) instead
# of taking the machine down with it; well above the RSS net, far below the machine.
CHILD_ADDRESS_SPACE = 4 * 1024**3
EXIT_CODES = {0, 1, 2, 3, 4, 130}
TRACEBACK = "Traceback (most recent call last)"
# Raw control characters other than newline and tab: what would let input drive the terminal.
RAW_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")
# Invisible and bidirectional characters: shown escaped (\u200b), never raw.
RAW_INVISIBLE = re.compile(f"[{INVISIBLE}]")

BASE_TEXT = (FIXTURES / "base.yaml").read_text(encoding="utf-8")


# --- running the CLI, measured ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float
    max_rss: int  # bytes
    cpu: float = 0.0  # user + system seconds of the child itself

    @property
    def text(self) -> str:
        return self.out + self.err


def hostile_env(state: Path) -> dict[str, str]:
    return {**cli_env(state), "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8"}


def run_cli(args: list[str], cwd: Path, state: Path) -> Outcome:
    """`python -m ocsrun ARGS` with no stdin, started by the small spawner (tests/hostile_spawn.py)
    so that its peak RSS is its own, not this process's; wall time, CPU time and peak RSS."""
    argv = (sys.executable, "-m", "ocsrun", *args)
    out_path, err_path = state.parent / ".cli-out", state.parent / ".cli-err"
    result_path = state.parent / ".cli-usage"
    result_path.unlink(missing_ok=True)
    spawner = (sys.executable, "-I", "-S", str(SPAWNER), str(result_path))
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.monotonic()
        child = subprocess.Popen(
            (*spawner, str(CHILD_ADDRESS_SPACE), *argv),
            cwd=cwd,
            env=hostile_env(state),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        _wait(child.pid, start)
    usage = json.loads(result_path.read_text(encoding="utf-8"))
    return Outcome(
        argv=tuple(args),
        code=os.waitstatus_to_exitcode(usage["status"]),
        out=out_path.read_bytes().decode("utf-8", errors="replace"),
        err=err_path.read_bytes().decode("utf-8", errors="replace"),
        seconds=usage["seconds"],
        max_rss=usage["max_rss"],
        cpu=usage["cpu"],
    )


def _wait(pid: int, start: float) -> None:
    # The spawner exits once it has written the case's usage; a hang kills both (one group).
    while True:
        done, status, _ = os.wait4(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0, "the spawner failed"
            return
        if time.monotonic() - start > KILL_AFTER_S:
            os.killpg(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            pytest.fail(f"still running after {KILL_AFTER_S:.0f}s: a limit is missing")
        time.sleep(0.01)


# --- the session report -------------------------------------------------------------------


@dataclass
class Worst:
    """Every CLI run of the session (case, command, figures) and the worst of them."""

    runs: list[tuple[str, str, Outcome]] = field(default_factory=list)

    def note(self, case: str, command: str, outcome: Outcome) -> None:
        self.runs.append((case, command, outcome))

    def report(self) -> str:
        slowest = max(self.runs, key=lambda run: run[2].seconds)
        busiest = max(self.runs, key=lambda run: run[2].cpu)
        biggest = max(self.runs, key=lambda run: run[2].max_rss)
        lines = [
            f"hostile cases: {len({case for case, _, _ in self.runs})}, CLI runs: {len(self.runs)}",
            f"worst time: {slowest[2].seconds:.2f} s in {slowest[0]} ({slowest[1]})",
            # Wall time waits for a loaded machine; CPU time is the case's own work.
            f"worst CPU time: {busiest[2].cpu:.2f} s in {busiest[0]} ({busiest[1]})",
            f"worst peak RSS: {biggest[2].max_rss / 2**20:.1f} MiB in {biggest[0]} ({biggest[1]})",
            f"load average: {' '.join(f'{n:.2f}' for n in os.getloadavg())}",
            "",
            f"{'case':44} {'command':18} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8}",
        ]
        for case, command, outcome in sorted(self.runs, key=lambda run: run[:2]):
            lines.append(
                f"{case:44} {command:18} {outcome.seconds:7.2f} {outcome.cpu:7.2f} "
                f"{outcome.max_rss / 2**20:8.1f}"
            )
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def worst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worst]:
    record = Worst()
    yield record
    if not record.runs:
        return
    report = record.report()
    target = os.environ.get("OCSRUN_HOSTILE_REPORT")
    path = Path(target) if target else tmp_path_factory.getbasetemp() / "hostile-report.txt"
    path.write_text(report, encoding="utf-8")
    summary = "".join(report.splitlines(keepends=True)[:5])
    print(f"\n{summary}(every run's figures in {path})")


# --- generators for what is never committed -------------------------------------------------

Generated = tuple[Path, str]  # (working directory, the path argument as given)


def _write(directory: Path, name: str, data: str | bytes) -> Generated:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return directory, name


def nesting_flow(tmp: Path) -> Generated:
    depth = 100_000
    return _write(tmp, "deep.yaml", "format: ocsrun/v1\nx: " + "[" * depth + "]" * depth + "\n")


def nesting_block(tmp: Path) -> Generated:
    return _write(tmp, "deep.yaml", "format: ocsrun/v1\nx:\n  " + "- " * 100_000 + "end\n")


def nesting_mapping(tmp: Path) -> Generated:
    depth = 100_000
    return _write(tmp, "deep.yaml", "format: ocsrun/v1\nx: " + "{a: " * depth + "}" * depth + "\n")


def file_50mb(tmp: Path) -> Generated:
    path = tmp / "big.yaml"
    line = b"# " + b"padding " * 12 + b"\n"
    with path.open("wb") as out:
        out.write(BASE_TEXT.encode())
        out.write(line * ((50 * 2**20 - len(BASE_TEXT)) // len(line)))
    return tmp, path.name


def string_10mb(tmp: Path) -> Generated:
    title = "x" * (10 * 2**20)
    return _write(tmp, "title.yaml", BASE_TEXT.replace("title: Base runbook", f"title: {title}"))


def string_over_scalar_limit(tmp: Path) -> Generated:
    # Sized from the loader's own limits: one string just over the string limit, in a file
    # under the file limit, so it is the string limit that must catch it.
    from ocsrun.runbook.loader import MAX_FILE_BYTES, MAX_SCALAR_CHARS

    title = "y" * (MAX_SCALAR_CHARS + 1)
    text = BASE_TEXT.replace("title: Base runbook", f"title: {title}")
    assert len(text.encode()) < MAX_FILE_BYTES
    return _write(tmp, "title.yaml", text)


def billion_laughs(tmp: Path) -> Generated:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 20) + "]"]
    for level in range(1, 20):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 20) + "]")
    return _write(tmp, "laughs.yaml", "\n".join(lines) + "\n")


def alias_flood(tmp: Path) -> Generated:
    return _write(
        tmp,
        "aliases.yaml",
        "format: ocsrun/v1\nanchor: &x value\nmany: [" + ", ".join(["*x"] * 100_000) + "]\n",
    )


def flow_list_flood(tmp: Path) -> Generated:
    from ocsrun.runbook.loader import MAX_FILE_BYTES

    count = (MAX_FILE_BYTES - len(BASE_TEXT) - 100) // 2
    return _write(tmp, "flood.yaml", BASE_TEXT + "x-flood: [" + "a," * count + "]\n")


def duplicate_key_flood(tmp: Path) -> Generated:
    from ocsrun.runbook.loader import MAX_FILE_BYTES

    count = (MAX_FILE_BYTES - len(BASE_TEXT) - 100) // 5
    return _write(tmp, "dups.yaml", BASE_TEXT + "k: 1\n" * count)


def fifo_runbook(tmp: Path) -> Generated:
    os.mkfifo(tmp / "pipe.yaml")
    return tmp, "pipe.yaml"


def fifo_in_directory(tmp: Path) -> Generated:
    _write(tmp, "tree/good.yaml", BASE_TEXT)
    os.mkfifo(tmp / "tree" / "pipe.yaml")
    return tmp, "tree"


def dev_zero_runbook(tmp: Path) -> Generated:
    return tmp, "/dev/zero"


def symlink_to_urandom(tmp: Path) -> Generated:
    (tmp / "random.yaml").symlink_to("/dev/urandom")
    return tmp, "random.yaml"


def _include_main(tmp: Path) -> Path:
    text = BASE_TEXT + "  - id: call\n    title: Call call\n    uses: fragments/frag.yaml\n"
    _write(tmp, "tree/main.yaml", text)
    (tmp / "tree" / "fragments").mkdir()
    return tmp / "tree" / "fragments" / "frag.yaml"


def include_symlink_escape(tmp: Path) -> Generated:
    fragment = _include_main(tmp)
    outside = (HOSTILE / "includes" / "cycle" / "fragments" / "b.yaml").read_text(encoding="utf-8")
    _write(tmp, "outside/frag.yaml", outside)
    fragment.symlink_to(tmp / "outside" / "frag.yaml")
    return tmp, "tree/main.yaml"


def include_symlink_dev_zero(tmp: Path) -> Generated:
    _include_main(tmp).symlink_to("/dev/zero")
    return tmp, "tree/main.yaml"


def include_fifo(tmp: Path) -> Generated:
    os.mkfifo(_include_main(tmp))
    return tmp, "tree/main.yaml"


def _interrupted_run(tmp: Path) -> str:
    """A run of the base runbook stopped at its first question (no answer for it): resumable."""
    _write(tmp, "rb.yaml", BASE_TEXT)
    _write(tmp, "stop.yaml", "defaults: {}\n")
    stopped = run_cli(["run", "rb.yaml", "--answers", "stop.yaml"], tmp, tmp / "state")
    assert stopped.code == 2, stopped.text
    (run_dir,) = (tmp / "state" / "runs").iterdir()
    return run_dir.name


def resume_runbook_now_binary(tmp: Path) -> Generated:
    run_id = _interrupted_run(tmp)
    (tmp / "rb.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    return tmp, run_id


def resume_runbook_now_laughs(tmp: Path) -> Generated:
    run_id = _interrupted_run(tmp)
    billion_laughs(tmp)
    (tmp / "laughs.yaml").replace(tmp / "rb.yaml")
    return tmp, run_id


def resume_runbook_now_deep(tmp: Path) -> Generated:
    run_id = _interrupted_run(tmp)
    nesting_flow(tmp)
    (tmp / "deep.yaml").replace(tmp / "rb.yaml")
    return tmp, run_id


def resume_runbook_now_fifo(tmp: Path) -> Generated:
    run_id = _interrupted_run(tmp)
    (tmp / "rb.yaml").unlink()
    os.mkfifo(tmp / "rb.yaml")
    return tmp, run_id


def resume_runbook_deleted(tmp: Path) -> Generated:
    run_id = _interrupted_run(tmp)
    (tmp / "rb.yaml").unlink()
    return tmp, run_id


def non_utf8_name(tmp: Path) -> Generated:
    # Linux file names are bytes: this one is not UTF-8 (Python sees a lone surrogate).
    name = os.fsdecode(b"bad-\xff-name.yaml")
    (tmp / name).write_text("x: [\n", encoding="utf-8")
    return tmp, name


def _git_repo(tmp: Path, name: str, text: str) -> Generated:
    """A repository whose HEAD has the base runbook and whose work tree adds a hostile file."""
    repo = tmp / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    _write(repo, "rb.yaml", BASE_TEXT)
    for args in (["init", "-q"], ["add", "rb.yaml"], [*ident, "commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    _write(repo, name, text)
    return repo, "HEAD"


def git_deep_yaml(tmp: Path) -> Generated:
    depth = 100_000
    return _git_repo(tmp, "deep.yaml", "format: ocsrun/v1\nx: " + "[" * depth + "]" * depth)


def git_billion_laughs(tmp: Path) -> Generated:
    lines = ["format: ocsrun/v1", "a0: &a0 [" + ", ".join(["lol"] * 20) + "]"]
    for level in range(1, 25):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 20) + "]")
    return _git_repo(tmp, "laughs.yaml", "\n".join(lines) + "\n")


def answers_fifo(tmp: Path) -> Generated:
    os.mkfifo(tmp / "answers.yaml")
    return tmp, "answers.yaml"


def answers_dev_zero(tmp: Path) -> Generated:
    return tmp, "/dev/zero"


def answers_deep(tmp: Path) -> Generated:
    depth = 100_000
    return _write(tmp, "answers.yaml", "defaults: " + "[" * depth + "]" * depth + "\n")


def answers_deep_json(tmp: Path) -> Generated:
    depth = 100_000
    return _write(tmp, "answers.json", '{"defaults": ' + '{"a": ' * depth + "1" + "}" * depth + "}")


SEXAGESIMAL = "1" + ":0" * 150_000


def sexagesimal_title(tmp: Path) -> Generated:
    text = BASE_TEXT.replace("title: Base runbook", f"title: {SEXAGESIMAL}")
    return _write(tmp, "sexagesimal.yaml", text)


def _command_step(value: str) -> str:
    return BASE_TEXT + (
        "  - id: check\n    title: Check\n    gate:\n      type: command\n      prompt: P\n"
        f"      command:\n        argv: [cmd]\n        expect_exit: {value}\n"
    )


def sexagesimal_exit(tmp: Path) -> Generated:
    return _write(tmp, "sexagesimal.yaml", _command_step(SEXAGESIMAL))


def answers_sexagesimal(tmp: Path) -> Generated:
    return _write(tmp, "answers.yaml", f"defaults:\n  after_step: {SEXAGESIMAL}\n")


def answers_50mb(tmp: Path) -> Generated:
    path = tmp / "answers.yaml"
    with path.open("wb") as out:
        out.write(b"defaults: {after_step: done}\n")
        out.write((b"# " + b"padding " * 12 + b"\n") * (50 * 2**20 // 100))
    return tmp, path.name


def _fragment(name: str, uses: str | None) -> str:
    call = f"  - id: next\n    title: Next\n    uses: {uses}\n" if uses else ""
    return (
        "# yaml-language-server: $schema=../../../schemas/runbook.schema.json\n"
        f"format: ocsrun/v1\nkind: fragment\nmetadata:\n  id: hostile.{name}\n"
        f"  title: Fragment {name}\n  version: 1.0.0\nsteps:\n  - id: s\n    title: Step\n" + call
    )


def _chain(directory: Path, depth: int) -> None:
    """main.yaml calling f/f0.yaml, each fragment calling the next, `depth` fragments."""
    _write(
        directory, "main.yaml", BASE_TEXT + "  - id: call\n    title: Call\n    uses: f/f0.yaml\n"
    )
    for i in range(depth):
        _write(
            directory,
            f"f/f{i}.yaml",
            _fragment(f"f{i}", f"f{i + 1}.yaml" if i < depth - 1 else None),
        )


def _two_runs(tmp: Path) -> tuple[Path, str]:
    """Two interrupted runs; returns the directory of the newer one (to damage) and its id.
    The other must go on being listed whatever happens to this one."""
    first = _interrupted_run(tmp)
    stopped = run_cli(["run", "rb.yaml", "--answers", "stop.yaml"], tmp, tmp / "state")
    assert stopped.code == 2, stopped.text
    (second,) = {p.name for p in (tmp / "state" / "runs").iterdir()} - {first}
    return tmp / "state" / "runs" / second, second


def journal_tail_no_newline(tmp: Path) -> Generated:
    run_dir, run_id = _two_runs(tmp)
    with (run_dir / "journal.jsonl").open("ab") as journal:
        for _ in range(50):
            journal.write(b"x" * 2**20)  # 50 MiB, no newline: a torn tail nobody should slurp
    return tmp, run_id


def journal_huge_line(tmp: Path) -> Generated:
    run_dir, run_id = _two_runs(tmp)
    with (run_dir / "journal.jsonl").open("ab") as journal:
        journal.write(b'{"seq": 99, "data": "' + b"y" * (50 * 2**20) + b'"}\n')
        journal.write(b'{"seq": 100}\n')
    return tmp, run_id


def journal_long_last_line(tmp: Path) -> Generated:
    """A last line of 3 MiB (with its newline): too long for any record, so damage, not the
    torn tail a crash leaves; within the 6 MiB that `runs list` looks back."""
    run_dir, run_id = _two_runs(tmp)
    with (run_dir / "journal.jsonl").open("ab") as journal:
        journal.write(b'{"seq": 5, "data": "' + b"w" * (3 * 2**20) + b'"}\n')
    return tmp, run_id


def journal_record_wrong_types(tmp: Path) -> Generated:
    """A record whose hash and chain are right but whose data has the wrong types (written by
    another tool, or a bug): replay, timeline and report must say so, not crash."""
    from ocsrun.store.journal import decode, encode, make_record

    run_dir, run_id = _two_runs(tmp)
    path = run_dir / "journal.jsonl"
    last = decode(path.read_bytes().splitlines()[-1])
    # A second run.started whose params are not a mapping, then a failed gate naming no step.
    started = make_record(last.seq + 1, "run.started", {"params": True}, last.hash, operator="x")
    failed = make_record(
        started.seq + 1, "gate.failed", {"attempt": "one"}, started.hash, operator="x"
    )
    record = started
    with path.open("ab") as journal:
        journal.write(encode(record) + encode(failed))
    return tmp, run_id


def run_json_wrong_types(tmp: Path) -> Generated:
    run_dir, run_id = _two_runs(tmp)
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    info.update(started=5, params=[1, 2], rehearsal="yes", target={"a": 1})
    (run_dir / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return tmp, run_id


def newline_name(tmp: Path) -> Generated:
    """A file name holding newlines and a GitHub workflow command, with a syntax error inside
    so that it is reported (and its name printed)."""
    name = "x\n::error file=evil.yaml,line=1::injected\n.yaml"
    return _write(tmp, name, "format: ocsrun/v1\nx: [\n")


def include_chain_400(tmp: Path) -> Generated:
    _chain(tmp, 400)
    return tmp, "main.yaml"


def _git_commit_all(repo: Path) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def git_include_chain_400(tmp: Path) -> Generated:
    """A 400-fragment chain at HEAD; the pull request changes the deepest fragment, so diff
    looks for the runbooks that include it (through all 400)."""
    repo = tmp / "repo"
    _chain(repo, 400)
    _git_commit_all(repo)
    _write(repo, "f/f399.yaml", _fragment("f399", None).replace("title: Step", "title: Changed"))
    return repo, "HEAD"


def git_include_outside(tmp: Path) -> Generated:
    """A runbook whose includes leave the repository (`..` to a 50 MB file next to it, an
    absolute path to it); the pull request changes the fragment it also includes."""
    repo = tmp / "repo"
    big = tmp / "outside" / "big.yaml"
    big.parent.mkdir(parents=True)
    with big.open("wb") as out:
        out.write(
            b"format: ocsrun/v1\nkind: fragment\n" + b"# padding padding\n" * (50 * 2**20 // 18)
        )
    calls = "".join(
        f"  - id: c{i}\n    title: Call {i}\n    uses: {ref}\n"
        for i, ref in enumerate(["f/frag.yaml", "../outside/big.yaml", str(big)])
    )
    _write(repo, "main.yaml", BASE_TEXT + calls)
    _write(repo, "f/frag.yaml", _fragment("frag", None))
    _git_commit_all(repo)
    _write(repo, "f/frag.yaml", _fragment("frag", None).replace("title: Step", "title: Changed"))
    return repo, "HEAD"


GENERATORS: dict[str, Callable[[Path], Generated]] = {
    f.__name__: f
    for f in (
        nesting_flow,
        nesting_block,
        nesting_mapping,
        file_50mb,
        string_10mb,
        string_over_scalar_limit,
        billion_laughs,
        alias_flood,
        flow_list_flood,
        duplicate_key_flood,
        fifo_runbook,
        fifo_in_directory,
        dev_zero_runbook,
        symlink_to_urandom,
        include_symlink_escape,
        include_symlink_dev_zero,
        include_fifo,
        resume_runbook_now_binary,
        resume_runbook_now_laughs,
        resume_runbook_now_deep,
        resume_runbook_now_fifo,
        resume_runbook_deleted,
        non_utf8_name,
        git_deep_yaml,
        git_billion_laughs,
        answers_fifo,
        answers_dev_zero,
        answers_deep,
        answers_deep_json,
        answers_50mb,
        sexagesimal_title,
        sexagesimal_exit,
        answers_sexagesimal,
        newline_name,
        journal_tail_no_newline,
        journal_huge_line,
        journal_long_last_line,
        journal_record_wrong_types,
        run_json_wrong_types,
        include_chain_400,
        git_include_chain_400,
        git_include_outside,
    )
}
GENERATORS.update(DIFF_GENERATORS)  # big pairs for `diff-pair` (cases-diff.yaml)


# --- the cases ----------------------------------------------------------------------------


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in CASES_FILES:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(loaded, list), path
        cases += loaded
    return cases


CASES = load_cases()


ANSWERS = str(FIXTURES / "answers.yaml")
COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "validate": lambda target: ["validate", target],
    "render": lambda target: ["render", target],
    "rehearse": lambda target: ["rehearse", target, "--answers", ANSWERS],
    "run": lambda target: ["run", target, "--answers", ANSWERS],
    # An answers file whose evidence path holds a NUL byte.
    "run-nul-evidence": lambda target: [
        "run",
        target,
        "--answers",
        str(HOSTILE / "answers" / "evidence-path-nul.yaml"),
    ],
    # A 65-character target that makes a backtracking pattern take minutes in plain `re`.
    "rehearse-target": lambda target: [
        "rehearse",
        target,
        "--answers",
        ANSWERS,
        "--target",
        "1" * 64 + "!",
    ],
    "resume": lambda target: ["resume", target, "--answers", ANSWERS],
    "verify": lambda target: ["runs", "verify", target],
    # Every run, the damaged one included (the target is the damaged run's id).
    "list": lambda target: ["runs", "list"],
    "show": lambda target: ["runs", "show", target],
    "report": lambda target: ["runs", "report", target],
    # A pull request's work tree against its base revision (run in the repository).
    "diff-git": lambda target: ["diff", "--fail-on", "safety", "--git", target],
    # Annotations for a GitHub Actions log (workflow commands).
    "validate-github": lambda target: ["validate", "--format", "github", target],
    # The hostile input is the answers file; the runbook is the good base.
    "answers": lambda target: ["rehearse", str(FIXTURES / "base.yaml"), "--answers", target],
}


def command_args(command: str, target: str, tmp: Path) -> list[str]:
    if command == "diff-pair":
        # Both sides generated (tests/hostile_diff.py): old-NAME is the base, NAME the change.
        old = Path(target).with_name("old-" + Path(target).name)
        return ["diff", "--fail-on", "safety", str(old), target]
    if command == "diff":
        # A pull request that replaces a good runbook with the hostile one: it must fail the diff.
        base = tmp / "diff-base.yaml"
        base.write_text(BASE_TEXT, encoding="utf-8")
        return ["diff", "--fail-on", "safety", str(base), target]
    assert command in COMMANDS, f"unknown command {command!r} in {CASES_FILE.name}"
    return COMMANDS[command](target)


def test_the_corpus_is_complete_and_consistent() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(CASES) >= 60
    committed = {str(p.relative_to(HOSTILE)) for p in HOSTILE.rglob("*") if p.is_file()}
    used = {case["file"] for case in CASES if "file" in case}
    assert used <= committed, f"cases name missing files: {sorted(used - committed)}"
    for case in CASES:
        assert len({"file", "generate", "run_id"} & set(case)) == 1, case["name"]
        assert case.get("generate", "validate") == "validate" or case["generate"] in GENERATORS
        assert case["exit"] in EXIT_CODES
        assert case["message"] or case["rule"], case["name"]


@pytest.mark.parametrize(
    ("case", "command"),
    [
        pytest.param(case, command, id=f"{case['name']}-{command}")
        for case in CASES
        for command in case.get("commands", ["validate"])
    ],
)
def test_hostile_input(case: dict[str, Any], command: str, tmp_path: Path, worst: Worst) -> None:
    if "generate" in case:
        cwd, target = GENERATORS[case["generate"]](tmp_path)
    elif "run_id" in case:
        cwd, target = tmp_path, case["run_id"]
    else:
        cwd, target = HOSTILE, case["file"]
    outcome = run_cli(command_args(command, target, tmp_path), cwd, tmp_path / "state")
    worst.note(case["name"], command, outcome)

    shown = outcome.text[-3000:]
    assert TRACEBACK not in outcome.text, shown
    assert "[internal]" not in outcome.text, f"a rule crashed:\n{shown}"
    assert outcome.code == case["exit"], f"exit {outcome.code}, expected {case['exit']}:\n{shown}"
    assert not RAW_INVISIBLE.search(outcome.text), f"raw invisible characters:\n{shown!r}"
    for forbidden in case.get("no_line_starts", []):
        injected = [line for line in outcome.text.splitlines() if line.startswith(forbidden)]
        assert not injected, f"a line starts with {forbidden!r} (injected):\n{shown}"
    assert not RAW_CONTROLS.search(outcome.text), (
        f"raw control characters reach the terminal:\n{shown!r}"
    )
    # CPU seconds, not wall time: a missing limit burns CPU, a loaded machine only waits
    # (wall time per case goes to the report and to benchmarks/).
    assert outcome.cpu < CPU_LIMIT_S, f"{outcome.cpu:.1f} CPU-s: a limit is missing"
    assert outcome.max_rss < RSS_LIMIT_BYTES, (
        f"{outcome.max_rss / 2**20:.0f} MiB: a limit is missing"
    )
    where = case.get("at", target) + (f":{case['position']}" if case.get("position") else "")
    wanted = [where, case["message"] or "", f"[{case['rule']}]" if case["rule"] else ""]
    matching = [line for line in outcome.text.splitlines() if all(w in line for w in wanted)]
    assert matching, f"no line holds all of {wanted}:\n{shown}"


def test_the_runner_measures_each_case_on_its_own(tmp_path: Path) -> None:
    """A child inherits its parent's peak RSS across fork and exec: started from this process
    grown past 256 MiB, a case must still report its own few tens of MiB (the spawner)."""
    grown = bytearray(256 * 2**20)
    grown[:: resource.getpagesize()] = b"\1" * (len(grown) // resource.getpagesize())
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 > len(grown)
    outcome = run_cli(["--version"], tmp_path, tmp_path / "state")
    assert outcome.code == 0, outcome.text
    assert 0 < outcome.max_rss < 100 * 2**20, f"{outcome.max_rss / 2**20:.0f} MiB"
    del grown
