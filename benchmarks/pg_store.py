"""Team mode speed: the PostgreSQL run store over a local socket (issue 12's three targets).

    python benchmarks/pg_store.py             # all three items, about 1-2 minutes on 2 cores
    python benchmarks/pg_store.py --reps 7    # more repetitions per timing

Self-contained: it starts its own throwaway server (tests/pgcluster.py, with fsync ON, as a
real server runs) and removes it afterwards. Needs the PostgreSQL server binaries and
psycopg (`pip install -e '.[dev]'`).

  P1  store time per step of a real run (the executor with a scripted operator over a
      1,000-step runbook): the time spent in the store's calls between one step.started and
      the next, median over the steps. Baseline: the same run on the local directory store
      (real fsync), in the same process.                                 target ≤ 2 ms median
  P2  `ocsrun runs list --store URL` over 10,000 runs (a child process, as a user runs it;
      median wall time). Baseline: `python -c pass`.                     target ≤ 0.5 s
  P3  `ocsrun resume RUN_ID --store URL` of an unfinished run with ~10,000 records (answers
      the last question and finishes; median wall time, each repetition on a fresh copy).
      Baseline: the same resume on the local store.                      target ≤ 0.5 s

Every timed run's output is checked (the run finished, its chain verifies, the list has
every run) before its time counts. Absolute targets are reported next to the same-run
baseline, so a slow or loaded machine shows as such.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

import corpus  # noqa: E402  (sibling module; benchmarks/ is not a package)
from pgcluster import PgCluster  # noqa: E402

STEPS = 1000
RUNS = 10_000
RECORDS = 10_000
JOURNAL_STEPS = 50


@dataclass
class Result:
    item: str
    what: str
    value: float | None  # seconds (P2, P3) or milliseconds (P1)
    target: float
    unit: str
    detail: str
    information: bool = False  # shown, not held to the target

    @property
    def passed(self) -> bool:
        return self.information or (self.value is not None and self.value <= self.target)

    def line(self) -> str:
        shown = "-" if self.value is None else f"{self.value:.3f}{self.unit}"
        verdict = "PASS" if self.passed else ("FAIL" if self.value is not None else "n/a")
        if self.information:
            verdict = "info"
        return (
            f"{self.item:<4} {self.what:<42} {shown:>10}  ≤ {self.target}{self.unit}  "
            f"{verdict}  {self.detail}"
        )


# --- P1: store time per step ------------------------------------------------------------------


class TimedHandle:
    """A RunHandle that adds the time of each append to the step the record belongs to."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.per_step: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def info(self) -> Any:
        return self.inner.info

    def append(self, type: str, data: Any) -> Any:
        start = time.perf_counter()
        record = self.inner.append(type, data)
        took = time.perf_counter() - start
        step = str(data.get("step", "(run)"))
        self.per_step[step] = self.per_step.get(step, 0.0) + took
        return record


def _step_times(store: Any, runbook_path: Path, answers_path: Path) -> list[float]:
    from ocsrun.run.executor import Executor
    from ocsrun.run.operator import ScriptedOperator, load_answers
    from ocsrun.run.state import snapshot_bytes
    from ocsrun.runbook.build import load_runbook
    from ocsrun.store.journal import operator_id, utc_now
    from ocsrun.store.protocol import RunInfo

    runbook = load_runbook(runbook_path)
    answers = load_answers(answers_path)
    run_id = store.new_run_id()
    info = RunInfo(
        run_id=run_id,
        runbook_id=runbook.id,
        runbook_title=runbook.metadata.title,
        runbook_version=runbook.metadata.version,
        runbook_path=str(runbook_path),
        target=answers.target,
        operator=operator_id(),
        started=utc_now(),
        rehearsal=False,
        params={},
    )
    lock = store.acquire_lock(runbook.id, answers.target, run_id)
    handle = TimedHandle(store.create_run(info, snapshot_bytes(runbook)))
    try:
        Executor(
            runbook,
            ScriptedOperator(answers, display=lambda screen: None),
            handle,  # type: ignore[arg-type]
            target=answers.target,
        ).run()
    finally:
        lock.release()
    report = store.verify(run_id)
    done = sum(1 for r in store.open_run(run_id).records() if r.type == "step.done")
    if not report.ok or done < STEPS:
        raise RuntimeError(f"P1 run did not finish cleanly: {report.problems[:3]}, {done} done")
    return [t for step, t in handle.per_step.items() if step != "(run)"]


