"""Speed and memory of ocsrun, as ratios against baselines measured in the same run.

    python benchmarks/run.py              # everything (about 5-8 minutes on 2 cores)
    python benchmarks/run.py --only 1,4   # some items
    python benchmarks/run.py --reps 5     # more repetitions per timing

Machines are shared and noisy, so every number is a ratio to a baseline timed in the same run,
repetitions are interleaved (a, b, a, b, ...) so a burst of load hits both sides, and a timing
is the **best** (minimum) of its repetitions, except start-up times (item 4), which are the
**median** of many short runs. Memory is the peak RSS of a fresh child process (os.wait4).
Every command runs as a child process of this script, exactly as a user would run it.
See benchmarks/README.md for the set-up and what each item means.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402  (sibling module; benchmarks/ is not a package)

SCHEMA = ROOT / "schemas" / "runbook.schema.json"
CORPORA = HERE / ".corpus"
VENV = HERE / ".venv"
CORPUS_SIZE = 1000
SMALL_SIZE = 10
BIG_STEPS = 5000
BIG_BASE_STEPS = 500
JOURNAL_STEPS = 50  # the runbook whose journal item 6 grows with notes
# Row 11's line is issue 12's goal for the team store (≤ 2 ms per step), not row 5a's 0.5 ms:
# every record is a committed round trip that waits for the server's disk flush before the
# operator sees the next step, and a step writes two records: pg_store.py P1b measures the
# store's share with every commit flushed at about 0.95 ms per step on this disk, so 0.5 ms per
# step is below what two durable commits cost here.
PG_STEP_TARGET_MS = 2.0


# --- the table ----------------------------------------------------------------------------------


@dataclass
class Row:
    item: str
    what: str
    ratio: float | None  # None: not measured, or shown for information only
    target: float | None
    higher_is_better: bool = False
    unit: str = "x"
    detail: str = ""

    @property
    def badness(self) -> float | None:
        """How far from the target: > 1 misses it. None when there is no verdict."""
        if self.ratio is None or self.target is None:
            return None
        if self.higher_is_better:
            return self.target / self.ratio if self.ratio > 0 else float("inf")
        return self.ratio / self.target

    @property
    def verdict(self) -> str:
        badness = self.badness
        if badness is None:
            return "-" if self.target is None and self.ratio is not None else "n/m"
        return "PASS" if badness <= 1 else "FAIL"

    def shown_ratio(self) -> str:
        if self.ratio is None:
            return "-"
        return f"{self.ratio:.3g}{'' if self.unit == 'x' else ' '}{self.unit}"

    def shown_target(self) -> str:
        if self.target is None:
            return "-"
        sign = ">=" if self.higher_is_better else "<="
        return f"{sign} {self.target:g}{'' if self.unit == 'x' else ' '}{self.unit}"


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        # Print as we go: a long run shows progress, and a crash later keeps what was measured.
        print(
            f"  -> {row.item} {row.what}: {row.shown_ratio()} (target {row.shown_target()}, "
            f"{row.verdict}) {row.detail}",
            flush=True,
        )

    def print(self) -> None:
        headers = ("item", "what", "ratio", "target", "result", "measured")
        cells = [
            (r.item, r.what, r.shown_ratio(), r.shown_target(), r.verdict, r.detail)
            for r in self.rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers[:-1])]
        line = "  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths, strict=True))
        print()
        print(line + "  " + headers[-1])
        print("-" * (len(line) + 10))
        for cell in cells:
            print(
                "  ".join(c.ljust(w) for c, w in zip(cell[:-1], widths, strict=True))
                + "  "
                + cell[-1]
            )
        print()
        judged = [r for r in self.rows if r.badness is not None]
        if not judged:
            print("worst: none 0 vs target 0 (FAIL)  [nothing was measured]")
            return
        worst = max(judged, key=lambda r: r.badness or 0.0)
        print(
            f"worst: {worst.item} {worst.shown_ratio()} vs target {worst.shown_target()} "
            f"({worst.verdict})"
        )


# --- running children ---------------------------------------------------------------------------


@dataclass
class Child:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child itself
    rss_kb: int  # peak resident set size of the child
    code: int
    stdout: bytes
    stderr: bytes


def run_child(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Child:
    """Run argv to completion; wall time, and peak RSS from the kernel's own accounting."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd
        )
        # wait4, not wait: it returns this one child's rusage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Child(wall, cpu, usage.ru_maxrss, process.returncode, out.read(), err.read())


def best_of(commands: dict[str, Callable[[], Child]], reps: int) -> dict[str, list[Child]]:
    """Run each command `reps` times, interleaved; all runs are kept (callers take min/median)."""
    runs: dict[str, list[Child]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            runs[name].append(command())
    return runs


# "wall" (default) or "cpu": what `fastest` and the single-process ratios compare. CPU time
# (user + system of the child) is barely touched by other load on a shared machine; wall time
# is what a user waits for. Item 2 (parallel speed-up) always uses wall time.
CLOCK = "wall"


def seconds(child: Child) -> float:
    return child.cpu if CLOCK == "cpu" else child.wall


def fastest(children: list[Child]) -> Child:
    return min(children, key=seconds)


def median_time(children: list[Child]) -> float:
    return statistics.median(seconds(c) for c in children)


def both(child: Child) -> str:
    return f"{child.wall:.2f}s wall/{child.cpu:.2f}s cpu"


def ocsrun_argv() -> list[str]:
    """The console script next to this interpreter (what users run), else `python -m ocsrun`."""
    script = Path(sys.executable).parent / "ocsrun"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "ocsrun"]