def _p1_medians(
    url: str, work: Path, reps: int, *, runbook: Path, answers: Path, fsync: bool
) -> tuple[float, float]:
    """(best PG median, best local median) per step, seconds; interleaved repetitions."""
    from ocsrun.store.local import JournalWriter, LocalDirStore
    from ocsrun.store.postgres import PostgresStore

    class NoFsync(JournalWriter):
        def fsync(self, fd: int) -> None:
            pass

    pg, local = [], []
    for rep in range(reps):
        store = PostgresStore(url)
        try:
            pg.append(statistics.median(_step_times(store, runbook, answers)))
        finally:
            store.close()
        local_store = LocalDirStore(work / f"p1-{fsync}-{rep}", writer=None if fsync else NoFsync())
        local.append(statistics.median(_step_times(local_store, runbook, answers)))
    return min(pg), min(local)


def p1(cluster: PgCluster, work: Path, reps: int) -> list[Result]:
    """P1a: the store's own cost (a second server with fsync off, local fsync a no-op), against
    the target; P1b: every commit flushed to this machine's disk (information: its latency)."""
    url = cluster.create_database("p1")
    runbook = corpus.write_big(work / "big", STEPS)
    answers = work / "p1-answers.yaml"
    answers.write_text(
        "target: host.example.com\n"
        "defaults: {after_step: done, acknowledge: true, gate: true}\n"
        'steps: {final: {choice: "yes"}}\n',
        encoding="utf-8",
    )
    with server(fsync=False) as unsynced:
        pg, local = _p1_medians(
            unsynced.create_database("p1"),
            work,
            reps,
            runbook=runbook,
            answers=answers,
            fsync=False,
        )
    pg_sync, local_sync = _p1_medians(
        url, work, max(1, reps // 2), runbook=runbook, answers=answers, fsync=True
    )
    return [
        Result(
            "P1a",
            f"store time per step, {STEPS}-step run",
            pg * 1000,
            2.0,
            "ms",
            f"median per step, best of {reps}, no disk flush; local store {local * 1000:.3f}ms "
            f"(x{pg / local:.1f})",
        ),
        Result(
            "P1b",
            "the same, every commit flushed (information)",
            pg_sync * 1000,
            2.0,
            "ms",
            f"local store with fsync {local_sync * 1000:.3f}ms: both wait for this disk",
            information=True,
        ),
    ]


# --- P2 and P3: commands as a user runs them ----------------------------------------------


def _ocsrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocsrun", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCSRUN_", "PG"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _timed(argv: list[str], cwd: Path, check: Callable[[str], None]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=_env(), capture_output=True, text=True, check=False, timeout=600
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:5])}... exit {done.returncode}: {done.stderr[-500:]}")
    check(done.stdout)
    return took


def _baseline(reps: int) -> float:
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def _many_runs(url: str, count: int) -> None:
    """`count` finished runs of three records each, inserted in one transaction (set-up only:
    the rows are exactly what `ocsrun store copy` would write, hash chains included)."""
    import psycopg

    from ocsrun.store import journal
    from ocsrun.store.postgres import PostgresStore

    PostgresStore(url).migrate()
    runs, records = [], []
    for n in range(count):
        run_id = f"20261130T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}Z-{n:06x}"
        started = f"2026-11-30T00:00:00.{n:06d}Z"
        info = {
            "run_id": run_id,
            "runbook_id": f"bench.rb{n % 7}",
            "runbook_title": "Benchmark",
            "runbook_version": "1.0",
            "runbook_path": "/bench.yaml",
            "target": f"host{n % 50}.example.com",
            "operator": "bench@ws1",
            "started": started,
            "rehearsal": n % 5 == 0,
            "params": {},
        }
        runs.append((run_id, info["runbook_id"], info["target"], started, json.dumps(info)))
        prev = journal.GENESIS
        for seq, kind in enumerate(("run.started", "step.done", "run.finished"), start=1):
            record = journal.make_record(seq, kind, {"n": n}, prev, operator="bench@ws1")
            line = journal.encode(record)[:-1].decode()
            records.append((run_id, seq, kind, record.ts, line))
            prev = record.hash
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO ocsrun.runs (run_id, runbook_id, target, started, info)"
            " VALUES (%s, %s, %s, %s, %s::jsonb)",
            runs,
        )
        cursor.executemany(
            "INSERT INTO ocsrun.journal (run_id, seq, type, ts, line) VALUES (%s, %s, %s, %s, %s)",
            records,
        )


def p2(url: str, work: Path, reps: int) -> Result:
    _many_runs(url, RUNS)

    def check(out: str) -> None:
        if out.count("\n") != RUNS + 1:
            raise RuntimeError(f"runs list printed {out.count(chr(10))} lines, not {RUNS + 1}")

    times = [_timed(_ocsrun("runs", "list", "--store", url), work, check) for _ in range(reps)]
    base = _baseline(reps)
    value = statistics.median(times)
    return Result(
        "P2",
        f"runs list, {RUNS} runs",
        value,
        0.5,
        "s",
        f"median of {reps} (best {min(times):.3f}s); python -c pass {base:.3f}s "
        f"(x{value / base:.1f})",
    )