def validate_summary(files: int, errors: int = 0, with_findings: int = 0) -> str:
    """The last line `ocsrun validate` must print for that many files and error findings."""

    def plural(count: int, word: str) -> str:
        return f"{count} {word}" if count == 1 else f"{count} {word}s"

    if not errors:
        return f"{plural(files, 'file')} checked: no problems"
    return (
        f"{plural(files, 'file')} checked: {plural(errors, 'error')} in "
        f"{plural(with_findings, 'file')}"
    )


_ERROR_LINE = re.compile(rb"^[^\n]+:\d+:\d+: error: ", re.MULTILINE)


def check_validate(child: Child, expected: dict[str, int]) -> str | None:
    """Why a timed `ocsrun validate` run does not count (None: its output is the expected one).

    The last line must give the expected files and findings, and every error must be on its
    own line with a position (FILE:LINE:COL), as many lines as errors.
    """
    want = validate_summary(expected["files"], expected["errors"], expected["files_with_findings"])
    lines = child.stdout.decode("utf-8", "replace").strip().splitlines()
    got = lines[-1] if lines else "(no output)"
    if got != want:
        return f"output {got!r}, expected {want!r}"
    positioned = len(_ERROR_LINE.findall(child.stdout))
    if positioned != expected["errors"]:
        return f"{positioned} error lines with a position, expected {expected['errors']}"
    want_code = 1 if expected["errors"] else 0
    if child.code != want_code:
        return f"exit code {child.code}, expected {want_code}"
    return None


def check_all(children: list[Child], check: Callable[[Child], str | None]) -> str | None:
    for child in children:
        problem = check(child)
        if problem:
            return problem
    return None


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def fail(child: Child, what: str) -> str:
    tail = (child.stderr or child.stdout).decode("utf-8", "replace").strip().splitlines()[-3:]
    return f"{what} exited {child.code}: {' | '.join(tail)}"


_BURN = "import sys\ns = 0\nfor i in range(int(sys.argv[1])):\n    s += i\n"


def parallel_capacity(loops: int = 15_000_000) -> float:
    """How much faster two CPU-bound processes finish side by side than one after the other.

    2.0 on two idle cores; less when other work shares the machine. Printed next to item 2 so
    its speed-up can be read against what the machine could give at that moment.
    """
    argv = [sys.executable, "-c", _BURN, str(loops)]
    start = time.perf_counter()
    for _ in range(2):
        subprocess.run(argv, check=True)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    both_at_once = [subprocess.Popen(argv) for _ in range(2)]
    for process in both_at_once:
        process.wait()
    return serial / (time.perf_counter() - start)


# --- set-up -------------------------------------------------------------------------------------


def ensure_corpus(name: str, count: int, *, broken_every: int = 0) -> Path:
    """Generate a corpus once; a stamp of the generator's source and arguments marks it done."""
    out = CORPORA / name
    stamp = out / ".stamp"
    key = json.dumps(
        {
            "source": (HERE / "corpus.py").read_text(encoding="utf-8"),
            "count": count,
            "seed": corpus.DEFAULT_SEED,
            "broken_every": broken_every,
        },
        sort_keys=True,
    )
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == key:
        return out
    print(f"generating {name} ({count} runbooks)...", flush=True)
    if out.exists():
        shutil.rmtree(out)
    corpus.generate(out, count, broken_every=broken_every)
    stamp.write_text(key, encoding="utf-8")
    return out


def precompile() -> None:
    """Byte-compile the package, as an installed wheel is, so start-up is not measured compiling.

    (With PYTHONDONTWRITEBYTECODE set, an editable checkout would otherwise recompile ocsrun's
    sources in every child process.)
    """
    compileall.compile_dir(str(ROOT / "ocsrun"), quiet=1)


def jobs_supported(ocsrun: list[str]) -> bool:
    child = run_child([*ocsrun, "validate", "--help"], env=child_env())
    return b"--jobs" in child.stdout


# --- items --------------------------------------------------------------------------------------