def p3(cluster: PgCluster, work: Path, reps: int) -> Result:
    from ocsrun.store.local import LocalDirStore

    runbook = corpus.write_big(work / "big", JOURNAL_STEPS)
    notes = (RECORDS - 2 * JOURNAL_STEPS - 4) // (JOURNAL_STEPS - JOURNAL_STEPS // 10)
    make = work / "p3-make.yaml"
    lines = [
        "target: host.example.com",
        "defaults: {after_step: done, acknowledge: true, gate: true}",
    ]
    lines.append("steps:")
    for number in range(1, JOURNAL_STEPS + 1):
        if number % 10:
            texts = ", ".join(f'"note {i}"' for i in range(notes))
            after = ", ".join(["note"] * notes + ["done"])
            lines.append(f"  step-{number}: {{after_step: [{after}], note: [{texts}]}}")
    make.write_text("\n".join(lines) + "\n", encoding="utf-8")
    finish = work / "p3-finish.yaml"
    finish.write_text(
        "target: host.example.com\n"
        "defaults: {after_step: done, acknowledge: true, gate: true}\n"
        'steps: {final: {choice: "yes"}}\n',
        encoding="utf-8",
    )
    local = work / "p3-local"
    subprocess.run(
        _ocsrun("run", str(runbook), "--answers", str(make), "--state-dir", str(local)),
        cwd=work,
        env=_env(),
        capture_output=True,
        check=False,
    )
    [summary] = LocalDirStore(local).list_runs()
    run_id, records = summary.info.run_id, summary.records
    if records < RECORDS * 0.9:
        raise RuntimeError(f"the unfinished run has {records} records, not ~{RECORDS}")

    def finished(out: str) -> None:
        if "Run done" not in out:
            raise RuntimeError("resume did not finish the run")

    pg_times, local_times = [], []
    for rep in range(reps):
        url = cluster.create_database(f"p3_{rep}")
        subprocess.run(
            _ocsrun("store", "copy", str(local), url),
            cwd=work,
            env=_env(),
            check=True,
            capture_output=True,
        )
        pg_times.append(
            _timed(
                _ocsrun("resume", run_id, "--store", url, "--answers", str(finish)), work, finished
            )
        )
        verified = subprocess.run(
            _ocsrun("runs", "verify", run_id, "--store", url),
            cwd=work,
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if verified.returncode != 0:
            raise RuntimeError(f"P3 chain does not verify: {verified.stdout[-300:]}")
        copy = work / f"p3-local-{rep}"
        subprocess.run(["cp", "-a", str(local), str(copy)], check=True)
        local_times.append(
            _timed(
                _ocsrun("resume", run_id, "--state-dir", str(copy), "--answers", str(finish)),
                work,
                finished,
            )
        )
    value = statistics.median(pg_times)
    base = statistics.median(local_times)
    return Result(
        "P3",
        f"resume, {records} records",
        value,
        0.5,
        "s",
        f"median of {reps} (best {min(pg_times):.3f}s); local store {base:.3f}s "
        f"(x{value / base:.2f})",
    )


@contextlib.contextmanager
def server(*, fsync: bool = True) -> Iterator[PgCluster]:
    cluster = PgCluster(fsync=fsync).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default="P1,P2,P3", help="comma-separated items")
    args = parser.parse_args(argv)
    wanted = {item.strip().upper() for item in args.only.split(",")}
    # Byte-compiled first, as an installed wheel is: with PYTHONDONTWRITEBYTECODE set, an
    # editable checkout would otherwise compile ocsrun's sources again in every timed child
    # (about 0.15 s of P2's and P3's start-up), which is not ocsrun's speed.
    compileall.compile_dir(str(ROOT / "ocsrun"), quiet=1)
    results = []
    with server() as cluster, tempfile.TemporaryDirectory(prefix="ocsrun-bench-") as tmp:
        work = Path(tmp)
        if "P1" in wanted:
            print(f"[P1] store time per step, {STEPS}-step run", flush=True)
            results.extend(p1(cluster, work, args.reps))
        if "P2" in wanted:
            print(f"[P2] runs list over {RUNS} runs", flush=True)
            results.append(p2(cluster.create_database("p2"), work, args.reps))
        if "P3" in wanted:
            print(f"[P3] resume of a ~{RECORDS}-record run", flush=True)
            results.append(p3(cluster, work, args.reps))
    for result in results:
        print(result.line())
    # Wall times on a shared machine mean little without the load they were taken under.
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load}")
    failed = [r for r in results if not r.passed]
    print(f"{'FAIL' if failed else 'PASS'}: {len(results) - len(failed)} of {len(results)} met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