class Bench:
    def __init__(self, reps: int) -> None:
        self.reps = reps
        self.table = Table()
        self.ocsrun = ocsrun_argv()
        self.env = child_env()
        self.serial_validate: Child | None = None  # item 1's best ocsrun run, reused by 3
        self.big_corpus: Path | None = None

    def corpus(self) -> Path:
        if self.big_corpus is None:
            self.big_corpus = ensure_corpus(f"n{CORPUS_SIZE}", CORPUS_SIZE)
        return self.big_corpus

    def validate_argv(self, directory: Path, jobs: int | None) -> list[str]:
        argv = [*self.ocsrun, "validate"]
        if jobs is not None:
            argv += ["--jobs", str(jobs)]
        return [*argv, str(directory)]

    # 1 ----------------------------------------------------------------------------------------
    def floor_argv(self, directory: Path, validator: str) -> list[str]:
        return [
            sys.executable,
            str(HERE / "floor.py"),
            str(SCHEMA),
            str(directory),
            "--validator",
            validator,
        ]

    def item1(self) -> None:
        directory = self.corpus()
        jobs = 1 if jobs_supported(self.ocsrun) else None
        expected = corpus.expected(CORPUS_SIZE)
        floors = {"native": "jsonschema-rs", "jsonschema": "jsonschema"}
        print(
            f"[1] ocsrun validate vs the floors on {directory.name} ({self.reps} reps)", flush=True
        )
        commands: dict[str, Callable[[], Child]] = {
            "ocsrun": lambda: run_child(self.validate_argv(directory, jobs), env=self.env)
        }
        for key, validator in floors.items():
            commands[key] = lambda v=validator: run_child(  # type: ignore[misc]
                self.floor_argv(directory, v), env=self.env
            )
        runs = best_of(commands, self.reps)
        floor_out = f"{expected['files']} files, 0 invalid".encode()
        problem = check_all(runs["ocsrun"], lambda c: check_validate(c, expected))
        for key in floors:
            problem = problem or check_all(
                runs[key],
                lambda c: (
                    None if c.code == 0 and c.stdout.strip() == floor_out else fail(c, "floor")
                ),
            )
        rows = (
            ("1", "native", "validate vs floor (jsonschema-rs)", 1.2),
            ("1b", "jsonschema", "validate vs floor (jsonschema)", None),
        )
        if problem:
            for item, _, what, target in rows:
                self.table.add(Row(item, what, None, target, detail="not measured: " + problem))
            return
        ours = fastest(runs["ocsrun"])
        self.serial_validate = ours
        summary = ours.stdout.decode().strip().splitlines()[-1]
        for item, key, what, target in rows:
            floor = fastest(runs[key])
            self.table.add(
                Row(
                    item,
                    what,
                    seconds(ours) / seconds(floor),
                    target,
                    detail=f"ocsrun {both(ours)}, floor {both(floor)} (best {CLOCK} of "
                    f"{self.reps}); every run checked: {summary}"
                    + ("" if target else "; information"),
                )
            )

    # 2 ----------------------------------------------------------------------------------------
    def item2(self) -> None:
        if not jobs_supported(self.ocsrun):
            self.table.add(
                Row(
                    "2",
                    "--jobs 2 speed-up",
                    None,
                    1.7,
                    higher_is_better=True,
                    detail="not measured: `ocsrun validate` has no --jobs option",
                )
            )
            return
        directory = self.corpus()
        # Other work on a shared machine takes a core away now and then, which hurts a 2-core
        # run far more than a 1-core one: more repetitions, so the best of each is likely to
        # come from a moment with both cores free.
        reps = max(5, self.reps)
        print(f"[2] ocsrun validate --jobs 2 vs --jobs 1 ({reps} reps)", flush=True)
        capacity_before = parallel_capacity()
        runs = best_of(
            {
                "1": lambda: run_child(self.validate_argv(directory, 1), env=self.env),
                "2": lambda: run_child(self.validate_argv(directory, 2), env=self.env),
            },
            reps,
        )
        expected = corpus.expected(CORPUS_SIZE)
        problem = check_all(runs["1"] + runs["2"], lambda c: check_validate(c, expected))
        if problem:
            self.table.add(
                Row(
                    "2",
                    "--jobs 2 speed-up",
                    None,
                    1.7,
                    higher_is_better=True,
                    detail="not measured: " + problem,
                )
            )
            return
        # Parallelism is about waiting less: always wall time here.
        one = min(runs["1"], key=lambda c: c.wall)
        two = min(runs["2"], key=lambda c: c.wall)
        outputs = {c.stdout for c in runs["1"] + runs["2"]}
        # The corpus is valid, so also compare on files with findings: same text, same order.
        broken = ensure_corpus("broken200", 200, broken_every=3)
        broken_runs = [
            run_child(self.validate_argv(broken, jobs), env=self.env) for jobs in (1, 2, 2, 1)
        ]
        texts = {c.stdout for c in broken_runs}
        broken_expected = corpus.expected(200, broken_every=3)
        identical = len(outputs) == 1 and len(texts) == 1
        identical = identical and not check_all(
            broken_runs, lambda c: check_validate(c, broken_expected)
        )
        findings = next(iter(texts)).decode().strip().splitlines()[-1] if texts else "?"
        row = Row(
            "2",
            "--jobs 2 speed-up",
            one.wall / two.wall,
            1.7,
            higher_is_better=True,
            detail=f"jobs1 {one.wall:.2f}s, jobs2 {two.wall:.2f}s (best wall of {reps}); "
            f"output {'identical' if identical else 'DIFFERS'} "
            f"(also on broken200: {findings}); this machine's own 2-process speed-up on a "
            f"pure CPU loop before/after: {capacity_before:.2f}x/{parallel_capacity():.2f}x",
        )
        if not identical:
            row.ratio = 0.0  # a speed-up with different output does not count
        self.table.add(row)
        self.serial_validate = self.serial_validate or one

    # 3 ----------------------------------------------------------------------------------------
    def ensure_check_jsonschema(self) -> Path | str:
        """benchmarks/.venv/bin/check-jsonschema, installed from PyPI on first use."""
        exe = VENV / "bin" / "check-jsonschema"
        if exe.is_file():
            return exe
        print("installing check-jsonschema into benchmarks/.venv ...", flush=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True
            )
            subprocess.run(
                [str(VENV / "bin" / "pip"), "install", "-q", "check-jsonschema"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            stderr = getattr(error, "stderr", b"") or b""
            last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [str(error)]
            return f"cannot install check-jsonschema: {last[0]}"
        return exe if exe.is_file() else "check-jsonschema installed no executable"

    def item3(self) -> None:
        exe = self.ensure_check_jsonschema()
        if isinstance(exe, str):
            self.table.add(
                Row("3", "validate vs check-jsonschema", None, 0.15, detail="not measured: " + exe)
            )
            return
        directory = self.corpus()
        files = [str(p) for p in _files_under(directory)]
        reps = max(1, self.reps // 2)  # it is slow; its noise matters less at this ratio
        print(f"[3] check-jsonschema on the same {len(files)} files ({reps} reps)", flush=True)
        jobs = 1 if jobs_supported(self.ocsrun) else None
        runs = best_of(
            {
                "cjs": lambda: run_child(
                    [str(exe), "--schemafile", str(SCHEMA), *files], env=self.env
                ),
                "ocsrun": lambda: run_child(self.validate_argv(directory, jobs), env=self.env),
            },
            reps,
        )
        theirs = fastest(runs["cjs"])
        ours = fastest(runs["ocsrun"] + ([self.serial_validate] if self.serial_validate else []))
        expected = corpus.expected(CORPUS_SIZE)
        problem = check_all(runs["ocsrun"], lambda c: check_validate(c, expected))
        problem = problem or check_all(runs["cjs"], _check_jsonschema_ok)
        if problem:
            self.table.add(
                Row(
                    "3",
                    "validate vs check-jsonschema",
                    None,
                    0.15,
                    detail="not measured: " + problem,
                )
            )
            return
        if theirs.code != 0:
            self.table.add(
                Row(
                    "3",
                    "validate vs check-jsonschema",
                    None,
                    0.15,
                    detail="not measured: " + fail(theirs, "check-jsonschema"),
                )
            )
            return
        version = run_child([str(exe), "--version"]).stdout.decode().strip().split()[-1]
        self.table.add(
            Row(
                "3",
                "validate vs check-jsonschema",
                seconds(ours) / seconds(theirs),
                0.15,
                detail=f"ocsrun {both(ours)}, check-jsonschema {version} {both(theirs)} "
                f"(best {CLOCK} of {reps}; ocsrun single job; every run checked)",
            )
        )
        self.item3b(exe, directory)

    def item3b(self, exe: Path, directory: Path) -> None:
        """`validate one.yaml`: what an editor's save hook or a pre-commit run waits for."""
        one = directory / "runbook-00000.yaml"
        reps = max(7, self.reps * 3)
        print(f"[3b] validate one file vs check-jsonschema on it ({reps} reps)", flush=True)
        runs = best_of(
            {
                "cjs": lambda: run_child(
                    [str(exe), "--schemafile", str(SCHEMA), str(one)], env=self.env
                ),
                "ocsrun": lambda: run_child([*self.ocsrun, "validate", str(one)], env=self.env),
            },
            reps,
        )
        # validate FILE also checks the fragments the file includes (check-jsonschema does not
        # know about them: it does less).
        fragments = set(re.findall(r"^\s*uses: (\S+)$", one.read_text(encoding="utf-8"), re.M))
        expected = {"files": 1 + len(fragments), "errors": 0, "files_with_findings": 0}
        problem = check_all(runs["ocsrun"], lambda c: check_validate(c, expected))
        problem = problem or check_all(runs["cjs"], _check_jsonschema_ok)
        if problem:
            self.table.add(
                Row(
                    "3b",
                    "validate one.yaml vs check-jsonschema",
                    None,
                    0.3,
                    detail="not measured: " + problem,
                )
            )
            return
        ours, theirs = median_time(runs["ocsrun"]), median_time(runs["cjs"])
        self.table.add(
            Row(
                "3b",
                "validate one.yaml vs check-jsonschema",
                ours / theirs,
                0.3,
                detail=f"ocsrun {ours * 1000:.0f}ms, check-jsonschema {theirs * 1000:.0f}ms "
                f"(median {CLOCK} of {reps}; every run checked)",
            )
        )

    # 4 ----------------------------------------------------------------------------------------
    def item4(self) -> None:
        reps = max(15, self.reps * 7)
        print(f"[4] start-up: --version, --help vs python -I -c pass ({reps} reps)", flush=True)
        # -I: the interpreter alone. In an editable install's venv a plain `python -c pass`
        # would also load the editable finder that `ocsrun` loads, which flatters the ratio.
        runs = best_of(
            {
                "pass": lambda: run_child([sys.executable, "-I", "-c", "pass"], env=self.env),
                "version": lambda: run_child([*self.ocsrun, "--version"], env=self.env),
                "help": lambda: run_child([*self.ocsrun, "--help"], env=self.env),
            },
            reps,
        )
        base = median_time(runs["pass"])
        heavy = self.heavy_modules()
        from ocsrun import __version__

        checks = {
            "version": lambda c: c.code == 0 and c.stdout == f"ocsrun {__version__}\n".encode(),
            "help": lambda c: c.code == 0 and b"Commands:" in c.stdout and b"validate" in c.stdout,
        }
        for key in ("version", "help"):
            bad = [c for c in runs[key] if not checks[key](c)]
            if bad:
                self.table.add(
                    Row(
                        "4" + ("a" if key == "version" else "b"),
                        f"ocsrun --{key} vs python -I -c pass",
                        None,
                        2.5,
                        detail="not measured: "
                        + fail(bad[0], f"ocsrun --{key} (unexpected output)"),
                    )
                )
                continue
            wall = median_time(runs[key])
            self.table.add(
                Row(
                    "4" + ("a" if key == "version" else "b"),
                    f"ocsrun --{key} vs python -I -c pass",
                    wall / base,
                    2.5,
                    detail=f"{wall * 1000:.0f}ms vs {base * 1000:.0f}ms "
                    f"(median {CLOCK} of {reps}); "
                    f"heavy modules loaded: {heavy[key] or 'none'}",
                )
            )

    def heavy_modules(self) -> dict[str, str]:
        """Which heavy modules `--version` / `--help` import (there should be none)."""
        probe = (
            "import sys\n"
            "from ocsrun.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "heavy = ('click', 'jsonschema', 'jsonschema_rs', 'jinja2', 'yaml', 'referencing',"
            " 'ocsrun.run.executor',"
            " 'ocsrun.runbook.validation', 'ocsrun.runbook.rules', 'ocsrun.store.local')\n"
            "print(','.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
        )
        found = {}
        for key in ("version", "help"):
            child = run_child([sys.executable, "-c", probe, f"--{key}"], env=self.env)
            found[key] = child.stderr.decode().strip().splitlines()[-1:] or [""]
            found[key] = found[key][0]
        return found

    # 5 and 6 --------------------------------------------------------------------------------
    def cli_argv(self, args: list[str], *, fsync: bool) -> list[str]:
        if fsync:
            return [*self.ocsrun, *args]
        # The same command with os.fsync made a no-op in the child: what ocsrun costs itself,
        # apart from the disk's flush latency (slow and erratic on shared machines).
        shim = (
            "import os, sys\nos.fsync = lambda fd: None\nfrom ocsrun.cli import main\n"
            "sys.argv[0] = 'ocsrun'\nmain(sys.argv[1:])\n"
        )
        return [sys.executable, "-c", shim, *args]

    def run_argv(self, runbook: Path, answers: Path, state: Path, *, fsync: bool) -> list[str]:
        args = ["run", str(runbook), "--answers", str(answers), "--state-dir", str(state)]
        return self.cli_argv(args, fsync=fsync)

    def executor_available(self) -> str | None:
        child = run_child([*self.ocsrun, "run", "--help"], env=self.env)
        if child.code != 0 or b"--answers" not in child.stdout:
            return "`ocsrun run --answers` is not available"
        return None

    def item5(self, work: Path) -> None:
        missing = self.executor_available()
        if missing:
            self.table.add(
                Row(
                    "5",
                    "executor per step (no fsync)",
                    None,
                    0.5,
                    unit="ms",
                    detail="not measured: " + missing,
                )
            )
            return
        big = CORPORA / "big"
        runbooks = {n: corpus.write_big(big, n) for n in (BIG_BASE_STEPS, BIG_STEPS)}
        answers = work / "answers.yaml"
        answers.write_text(_answers_yaml(finish=True), encoding="utf-8")
        reps = max(1, self.reps - 1)
        print(f"[5] executor: {BIG_STEPS} vs {BIG_BASE_STEPS} steps, scripted operator", flush=True)
        counter = iter(range(10**6))

        def once(steps: int, fsync: bool) -> Callable[[], Child]:
            def go() -> Child:
                state = work / f"state-{next(counter)}"
                argv = self.run_argv(runbooks[steps], answers, state, fsync=fsync)
                child = run_child(argv, env=self.env, cwd=work)
                if child.code == 0:
                    problem = check_finished_run(state, steps)
                    if problem:  # a run that did not do the work does not count
                        child.code, child.stderr = 99, problem.encode()
                shutil.rmtree(state, ignore_errors=True)
                return child

            return go

        for fsync, label, item, the_reps in (
            (False, "no fsync", "5a", reps),
            (True, "with fsync", "5b", 1),
        ):
            runs = best_of(
                {"big": once(BIG_STEPS, fsync), "base": once(BIG_BASE_STEPS, fsync)}, the_reps
            )
            big_run, base_run = fastest(runs["big"]), fastest(runs["base"])
            failed = [c for c in runs["big"] + runs["base"] if c.code != 0]
            if failed:
                bad = failed[0]
                self.table.add(
                    Row(
                        item,
                        f"executor per step ({label})",
                        None,
                        0.5 if not fsync else None,
                        unit="ms",
                        detail="not measured: " + fail(bad, "ocsrun run"),
                    )
                )
                continue
            # fsync's cost is waiting for the disk, not CPU: wall time when it is included.
            measure = (lambda c: c.wall) if fsync else seconds
            per_step = (measure(big_run) - measure(base_run)) / (BIG_STEPS - BIG_BASE_STEPS) * 1000
            self.table.add(
                Row(
                    item,
                    f"executor per step ({label})",
                    per_step,
                    0.5 if not fsync else None,
                    unit="ms",
                    detail=f"({measure(big_run):.2f}s - {measure(base_run):.2f}s) / "
                    f"{BIG_STEPS - BIG_BASE_STEPS} steps "
                    f"(best of {the_reps}, {'wall' if fsync else CLOCK}); "
                    "includes "
                    "loading and validating those steps"
                    + ("" if not fsync else "; information only"),
                )
            )

    def item6(self, work: Path) -> None:
        missing = self.executor_available()
        rows = (
            ("6a", "resume, 10k records (no fsync)", 0.3, "s"),
            ("6b", "runs show, 10k records", 0.3, "s"),
            ("6c", "peak RSS 10k vs 1k records", 1.25, "x"),
        )
        if missing:
            for item, what, target, unit in rows:
                self.table.add(
                    Row(item, what, None, target, unit=unit, detail="not measured: " + missing)
                )
            return
        print("[6] resume and runs show on 1k- and 10k-record journals", flush=True)
        runbook = corpus.write_big(CORPORA / "big", JOURNAL_STEPS)
        finish = work / "finish.yaml"
        finish.write_text(_answers_yaml(finish=True), encoding="utf-8")
        measured: dict[int, tuple[int, Child, Child, Child]] = {}
        for records in (1000, 10000):
            made = self.journal(work, runbook, records)
            if isinstance(made, str):
                for item, what, target, unit in rows:
                    self.table.add(
                        Row(item, what, None, target, unit=unit, detail="not measured: " + made)
                    )
                return
            state, run_id, count = made

            def resume(fsync: bool, state: Path = state, run_id: str = run_id) -> Child:
                # Each resume finishes the run, so each works on a fresh copy of the state.
                copy = work / "resume-copy"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(state, copy)
                args = ["resume", run_id, "--answers", str(finish), "--state-dir", str(copy)]
                child = run_child(self.cli_argv(args, fsync=fsync), env=self.env, cwd=work)
                if child.code == 0:
                    problem = check_finished_run(copy, JOURNAL_STEPS)
                    if problem:  # a resume that did not finish the run does not count
                        child.code, child.stderr = 99, problem.encode()
                shutil.rmtree(copy, ignore_errors=True)
                return child

            show_args = ["runs", "--state-dir", str(state), "show", run_id]
            runs = best_of(
                {
                    "resume": lambda: resume(False),
                    "show": lambda args=show_args: run_child(  # type: ignore[misc]
                        self.cli_argv(args, fsync=True), env=self.env, cwd=work
                    ),
                },
                self.reps,
            )
            for name, children in runs.items():
                bad = [c for c in children if c.code != 0]
                if bad:
                    for item, what, target, unit in rows:
                        self.table.add(
                            Row(
                                item,
                                what,
                                None,
                                target,
                                unit=unit,
                                detail="not measured: " + fail(bad[0], name),
                            )
                        )
                    return
            synced = resume(True)
            measured[records] = (count, fastest(runs["resume"]), fastest(runs["show"]), synced)
        small, big = measured[1000], measured[10000]
        count, resumed, shown, synced = big
        self.table.add(
            Row(
                "6a",
                f"resume, {count} records (no fsync)",
                seconds(resumed),
                0.3,
                unit="s",
                detail=f"{both(resumed)} (best {CLOCK} of {self.reps}); with real fsync "
                f"{synced.wall:.2f}s wall (1 run, information); "
                f"peak RSS {resumed.rss_kb / 1024:.0f} MiB",
            )
        )
        self.table.add(
            Row(
                "6b",
                f"runs show, {count} records",
                seconds(shown),
                0.3,
                unit="s",
                detail=f"{both(shown)} (best {CLOCK} of {self.reps}); "
                f"peak RSS {shown.rss_kb / 1024:.0f} MiB",
            )
        )
        ratios = {
            "resume": resumed.rss_kb / small[1].rss_kb,
            "show": shown.rss_kb / small[2].rss_kb,
        }
        self.table.add(
            Row(
                "6c",
                f"peak RSS {count} vs {small[0]} records",
                max(ratios.values()),
                1.25,
                detail=f"resume {resumed.rss_kb / 1024:.0f}/{small[1].rss_kb / 1024:.0f} MiB, "
                f"runs show {shown.rss_kb / 1024:.0f}/{small[2].rss_kb / 1024:.0f} MiB",
            )
        )

    def journal(self, work: Path, runbook: Path, records: int) -> tuple[Path, str, int] | str:
        """An unfinished run with about `records` journal records (notes make it long)."""
        state = work / f"journal-{records}"
        if state.exists():
            shutil.rmtree(state)
        # Every 10th step is a gate (no notes there); about 2 records per step besides notes.
        action_steps = JOURNAL_STEPS - JOURNAL_STEPS // 10
        notes = max(0, (records - 2 * JOURNAL_STEPS - 4) // action_steps)
        answers = work / f"answers-{records}.yaml"
        answers.write_text(
            _answers_yaml(finish=False, notes=notes, steps=JOURNAL_STEPS), encoding="utf-8"
        )
        child = run_child(
            self.run_argv(runbook, answers, state, fsync=False), env=self.env, cwd=work
        )
        runs = sorted((state / "runs").glob("*/journal.jsonl")) if state.exists() else []
        if not runs:
            return fail(child, "ocsrun run (making the journal)")
        journal = runs[-1]
        count = sum(1 for _ in journal.open("rb"))
        return state, journal.parent.name, count

    # 7 ----------------------------------------------------------------------------------------
    def item7(self) -> None:
        small = ensure_corpus(f"n{SMALL_SIZE}", SMALL_SIZE)
        directory = self.corpus()
        jobs = 1 if jobs_supported(self.ocsrun) else None
        print("[7] peak memory: validating 1,000 files vs 10 files", flush=True)
        runs = best_of(
            {
                "small": lambda: run_child(self.validate_argv(small, jobs), env=self.env),
                "big": lambda: run_child(self.validate_argv(directory, jobs), env=self.env),
            },
            max(1, self.reps // 2),
        )
        small_rss = statistics.median(c.rss_kb for c in runs["small"])
        big_rss = statistics.median(c.rss_kb for c in runs["big"])
        self.table.add(
            Row(
                "7",
                "peak RSS 1000 vs 10 files",
                big_rss / small_rss,
                1.5,
                detail=f"{big_rss / 1024:.0f} MiB vs {small_rss / 1024:.0f} MiB (median)",
            )
        )

    # 8 ----------------------------------------------------------------------------------------
    def item8(self) -> None:
        """The error path: a corpus where one file in ten has two errors, vs the all-valid one."""
        valid = self.corpus()
        broken = ensure_corpus(f"n{CORPUS_SIZE}-broken10", CORPUS_SIZE, broken_every=10)
        jobs = 1 if jobs_supported(self.ocsrun) else None
        print(f"[8] validate: 10% invalid files vs all valid ({self.reps} reps)", flush=True)
        runs = best_of(
            {
                "valid": lambda: run_child(self.validate_argv(valid, jobs), env=self.env),
                "broken": lambda: run_child(self.validate_argv(broken, jobs), env=self.env),
            },
            self.reps,
        )
        want = corpus.expected(CORPUS_SIZE, broken_every=10)
        problem = check_all(
            runs["valid"], lambda c: check_validate(c, corpus.expected(CORPUS_SIZE))
        )
        problem = problem or check_all(runs["broken"], lambda c: check_validate(c, want))
        if problem:
            self.table.add(
                Row("8", "10%-invalid vs all-valid", None, 2.0, detail="not measured: " + problem)
            )
            return
        ok, bad = fastest(runs["valid"]), fastest(runs["broken"])
        summary = bad.stdout.decode().strip().splitlines()[-1]
        self.table.add(
            Row(
                "8",
                "10%-invalid vs all-valid",
                seconds(bad) / seconds(ok),
                2.0,
                detail=f"invalid {both(bad)}, valid {both(ok)} (best {CLOCK} of {self.reps}); "
                f"every run checked: {summary}, each error on a FILE:LINE:COL line",
            )
        )

    # 9 ----------------------------------------------------------------------------------------
    def item9(self, work: Path) -> None:
        """`diff` of two 5,000-step runbooks (same ids; one gate removed, one step reworded),
        against `validate` of the same two files (diff loads and checks both sides too)."""
        old = corpus.write_big(CORPORA / "big", BIG_STEPS)
        new = work / "big-changed.yaml"
        text = old.read_text(encoding="utf-8")
        new.write_text(_changed_big(text), encoding="utf-8")
        reps = self.reps
        print(
            f"[9] diff of two {BIG_STEPS}-step runbooks vs validating them ({reps} reps)",
            flush=True,
        )
        runs = best_of(
            {
                "diff": lambda: run_child(
                    [*self.ocsrun, "diff", "--fail-on", "safety", str(old), str(new)], env=self.env
                ),
                "validate": lambda: run_child(
                    [*self.ocsrun, "validate", "--jobs", "1", str(old), str(new)], env=self.env
                ),
            },
            reps,
        )
        summary = "1 safety-relevant change, 1 other change in 1 file"
        problem = check_all(
            runs["diff"],
            lambda c: (
                None
                if c.code == 1 and c.stdout.decode().strip().endswith(summary)
                else fail(c, f"diff (expected exit 1 and {summary!r})")
            ),
        )
        expected = {"files": 2, "errors": 0, "files_with_findings": 0}
        problem = problem or check_all(runs["validate"], lambda c: check_validate(c, expected))
        if problem:
            self.table.add(
                Row(
                    "9",
                    f"diff {BIG_STEPS} steps vs validate",
                    None,
                    1.5,
                    detail="not measured: " + problem,
                )
            )
            return
        diffed, checked = fastest(runs["diff"]), fastest(runs["validate"])
        self.table.add(
            Row(
                "9",
                f"diff {BIG_STEPS} steps vs validate",
                seconds(diffed) / seconds(checked),
                1.5,
                detail=f"diff {both(diffed)}, validate {both(checked)} (best {CLOCK} of {reps}); "
                f"every run checked: {summary}; peak RSS {diffed.rss_kb / 1024:.0f} MiB",
            )
        )

    # 10 ---------------------------------------------------------------------------------------
    def item10(self) -> None:
        """`fmt --check` on the corpus vs `validate` (the row waits for the fmt command)."""
        child = run_child([*self.ocsrun, "fmt", "--help"], env=self.env)
        if child.code != 0 or b"--check" not in child.stdout:
            self.table.add(
                Row(
                    "10",
                    "fmt --check vs validate",
                    None,
                    1.0,
                    detail="not measured: no `ocsrun fmt --check` yet",
                )
            )
            return
        directory = self.corpus()
        print(f"[10] fmt --check vs validate on {directory.name} ({self.reps} reps)", flush=True)
        runs = best_of(
            {
                "fmt": lambda: run_child(
                    [*self.ocsrun, "fmt", "--check", str(directory)], env=self.env
                ),
                "validate": lambda: run_child(self.validate_argv(directory, 1), env=self.env),
            },
            self.reps,
        )
        expected = corpus.expected(CORPUS_SIZE)
        problem = check_all(runs["validate"], lambda c: check_validate(c, expected))
        # The corpus is written in one consistent layout: every file is either already in
        # fmt's form (exit 0) or reported (exit 1); a crash or a usage error does not count.
        problem = problem or check_all(
            runs["fmt"],
            lambda c: (
                None
                if c.code in (0, 1) and b"Traceback" not in c.stderr
                else fail(c, "fmt --check")
            ),
        )
        if problem:
            self.table.add(
                Row("10", "fmt --check vs validate", None, 1.0, detail="not measured: " + problem)
            )
            return
        formatted, checked = fastest(runs["fmt"]), fastest(runs["validate"])
        self.table.add(
            Row(
                "10",
                "fmt --check vs validate",
                seconds(formatted) / seconds(checked),
                1.0,
                detail=f"fmt --check {both(formatted)} (exit {formatted.code}), validate "
                f"{both(checked)} (best {CLOCK} of {self.reps})",
            )
        )

    # 11 ---------------------------------------------------------------------------------------
    def item11(self, work: Path) -> None:
        """Per-step overhead with the PostgreSQL store: 5,000 vs 500 steps, as item 5a."""
        try:
            sys.path.insert(0, str(ROOT / "tests"))
            from pgcluster import PgCluster  # the tests' throwaway server (initdb, pg_ctl)

            import ocsrun.store.postgres  # noqa: F401  (the store and its driver are installed)
        except Exception as error:  # what is missing is the row's reason
            self.table.add(
                Row(
                    "11",
                    "PostgreSQL store per step",
                    None,
                    PG_STEP_TARGET_MS,
                    unit="ms",
                    detail=f"not measured: {error}",
                )
            )
            return
        print(f"[11] PostgreSQL store: {BIG_STEPS} vs {BIG_BASE_STEPS} steps", flush=True)
        cluster = PgCluster().start()
        try:
            self._item11(work, cluster)
        finally:
            cluster.stop()

    def _item11(self, work: Path, cluster: Any) -> None:
        big = CORPORA / "big"
        runbooks = {n: corpus.write_big(big, n) for n in (BIG_BASE_STEPS, BIG_STEPS)}
        answers = work / "answers-pg.yaml"
        answers.write_text(_answers_yaml(finish=True), encoding="utf-8")
        counter = iter(range(10**6))

        def once(steps: int) -> Callable[[], Child]:
            def go() -> Child:
                url = cluster.create_database(f"bench{next(counter)}")
                args = ["run", str(runbooks[steps]), "--answers", str(answers), "--state-dir", url]
                child = run_child([*self.ocsrun, *args], env=self.env, cwd=work)
                # The session's last lines name the run, its head and its report after it.
                if child.code == 0 and b"\nRun done" not in child.stdout:
                    child.code, child.stderr = 99, b"the run did not say 'Run done'"
                return child

            return go

        reps = max(1, self.reps - 1)
        runs = best_of({"big": once(BIG_STEPS), "base": once(BIG_BASE_STEPS)}, reps)
        failed = [c for c in runs["big"] + runs["base"] if c.code != 0]
        if failed:
            self.table.add(
                Row(
                    "11",
                    "PostgreSQL store per step",
                    None,
                    PG_STEP_TARGET_MS,
                    unit="ms",
                    detail="not measured: " + fail(failed[0], "ocsrun run"),
                )
            )
            return
        # Wall time always: the work is shared with the server process, which the child's own
        # CPU time does not include.
        big_run = min(runs["big"], key=lambda c: c.wall)
        base_run = min(runs["base"], key=lambda c: c.wall)
        per_step = (big_run.wall - base_run.wall) / (BIG_STEPS - BIG_BASE_STEPS) * 1000
        self.table.add(
            Row(
                "11",
                "PostgreSQL store per step",
                per_step,
                PG_STEP_TARGET_MS,
                unit="ms",
                detail=f"({big_run.wall:.2f}s - {base_run.wall:.2f}s) / "
                f"{BIG_STEPS - BIG_BASE_STEPS} steps (best wall of {reps}); local server on a "
                "Unix socket, every record committed; every run checked (exit 0, 'Run done')",
            )
        )


def check_finished_run(state: Path, steps: int) -> str | None:
    """Why a timed `ocsrun run` of big-STEPS.yaml does not count (None: it did every step).

    Its journal must hold one run.finished and a step.done for each of its steps + 1 (the
    final step every big runbook ends with).
    """
    journals = sorted((state / "runs").glob("*/journal.jsonl"))
    if len(journals) != 1:
        return f"{len(journals)} journals in {state}"
    kinds: dict[str, int] = {}
    with journals[0].open("rb") as lines:
        for line in lines:
            kind = json.loads(line).get("type", "?")
            kinds[kind] = kinds.get(kind, 0) + 1
    if kinds.get("run.finished") != 1 or kinds.get("step.done") != steps + 1:
        done, finished = kinds.get("step.done", 0), kinds.get("run.finished", 0)
        return f"journal has {done} step.done (expected {steps + 1}), {finished} run.finished"
    return None


def _check_jsonschema_ok(child: Child) -> str | None:
    if child.code == 0 and b"ok -- validation done" in child.stdout:
        return None
    return fail(child, "check-jsonschema")


def _files_under(directory: Path) -> list[Path]:
    import floor

    return floor.files_under(directory)


def _changed_big(text: str) -> str:
    """The big runbook with its first gate step removed and its second step's title reworded."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("- id: ")]
    gate = next(k for k, i in enumerate(starts) if "gate:" in "".join(lines[i : starts[k + 1]]))
    end = starts[gate + 1]
    kept = "".join(lines[: starts[gate]] + lines[end:])
    return kept.replace("  title: 'Step 2: ", "  title: 'Step 2 (reworded): ", 1)


def _answers_yaml(*, finish: bool, notes: int = 0, steps: int = 0) -> str:
    """A scripted operator: every step done, every gate confirmed, warnings acknowledged."""
    lines = [
        "target: host.example.com",
        "defaults: {after_step: done, acknowledge: true, gate: true}",
        "steps:",
    ]
    if finish:
        lines.append('  final: {choice: "yes"}')
    for number in range(1, steps + 1):
        if number % 10 == 0 or not notes:
            continue  # gate steps are not asked after_step
        after = json.dumps(["note"] * notes + ["done"])
        texts = json.dumps([f"note {i} on step {number}" for i in range(notes)])
        lines.append(f"  step-{number}: {{after_step: {after}, note: {texts}}}")
    if lines[-1] == "steps:":
        lines[-1] = "steps: {}"
    return "\n".join(lines) + "\n"


ITEMS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions per timing (default 3)")
    parser.add_argument("--only", default=",".join(ITEMS), help="items to run, e.g. 1,2,4")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="compare wall time (default) or the child's user+system CPU time (steadier on a "
        "loaded machine); item 2 always uses wall time",
    )
    args = parser.parse_args(argv)
    chosen = [item.strip() for item in args.only.split(",") if item.strip()]
    global CLOCK  # noqa: PLW0603  (one setting for the whole run)
    CLOCK = args.clock
    precompile()
    bench = Bench(max(1, args.reps))
    print(
        f"ocsrun: {' '.join(bench.ocsrun)}; python {sys.version.split()[0]}; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; clock {CLOCK}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ocsrun-bench-") as tmp:
        work = Path(tmp)
        for item in chosen:
            if item in ("5", "6", "9", "11"):
                getattr(bench, f"item{item}")(work)
            elif item in ITEMS:
                getattr(bench, f"item{item}")()
            else:
                parser.error(f"unknown item {item!r}; choose from {', '.join(ITEMS)}")
    bench.table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
